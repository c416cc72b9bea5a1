"""Lark's parse errors → diagnostics in the user's words.

"unexpected '}', expected an expression" instead of token names such as
RBRACE or __ANON_3. What is expected comes from the parser's state at the
error (`InteractiveParser.accepts`), not from the LALR table's merged
look-aheads, so after `$x = 1` it is "';' or '}'" and not every terminal
that may follow an expression somewhere in the grammar. Common mistakes
(an unclosed bracket, string, comment or predicate, a stray `else`) get a
message or a hint of their own.
"""

from __future__ import annotations

import difflib
import re

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ptrace.diagnostics import Diagnostic, Severity, Source, Span

_OPERAND_TOKENS = {"INT", "STRING", "NAME", "VAR", "MAP", "POSITIONAL", "TRUE", "FALSE"}
_STATEMENT_START = {"LET", "RETURN", "WHILE", "FOR", "UNROLL", "BREAK", "CONTINUE"}
_TOP_LEVEL_START = {"MACRO", "CONFIG", "PREPROC", "TYPEDEF"}
_TYPE_START = {"INT_TYPE", "C_TYPE_WORD", "STRUCT", "UNION", "ENUM", "TYPEDEF_NAME",
               "TYPE_ONLY_NAME"}
# What may continue an expression (operators, calls, fields, indexes).
_CONTINUATIONS = {"AMP", "ANDAND", "BAR", "CARET", "DOT", "EQOP", "INCDEC", "LSQB", "MINUS",
                  "OROR", "PERCENT", "PLUS", "QMARK", "RELOP", "SHIFTOP", "SLASH", "STAR",
                  "BANG", "TILDE", "LPAR", "ASSIGN_OP", "SIZEOF", "OFFSETOF", "__ANON_1"}
# What may end or separate what came before, in the order they are listed.
_CLOSERS = {"SEMICOLON": "';'", "COMMA": "','", "RPAR": "')'", "RSQB": "']'", "RBRACE": "'}'",
            "COLON": "':'"}
_WORDS = {
    "LBRACE": "'{'", "LPAR": "'('", "EQUAL": "'='", "ASSIGN_OP": "'='",
    "ATTACH_POINT": "an attach point", "PREDICATE": "a predicate", "NAME": "a name",
    "VAR": "a variable ($name)", "MAP": "a map (@name)", "INT": "a number",
    "STRING": "a string", "IF": "'if'",
}
_FOUND = {
    "NAME": "name", "VAR": "variable", "MAP": "map", "INT": "number", "STRING": "string",
    "ATTACH_POINT": "attach point", "PREDICATE": "predicate", "POSITIONAL": "parameter",
    "TYPEDEF_NAME": "type name", "TYPE_ONLY_NAME": "type name",
}
_BRACKETS = {"LBRACE": "RBRACE", "LPAR": "RPAR", "LSQB": "RSQB"}
_CLOSING = {close: open_ for open_, close in _BRACKETS.items()}
_TEXT = {"LBRACE": "{", "RBRACE": "}", "LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]"}
_PREDICATE_HINT = "a predicate is written '/ condition /' and followed by the probe's '{'"
_EXAMPLE_PROBE = "'tracepoint:syscalls:sys_enter_openat { … }'"
_STRING_OR_OTHER = re.compile(r'"(?:[^"\\\n]|\\.)*"?|[^"]')


def syntax_error(source: Source, text: str, error: UnexpectedInput) -> Diagnostic:
    """The diagnostic for a parse error in `text`: all of `source`, or a part of it
    (a predicate's inside) padded so that positions in `text` are positions in `source`."""
    stack = _value_stack(error)
    expected = _expected_terminals(error)
    found = _found_type(error)
    line, col, width = _position(text, error)
    special = _special_message(source, text, line, col, error, found, expected, stack)
    if special is not None:
        return special
    if found == "$END" and not source.text.endswith(text):
        # A part ended where the script goes on: show what comes next in the script.
        line, col = _raw_end(text)
        shown = f"'{source.line(line)[col - 1: col]}'"
    else:
        shown = _describe_found(text, error, found)
    message = f"unexpected {shown}"
    described = _describe_expected(expected, at_end=found == "$END")
    if described:
        message += f", expected {described}"
    hints = _hints(text, line, col, error, found, expected, stack)
    return _diagnostic(source, message, line, col, width, hints)


