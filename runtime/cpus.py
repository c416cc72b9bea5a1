"""The machine's CPUs."""

from __future__ import annotations

import functools

from ptrace.machine import LiveMachine, cpu_list


@functools.cache
def possible_cpus() -> int:
    """Number of possible CPUs: per-CPU map values have one slot for each.

    Read once: it cannot change while ptrace runs. (A new LiveMachine for each
    call, as every map read and lost-event check makes one, would stay in
    LiveMachine's per-instance cache: memory that grew with a run's length.)"""
    return LiveMachine().possible_cpus()


def online_cpus() -> list[int]:
    with open("/sys/devices/system/cpu/online") as f:
        return cpu_list(f.read())
