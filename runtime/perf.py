"""perf_event_open, for the probes that are perf events: interval, profile,
software, hardware and watchpoint. Opened here rather than through bcc so
that errors come back exact (bcc prints its own message and loses errno).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import struct

# The system call's number by architecture (None: not known here).
SYS_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}.get(os.uname().machine)
PERF_FLAG_FD_CLOEXEC = 8
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_SET_BPF = 0x40042408
ATTR_SIZE = 72  # PERF_ATTR_SIZE_VER1: up to bp_addr and bp_len
# perf_event_attr's flag bits.
FLAG_DISABLED = 1
FLAG_INHERIT = 1 << 1  # children and threads made after it is opened count too
FLAG_EXCLUDE_KERNEL = 1 << 5
FLAG_EXCLUDE_HV = 1 << 6
FLAG_FREQ = 1 << 10

# What perf_event_open fails with when the machine has no such PMU.
NO_PMU = frozenset({errno.ENOENT, errno.ENODEV, errno.EOPNOTSUPP})

_libc = ctypes.CDLL(None, use_errno=True)
# long syscall(SYS_perf_event_open, struct perf_event_attr *, pid_t pid, int cpu,
#     int group_fd, unsigned long flags)
_libc.syscall.restype = ctypes.c_long
_libc.syscall.argtypes = [ctypes.c_long, ctypes.c_char_p, ctypes.c_long, ctypes.c_long,
                          ctypes.c_long, ctypes.c_ulong]


def open_event(perf_type: int, config: int, cpu: int, *, period: int = 0, frequency: int = 0,
               pid: int = -1, bp_type: int = 0, bp_addr: int = 0, bp_len: int = 0,
               flags: int = 0) -> int:
    """perf_event_open(2): a new event's fd. Raises OSError with the kernel's errno."""
    if SYS_PERF_EVENT_OPEN is None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
    flags |= FLAG_FREQ if frequency else 0
    attr = struct.pack("<IIQQQQQIIQQ", perf_type, ATTR_SIZE, config, frequency or period,
                       0, 0, flags, 1, bp_type, bp_addr, bp_len)
    buf = ctypes.create_string_buffer(attr, ATTR_SIZE)
    fd = int(_libc.syscall(SYS_PERF_EVENT_OPEN, buf, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return fd


def run_program(fd: int, prog_fd: int) -> None:
    """Make the event run a BPF program, and enable it. Closes fd on failure."""
    try:
        fcntl.ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog_fd)
        fcntl.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)
    except OSError:
        os.close(fd)
        raise