def _diagnostic(source: Source, message: str, line: int, col: int, width: int,
                hints: list[str]) -> Diagnostic:
    span = Span(source, line, col, line, col + max(width, 1))
    return Diagnostic(Severity.ERROR, message, span, tuple(hints))


# ---- what the parser saw ----

def _value_stack(error: UnexpectedInput) -> list[object]:
    parser = getattr(error, "interactive_parser", None)
    return list(parser.parser_state.value_stack) if parser is not None else []


def _expected_terminals(error: UnexpectedInput) -> set[str]:
    parser = getattr(error, "interactive_parser", None)
    if parser is not None:
        return set(parser.accepts())
    if isinstance(error, UnexpectedToken):
        return set(error.expected)
    if isinstance(error, UnexpectedCharacters):
        return set(error.allowed or ())
    return set()


def _found_type(error: UnexpectedInput) -> str:
    """The found token's terminal name, "$END", or "" for characters no terminal matches."""
    if isinstance(error, UnexpectedToken):
        return str(error.token.type)
    if isinstance(error, UnexpectedCharacters):
        return ""
    return "$END"


def _position(text: str, error: UnexpectedInput) -> tuple[int, int, int]:
    """Line, column and width of what the error is about."""
    if isinstance(error, UnexpectedToken) and error.token.type != "$END":
        value = str(error.token)
        return error.line, error.column, len(value.split("\n")[0])
    if isinstance(error, UnexpectedCharacters):
        return error.line, error.column, 1
    # The end of input: just after the last token, so trailing comments do not count.
    parser = getattr(error, "interactive_parser", None)
    last = parser.lexer_thread.state.last_token if parser is not None else None
    if isinstance(last, Token) and last.end_line is not None and last.end_column is not None:
        return last.end_line, last.end_column, 1
    stripped = text.rstrip()
    lines = stripped.split("\n")
    return len(lines), len(lines[-1]) + 1, 1


