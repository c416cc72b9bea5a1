"""Reading maps from the kernel, and reducing per-CPU aggregations to results.

A map's entries come back as (key, value) with Python values; per-CPU
aggregations are combined across CPUs here (sum of counts, min of mins, …).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ptrace.runtime.cpus import possible_cpus
from ptrace.runtime.libbcc import Libraries
from ptrace.runtime.values import Value, decode, sort_key

from ptrace.bpf_abi import MapType
from ptrace.program import MapSpec
from ptrace.types import types as t

PERCPU_TYPES = (MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH)


def raw_entries(libs: Libraries, fd: int, spec: MapSpec) -> Iterator[tuple[bytes, list[bytes]]]:
    """Every (key, values) of a map; values has one item per CPU for per-CPU maps."""
    percpu = spec.map_type in PERCPU_TYPES
    stride = (spec.value_size + 7) & ~7
    ncpus = possible_cpus() if percpu else 1
    key = ctypes.create_string_buffer(max(spec.key_size, 1))
    next_key = ctypes.create_string_buffer(max(spec.key_size, 1))
    value = ctypes.create_string_buffer(stride * ncpus if percpu else spec.value_size)
    first = True
    while True:
        if libs.bcc.bpf_get_next_key(fd, None if first else key, next_key) != 0:
            return
        first = False
        ctypes.memmove(key, next_key, spec.key_size)
        if libs.bcc.bpf_lookup_elem(fd, key, value) != 0:
            continue  # deleted since get_next_key
        raw = value.raw
        if percpu:
            values = [raw[i * stride:i * stride + spec.value_size] for i in range(ncpus)]
        else:
            values = [raw]
        yield key.raw[:spec.key_size], values


@dataclass(frozen=True, slots=True)
class Entry:
    """One printed row of a map: the decoded key (None for scalar maps) and result."""

    key: Value
    value: Any  # int for count/sum/min/max/avg; Stats; Histogram; or a plain value


@dataclass(frozen=True, slots=True)
class Stats:
    """An avg() or stats() value: how many values were added and their total (also
    the API's `ptrace.Stats`)."""

    count: int
    total: int

    @property
    def average(self) -> int:
        """The total divided by the count, toward zero (as bpftrace prints it)."""
        return _div_toward_zero(self.total, self.count)

    def to_dict(self) -> dict[str, int]:
        return {"count": self.count, "average": self.average, "total": self.total}


@dataclass(frozen=True, slots=True)
class Histogram:
    buckets: dict[int, int]  # bucket index → count

    @property
    def total(self) -> int:
        return sum(self.buckets.values())


def ordered(vtype: t.Type, entries: list[Entry], top: int = 0) -> list[Entry]:
    """A map's entries in printing order, the `top` last (largest) ones if top > 0.

    count/sum/min/max and integers by value, avg/stats by average, histograms
    by total count, other values by key; ties by key, so output is stable.
    """
    order: Callable[[Entry], Any]
    if isinstance(vtype, t.Avg | t.Stats):
        order = lambda e: (e.value.average, sort_key(e.key))  # noqa: E731
    elif isinstance(vtype, t.Hist | t.Lhist):
        order = lambda e: (e.value.total, sort_key(e.key))  # noqa: E731
    elif isinstance(vtype, t.Aggregation | t.Int):
        order = lambda e: (e.value, sort_key(e.key))  # noqa: E731
    else:
        order = lambda e: sort_key(e.key)  # noqa: E731
    entries = sorted(entries, key=order)
    return entries[-top:] if top > 0 else entries


def divide(value: int, div: int) -> int:
    """print()'s div: integer division toward zero (div 0: unchanged)."""
    if div <= 0:
        return value
    q = abs(value) // div
    return q if value >= 0 else -q


def read_entries(libs: Libraries, fd: int, spec: MapSpec) -> list[Entry]:
    """The map's entries with per-CPU values reduced, in no particular order."""
    vtype = spec.value_type
    assert vtype is not None
    ktype = spec.key_type
    if isinstance(vtype, t.Hist | t.Lhist):
        return _histograms(libs, fd, spec)
    out = []
    for key_raw, values in raw_entries(libs, fd, spec):
        key = decode(key_raw, 0, ktype) if ktype is not None else None
        out.append(Entry(key, reduce_value(vtype, values)))
    return out


def reduce_value(vtype: t.Type, values: list[bytes]) -> Any:
    if isinstance(vtype, t.Count):
        return sum(int.from_bytes(v[:8], "little") for v in values)
    if isinstance(vtype, t.Sum):
        return sum(int.from_bytes(v[:8], "little", signed=vtype.signed) for v in values)
    if isinstance(vtype, t.Min | t.Max):
        present = [int.from_bytes(v[:8], "little", signed=vtype.signed)
                   for v in values if int.from_bytes(v[8:16], "little")]
        if not present:
            return 0
        return min(present) if isinstance(vtype, t.Min) else max(present)
    if isinstance(vtype, t.Avg | t.Stats):
        count = sum(int.from_bytes(v[:8], "little") for v in values)
        total = sum(int.from_bytes(v[8:16], "little", signed=vtype.signed) for v in values)
        return Stats(count, total)
    return decode(values[0], 0, vtype)


def _histograms(libs: Libraries, fd: int, spec: MapSpec) -> list[Entry]:
    ktype = spec.key_type
    base = ktype.size if ktype is not None else 8
    groups: dict[bytes, dict[int, int]] = {}
    for key_raw, values in raw_entries(libs, fd, spec):
        bucket = int.from_bytes(key_raw[base:base + 8], "little")
        count = sum(int.from_bytes(v[:8], "little") for v in values)
        buckets = groups.setdefault(key_raw[:base], {})
        buckets[bucket] = buckets.get(bucket, 0) + count
    return [Entry(decode(k, 0, ktype) if ktype is not None else None, Histogram(b))
            for k, b in groups.items()]


def _div_toward_zero(a: int, b: int) -> int:
    if b == 0:
        return 0
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q
