"""Cells running behind the prompt: their output shown above it as it comes,
Enter refused while they run, Ctrl-C stopping them, Ctrl-D leaving after them.

The REPL's loop runs as at a terminal, on prompt_toolkit's pipe input; a
second thread types, each time after waiting for what the REPL shows. Most
tests stand a scripted run in for the session (no BPF needed); the last one
runs a real cell.
"""

from __future__ import annotations

import io
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TextIO

import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from ptrace import repl
from ptrace.options import Options
from tests.unit.fixtures import fixture_machine

TIMEOUT = 20
CELL = "tracepoint:syscalls:sys_enter_getppid { @ = count(); }"


class Shell:
    """A REPL at a prompt on pipe input, its out and err kept."""

    def __init__(self, pipe: PipeInput):
        self.pipe = pipe
        self.out, self.err = io.StringIO(), io.StringIO()
        self.repl = repl.Repl(Options(), machine=fixture_machine(), out=self.out, err=self.err)
        self.session = repl.prompt_session(self.repl, InMemoryHistory(), pipe, DummyOutput())

    def prompt(self) -> str:
        message = self.session.message
        assert callable(message)
        return str(message())

    def until(self, what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not condition():
            assert time.monotonic() < deadline, \
                f"no {what}; out:\n{self.out.getvalue()}\nerr:\n{self.err.getvalue()}"
            time.sleep(0.01)

    def shows(self, text: str) -> None:
        """Wait until `text` has been written to out or err."""
        self.until(repr(text), lambda: text in self.out.getvalue() + self.err.getvalue())

    def loop(self, typist: Callable[[Shell], None]) -> int:
        """The REPL's loop, while `typist` types in another thread; the loop's status.
        If the typist fails, the input closes (which leaves the loop) and its
        failure is raised here."""
        failures: list[BaseException] = []

        def type_keys() -> None:
            try:
                typist(self)
            except BaseException as failure:
                failures.append(failure)
                self.pipe.close()

        thread = threading.Thread(target=type_keys)
        thread.start()
        try:
            code = self.repl.loop(self.session)
        finally:
            thread.join(TIMEOUT)
        if failures:
            raise failures[0]
        return code


@pytest.fixture
def shell() -> Iterator[Shell]:
    with create_pipe_input() as pipe:
        yield Shell(pipe)


class ScriptedRun:
    """Stands in for `Repl.run_program`: writes like a session, and waits to be
    stopped (or ends at once, with `stops=False`)."""

    def __init__(self, stops: bool = True, fails: bool = False):
        self.stops, self.fails = stops, fails
        self.stopped = threading.Event()

    def __call__(self, program: Any, options: Any, out: TextIO, err: TextIO,
                 started: Callable[[Any], None]) -> int:
        started(SimpleNamespace(stop=self.stopped.set))
        if self.fails:
            raise RuntimeError("boom")
        err.write("Attached 1 probe\n")
        err.flush()
        out.write("event 1\n")  # a whole line, then the starts of two
        err.write("a warn")
        out.write("event ")
        out.flush()
        if self.stops:
            assert self.stopped.wait(TIMEOUT)
        err.write("ing\n")
        out.write("2\n\n\n@: 2\n")
        out.flush()
        return 0


@pytest.fixture
def scripted(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> Callable[..., ScriptedRun]:
    """Cells run by a ScriptedRun (compiled for real; root is not needed)."""
    def use(**how: bool) -> ScriptedRun:
        run = ScriptedRun(**how)
        monkeypatch.setattr(shell.repl, "run_program", run)
        monkeypatch.setattr(os, "geteuid", lambda: 0)
        return run
    return use


def test_output_shows_above_the_prompt_while_the_cell_runs(
        shell: Shell, scripted: Callable[..., ScriptedRun]) -> None:
    run = scripted()

    def typist(sh: Shell) -> None:
        sh.pipe.send_text(CELL + "\r")
        sh.shows("event 1\n")
        assert sh.err.getvalue() == "Attached 1 probe\n"
        assert sh.out.getvalue() == "event 1\n"  # the rest is not a whole line yet
        assert sh.prompt() == repl.RUNNING_PROMPT
        sh.pipe.send_text("\x03")  # Ctrl-C: the cell stops, its maps print
        sh.until("the prompt back", lambda: sh.repl.running is None)
        assert sh.out.getvalue() == "event 1\nevent 2\n\n\n@: 2\n"
        assert sh.err.getvalue() == "Attached 1 probe\na warning\n"
        assert sh.prompt() == repl.PROMPT
        sh.pipe.send_text("\x04")

    assert shell.loop(typist) == 0
    assert run.stopped.is_set()


def test_enter_while_a_cell_runs_keeps_the_text_for_after(
        shell: Shell, scripted: Callable[..., ScriptedRun]) -> None:
    scripted()

    def typist(sh: Shell) -> None:
        sh.pipe.send_text(CELL + "\r")
        sh.shows("event 1\n")
        sh.pipe.send_text(":list syscalls:sys_enter_open*\r")
        sh.shows(repl.BUSY)
        assert "openat" not in sh.out.getvalue()
        sh.pipe.send_text("\x03")  # stops the cell, keeps the text
        sh.until("the prompt back", lambda: sh.repl.running is None)
        sh.pipe.send_text("\r")
        sh.shows("tracepoint:syscalls:sys_enter_openat\n")
        sh.pipe.send_text(":quit\r")

    assert shell.loop(typist) == 0
    assert shell.err.getvalue().count(repl.BUSY) == 1


def test_a_cell_that_ends_by_itself_frees_the_prompt(
        shell: Shell, scripted: Callable[..., ScriptedRun]) -> None:
    run = scripted(stops=False)

    def typist(sh: Shell) -> None:
        sh.pipe.send_text(CELL + "\r")
        sh.shows("@: 2\n")
        sh.until("the prompt back", lambda: sh.repl.running is None)
        assert sh.out.getvalue() == "event 1\nevent 2\n\n\n@: 2\n"
        sh.pipe.send_text(":quit\r")

    assert shell.loop(typist) == 0
    assert not run.stopped.is_set()


def test_ctrl_d_stops_the_running_cell_and_leaves_after_its_maps(
        shell: Shell, scripted: Callable[..., ScriptedRun]) -> None:
    run = scripted()

    def typist(sh: Shell) -> None:
        sh.pipe.send_text(CELL + "\r")
        sh.shows("event 1\n")
        sh.pipe.send_text("\x04")

    assert shell.loop(typist) == 0
    assert run.stopped.is_set()
    assert shell.out.getvalue().endswith("@: 2\n")
    assert shell.repl.running is None


def test_a_failure_in_the_running_cell_is_reported_and_frees_the_prompt(
        shell: Shell, scripted: Callable[..., ScriptedRun]) -> None:
    scripted(fails=True)

    def typist(sh: Shell) -> None:
        sh.pipe.send_text(CELL + "\r")
        sh.shows("ptrace: internal error: RuntimeError: boom\n")
        sh.until("the prompt back", lambda: sh.repl.running is None)
        sh.pipe.send_text("\x04")

    assert shell.loop(typist) == 0


def test_cells_without_probes_run_before_the_prompt_returns(
        shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    def run_program(program: Any, *_: Any) -> int:
        ran.append("ran")
        return 0

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shell.repl, "run_program", run_program)

    def typist(sh: Shell) -> None:
        sh.pipe.send_text('printf("%d\\n", 1 + 2)\r')
        sh.until("the cell run", lambda: ran == ["ran"])
        assert sh.repl.running is None
        sh.pipe.send_text("\x04")

    assert shell.loop(typist) == 0


@pytest.mark.bpf
def test_a_tracing_cell_behind_the_prompt(shell: Shell, triggers: Path) -> None:
    def typist(sh: Shell) -> None:
        sh.pipe.send_text('tracepoint:syscalls:sys_enter_getppid /comm == "ptt_getppid"/ '
                          '{ @ = count(); }\r')
        sh.shows("Attached 1 probe\n")
        assert sh.repl.running is not None
        subprocess.run([str(triggers / "ptt_getppid"), "7"], check=True)
        sh.pipe.send_text("\x03")
        sh.until("the prompt back", lambda: sh.repl.running is None)
        assert sh.out.getvalue() == "\n\n@: 7\n"
        sh.pipe.send_text(":maps\r")
        sh.shows("\n@: 7\n@: 7\n")
        sh.pipe.send_text("\x04")

    assert shell.loop(typist) == 0
