"""Reading a USDT probe's arguments from its `struct pt_regs` and user memory."""

from __future__ import annotations

from llvmlite import ir

from ptrace.codegen.bpf_builder import I64, ProgramBuilder, i64
from ptrace.codegen.helpers import Helper
from ptrace.usdt import UsdtArg


def read_usdt_arg(pb: ProgramBuilder, arg: UsdtArg, symbol: ir.Value | None = None) -> ir.Value:
    """The argument as a 64-bit value, sign- or zero-extended from its size.

    `symbol` is the run-time address of the symbol the argument names, if it
    names one. A memory operand that cannot be read gives 0
    (bpf_probe_read_user zeroes the destination when it faults).
    """
    if arg.is_constant:
        return i64(arg.value)  # parse_arg already fitted it to the argument's type
    b = pb.b
    if arg.memory:
        slot = pb.fresh_memory(8)
        pb.helper(Helper.PROBE_READ_USER, I64, [slot, i64(arg.size), _address(pb, arg, symbol)])
        raw = b.load(slot, typ=ir.IntType(arg.size * 8), align=8)
    else:  # a register, or the address of a symbol (`$counter`)
        raw = _address(pb, arg, symbol)
        if arg.size < 8:
            raw = b.trunc(raw, ir.IntType(arg.size * 8))
    if arg.size == 8:
        return raw
    return b.sext(raw, I64) if arg.signed else b.zext(raw, I64)


def _address(pb: ProgramBuilder, arg: UsdtArg, symbol: ir.Value | None) -> ir.Value:
    """symbol + displacement + register + index * scale, of the parts it has."""
    b = pb.b
    parts = [symbol] if symbol is not None else []
    if arg.register is not None:
        parts.append(pb.ctx_load(arg.register))
    if arg.index is not None:
        parts.append(b.mul(pb.ctx_load(arg.index), i64(arg.scale)))
    if arg.value or not parts:
        parts.append(i64(arg.value))
    address = parts[0]
    for part in parts[1:]:
        address = b.add(address, part)
    return address
