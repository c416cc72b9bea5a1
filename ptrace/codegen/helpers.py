"""BPF helper function ids (from the kernel's `__BPF_FUNC_MAPPER` order)."""

from enum import IntEnum


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
    GET_CURRENT_TASK = 35
    PROBE_READ_STR = 45
    GET_CURRENT_CGROUP_ID = 80
    SEND_SIGNAL = 109
    PROBE_READ_USER = 112
    PROBE_READ_KERNEL = 113
    PROBE_READ_USER_STR = 114
    PROBE_READ_KERNEL_STR = 115
    JIFFIES64 = 118
    RINGBUF_OUTPUT = 130
    RINGBUF_RESERVE = 131
    RINGBUF_SUBMIT = 132
    RINGBUF_DISCARD = 133


# map_update_elem flags
BPF_ANY = 0
BPF_NOEXIST = 1
# errno values a helper returns negated
E2BIG = 7
