"""Tests for the preprocessor's conditionals (ptrace.parse.preprocess): which
lines the parser sees, with every line kept in its place."""

from __future__ import annotations

import pytest

from ptrace.diagnostics import Reporter, Source
from ptrace.parse.preprocess import PredefinedNames, preprocess


def run(text: str, btf: bool = True) -> tuple[str, list[str]]:
    reporter = Reporter()
    out = preprocess(Source("t.bt", text), text, reporter, PredefinedNames(lambda: btf))
    return out, [f"{d.span.line}: {d.message}" for d in reporter.diagnostics]


def kept(text: str, btf: bool = True) -> list[str]:
    out, errors = run(text, btf)
    assert not errors
    assert out.count("\n") == text.count("\n")  # every line keeps its place
    return [line for line in out.split("\n") if line.strip()]


def test_text_without_directives_is_unchanged() -> None:
    text = "BEGIN { printf(\"#not a directive\\n\"); }\n"
    assert run(text) == (text, [])


@pytest.mark.parametrize(("btf", "expected"), [(True, ["with"]), (False, ["without"])])
def test_bpftrace_have_btf_follows_the_kernel(btf: bool, expected: list[str]) -> None:
    assert kept("#ifdef BPFTRACE_HAVE_BTF\nwith\n#else\nwithout\n#endif\n", btf) == expected


def test_btf_is_asked_only_when_a_condition_names_it() -> None:
    asked: list[bool] = []
    names = PredefinedNames(lambda: asked.append(True) or True)
    preprocess(Source("t", ""), "#ifdef X\n#endif\n", Reporter(), names)
    assert not asked
    preprocess(Source("t", ""), "#ifndef BPFTRACE_HAVE_BTF\n#endif\n", Reporter(), names)
    assert asked


def test_elif_chain_takes_the_first_true_branch() -> None:
    text = ("#define N 2\n#if N == 1\none\n#elif N == 2\ntwo\n#elif N > 1\nmore\n"
            "#else\nnone\n#endif\n")
    assert kept(text) == ["#define N 2", "two"]


def test_nested_conditionals_in_a_branch_not_taken_take_nothing() -> None:
    text = "#if 0\n#if 1\na\n#else\nb\n#endif\n#else\nc\n#endif\n"
    assert kept(text) == ["c"]


def test_defines_and_undefs_inside_branches_count_only_where_taken() -> None:
    text = ("#if 0\n#define A 1\n#endif\n#ifdef A\nno\n#endif\n"
            "#define B 1\n#undef B\n#ifndef B\nyes\n#endif\n")
    assert kept(text) == ["#define B 1", "#undef B", "yes"]


@pytest.mark.parametrize(("condition", "value"), [
    ("1 + 2 * 3 == 7", True), ("(1 + 2) * 3 == 7", False), ("-7 / 2 == -3", True),
    ("-7 % 3 == -1", True), ("1 << 4 == 0x10", True), ("010 == 8", True),
    ("!defined(NOPE) && defined X", True), ("X ? 0 : 1", False), ("UNDEFINED", False),
    ("~0 == -1", True), ("3 > 2 > 1", False), ("5 & 3 | 8 ^ 1", True),
    ("__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__", True), ("2UL == 2", True),
])
def test_conditions_are_c_integer_expressions(condition: str, value: bool) -> None:
    assert kept(f"#define X 4\n#if {condition}\nyes\n#endif\n") == (
        ["#define X 4", "yes"] if value else ["#define X 4"])


def test_directive_lines_continue_and_comments_hide_directives() -> None:
    text = "#if 1 && \\\n  0\nno\n#endif\n/*\n#error hidden\n*/\nyes\n"
    assert kept(text) == ["/*", "#error hidden", "*/", "yes"]


def test_a_shebang_is_not_a_directive() -> None:
    assert kept("#!/usr/bin/env ptrace\nBEGIN { }\n") == ["#!/usr/bin/env ptrace", "BEGIN { }"]


@pytest.mark.parametrize(("text", "error"), [
    ("#endif\n", "1: #endif without #if"),
    ("#else\n", "1: #else without #if"),
    ("\n#ifdef A\n", "2: #ifdef without #endif"),
    ("#if 1\n#else\n#else\n#endif\n", "3: #else after #else"),
    ("#ifdef\n#endif\n", "1: #ifdef takes one name"),
    ("#if\n#endif\n", "1: cannot evaluate this condition: it is empty"),
    ("#if 1 +\n#endif\n", "1: cannot evaluate this condition: it ends too early"),
    ("#if F(1)\n#endif\n", "1: cannot evaluate this condition: 'F(…)' calls a macro with "
                           "parameters, which #if does not take"),
    ("#define D\n#if D\n#endif\n", "2: cannot evaluate this condition: D is defined without "
                                   "a value"),
])
def test_mistakes_are_located(text: str, error: str) -> None:
    assert run(text)[1] == [error]
