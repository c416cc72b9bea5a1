"""The C preprocessor's conditionals, applied to a script's text before parsing.

`#if`, `#ifdef`, `#ifndef`, `#elif`, `#else` and `#endif` choose which lines
the parser sees: the directives themselves and the lines of branches not
taken become empty lines, so every position after them is the one in the
script. The other directives of lines that are taken (`#define`, `#undef`,
`#include`, `#error` …) stay in the text: the parser keeps them as
preprocessor items and `expand_macros` applies them; here `#define` and
`#undef` only set what later conditions see.

A condition is C's integer constant expression: numbers, `defined NAME` and
`defined(NAME)`, names (a name `#define`d to a value is that value, any other
name is 0) and C's operators. Before the script's first line, bpftrace's
predefined names are defined: `BPFTRACE_HAVE_BTF` where the kernel has BTF,
and the compiler's names for this machine (`__x86_64__`, `__linux__` …).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ptrace.diagnostics import Reporter, Source, Span

# A directive: `#`, its word, the rest of the line (continued by a backslash).
DIRECTIVE = re.compile(r"[ \t]*#[ \t]*(\w*)((?:\\\n|[^\n])*)")
# The name of `#define NAME …`, and its '(' when it takes parameters.
DEFINE = re.compile(r"[ \t]*([A-Za-z_]\w*)(\()?")
_NAME = re.compile(r"[ \t]*([A-Za-z_]\w*)[ \t]*$")
_CONDITIONALS = frozenset({"if", "ifdef", "ifndef", "elif", "else", "endif"})

# The names bpftrace's clang defines for an x86-64 Linux target, besides
# BPFTRACE_HAVE_BTF.
TARGET_NAMES: dict[str, str] = {
    "__x86_64__": "1", "__x86_64": "1", "__amd64__": "1", "__amd64": "1",
    "__linux__": "1", "__linux": "1", "linux": "1", "__unix__": "1", "__unix": "1",
    "unix": "1", "__LP64__": "1", "_LP64": "1", "__CHAR_BIT__": "8",
    "__SIZEOF_INT__": "4", "__SIZEOF_LONG__": "8", "__SIZEOF_LONG_LONG__": "8",
    "__SIZEOF_POINTER__": "8", "__SIZEOF_SHORT__": "2",
    "__ORDER_LITTLE_ENDIAN__": "1234", "__ORDER_BIG_ENDIAN__": "4321",
    "__ORDER_PDP_ENDIAN__": "3412", "__BYTE_ORDER__": "__ORDER_LITTLE_ENDIAN__",
}
HAVE_BTF = "BPFTRACE_HAVE_BTF"


class PredefinedNames:
    """The names defined before a script's first line. Whether the kernel has
    BTF is asked only when a condition names BPFTRACE_HAVE_BTF."""

    def __init__(self, have_btf: Callable[[], bool]):
        self._have_btf = have_btf

    def get(self, name: str) -> str | None:
        if name == HAVE_BTF:
            return "1" if self._have_btf() else None
        return TARGET_NAMES.get(name)


NO_PREDEFINED_BTF = PredefinedNames(lambda: False)


@dataclass
class _Branch:
    """An open #if: whether the lines are taken now, whether one branch was,
    whether an #else was seen, and where the #if is."""
    word: str  # if, ifdef or ifndef
    taking: bool
    taken: bool
    has_else: bool
    line: int
    enclosing: bool  # whether the lines around the #if are taken


@dataclass
class _State:
    """What the preprocessor knows so far: the macros defined and the open #if branches."""

    source: Source
    reporter: Reporter
    predefined: PredefinedNames
    defines: dict[str, str | None] = field(default_factory=dict)  # None: #undef'd
    branches: list[_Branch] = field(default_factory=list)

    def defined(self, name: str) -> bool:
        if name in self.defines:
            return self.defines[name] is not None
        return self.predefined.get(name) is not None

    def value(self, name: str) -> str | None:
        if name in self.defines:
            return self.defines[name]
        return self.predefined.get(name)

    @property
    def taking(self) -> bool:
        return not self.branches or self.branches[-1].taking


