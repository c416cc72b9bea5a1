"""Tests for patching map indexes into fds (ptrace.runtime.loader.patch_maps) and
for the maps' memory estimate.

No kernel is involved: both are pure functions of their arguments.
"""

from __future__ import annotations

import struct

import pytest
from ptrace.runtime import loader
from ptrace.runtime.errors import RuntimeFailure
from ptrace.runtime.loader import map_memory, patch_maps

from ptrace.bpf_abi import MapType
from ptrace.program import MapSpec
from tests.unit.fixtures import compile_text

LD_IMM64 = 0x18
MOV64_IMM = 0xB7
CALL = 0x85
EXIT = 0x95
PSEUDO_MAP_FD = 1
PSEUDO_MAP_VALUE = 2


def insn(opcode: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", opcode, (src << 4) | dst, off, imm)


def ld_imm64(dst: int, src: int, low: int, high: int = 0) -> bytes:
    """The two 8-byte halves of an ld_imm64: the second carries only the upper imm."""
    return insn(LD_IMM64, dst, src, 0, low) + insn(0, 0, 0, 0, high)


def imm_at(insns: bytes, slot: int) -> int:
    (imm,) = struct.unpack_from("<i", insns, slot * 8 + 4)
    return int(imm)


def test_map_index_becomes_the_fd() -> None:
    program = ld_imm64(1, PSEUDO_MAP_FD, 0) + insn(MOV64_IMM, 0, 0, 0, 0) + insn(EXIT)
    patched = patch_maps(program, [7])
    assert imm_at(patched, 0) == 7
    assert patched[:4] == program[:4]
    assert patched[8:] == program[8:]


def test_each_index_gets_its_own_fd() -> None:
    program = (ld_imm64(1, PSEUDO_MAP_FD, 2) + ld_imm64(2, PSEUDO_MAP_FD, 0)
               + ld_imm64(9, PSEUDO_MAP_FD, 1) + ld_imm64(3, PSEUDO_MAP_FD, 2) + insn(EXIT))
    patched = patch_maps(program, [30, 31, 32])
    assert [imm_at(patched, slot) for slot in (0, 2, 4, 6)] == [32, 30, 31, 32]
    assert len(patched) == len(program)
    assert [patched[slot * 8 + 1] for slot in (0, 2, 4, 6)] == [0x11, 0x12, 0x19, 0x13]


def test_other_instructions_are_untouched() -> None:
    program = (insn(MOV64_IMM, 1, 0, 0, 0)
               + ld_imm64(1, 0, 0, 1)  # a 64-bit constant, not a map
               + ld_imm64(2, PSEUDO_MAP_VALUE, 0)  # a map value address: not handled here
               + insn(CALL, 0, 1, 0, 0)  # src_reg 1 on a call is a BPF-to-BPF call
               + insn(0x15, 1, 0, 2, 0)  # if r1 == 0 goto +2
               + insn(EXIT))
    assert patch_maps(program, [99]) == program


def test_ld_imm64_is_16_bytes_wide() -> None:
    # The second half of a wide instruction is never read as an instruction,
    # even when its bytes look like a map load.
    disguised = insn(LD_IMM64, 0, 0, 0, 0) + insn(LD_IMM64, 0, PSEUDO_MAP_FD, 0, 0)
    program = disguised + ld_imm64(3, PSEUDO_MAP_FD, 1) + insn(EXIT)
    patched = patch_maps(program, [50, 51])
    assert patched[:16] == disguised
    assert imm_at(patched, 2) == 51
    assert patched[24:] == program[24:]


def test_empty_program() -> None:
    assert patch_maps(b"", [1]) == b""


def test_compiled_program_references_are_all_patched() -> None:
    compiled = compile_text("tracepoint:syscalls:sys_enter_openat { @[comm] = count(); "
                            "@n = nsecs; }")
    (prog,) = compiled.programs
    fds = [100 + i for i in range(len(compiled.maps))]
    patched = patch_maps(prog.insns, fds)
    assert len(patched) == len(prog.insns)
    changed = 0
    slot = 0
    while slot * 8 < len(prog.insns):
        before = prog.insns[slot * 8:slot * 8 + 8]
        after = patched[slot * 8:slot * 8 + 8]
        if before[0] == LD_IMM64 and before[1] >> 4 == PSEUDO_MAP_FD:
            assert imm_at(patched, slot) == fds[imm_at(prog.insns, slot)]
            assert after[:4] == before[:4]
            assert patched[slot * 8 + 8:slot * 8 + 16] == prog.insns[slot * 8 + 8:slot * 8 + 16]
            changed += 1
        else:
            assert after == before
        slot += 2 if before[0] == LD_IMM64 else 1
    assert changed >= 2  # @ and @n at least


def map_spec(name: str, map_type: MapType, entries: int, key: int = 8, value: int = 8) -> MapSpec:
    return MapSpec(name, map_type, key, value, entries, location=f"test.bt:1:{len(name)}")


def test_map_memory_follows_the_kernels_preallocation() -> None:
    """A hash entry is a 40-byte element with its key and value (a pointer to
    the per-CPU values in a per-CPU map), one more element per CPU, and a
    16-byte bucket per entry rounded up to a power of two; an array is its
    values; a ring buffer grows with nothing created up front here."""
    assert map_memory(map_spec("@h", MapType.HASH, 1000, 12, 3), 2) == \
        1002 * (40 + 16 + 8) + 1024 * 16
    assert map_memory(map_spec("@p", MapType.PERCPU_HASH, 1000), 4) == \
        1004 * (40 + 8 + 8 + 4 * 8) + 1024 * 16
    assert map_memory(map_spec("@l", MapType.LRU_HASH, 4096), 2) == 4096 * 56 + 4096 * 16
    assert map_memory(map_spec(".c", MapType.PERCPU_ARRAY, 10, 4, 8), 2) == 160
    assert map_memory(map_spec(".g", MapType.ARRAY, 10, 4, 8), 2) == 80
    assert map_memory(map_spec(".events", MapType.RINGBUF, 1 << 20, 0, 0), 2) == 0


def test_maps_larger_than_the_available_memory_are_refused_before_any_is_made(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The one that takes the total past what is available is named, with its
    location and what to change; the kernel is not asked for any."""
    monkeypatch.setattr(loader, "available_memory", lambda: 100 << 20)
    monkeypatch.setattr("ptrace.runtime.cpus.possible_cpus", lambda: 2)
    small = map_spec("@a", MapType.HASH, 1000)
    big = map_spec("@b", MapType.HASH, 1_000_000)
    loader._check_map_memory([small, big])  # 1,000,000 entries: about 80 MB
    with pytest.raises(RuntimeFailure) as refused:
        loader._check_map_memory([small, big, map_spec("@c", MapType.HASH, 1_000_000)])
    assert str(refused.value) == (
        "test.bt:1:2: cannot create map @c (1000000 entries of 8-byte keys and 8-byte "
        "values): it would take about 138 MiB of kernel memory with the maps before it, "
        "more than the machine has available\n"
        "  hint: its size is more than memory allows; give it fewer entries (lower "
        "max_map_keys)")
    monkeypatch.setattr(loader, "available_memory", lambda: None)
    loader._check_map_memory([big, big, big])  # nothing to compare with: the kernel decides
