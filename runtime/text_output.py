"""Maps and values as bpftrace prints them in text mode.

Sort orders within a map: count/sum/min/max and integer values ascending by
value, avg/stats by average, histograms by total count, other values by key
(ties always by key, so output is deterministic).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ptrace.runtime.maps import Entry, Histogram, Stats
from ptrace.runtime.values import format_key, format_value, sort_key

from ptrace.types import types as t

BAR_WIDTH = 52
_SUFFIXES = ("", "K", "M", "G", "T", "P", "E")


def format_map(name: str, ktype: t.Type | None, vtype: t.Type, entries: list[Entry],
               top: int = 0, div: int = 0) -> str:
    """The text of one map: one line per entry, histograms as bar charts."""
    entries = sorted(entries, key=_order(vtype))
    if top > 0:
        entries = entries[-top:]
    lines: list[str] = []
    for entry in entries:
        label = name if ktype is None else f"{name}[{format_key(entry.key, ktype)}]"
        value = entry.value
        if isinstance(value, Histogram):
            lines.append(f"{label}:")
            lines.extend(histogram_rows(value, vtype))
            lines.append("")
            continue
        lines.append(f"{label}: {_format_result(value, vtype, div)}")
    return "".join(line + "\n" for line in lines)


def _format_result(value: Any, vtype: t.Type, div: int) -> str:
    if isinstance(value, Stats):
        if isinstance(vtype, t.Stats):
            return (f"{{ .count = {value.count}, .average = {_div(value.average, div)}, "
                    f".total = {_div(value.total, div)} }}")
        return str(_div(value.average, div))
    if isinstance(vtype, t.Aggregation) or (vtype.is_integer and not isinstance(vtype, t.Bool)
                                            and not isinstance(vtype, t.Pointer)):
        return str(_div(value, div))
    return format_value(value, vtype)


def _div(value: int, div: int) -> int:
    if div <= 0:
        return value
    q = abs(value) // div
    return q if value >= 0 else -q


def _order(vtype: t.Type) -> Callable[[Entry], Any]:
    if isinstance(vtype, t.Avg | t.Stats):
        return lambda e: (e.value.average, sort_key(e.key))
    if isinstance(vtype, t.Hist | t.Lhist):
        return lambda e: (e.value.total, sort_key(e.key))
    if isinstance(vtype, t.Aggregation | t.Int):
        return lambda e: (e.value, sort_key(e.key))
    return lambda e: sort_key(e.key)


# ---- histograms ----

def histogram_rows(hist: Histogram, vtype: t.Type) -> list[str]:
    """Rows from the first to the last non-empty bucket."""
    used = [b for b, c in hist.buckets.items() if c]
    if not used:
        return []
    peak = max(hist.buckets.values())
    label = _hist_labeller(vtype) if isinstance(vtype, t.Hist) else _lhist_labeller(vtype)
    rows = []
    for bucket in range(min(used), max(used) + 1):
        count = hist.buckets.get(bucket, 0)
        bar = "@" * int(count * BAR_WIDTH / peak) if peak else ""
        rows.append(f"{label(bucket):<16}{count:>8} |{bar:<{BAR_WIDTH}}|")
    return rows


def _hist_labeller(vtype: t.Hist) -> Callable[[int], str]:
    """hist labels: "(..., 0)" for negatives, "[v]" for one value, else "[low, high)"."""

    def label(bucket: int) -> str:
        if bucket == 0:
            return "(..., 0)"
        low, high = vtype.bounds(bucket)
        if high == low + 1:
            return f"[{_suffixed(low)}]"
        return f"[{_suffixed(low)}, {_suffixed(high)})"

    return label


def _lhist_labeller(vtype: t.Type) -> Callable[[int], str]:
    assert isinstance(vtype, t.Lhist)
    low, high, step = vtype.min, vtype.max, vtype.step
    buckets = -(-(high - low) // step)
    number = _suffixed if step % 1024 == 0 else str

    def label(bucket: int) -> str:
        if bucket == 0:
            return f"(..., {number(low)})"
        if bucket > buckets:
            return f"[{number(high)}, ...)"
        start = low + (bucket - 1) * step
        return f"[{number(start)}, {number(min(start + step, high))})"

    return label


def _suffixed(value: int) -> str:
    """1024-based suffixes for exact multiples: 1024 → 1K, 3145728 → 3M."""
    index = 0
    while value and value % 1024 == 0 and index < len(_SUFFIXES) - 1:
        value //= 1024
        index += 1
    return f"{value}{_SUFFIXES[index]}"
