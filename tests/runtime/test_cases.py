"""Runs every tests/runtime/cases/*.case against the real kernel with the real CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.runtime.casefile import TRIGGERS, Case, parse_cases

CASES_DIR = Path(__file__).parent / "cases"
ALL_CASES = [case for path in sorted(CASES_DIR.glob("*.case")) for case in parse_cases(path)]
ATTACHED = re.compile(r"^Attached \d+ probes?$")
# With -f json, attaching is announced by a record on stdout (kept in the output).
ATTACHED_JSON = re.compile(r'^\{"type": "attached_probes"')
# bpftrace 0.17 says "Attaching N probes..." on stdout, before it has attached.
BPFTRACE_ATTACHING = re.compile(r"^Attaching \d+ probes?\.\.\.$")
BPFTRACE_SETTLE_S = 1.5
BPFTRACE_DRAIN_S = 0.5
BPF_OBJECT_KINDS = ("prog", "map", "btf")


def bpf_ids(pid: int) -> set[tuple[str, int]]:
    """The BPF programs, maps and BTF a running process holds, as ("prog"|"map"|"btf", id)."""
    ids: set[tuple[str, int]] = set()
    fdinfo = Path(f"/proc/{pid}/fdinfo")
    for entry in fdinfo.glob("*"):
        try:
            text = entry.read_text()
        except OSError:
            continue
        for kind in BPF_OBJECT_KINDS:
            match = re.search(rf"^{kind}_id:\s*(\d+)$", text, re.MULTILINE)
            if match:
                ids.add((kind, int(match[1])))
    return ids


def loaded_ids() -> set[tuple[str, int]]:
    """Every BPF program, map and BTF object in the kernel now."""
    ids: set[tuple[str, int]] = set()
    for kind in BPF_OBJECT_KINDS:
        out = subprocess.run(["bpftool", "-j", kind, "show"], capture_output=True, text=True,
                             check=True).stdout
        ids.update((kind, int(item["id"])) for item in json.loads(out or "[]"))
    return ids


def still_loaded(held: set[tuple[str, int]], grace_s: float = 2.0) -> set[tuple[str, int]]:
    """Those of `held` still in the kernel after a grace period: the kernel frees
    programs and maps asynchronously once their last fd is closed."""
    if not held:
        return set()
    deadline = time.monotonic() + grace_s
    left = held & loaded_ids()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left &= loaded_ids()
    return left


def wait_insisting(proc: subprocess.Popen[str], timeout: float) -> None:
    """Wait for bpftrace to exit, repeating SIGINT while it has not.

    bpftrace 0.17 can miss a SIGINT that lands just before it blocks waiting
    for events (seen once in CI: a filtered probe, no further events, and the
    process waited until killed). A repeated SIGINT ends it as the first should
    have. ptrace is never given this second chance.
    """
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    held: set[tuple[str, int]]  # BPF objects the tracer held while attached


def run_case(case: Case, ptrace_exe: list[str], triggers: Path,
             bpftrace: bool = False) -> Outcome:
    """Run a case's program; with RUN, trigger once attached, then SIGINT.

    With `bpftrace`, the command is bpftrace's and its stdout attach line is
    waited for (and left out of the output).
    """
    with tempfile.TemporaryDirectory() as tmp:
        def place(text: str) -> str:
            return text.replace(TRIGGERS, str(triggers))

        argv = [*ptrace_exe, *map(place, case.args)]
        params = list(map(place, case.params))
        if case.prog_is_file:
            script = Path(tmp) / "script.bt"
            script.write_text(place(case.prog))
            argv += [str(script), *params]
        elif case.prog:
            argv += ["-e", place(case.prog), *params]
        else:  # the program is named in ARGS (-t TOOL)
            argv += params
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, cwd=tmp,
                                env={**os.environ, **case.env})
        lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        attached = threading.Event()
        marker = BPFTRACE_ATTACHING if bpftrace else ATTACHED

        def read(name: str) -> None:
            stream = getattr(proc, name)
            for line in stream:
                if marker.match(line.rstrip("\n")):
                    attached.set()
                    if bpftrace:
                        continue
                if ATTACHED_JSON.match(line):
                    attached.set()
                lines[name].append(line)
            attached.set()

        readers = [threading.Thread(target=read, args=(name,), daemon=True)
                   for name in lines]
        for reader in readers:
            reader.start()
        held: set[tuple[str, int]] = set()
        try:
            if case.run:
                if not attached.wait(case.timeout):
                    raise AssertionError("the tracer did not attach in time")
                held = bpf_ids(proc.pid)
                if bpftrace:
                    time.sleep(BPFTRACE_SETTLE_S)
                trigger = [str(triggers / case.run[0]), *case.run[1:]]
                subprocess.run(trigger, check=True, timeout=case.timeout, cwd=tmp)
                if bpftrace:
                    # bpftrace 0.17 drops events still in its perf buffers at
                    # SIGINT (ptrace drains its ring buffer first): let it read them.
                    time.sleep(BPFTRACE_DRAIN_S)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
                if bpftrace:
                    wait_insisting(proc, case.timeout)
            proc.wait(timeout=case.timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for reader in readers:
            reader.join(5)
        return Outcome(proc.returncode, "".join(lines["stdout"]), "".join(lines["stderr"]), held)


@pytest.mark.bpf
@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_case(case: Case, ptrace_exe: list[str], triggers: Path) -> None:
    for program in case.requires:
        if not shutil.which(program):
            pytest.fail(f"{program} is required by this case; scripts/setup installs it")
    check_outcome(case, run_case(case, ptrace_exe, triggers), triggers)


def check_outcome(case: Case, result: Outcome, triggers: Path) -> None:
    """Assert what a case expects of a run: exit status, output, a clean kernel."""
    stderr = "\n".join(line for line in result.stderr.split("\n")
                       if not ATTACHED.match(line)).strip("\n")
    context = f"\n--- stdout:\n{result.stdout}\n--- stderr:\n{result.stderr}"
    assert result.returncode == case.exit, f"exit status {result.returncode}{context}"
    if case.expect is not None:
        expected = case.expect.replace(TRIGGERS, str(triggers))
        assert result.stdout.strip("\n") == expected.strip("\n"), context
    if case.expect_regex is not None:
        assert re.fullmatch(case.expect_regex.strip("\n"), result.stdout.strip("\n")), context
    if case.stderr is not None:
        assert stderr == case.stderr.strip("\n"), context
    assert "Traceback" not in result.stderr, context
    if case.run:
        assert any(kind == "prog" for kind, _ in result.held), "no programs seen while attached"
    assert not still_loaded(result.held), "BPF objects left in the kernel after exit"
