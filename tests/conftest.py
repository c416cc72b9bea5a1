"""Shared fixtures: the BPF requirement, and trigger programs built at test time.

Tests that load BPF are marked `bpf`. Without root or BPF they skip, unless
PTRACE_REQUIRE_BPF=1 (as CI sets it): then a skip would hide a failure, so
the test fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGS = ROOT / "tests" / "progs"


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


@pytest.fixture(scope="session")
def triggers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with every tests/progs/*.c built as an executable of the same
    name, and every lib*.c as a shared library (libNAME.so); ptt_dwarf.c with
    its debug information in each of the places ptrace looks for it."""
    out = tmp_path_factory.mktemp("triggers")
    for source in sorted(PROGS.glob("*.c")):
        if source.stem == "ptt_dwarf":
            _debug_variants(source, out)
            continue
        if source.stem.startswith("lib"):
            command = ["-shared", "-fPIC", "-o", str(out / f"{source.stem}.so")]
        else:
            command = ["-o", str(out / source.stem)]
        subprocess.run(["gcc", "-O2", *command, str(source)], check=True)
    return out


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
