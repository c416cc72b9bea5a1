"""Rules of values and types that the type checker's parts share."""

from __future__ import annotations

from collections.abc import Sequence

from ptrace.ast import nodes as n
from ptrace.options import param_integer
from ptrace.types import types as t
from ptrace.types.builtins import AGGREGATIONS


def literal_value(e: n.Expr) -> int | None:
    if isinstance(e, n.Integer):
        return e.value
    if isinstance(e, n.Unary) and e.op == "-" and isinstance(e.operand, n.Integer):
        return -e.operand.value
    return None


# The most iterations bpf_loop runs (the kernel's BPF_MAX_LOOPS, 2^23).
MAX_BPF_LOOP = 1 << 23


def is_callback_loop(node: n.Node) -> bool:
    """A loop whose body is lowered as a callback: over a map, or over a range
    whose bounds are not both constants (the verifier bounds only a loop whose
    count it knows)."""
    if not isinstance(node, n.For):
        return False
    if isinstance(node.iterable, n.MapRef):
        return True
    return not all(literal_value(bound) is not None or isinstance(bound, n.Positional)
                   for bound in (node.iterable.start, node.iterable.stop))


def constant_integer(e: n.Expr, params: Sequence[str]) -> int | None:
    """The value of an integer literal, or of a positional parameter given as
    an integer (`unroll($1)`, `strncmp(a, b, $1)`, `lhist(v, 0, $1, $2)`);
    None for anything else."""
    if isinstance(e, n.Positional):
        return param_integer(params[e.index - 1] if 0 < e.index <= len(params) else "")
    return literal_value(e)


def param_text(e: n.Expr, params: Sequence[str]) -> str | None:
    """The text str() takes from a positional parameter, one char per byte:
    `str($1)` (the text, even where it looks like a number), or `str($1 + 2)`
    from its third byte on (as in bpftrace, an address in the text, moved by
    at most its length). None for any other argument, or a move out of range."""
    offset: int | None = 0
    if isinstance(e, n.Binary) and e.op == "+" and isinstance(e.left, n.Positional):
        offset = constant_integer(e.right, params)
        e = e.left
    if not isinstance(e, n.Positional) or e.index == 0 or offset is None:
        return None
    data = (params[e.index - 1] if e.index <= len(params) else "").encode()
    return data[offset:].decode("latin-1") if 0 <= offset <= len(data) else None


def literal_type(value: int) -> t.Int:
    """An integer literal's type, as bpftrace 0.26 gives it: the smallest that
    holds it (1 is a uint8, 300 a uint16, -1 an int8, -1000 an int16), and past
    32 bits int64 (uint64 past int64's range), so that a large literal does not
    make arithmetic or comparisons with it unsigned."""
    if value >= 2**63:
        return t.UINT64
    if 0 <= value < 2**32:
        return t.Int(next(bits for bits in (8, 16, 32) if value < 1 << bits), False)
    if -(2**31) <= value < 0:
        return t.Int(next(bits for bits in (8, 16, 32) if value >= -(1 << (bits - 1))), True)
    return t.INT64


def is_unsigned(tp: t.Type) -> bool:
    return (isinstance(tp, t.Int) and not tp.signed and tp.bits == 64) or isinstance(tp, t.Pointer)


def storable(tp: t.Type) -> bool:
    if isinstance(tp, t.Tuple | t.Record):
        return all(storable(e) for e in tp.elements)
    return isinstance(tp, t.Int | t.Bool | t.Str | t.Pointer | t.Formatted | t.Stack | t.Array
                      | t.Inet | t.Buf | t.Usym | t.StructValue)


def assigned_aggregation(value: n.Expr) -> tuple[list[n.Block], n.Call] | None:
    """The aggregation a map is assigned, directly (`@m = count()`) or as the
    value of blocks (`@m = { let $a = f(); avg($a) }`, a macro's expansion),
    with those blocks, whose other statements run first; None for any other value."""
    blocks: list[n.Block] = []
    inner: n.Expr | n.If | n.Block | None = value
    while isinstance(inner, n.BlockExpr | n.Block):
        block = inner.block if isinstance(inner, n.BlockExpr) else inner
        blocks.append(block)
        inner = block.value
    if isinstance(inner, n.Call) and inner.name in AGGREGATIONS:
        return blocks, inner
    return None
