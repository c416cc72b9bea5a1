"""BPF helper function ids (from the kernel's `__BPF_FUNC_MAPPER` order), and
which helper reads memory where: allocate_resources (for -kk's warning sites)
and the lowering ask the same functions."""

from __future__ import annotations

from enum import IntEnum

from ptrace.ast import nodes as n
from ptrace.program import Attach
from ptrace.types import types as t


class Helper(IntEnum):
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    PROBE_READ = 4
    KTIME_GET_NS = 5
    GET_PRANDOM_U32 = 7
    GET_SMP_PROCESSOR_ID = 8
    GET_CURRENT_PID_TGID = 14
    GET_CURRENT_UID_GID = 15
    GET_CURRENT_COMM = 16
    GET_STACKID = 27
    GET_CURRENT_TASK = 35
    GET_NUMA_NODE_ID = 42
    GET_STACK = 67
    PROBE_READ_STR = 45
    GET_SOCKET_COOKIE = 46
    GET_CURRENT_CGROUP_ID = 80
    SEND_SIGNAL = 109
    SEND_SIGNAL_THREAD = 117
    SKB_OUTPUT = 111
    PROBE_READ_USER = 112
    PROBE_READ_KERNEL = 113
    PROBE_READ_USER_STR = 114
    PROBE_READ_KERNEL_STR = 115
    JIFFIES64 = 118
    GET_NS_CURRENT_PID_TGID = 120
    KTIME_GET_BOOT_NS = 125
    SEQ_PRINTF = 126
    RINGBUF_OUTPUT = 130
    RINGBUF_RESERVE = 131
    RINGBUF_SUBMIT = 132
    RINGBUF_DISCARD = 133
    FOR_EACH_MAP_ELEM = 164
    LOOP = 181
    GET_FUNC_IP = 173
    GET_ATTACH_COOKIE = 174
    TRACE_VPRINTK = 177
    PER_CPU_PTR = 153
    THIS_CPU_PTR = 154
    KTIME_GET_TAI_NS = 208
    MAP_LOOKUP_PERCPU_ELEM = 195


# Helper ids stay below this (the kernel has about 212); the BTF ids of vmlinux's
# kernel functions, which kfunc calls carry in the same field, lie above it.
MAX_HELPER_ID = 1024

BPF_F_USER_STACK = 1 << 8
BPF_F_CURRENT_CPU = 0xFFFFFFFF  # a perf event output's index: this CPU's buffer
# map_update_elem flags
BPF_ANY = 0
# errno values a helper returns negated
E2BIG = 7


def helper_name(helper: Helper) -> str:
    """The helper's name as the kernel's documentation and -k's warnings give it."""
    return f"bpf_{helper.name.lower()}"


def read_helper(space: str) -> Helper:
    """The helper reading memory behind a pointer of this address space."""
    return Helper.PROBE_READ_USER if space == "user" else Helper.PROBE_READ_KERNEL


def read_str_helper(arg: n.Expr, source_type: t.Type, attach: Attach) -> Helper:
    """How str() reads: as kptr()/uptr() or the pointer's type say (a pointer
    typed by the kernel's BTF, as a kernel struct's field is, keeps the space it
    was reached through); else user memory in syscall tracepoints and uprobes,
    which hand over user addresses; elsewhere the compat helper, which picks
    the space."""
    if isinstance(arg, n.Call) and arg.name in ("kptr", "uptr"):
        space = "user" if arg.name == "uptr" else "kernel"
    elif isinstance(source_type, t.Pointer) and (source_type.space == "user"
                                                  or source_type.btf_id):
        space = source_type.space
    else:
        return Helper.PROBE_READ_USER_STR if attach.user_addresses else Helper.PROBE_READ_STR
    return Helper.PROBE_READ_USER_STR if space == "user" else Helper.PROBE_READ_KERNEL_STR
