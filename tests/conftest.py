"""Shared fixtures: the BPF requirement, and trigger programs built at test time.

Tests that load BPF are marked `bpf`. Without root or BPF they skip, unless
PTRACE_REQUIRE_BPF=1 (as CI sets it): then a skip would hide a failure, so
the test fails instead.

The suite can run on several CPUs (pytest-xdist: `-n auto`). A test that
looks at the whole kernel's state (the programs, maps and links left behind,
tracefs) or measures time is marked `serial` (every test that asks for the
`no_leftovers` fixture is, by collection): while it runs, no other test of the
run does. A test that runs the trigger programs is marked `triggers`: two
such tests never run at once (their probes filter on the triggers' names, or
probe the one copy of their binaries, and would count each other's events).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGS = ROOT / "tests" / "progs"


def pytest_configure(config: pytest.Config) -> None:
    """The processes the tests start take the stop signals' default actions,
    however the suite was started: a command started with `&` by a shell
    without job control ignores SIGINT and SIGQUIT, which every process it
    starts inherits (ptrace keeps an ignored signal ignored, as a shell's
    background job should), and the tests that stop ptrace with SIGINT
    would wait out their timeouts."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGQUIT) == signal.SIG_IGN:
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def bpf_unavailable() -> str | None:
    """Why BPF tests cannot run here, or None if they can."""
    if os.geteuid() != 0:
        return "needs root"
    if not Path("/sys/kernel/tracing/events").is_dir():
        return "tracefs is not mounted at /sys/kernel/tracing"
    if not shutil.which("gcc"):
        return "gcc is missing (trigger programs are built with it)"
    return None


@pytest.fixture(autouse=True)
def _bpf_requirement(request: pytest.FixtureRequest) -> None:
    if "bpf" not in request.keywords:
        return
    reason = bpf_unavailable()
    if reason is None:
        return
    if os.environ.get("PTRACE_REQUIRE_BPF") == "1":
        pytest.fail(f"BPF test cannot run here ({reason}) but PTRACE_REQUIRE_BPF=1")
    pytest.skip(reason)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Marks `serial` the tests that check what is left in the whole kernel,
    `triggers` those that run the trigger programs (a runtime case only if it
    names them)."""
    names = getattr(item, "fixturenames", ())
    if "no_leftovers" in names:
        item.add_marker(pytest.mark.serial)
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    runs_triggers = getattr(case, "runs_triggers", "triggers" in names)
    if runs_triggers:
        item.add_marker(pytest.mark.triggers)


def _locked(path: Path, mode: int) -> int:
    """A descriptor of `path` holding flock `mode`; closing it releases the lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


@pytest.fixture(autouse=True)
def _serial_alone(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Under pytest-xdist, a `serial` test holds the run's lock exclusively, every
    other test holds it shared. Each takes it through a turnstile, which the
    serial test keeps until it is done: a test that starts while a serial one
    waits for the lock waits behind it, so the serial test gets its turn. A
    `triggers` test also holds the triggers' lock, exclusively (taken last,
    held by a running test only: no cycle)."""
    if not hasattr(request.config, "workerinput"):  # one process: nothing runs beside
        yield
        return
    shared = tmp_path_factory.getbasetemp().parent  # the workers' common folder
    serial = request.node.get_closest_marker("serial") is not None
    turnstile = _locked(shared / "serial.turnstile", fcntl.LOCK_EX)
    try:
        lock = _locked(shared / "serial.lock", fcntl.LOCK_EX if serial else fcntl.LOCK_SH)
    except BaseException:
        os.close(turnstile)
        raise
    if not serial:
        os.close(turnstile)
    held = [lock]
    try:
        if not serial and request.node.get_closest_marker("triggers") is not None:
            held.append(_locked(shared / "triggers.running", fcntl.LOCK_EX))
        yield
    finally:
        for fd in reversed(held):
            os.close(fd)
        if serial:
            os.close(turnstile)


@pytest.fixture(scope="session")
def triggers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with every tests/progs/*.c built as an executable of the same
    name, and every lib*.c as a shared library (libNAME.so); ptt_dwarf.c with
    its debug information in each of the places ptrace looks for it. Under
    pytest-xdist, built once for all the workers."""
    if not hasattr(request.config, "workerinput"):
        out = tmp_path_factory.mktemp("triggers")
        _build_triggers(out)
        return out
    shared = tmp_path_factory.getbasetemp().parent
    out = shared / "triggers"
    lock = _locked(shared / "triggers.lock", fcntl.LOCK_EX)
    try:
        if not (shared / "triggers.built").exists():
            out.mkdir()
            _build_triggers(out)
            (shared / "triggers.built").touch()
    finally:
        os.close(lock)
    return out


def _build_triggers(out: Path) -> None:
    for source in sorted(PROGS.glob("*.c")):
        if source.stem == "ptt_dwarf":
            _debug_variants(source, out)
            continue
        if source.stem.startswith("lib"):
            command = ["-shared", "-fPIC", "-o", str(out / f"{source.stem}.so")]
        else:
            command = ["-o", str(out / source.stem)]
        subprocess.run(["gcc", "-O2", *command, str(source)], check=True)


def _debug_variants(source: Path, out: Path) -> None:
    """ptt_dwarf (-g), ptt_dwarf_nodebug (none), ptt_dwarf_linked (its debug
    file in .debug/, named by .gnu_debuglink), ptt_dwarf_stripped (its debug
    file in debug/, found with --debuginfo), ptt_dwarf_bare (as linked, but
    stripped of its symbol table too: only the debug file names its
    functions), ptt_dwarf_split (-gsplit-dwarf:
    a .dwo file beside it) and ptt_dwarf_packaged (-gsplit-dwarf, its .dwo
    file packed by binutils' dwp into ptt_dwarf_packaged.dwp, DWARF 4: dwp
    cannot pack DWARF 5)."""
    def run(*command: str) -> None:
        subprocess.run(command, check=True, cwd=out)

    run("gcc", "-g", "-O0", "-o", "ptt_dwarf", str(source))
    run("gcc", "-O0", "-o", "ptt_dwarf_nodebug", str(source))
    run("gcc", "-g", "-O0", "-gsplit-dwarf", "-o", "ptt_dwarf_split", str(source))
    run("gcc", "-g", "-gdwarf-4", "-O0", "-gsplit-dwarf", "-o", "ptt_dwarf_packaged",
        str(source))
    run("dwp", "-e", "ptt_dwarf_packaged", "-o", "ptt_dwarf_packaged.dwp")
    for dwo in out.glob("ptt_dwarf_packaged*.dwo"):
        dwo.unlink()
    for name, where, strip in (("ptt_dwarf_linked", ".debug", "--strip-debug"),
                               ("ptt_dwarf_stripped", "debug", "--strip-debug"),
                               ("ptt_dwarf_bare", ".debug", "--strip-all")):
        (out / where).mkdir(exist_ok=True)
        run("objcopy", "--only-keep-debug", "ptt_dwarf", f"{where}/{name}.debug")
        run("objcopy", strip, "ptt_dwarf", name)
    for name in ("ptt_dwarf_linked", "ptt_dwarf_bare"):
        run("objcopy", f"--add-gnu-debuglink=.debug/{name}.debug", name)


@pytest.fixture(scope="session")
def ptrace_exe() -> list[str]:
    """The command that runs ptrace: the installed console script."""
    exe = ROOT / ".venv" / "bin" / "ptrace"
    return [str(exe)] if exe.exists() else ["python", "-m", "ptrace"]
