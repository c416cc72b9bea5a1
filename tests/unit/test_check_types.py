"""Tests for type inference and checks (ptrace.passes.check_types).

Scripts are parsed and run through expand_probes and check_types with a
CompileContext over the fixture machine; tests read the side tables the
checker fills: each instance's types and the context's maps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ptrace.ast import nodes as n
from ptrace.ast.visitor import walk
from ptrace.diagnostics import Severity, Source
from ptrace.machine import FixtureMachine, kallsyms_address
from ptrace.options import Options
from ptrace.parse import parse_program
from ptrace.passes.check_builtins import probe_type
from ptrace.passes.check_types import check_types
from ptrace.passes.context import CompileContext, ProbeInstance
from ptrace.passes.expand_probes import expand_probes
from ptrace.program import Attach
from ptrace.types import types as t
from ptrace.types.types import BOOL, INT32, INT64, UINT32, UINT64
from tests.unit.fixtures import fixture_machine, format_text

# Integer literals take the smallest type that holds them (bpftrace 0.26).
UINT8, INT8, UINT16 = t.Int(8, False), t.Int(8, True), t.Int(16, False)


def check(text: str, options: Options | None = None,
          machine: FixtureMachine | None = None) -> CompileContext:
    source = Source("test.bt", text)
    ctx = CompileContext(source, options or Options(), machine or fixture_machine(),
                         parse_program(source))
    expand_probes(ctx)
    assert not ctx.reporter.has_errors, ctx.reporter.diagnostics
    check_types(ctx)
    return ctx


def errors(ctx: CompileContext) -> list[str]:
    return [d.message for d in ctx.reporter.diagnostics if d.severity is Severity.ERROR]


def checked(text: str, options: Options | None = None,
            machine: FixtureMachine | None = None) -> CompileContext:
    ctx = check(text, options, machine)
    assert errors(ctx) == []
    return ctx


def variable_types(instance: ProbeInstance) -> dict[str, t.Type]:
    """The type of the value of each top-level `$v = …` in the instance's probe body."""
    return {s.target.name: instance.type_of(s.value) for s in instance.probe.body.stmts
            if isinstance(s, n.Assign) and isinstance(s.target, n.Variable)}


def types_in(body: str, options: Options | None = None) -> dict[str, t.Type]:
    """Variable types of `BEGIN { body }`."""
    ctx = checked(f"BEGIN {{ {body} }}", options)
    return variable_types(ctx.instances[0])


def type_of(expression: str, options: Options | None = None) -> t.Type:
    return types_in(f"$v = {expression};", options)["$v"]


# ---- expressions ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1", UINT8),
        ("255", UINT8),
        ("256", UINT16),
        ("0xffffffff", UINT32),
        ("0x100000000", INT64),  # past 32 bits: signed, so it does not make arithmetic unsigned
        ("0x7fffffffffffffff", INT64),
        ("0x8000000000000000", UINT64),
        ("18446744073709551615", UINT64),
        ("-1", INT8),
        ("-129", t.Int(16, True)),
        ("true", BOOL),
        ("false", BOOL),
        ('""', t.Str(1)),
        ('"abc"', t.Str(4)),
        (r'"a\n"', t.Str(3)),
        ("comm", t.Str(16)),
        ("pid", UINT32),
        ("tid", UINT32),
        ("uid", UINT32),
        ("cpu", UINT32),
        ("nsecs", UINT64),
        ("elapsed", UINT64),
        ("cgroup", UINT64),
        ("curtask", t.Pointer("struct task_struct")),
        ("probe", t.Str(len("BEGIN") + 1)),
    ],
)
def test_literal_and_builtin_types(expression: str, expected: t.Type) -> None:
    assert type_of(expression) == expected


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">=", "&&", "||"])
def test_comparisons_and_logic_give_bool(op: str) -> None:
    assert type_of(f"pid {op} 1") == BOOL
    assert type_of(f"nsecs {op} -1") == BOOL


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('"a" == "abc"', BOOL),
        ('comm != "bash"', BOOL),
        ("!1", BOOL),
        ("1 + 2", INT64),
        ("pid * 2", INT64),
        ("pid + pid", INT64),
        ("nsecs + 1", UINT64),
        ("1 * nsecs", UINT64),
        ("nsecs / 2", UINT64),
        ("5 % nsecs", UINT64),
        ("nsecs << 1", UINT64),
        ("nsecs & 0xff", UINT64),
        # a pointer moved by elements stays a pointer; the distance between two is a count
        ("curtask + 8", t.Pointer("struct task_struct")),
        ("8 + (uint32 *)0", t.Pointer("uint32")),
        ("(uint16 *)8 - (uint16 *)0", INT64),
        # a difference may be negative, even of unsigned operands
        ("nsecs - nsecs", INT64),
        ("(uint64)1 - (uint64)2", INT64),
        ("(uint32)1 - (uint32)2", INT64),
        ("-nsecs", INT64),
        ("~nsecs", UINT64),
        ("~1", INT64),
        ("+nsecs", UINT64),
        ("(int8)300", t.Int(8, True)),
        ("(uint16)-1", t.Int(16, False)),
        ("(unsigned long)pid", UINT64),
        ("(int)nsecs", INT32),
        ("(bool)5", BOOL),
        ("1 ? 2 : 3", UINT8),
        ("1 ? 2 : -1", t.Int(16, True)),
        ('pid ? "a" : "abcd"', t.Str(5)),
        ("comm ?: comm", t.Str(16)),
        ('(1, "ab", comm)', t.Tuple((UINT8, t.Str(3), t.Str(16)))),
        ("((1, 2), true)", t.Tuple((t.Tuple((UINT8, UINT8)), BOOL))),
        ('(1, "ab").1', t.Str(3)),
        ("str(comm)", t.Str(16)),
        ("str(1)", t.Str(1025)),  # max_strlen characters and a NUL
        ("str(1, 5)", t.Str(5)),  # the length counts the NUL
        ("str(1, 5000)", t.Str(1025)),
    ],
)
def test_expression_types(expression: str, expected: t.Type) -> None:
    assert type_of(expression) == expected


