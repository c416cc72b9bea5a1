"""Reading a USDT probe's arguments from its `struct pt_regs` and user memory."""

from __future__ import annotations

from llvmlite import ir

from ptrace.codegen.bpf_builder import I64, ProgramBuilder, i64
from ptrace.codegen.helpers import Helper
from ptrace.usdt import UsdtArg


def read_usdt_arg(pb: ProgramBuilder, arg: UsdtArg) -> ir.Value:
    """The argument as a 64-bit value, sign- or zero-extended from its size.

    A memory operand that cannot be read gives 0 (bpf_probe_read_user zeroes
    the destination when it faults).
    """
    if arg.register is None:
        return i64(arg.value)  # parse_arg already fitted it to the argument's type
    b = pb.b
    raw: ir.Value = pb.ctx_load(arg.register)
    if arg.memory:
        address = b.add(raw, i64(arg.value))
        if arg.index is not None:
            address = b.add(address, b.mul(pb.ctx_load(arg.index), i64(arg.scale)))
        slot = pb.fresh_memory(8)
        pb.helper(Helper.PROBE_READ_USER, I64, [slot, i64(arg.size), address])
        raw = b.load(slot, typ=ir.IntType(arg.size * 8), align=8)
    elif arg.size < 8:
        raw = b.trunc(raw, ir.IntType(arg.size * 8))
    if arg.size == 8:
        return raw
    return b.sext(raw, I64) if arg.signed else b.zext(raw, I64)
