"""Tests for the checker's results (ptrace.passes.context.TypeResults): one
table per meaning, keyed by node, and one fresh set of tables per round."""

from __future__ import annotations

from ptrace.ast import nodes as n
from ptrace.ast.visitor import walk
from ptrace.compile import PASSES
from ptrace.diagnostics import Reporter, Source
from ptrace.options import Options
from ptrace.parse import parse_program
from ptrace.passes.check_types import check_round
from ptrace.passes.context import CompileContext, ProbeInstance
from ptrace.types import types as t
from tests.unit.fixtures import fixture_machine


def passed(text: str) -> CompileContext:
    source = Source("test.bt", text)
    ctx = CompileContext(source, Options(unsafe=True), fixture_machine(), parse_program(source))
    for run_pass in PASSES:
        run_pass(ctx)
        assert not ctx.reporter.has_errors, ctx.reporter.diagnostics
    return ctx


def values_of(instance: ProbeInstance) -> dict[str, n.Expr]:
    """Each `$name = value;` of the instance's probe: its value's node."""
    return {s.target.name: s.value for s in instance.probe.body.stmts
            if isinstance(s, n.Assign) and isinstance(s.target, n.Variable)}


def test_each_meaning_has_its_table() -> None:
    ctx = passed('struct s { char a; long b; }; enum e { FIVE = 5 }; '
                 'BEGIN { $size = sizeof(struct s); $offset = offsetof(struct s, b); '
                 '$enum = FIVE; $p = (int32 *)8; $moved = $p + 2; $read = $p[1]; '
                 '$t = (1, "a"); $element = $t[1]; $address = pton("127.0.0.1"); '
                 'signal("USR1"); unroll(3) { } }')
    checked, found = ctx.checked, values_of(ctx.instances[0])
    assert checked.sizes == {found["$size"]: 16}
    assert checked.offsets == {found["$offset"]: 8}
    assert checked.enum_values == {found["$enum"]: 5}
    assert checked.pointer_scales == {found["$moved"]: 4, found["$read"]: 4}
    assert checked.tuple_positions == {found["$element"]: 1}
    assert checked.pton_addresses == {found["$address"]: bytes([127, 0, 0, 1])}
    (signal,) = [node for node in walk(ctx.instances[0].probe)
                 if isinstance(node, n.Call) and node.name == "signal"]
    assert checked.signal_numbers == {signal: 10}
    assert list(checked.unroll_counts.values()) == [3]


def test_tables_are_per_instance() -> None:
    """Each instance has its own copy of the tree, so its own entries."""
    ctx = passed("tracepoint:sched:sched_process_* { $n = sizeof(int64); }")
    nodes = [values_of(instance)["$n"] for instance in ctx.instances]
    assert len(set(nodes)) == len(ctx.instances) > 1
    assert ctx.checked.sizes == dict.fromkeys(nodes, 8)


def test_a_round_returns_fresh_tables() -> None:
    """The quiet round's sites are not in the kept results: each round starts
    from empty tables, and only the maps and `let` types carry over."""
    ctx = passed('BEGIN { let $x; printf("%d\\n", @later); $x = "abc"; } END { @later = 1; }')
    again = check_round(ctx, Reporter())
    assert again is not ctx.checked
    assert len(again.printf_sites) == len(ctx.checked.printf_sites) == 1
    assert list(ctx.let_types.values()) == [t.Str(4)]
