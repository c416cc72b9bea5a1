"""Rules of values and types that the type checker's parts share."""

from __future__ import annotations

from ptrace.ast import nodes as n
from ptrace.types import types as t


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
