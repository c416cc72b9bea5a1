"""Tests for usdt probes: note and argument-spec parsing (ptrace.usdt), the
attach plan, typing and lowering of argN, diagnostics, and `-l` listings.

The binary is tests/progs/ptt_usdt.c as the `triggers` fixture builds it
(gcc and <sys/sdt.h> are needed, no root). Tests run in its directory and
name it `./ptt_usdt`, so diagnostics are exact whatever the build path.
"""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest

from ptrace.cli_probes import list_probes
from ptrace.compile import compile
from ptrace.diagnostics import CompileError, Source, render_all
from ptrace.elf import notes
from ptrace.machine import FixtureMachine
from ptrace.options import Options
from ptrace.program import CompiledProgram, ProgType
from ptrace.types import types as t
from ptrace.usdt import NOTE_SECTION, UsdtArg, UsdtError, parse_arg, parse_note, probes_in

RAX, RBX, RDX, RBP, RSI, RDI, RSP, R15 = 80, 40, 96, 32, 104, 112, 152, 0


@pytest.mark.parametrize(("spec", "arg"), [
    ("-4@%eax", UsdtArg(4, True, register=RAX)),
    ("8@%rdi", UsdtArg(8, False, register=RDI)),
    ("-2@%r15w", UsdtArg(2, True, register=R15)),
    ("1@%bl", UsdtArg(1, False, register=RBX)),
    ("4@%sil", UsdtArg(4, False, register=RSI)),
    ("8@-16(%rbp)", UsdtArg(8, False, -16, RBP, memory=True)),
    ("-4@28(%rsp)", UsdtArg(4, True, 28, RSP, memory=True)),
    ("-8@0x10(%rdi)", UsdtArg(8, True, 16, RDI, memory=True)),
    ("8@(%rsi)", UsdtArg(8, False, 0, RSI, memory=True)),
    ("4@8(%rax,%rdx,4)", UsdtArg(4, False, 8, RAX, RDX, 4, memory=True)),
    ("4@(%rax,%rdx)", UsdtArg(4, False, 0, RAX, RDX, 1, memory=True)),
    ("4@$5", UsdtArg(4, False, 5)),
    ("-4@$-1", UsdtArg(4, True, -1)),
    ("-1@$255", UsdtArg(1, True, -1)),
    ("1@$-1", UsdtArg(1, False, 255)),
    ("%rax", UsdtArg(8, False, register=RAX)),  # no size: 64 bits
    ("-4@counter(%rip)", UsdtArg(4, True, memory=True, symbol="counter")),
    ("-8@16+table(%rip)", UsdtArg(8, True, 16, memory=True, symbol="table")),
    ("8@table+0x10(%rip)", UsdtArg(8, False, 16, memory=True, symbol="table")),
    ("4@-4+table+8(%eip)", UsdtArg(4, False, 4, memory=True, symbol="table")),
    ("8@table(%rax)", UsdtArg(8, False, 0, RAX, memory=True, symbol="table")),
    ("8@table(,%rdx,8)", UsdtArg(8, False, 0, None, RDX, 8, memory=True, symbol="table")),
    ("-4@counter", UsdtArg(4, True, memory=True, symbol="counter")),
    ("8@table+8", UsdtArg(8, False, 8, memory=True, symbol="table")),
    ("4@0x601040", UsdtArg(4, False, 0x601040, memory=True)),
    ("8@$table", UsdtArg(8, False, symbol="table")),
    ("8@$table+8", UsdtArg(8, False, 8, symbol="table")),
])
def test_parse_arg(spec: str, arg: UsdtArg) -> None:
    assert parse_arg(spec) == arg


