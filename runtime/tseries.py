"""tseries() maps: their slots read back as a series of intervals, printed as a
text chart or as JSON rows, the way bpftrace prints them.

A slot (one per key and epoch % intervals, three words on each CPU: value,
the aggregation's word, epoch; see `types.TSeries`) reduces to the value of
its latest epoch. The intervals shown for a key run from its first epoch
among the map's last `intervals` epochs (the map's latest epoch counts for
every key) to that latest epoch; an interval nothing was recorded in prints
as `-` in text and is left out of JSON.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from ptrace.types import types as t

GRAPH_WIDTH = 53  # the chart's columns, its two borders included
LABEL_WIDTH = 21  # the lowest value's label, over and under the chart


@dataclass(frozen=True, slots=True)
class TimeSeries:
    """A tseries() value: the value of each time slot."""

    slots: dict[int, int]  # epoch → value (epoch 0: a slot nothing was written to)

    @property
    def last_epoch(self) -> int:
        return max(self.slots, default=0)


def reduce_slot(vtype: t.TSeries, values: list[bytes]) -> tuple[int, int]:
    """(epoch, value) of one slot: the CPUs' values of its latest epoch combined
    by the aggregation, the most recent one without; (0, 0) if never written."""
    cpus = [(int.from_bytes(v[16:24], "little"),
             int.from_bytes(v[:8], "little", signed=vtype.signed),
             int.from_bytes(v[8:16], "little")) for v in values]
    epoch = max((c[0] for c in cpus), default=0)
    if epoch == 0:
        return 0, 0
    latest = [(value, word) for e, value, word in cpus if e == epoch]
    values_only = [value for value, _ in latest]
    if vtype.agg == "sum":
        return epoch, sum(values_only)
    if vtype.agg == "avg":
        count = sum(word for _, word in latest)
        total = sum(values_only)
        quotient = abs(total) // count if count else 0
        return epoch, quotient if total >= 0 else -quotient
    if vtype.agg == "min":
        return epoch, min(values_only)
    if vtype.agg == "max":
        return epoch, max(values_only)
    return epoch, max(latest, key=lambda pair: pair[1])[0]


def shown(series: TimeSeries, vtype: t.TSeries, last: int) -> list[tuple[int, int | None]]:
    """(epoch, value or None) of the intervals shown, from the key's first recent
    epoch to the map's latest (`last`)."""
    recent = [e for e in series.slots if e > last - vtype.intervals]
    if not recent:
        return []
    return [(e, series.slots.get(e)) for e in range(min(recent), last + 1)]


# ---- text ----

def _f32(x: float) -> float:
    """x rounded to single precision, as bpftrace computes a point's column."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def _column(width: int, part: int, whole: int) -> int:
    return int(_f32(_f32(_f32(float(width)) * _f32(float(part))) / _f32(float(whole))))


def _unit(interval: int) -> tuple[str, int]:
    """The finest unit the times need: ("", 0) for whole seconds, else ("ms", 3), …"""
    for name, digits in (("", 0), ("ms", 3), ("us", 6)):
        if interval % 10 ** (9 - digits) == 0:
            return name, digits
    return "ns", 9


def _time(ns: int, digits: int, fmt: str) -> str:
    seconds, rest = divmod(ns, 10**9)
    text = time.strftime(fmt, time.localtime(seconds))
    return f"{text}.{rest // 10 ** (9 - digits):0{digits}d}" if digits else text


def time_label(ns: int, interval: int) -> str:
    """When an interval starts, in local time as the chart shows it: hh:mm:ss and
    the fraction of a second that intervals of `interval` ns need."""
    return _time(ns, _unit(interval)[1], "%H:%M:%S")


def chart_rows(series: TimeSeries, vtype: t.TSeries, last: int) -> list[str]:
    """The chart of one key: the value range, a row per interval, the range again."""
    rows = shown(series, vtype, last)
    while rows and rows[0][1] is None:
        rows.pop(0)
    values = [v for _, v in rows if v is not None]
    if not values:
        return ["<no data>"]
    low, high = min(values), max(values)
    if low == high:  # room on both sides, within the value's type
        floor, ceiling = (-(1 << 63), (1 << 63) - 1) if vtype.signed else (0, (1 << 64) - 1)
        low, high = max(low - 1, floor), min(high + 1, ceiling)
    step = (rows[-1][0] - rows[0][0]) * vtype.interval // max(len(rows) - 1, 1)
    unit, digits = _unit(step)
    time_width = 8 + (1 + digits if unit else 0)
    bounds = " " * (time_width + 1) + f"{low:<{LABEL_WIDTH}}{high:>{GRAPH_WIDTH - LABEL_WIDTH}}"
    out = [bounds,
           f"{'hh:mm:ss' + ('.' + unit if unit else ''):<{time_width + 1}}|"
           f"{'_' * (GRAPH_WIDTH - 2)}|"]
    zero = _column(GRAPH_WIDTH, -low, high - low) if low < 0 < high else 0
    for epoch, value in rows:
        line = [" "] * GRAPH_WIDTH
        line[0] = line[-1] = "|"
        if zero > 0:
            line[zero] = "."
        stamp = _time(epoch * vtype.interval, digits, "%H:%M:%S")
        if value is None:
            out.append(f"{stamp} {''.join(line)} -")
            continue
        column = _column(GRAPH_WIDTH - 1, value - low, high - low)
        line[max(0, min(GRAPH_WIDTH - 1, column))] = "*"
        out.append(f"{stamp} {''.join(line)} {value}")
    out.append(" " * (time_width + 1) + "v" + "_" * (GRAPH_WIDTH - 2) + "v")
    out.append(bounds)
    return out


# ---- JSON ----

def json_rows(series: TimeSeries, vtype: t.TSeries, last: int) -> list[dict[str, object]]:
    """The intervals holding a value: their start (local time, in ns) and value."""
    return [{"interval_start": _time(epoch * vtype.interval, 9, "%Y-%m-%d %H:%M:%S"),
             "value": value}
            for epoch, value in shown(series, vtype, last) if value is not None]
