"""The machine's CPUs."""

from __future__ import annotations

from ptrace.machine import LiveMachine, cpu_list


def possible_cpus() -> int:
    """Number of possible CPUs: per-CPU map values have one slot for each."""
    return LiveMachine().possible_cpus()


def online_cpus() -> list[int]:
    with open("/sys/devices/system/cpu/online") as f:
        return cpu_list(f.read())
