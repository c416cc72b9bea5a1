"""The fuzzer's compile worker: compiles scripts it is sent and says how each ended.

Run as `python -m tests.fuzz.worker STDERR_FILE`. It reads cases from standard
input (a 4-byte big-endian length, then the script's bytes) and answers each
with one line: the outcome's name, a tab, and a one-line detail. Its own file
descriptor 2 goes to STDERR_FILE, so what a library writes there (LLVM's own
messages) is seen and counted as an unlocated message. A worker that stops
answering (a hang) or dies (a signal) is replaced by the fuzzer.
"""

from __future__ import annotations

import os
import re
import sys
import traceback

from ptrace.compile import compile
from ptrace.diagnostics import CompileError, Severity, Source, render_all
from ptrace.machine import LiveMachine
from ptrace.options import Options

# More diagnostic text than this for one script is unbounded output.
MAX_OUTPUT = 64 * 1024
# Control characters that must not reach a terminal from a diagnostic.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def classify(data: bytes, machine: LiveMachine) -> tuple[str, str]:
    """How compiling one script ended: (outcome, detail)."""
    source = Source("fuzz.bt", data.decode("utf-8", "surrogateescape"))
    try:
        program = compile(source, Options(), machine)
    except CompileError as error:
        text = render_all(error.diagnostics)
        unlocated = [d for d in error.diagnostics
                     if d.severity is Severity.ERROR and d.span is None]
        if unlocated:
            return "unlocated", unlocated[0].message[:200]
        if not any(d.severity is Severity.ERROR for d in error.diagnostics):
            return "internal", "CompileError without an error"
        return _checked_text(text, "diagnostic", error.diagnostics[0].message)
    except Exception as error:  # what the fuzzer looks for
        frame = traceback.extract_tb(error.__traceback__)[-1]
        where = f"{os.path.relpath(frame.filename)}:{frame.lineno}"
        return "internal", f"{type(error).__name__}: {str(error)[:150]} at {where}"
    return _checked_text("\n".join(program.warnings), "ok", "")


def _checked_text(text: str, outcome: str, detail: str) -> tuple[str, str]:
    if len(text) > MAX_OUTPUT:
        return "output", f"{len(text)} characters of diagnostics"
    control = RAW_CONTROL.search(text)
    if control:
        return "control", f"raw {control.group()!r} in: {detail[:100]}"
    return outcome, detail[:200]


def main() -> int:
    errors = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(errors, 2)
    machine = LiveMachine()
    stdin, stdout = sys.stdin.buffer, sys.stdout
    while True:
        header = stdin.read(4)
        if len(header) < 4:
            return 0
        data = stdin.read(int.from_bytes(header, "big"))
        outcome, detail = classify(data, machine)
        sys.stderr.flush()
        leaked = os.pread(errors, 300, 0)
        if leaked:
            os.ftruncate(errors, 0)
            os.lseek(2, 0, os.SEEK_SET)
            if outcome in ("ok", "diagnostic"):
                first = leaked.decode("utf-8", "replace").strip().split("\n")[0]
                outcome, detail = "unlocated", first[:200]
        detail = detail.replace("\n", " ").replace("\t", " ")
        stdout.write(f"{outcome}\t{detail}\n")
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
