"""How the notebook shows maps (ptrace/notebook.py), without a kernel: tables,
and a histogram as text bars when matplotlib is missing."""

from __future__ import annotations

import sys

import pytest

from ptrace.api import Bucket, Histogram, Stats
from ptrace.notebook import MapView

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
