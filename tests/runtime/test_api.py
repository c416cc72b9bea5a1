"""The Python API (ptrace/api.py, docs/api.md): runs, values, events, errors.

docs/api.md is run with doctest, its examples as they are written. The
other tests look at what the page does not show: every kind of value, a
live snapshot, a run stopped by its duration or by an exception in the
`with` block, and that `import ptrace` imports nothing more than before.
"""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import ptrace
from tests.conftest import ROOT
from tests.runtime.test_cli import no_leftovers  # noqa: F401  (a fixture)


@pytest.fixture
def on_path(triggers: Path) -> Iterator[None]:
    """The trigger programs on PATH, as docs/api.md's examples name them."""
    old = os.environ["PATH"]
    os.environ["PATH"] = f"{triggers}{os.pathsep}{old}"
    yield
    os.environ["PATH"] = old


@pytest.mark.bpf
def test_docs_api_examples(on_path: None) -> None:
    failures, tried = doctest.testfile(str(ROOT / "docs" / "api.md"), module_relative=False,
                                       globs={"ptrace": ptrace}, optionflags=doctest.ELLIPSIS)
    assert tried > 10
    assert failures == 0


def test_import_is_lazy() -> None:
    """`import ptrace` loads only the package: the API, the compiler and the runtime
    come when a name is used."""
    code = ("import sys, ptrace; print(sorted(m for m in sys.modules if m.startswith('ptrace')));"
            "ptrace.ScriptError; print('ptrace.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out == "['ptrace']\nTrue\n"


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        ptrace.nosuch  # type: ignore[attr-defined]  # noqa: B018


def test_script_error_is_located() -> None:
    with pytest.raises(ptrace.ScriptError) as caught:
        ptrace.run("BEGIN {\n  @x = 1 +;\n}")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.span.line, diagnostic.span.col) == (2, 11)
    assert str(caught.value).startswith("<script>:2:11: error: ")
    assert isinstance(caught.value, ptrace.Error)


def test_setting_errors() -> None:
    with pytest.raises(ptrace.Error, match="unknown setting 'nosuch'"):
        ptrace.run("BEGIN { exit(); }", settings={"nosuch": 1})
    with pytest.raises(ptrace.Error, match="max_strlen must be a positive whole number"):
        ptrace.run("BEGIN { exit(); }", settings={"max_strlen": -1})


@pytest.mark.bpf
def test_values_of_every_kind() -> None:
    maps = ptrace.run(
        'BEGIN { @b = true; @buf = buf("ab\\x00c", 4); @ksym = ksym(0); @err = strerror(2); '
        '@avg = avg(3); @avg = avg(6); @min = min(-5); @max = max(9); @arr = (1, "x"); '
        '@neg = hist(-1); @big = lhist(50, 0, 10, 5); @k = kstack; @str[""] = 1; '
        '@zero[1] = count(); delete(@zero[1]); exit(); }').maps
    assert maps["@b"] is True
    assert maps["@buf"] == b"ab\x00c"
    assert maps["@err"] == "No such file or directory"
    assert isinstance(maps["@ksym"], str)
    assert (maps["@avg"], maps["@min"], maps["@max"]) == (4, -5, 9)
    assert maps["@arr"] == (1, "x")
    assert list(maps["@neg"]) == [ptrace.Bucket(None, 0, 1)]
    assert list(maps["@big"]) == [(10, None, 1)]
    assert maps["@str"] == {"": 1}
    assert "@zero" not in maps  # empty maps are left out
    frames = maps["@k"]
    assert isinstance(frames, tuple) and frames
    assert all(isinstance(f, ptrace.Frame) for f in frames)
    assert frames[0].symbol is not None and frames[0].symbol.startswith("bpf_prog_")
    assert str(frames[0]) == f"{frames[0].symbol}+{frames[0].offset}"


@pytest.mark.bpf
def test_message_events() -> None:
    events = ptrace.run('BEGIN { warnf("careful %d", 1); time("%Y"); exit(); }').events
    warn, when = events
    assert (warn.kind, warn.text, warn.location) == ("warnf", "careful 1", "<script>:1:9")
    assert when.kind == "time" and when.text.isdigit()


@pytest.mark.bpf
def test_run_for_a_duration(triggers: Path, no_leftovers: None) -> None:  # noqa: F811
    result = ptrace.run('tracepoint:syscalls:sys_enter_getppid /comm == "api_duration"/ '
                        '{ @n = count(); } END { @end = 1; }', duration=0.2)
    assert result.maps == {"@end": 1}


@pytest.mark.bpf
def test_live_maps_and_an_exception_in_the_block(triggers: Path,
                                                  no_leftovers: None) -> None:  # noqa: F811
    script = 'tracepoint:syscalls:sys_enter_getppid /comm == "api_live"/ { @n = count(); }'
    with pytest.raises(KeyError), ptrace.trace(script) as running:
        assert running.running and running.maps() == {}
        subprocess.run([str(triggers / "ptt_as"), "api_live", "ppid:3"], check=True)
        assert running.maps() == {"@n": 3}
        raise KeyError("the block fails: the run stops")
    assert not running.running
    assert running.result().maps == {"@n": 3}


@pytest.mark.bpf
def test_result_before_the_end() -> None:
    with ptrace.trace("tracepoint:syscalls:sys_enter_getppid { @n = count(); }") as running:
        with pytest.raises(ptrace.Error, match="has not ended"):
            running.result()
        running.stop()
        assert running.wait(10)
    assert running.exit_code == 0


@pytest.mark.bpf
def test_exit_code_and_command(triggers: Path) -> None:
    result = ptrace.run("tracepoint:syscalls:sys_enter_getppid /pid == cpid/ "
                        "{ @[comm] = count(); if (@[comm] == 2) { exit(7); } }",
                        command=f"{triggers / 'ptt_getppid'} 5")
    assert result.exit_code == 7
