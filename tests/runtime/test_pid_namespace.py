"""ptrace run inside a pid namespace of its own (`unshare --pid`): pid and tid
are as ptrace sees them (bpftrace 0.26's curr_ns), pid(init) and tid(init) as
the first namespace does, and user stacks are named from the process ptrace
sees."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

TIMEOUT = 30
pytestmark = pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")


def in_namespace(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["unshare", "--fork", "--pid", "--mount-proc", *argv],
                          capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


@pytest.mark.bpf
def test_pid_and_tid_are_the_namespace_s_and_init_the_first_s(ptrace_exe: list[str]) -> None:
    r = in_namespace([*ptrace_exe, "-e", 'BEGIN { printf("%d %d %d %d %d %d\\n", pid, '
                      'pid(curr_ns), pid(init), tid, tid(curr_ns), tid(init)); exit(); }'])
    assert r.returncode == 0, r.stderr
    match = re.fullmatch(r"1 1 (\d+) 1 1 (\d+)\n+", r.stdout)
    assert match, r.stdout
    assert match[1] == match[2] and int(match[1]) > 1


@pytest.mark.bpf
def test_user_stacks_are_named_inside_the_namespace(ptrace_exe: list[str],
                                                    triggers: Path) -> None:
    r = in_namespace([*ptrace_exe, "-c", f"{triggers / 'ptt_stack'} 1", "-e",
                      'tracepoint:syscalls:sys_enter_getppid /comm == "ptt_stack"/ '
                      '{ print(ustack(3)); exit(); }'])
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\s+ptt_outer\+\d+\n\s+main\+\d+\n", r.stdout, re.MULTILINE), \
        r.stdout
