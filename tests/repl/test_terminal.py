"""Whole REPL sessions in a real terminal, and the REPL without one.

The REPL runs as its own process through `ptrace.repl.main`, the entry
point the CLI calls. On a pty, keys are written to the terminal and what it
shows is read back as a stream, escape sequences removed; in tmux, the
screen is read as it stands, which shows where each line is.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shlex
import shutil
import signal
import stat
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TIMEOUT = 20
# Runs the REPL as `ptrace` with no program would (text output, no flags).
REPL = [sys.executable, "-c",
        "import argparse, sys\n"
        "from ptrace import repl\n"
        "args = argparse.Namespace(format='text', quiet=False, unsafe=False, verbose=False,"
        " dry_run=False)\n"
        "sys.exit(repl.main(args))\n"]
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r")
PROMPT = "ptrace>"
RUNNING_PROMPT = "ptrace (running; Ctrl-C stops it)>"


class Terminal:
    """A process on a pty of 120 by 40: keys in, the screen's text out."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: its terminal is the pty
            os.execve(argv[0], argv, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.screen = ""  # everything shown so far, without escape sequences
        self.seen = 0  # how much of it expect() has consumed
        self.returncode: int | None = None

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def _read(self, timeout: float) -> bool:
        """Add what the process shows within `timeout` to the screen; False once it is gone."""
        if select.select([self.fd], [], [], max(timeout, 0))[0]:
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: the process closed the terminal
                return False
            self.screen += ESCAPES.sub("", data.decode(errors="replace"))
            return bool(data)
        return True

    def expect(self, pattern: str) -> re.Match[str]:
        """Wait until the text shown since the last match matches `pattern`."""
        deadline = time.monotonic() + TIMEOUT
        while not (found := re.compile(pattern).search(self.screen, self.seen)):
            alive = self._read(deadline - time.monotonic())
            assert alive and time.monotonic() < deadline, \
                f"no {pattern!r} in:\n{self.screen[self.seen:]}"
        self.seen = found.end()
        return found

    def wait(self) -> int:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                return self.returncode
            self._read(0.1)
        raise AssertionError("the REPL did not end")

    def bpf_objects(self) -> list[str]:
        """The BPF programs and maps the process holds open."""
        fds = Path(f"/proc/{self.pid}/fd")
        return [link for link in (os.readlink(fd) for fd in fds.iterdir()) if "bpf" in link]

    def close(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


class Screen:
    """A process in a tmux window of 120 by 40, on a server of its own: keys in,
    the screen's lines out (trailing spaces and blank lines dropped)."""

    def __init__(self, argv: list[str], folder: Path):
        self.tmux = ["tmux", "-S", str(folder / "tmux.sock"), "-f", "/dev/null"]
        # The status through a file: tmux can be slow to notice that a process ended.
        self.status = folder / "status"
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        subprocess.run([*self.tmux, "new-session", "-d", "-x", "120", "-y", "40", "-s", "repl",
                        f"{shlex.join(argv)}; echo $? > {shlex.quote(str(self.status))}"],
                       env=env, check=True)

    def _tmux(self, *args: str) -> str:
        return subprocess.run([*self.tmux, *args], capture_output=True, text=True,
                              timeout=TIMEOUT, check=True).stdout

    def send(self, *keys: str) -> None:
        """Keys by their tmux names: Enter, C-c."""
        self._tmux("send-keys", "-t", "repl", *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "repl", "-l", text)

    def lines(self) -> list[str]:
        shown = [line.rstrip() for line in self._tmux("capture-pane", "-p", "-t", "repl")
                 .splitlines()]
        return [line for line in shown if line]

    def until(self, what: str, check: Callable[[list[str]], bool]) -> list[str]:
        """The screen's lines, once `check` holds for them."""
        deadline = time.monotonic() + TIMEOUT
        while not check(lines := self.lines()):
            assert time.monotonic() < deadline, f"no {what} on the screen:\n" + "\n".join(lines)
            time.sleep(0.05)
        return lines

    def exit_status(self) -> int:
        """Once the process has ended."""
        deadline = time.monotonic() + TIMEOUT
        while not (self.status.exists() and self.status.read_text().endswith("\n")):
            assert time.monotonic() < deadline, "the REPL did not end"
            time.sleep(0.05)
        return int(self.status.read_text())

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def terminal(state: Path) -> Iterator[Terminal]:
    # No cursor position requests: nobody on this pty would answer them.
    env = dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", XDG_STATE_HOME=str(state))
    term = Terminal(REPL, env)
    yield term
    term.close()


@pytest.fixture
def screen(state: Path, tmp_path: Path) -> Iterator[Screen]:
    if not shutil.which("tmux"):
        pytest.skip("tmux is missing")
    shown = Screen(["env", f"XDG_STATE_HOME={state}", *REPL], tmp_path)
    yield shown
    shown.close()


def test_a_session_without_bpf(terminal: Terminal, state: Path) -> None:
    terminal.expect(PROMPT)
    terminal.send(":help\r")
    terminal.expect(r":maps +the maps the last cell printed")
    terminal.expect(PROMPT)
    terminal.send('printf("%d\\n", nope)\r')
    terminal.expect(r"cell1:1:16: error: unknown identifier 'nope'\n"
                    r" +printf\(\"%d\\n\", nope\)\n +\^~~~\n")
    terminal.expect(PROMPT)
    terminal.send("\x04")
    assert terminal.wait() == 0
    history = state / "ptrace" / "history"
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    assert 'printf("%d\\n", nope)' in history.read_text()


@pytest.mark.bpf
def test_a_tracing_session(terminal: Terminal, triggers: Path) -> None:
    terminal.expect(PROMPT)
    terminal.send("tracepoint:syscalls:sys_enter_getppid { @ = count(); }\r")
    terminal.expect("Attached 1 probe\n")
    subprocess.run([str(triggers / "ptt_getppid"), "10"], check=True)
    terminal.send("\x03")  # Ctrl-C stops the cell: END runs, the maps print
    assert int(terminal.expect(r"\n@: (\d+)\n")[1]) >= 10
    terminal.expect(PROMPT)
    assert terminal.bpf_objects() == []  # the cell left nothing in the kernel
    terminal.send(":list syscalls:sys_enter_getpp*\r")
    terminal.expect(r"\ntracepoint:syscalls:sys_enter_getppid\n")
    terminal.expect(PROMPT)
    terminal.send("tracepoint:syscalls:sys_enter_getpp\t")
    terminal.expect("id")  # the rest of the name
    terminal.send(" { printf(\"got it\\n\"); exit(); }\r")
    terminal.expect("Attached 1 probe\n")
    subprocess.run([str(triggers / "ptt_getppid")], check=True)
    terminal.expect("got it\n")
    terminal.expect(PROMPT)
    terminal.send("\x04")
    assert terminal.wait() == 0


@pytest.mark.bpf
def test_the_prompt_stays_while_a_cell_runs(screen: Screen, triggers: Path) -> None:
    screen.until("prompt", lambda lines: lines[-1:] == [PROMPT])
    screen.type('tracepoint:syscalls:sys_enter_getppid /comm == "ptt_getppid"/ '
                '{ @ = count(); printf("event %d\\n", pid); }')
    screen.send("Enter")
    screen.until("running prompt", lambda lines: lines[-2:] == ["Attached 1 probe",
                                                                RUNNING_PROMPT])
    screen.type("@x")  # typing goes on while the cell runs
    subprocess.run([str(triggers / "ptt_getppid"), "3"], check=True)
    lines = screen.until("events above the prompt", lambda lines: lines[-1].startswith(
        RUNNING_PROMPT) and sum(line.startswith("event ") for line in lines) == 3)
    assert lines[-5:-1] == ["Attached 1 probe"] + [lines[-2]] * 3
    assert lines[-2].startswith("event ")
    assert lines[-1] == f"{RUNNING_PROMPT} @x"
    screen.send("C-c")  # the cell stops: its maps print, the prompt is the usual one again
    lines = screen.until("prompt back", lambda lines: lines[-1].startswith(PROMPT))
    assert lines[-2:] == ["@: 3", f"{PROMPT} @x"]
    assert not any(line.startswith(RUNNING_PROMPT) for line in lines)
    screen.send("C-c")  # at the prompt: drops the text
    screen.until("empty prompt", lambda lines: lines[-1] == PROMPT)
    screen.send("C-d")
    assert screen.exit_status() == 0


@pytest.mark.bpf
def test_signals_reach_a_running_cell(terminal: Terminal) -> None:
    """The cell runs in a worker thread; signals come to the main thread, which
    hands a self:signal probe's signal to the cell, and on SIGTERM stops the cell
    (END runs, the maps print) and leaves."""
    terminal.expect(PROMPT)
    terminal.send('self:signal:SIGUSR1 { @got = count(); printf("signal\\n"); } '
                  'interval:ms:100 { @ticks = 1; } END { printf("end ran\\n"); }\r')
    terminal.expect("Attached 3 probes\n")
    os.kill(terminal.pid, signal.SIGUSR1)
    terminal.expect("signal\n")
    os.kill(terminal.pid, signal.SIGTERM)
    terminal.expect("end ran\n")
    terminal.expect(r"@got: 1\n@ticks: 1\n")
    assert terminal.wait() == 0


def test_without_a_terminal_stdin_is_one_program() -> None:
    ran = subprocess.run(REPL, input="BEGIN { printf(\"%d\\n\", nope); }", capture_output=True,
                         text=True, timeout=TIMEOUT, check=False)
    assert (ran.returncode, ran.stdout) == (1, "")
    assert ran.stderr.startswith("stdin:1:24: error: unknown identifier 'nope'")


@pytest.mark.bpf
def test_without_a_terminal_stdin_runs_like_dash() -> None:
    ran = subprocess.run(REPL, input='BEGIN { printf("hi\\n"); exit(3); }', capture_output=True,
                         text=True, timeout=TIMEOUT, check=False)
    assert (ran.returncode, ran.stdout) == (3, "hi\n")


def test_start_up_leaves_the_compiler_back_end_unloaded() -> None:
    code = "import sys, ptrace.repl; print(sorted(m for m in sys.modules if 'llvmlite' in m))"
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=TIMEOUT, check=True)
    assert ran.stdout == "[]\n"
