"""The machine's CPUs, from sysfs lists such as "0-3,6"."""

from __future__ import annotations

import functools


def _cpu_list(path: str) -> list[int]:
    with open(path) as f:
        text = f.read().strip()
    cpus: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


@functools.cache
def possible_cpus() -> int:
    """Number of possible CPUs: per-CPU map values have one slot for each."""
    return len(_cpu_list("/sys/devices/system/cpu/possible"))


def online_cpus() -> list[int]:
    return _cpu_list("/sys/devices/system/cpu/online")
