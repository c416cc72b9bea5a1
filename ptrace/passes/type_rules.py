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