def test_str_capacity_follows_max_strlen() -> None:
    assert type_of("str(1)", Options(max_strlen=64)) == t.Str(65)
    assert type_of("str(1, 100)", Options(max_strlen=64)) == t.Str(65)
    assert type_of("str(1, 10)", Options(max_strlen=64)) == t.Str(10)


def test_every_subexpression_is_typed() -> None:
    ctx = checked("BEGIN { $v = (pid + 1) * 2 > 3; }")
    (assign,) = ctx.instances[0].probe.body.stmts
    assert isinstance(assign, n.Assign)
    compare = assign.value
    assert isinstance(compare, n.Binary) and isinstance(compare.left, n.Binary)
    product = compare.left
    assert isinstance(product.left, n.Binary)
    instance = ctx.instances[0]
    assert instance.type_of(compare) == BOOL
    assert instance.type_of(product) == INT64
    assert instance.type_of(product.left.left) == UINT32
    assert instance.type_of(product.left.right) == UINT8


def test_variables_take_the_type_of_all_their_values() -> None:
    ctx = checked('BEGIN { $n = 1; $m = $n; $n = (uint32)2; $s = "a"; $s = "abcd"; $t = $s; }')
    assigns = [s for s in ctx.instances[0].probe.body.stmts if isinstance(s, n.Assign)]
    instance = ctx.instances[0]
    assert instance.type_of(assigns[1].value) == UINT32  # read before the wider assignment
    assert instance.type_of(assigns[2].target) == UINT32
    assert instance.type_of(assigns[4].target) == t.Str(5)
    assert instance.type_of(assigns[5].value) == t.Str(5)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("$i = 0; $i++;", INT64),
        ("$i = 0; $i += 1;", INT64),
        ("$i = (uint64)0; $i += 1;", UINT64),
        ("let $i: uint8 = 0; $i++;", UINT8),  # declared with a type: it wraps at 256
        ("$i = 0; $j = $i; $i++;", INT64),
    ],
)
def test_arithmetic_assignment_widens_a_variable(body: str, expected: t.Type) -> None:
    assert types_in(body + " $r = $i;")["$r"] == expected


