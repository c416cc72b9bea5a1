"""LLVM module → optimised IR → BPF ELF object → instructions per program.

All programs of a script go into one module and one `emit_object` call (one
section each), which is much faster than a module per program.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import llvmlite.binding as llvm
from llvmlite import ir

from ptrace.bpf_abi import BPF_PSEUDO_KFUNC_CALL
from ptrace.codegen.code_size import longest_function
from ptrace.elf import ProgramCode, object_sections
from ptrace.forked import PYTHON_FAILED, in_child

# Programs are BPF v3. One whose jumps reach past the 16-bit offsets of v3
# (about 1,400 printf calls in one `if`) is made again as v4, which has a jump
# with a 32-bit offset (`gotol`, Linux 6.6 and later). So is one with a jump
# longer than FAR_JUMP (about 600 printf calls): the verifier makes programs
# longer where it inlines helpers (a map lookup becomes several instructions)
# and refuses one where a 16-bit jump no longer reaches ("cannot be patched
# due to 16-bit range"). LLVM's v4 code uses gotol past the same distance.
CPU, LONG_JUMPS_CPU = "v3", "v4"
LONG_JUMP_FAILURE = "out of insn range"
FAR_JUMP = 0x7FFF >> 1


@cache
def _target_machine(cpu: str = CPU) -> Any:
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    target = llvm.Target.from_triple("bpfel")
    return target.create_target_machine(cpu=cpu, opt=2, reloc="static", codemodel="small")


def new_module(name: str) -> ir.Module:
    module = ir.Module(name)
    module.triple = "bpfel"
    module.data_layout = str(_target_machine().target_data)
    return module


@dataclass
class Emitted:
    """LLVM's output: each program's instructions, and the IR and assembly as text."""

    sections: dict[str, ProgramCode]  # section name → instructions
    ir_text: str
    ir_optimized: str
    asm: str


class BackendFailure(Exception):
    """LLVM could not make BPF of the module: it said `message` (about
    `function`, when it named one) and ended the process that asked it."""

    def __init__(self, message: str, function: str | None):
        super().__init__(message)
        self.message, self.function = message, function


def emit(module: ir.Module, want_asm: bool = False) -> Emitted:
    """Verify, optimise at O2 and compile `module` to BPF.

    The optimisation and the code generation run in a child process: where
    LLVM's BPF backend cannot do something (a memset it cannot expand, a
    stack past 512 bytes, a jump too far) it prints a message and exits or
    aborts the process. A failed child becomes a BackendFailure.
    """
    ir_text = str(module)
    parsed = llvm.parse_assembly(ir_text)
    parsed.verify()

    def optimise_and_emit(cpu: str) -> Callable[[], list[bytes]]:
        def work() -> list[bytes]:
            tm = _target_machine(cpu)
            tuning = llvm.create_pipeline_tuning_options(speed_level=2)
            builder = llvm.create_pass_builder(tm, tuning)
            builder.getModulePassManager().run(parsed, builder)
            asm = tm.emit_assembly(parsed) if want_asm else ""
            return [tm.emit_object(parsed), str(parsed).encode(), asm.encode()]
        return work

    # A program that long has long jumps: made as v4 at once, not after a try as v3.
    cpu = LONG_JUMPS_CPU if longest_function(module) > FAR_JUMP else CPU
    # The child changed its copy of `parsed`; ours is as parsed, for a second try.
    try:
        obj, optimized, asm = _in_child(optimise_and_emit(cpu))
    except BackendFailure as failure:
        if LONG_JUMP_FAILURE not in failure.message:
            raise
        obj, optimized, asm = _in_child(optimise_and_emit(LONG_JUMPS_CPU))
    sections = object_sections(obj)
    if cpu == CPU and any(_longest_jump(code.insns) > FAR_JUMP for code in sections.values()):
        obj, optimized, asm = _in_child(optimise_and_emit(LONG_JUMPS_CPU))
        sections = object_sections(obj)
    return Emitted(sections, ir_text, optimized.decode(), asm.decode())


_JUMP_CLASSES = (0x05, 0x06)  # BPF_JMP, BPF_JMP32
_NOT_JUMPS = (0x80, 0x90)  # BPF_CALL, BPF_EXIT
_CALL = 0x85  # BPF_JMP | BPF_CALL


def _longest_jump(insns: bytes) -> int:
    """The longest distance, in instructions, of a jump with a 16-bit offset."""
    longest = 0
    for at in range(0, len(insns), 8):
        code = insns[at]
        if code & 0x07 in _JUMP_CLASSES and code & 0xF0 not in _NOT_JUMPS:
            longest = max(longest, abs(int.from_bytes(insns[at + 2:at + 4], "little",
                                                      signed=True)))
    return longest


def mark_kfunc_calls(insns: bytes, kfuncs: set[int]) -> bytes:
    """The helper calls numbered by a kfunc's BTF id (ProgramBuilder.kfunc) made
    kfunc calls: src_reg BPF_PSEUDO_KFUNC_CALL, the id in vmlinux's BTF (off 0)."""
    if not kfuncs:
        return insns
    out = bytearray(insns)
    for at in range(0, len(out), 8):
        if out[at] == _CALL and out[at + 1] >> 4 == 0 \
                and int.from_bytes(out[at + 4:at + 8], "little") in kfuncs:
            out[at + 1] = (out[at + 1] & 0x0F) | (BPF_PSEUDO_KFUNC_CALL << 4)
    return bytes(out)


def _in_child(work: Callable[[], list[bytes]]) -> list[bytes]:
    """`work()` run in a forked child; its byte strings come back through a pipe."""
    with tempfile.TemporaryFile() as errors:
        status, data = in_child(
            lambda: b"".join(len(part).to_bytes(8, "little") + part for part in work()),
            errors.fileno())
        if status == 0:
            parts, at = [], 0
            while at < len(data):
                size = int.from_bytes(data[at:at + 8], "little")
                parts.append(data[at + 8:at + 8 + size])
                at += 8 + size
            return parts
        errors.seek(0)
        said = errors.read(64 * 1024).decode("utf-8", "replace")
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == PYTHON_FAILED:
        raise RuntimeError(f"while emitting BPF: {said}")
    named = re.search(r"in function (\w+)", said)
    lines = [line.strip() for line in said.split("\n") if line.strip()]
    message = lines[0] if lines else f"LLVM ended with status {status}"
    raise BackendFailure(message, named.group(1) if named else None)
