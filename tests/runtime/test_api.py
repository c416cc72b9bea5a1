"""The Python API (ptrace/api.py, docs/api.md): runs, values, events, errors.

docs/api.md is run with doctest, its examples as they are written. The
other tests look at what the page does not show: every kind of value, a
live snapshot, a run stopped by its duration or by an exception in the
`with` block, and that `import ptrace` imports nothing more than before.
"""

from __future__ import annotations

import doctest
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import ptrace
from ptrace.diagnostics import Source
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
    assert (maps["@neg"].sum, maps["@big"].sum) == (-1, 50)
    assert maps["@big"].to_dict() == {"kind": "lhist", "count": 1, "sum": 50, "buckets": [
        {"low": 10, "high": None, "count": 1}]}
    assert maps["@str"] == {"": 1}
    assert "@zero" not in maps  # empty maps are left out
    frames = maps["@k"]
    assert isinstance(frames, tuple) and frames
    assert all(isinstance(f, ptrace.Frame) for f in frames)
    assert frames[0].symbol is not None and frames[0].symbol.startswith("bpf_prog_")
    assert str(frames[0]) == f"{frames[0].symbol}+{frames[0].offset}"


@pytest.mark.bpf
def test_tuples_of_narrow_elements() -> None:
    """Tuples and records are laid out as C structs: each element at its width."""
    maps = ptrace.run('BEGIN { @t = ((int8)-1, (uint16)65535, "ab", (int32)-7, true); '
                      '@r[(int8)-2, "x"] = (a = (uint8)200, b = (int16)-3); exit(); }').maps
    assert maps["@t"] == (-1, 65535, "ab", -7, True)
    ((key, record),) = maps["@r"].items()
    assert key == (-2, "x")
    assert (record.a, record.b) == (200, -3)


@pytest.mark.bpf
def test_message_events() -> None:
    events = ptrace.run('BEGIN { warnf("careful %d", 1); time("%Y"); exit(); }').events
    warn, when = events
    assert (warn.kind, warn.text, warn.location) == ("warnf", "careful 1", "<script>:1:9")
    assert when.kind == "time" and when.text.isdigit()


