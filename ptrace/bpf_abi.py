"""Numbers of the kernel's BPF and perf ABI, each defined once.

From the kernel's `include/uapi/linux/bpf.h` and `perf_event.h`: program,
map and attach types, perf event types and the counters ptrace opens, and the
`src_reg` markers of a 64-bit immediate load. Plain numbers, no imports:
the compiler, the runtime and the CLI's checks all read them.
"""

from __future__ import annotations

from enum import IntEnum


class ProgType(IntEnum):
    """enum bpf_prog_type."""

    KPROBE = 2
    TRACEPOINT = 5
    PERF_EVENT = 7
    RAW_TRACEPOINT = 17
    TRACING = 26


class MapType(IntEnum):
    """enum bpf_map_type."""

    HASH = 1
    ARRAY = 2
    PERCPU_HASH = 5
    PERCPU_ARRAY = 6
    LRU_HASH = 9
    STACK_TRACE = 7
    LRU_PERCPU_HASH = 10
    PERF_EVENT_ARRAY = 4
    RINGBUF = 27


class AttachType(IntEnum):
    """enum bpf_attach_type: a program's expected_attach_type."""

    TRACE_RAW_TP = 23  # a BTF-typed raw tracepoint (tp_btf)
    TRACE_FENTRY = 24
    TRACE_FEXIT = 25
    TRACE_ITER = 28
    TRACE_UPROBE_MULTI = 48  # a KPROBE program attached through a uprobe_multi link


class PerfType(IntEnum):
    """perf_event_attr.type."""

    HARDWARE = 0
    SOFTWARE = 1
    BREAKPOINT = 5


PERF_COUNT_HW_CPU_CYCLES = 0  # perf_event_attr.config of a HARDWARE event
PERF_COUNT_SW_CPU_CLOCK = 0  # … of a SOFTWARE event
LD_IMM64 = 0x18  # the opcode of a 64-bit immediate load (two instruction slots)
# src_reg of an ld_imm64: its immediate is a map's fd, or a function's offset.
BPF_PSEUDO_MAP_FD = 1
BPF_PSEUDO_KFUNC_CALL = 2  # a call's src_reg: imm is a kernel function's BTF id
BPF_PSEUDO_BTF_ID = 3  # an ld_imm64's src_reg: imm is a kernel variable's BTF id
BPF_PSEUDO_FUNC = 4
