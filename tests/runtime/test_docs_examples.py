"""Runs every example of docs/language.md as a user would, and checks its output.

A code block in the page is marked by the HTML comment right before it
(invisible on GitHub; only blank lines may come between):

    <!-- example -->            a program: one line is given with -e, more as a file
    <!-- example                … with case-file directives, one a line
    ARGS -f json                  (ARGS ENV PARAMS RUN EXIT TIMEOUT, as in
    RUN ptt_as demo write:3        tests/runtime/casefile.py)
    -->
    <!-- output -->             what the example before prints on stdout, exactly
    <!-- stderr -->             … and on stderr, without the "Attached N probes" line
    <!-- output varies: why --> sample output (timestamps, addresses): not compared
    <!-- not runnable: why -->  a program that cannot run on the test machines

An example without an output block must print nothing, one without a stderr
block nothing on stderr. Trigger programs (tests/progs) are on PATH, so an
example can name them (`-c 'ptt_getppid 3'`, `uprobe:ptt_uprobe:ptt_add`).
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.runtime.casefile import Case, set_directive
from tests.runtime.test_cases import check_outcome, run_case

DOCS = ROOT / "docs" / "language.md"
FENCE = re.compile(r"^( *)(```+|~~~+)")
DIRECTIVES = frozenset({"ARGS", "ENV", "PARAMS", "RUN", "EXIT", "TIMEOUT"})
# Markers that need a reason after the colon.
REASONED = ("output varies:", "not runnable:")


@dataclass
class CodeBlock:
    marker: str | None  # the HTML comment right before the block, without <!-- -->
    body: str  # dedented to the fence's indentation
    line: int  # of the opening fence


@dataclass
class DocExamples:
    """The examples of a page, what it marks as not runnable, and what is wrongly marked."""
    cases: list[Case] = field(default_factory=list)
    not_runnable: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def code_blocks(text: str) -> list[CodeBlock]:
    """The fenced code blocks of a Markdown page, each with its marker."""
    blocks: list[CodeBlock] = []
    lines = text.split("\n")
    marker: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if line.strip().startswith("<!--"):
            start = i
            while i < len(lines) - 1 and "-->" not in lines[i]:
                i += 1
            marker = "\n".join(lines[start:i + 1]).strip().removeprefix("<!--")
            marker = marker.removesuffix("-->").strip()
        elif fence is not None:
            indent, ticks = fence.groups()
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith(ticks):
                end += 1
            body = "\n".join(text[len(indent):] for text in lines[i + 1:end])
            blocks.append(CodeBlock(marker, body, i + 1))
            marker = None
            i = end
        elif line.strip():
            marker = None  # a marker applies to the block right after it
        i += 1
    return blocks


def parse_examples(path: Path) -> DocExamples:
    """Read a page's marked code blocks into cases; report blocks marked wrongly or not at all."""
    found = DocExamples()
    current: Case | None = None  # the example that output blocks belong to
    outputs: set[str] = set()  # the output blocks it has
    for block in code_blocks(path.read_text()):
        where = f"{path.name}:{block.line}"
        marker = block.marker or ""
        if marker.split(maxsplit=1)[:1] == ["example"]:
            current, outputs = _example(found, block, marker, path, where), set()
            continue
        if marker.startswith(REASONED) and not marker.partition(":")[2].strip():
            found.errors.append(f"{where}: '{marker}' needs a reason after the colon")
        if marker.startswith("not runnable:"):
            found.not_runnable.append(where)
            current = None
            continue
        kind = "output" if marker.startswith("output varies:") else marker
        if kind not in ("output", "stderr"):
            found.errors.append(f"{where}: a code block without a marker (<!-- example -->, "
                                "<!-- output -->, <!-- stderr -->, <!-- output varies: why -->, "
                                "<!-- not runnable: why -->)")
        elif current is None:
            found.errors.append(f"{where}: an output block with no example before it")
        elif kind in outputs:
            found.errors.append(f"{where}: a second {kind} block of an example")
        else:
            outputs.add(kind)
            if kind == "stderr":
                current.stderr = block.body
            else:
                current.expect = None if marker != "output" else block.body
    return found


def _example(found: DocExamples, block: CodeBlock, marker: str, path: Path,
             where: str) -> Case:
    """An example's case: its program, and the directives in its marker."""
    prog = block.body.strip("\n")
    case = Case(f"line {block.line}", path, block.line, expect="", stderr="")
    set_directive(case, "PROG", prog, block="\n" in prog)
    for directive in marker.removeprefix("example").strip().split("\n"):
        key, _, value = directive.strip().partition(" ")
        if key in DIRECTIVES:
            set_directive(case, key, value)
        elif key:
            found.errors.append(f"{where}: unknown directive '{directive.strip()}' "
                                f"(one of {', '.join(sorted(DIRECTIVES))})")
    found.cases.append(case)
    return case


EXAMPLES = parse_examples(DOCS)


def test_every_code_block_is_marked() -> None:
    assert not EXAMPLES.errors, "\n".join(EXAMPLES.errors)


def test_markers_are_read_and_checked(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("""
<!-- example ARGS -q -->
```
BEGIN { print(1); }
```
<!-- output -->
```
1
```
<!-- example
RUN ptt_as demo ppid:1
EXIT 3
-->
  ```
  BEGIN {
  }
  ```
  <!-- output varies: times -->
  ```
  12:00
  ```
  <!-- stderr -->
  ```
  oops
  ```
  <!-- output -->
  ```
  twice
  ```
<!-- not runnable: no kprobes here -->
```
kprobe:f { }
```
<!-- output -->
```
orphan
```
<!-- example NOPE 1 -->
```
BEGIN { }
```
Some text.
```
unmarked
```
<!-- not runnable: -->
```
x
```
""")
    found = parse_examples(page)
    first, second, third = found.cases
    assert (first.prog, first.prog_is_file, first.args, first.expect, first.stderr) == \
        ("BEGIN { print(1); }", False, ["-q"], "1", "")
    assert (second.prog, second.prog_is_file, second.run, second.exit) == \
        ("BEGIN {\n}", True, ["ptt_as", "demo", "ppid:1"], 3)
    assert (second.expect, second.stderr) == (None, "oops")
    assert found.not_runnable == ["page.md:31", "page.md:47"]
    assert found.errors == [
        "page.md:27: a second output block of an example",
        "page.md:35: an output block with no example before it",
        "page.md:39: unknown directive 'NOPE 1' (one of ARGS, ENV, EXIT, PARAMS, RUN, TIMEOUT)",
        "page.md:43: a code block without a marker (<!-- example -->, <!-- output -->, "
        "<!-- stderr -->, <!-- output varies: why -->, <!-- not runnable: why -->)",
        "page.md:47: 'not runnable:' needs a reason after the colon",
    ]
    assert third.prog == "BEGIN { }"


@pytest.mark.bpf
@pytest.mark.parametrize("case", EXAMPLES.cases, ids=[c.id for c in EXAMPLES.cases])
def test_example(case: Case, ptrace_exe: list[str], triggers: Path) -> None:
    on_path = dataclasses.replace(case, env={**case.env,
                                             "PATH": f"{triggers}:{os.environ['PATH']}"})
    check_outcome(on_path, run_case(on_path, ptrace_exe, triggers), triggers)
