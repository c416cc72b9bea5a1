"""Maps and values as bpftrace prints them in text mode."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

from ptrace.runtime.maps import Columns, Entry, Histogram, Stats, divide, ordered
from ptrace.runtime.tseries import TimeSeries, chart_rows
from ptrace.runtime.values import format_key, format_value

from ptrace.types import types as t

BAR_WIDTH = 52
_SUFFIXES = ("", "K", "M", "G", "T", "P", "E")


def format_map(name: str, ktype: t.Type | None, vtype: t.Type, entries: Sequence[Entry],
               top: int = 0, div: int = 0) -> str:
    """The text of one map: one line per entry, histograms as bar charts."""
    rows = ordered(vtype, entries, top)
    if _integers(ktype, vtype) and not div:
        return _integer_lines(name, rows)
    lines: list[str] = []
    last_epoch = max((e.value.last_epoch for e in entries if isinstance(e.value, TimeSeries)),
                     default=0)
    for entry in rows:
        label = name if ktype is None else f"{name}[{format_key(entry.key, ktype)}]"
        value = entry.value
        if isinstance(value, Histogram | TimeSeries):
            lines.append(f"{label}:")
            if isinstance(value, TimeSeries):
                assert isinstance(vtype, t.TSeries)
                lines.extend(chart_rows(value, vtype, last_epoch))
            else:
                lines.extend(histogram_rows(value, vtype))
            lines.append("")
            continue
        lines.append(f"{label}: {_format_result(value, vtype, div)}")
    return "".join(line + "\n" for line in lines)


def _integers(ktype: t.Type | None, vtype: t.Type) -> bool:
    """Whether both the keys and the results print as plain numbers (str of the int):
    the common map, formatted without a per-entry dispatch."""
    return (isinstance(ktype, t.Int) and not isinstance(ktype, t.Enum)
            and (isinstance(vtype, t.Count | t.Sum | t.Min | t.Max)
                 or (isinstance(vtype, t.Int) and not isinstance(vtype, t.Enum))))


def _integer_lines(name: str, rows: Sequence[Entry]) -> str:
    """The lines of a map whose keys and results are ints: one % over all of them."""
    line = name.replace("%", "%%") + "[%d]: %d\n"
    pairs = zip(rows.keys, rows.values, strict=True) if isinstance(rows, Columns) else rows
    text: str = (line * len(rows)) % tuple(chain.from_iterable(pairs))
    return text


def _format_result(value: Any, vtype: t.Type, div: int) -> str:
    if isinstance(value, Stats):
        if isinstance(vtype, t.Stats):
            return (f"{{ .count = {value.count}, .average = {divide(value.average, div)}, "
                    f".total = {divide(value.total, div)} }}")
        return str(divide(value.average, div))
    if isinstance(vtype, t.Aggregation) or (vtype.is_integer and not isinstance(
            vtype, t.Bool | t.Pointer | t.Enum)):
        return str(divide(value, div))
    return format_value(value, vtype)


# ---- histograms ----

def histogram_rows(hist: Histogram, vtype: t.Type) -> list[str]:
    """Rows from the first to the last non-empty bucket."""
    used = [b for b, c in hist.buckets.items() if c]
    if not used:
        return []
    peak = max(hist.buckets.values())
    assert isinstance(vtype, t.Hist | t.Lhist)
    rows = []
    for bucket in range(min(used), max(used) + 1):
        count = hist.buckets.get(bucket, 0)
        bar = "@" * int(count * BAR_WIDTH / peak) if peak else ""
        rows.append(f"{bucket_label(vtype, bucket):<16}{count:>8} |{bar:<{BAR_WIDTH}}|")
    return rows


def bucket_label(vtype: t.Hist | t.Lhist, bucket: int) -> str:
    """"(..., 0)", "[4]", "[8, 16)", "[100, ...)": bounds as bpftrace labels them.

    hist always uses 1024-based suffixes (1K, 2M); lhist only when its step
    is a multiple of 1024.
    """
    low, high = vtype.bounds(bucket)
    number = _suffixed if isinstance(vtype, t.Hist) or vtype.step % 1024 == 0 else str
    if low is None:
        assert high is not None
        return f"(..., {number(high)})"
    if high is None:
        return f"[{number(low)}, ...)"
    if high == low + 1 and isinstance(vtype, t.Hist):
        return f"[{number(low)}]"
    return f"[{number(low)}, {number(high)})"


def _suffixed(value: int) -> str:
    """1024-based suffixes for exact multiples: 1024 → 1K, 3145728 → 3M."""
    index = 0
    while value and value % 1024 == 0 and index < len(_SUFFIXES) - 1:
        value //= 1024
        index += 1
    return f"{value}{_SUFFIXES[index]}"
