"""Tests for ptrace.parse.tokens: the grammar's tokens of any text, which the
REPL highlights, completes and continues by."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptrace.diagnostics import Source
from ptrace.parse import keywords, parse_program, tokens

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "tools").glob("*.bt"))  # the shipped tools


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_a_script_is_every_character_in_order_and_nothing_unknown(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    parse_program(Source(path.name, text))  # a whole program the parser takes …
    toks = tokens(text)
    assert "".join(t.text for t in toks) == text  # … is lexed from end to end,
    assert all(text.startswith(t.text, t.start) for t in toks)  # each token where it is,
    assert "ERROR" not in {t.type for t in toks}  # with a terminal for every character


def test_the_start_of_each_token() -> None:
    toks = tokens("BEGIN {\n  @x = 1; }")
    assert [(t.type, t.start) for t in toks if t.type != "WS"] == [
        ("ATTACH_POINT", 0), ("LBRACE", 6), ("MAP", 10), ("EQUAL", 13), ("INT", 15),
        ("SEMICOLON", 16), ("RBRACE", 18)]


def test_text_being_typed_still_lexes() -> None:
    assert [(t.type, t.text) for t in tokens('printf("a\nb /* c')] == [
        ("NAME", "printf"), ("LPAR", "("), ("STRING", '"a'), ("WS", "\n"), ("NAME", "b"),
        ("WS", " "), ("COMMENT", "/* c")]


def test_keywords_are_the_grammars_words() -> None:
    assert {"IF", "ELSE", "WHILE", "FOR", "RETURN", "MACRO", "CONFIG", "LET"} <= keywords()
    assert not {"NAME", "MAP", "VAR", "ATTACH_POINT", "LBRACE"} & keywords()
    words = {t.type for t in tokens("if else while for return macro config let")} - {"WS"}
    assert words <= keywords()


def test_a_parameter_is_an_attach_point_only_before_a_block_predicate_or_comma() -> None:
    def kinds(text: str) -> list[str]:
        return [t.type for t in tokens(text) if t.type != "WS"]

    assert kinds("$1 + 1") == ["POSITIONAL", "PLUS", "INT"]
    assert kinds("$1 / 2") == ["POSITIONAL", "SLASH", "INT"]
    assert kinds("$1 { }")[0] == "ATTACH_POINT"
    assert kinds("BEG$1, $2 /pid/ { }")[:3] == ["ATTACH_POINT", "COMMA", "ATTACH_POINT"]
