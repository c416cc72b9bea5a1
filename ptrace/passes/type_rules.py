"""Rules of values and types that the type checker's parts share."""

from __future__ import annotations

from ptrace.ast import nodes as n
from ptrace.types import types as t
from ptrace.types.builtins import AGGREGATIONS


def literal_value(e: n.Expr) -> int | None:
    if isinstance(e, n.Integer):
        return e.value
    if isinstance(e, n.Unary) and e.op == "-" and isinstance(e.operand, n.Integer):
        return -e.operand.value
    return None


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
