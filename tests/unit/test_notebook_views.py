"""How the notebook shows maps (ptrace/notebook.py), without a kernel: tables,
a histogram as text bars when matplotlib is missing, a time series as a line
chart or its text chart."""

from __future__ import annotations

import sys

import pytest

from ptrace.api import Bucket, Histogram, Point, Stats, TimeSeries
from ptrace.notebook import MapView, chart

HIST = Histogram("hist", (Bucket(4, 8, 2), Bucket(8, 16, 1)),
                 ("[4, 8)    2 |@@|", "[8, 16)   1 |@ |"))


def test_histogram_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    assert MapView("@h", HIST)._repr_html_() == (
        "<h4>@h</h4><pre>[4, 8)    2 |@@|\n[8, 16)   1 |@ |\n</pre>")


def test_record_keys_name_the_columns() -> None:
    from collections import namedtuple

    key = namedtuple("Record", ["comm", "pid"])("sh", 7)
    assert MapView("@r", {key: Stats(2, 10)})._repr_html_() == (
        "<h4>@r</h4><table><tr><th>comm</th><th>pid</th><th>count</th><th>average</th>"
        "<th>total</th></tr><tr><td>sh</td><td>7</td><td>2</td><td>5</td><td>10</td></tr>"
        "</table>")


def test_text_form() -> None:
    assert repr(MapView("@x", {"a<b": 1, "c": 2})) == "@x[a<b]: 1\n@x[c]: 2"
    assert MapView("@x", {"a<b": 1})._repr_html_() == (
        "<h4>@x</h4><table><tr><th>key</th><th>value</th></tr>"
        "<tr><td>a&lt;b</td><td>1</td></tr></table>")


SERIES = TimeSeries(500_000_000, "max", (Point(1_000_000_000, 3), Point(1_500_000_000, None),
                                          Point(2_000_000_000, 5)), ("(chart)", "rows"))


def test_time_series_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert MapView("@t", {1: SERIES})._repr_html_() == (
        "<h4>@t</h4><h5>1</h5><pre>(chart)\nrows\n</pre>")
    assert repr(MapView("@t", SERIES)) == "@t:\n(chart)\nrows\n"


def test_time_series_chart(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line over the intervals, labelled with their local start times."""
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    monkeypatch.setenv("TZ", "UTC")
    labels: list[str] = []
    original = Axes.set_xticks

    def set_xticks(axes: Axes, ticks: object, names: list[str], **kwargs: object) -> object:
        labels.extend(names)
        return original(axes, ticks, names, **kwargs)

    monkeypatch.setattr(Axes, "set_xticks", set_xticks)
    import time

    time.tzset()
    try:
        png = chart(SERIES)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert png is not None and png.startswith(b"\x89PNG")
    assert labels == ["00:00:01.000", "00:00:01.500", "00:00:02.000"]