def test_let_declares_a_type() -> None:
    ctx = checked("BEGIN { let $a: uint8 = 1; let $b = comm; let $c: int16; $x = $a; $y = $b; "
                  "$z = $c; }")
    assert variable_types(ctx.instances[0]) == {"$x": t.Int(8, False), "$y": t.Str(16),
                                                "$z": t.Int(16, True)}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("$v = $undefined;", "undefined variable '$undefined'"),
        ('$v = 1; $v = "a";', "'$v' holds uint8; cannot assign string[2]"),
        ("$v = comm + 1;", "'+' needs integers, got string[16]"),
        ("$v = !comm;", "'!' needs an integer, got string[16]"),
        ("$v = nope;", "unknown identifier 'nope'"),
        ("$v = args.x;", "'args' is not available in begin probes"),
        ("let $v: uint8 = comm;", "cannot initialise '$v' of type uint8 with string[16]"),
        ("$v = (1, 2).5;", "a tuple of 2 has no element .5"),
        ("break;", "'break' outside a loop"),
    ],
)
def test_type_errors(body: str, message: str) -> None:
    assert message in errors(check(f"BEGIN {{ {body} }}"))


# ---- positional parameters ------------------------------------------------------------

@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (("12",), INT64),
        (("-5",), INT64),
        (("0x10",), INT64),
        (("hello",), t.Str(6)),
        (("1.5",), t.Str(4)),
        (("",), INT64),
        ((), INT64),  # missing: 0, as in bpftrace
    ],
)
def test_positional_parameter_types(params: tuple[str, ...], expected: t.Type) -> None:
    assert type_of("$1", Options(params=params)) == expected


def test_parameter_count_and_later_parameters() -> None:
    found = types_in("$count = $#; $second = $2; $third = $3;",
                     Options(params=("1", "héllo")))
    assert found == {"$count": INT64, "$second": t.Str(len("héllo".encode()) + 1),
                     "$third": INT64}


# ---- maps ------------------------------------------------------------------------------

def test_map_types_merge_across_probes() -> None:
    ctx = checked('BEGIN { @n = 1; @s = "ab"; @k["a"] = 1; @t[1, "a"] = comm; } '
                  'END { @n = (uint32)2; @s = "abcdef"; @k["abcd"] = 2; @t[2, "abc"] = "x"; }')
    maps = {name: (info.key, info.value) for name, info in ctx.maps.items()}
    assert maps == {
        "@n": (None, INT64),  # a map keeps integers in 64 bits
        "@s": (None, t.Str(7)),
        "@k": (t.Str(5), INT64),
        "@t": (t.Tuple((UINT8, t.Str(4))), t.Str(16)),
    }


def test_arrays_mix_when_their_elements_have_one_width() -> None:
    """An array of pointers to one struct known through two type tables (a
    `let` type and a binary's DWARF) mixes; wider elements would change the
    layout, and another count is another type."""
    declared = t.Array(t.Pointer("struct Foo", 3, "user"), 2)
    read = t.Array(t.Pointer("struct Foo", 9, "user"), 2)
    assert t.merge(declared, read) == declared
    assert t.merge(t.Array(t.INT32, 4), t.Array(t.INT32, 4)) == t.Array(t.INT32, 4)
    assert t.merge(t.Array(t.INT32, 4), t.Array(t.INT64, 4)) is None
    assert t.merge(t.Array(t.Int(8, True), 4), t.Array(t.Int(8, False), 4)) is None
    assert t.merge(t.Array(t.INT32, 4), t.Array(t.INT32, 2)) is None


def test_map_read_before_the_probe_that_assigns_it() -> None:
    ctx = checked('BEGIN { $n = @count; $s = @name; printf("%d %s\\n", @count, @name); } '
                  "END { @count = 5; @name = comm; }")
    assert variable_types(ctx.instances[0]) == {"$n": INT64, "$s": t.Str(16)}
    (site,) = ctx.checked.printf_sites
    assert site.arg_types == (INT64, t.Str(16))


def test_map_reads_see_the_widest_value() -> None:
    ctx = checked('BEGIN { @s = "a"; $v = @s; } END { @s = "abcdefgh"; }')
    assert variable_types(ctx.instances[0])["$v"] == t.Str(9)


def test_anonymous_and_keyed_maps() -> None:
    ctx = checked("BEGIN { @ = 1; @m[pid, comm] = nsecs; }")
    assert (ctx.maps["@"].key, ctx.maps["@"].value) == (None, INT64)
    assert ctx.maps["@m"].key == t.Tuple((UINT32, t.Str(16)))
    assert ctx.maps["@m"].value == UINT64


