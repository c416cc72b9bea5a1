"""Golden diagnostics: compile a script against fixture tracepoints, render its errors.

Each `NAME.bt` in this folder has a `NAME.expected`: exactly what ptrace
prints on stderr for it. `scripts/regen-diagnostics` writes the `.expected`
files with `render_case`; `tests/unit/test_diagnostics.py` compares them.
The machine is fixed (the formats in `formats/`, copied from a real tracefs)
so the output does not depend on the kernel the tests run on.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ptrace.compile import compile
from ptrace.diagnostics import CompileError, Source, render_all
from ptrace.machine import FixtureMachine

HERE = Path(__file__).resolve().parent
FORMATS = HERE / "formats"


@functools.cache
def fixture_machine() -> FixtureMachine:
    """The tracepoints of `formats/category.event.format`, and no others."""
    formats: dict[tuple[str, str], str] = {}
    for path in sorted(FORMATS.glob("*.format")):
        category, event, _ = path.name.split(".")
        formats[category, event] = path.read_text()
    return FixtureMachine(formats)


def case_scripts() -> list[Path]:
    return sorted(HERE.glob("*.bt"))


def compile_errors(name: str, text: str) -> str | None:
    """What ptrace prints on stderr for a script that does not compile; None if it does."""
    try:
        compile(Source(name, text), machine=fixture_machine())
    except CompileError as error:
        return render_all(error.diagnostics) + "\n"
    return None


def render_case(script: Path) -> str:
    """The expected stderr of a golden case; a script that compiles is a broken case."""
    output = compile_errors(script.name, script.read_text())
    if output is None:
        raise ValueError(f"{script.name} compiles without errors: a golden case must fail")
    return output