def preprocess(source: Source, text: str, reporter: Reporter,
               predefined: PredefinedNames) -> str:
    """`text` with its conditionals applied (see the module's doc)."""
    if "#" not in text:
        return text
    state = _State(source, reporter, predefined)
    out: list[str] = []
    for line, start, directive in _lines(text):
        if directive is None:
            out.append(start if state.taking else _blank(start))
            continue
        word, rest = directive[1], directive[2]
        if word in _CONDITIONALS:
            _conditional(state, word, rest, line, start)
            out.append(_blank(start))
        elif not state.taking:
            out.append(_blank(start))
        else:
            _directive(state, word, rest, line, start)
            out.append(start)
    if state.branches:
        branch = state.branches[-1]
        reporter.error(f"#{branch.word} without #endif", _line_span(source, branch.line, text),
                       "each #if, #ifdef or #ifndef ends with an #endif")
    return "".join(out)


# How deep a header's #includes are followed, and how many headers are read.
MAX_HEADER_DEPTH = 16
MAX_HEADERS = 256
_HEADER_INCLUDE = re.compile(r'\s*(?:<([^>\n]+)>|"([^"\n]+)")')


def header_defines(path: Path, dirs: Sequence[Path]) -> dict[str, int]:
    """The object-like macros a C header defines (following its #includes
    under `dirs`, and its conditionals, with the compiler's predefined names)
    whose value is an integer constant expression: `EPERM` 1 for errno.h. A
    header's conditions that cannot be evaluated take no branch."""
    state = _State(Source(str(path), ""), Reporter(), PredefinedNames(lambda: False))
    _read_header(state, path, dirs, 0, set())
    values = {}
    for name, value in state.defines.items():
        if not value:
            continue
        try:
            values[name] = _Evaluator(state, value, frozenset({name}), strict=True).evaluate()
        except (_ConditionError, RecursionError):
            continue
    return values


def _read_header(state: _State, path: Path, dirs: Sequence[Path], depth: int,
                 seen: set[Path]) -> None:
    if depth > MAX_HEADER_DEPTH or len(seen) >= MAX_HEADERS:
        return
    seen.add(path)
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return
    for line, chunk, directive in _lines(text):
        if directive is None:
            continue
        word, rest = directive[1], directive[2]
        if word in _CONDITIONALS:
            _conditional(state, word, rest, line, chunk)
        elif (state.taking and word == "define") or (state.taking and word == "undef"):
            _directive(state, word, rest, line, chunk)
        elif state.taking and word == "include":
            target = _HEADER_INCLUDE.match(without_comments(rest))
            if target is None:
                continue
            folders = [path.parent, *dirs] if target[2] else list(dirs)
            found = first_file(folder / (target[1] or target[2]) for folder in folders)
            if found is not None and found not in seen:
                branches = len(state.branches)
                _read_header(state, found, dirs, depth + 1, seen)
                del state.branches[branches:]  # a header's unclosed #if ends with it


def first_file(paths: Iterable[Path]) -> Path | None:
    """The first of `paths` that is a file. Each path looked at is announced (the
    audit event "ptrace.lookup"): the compile cache keeps them as facts, so a
    header that appears earlier in the search, or a relative name looked up
    from another directory, makes a later run compile again."""
    for path in paths:
        sys.audit("ptrace.lookup", str(path))
        if path.is_file():
            return path
    return None


def _lines(text: str) -> Iterator[tuple[int, str, re.Match[str] | None]]:
    """Each logical line (a directive with its continuations is one) with its
    first line number and its directive, if it is one. A '#' inside a block
    comment starts no directive; neither does a shebang on the first line."""
    pos, line, in_comment = 0, 1, False
    while pos < len(text):
        directive = None if in_comment or (pos == 0 and text.startswith("#!")) \
            else DIRECTIVE.match(text, pos)
        if directive is not None:
            end = directive.end()
        else:
            newline = text.find("\n", pos)
            end = len(text) if newline < 0 else newline
        if end < len(text):
            end += 1  # the newline belongs to the line
        chunk = text[pos:end]
        if directive is None:
            in_comment = _ends_in_comment(chunk, in_comment)
        yield line, chunk, directive
        line += chunk.count("\n")
        pos = end