def test_compound_assignment_and_increment_make_integer_maps() -> None:
    ctx = checked("BEGIN { @a += 5; @b[comm]++; --@c; }")
    assert {name: info.value for name, info in ctx.maps.items()} == {
        "@a": INT64, "@b": INT64, "@c": INT64}
    assert ctx.maps["@b"].key == t.Str(16)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("count()", t.Count()),
        ("sum(1)", t.Sum(True)),
        ("sum(nsecs)", t.Sum(False)),
        ("sum(pid)", t.Sum(True)),
        ("min(-1)", t.Min(True)),
        ("max((uint64)1)", t.Max(False)),
        ("avg(2)", t.Avg(True)),
        ("stats(curtask)", t.Stats(False)),
        ("hist(pid)", t.Hist(0)),
        ("hist(pid, 3)", t.Hist(3)),
        ("lhist(pid, 0, 100, 10)", t.Lhist(0, 100, 10)),
        ("lhist(pid, -50, 50, 5)", t.Lhist(-50, 50, 5)),
    ],
)
def test_aggregation_value_kinds(call: str, expected: t.Type) -> None:
    ctx = checked(f"BEGIN {{ @a[comm] = {call}; }}")
    assert (ctx.maps["@a"].key, ctx.maps["@a"].value) == (t.Str(16), expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('BEGIN { @x = 1; } END { @x = "a"; }',
         "map @x holds values of type int64; cannot store values of type string[2]"),
        ("BEGIN { @x[1] = 1; } END { @x = 2; }",
         "map @x is used with a key of type uint8 elsewhere"),
        ('BEGIN { @x["a"] = 1; } END { @x[1] = 2; }',
         "map @x has keys of type string[2]; this key is uint8"),
        ("BEGIN { @x = count(); } END { @x = sum(1); }",
         "map @x holds count() values; cannot store sum() values"),
        ("BEGIN { $v = @never; }", "map @never is never assigned"),
        ("BEGIN { @h = hist(1); $v = @h; }",
         "a hist() map has no single value to read"),
        ("BEGIN { $v = count(); }", "count() must be assigned to a map"),
        ("BEGIN { @h = hist(1, 9); }", "hist()'s second argument must be a literal from 0 to 5"),
        ("BEGIN { @l = lhist(1, 10, 0, 1); }", "lhist() needs min < max and step > 0"),
    ],
)
def test_map_errors(text: str, message: str) -> None:
    assert message in errors(check(text))


def test_map_error_points_at_the_first_use() -> None:
    ctx = check('BEGIN { @x = 1; }\nEND { @x = "a"; }')
    (diagnostic,) = ctx.reporter.diagnostics
    assert diagnostic.span is not None and diagnostic.span.line == 2
    assert diagnostic.hints == ("@x was first used at line 1",)


# ---- tracepoint args ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("probe", "field", "expected"),
    [
        ("sched:sched_switch", "prev_comm", t.Str(16)),
        ("sched:sched_switch", "prev_pid", INT32),
        ("sched:sched_switch", "prev_state", INT64),
        ("sched:sched_process_exec", "filename", t.Str(1024)),
        # syscall tracepoints hand over user-space pointers
        ("syscalls:sys_enter_openat", "filename", t.Pointer("char", 0, "user")),
        ("syscalls:sys_enter_execve", "argv", t.Pointer("char *", 0, "user")),
        ("syscalls:sys_exit_openat", "ret", INT64),
        ("amd_cpu:amd_pstate_perf", "fast_switch", BOOL),
        ("amd_cpu:amd_pstate_perf", "min_perf", t.Int(8, False)),
        ("amd_cpu:amd_pstate_perf", "cpu_id", UINT32),
        ("amd_cpu:amd_pstate_perf", "freq", UINT64),
        ("bridge:br_fdb_add", "addr", t.Str(6)),
        ("bridge:br_fdb_add", "vid", t.Int(16, False)),
        ("alarmtimer:alarmtimer_start", "alarm", t.Pointer("void")),
        # arrays of numbers (char arrays are strings)
        ("raw_syscalls:sys_enter", "args", t.Array(UINT64, 6)),
        ("sock:inet_sock_set_state", "saddr", t.Array(t.Int(8, False), 4)),
        ("sock:inet_sock_set_state", "daddr_v6", t.Array(t.Int(8, False), 16)),
    ],
)
def test_tracepoint_field_types(probe: str, field: str, expected: t.Type) -> None:
    ctx = checked(f"tracepoint:{probe} {{ $v = args.{field}; }}")
    assert variable_types(ctx.instances[0])["$v"] == expected


