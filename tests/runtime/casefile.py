"""Declarative runtime cases: the `.case` file format.

    # a comment
    NAME count getppid calls              starts a case
    PROG tracepoint:… { … }               the program, on one line (given with -e);
                                          @@TRIGGERS@@ stands for the triggers' directory
    PROG                                  … or as a block, up to a line `---` (given as a file);
                                          without PROG, ARGS names the program (-t TOOL)
    ARGS -q                               extra ptrace options (shell words)
    ENV PTRACE_MAX_MAP_KEYS=4             environment variables for ptrace (shell words)
    PARAMS 42 hello                       positional parameters ($1, $2, …)
    RUN ptt_getppid 5                     after attaching, run a trigger from tests/progs
    EXPECT                                stdout, exactly (surrounding blank lines ignored),
    @: 5                                  a block up to `---`
    ---
    EXPECT_REGEX                          or a regex that must match all of stdout
    STDERR                                stderr without the "Attached N probes" line, exactly
    EXIT 1                                the exit status (default 0)
    TIMEOUT 10                            seconds (default 10)
    REQUIRES bpftrace                     a program that must be on PATH

With RUN, ptrace gets SIGINT once the trigger has exited; without RUN the
program must end by itself (exit(), or BEGIN/END only).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

# In a program, its arguments or parameters: the directory of the built trigger programs.
TRIGGERS = "@@TRIGGERS@@"
BLOCKS = {"PROG", "EXPECT", "EXPECT_REGEX", "STDERR"}
LINES = {"NAME", "PROG", "ARGS", "ENV", "PARAMS", "RUN", "EXIT", "TIMEOUT", "REQUIRES"}


@dataclass
class Case:
    name: str
    path: Path
    line: int
    prog: str = ""
    prog_is_file: bool = False
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    params: list[str] = field(default_factory=list)
    run: list[str] = field(default_factory=list)
    expect: str | None = None
    expect_regex: str | None = None
    stderr: str | None = None
    exit: int = 0
    timeout: float = 10.0
    requires: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.path.stem}:{self.name}"

    @property
    def runs_triggers(self) -> bool:
        """Whether the case may run or probe a program of tests/progs (RUN, their
        directory, or a name of theirs: ptt_*, on PATH in the docs' examples)."""
        texts = (self.prog, *self.args, *self.params, *self.env.values())
        return bool(self.run) or any(TRIGGERS in text or "ptt_" in text for text in texts)


def parse_cases(path: Path) -> list[Case]:
    cases: list[Case] = []
    lines = path.read_text().split("\n")
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        if not raw.strip() or raw.startswith("#"):
            continue
        key, _, value = raw.partition(" ")
        if key in BLOCKS and not value:
            block: list[str] = []
            while i < len(lines) and lines[i] != "---":
                block.append(lines[i])
                i += 1
            if i == len(lines):
                raise ValueError(f"{path}:{i}: block {key} has no closing ---")
            i += 1
            _set(cases, path, i, key, "\n".join(block), block=True)
        elif key in LINES:
            if key == "NAME":
                cases.append(Case(value, path, i))
            else:
                _set(cases, path, i, key, value, block=False)
        else:
            raise ValueError(f"{path}:{i}: unknown directive {key!r}")
    return cases


def _set(cases: list[Case], path: Path, line: int, key: str, value: str, block: bool) -> None:
    if not cases:
        raise ValueError(f"{path}:{line}: {key} before any NAME")
    set_directive(cases[-1], key, value, block)


def set_directive(case: Case, key: str, value: str, block: bool = False) -> None:
    """Set one directive (a key of BLOCKS or LINES but NAME) of a case."""
    if key == "PROG":
        case.prog, case.prog_is_file = value, block
    elif key == "ARGS":
        case.args = shlex.split(value)
    elif key == "ENV":
        case.env = dict(word.split("=", 1) for word in shlex.split(value))
    elif key == "PARAMS":
        case.params = shlex.split(value)
    elif key == "RUN":
        case.run = shlex.split(value)
    elif key == "EXPECT":
        case.expect = value
    elif key == "EXPECT_REGEX":
        case.expect_regex = value
    elif key == "STDERR":
        case.stderr = value
    elif key == "EXIT":
        case.exit = int(value)
    elif key == "TIMEOUT":
        case.timeout = float(value)
    elif key == "REQUIRES":
        case.requires = value.split()