_COMMENT_OR_STRING = re.compile(r'/\*|\*/|//|"(?:[^"\\\n]|\\.)*"')


def _ends_in_comment(chunk: str, in_comment: bool) -> bool:
    """Whether a block comment is open at the end of a line."""
    for m in _COMMENT_OR_STRING.finditer(chunk):
        token = m[0]
        if in_comment:
            in_comment = token != "*/"
        elif token == "/*":
            in_comment = True
        elif token == "//":
            break
    return in_comment


def _blank(chunk: str) -> str:
    return "\n" * chunk.count("\n")


def _span(source: Source, line: int, chunk: str) -> Span:
    first = chunk.split("\n")[0]
    col = len(first) - len(first.lstrip()) + 1
    return Span(source, line, col, line, len(first.rstrip()) + 1)


def _line_span(source: Source, line: int, text: str) -> Span:
    return _span(source, line, text.split("\n")[line - 1])


def _conditional(state: _State, word: str, rest: str, line: int, chunk: str) -> None:
    span = _span(state.source, line, chunk)
    if word in ("if", "ifdef", "ifndef"):
        enclosing = state.taking
        taking = enclosing and _condition(state, word, rest, span)
        state.branches.append(_Branch(word, taking, taking, False, line, enclosing))
        return
    if not state.branches:
        state.reporter.error(f"#{word} without #if", span,
                             "#elif, #else and #endif follow an #if, #ifdef or #ifndef")
        return
    branch = state.branches[-1]
    if word == "endif":
        state.branches.pop()
        return
    if branch.has_else:
        state.reporter.error(f"#{word} after #else", span,
                             f"the #else of the #{branch.word} at line {branch.line} ends its "
                             "branches")
        return
    if word == "else":
        branch.has_else = True
        branch.taking = branch.enclosing and not branch.taken
    else:
        branch.taking = (branch.enclosing and not branch.taken
                         and _condition(state, "if", rest, span))
    branch.taken = branch.taken or branch.taking


def _condition(state: _State, word: str, rest: str, span: Span) -> bool:
    if word in ("ifdef", "ifndef"):
        name = _NAME.match(without_comments(rest))
        if name is None:
            state.reporter.error(f"#{word} takes one name", span,
                                 f"as in #{word} BPFTRACE_HAVE_BTF")
            return False
        return state.defined(name[1]) == (word == "ifdef")
    try:
        return _Evaluator(state, without_comments(rest)).evaluate() != 0
    except _ConditionError as error:
        state.reporter.error(f"cannot evaluate this condition: {error}", span,
                             "an #if takes integers, defined(NAME), names #define'd "
                             "to integers, and C's operators")
        return False


def _directive(state: _State, word: str, rest: str, line: int, chunk: str) -> None:
    """A directive on a line that is taken: what later conditions see."""
    span = _span(state.source, line, chunk)
    body = without_comments(rest)
    if word == "define":
        match = DEFINE.match(body)
        if match is not None and not match[2]:
            value = body[match.end():].strip()
            state.defines[match[1]] = value
        elif match is not None:
            state.defines[match[1]] = ""  # parameters: defined, not a value
    elif word == "undef":
        name = _NAME.match(body)
        if name is None:
            state.reporter.error("#undef takes one name", span, "as in #undef LIMIT")
        else:
            state.defines[name[1]] = None


def without_comments(text: str) -> str:
    """`text` with its C comments removed (a block comment becomes a space) and
    its continued lines joined."""
    text = text.replace("\\\n", " ")
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//.*", "", text)


class _ConditionError(Exception):
    pass


_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*(?!\w)|([A-Za-z_]\w*)"
                    r"|(&&|\|\||<<|>>|<=|>=|==|!=|[-+*/%&|^!~<>?:(),]))")
# Binary operators by precedence, loosest first (C's).
_BINARY = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="),
           ("<<", ">>"), ("+", "-"), ("*", "/", "%")]