@pytest.mark.parametrize(("spec", "message"), [
    ("3@%eax", "'3@%eax' has size 3; sizes are 1, 2, 4 or 8"),
    ("x@%eax", "'x@%eax' has no size"),
    ("1@%ah", "'1@%ah' uses the register %ah, which ptrace does not read"),
    ("8@%xmm0", "'8@%xmm0' uses the register %xmm0, which ptrace does not read"),
    ("-4@8(%rip)", "'-4@8(%rip)' is relative to the instruction pointer without naming a "
                   "symbol"),
    ("4@a+b(%rip)", "'4@a+b(%rip)' is an address ptrace cannot compute (more than one "
                    "symbol, or a symbol subtracted)"),
    ("4@8-a", "'4@8-a' is an address ptrace cannot compute (more than one symbol, or a "
              "symbol subtracted)"),
    ("4@[sp, 8]", "'4@[sp, 8]' is not an x86_64 operand ptrace can read"),
])
def test_parse_arg_errors(spec: str, message: str) -> None:
    with pytest.raises(UsdtError) as error:
        parse_arg(spec)
    assert str(error.value) == message


def test_parse_note() -> None:
    desc = struct.pack("<QQQ", 0x1076, 0x2009, 0x402A) + b"prov\0name\0-4@%eax 8@$1\0"
    assert parse_note(desc) == (0x1076, 0x2009, 0x402A, "prov", "name", ("-4@%eax", "8@$1"))
    assert parse_note(struct.pack("<QQQ", 1, 2, 0) + b"p\0n\0\0")[5] == ()


