"""Attaching loaded programs: one attacher per kind of probe, one interface.

Each attacher returns the fds that keep the program attached; closing them
detaches it, which is all teardown needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ptrace.runtime.cpus import online_cpus
from ptrace.runtime.errors import RuntimeFailure
from ptrace.runtime.libbcc import Libraries, errno

from ptrace.program import Attach

PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_CPU_CLOCK = 0

Attacher = Callable[[Libraries, int, Attach], list[int]]


def attach(libs: Libraries, prog_fd: int, target: Attach) -> list[int]:
    return ATTACHERS[target.kind](libs, prog_fd, target)


def _tracepoint(libs: Libraries, prog_fd: int, target: Attach) -> list[int]:
    fd = libs.bcc.bpf_attach_tracepoint(prog_fd, target.category.encode(),
                                        target.event.encode())
    if fd < 0:
        raise RuntimeFailure(f"cannot attach {target.probe}: {os.strerror(errno() or -fd)}")
    return [int(fd)]


def _raw_syscalls(libs: Libraries, prog_fd: int, target: Attach) -> list[int]:
    fd = libs.bcc.bpf_attach_raw_tracepoint(prog_fd, target.event.encode())
    if fd < 0:
        raise RuntimeFailure(f"cannot attach {target.probe} (raw tracepoint {target.event}): "
                             f"{os.strerror(errno() or -fd)}")
    return [int(fd)]


def _interval(libs: Libraries, prog_fd: int, target: Attach) -> list[int]:
    # One CPU: an interval fires once per period, not once per CPU.
    return [_perf_event(libs, prog_fd, target, cpu=0)]


def _profile(libs: Libraries, prog_fd: int, target: Attach) -> list[int]:
    fds: list[int] = []
    try:
        for cpu in online_cpus():
            fds.append(_perf_event(libs, prog_fd, target, cpu))
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return fds


def _perf_event(libs: Libraries, prog_fd: int, target: Attach, cpu: int) -> int:
    fd = libs.bcc.bpf_attach_perf_event(prog_fd, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK,
                                        target.period_ns, target.frequency, -1, cpu, -1)
    if fd < 0:
        raise RuntimeFailure(f"cannot attach {target.probe} on CPU {cpu}: "
                             f"{os.strerror(errno() or -fd)}")
    return int(fd)


ATTACHERS: dict[str, Attacher] = {
    "tracepoint": _tracepoint,
    "syscalls": _raw_syscalls,
    "interval": _interval,
    "profile": _profile,
}
