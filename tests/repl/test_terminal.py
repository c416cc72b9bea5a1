"""Whole REPL sessions in a real terminal (a pty), and the REPL without one.

The REPL runs as its own process through `ptrace.repl.main`, the entry
point the CLI calls; keys are written to the terminal and the screen is read
back, escape sequences removed.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import stat
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
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