@pytest.fixture
def in_triggers(triggers: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Run in the triggers' directory; the built ptt_usdt's bytes."""
    monkeypatch.chdir(triggers)
    return (triggers / "ptt_usdt").read_bytes()


def test_probes_of_a_binary(in_triggers: bytes) -> None:
    probes = probes_in(in_triggers)
    assert sorted((p.provider, p.name, len(p.args)) for p in probes) == [
        ("other", "done", 0), ("ptt", "done", 3), ("ptt", "guarded", 1), ("ptt", "loop", 4),
        ("ptt", "site", 1), ("ptt", "site", 1), ("ptt", "start", 0)]
    for probe in probes:
        assert in_triggers[probe.offset] == 0x90  # each site is a nop
        assert probe.semaphore and in_triggers[probe.semaphore:probe.semaphore + 2] == b"\0\0"
    assert len({p.semaphore for p in probes}) == 6  # one per probe; ptt:site has two sites
    for probe in probes:
        parse_arg.cache_clear()
        for spec in probe.args:
            parse_arg(spec)  # gcc -O2 writes only operands ptrace reads


def test_prelinked_notes_move_with_the_base_section(in_triggers: bytes) -> None:
    """A note whose recorded base differs from .stapsdt.base's address: its
    site (and semaphore) move by the difference."""
    data = bytearray(in_triggers)
    for _owner, _kind, desc in notes(in_triggers, NOTE_SECTION):
        at = in_triggers.index(desc)
        (base,) = struct.unpack_from("<Q", data, at + 8)
        struct.pack_into("<Q", data, at + 8, base + 0x10)
    moved = probes_in(bytes(data))
    for before, after in zip(probes_in(in_triggers), moved, strict=True):
        assert (after.address, after.offset) == (before.address - 0x10, before.offset - 0x10)
        assert after.semaphore == before.semaphore - 0x10


def test_symbols_named_by_arguments(in_triggers: bytes, triggers: Path) -> None:
    """A probe keeps the addresses of the symbols its arguments name."""
    probes = {p.name: p for p in probes_in((triggers / "ptt_usdt_rip").read_bytes())}
    assert probes["globals"].args == ("-4@ptt_counter(%rip)", "-8@16+ptt_table(%rip)",
                                      "-8@24+ptt_table(%rip)")
    assert probes["absolute"].args == ("-4@ptt_counter", "8@ptt_table+8", "8@-8+ptt_table+24",
                                       "8@$ptt_table")
    machine = FixtureMachine({})
    symbols = {s.name: s.address for s in machine.binary_symbols("./ptt_usdt_rip") or []}
    expected = {"ptt_counter": symbols["ptt_counter"], "ptt_table": symbols["ptt_table"]}
    assert dict(probes["globals"].symbols) == dict(probes["absolute"].symbols) == expected
    assert all(not p.symbols for p in probes_in(in_triggers))


def test_a_binary_without_notes(triggers: Path) -> None:
    assert probes_in((triggers / "ptt_uprobe").read_bytes()) == []


def _compile(text: str, dumps: tuple[str, ...] = ()) -> CompiledProgram:
    return compile(Source("-e", text), machine=FixtureMachine({}), dumps=dumps)


def test_plan_one_program_per_site(in_triggers: bytes) -> None:
    program = _compile("usdt:./ptt_usdt:ptt:site { @[arg0] = count(); }")
    first, second = program.programs
    assert first.prog_type == second.prog_type == ProgType.KPROBE
    assert first.attach.kind == second.attach.kind == "usdt"
    assert first.attach.probe == second.attach.probe == "usdt:./ptt_usdt:ptt:site"
    assert first.attach.binary == "./ptt_usdt"
    assert first.attach.offset != second.attach.offset
    assert first.attach.ref_ctr_offset == second.attach.ref_ctr_offset != 0


def test_plan_names_and_wildcards(in_triggers: bytes) -> None:
    def probes(point: str) -> list[str]:
        return [p.attach.probe for p in _compile(point + " { }").programs]

    assert probes("U:./ptt_usdt:loop") == ["usdt:./ptt_usdt:ptt:loop"]
    assert probes("usdt:./ptt_usdt:*:done") == ["usdt:./ptt_usdt:other:done",
                                                 "usdt:./ptt_usdt:ptt:done"]
    assert len(probes("usdt:./ptt_usdt:*")) == 7
    assert probes("usdt:./ptt_usdt:ptt:s*") == ["usdt:./ptt_usdt:ptt:site"] * 2 + [
        "usdt:./ptt_usdt:ptt:start"]


def test_argument_types_and_reads(in_triggers: bytes) -> None:
    program = _compile("usdt:./ptt_usdt:ptt:loop { @i = arg0; @n = arg1; @len = arg2; } "
                       "usdt:./ptt_usdt:ptt:done { @stack = arg2; }", dumps=("ir",))
    types = {m.name: m.value_type for m in program.maps}
    assert (types["@i"], types["@n"], types["@len"]) == (t.INT64, t.INT64, t.UINT64)
    # The memory operand of ptt:done's arg2 is read with bpf_probe_read_user (112), 4 bytes.
    assert "inttoptr (i64 112 to ptr)" in program.dumps["ir"]


def test_symbol_operands_read_at_the_load_bias(in_triggers: bytes) -> None:
    """A symbol's run-time address is the probe's (bpf_get_func_ip, 173) plus
    their distance in the binary: no address of the binary is in the program."""
    program = _compile("usdt:./ptt_usdt_rip:ptt:globals { @ = arg1; }", dumps=("ir",))
    (attach,) = (p.attach for p in program.programs)
    table = dict(attach.usdt_symbols)["ptt_table"]
    assert attach.address and table
    ir_text = program.dumps["ir"]
    assert "inttoptr (i64 173 to ptr)" in ir_text
    assert re.search(rf"add i64 %\S+, {table - attach.address}\n", ir_text)
    assert not re.search(rf"\b{table}\b", ir_text)


def test_a_symbol_the_binary_lacks(in_triggers: bytes, tmp_path: Path) -> None:
    """Stripped, the binary no longer has the symbols its notes name."""
    stripped = tmp_path / "stripped"
    subprocess.run(["strip", "-o", str(stripped), "ptt_usdt_rip"], check=True)
    with pytest.raises(CompileError) as error:
        _compile(f"usdt:{stripped}:ptt:globals {{ print(arg0); print(arg0); }}")
    message = (f"cannot read arg0 of usdt:{stripped}:ptt:globals: '-4@ptt_counter(%rip)' "
               f"names 'ptt_counter', which is not a symbol of {stripped}")
    assert [d.message for d in error.value.diagnostics] == [message, message]


def test_without_a_binary_the_process_files_are_searched(in_triggers: bytes,
                                                         triggers: Path) -> None:
    """usdt:PROBE, usdt::PROBE and usdt::PROVIDER:PROBE with -p: the probe is
    looked for in the process's executable and libraries."""
    lib = str(triggers / "libptt_usdt.so")
    machine = FixtureMachine({}, processes={42: ["./ptt_usdt_rip", "/bin/true", lib]})

    def probes(point: str, pid: int = 42) -> list[str]:
        program = compile(Source("-e", point + " { }"), Options(pid=pid), machine=machine)
        return [p.attach.probe for p in program.programs]

    assert probes("usdt:globals") == ["usdt:./ptt_usdt_rip:ptt:globals"]
    assert probes("usdt::hello") == [f"usdt:{lib}:pttlib:hello"]
    assert probes("usdt::p*:*") == ['usdt:./ptt_usdt_rip:ptt:"quoted"',
                                    "usdt:./ptt_usdt_rip:ptt:absolute",
                                    "usdt:./ptt_usdt_rip:ptt:globals",
                                    f"usdt:{lib}:pttlib:hello"]
    # An empty provider is any provider.
    assert probes("usdt:::*l*") == ["usdt:./ptt_usdt_rip:ptt:absolute",
                                    "usdt:./ptt_usdt_rip:ptt:globals",
                                    f"usdt:{lib}:pttlib:hello"]
    assert probes("usdt:./ptt_usdt:ptt:start") == ["usdt:./ptt_usdt:ptt:start"]
    with pytest.raises(CompileError) as error:
        probes("usdt::ptt:globls")
    assert render_all(error.value.diagnostics) == """\
-e:1:1: error: process 42 has no USDT probe 'ptt:globls'
    usdt::ptt:globls { }
    ^~~~~~~~~~~~~~~~
  hint: did you mean 'ptt:globals' or 'globals'?"""
    with pytest.raises(CompileError) as error:
        probes("usdt::ptt:globals", pid=7)
    assert render_all(error.value.diagnostics) == """\
-e:1:1: error: cannot read the mappings of process 7 (it does not exist?)
    usdt::ptt:globals { }
    ^~~~~~~~~~~~~~~~~"""



def test_a_wildcard_binary_is_each_file_of_the_process(in_triggers: bytes,
                                                       triggers: Path) -> None:
    """uprobe:*:GLOB with -p: the functions of every file the process maps that
    match; a file without one is left out, an error only when none has it."""
    lib = str(triggers / "libptt_usdt.so")
    machine = FixtureMachine({}, processes={42: ["./ptt_usdt_rip", "/bin/true", lib]})

    def probes(point: str, pid: int = 42) -> list[str]:
        program = compile(Source("-e", point + " { }"), Options(pid=pid), machine=machine)
        return [p.attach.probe for p in program.programs]

    assert probes("uretprobe:*:ptt_lib_*") == [f"uretprobe:{lib}:ptt_lib_hello"]
    assert probes("uprobe:libptt*:ptt_lib_hello") == [f"uprobe:{lib}:ptt_lib_hello"]
    for point, message in [
            ("uprobe:*:nosuch*", "no binary of process 42 matching '*' has a function "
                                 "matching 'nosuch*'"),
            ("uprobe:*:main", "cannot read the mappings of process 7 (it does not exist?)")]:
        with pytest.raises(CompileError) as error:
            probes(point, pid=7 if point.endswith("main") else 42)
        assert [d.message for d in error.value.diagnostics] == [message]
    with pytest.raises(CompileError) as error:
        compile(Source("-e", "uprobe:*:main { }"), Options(), machine=machine)
    assert [d.message for d in error.value.diagnostics] == [
        "a uprobe's binary '*' has a wildcard: it matches files by a path ('./bin/app*') or, "
        "with -p PID, the files the process maps"]

def test_empty_provider_wildcard_binary_and_quoted_names(in_triggers: bytes) -> None:
    """usdt:BINARY::PROBE is the probe in any provider; a wildcard in BINARY's
    path is each file it matches that has the probe; a quoted name is the
    name with its escapes processed (ptt:"quoted" has quotes in its name)."""
    def probes(point: str) -> list[str]:
        return [p.attach.probe for p in _compile(point + " { }").programs]

    assert probes("usdt:./ptt_usdt::done") == ["usdt:./ptt_usdt:other:done",
                                               "usdt:./ptt_usdt:ptt:done"]
    assert probes("usdt:./ptt_usdt*::*g*") == ["usdt:./ptt_usdt_rip:ptt:globals",
                                               "usdt:./ptt_usdt:ptt:guarded"]
    assert probes('usdt:./ptt_usdt_rip:ptt:"\\"quoted\\""') == [
        'usdt:./ptt_usdt_rip:ptt:"quoted"']
    assert probes('usdt:"./ptt_usdt_rip":"ptt":globals') == ["usdt:./ptt_usdt_rip:ptt:globals"]
    with pytest.raises(CompileError) as error:
        probes("usdt:./nothing*::*")
    assert [d.message for d in error.value.diagnostics] == ["no file matching ./nothing*"]


DIAGNOSTICS = [
    ("usdt:./ptt_usdt:ptt:nope { }", """\
-e:1:1: error: ./ptt_usdt has no USDT probe 'ptt:nope'
    usdt:./ptt_usdt:ptt:nope { }
    ^~~~~~~~~~~~~~~~~~~~~~~~
  hint: did you mean 'ptt:loop' or 'ptt:done' or 'ptt:site'?"""),
    ("usdt:./ptt_usdt:lop { }", """\
-e:1:1: error: ./ptt_usdt has no USDT probe 'lop'
    usdt:./ptt_usdt:lop { }
    ^~~~~~~~~~~~~~~~~~~
  hint: did you mean 'loop'?"""),
    ("usdt:./ptt_usdt:ptt:x* { }", """\
-e:1:1: error: no USDT probe of ./ptt_usdt matches 'ptt:x*'
    usdt:./ptt_usdt:ptt:x* { }
    ^~~~~~~~~~~~~~~~~~~~~~"""),
    ("usdt:./ptt_usdt:done { }", """\
-e:1:1: error: USDT probe 'done' of ./ptt_usdt is in more than one provider: other, ptt
    usdt:./ptt_usdt:done { }
    ^~~~~~~~~~~~~~~~~~~~
  hint: name the provider, as in usdt:./ptt_usdt:other:done"""),
    ("usdt:./ptt_usdt:ptt:start { print(arg0); }", """\
-e:1:35: error: cannot read arg0 of usdt:./ptt_usdt:ptt:start: it has no arguments
    usdt:./ptt_usdt:ptt:start { print(arg0); }
                                      ^~~~"""),
    ("usdt:./ptt_usdt:ptt:loop { print(arg4); }", """\
-e:1:34: error: cannot read arg4 of usdt:./ptt_usdt:ptt:loop: it has 4 arguments
    usdt:./ptt_usdt:ptt:loop { print(arg4); }
                                     ^~~~"""),
    # Two sites, one diagnostic.
    ("usdt:./ptt_usdt:ptt:site { print(arg1); }", """\
-e:1:34: error: cannot read arg1 of usdt:./ptt_usdt:ptt:site: it has 1 argument
    usdt:./ptt_usdt:ptt:site { print(arg1); }
                                     ^~~~"""),
    ("usdt:./ptt_usdt { }", """\
-e:1:1: error: a usdt probe is written 'usdt:/path/to/binary:provider:probe' or \
'usdt:/path/to/binary:probe'
    usdt:./ptt_usdt { }
    ^~~~~~~~~~~~~~~"""),
    ("usdt::ptt:loop { }", """\
-e:1:1: error: a usdt probe is written 'usdt:/path/to/binary:provider:probe' or \
'usdt:/path/to/binary:probe'
    usdt::ptt:loop { }
    ^~~~~~~~~~~~~~
  hint: without a binary (usdt::provider:probe), it needs -p PID"""),
    ("usdt:./no_such_binary:p:n { }", """\
-e:1:1: error: './no_such_binary' is not a file, a program on PATH or a library
    usdt:./no_such_binary:p:n { }
    ^~~~~~~~~~~~~~~~~~~~~~~~~"""),
    ("usdt:./ptt_uprobe:p:n { }", """\
-e:1:1: error: ./ptt_uprobe has no USDT probes
    usdt:./ptt_uprobe:p:n { }
    ^~~~~~~~~~~~~~~~~~~~~"""),
]


@pytest.mark.parametrize(("text", "expected"), DIAGNOSTICS)
def test_diagnostics(in_triggers: bytes, text: str, expected: str) -> None:
    with pytest.raises(CompileError) as error:
        _compile(text)
    assert render_all(error.value.diagnostics) == expected


def test_list(in_triggers: bytes) -> None:
    machine = FixtureMachine({})
    assert list_probes("usdt:./ptt_usdt:*", False, machine) == [
        f"usdt:./ptt_usdt:{name}" for name in (
            "other:done", "ptt:done", "ptt:guarded", "ptt:loop", "ptt:site", "ptt:start")]
    assert list_probes("U:./ptt_usdt:done", False, machine) == [
        "usdt:./ptt_usdt:other:done", "usdt:./ptt_usdt:ptt:done"]
    assert list_probes("usdt:./ptt_usdt:ptt:s*", False, machine) == [
        "usdt:./ptt_usdt:ptt:site", "usdt:./ptt_usdt:ptt:start"]
    assert list_probes("usdt:./ptt_usdt::done", False, machine) == [
        "usdt:./ptt_usdt:other:done", "usdt:./ptt_usdt:ptt:done"]
    verbose = list_probes("usdt:./ptt_usdt:ptt:loop", True, machine)
    assert verbose[0] == "usdt:./ptt_usdt:ptt:loop"
    assert [line.split(":")[0] for line in verbose[1:]] == [
        "    arg0", "    arg1", "    arg2", "    arg3"]


def test_a_uprobe_wildcard_is_one_uprobe_multi_program(in_triggers: bytes) -> None:
    """A wildcard's functions in one binary are one program for one uprobe_multi
    link; each function is its own program where the kernel has no such links,
    or where the body needs its function's own facts (args, uaddr)."""
    from ptrace.bpf_abi import AttachType
    from ptrace.cli_probes import program_probes

    def programs(text: str, multi: bool = True, options: Options | None = None
                 ) -> list[CompiledProgram]:
        machine = FixtureMachine({}, uprobe_multi_links=multi)
        return list(compile(Source("-e", text), options, machine=machine).programs)

    (one,) = programs("uretprobe:./ptt_uprobe:ptt_* { @[func] = count(); }")
    assert one.expected_attach_type == AttachType.TRACE_UPROBE_MULTI
    assert [symbol for symbol, _ in one.attach.functions] == ["ptt_add", "ptt_greet"]
    assert one.attach.probe_names == ("uretprobe:./ptt_uprobe:ptt_add",
                                      "uretprobe:./ptt_uprobe:ptt_greet")
    assert [p.attach.probe for p in programs("uprobe:./ptt_uprobe:ptt_* { }", False)] == [
        "uprobe:./ptt_uprobe:ptt_add", "uprobe:./ptt_uprobe:ptt_greet"]
    assert len(programs('uprobe:./ptt_uprobe:ptt_* { @ = uaddr("main"); }')) == 2
    # --no-feature uprobe_multi: as on a kernel without the links
    assert [p.attach.probe for p in programs("uprobe:./ptt_uprobe:ptt_* { }", options=Options(
        no_features=("uprobe_multi",)))] == ["uprobe:./ptt_uprobe:ptt_add",
                                              "uprobe:./ptt_uprobe:ptt_greet"]
    assert program_probes(Source("-e", "uprobe:./ptt_uprobe:ptt_* { }"), Options(),
                          FixtureMachine({})) == ["uprobe:./ptt_uprobe:ptt_add",
                                                  "uprobe:./ptt_uprobe:ptt_greet"]
