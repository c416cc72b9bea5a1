"""Input nobody writes on purpose: huge literals, long lines, control characters."""

from __future__ import annotations

import tracemalloc

import pytest

from ptrace.diagnostics import CompileError, Diagnostic, Severity, Source, Span, render
from ptrace.parse import parse_program
from ptrace.parse.literals import unescape


def test_a_megabytes_long_string_is_lexed_in_little_memory() -> None:
    # The string terminal once kept regex state per character: 10 MB took 2.9 GB.
    text = 'BEGIN { printf("' + "a" * 2_000_000 + '"); }'
    tracemalloc.start()
    try:
        parse_program(Source("big.bt", text))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 60 * 1024 * 1024


def test_unescape_converts_runs_between_escapes() -> None:
    assert unescape(r"a\x41\101\\n\0é") == "aAA\\n\0" + "é".encode().decode("latin-1")


def test_a_long_line_is_shown_as_a_window_around_the_error() -> None:
    source = Source("x.bt", "BEGIN { $" + "a" * 1000 + " = 1; @x = nosuch; }")
    column = source.text.index("nosuch") + 1
    lines = render(Diagnostic(Severity.ERROR, "unknown identifier 'nosuch'",
                              Span(source, 1, column, 1, column + 6))).split("\n")
    assert all(len(line) < 200 for line in lines)
    marker = lines[2].index("^")
    assert lines[1][marker:marker + 6] == "nosuch"
    assert lines[2].strip() == "^~~~~~"


def test_control_characters_show_as_question_marks() -> None:
    source = Source("x\x1b.bt", "BEGIN { @x = \x1b[2J\x07; }")
    text = render(Diagnostic(Severity.ERROR, "unexpected \x1b", Span(source, 1, 14, 1, 15)))
    assert "\x1b" not in text and "\x07" not in text
    assert text.split("\n")[1] == "    BEGIN { @x = ?[2J?; }"


def test_a_nul_byte_in_an_attach_point_is_an_error_at_its_place() -> None:
    # It reached the tracepoint's format file's path: ValueError (embedded null byte).
    source = Source("x.bt", "BEGIN { }\ntracepoint:syscalls:sys_enter_open\0at { }")
    with pytest.raises(CompileError) as caught:
        parse_program(source)
    (diagnostic,) = caught.value.diagnostics
    assert render(diagnostic) == (
        "x.bt:2:35: error: an attach point cannot hold a NUL byte\n"
        "    tracepoint:syscalls:sys_enter_open?at { }\n"
        "                                      ^")