def test_data_loc_strings_follow_max_strlen() -> None:
    ctx = checked("tracepoint:sched:sched_process_exec { $v = args.filename; }",
                  Options(max_strlen=200))
    assert variable_types(ctx.instances[0])["$v"] == t.Str(200)


def test_wildcard_types_args_per_instance() -> None:
    """sched_process_exit has `char comm[16]`, sched_process_free `__data_loc char[] comm`."""
    machine = FixtureMachine({(c, e): format_text(c, e) for c, e in
                              [("sched", "sched_process_exit"), ("sched", "sched_process_free")]})
    ctx = checked("tracepoint:sched:sched_process_* { $c = args.comm; $p = args.pid; "
                  "@[args.comm] = count(); }", machine=machine)
    assert [i.attach.probe for i in ctx.instances] == [
        "tracepoint:sched:sched_process_exit", "tracepoint:sched:sched_process_free"]
    exit_types, free_types = (variable_types(i) for i in ctx.instances)
    assert exit_types == {"$c": t.Str(16), "$p": INT32}
    assert free_types == {"$c": t.Str(1024), "$p": INT32}
    assert ctx.maps["@"].key == t.Str(1024)
    assert ctx.maps["@"].value == t.Count()


def test_probe_builtin_is_typed_per_instance() -> None:
    ctx = checked("tracepoint:syscalls:sys_exit_* { $p = probe; }")
    assert [variable_types(i)["$p"] for i in ctx.instances] == [
        t.Str(len("tracepoint:syscalls:sys_exit_openat") + 1),
        t.Str(len("tracepoint:syscalls:sys_exit_read") + 1)]


def test_wildcard_field_missing_in_one_instance_is_an_error() -> None:
    ctx = check("tracepoint:sched:sched_process_* { $v = args.old_pid; }")
    # Told once, at the first instance that lacks it, the others counted in a hint.
    (diagnostic,) = ctx.reporter.diagnostics
    assert diagnostic.message == "tracepoint sched:sched_process_exit has no field 'old_pid'"
    assert diagnostic.hints[-1] == (
        "the same error in 2 more probes of this wildcard: tracepoint:sched:sched_process_fork, "
        "tracepoint:sched:sched_process_free")


def test_unknown_field_suggests_a_close_name() -> None:
    ctx = check("tracepoint:syscalls:sys_enter_openat { $v = args.filenam; }")
    (diagnostic,) = ctx.reporter.diagnostics
    assert diagnostic.message == "tracepoint syscalls:sys_enter_openat has no field 'filenam'"
    assert "did you mean 'filename'?" in diagnostic.hints


def test_unsupported_field_type_is_an_error() -> None:
    fmt = ("name: odd\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\t"
           "size:2;\tsigned:0;\n\n\tfield:__data_loc u32[] cpus;\toffset:8;\tsize:4;\t"
           "signed:0;\n")
    machine = FixtureMachine({("test", "odd"): fmt})
    ctx = check("tracepoint:test:odd { $v = args.cpus; }", machine=machine)
    assert errors(ctx) == [
        "field 'cpus' has type '__data_loc u32[]', which is not supported yet"]


# ---- printf --------------------------------------------------------------------------------

def test_printf_sites_record_argument_types() -> None:
    ctx = checked('BEGIN { printf("%d %s %s\\n", pid, comm, "abc"); printf("x\\n"); }')
    first, second = ctx.checked.printf_sites
    assert first.arg_types == (UINT32, t.Str(16), t.Str(4))
    assert second.arg_types == ()
    assert first.segments[0] != second.segments[0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ('printf("%d\\n", comm)', "%d expects an integer, got string[16]"),
        ('printf("%d %d\\n", 1)', "the format has 2 conversions but 1 argument was given"),
        ("printf(comm)", "printf's format must be a string literal"),
    ],
)
def test_printf_errors(call: str, message: str) -> None:
    assert message in errors(check(f"BEGIN {{ {call}; }}"))


@pytest.mark.parametrize(("expression", "expected"), [
    ("uptr(curtask)", t.Pointer("struct task_struct", 0, "user")),
    ("kptr(uptr(curtask))", t.Pointer("struct task_struct", 0, "kernel")),
    ("uptr(5)", UINT8),  # an integer stays one: str() reads it by the call around it
    ("kptr((uint32)5)", UINT32),
    ("ncpus", UINT64),
])
def test_address_space_functions_and_ncpus(expression: str, expected: t.Type) -> None:
    assert type_of(expression) == expected


