"""Tests for a script's C definitions (ptrace.passes.define_types).

Layouts are checked against gcc: the same definitions are compiled into a C
program that prints every member's bit offset and every type's size, and
ptrace's BTF of them must agree exactly. Then the types are used the way
scripts use them: casts, sizeof, offsetof, enumerators, shadowing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ptrace.ast import nodes as n
from ptrace.compile import PASSES
from ptrace.diagnostics import Severity, Source
from ptrace.machine import FixtureMachine
from ptrace.options import Options
from ptrace.parse import parse_program
from ptrace.passes.context import CompileContext
from ptrace.passes.define_types import define_types
from ptrace.passes.expand_macros import expand_macros
from ptrace.types import types as t
from ptrace.types.btf import VMLINUX, Btf
from ptrace.types.kernel import from_btf, struct_id
from tests.unit.fixtures import fixture_machine

# Tricky layouts: padding, bitfields that fit or cross their type's unit,
# unions, arrays of arrays and of structs, 4- and 8-byte enums, typedefs,
# an empty struct, every integer spelling, nested and anonymous members.
DEFINITIONS = """
struct point { int x; int y; };
struct foo { char a; long b; short c; char name[8]; struct point p;
             union { int i; char ch; }; unsigned int f1 : 3, f2 : 5; struct foo *next; };
struct b1 { char a; int b : 28; char c; };
struct b2 { char a; int b : 24; };
struct b3 { unsigned long long a : 40; unsigned int b : 30; unsigned char c : 3; };
struct b4 { short a : 9; short b : 9; char c; };
struct b5 { char a; long long b : 60; int c : 4; char d; };
union u1 { char a[13]; int b; long c; };
union u2 { int a : 3; char b : 7; };
struct m1 { short a[3][5]; char b; struct point p[3]; };
enum small { S1, S2 };
enum big { BIG = 0x1ffffffff };
enum neg { NEG = -1, POS = 5 };
struct em { char a; enum big e; enum small s; char b; enum neg n; enum small f : 2; };
typedef unsigned short u16_t;
typedef struct { int a; char b; } pair_t;
struct td { u16_t a; pair_t p; pair_t *pp; u16_t arr[3]; char c; };
struct empty { };
struct withempty { char a; struct empty e; int b; };
struct ints { int8 a; uint64 b; int16 c; uint32 d; bool e; long unsigned int f;
              signed char g; unsigned h; long long int i; short int j; };
struct nested { char a; struct inner { char x; long y; } in; struct { short s; }; char z; };
struct pk { char a; int b; short c : 5; int d : 20; long e; } __attribute__((packed));
struct al { char c; } __attribute__((aligned(16)));
struct pal { int x; char y; } __attribute__((packed)) __attribute__((aligned(2)));
struct hasal { char c; struct al a; struct pk p; };
"""
TYPES = ["struct point", "struct foo", "struct b1", "struct b2", "struct b3", "struct b4",
         "struct b5", "union u1", "union u2", "struct m1", "struct em", "pair_t", "struct td",
         "struct empty", "struct withempty", "struct ints", "struct nested", "struct inner",
         "enum small", "enum big", "enum neg", "u16_t", "struct pk", "struct al", "struct pal",
         "struct hasal"]

C_PRELUDE = """
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
typedef int8_t int8; typedef int16_t int16; typedef int32_t int32; typedef int64_t int64;
typedef uint8_t uint8; typedef uint16_t uint16; typedef uint32_t uint32; typedef uint64_t uint64;
/* The bit offset of a bitfield: set all its bits in a zeroed value, find the first. */
#define BITOFF(T, f) ({ T s; memset(&s, 0, sizeof s); s.f = -1; \\
    const unsigned char *p = (const unsigned char *)&s; int i = 0; \\
    while (!(p[i / 8] >> (i % 8) & 1)) i++; i; })
