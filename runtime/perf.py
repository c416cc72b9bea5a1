"""perf_event_open, for the probes that are perf events: interval, profile,
software, hardware and watchpoint. Opened here rather than through bcc so
that errors come back exact (bcc prints its own message and loses errno).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct

SYS_PERF_EVENT_OPEN = 298  # x86_64
PERF_FLAG_FD_CLOEXEC = 8
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_SET_BPF = 0x40042408
ATTR_SIZE = 72  # PERF_ATTR_SIZE_VER1: up to bp_addr and bp_len
FLAG_FREQ = 1 << 10

_libc = ctypes.CDLL(None, use_errno=True)


def open_event(perf_type: int, config: int, cpu: int, *, period: int = 0, frequency: int = 0,
               pid: int = -1, bp_type: int = 0, bp_addr: int = 0, bp_len: int = 0) -> int:
    """perf_event_open(2): a new event's fd. Raises OSError with the kernel's errno."""
    flags = FLAG_FREQ if frequency else 0
    attr = struct.pack("<IIQQQQQIIQQ", perf_type, ATTR_SIZE, config, frequency or period,
                       0, 0, flags, 1, bp_type, bp_addr, bp_len)
    buf = ctypes.create_string_buffer(attr, ATTR_SIZE)
    fd: int = _libc.syscall(SYS_PERF_EVENT_OPEN, buf, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)
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