def test_address_space_functions_take_one_integer() -> None:
    assert errors(check('BEGIN { $p = uptr("x"); $q = kptr(1, 2); }')) == [
        "uptr()'s argument 'p' must be an integer, not string[2]", "kptr() takes 1 argument, got 2"]


def test_index_types() -> None:
    ctx = checked("tracepoint:raw_syscalls:sys_enter { $a = args.args[1]; $s = comm[0]; "
                  "$p = pton(\"::1\"); $e = $p[15]; $c = curtask; }")
    types = variable_types(ctx.instances[0])
    assert (types["$a"], types["$s"], types["$p"], types["$e"]) == (
        UINT64, t.Int(8, True), t.Array(t.Int(8, False), 16), t.Int(8, False))


def test_kaddr_is_the_symbol_address_at_compile_time() -> None:
    machine = fixture_machine()
    machine.symbols["_stext"] = 0xFFFFFFFF81000000
    ctx = checked('BEGIN { $k = kaddr("_stext"); }', machine=machine)
    (call,) = [node for node in walk(ctx.instances[0].probe) if isinstance(node, n.Call)]
    assert ctx.checked.kernel_addresses[call] == 0xFFFFFFFF81000000


def test_kallsyms_address(tmp_path: Path) -> None:
    listing = tmp_path / "kallsyms"
    listing.write_text("ffffffff81000000 T _stext\nffffffff81001000 t helper [mod]\n"
                       "0000000000000000 T hidden\n")
    assert kallsyms_address("_stext", str(listing)) == 0xFFFFFFFF81000000
    assert kallsyms_address("helper", str(listing)) == 0xFFFFFFFF81001000
    assert kallsyms_address("hidden", str(listing)) is None  # kptr_restrict hides it
    assert kallsyms_address("absent", str(listing)) is None


# ---- usym, uaddr, reg ------------------------------------------------------------------

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def test_usym_and_reg_types() -> None:
    ctx = checked('profile:hz:99 { $s = usym(reg("ip")); $r = reg("flags"); @[usym(0)] = 1; }')
    assert variable_types(ctx.instances[0]) == {"$s": t.Usym(), "$r": UINT64}
    assert ctx.maps["@"].key == t.Usym()


@pytest.mark.skipif(not Path(LIBC).exists(), reason="needs Debian's x86_64 libc")
def test_uaddr_is_a_user_pointer_sized_by_the_symbol() -> None:
    """Typed as bpftrace types it: a pointer to an int of the symbol's size
    (1, 2 or 4 bytes, else 8); the value is the distance from the probe."""
    machine = FixtureMachine({})
    ctx = checked(f'uprobe:{LIBC}:malloc+4 {{ $i = uaddr("optind"); $f = uaddr("free"); }}',
                  machine=machine)
    types = variable_types(ctx.instances[0])
    assert types == {"$i": t.Pointer("int32", 0, "user"), "$f": t.Pointer("int64", 0, "user")}
    symbols = {s.name: s.address for s in machine.binary_symbols(LIBC) or []}
    calls = [node for node in walk(ctx.instances[0].probe) if isinstance(node, n.Call)]
    probe = symbols["malloc"] + 4
    assert [ctx.checked.symbol_offsets[c] for c in calls] == [symbols["optind"] - probe,
                                                     symbols["free"] - probe]


# ---- tuples, records and arrays: compared, cast, indexed; args whole; probetype --------

