"""The compile cache seen from the command line: a second run prints the same
from the kept program; --no-cache keeps nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

PROGRAM = 'BEGIN { printf("hi %d\\n", 6 * 7); exit(); }'


def _run(ptrace_exe: list[str], cache: Path, *flags: str) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PTRACE_NO_CACHE"}
    done = subprocess.run([*ptrace_exe, *flags, "-e", PROGRAM], capture_output=True, text=True,
                          timeout=60, env={**env, "XDG_CACHE_HOME": str(cache)})
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


@pytest.mark.bpf
def test_a_run_from_the_cache_prints_the_same(ptrace_exe: list[str], tmp_path: Path) -> None:
    first = _run(ptrace_exe, tmp_path / "kept")
    entries = list((tmp_path / "kept" / "ptrace" / "programs").iterdir())
    assert len(entries) == 1
    assert first[0].startswith("hi 42\n") and first[1] == "Attached 1 probe\n"
    assert _run(ptrace_exe, tmp_path / "kept") == first
    assert _run(ptrace_exe, tmp_path / "none", "--no-cache") == first
    assert not (tmp_path / "none" / "ptrace" / "programs").exists()


@pytest.mark.bpf
def test_no_cache_leaves_the_commands_environment_alone(ptrace_exe: list[str],
                                                        tmp_path: Path) -> None:
    """--no-cache reaches the compile, not the environment of the -c command."""
    env = {k: v for k, v in os.environ.items() if k != "PTRACE_NO_CACHE"}
    seen = {}
    for flags in ((), ("--no-cache",)):
        out = tmp_path / f"env{len(flags)}"
        done = subprocess.run([*ptrace_exe, *flags, "-q", "-c", f"sh -c 'env > {out}'", "-e",
                               "BEGIN { }"], capture_output=True, text=True, timeout=60,
                              env={**env, "XDG_CACHE_HOME": str(tmp_path / "cache")})
        assert done.returncode == 0, done.stderr
        seen[flags] = out.read_text()
    assert "PTRACE_NO_CACHE" not in seen[("--no-cache",)]
    assert seen[("--no-cache",)] == seen[()]


def test_the_exit_runs_the_exit_handlers_and_keeps_the_output(ptrace_exe: list[str],
                                                              tmp_path: Path) -> None:
    """ptrace ends without Python's finalization (ptrace/launch.py): what it
    wrote to standard output and to -o's file is all there, the exit handlers
    ran (the class-code table is written), and the status is the command's."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    dumped = subprocess.run([*ptrace_exe, "-d", "ast", "-e", PROGRAM], capture_output=True,
                            text=True, timeout=60, env=env)
    assert dumped.returncode == 0 and dumped.stdout.count("\n") > 3
    assert "Call" in dumped.stdout and dumped.stdout.endswith("\n")
    assert list((tmp_path / "cache" / "ptrace").glob("class-code-*"))
    refused = subprocess.run([*ptrace_exe, "-d", "ast", "-e", "BEGIN { x = ; }"],
                             capture_output=True, text=True, timeout=60, env=env)
    assert refused.returncode == 1 and "error" in refused.stderr
    usage = subprocess.run([*ptrace_exe, "--bogus"], capture_output=True, text=True,
                           timeout=60, env=env)
    assert usage.returncode == 1 and "--bogus" in usage.stderr and "USAGE" in usage.stderr
    with open("/dev/full", "w") as full:  # the last flush fails: Python's own end
        unwritten = subprocess.run([*ptrace_exe, "-d", "ast", "-e", PROGRAM], stdout=full,
                                   stderr=subprocess.PIPE, text=True, timeout=60, env=env)
    assert unwritten.returncode == 1, unwritten.stderr
    assert unwritten.stderr == "ptrace: error: cannot write to standard output: " \
                               "No space left on device\n"