"""


def define(text: str, kernel: Btf | None = None) -> CompileContext:
    source = Source("test.bt", text + "\nBEGIN { }")
    ctx = CompileContext(source, Options(), FixtureMachine({}, kernel_types=kernel),
                         parse_program(source))
    expand_macros(ctx)
    define_types(ctx)
    return ctx


def check(text: str) -> CompileContext:
    """Every pass up to check_types, over the fixture machine (which has no BTF)."""
    source = Source("test.bt", text)
    ctx = CompileContext(source, Options(), fixture_machine(), parse_program(source))
    for run_pass in PASSES:
        run_pass(ctx)
        if ctx.reporter.has_errors:
            break
    return ctx


def errors(ctx: CompileContext) -> list[str]:
    return [d.message for d in ctx.reporter.diagnostics if d.severity is Severity.ERROR]


def checked(text: str) -> CompileContext:
    ctx = check(text)
    assert errors(ctx) == []
    return ctx


def script_types(text: str, kernel: Btf | None = None) -> Btf:
    ctx = define(text, kernel)
    assert not ctx.reporter.has_errors, ctx.reporter.diagnostics
    assert ctx.script_types is not None
    return ctx.script_types


def layout_of(btf: Btf) -> dict[str, int]:
    """"sizeof T" and "T.member" (bit offsets) for every type in TYPES."""
    out: dict[str, int] = {}
    for name in TYPES:
        type_id = struct_id(btf, name)
        assert type_id is not None, name
        out[f"sizeof {name}"] = btf.size(type_id)
        if not name.startswith("enum") and name != "u16_t":
            out.update({f"{name}.{m.name}": m.bit_offset for m in btf.members(type_id)})
    return out


def gcc_layout(tmp_path: Path, queries: dict[str, int], btf: Btf) -> dict[str, int]:
    """The same queries answered by gcc."""
    lines = []
    for query in queries:
        if query.startswith("sizeof "):
            lines.append(f'printf("{query} %zu\\n", sizeof({query[7:]}));')
            continue
        name, member = query.rsplit(".", 1)
        found = btf.member(struct_id(btf, name) or 0, member)
        assert found is not None
        bits = f"BITOFF({name}, {member})" if found.bitfield_size else \
            f"(int)(8 * offsetof({name}, {member}))"
        lines.append(f'printf("{query} %d\\n", {bits});')
    source = tmp_path / "layout.c"
    source.write_text(C_PRELUDE + DEFINITIONS + "int main(void) {\n" + "\n".join(lines)
                      + "\nreturn 0;\n}\n")
    binary = tmp_path / "layout"
    subprocess.run(["gcc", "-w", "-o", str(binary), str(source)], check=True)
    output = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout
    return {line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1]) for line in output.splitlines()}


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_layouts_match_gcc(tmp_path: Path) -> None:
    btf = script_types(DEFINITIONS)
    ours = layout_of(btf)
    assert len(ours) > 80
    assert ours == gcc_layout(tmp_path, ours, btf)


def test_bitfields_are_encoded_with_their_widths() -> None:
    btf = script_types(DEFINITIONS)
    b3 = struct_id(btf, "struct b3") or 0
    assert [(m.name, m.bit_offset, m.bitfield_size) for m in btf.members(b3)] == [
        ("a", 0, 40), ("b", 64, 30), ("c", 96, 3)]


def test_types_as_scripts_see_them() -> None:
    btf = script_types(DEFINITIONS)
    foo = struct_id(btf, "struct foo") or 0
    assert from_btf(btf, foo) == t.Struct("struct foo", foo)
    member = btf.member(foo, "name")
    assert member is not None and from_btf(btf, member.type) == t.Str(8)
    member = btf.member(foo, "next")
    assert member is not None and from_btf(btf, member.type) == t.Pointer("struct foo", foo)
    neg = from_btf(btf, struct_id(btf, "enum neg") or 0)
    assert neg == t.Enum(32, True, "enum neg", ((-1, "NEG"), (5, "POS")))
    big = from_btf(btf, struct_id(btf, "enum big") or 0)
    assert isinstance(big, t.Enum) and (big.bits, big.signed) == (64, False)
    assert btf.enum_value("S2") == (struct_id(btf, "enum small"), 1)
    ints = struct_id(btf, "struct ints") or 0
    kinds = {m.name: from_btf(btf, m.type) for m in btf.members(ints)}
    assert kinds == {"a": t.Int(8, True), "b": t.UINT64, "c": t.Int(16, True), "d": t.UINT32,
                     "e": t.BOOL, "f": t.UINT64, "g": t.Int(8, True), "h": t.UINT32,
                     "i": t.INT64, "j": t.Int(16, True)}


def test_a_pointer_may_refer_to_a_later_definition() -> None:
    btf = script_types("struct a { struct b *b; }; struct b { struct a *a; int x; };")
    a = struct_id(btf, "struct a") or 0
    member = btf.member(a, "b")
    assert member is not None
    pointee = btf.type(member.type)
    assert btf.c_name(pointee.id) == "struct b *"
    assert btf.size(struct_id(btf, "struct b") or 0) == 16


def test_the_last_member_needs_no_semicolon() -> None:
    btf = script_types("struct s { long x; short a : 4, b : 8 } struct t { char c }")
    assert btf.size(struct_id(btf, "struct s") or 0) == 16
    assert btf.size(struct_id(btf, "struct t") or 0) == 1


def test_typedef_of_a_struct_defined_later() -> None:
    btf = script_types("typedef struct s s_t; struct s { long x; }; struct u { s_t v; };")
    assert btf.size(struct_id(btf, "s_t") or 0) == 8
    assert btf.size(struct_id(btf, "struct u") or 0) == 8


@pytest.mark.parametrize(("text", "message"), [
    ("struct a { int x; }; struct a { int y; };", "struct a is defined twice"),
    ("struct a { int x; char x; };", "struct a has two members named 'x'"),
    ("struct a { int x; struct { int x; }; };", "struct a has two members named 'x'"),
    ("struct a { struct a inner; };", "member 'inner' has incomplete type struct a"),
    ("struct a { struct b inner; }; struct b { int x; };",
     "member 'inner' has incomplete type struct b"),
    ("struct a { struct nope *p; };", "unknown type 'struct nope'"),
    ("struct a { u32 x; };", "unknown type 'u32'"),
    ("struct a { char buf[2][0]; };", "member 'buf' is an array of no elements inside an array"),
    ("struct a { void v; };", "member 'v' cannot have type void"),
    ("struct a { int *p : 3; };", "bitfield 'p' must have an integer type"),
    ("struct a { int x : 33; };", "bitfield 'x' must be 1 to 32 bits wide, not 33"),
    ("struct a { int x : 0; };", "bitfield 'x' must be 1 to 32 bits wide, not 0"),
    ("struct a { int; };", "this member has no name"),
    ("enum e { A, B }; enum f { B };", "enumerator 'B' is defined twice"),
    ("typedef int a_t; typedef long a_t;", "typedef 'a_t' is defined twice"),
    ("struct a { int x; } __attribute__((aligned(3)));", "aligned() takes a power of two"),
    ("struct a { int x; } __attribute__((mode(2)));", "attribute 'mode' is not supported"),
    ("enum e { A = 18446744073709551616 };", "A = 18446744073709551616 does not fit in 64 bits"),
])
def test_errors(text: str, message: str) -> None:
    assert errors(define(text)) == [message]


def assigned_types(ctx: CompileContext) -> dict[str, t.Type]:
    """The type each `$v = …` of the first probe leaves its variable with (the last wins)."""
    instance = ctx.instances[0]
    return {s.target.name: instance.type_of(s.target) for s in instance.probe.body.stmts
            if isinstance(s, n.Assign) and isinstance(s.target, n.Variable)}


def test_enum_values_in_expressions() -> None:
    ctx = checked("enum color { RED, GREEN = 5, BLUE }; "
                  "BEGIN { $a = BLUE; $b = BLUE + 1; $c = (enum color)1; @m[GREEN] = RED; "
                  "$d = $a; $d = 3; }")
    color = t.Enum(32, False, "enum color", ((0, "RED"), (5, "GREEN"), (6, "BLUE")))
    # An enumerator is a 64-bit value of its enum (sizeof gives 8, as in bpftrace 0.26).
    enumerator = t.Enum(64, True, "enum color", color.enumerators)
    assert assigned_types(ctx) == {"$a": enumerator, "$b": t.INT64, "$c": color, "$d": t.INT64}
    info = ctx.maps["@m"]
    assert (info.key, info.value) == (enumerator, enumerator)


def test_typedef_names_in_casts_lets_and_sizeof() -> None:
    ctx = checked("typedef unsigned int u32_t; typedef struct { int a; } box_t; "
                  "BEGIN { $a = (u32_t)-1; let $b: u32_t = 2; $c = sizeof(u32_t); "
                  "$d = (box_t *)0; $e = $d->a; $f = sizeof(box_t); }")
    types = assigned_types(ctx)
    assert (types["$a"], types["$c"], types["$e"], types["$f"]) == (
        t.UINT32, t.UINT64, t.INT32, t.UINT64)
    assert isinstance(types["$d"], t.Pointer) and types["$d"].pointee == "box_t"
    stmts = ctx.instances[0].probe.body.stmts
    sizes = [ctx.checked.sizes[s.value] for s in stmts
             if isinstance(s, n.Assign) and isinstance(s.value, n.Sizeof)]
    assert sizes == [4, 4]


def test_unknown_enum_cast_is_an_error() -> None:
    ctx = check("enum color { RED }; BEGIN { $a = (enum colour)1; }")
    assert errors(ctx) == ["neither the script nor the kernel has a type 'enum colour'"]


needs_vmlinux = pytest.mark.skipif(not VMLINUX.exists(), reason=f"{VMLINUX} is missing")


@needs_vmlinux
def test_kernel_types_in_definitions() -> None:
    kernel = Btf.load(VMLINUX)
    btf = script_types("struct k { char c; struct list_head l; u32 x; pid_t p; };", kernel)
    k = struct_id(btf, "struct k") or 0
    assert [(m.name, m.offset) for m in btf.members(k)] == [
        ("c", 0), ("l", 8), ("x", 24), ("p", 28)]
    assert btf.size(k) == 32
    assert btf.c_name(btf.member(k, "l").type) == "struct list_head"  # type: ignore[union-attr]


@needs_vmlinux
def test_script_types_hide_kernel_types_of_the_same_name() -> None:
    kernel = Btf.load(VMLINUX)
    btf = script_types("struct task_struct { int mine; }; enum pid_type { PIDTYPE_PID = 7 };",
                       kernel)
    task = struct_id(btf, "struct task_struct") or 0
    assert [m.name for m in btf.members(task)] == ["mine"]
    found = btf.enum_value("PIDTYPE_PID")
    assert found is not None and found[1] == 7
    assert btf.enum_value("PIDTYPE_PGID") == kernel.enum_value("PIDTYPE_PGID")
    list_head = struct_id(btf, "struct list_head")
    assert list_head is not None and list_head == struct_id(kernel, "struct list_head")