BYTES = t.Int(8, False)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('(1, "a") == (1, "abc")', BOOL),
        ('(a=1, b=comm) != (b="x", a=pid)', BOOL),
        ('((1, "x"), pton("::1")) == ((pid, comm), pton("::2"))', BOOL),
        ('pton("1.2.3.4") == pton("4.3.2.1")', BOOL),
        ("() == ()", BOOL),
        ("()", t.Tuple(())),
        ("(int8[8])12345", t.Array(t.Int(8, True), 8)),
        ("(uint8[4])1", t.Array(BYTES, 4)),  # a literal takes the array's size if it fits
        ("(uint8[])pid", t.Array(BYTES, 4)),
        ("(uint16[])nsecs", t.Array(t.Int(16, False), 4)),
        ('(int8[])"hello"', t.Array(t.Int(8, True), 6)),  # a string's bytes, its NUL too
        ("(bool[2])(uint16)1", t.Array(BOOL, 2)),
        ("((uint8[4])1)[2]", BYTES),
        ("{ let $m: uint16[3]; $m[1] }", t.Int(16, False)),
        ('(uint32)pton("127.0.0.1")', UINT32),
        ("(uint64)(int8[8])-1", UINT64),
        ('(1, "ab")[1]', t.Str(3)),
        ('(1, "ab")[(2 - 1) * -1 + 1]', UINT8),
        ("probetype", t.Str(len("special") + 1)),
    ],
)
def test_compound_value_types(expression: str, expected: t.Type) -> None:
    assert type_of(expression) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('$v = (1, 2) == (1, "a");', "cannot compare (uint8, uint8) with (uint8, string[2])"),
        ("$v = pton(\"::1\") != 1;", "cannot compare uint8[16] with uint8"),
        ("$v = (int8[2])nsecs;", "cannot cast uint64 (8 bytes) to int8[2] (2 bytes)"),
        ("$v = (uint8[2])70000;", "cannot cast uint32 (4 bytes) to uint8[2] (2 bytes)"),
        ('$v = (int8[2])"abc";', "cannot cast string[4] (4 bytes) to int8[2] (2 bytes)"),
        ("$v = (int8[2])(1, 2);",
         "only integers and strings can be cast to arrays, not (uint8, uint8)"),
        ("$v = (string[2])1;",
         "an array cast needs integer elements, as in (uint8[4]), not string"),
        ("let $v: uint8[];", "an array type needs its number of elements, as in uint8[4]"),
        ('$v = (uint16)pton("1.2.3.4");', "cannot cast uint8[4] (4 bytes) to uint16 (2 bytes)"),
        ("$v = (1, 2)[pid];", "a tuple's index must be a constant, as in $t[0]"),
        ("$v = (1, 2)[-1];", "a tuple of 2 has no element -1"),
        ("@m = ();", "() cannot be stored in a map"),
        ("_ -= 1;", "'_' only discards values: it takes '=', not '-='"),
        ("_ = nope;", "unknown identifier 'nope'"),
    ],
)
def test_compound_value_errors(body: str, message: str) -> None:
    assert message in errors(check(f"BEGIN {{ {body} }}"))


def test_records_match_fields_by_name() -> None:
    """A record may be assigned one with the same fields in another order."""
    ctx = checked('BEGIN { $r = (a=1, b="x"); $r = (b=comm, a=pid); @m = $r; @m = (b="", a=2); }')
    record = t.Record(("a", "b"), (UINT32, t.Str(16)))
    assigns = [s for s in ctx.instances[0].probe.body.stmts if isinstance(s, n.Assign)]
    assert ctx.instances[0].type_of(assigns[1].target) == record
    assert ctx.maps["@m"].value == record


def test_discard_evaluates_its_value() -> None:
    ctx = checked("BEGIN { @m[1] = 1; _ = delete(@m, 1); _ = (1, comm); }")
    discards = [s for s in ctx.instances[0].probe.body.stmts if isinstance(s, n.Assign)][1:]
    assert [ctx.instances[0].type_of(s.value) for s in discards] == [
        BOOL, t.Tuple((UINT8, t.Str(16)))]


def test_args_whole_is_a_record_of_the_fields() -> None:
    """Every field after the common header, typed as args.name types it."""
    ctx = checked("tracepoint:syscalls:sys_enter_openat { $a = args; @m[tid] = args; }")
    record = variable_types(ctx.instances[0])["$a"]
    assert isinstance(record, t.Record)
    assert record.names == ("__syscall_nr", "dfd", "filename", "flags", "mode")
    assert record.field("filename") == t.Pointer("char", 0, "user")
    assert ctx.maps["@m"].value == record


def test_args_whole_needs_every_field_readable() -> None:
    fmt = ("name: odd\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\t"
           "size:2;\tsigned:0;\n\n\tfield:int n;\toffset:8;\tsize:4;\tsigned:1;\n"
           "\tfield:__data_loc u32[] cpus;\toffset:12;\tsize:4;\tsigned:0;\n")
    ctx = check("tracepoint:test:odd { print(args); }",
                machine=FixtureMachine({("test", "odd"): fmt}))
    assert errors(ctx) == ["'args' cannot be read whole: field 'cpus' has type "
                           "'__data_loc u32[]', which is not supported yet"]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("begin", "special"), ("end", "special"), ("signal", "special"),
     ("syscalls", "tracepoint"), ("tracepoint", "tracepoint"), ("uretprobe", "uretprobe"),
     ("rawtracepoint", "rawtracepoint"), ("fentry", "fentry"), ("watchpoint", "watchpoint")],
)
def test_probetype_names_the_provider(kind: str, expected: str) -> None:
    assert probe_type(Attach(kind, "")) == expected