def _raw_end(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _offset(text: str, line: int, col: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + col - 1


def _line_missing_semicolon(text: str, line: int, col: int) -> int | None:
    """The line before `line`, when what is at line:col starts its line: a ';' may be
    missing at that line's end."""
    lines = text.split("\n")
    if lines[line - 1][: col - 1].strip():
        return None
    previous = [n for n in range(line - 1, 0, -1) if lines[n - 1].strip()]
    return previous[0] if previous else None


def _last_token(stack: list[object]) -> Token | None:
    last = stack[-1] if stack else None
    return last if isinstance(last, Token) else None


def _open_brackets(stack: list[object]) -> list[Token]:
    """The '{', '(' and '[' the parser has shifted and not yet matched, outermost first."""
    opened: list[Token] = []
    for value in stack:
        if not isinstance(value, Token):
            continue
        if value.type in _BRACKETS:
            opened.append(value)
        elif value.type in _CLOSING and opened:
            opened.pop()
    return opened


# ---- messages ----

def _special_message(source: Source, text: str, line: int, col: int, error: UnexpectedInput,
                     found: str, expected: set[str], stack: list[object]) -> Diagnostic | None:
    """Messages of their own for mistakes that the generic one describes badly."""
    rest = text[_offset(text, line, col):]
    if found == "" and rest.startswith('"'):
        return _diagnostic(source, "unterminated string", line, col, len(rest.split("\n")[0]),
                           ["a string ends with '\"' on the same line"])
    if found == "" and rest[:1].isdigit():
        number = re.match(r"\w+", rest)
        word = number[0] if number else rest[0]
        return _diagnostic(source, f"invalid number '{word}'", line, col, len(word), [])
    if found in ("", "SLASH") and rest.startswith("/*"):
        return _diagnostic(source, "unterminated comment", line, col, 2,
                           ["a comment that starts with '/*' ends with '*/'"])
    if found in ("", "SLASH") and "PREDICATE" in expected:
        return _predicate_message(source, text, line, col, rest)
    else_token = _stray_else(error, stack)
    if else_token is not None:
        return _diagnostic(source, "'else' without an 'if' before it", else_token.line or line,
                           else_token.column or col, 4,
                           ["'else' follows the '}' of an if: if (cond) { … } else { … }"])
    return None


def _predicate_message(source: Source, text: str, line: int, col: int,
                       rest: str) -> Diagnostic:
    """An unexpected '/' after a probe's attach points: a predicate gone wrong."""
    inside = ""
    for m in _STRING_OR_OTHER.finditer(rest, 1):
        if m[0] in ("{", "}"):
            break
        if m[0] == "/":
            # Closed, but no '{' follows: point just after the closing '/'.
            before = text[: _offset(text, line, col) + m.end()].split("\n")
            return _diagnostic(source, "expected '{' after the predicate", len(before),
                               len(before[-1]) + 1, 1, [_PREDICATE_HINT])
        inside += m[0]
    width = len(("/" + inside).split("\n")[0].rstrip())
    return _diagnostic(source, "unterminated predicate: the '/' that ends it is missing",
                       line, col, width, [_PREDICATE_HINT])


def _stray_else(error: UnexpectedInput, stack: list[object]) -> Token | None:
    """The `else` that caused the error, when there is no `if` for it: outside a
    statement `else` is a name, so the error is at it or just after it (the name
    already read as an identifier where a '{' may follow an expression)."""
    token = error.token if isinstance(error, UnexpectedToken) else None
    if isinstance(token, Token) and str(token) == "else":
        return token
    last: object = stack[-1] if stack else None
    if isinstance(last, Tree) and last.data == "identifier":
        last = last.children[0]
    return last if isinstance(last, Token) and last.type == "NAME" and str(last) == "else" \
        else None


def _describe_found(text: str, error: UnexpectedInput, found: str) -> str:
    if found == "$END":
        return "end of input"
    if isinstance(error, UnexpectedToken):
        value = str(error.token).split("\n")[0]
        shown = value if len(value) <= 30 else value[:27] + "..."
        kind = _FOUND.get(found)
        return f"{kind} '{shown}'" if kind else f"'{shown}'"
    char = text[error.pos_in_stream or 0]
    if char == "'":
        return "character \"'\""
    if char.isprintable():
        return f"character '{char}'"
    return f"character U+{ord(char):04X}"


def _describe_expected(expected: set[str], at_end: bool) -> str:
    if not expected:
        return ""
    if expected & _TOP_LEVEL_START:
        return f"a probe (such as {_EXAMPLE_PROBE})"
    if at_end and "RBRACE" in expected:
        return "'}'"  # whatever else could go on, the block must be closed
    if expected <= {"NAME", "INT"}:
        return "a field name"
    words: list[str] = []
    rest = set(expected)
    if "STRING" in rest:
        # Wherever an expression may start, a string may; NAME and INT alone also
        # follow a '.', and VAR follows `let`.
        words.append("a statement" if rest & _STATEMENT_START else "an expression")
        rest -= _OPERAND_TOKENS | _STATEMENT_START | _CONTINUATIONS | {"SEMICOLON", "LBRACE",
                                                                      "IF"}
    if rest & _TYPE_START:
        words.append("a type")
        rest -= _TYPE_START
    if {"PREDICATE", "LBRACE"} <= rest:
        words.append("'{' or a predicate")
        rest -= {"PREDICATE", "LBRACE", "COMMA"}
    closers = [word for name, word in _CLOSERS.items() if name in rest]
    if closers:
        words.extend(closers)  # what may follow is also an operator: not worth saying
    else:
        words.extend(_WORDS[name] for name in sorted(rest) if name in _WORDS)
    if not words and rest:
        words.append("an operator")
    return " or ".join(words) if len(words) <= 2 else ", ".join(words[:-1]) + " or " + words[-1]


def _hints(text: str, line: int, col: int, error: UnexpectedInput, found: str,
           expected: set[str], stack: list[object]) -> list[str]:
    hints = [_bracket_hint(found, expected, stack), _header_hint(found, expected, stack)]
    missing = _line_missing_semicolon(text, line, col)
    if "SEMICOLON" in expected and found != "$END" and missing:
        hints.append(f"is a ';' missing at the end of line {missing}?")
    if (isinstance(error, UnexpectedToken) and str(error.token) == "="
            and expected <= {"RPAR", "COMMA"}):
        hints.append("'=' assigns; to compare, write '=='")  # /comm = "bash"/, if ($x = 1)
    if found == "" and text[_offset(text, line, col)] == "'":
        hints.append('strings are written in double quotes: "…"')
    last = _last_token(stack)
    if "LPAR" in expected and found in _OPERAND_TOKENS and _statement_name(stack):
        hints.append(f"to call a function, put its arguments in parentheses: {last}(…)")
    cast = _non_type_cast(stack)
    if cast is not None and found in _OPERAND_TOKENS:
        hints.append(f"'{cast}' is not a type, so '({cast})' is not a cast")
    if expected & _TOP_LEVEL_START and found in ("MAP", "VAR"):
        hints.append("statements go in a probe's braces, as in 'BEGIN { @count = 0; }'")
    if expected & _TOP_LEVEL_START and found == "NAME" and isinstance(error, UnexpectedToken):
        close = difflib.get_close_matches(str(error.token), ["BEGIN", "END"], n=1)
        if close:
            hints.append(f"did you mean '{close[0]}'?")
    return [hint for hint in hints if hint]


def _bracket_hint(found: str, expected: set[str], stack: list[object]) -> str:
    """A closing bracket that closes nothing, or an opening one left open."""
    opened = _open_brackets(stack)
    innermost = opened[-1] if opened else None
    in_statements = innermost is None or innermost.type == "LBRACE"
    if found in _CLOSING and in_statements and all(b.type != _CLOSING[found] for b in opened):
        return f"this '{_TEXT[found]}' has no '{_TEXT[_CLOSING[found]]}' to close"
    if (innermost is not None and _BRACKETS[innermost.type] in expected
            and (found in ("$END", "SEMICOLON") or found in _CLOSING)):
        return f"the '{innermost}' at line {innermost.line}, column {innermost.column} " \
               "is not closed"
    return ""


def _header_hint(found: str, expected: set[str], stack: list[object]) -> str:
    """A probe's attach points not followed by a predicate or its block."""
    if "PREDICATE" not in expected:
        return ""
    last = _last_token(stack)
    if found == "ATTACH_POINT":
        return "attach points of one probe are separated by ','"
    if (found != "$END" and last is not None and last.type == "ATTACH_POINT"
            and str(last).endswith(":")):
        return "an attach point is written without spaces"
    return "a probe's actions follow it in braces, as in 'BEGIN { exit(); }'"


def _statement_name(stack: list[object]) -> bool:
    """Whether the parser has just read a name that starts a statement, as `printf` in
    `printf "hi";`: the start of a block, a ';' or a whole statement is before it."""
    last = _last_token(stack)
    if len(stack) < 2 or last is None or last.type != "NAME":
        return False
    before = stack[-2]
    return not isinstance(before, Token) or before.type in ("LBRACE", "SEMICOLON")


def _non_type_cast(stack: list[object]) -> str | None:
    """The name in `(name)` just before the error, which looks like a cast to a non-type."""
    if len(stack) < 3:
        return None
    lpar, inner, rpar = stack[-3:]
    if not (isinstance(lpar, Token) and lpar.type == "LPAR" and isinstance(rpar, Token)
            and rpar.type == "RPAR" and isinstance(inner, Tree) and inner.data == "identifier"):
        return None
    return str(inner.children[0])
