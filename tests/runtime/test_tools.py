"""The shipped tools (tools/*.bt): each compiles and the kernel's verifier takes
it on this machine, and the runtime cases run the text that ships."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.runtime.casefile import parse_cases

ROOT = Path(__file__).resolve().parents[2]
TOOLS = sorted((ROOT / "tools").glob("*.bt"))
TOOL_CASES = ROOT / "tests" / "runtime" / "cases" / "tools.case"


def test_there_are_tools() -> None:
    assert len(TOOLS) >= 17


def test_tool_cases_run_the_shipped_text() -> None:
    """Each case of tools.case is named after a tool and runs its file verbatim;
    every tool has a case."""
    progs = {case.name.split(":")[0]: case.prog for case in parse_cases(TOOL_CASES)
             if case.prog}
    assert sorted(progs) == sorted(tool.stem for tool in TOOLS)
    stale = [name for name, prog in progs.items()
             if prog.strip() != (ROOT / "tools" / f"{name}.bt").read_text().strip()]
    assert not stale, f"tools.case differs from tools/ for: {', '.join(stale)}"


@pytest.mark.bpf
def test_every_tool_loads(ptrace_exe: list[str]) -> None:
    """--dry-run: compiled, loaded and accepted by the verifier, nothing attached.
    One test over all the tools, run a few at a time; the failures are listed."""
    def dry_run(tool: Path) -> str | None:
        done = subprocess.run([*ptrace_exe, "--dry-run", str(tool)], capture_output=True,
                              text=True, timeout=120)
        if done.returncode == 0 and "accepted by the kernel's verifier" in done.stderr:
            return None
        return f"{tool.name}: exit {done.returncode}\n{done.stderr}"

    with ThreadPoolExecutor(max_workers=4) as pool:
        failed = [f for f in pool.map(dry_run, TOOLS) if f is not None]
    assert not failed, "\n".join(failed)