def test_kaddr_of_an_unknown_symbol_is_one_error() -> None:
    """The variable it is assigned to keeps kaddr's type: its uses are not
    reported again as undefined."""
    machine = fixture_machine()
    machine.symbols["init_task"] = 0xFFFFFFFF82A0C940
    ctx = check('BEGIN { $a = kaddr("no_such_symbol"); $b = $a + 8; printf("%p\\n", $b); }',
                machine=machine)
    assert [d.message for d in ctx.reporter.diagnostics] == [
        "the kernel has no symbol 'no_such_symbol'"]
    assert ctx.reporter.diagnostics[0].hints == ()


def test_kaddr_says_when_kallsyms_lists_no_variables() -> None:
    """Without CONFIG_KALLSYMS_ALL, /proc/kallsyms has functions only: not even
    init_task, which every kernel has."""
    machine = fixture_machine()
    machine.symbols["vfs_read"] = 0xFFFFFFFF81400000
    ctx = check('BEGIN { $a = kaddr("avenrun"); }', machine=machine)
    (diagnostic,) = ctx.reporter.diagnostics
    assert diagnostic.message == "the kernel has no symbol 'avenrun'"
    assert diagnostic.hints == ("this kernel's /proc/kallsyms lists functions only (it was "
                                "built without CONFIG_KALLSYMS_ALL): kaddr() finds no variable",)


# What the lowering of builtins asserts of its arguments (their shapes and
# types, what the kernel has): each is the checker's to report first, at the
# argument, so that no script reaches the assertion.
CHECKED_BEFORE_LOWERING = [
    ("debugf($s)", "debugf's format must be a string literal"),
    ("strlen(1)", "strlen() takes a string, got uint8"),
    ("strncmp($s, 2, 3)", "strncmp() takes a string, got uint8"),
    ("strncmp($s, $s, $x)", "strncmp()'s length must be a non-negative integer literal"),
    ("strcontains(1, $s)", "strcontains() takes a string, got uint8"),
    ("strcontains($s, $x)", "strcontains() takes a string, got uint8"),
    ("strstr(1, $s)", "strstr() takes a string, got uint8"),
    ("strstr($s, $x)", "strstr() takes a string, got uint8"),
    ("globmatch($x, \"*\")", "globmatch() takes a string, got uint8"),
    ("globmatch($s, $s)", "globmatch()'s pattern must be a string literal"),
    ("len($x)", "len() takes a map or a stack, as in len(@m) or len(ustack)"),
    ("percpu_kaddr($s)", "percpu_kaddr() takes a kernel variable's name as a string literal"),
    ("kaddr($s)", "kaddr() takes a kernel symbol's name as a string literal"),
    ("clear(1)", "clear() takes a map, as in clear(@name)"),
    ("zero($x)", "zero() takes a map, as in zero(@name)"),
    ("delete(1, 2)", "delete(@map, key) takes a map first"),
    ("delete($x)", "delete() takes a map element, as in delete(@m[key])"),
    ("buf(1)", "buf() of uint8 needs a length, as in buf(p, 16)"),
    ("comm($s)", "comm()'s argument 'pid' must be an integer, not string[3]"),
]


def test_builtin_arguments_the_lowering_relies_on_are_checked_first() -> None:
    for call, message in CHECKED_BEFORE_LOWERING:
        ctx = check(f'BEGIN {{ $x = 1; $s = "ab"; {call}; }}')
        found = [(d.message, d.span.col) for d in ctx.reporter.diagnostics
                 if d.severity is Severity.ERROR]
        assert found == [(message, found[0][1])], (call, found)
        assert found[0][1] >= 28, call  # at the call or its argument, not the probe
    machine = fixture_machine()
    for script, message in (
            ("profile:hz:99 { $r = reg(\"nosuch\"); }", "not an x86_64 register"),
            ("tracepoint:sched:sched_switch { $c = comm(1); }", "comm(pid) needs"),
            ("BEGIN { $v = percpu_kaddr(\"nosuch\"); }", "percpu_kaddr")):
        ctx = check(script, machine=machine)
        assert any(message in text for text in errors(ctx)), (script, errors(ctx))