class _Evaluator:
    """An #if condition's value: C's integer constant expressions on 64 bits."""

    def __init__(self, state: _State, text: str, active: frozenset[str] = frozenset(),
                 strict: bool = False):
        self.state = state
        self.active = active  # the names being expanded
        self.strict = strict  # a name not defined to an integer is an error, not 0
        self.tokens = self._tokenize(text)
        self.pos = 0

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        pos = 0
        while text[pos:].strip():
            match = _TOKEN.match(text, pos)
            if match is None:
                raise _ConditionError(f"unexpected '{text[pos:].strip()[0]}'")
            kind = "number" if match[1] else "name" if match[2] else "op"
            tokens.append((kind, match[1] or match[2] or match[3]))
            pos = match.end()
        return tokens

    def evaluate(self) -> int:
        if not self.tokens:
            raise _ConditionError("it is empty")
        value = self._ternary()
        if self.pos < len(self.tokens):
            raise _ConditionError(f"unexpected '{self.tokens[self.pos][1]}'")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise _ConditionError("it ends too early")
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise _ConditionError(f"expected '{expected}', found '{token[1]}'")
        self.pos += 1
        return token

    def _ternary(self) -> int:
        cond = self._binary(0)
        if self._peek() != "?":
            return cond
        self._take("?")
        then = self._ternary()
        self._take(":")
        orelse = self._ternary()
        return then if cond else orelse

    def _binary(self, level: int) -> int:
        if level == len(_BINARY):
            return self._unary()
        left = self._binary(level + 1)
        while self._peek() in _BINARY[level]:
            op = self._take()[1]
            right = self._binary(level + 1)
            left = _apply(op, left, right)
        return left

    def _unary(self) -> int:
        op = self._peek()
        if op in ("!", "~", "-", "+"):
            self._take()
            value = self._unary()
            return {"!": int(not value), "~": ~value, "-": -value, "+": value}[op]
        return self._primary()

    def _primary(self) -> int:
        kind, text = self._take()
        if kind == "number":
            return int(text, 0) if not (len(text) > 1 and text[0] == "0" and text[1].isdigit()) \
                else int(text, 8)
        if text == "(":
            value = self._ternary()
            self._take(")")
            return value
        if kind != "name":
            raise _ConditionError(f"unexpected '{text}'")
        if text == "defined":
            parens = self._peek() == "("
            if parens:
                self._take("(")
            name_kind, name = self._take()
            if name_kind != "name":
                raise _ConditionError("defined takes a name")
            if parens:
                self._take(")")
            return int(self.state.defined(name))
        if self._peek() == "(":
            raise _ConditionError(f"'{text}(…)' calls a macro with parameters, "
                                  "which #if does not take")
        definition = self.state.value(text)
        if definition is None or text in self.active:
            if self.strict:
                raise _ConditionError(f"{text} is not a macro's integer")
            # As in C, a name that is not defined is 0, and so is a name met
            # inside its own expansion.
            return 0
        if not definition:
            raise _ConditionError(f"{text} is defined without a value")
        try:
            return _Evaluator(self.state, definition, self.active | {text},
                              self.strict).evaluate()
        except _ConditionError as error:
            if self.active:
                raise
            raise _ConditionError(f"{text} is '{definition}', not an integer expression "
                                  f"({error})") from error


def _apply(op: str, left: int, right: int) -> int:
    if op in ("/", "%") and right == 0:
        raise _ConditionError("division by zero")
    if op in ("<<", ">>") and not 0 <= right < 64:
        raise _ConditionError("a shift by a negative count or by 64 or more")
    value = {
        "||": lambda: int(bool(left) or bool(right)),
        "&&": lambda: int(bool(left) and bool(right)),
        "|": lambda: left | right, "^": lambda: left ^ right, "&": lambda: left & right,
        "==": lambda: int(left == right), "!=": lambda: int(left != right),
        "<": lambda: int(left < right), "<=": lambda: int(left <= right),
        ">": lambda: int(left > right), ">=": lambda: int(left >= right),
        "<<": lambda: left << right, ">>": lambda: left >> right,
        "+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
        "/": lambda: _quotient(left, right), "%": lambda: left - right * _quotient(left, right),
    }[op]()
    return (value + 2**63) % 2**64 - 2**63


def _quotient(left: int, right: int) -> int:
    """C's division: the quotient rounded toward zero."""
    quotient = abs(left) // abs(right)
    return quotient if (left < 0) == (right < 0) else -quotient
