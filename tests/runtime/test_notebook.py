"""`%load_ext ptrace` and `%%ptrace` in a real notebook, run by nbclient on an
IPython kernel (ipykernel) as Jupyter runs it.

One notebook holds every case, so the kernel starts once: a run to exit(),
maps shown as tables and a histogram and a time series as charts, a script
error shown without a traceback, a run ended by its duration (with a
positional and a named argument), and one ended by an interrupt (SIGINT to
the kernel, as Jupyter's stop button sends it).
"""

from __future__ import annotations

import base64
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

TIMEOUT = 120

CELLS = [
    "%load_ext ptrace",
    '%%ptrace\nBEGIN { printf("hello %d\\n", 42); @x[1, "a"] = count(); @h = hist(5); '
    '@h = hist(100); @s = stats(7); @t = tseries(3, 1s, 5); exit(); }',
    "_ptrace.maps['@x'], _ptrace.exit_code",
    "%%ptrace\nBEGIN { @x = nosuch(); }",
    '%%ptrace -d 0.3 5 -- --tag=9\ntracepoint:syscalls:sys_enter_getppid '
    '/comm == "nb_nothing"/ { @n = count(); } END { @end = $1 + getopt("tag", 0); }',
    # Once the run's thread has started, SIGINT, as Jupyter's interrupt sends it.
    "import os, signal, threading, time\n"
    "def interrupt():\n"
    "    while not any(t.name == 'ptrace-run' for t in threading.enumerate()):\n"
    "        time.sleep(0.05)\n"
    "    time.sleep(0.5)\n"
    "    os.kill(os.getpid(), signal.SIGINT)\n"
    "threading.Thread(target=interrupt).start()",
    '%%ptrace\ntracepoint:syscalls:sys_enter_getppid /comm == "nb_nothing"/ { @n = count(); } '
    'END { @stopped = 1; }',
]


@pytest.fixture(scope="module")
def outputs() -> list[list[dict[str, Any]]]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    NotebookClient(notebook, timeout=TIMEOUT, kernel_name="python3",
                   allow_errors=True).execute()
    return [list(cell.outputs) for cell in notebook.cells]


def texts(outputs: list[dict[str, Any]], name: str) -> str:
    return "".join(o["text"] for o in outputs if o["output_type"] == "stream"
                   and o["name"] == name)


def shown(outputs: list[dict[str, Any]], mime: str) -> list[str]:
    return [o["data"][mime] for o in outputs if o["output_type"] == "display_data"]


@pytest.mark.bpf
def test_load_ext(outputs: list[list[dict[str, Any]]]) -> None:
    assert outputs[0] == []


@pytest.mark.bpf
def test_run_to_exit(outputs: list[list[dict[str, Any]]]) -> None:
    cell = outputs[1]
    assert texts(cell, "stdout") == "hello 42\n"
    html = shown(cell, "text/html")
    assert len(html) == 4
    chart, stats, series, table = html  # in the order of the maps' names: @h, @s, @t, @x
    for title, shown_chart in (("@h", chart), ("@t", series)):
        assert shown_chart.startswith(f"<h4>{title}</h4><img src=\"data:image/png;base64,")
        png = base64.b64decode(shown_chart.split("base64,")[1].split('"')[0])
        assert png.startswith(b"\x89PNG")
    assert stats == ("<h4>@s</h4><table><tr><th>count</th><th>average</th><th>total</th></tr>"
                     "<tr><td>1</td><td>7</td><td>7</td></tr></table>")
    assert table == ("<h4>@x</h4><table><tr><th>key0</th><th>key1</th><th>value</th></tr>"
                     "<tr><td>1</td><td>a</td><td>1</td></tr></table>")
    plain = shown(cell, "text/plain")
    assert plain[0].startswith("@h:\n[4, 8)")  # text bars where HTML is not shown
    assert plain[2].startswith("@t:\n") and plain[2].splitlines()[3].endswith("| 3")
    assert plain[3] == "@x[1, a]: 1"


@pytest.mark.bpf
def test_result_variable(outputs: list[list[dict[str, Any]]]) -> None:
    (result,) = outputs[2]
    assert result["data"]["text/plain"] == "({(1, 'a'): 1}, 0)"


@pytest.mark.bpf
def test_script_error(outputs: list[list[dict[str, Any]]]) -> None:
    cell = outputs[3]
    assert [o["output_type"] for o in cell] == ["stream"]
    assert texts(cell, "stderr") == ("<script>:1:14: error: unknown function 'nosuch'\n"
                                     "    BEGIN { @x = nosuch(); }\n"
                                     "                 ^~~~~~\n")


@pytest.mark.bpf
def test_duration(outputs: list[list[dict[str, Any]]]) -> None:
    assert shown(outputs[4], "text/plain") == ["@end: 14"]


@pytest.mark.bpf
def test_interrupt_stops_with_maps(outputs: list[list[dict[str, Any]]]) -> None:
    cell = outputs[6]
    assert [o["output_type"] for o in cell] == ["display_data"]
    assert shown(cell, "text/plain") == ["@stopped: 1"]
