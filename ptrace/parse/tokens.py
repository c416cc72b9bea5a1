"""Any text as the grammar's tokens, for tools that see text being typed: the
REPL's highlighting, completion and continuation.

The parser refuses what is not yet a program; this lexer does not. It uses
the grammar's own terminals (one basic lexer, built on first use), keeps
spaces and comments, and turns what no terminal matches into tokens too.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from lark import Lark
from lark.exceptions import UnexpectedCharacters

from ptrace.parse.parser import grammar_text


class Token(NamedTuple):
    type: str  # the grammar's terminal name (NAME, LBRACE, …), WS, or ERROR
    text: str
    start: int


@functools.cache
def _lexer() -> Lark:
    return Lark(grammar_text(), parser=None, lexer="basic")


def tokens(text: str) -> list[Token]:
    """Every character of `text` in a token, spaces and comments included.

    Input being typed does not stop the lexer: an unterminated string runs to
    the end of its line, an unterminated comment to the end of the text, and
    any other character no terminal matches is an ERROR token.
    """
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        try:
            for token in _lexer().lex(text[pos:], dont_ignore=True):
                out.append(Token(token.type, str(token), pos + (token.start_pos or 0)))
            break
        except UnexpectedCharacters as error:
            start = pos + (error.pos_in_stream or 0)
            if text.startswith('"', start):
                line_end = text.find("\n", start)
                kind, pos = "STRING", len(text) if line_end < 0 else line_end
            elif text.startswith("/*", start):
                kind, pos = "COMMENT", len(text)
            else:
                kind, pos = "ERROR", start + 1
            out.append(Token(kind, text[start:pos], start))
    return out


@functools.cache
def keywords() -> frozenset[str]:
    """The grammar's keyword terminals: the literal words (`if`, `while`, `macro`, …)."""
    return frozenset(t.name for t in _lexer().terminals
                     if t.pattern.type == "str" and t.pattern.value.isalpha())