@pytest.mark.bpf
def test_no_attach_notice_on_the_callers_stdout(monkeypatch: pytest.MonkeyPatch,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    """bpftrace's __BPFTRACE_NOTIFY_PROBES_ATTACHED is the command line's: a library
    run with the variable set writes nothing to its caller's standard output."""
    monkeypatch.setenv("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
    assert ptrace.run('BEGIN { @x = 1; } interval:ms:10 { exit(); }').maps == {"@x": 1}
    assert capfd.readouterr().out == ""


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


@pytest.mark.bpf
def test_signal_probes(no_leftovers: None) -> None:  # noqa: F811
    """The main thread takes a self:signal probe's signals for the run, and gives the
    handler back when it ends; started in another thread, such a script is a
    located error before anything is loaded."""
    before = signal.getsignal(signal.SIGUSR1)
    with ptrace.trace('self:signal:SIGUSR1 { printf("got %d\\n", 1); exit(); }') as running:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert [event.text for event in running.events(timeout=10)] == ["got 1\n"]
    assert running.exit_code == 0
    assert signal.getsignal(signal.SIGUSR1) == before

    errors: list[ptrace.ScriptError] = []

    def elsewhere() -> None:
        try:
            with ptrace.trace("BEGIN { }\nself:signal:SIGUSR2 { exit(); }"):
                pass
        except ptrace.ScriptError as error:
            errors.append(error)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert str(errors[0]) == (
        "<script>:2:1: error: self:signal probes need the trace to be started in the main "
        "thread\n"
        "    self:signal:SIGUSR2 { exit(); }\n"
        "    ^~~~~~~~~~~~~~~~~~~\n"
        "  hint: signals reach only the main thread of a process; start the trace there, or "
        "leave the probe out")


@pytest.mark.bpf
def test_enum_values() -> None:
    """A C enum's value is an int that carries its enumerator's name (the first of
    those with its value, as the CLI prints it); a value none names is an int."""
    maps = ptrace.run('enum color { RED, GREEN = 5, BLUE = 5 }; BEGIN { @c = (enum color)5; '
                      '@k[(enum color)0] = 1; @n = (enum color)7; @t = ((enum color)0, 1); '
                      'exit(); }').maps
    green = maps["@c"]
    assert isinstance(green, ptrace.EnumValue)
    assert (green, green.name, green.enum, str(green)) == (5, "GREEN", "enum color", "GREEN")
    assert repr(green) == "<enum color.GREEN: 5>"
    assert [(k, str(k)) for k in maps["@k"]] == [(0, "RED")]
    assert maps["@n"] == 7 and type(maps["@n"]) is int
    assert [str(v) for v in maps["@t"]] == ["RED", "1"]


def test_the_cli_reports_the_libraries_script_error(ptrace_exe: list[str]) -> None:
    """The CLI compiles through compile_script: its diagnostics are the ScriptError's
    text, and an environment setting's error is the library's Error."""
    script = 'BEGIN { $x = "a" + 1; @y = nosuch(); }'
    with pytest.raises(ptrace.ScriptError) as caught:
        ptrace.compile_script(Source("-e", script))
    cli = subprocess.run([*ptrace_exe, "-e", script], capture_output=True, text=True)
    assert (cli.returncode, cli.stdout) == (1, "")
    assert cli.stderr == f"{caught.value}\n"
    assert len(caught.value.diagnostics) == 2
    env = {**os.environ, "PTRACE_MAX_STRLEN": "0"}
    cli = subprocess.run([*ptrace_exe, "-e", "BEGIN { exit(); }"], capture_output=True,
                         text=True, env=env)
    os.environ["PTRACE_MAX_STRLEN"] = "0"
    try:
        with pytest.raises(ptrace.Error) as error:
            ptrace.compile_script("BEGIN { exit(); }")
    finally:
        del os.environ["PTRACE_MAX_STRLEN"]
    assert (cli.returncode, cli.stderr) == (1, f"ptrace: error: {error.value}\n")


def test_compile_script_dumps_stages_even_for_an_error() -> None:
    """A ScriptError keeps the stages that are shown even so (`-d types`)."""
    with pytest.raises(ptrace.ScriptError) as caught:
        ptrace.compile_script('BEGIN { @x = 1; @x = "a"; }', dumps=["types"])
    assert "@x" in caught.value.dumps["types"]


@pytest.mark.bpf
def test_named_arguments() -> None:
    """getopt()'s options among the arguments, as the CLI's `-- --name=value`; one
    the script does not read is a ScriptError, as in the CLI."""
    script = ('BEGIN { printf("%s %d %d %s\\n", getopt("name", "none"), getopt("n", 0), '
              'getopt("flag"), $1); exit(); }')
    result = ptrace.run(script, args=["--name=x", "--n=5", "--flag", "pos"])
    assert [event.values for event in result.events] == [("x", 5, True, "pos")]
    assert ptrace.run(script, args=["p"]).events[0].values == ("none", 0, False, "p")
    with pytest.raises(ptrace.ScriptError, match="unexpected program option: --other"):
        ptrace.run(script, args=["--other=1"])
    with pytest.raises(ptrace.ScriptError, match="--n=abc: the program option takes an "
                                                  "integer"):
        ptrace.run(script, args=["--n=abc"])


@pytest.mark.bpf
def test_events_past_the_limit_are_dropped_and_counted() -> None:
    """At most max_events wait; the run goes on without waiting for its reader, the
    rest are counted and a warning says so once; taken events make room again."""
    script = ('BEGIN { $i = 0; while ($i < 100) { printf("%d\\n", $i); $i++; } } '
              'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("late\\n"); }')
    with pytest.warns(RuntimeWarning, match="^ptrace: 90 events were dropped: 10 were "
                      "waiting to be taken") as caught, \
            ptrace.trace(script, max_events=10, command="true") as running:
        assert running.wait(30)
    assert len(caught) == 1
    result = running.result()
    assert [event.text for event in result.events] == [f"{i}\n" for i in range(10)]
    assert (result.dropped_events, running.dropped_events) == (90, 90)
    with pytest.raises(ptrace.Error, match="max_events must be 0 or more"):
        ptrace.trace("BEGIN { exit(); }", max_events=-1)


@pytest.mark.bpf
def test_events_taken_make_room() -> None:
    with ptrace.trace('BEGIN { $i = 0; while ($i < 30) { printf("%d\\n", $i); $i++; } '
                      'exit(); }', max_events=30) as running:
        texts = [event.text for event in running.events(timeout=30)]
    assert len(texts) == 30 and running.dropped_events == 0


@pytest.mark.bpf
def test_time_series_in_print_events_and_maps() -> None:
    """A tseries map is a TimeSeries keyed as any map; `print(@m)` gives it too, and
    str() is the CLI's chart."""
    result = ptrace.run(
        'config = { dummy_ts_map = "@ts" } BEGIN { @ts = 2000000000; '
        '@q[1] = tseries(4, 500ms, 3, "max"); @q[1] = tseries(2, 500ms, 3, "max"); '
        '@ts = 3000000000; @q[2] = tseries(-1, 500ms, 3, "max"); print(@q); exit(); }')
    series = result.maps["@q"]
    assert list(series[1]) == [ptrace.Point(2_000_000_000, 4), ptrace.Point(2_500_000_000, None),
                               ptrace.Point(3_000_000_000, None)]
    assert list(series[2]) == [ptrace.Point(3_000_000_000, -1)]
    assert (series[1].agg, series[2].interval) == ("max", 500_000_000)
    (event,) = result.events
    assert event.values == (series,)
    assert str(series[2]).splitlines()[2].endswith("| -1")
    assert event.text.startswith("@q[1]:\n") and event.text.count("hh:mm:ss") == 2
    assert [row[-2:] for row in str(series[1]).splitlines()[2:5]] == [" 4", " -", " -"]


@pytest.mark.bpf
def test_uprobes_one_by_one_where_the_kernel_refuses_a_uprobe_multi_link(
        triggers: Path, monkeypatch: pytest.MonkeyPatch, no_leftovers: None) -> None:  # noqa: F811
    """A wildcard's functions are folded into one program for a uprobe_multi
    link; where the kernel refuses the link (forced here: EOPNOTSUPP), the
    program is loaded anew and each function attached through its own uprobe
    perf event, with the cookie that names it in `probe` and `func`."""
    import errno

    from ptrace.runtime import links

    def refuse(*_args: object) -> int:
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

    monkeypatch.setattr(links, "uprobe_multi", refuse)
    binary = triggers / "ptt_uprobe"
    result = ptrace.run(f"uprobe:{binary}:ptt_* {{ @[probe, func] = count(); }} "
                        f"uretprobe:{binary}:ptt_* {{ @r[func] = sum(retval); }}",
                        command=f"{binary} a bb")
    assert result.maps == {
        "@": {(f"uprobe:{binary}:ptt_add", "ptt_add"): 2,
              (f"uprobe:{binary}:ptt_greet", "ptt_greet"): 2},
        "@r": {"ptt_add": 11 + 22, "ptt_greet": 1 + 2}}
