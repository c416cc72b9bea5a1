"""IPython and Jupyter: `%load_ext ptrace`, then a `%%ptrace` cell runs its script.

    %%ptrace [-d SECONDS] [-c CMD | -p PID] [--unsafe] [ARG ...] [-- --NAME=VALUE ...]

The cell's events are printed as they come; the run ends with the script's
exit(), after SECONDS, when the traced command ends, or when the kernel is
interrupted (Jupyter's stop button, Ctrl-C in IPython): END runs and the maps
are shown, each map as a table, each `hist`/`lhist` as a bar chart and each
`tseries` as a line chart (matplotlib, the `notebook` extra; without it, text
charts as the CLI draws them). The run's `ptrace.Result` is kept in the variable `_ptrace`.
Script and run errors are shown as the CLI shows them, without a traceback.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import shlex
import sys
from typing import Any

from ptrace.api import Error, Histogram, Result, Stats, TimeSeries, Trace

RESULT_VARIABLE = "_ptrace"
STATS_HEAD = "<th>count</th><th>average</th><th>total</th>"
CHARTED = (Histogram, TimeSeries)  # values shown as a chart of their own


def load_ipython_extension(ipython: Any) -> None:
    """What `%load_ext ptrace` calls: registers the `%%ptrace` cell magic."""

    def magic(line: str, cell: str) -> None:
        result = run_cell(line, cell)
        if result is not None:
            ipython.user_ns[RESULT_VARIABLE] = result

    ipython.register_magic_function(magic, "cell", "ptrace")


class _Arguments(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise Error(f"%%ptrace: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Arguments(prog="%%ptrace", add_help=False)
    parser.add_argument("-d", "--duration", type=float, default=None)
    parser.add_argument("-c", "--command", default=None)
    parser.add_argument("-p", "--pid", type=int, default=None)
    parser.add_argument("--unsafe", action="store_true")
    parser.add_argument("args", nargs="*")
    return parser


def run_cell(line: str, cell: str) -> Result | None:
    """Run a cell's script, printing its events, then show its maps; its Result
    (None when the script or the run failed: the error is shown)."""
    from IPython.display import display

    try:
        options = _parser().parse_args(shlex.split(line))
        running = Trace(cell, options.args, unsafe=options.unsafe, pid=options.pid,
                        command=options.command)
        try:
            with running:
                for event in running.events(timeout=options.duration):
                    stream = sys.stderr if event.kind in ("errorf", "warnf", "lost") else \
                        sys.stdout
                    stream.write(_event_text(event.kind, event.text, event.location))
        except KeyboardInterrupt:  # the kernel's interrupt: the run has stopped; its maps
            pass
        result = running.result()
    except Error as error:
        sys.stderr.write(f"{error}\n")
        return None
    for line_of_warning in result.warnings:
        sys.stderr.write(line_of_warning + "\n")
    for name, value in result.maps.items():
        display(MapView(name, value))  # type: ignore[no-untyped-call]
    return result


def _event_text(kind: str, text: str, location: str | None) -> str:
    if kind in ("errorf", "warnf"):
        return f"{location}: {'error' if kind == 'errorf' else 'warning'}: {text}\n"
    return text


class MapView:
    """One map, shown by IPython: a table (HTML), a chart per histogram or time
    series (PNG in the HTML, with matplotlib), or text as the CLI prints it."""

    def __init__(self, name: str, value: Any):
        self.name, self.value = name, value

    def __repr__(self) -> str:
        if isinstance(self.value, dict):
            rows = [(f"{self.name}[{_key_text(k)}]", v) for k, v in self.value.items()]
        else:
            rows = [(self.name, self.value)]
        return "\n".join(f"{label}:\n{v}" if isinstance(v, CHARTED) else f"{label}: {v}"
                         for label, v in rows)

    def _repr_html_(self) -> str:
        title = f"<h4>{html.escape(self.name)}</h4>"
        if not isinstance(self.value, dict):
            return title + _value_html(self.value)
        keys = list(self.value)
        width = max((len(k) for k in keys if isinstance(k, tuple)), default=1)
        if any(isinstance(v, CHARTED) for v in self.value.values()):
            return title + "".join(f"<h5>{html.escape(_key_text(k))}</h5>{_value_html(v)}"
                                   for k, v in self.value.items())
        head = "".join(f"<th>{html.escape(name)}</th>"
                       for name in _key_names(keys[0] if keys else None, width))
        value_head = STATS_HEAD \
            if any(isinstance(v, Stats) for v in self.value.values()) else "<th>value</th>"
        rows = "".join(f"<tr>{_key_cells(k, width)}{_value_cells(v)}</tr>"
                       for k, v in self.value.items())
        return f"{title}<table><tr>{head}{value_head}</tr>{rows}</table>"


def _key_names(key: Any, width: int) -> list[str]:
    fields = getattr(key, "_fields", None)
    if fields is not None:
        return list(fields)
    return ["key"] if width == 1 or not isinstance(key, tuple) else \
        [f"key{i}" for i in range(width)]


def _key_text(key: Any) -> str:
    return ", ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def _key_cells(key: Any, width: int) -> str:
    several = (isinstance(key, tuple) and width > 1) or hasattr(key, "_fields")
    parts = key if several else (key,)
    return "".join(f"<td>{html.escape(str(part))}</td>" for part in parts)


def _value_cells(value: Any) -> str:
    if isinstance(value, Stats):
        return "".join(f"<td>{n}</td>" for n in (value.count, value.average, value.total))
    return f"<td>{html.escape(str(value))}</td>"


def _value_html(value: Any) -> str:
    if isinstance(value, CHARTED):
        png = chart(value)
        if png is not None:
            return f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}"/>'
        return f"<pre>{html.escape(str(value))}</pre>"
    if isinstance(value, Stats):
        return f"<table><tr>{STATS_HEAD}</tr><tr>{_value_cells(value)}</tr></table>"
    return f"<pre>{html.escape(str(value))}</pre>"


def chart(value: Histogram | TimeSeries) -> bytes | None:
    """A histogram's buckets as a bar chart, a time series' intervals as a line
    (broken where an interval holds nothing), as PNG bytes; None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    if isinstance(value, Histogram):
        labels = [_bucket_label(b.low, b.high) for b in value]
    else:
        from ptrace.runtime.tseries import time_label

        labels = [time_label(p.start, value.interval) for p in value]
    figure = Figure(figsize=(max(4.0, 0.45 * len(labels)), 2.6))
    axes = figure.subplots()
    if isinstance(value, Histogram):
        axes.bar(range(len(labels)), [b.count for b in value])
        axes.set_ylabel("count")
    else:
        axes.plot(range(len(labels)), [float("nan") if p.value is None else p.value
                                       for p in value], marker="o")
        axes.set_ylabel(value.agg or "value")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _bucket_label(low: int | None, high: int | None) -> str:
    if low is None:
        return f"< {high}"
    if high is None:
        return f">= {low}"
    return str(low) if high == low + 1 else f"[{low}, {high})"

