"""Tests for the loop and byte-comparison idioms of ProgramBuilder (ptrace.codegen.bpf_builder).

The idioms are built into small functions `i64 f(ptr ctx)` and run on the
host through LLVM's JIT, with `ctx` pointing at memory the test lays out; an
idiom that needs the BPF backend (`bytes_equal`, through
`llvm.bpf.passthrough`) is compiled for BPF and its instructions inspected.
The kernel runs them in the runtime cases of strlen, strncmp, strcontains,
string compares and aggregation reads.
"""

from __future__ import annotations

import ctypes
import functools
import struct
from collections.abc import Callable
from typing import Any

import pytest

import ptrace.codegen  # noqa: F401 - first: it makes llvmlite use opaque pointers

# isort: split

import llvmlite.binding as llvm
from llvmlite import ir

from ptrace.codegen.bpf_builder import I1, I8, I64, ProgramBuilder, i64
from ptrace.codegen.emit import emit, new_module

BPF_JMP = 0x05
BPF_JMP32 = 0x06
BPF_JA, BPF_CALL, BPF_EXIT = 0x00, 0x80, 0x90
LD_IMM64 = 0x18


@functools.cache
def _host_target() -> Any:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm.Target.from_default_triple()


def run(build: Callable[[ProgramBuilder], ir.Value], memory: bytes) -> int:
    """The value `build(pb)` of a function `i64 f(ptr ctx)` run on the host, `ctx`
    pointing at `memory` (8-aligned, padded with zeros to a multiple of 8)."""
    module = ir.Module("idiom")
    pb = ProgramBuilder(module, "f", ".text", scratch_map=0)
    value = build(pb)
    if value.type == I1:
        value = pb.b.zext(value, I64)
    pb.b.ret(value)
    pb.finish()
    parsed = llvm.parse_assembly(str(module))
    parsed.triple = llvm.get_process_triple()
    parsed.verify()
    # The engine owns its target machine: one each.
    engine = llvm.create_mcjit_compiler(parsed, _host_target().create_target_machine())
    engine.finalize_object()
    function = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)(engine.get_function_address("f"))
    padded = memory + bytes(-len(memory) % 8 or 8)
    words = (ctypes.c_uint64 * (len(padded) // 8)).from_buffer_copy(padded)
    return int(function(ctypes.addressof(words)))


def byte_at(pb: ProgramBuilder, base: ir.Value, index: ir.Value) -> ir.Value:
    return pb.b.load(pb.b.gep(base, [index], source_etype=I8), typ=I8)


# ---- counted_loop ----

@pytest.mark.parametrize("count", [1, 2, 7, 64])
def test_counted_loop_runs_the_body_count_times_carrying_values(count: int) -> None:
    def build(pb: ProgramBuilder) -> ir.Value:
        def body(index: ir.Value, values: list[ir.Value]) -> list[ir.Value]:
            total, runs = values
            return [pb.b.add(total, index), pb.b.add(runs, i64(1))]

        total, runs = pb.counted_loop("sum", count, body, [i64(0), i64(0)])
        return pb.b.add(pb.b.mul(total, i64(1000)), runs)

    assert run(build, b"") == sum(range(count)) * 1000 + count


@pytest.mark.parametrize("limit", [0, 1, 3, 10, 11, 1 << 40])
def test_counted_loop_stops_at_a_run_time_limit(limit: int) -> None:
    def build(pb: ProgramBuilder) -> ir.Value:
        def body(index: ir.Value, values: list[ir.Value]) -> list[ir.Value]:
            return [pb.b.add(values[0], i64(1))]

        (runs,) = pb.counted_loop("limited", 10, body, [i64(0)], limit=pb.load64(pb.ctx))
        return runs

    assert run(build, struct.pack("<Q", limit)) == min(limit, 10)


def test_counted_loop_body_is_lowered_as_code_that_runs_more_than_once() -> None:
    depths: list[int] = []

    def build(pb: ProgramBuilder) -> ir.Value:
        def body(index: ir.Value, values: list[ir.Value]) -> list[ir.Value]:
            depths.append(pb.loop_depth)
            return values

        pb.counted_loop("depth", 4, body)
        depths.append(pb.loop_depth)
        return i64(0)

    run(build, b"")
    assert depths == [1, 0]  # fresh memory in the body is zeroed where it is used


# ---- search_loop ----

@pytest.mark.parametrize(("memory", "count", "otherwise", "expected"), [
    (b"abxd", 4, False, 1),  # stops at the x: its result
    (b"ab\0x", 4, False, 0),  # stops at the NUL: its result
    (b"abcd", 4, False, 0),  # runs out: otherwise
    (b"abcd", 4, True, 1),
    (b"abcx", 3, False, 0),  # the x is past the count
])
def test_search_loop_gives_the_result_of_the_first_stop(memory: bytes, count: int,
                                                        otherwise: bool, expected: int) -> None:
    def build(pb: ProgramBuilder) -> ir.Value:
        def test(index: ir.Value) -> tuple[ir.Value, ir.Value]:
            byte = byte_at(pb, pb.ctx, index)
            found = pb.b.icmp_unsigned("==", byte, ir.Constant(I8, ord("x")))
            ended = pb.b.icmp_unsigned("==", byte, ir.Constant(I8, 0))
            return pb.b.or_(found, ended), found

        return pb.search_loop("find", count, test, otherwise)

    assert run(build, memory) == expected


# ---- byte comparisons ----

@pytest.mark.parametrize(("left", "right", "limit", "expected"), [
    (b"bash", b"bash", 16, 1),
    (b"bash", b"bast", 16, 0),
    (b"bash", b"bash2", 16, 0),  # a NUL against a byte
    (b"bash\0xyz", b"bash\0abc", 16, 1),  # nothing after the NUL counts
    (b"abcdef", b"abcxyz", 3, 1),  # nor after the limit
    (b"abcdef", b"abcxyz", 4, 0),
    (b"", b"", 1, 1),
    (b"x" * 16, b"x" * 16, 16, 1),  # no NUL within the limit
])
def test_strings_equal(left: bytes, right: bytes, limit: int, expected: int) -> None:
    def build(pb: ProgramBuilder) -> ir.Value:
        return pb.strings_equal(pb.ctx, pb.offset(pb.ctx, 16), limit)

    memory = left.ljust(16, b"\0") + right.ljust(16, b"\0")
    assert run(build, memory) == expected


@pytest.mark.parametrize(("left", "right", "size", "expected"), [
    (b"hello???", b"hello!!!", 5, 1),  # bytes past the size are not compared
    (b"hello???", b"hello!!!", 6, 0),
    (b"abcdefgh12", b"abcdefgh12", 10, 1),
    (b"abcdefgh12", b"abcdefgh13", 10, 0),  # in the second word
    (b"xbcdefgh12", b"abcdefgh12", 10, 0),  # in the first
])
def test_words_equal_compares_memory_with_memory(left: bytes, right: bytes, size: int,
                                                 expected: int) -> None:
    def build(pb: ProgramBuilder) -> ir.Value:
        return pb.words_equal(pb.ctx, pb.offset(pb.ctx, 16), size)

    assert run(build, left.ljust(16, b"\0") + right.ljust(16, b"\0")) == expected


@pytest.mark.parametrize(("memory", "data", "expected"), [
    (b"bash\0???", b"bash\0", 1),
    (b"bass\0???", b"bash\0", 0),
    (b"bash!???", b"bash\0", 0),
    (b"systemd-udevd\0", b"systemd-udevd\0", 1),
    (b"systemd-udevX\0", b"systemd-udevd\0", 0),
])
def test_words_equal_compares_memory_with_constant_bytes(memory: bytes, data: bytes,
                                                         expected: int) -> None:
    def build(pb: ProgramBuilder) -> ir.Value:
        return pb.words_equal(pb.ctx, data, len(data))

    assert run(build, memory) == expected


def conditional_jumps(code: bytes) -> int:
    """How many instructions of BPF code are conditional jumps."""
    jumps, at = 0, 0
    while at < len(code):
        opcode = code[at]
        if opcode & 0x07 in (BPF_JMP, BPF_JMP32) and opcode & 0xF0 not in (BPF_JA, BPF_CALL,
                                                                            BPF_EXIT):
            jumps += 1
        at += 16 if opcode == LD_IMM64 else 8
    return jumps


def test_bytes_equal_compares_without_a_branch_per_byte() -> None:
    module = new_module("idiom")
    pb = ProgramBuilder(module, "f", "kprobe/f", scratch_map=0)
    pb.b.ret(pb.b.zext(pb.bytes_equal(pb.offset(pb.ctx, 3), b"/usr/lib"), I64))
    pb.finish()
    code = emit(module).sections["kprobe/f"].insns
    assert conditional_jumps(code) <= 1
    assert len(code) // 8 > len(b"/usr/lib")  # yet every byte is loaded and compared
