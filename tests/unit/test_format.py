"""The formatter (ptrace --fmt) and the parser's round trip: every script in
tests/ and tools/ that parses gives, formatted and parsed again, the same tree
(spans aside), and formatting the result changes nothing more."""

from __future__ import annotations

from pathlib import Path

from ptrace.ast.format import Comment, format_program, same_shape
from ptrace.diagnostics import CompileError, Source
from ptrace.parse import parse_program
from ptrace.parse.tokens import tokens
from tests.runtime.casefile import parse_cases

ROOT = Path(__file__).resolve().parents[2]


def scripts() -> list[tuple[str, str]]:
    """(name, text) of the tools, the golden diagnostics' scripts and the runtime cases."""
    found = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8", errors="surrogateescape"))
             for folder in ("tools", "tests/diagnostics")
             for p in sorted((ROOT / folder).glob("*.bt"))]
    for path in sorted((ROOT / "tests" / "runtime" / "cases").glob("*.case")):
        found += [(f"{path.name}:{case.name}", case.prog) for case in parse_cases(path)
                  if case.prog]
    return found


def parsed(name: str, text: str) -> object | None:
    try:
        return parse_program(Source(name, text))
    except CompileError:
        return None  # a script written to fail parsing has no tree to keep


SCRIPTS = scripts()


def test_there_are_scripts_to_round_trip() -> None:
    assert len(SCRIPTS) > 300


def test_format_round_trips() -> None:
    """One test over every script (hundreds of them: one test each would cost more
    than the checks); the failures are listed by name."""
    failed = []
    for name, text in SCRIPTS:
        tree = parsed(name, text)
        if tree is None:
            continue
        formatted = format_program(tree)  # type: ignore[arg-type]
        again = parsed(name, formatted)
        if again is None or not same_shape(tree, again) or \
                format_program(again) != formatted:  # type: ignore[arg-type]
            failed.append(f"{name}:\n{formatted}")
    assert not failed, "\n".join(failed)


def test_layout() -> None:
    text = ('tracepoint:a:b,tracepoint:a:c /pid==1&&(comm=="x"||1)/ '
            '{ @x[comm]=count(); if ($a) { $b = -(-1); } else { $c = (1+2)*3; } }')
    tree = parse_program(Source("t.bt", text))
    assert format_program(tree) == (
        "tracepoint:a:b,\ntracepoint:a:c\n/pid == 1 && (comm == \"x\" || 1)/\n{\n"
        "\t@x[comm] = count();\n\tif ($a) {\n\t\t$b = -(-1);\n\t} else {\n"
        "\t\t$c = (1 + 2) * 3;\n\t}\n}\n")


def test_comments_stay_where_they_were() -> None:
    text = ("#!/usr/bin/env ptrace\n// header\n\nBEGIN { /* why */\n  $a = 1; // one\n"
            "  // before b\n  $b = 2;\n  // at the end\n}\n// trailer\n")
    tree = parse_program(Source("t.bt", text))
    comments = tuple(Comment(text.count("\n", 0, t.start) + 1, t.text)
                     for t in tokens(text) if t.type == "COMMENT")
    assert format_program(tree, "#!/usr/bin/env ptrace", comments) == (
        "#!/usr/bin/env ptrace\n// header\nBEGIN\n{\n\t/* why */\n\t$a = 1; // one\n"
        "\t// before b\n\t$b = 2;\n\t// at the end\n}\n\n// trailer\n")
