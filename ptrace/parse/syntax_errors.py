"""Lark's parse errors → diagnostics in the user's words.

"unexpected '}', expected an expression" instead of token names such as
RBRACE or __ANON_3.
"""

from __future__ import annotations

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ptrace.diagnostics import Diagnostic, Severity, Source, Span

# Terminals that can start an expression: if any is expected, the user hears
# "an expression" rather than a list of them.
_EXPRESSION_START = {"INT", "STRING", "TRUE", "FALSE", "NAME", "VAR", "POSITIONAL", "MAP",
                     "MINUS", "BANG", "TILDE", "INCDEC", "SIZEOF", "OFFSETOF"}
_TOP_LEVEL_START = {"ATTACH_POINT", "MACRO", "CONFIG", "PREPROC", "TYPEDEF"}
_WORDS = {
    "ATTACH_POINT": "a probe",
    "PREDICATE": "a predicate",
    "ASSIGN_OP": "'='",
    "NAME": "a name",
    "VAR": "a variable ($name)",
    "MAP": "a map (@name)",
    "INT": "a number",
    "STRING": "a string",
    "INT_TYPE": "a type",
    "C_TYPE_WORD": "a type",
    "EQOP": "'=='",
    "RELOP": "a comparison",
    "SHIFTOP": "'<<'",
    "INCDEC": "'++'",
    "$END": "the end of the script",
}
_FOUND = {
    "NAME": "name", "VAR": "variable", "MAP": "map", "INT": "number", "STRING": "string",
    "ATTACH_POINT": "probe", "PREDICATE": "predicate", "POSITIONAL": "parameter",
}


def syntax_error(source: Source, text: str, error: UnexpectedInput) -> Diagnostic:
    line, col = error.line, error.column
    if line is None or line < 1:
        line, col = _end_position(text)
    if isinstance(error, UnexpectedToken) and error.token.type == "$END":
        line, col = _end_position(text)
    found, width = _describe_found(text, error)
    expected = _describe_expected(_expected_terminals(error))
    message = f"unexpected {found}"
    hints: tuple[str, ...] = ()
    if expected:
        message += f", expected {expected}"
    if isinstance(error, UnexpectedCharacters) and text[error.pos_in_stream or 0] == "/":
        hints = ("a predicate is written '/ condition /' and followed by the probe's '{'",)
    span = Span(source, line, col, line, col + max(width, 1))
    return Diagnostic(Severity.ERROR, message, span, hints)


def _expected_terminals(error: UnexpectedInput) -> set[str]:
    if isinstance(error, UnexpectedToken | UnexpectedEOF):
        return set(error.expected)
    if isinstance(error, UnexpectedCharacters):
        return set(error.allowed or ())
    return set()


def _describe_found(text: str, error: UnexpectedInput) -> tuple[str, int]:
    if isinstance(error, UnexpectedEOF):
        return "end of input", 1
    if isinstance(error, UnexpectedToken):
        token = error.token
        if token.type == "$END":
            return "end of input", 1
        value = str(token)
        kind = _FOUND.get(token.type)
        shown = value if len(value) <= 30 else value[:27] + "..."
        return (f"{kind} '{shown}'" if kind else f"'{shown}'"), len(value.split("\n")[0])
    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream or 0]
        if char == '"':
            return "'\"' (a string that is not closed)", 1
        return f"character '{char}'", 1
    return "input", 1


def _describe_expected(expected: set[str]) -> str:
    if not expected:
        return ""
    if expected & _TOP_LEVEL_START:
        return "a probe (such as 'tracepoint:syscalls:sys_enter_openat { … }')"
    words: list[str] = []
    if expected & _EXPRESSION_START:
        words.append("an expression")
        expected = expected - _EXPRESSION_START - {"LPAR", "PLUS", "STAR", "AMP", "LBRACE",
                                                    "IF"}
    if {"PREDICATE", "LBRACE"} <= expected:
        words.append("'{' or a predicate")
        expected = expected - {"PREDICATE", "LBRACE", "COMMA"}
    for name in sorted(expected, key=_order):
        word = _word(name)
        if word and word not in words:
            words.append(word)
    if len(words) > 4:
        words = [*words[:4], "…"]
    return " or ".join(words) if len(words) <= 2 else ", ".join(words[:-1]) + " or " + words[-1]


_PUNCTUATION = {"SEMICOLON": "';'", "RBRACE": "'}'", "RPAR": "')'", "COMMA": "','",
                "LBRACE": "'{'", "LPAR": "'('", "RSQB": "']'", "LSQB": "'['", "COLON": "':'",
                "EQUAL": "'='", "DOT": "'.'", "QMARK": "'?'"}


def _order(name: str) -> tuple[int, str]:
    return (0 if name in _PUNCTUATION else 1, name)


def _word(name: str) -> str:
    if name in _PUNCTUATION:
        return _PUNCTUATION[name]
    if name in _WORDS:
        return _WORDS[name]
    if name in ("OROR", "ANDAND", "BAR", "CARET", "AMP", "PLUS", "STAR", "SLASH", "PERCENT",
                "TILDE", "BANG", "MINUS"):
        return ""  # binary operators: listing them all says nothing useful
    if name.isalpha() and name.isupper():
        return f"'{name.lower()}'"  # a keyword
    return ""


def _end_position(text: str) -> tuple[int, int]:
    stripped = text.rstrip()
    lines = stripped.split("\n")
    return len(lines), len(lines[-1]) + 1
