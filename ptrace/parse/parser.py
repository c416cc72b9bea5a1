"""Source text → AST, through the Lark grammar in `ptrace.grammar`.

The one LALR parser is built once per process from the grammar file, with
Lark's table cache so that start-up does not rebuild the tables. Nothing
outside this package sees Lark objects: syntax errors come out as
diagnostics (see `syntax_errors.py`) and trees as `ptrace.ast.nodes`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextvars import ContextVar
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedInput, VisitError
from lark.lark import PostLex

from ptrace.ast import MAX_DEPTH, recursion_room
from ptrace.ast import nodes as n
from ptrace.diagnostics import CompileError, Diagnostic, Reporter, Severity, Source, Span
from ptrace.options import too_many_probes
from ptrace.parse.literals import LiteralError, parse_integer, unescape
from ptrace.parse.preprocess import NO_PREDEFINED_BTF, PredefinedNames, preprocess
from ptrace.parse.syntax_errors import syntax_error
from ptrace.types.builtins import FUNCTIONS, VARIABLES, builtin_name
from ptrace.types.types import c_integer_name

START_RULES = ("program", "stmts", "expr")
# Builtin variables may be written as calls, as in bpftrace: `pid()` is `pid`
# (but `kstack()` is the function).
CALLABLE_BUILTINS = frozenset(VARIABLES) - frozenset(FUNCTIONS)

_BRACE_DEPTH = {"LBRACE": 1, "RBRACE": -1}
_NAMED_PROBE = re.compile(r"[A-Za-z_]\w*=")
_SETS_PROBE_LIMIT = re.compile(r"max_probes|missing_probes")
# The names a script's typedefs declare, while it is parsed (predicates included).
_typedef_names: ContextVar[set[str] | None] = ContextVar("typedef_names", default=None)
_NO_TYPEDEFS: set[str] = set()  # a script without the word: tokens pass as they are


# While a script is parsed: its source and how many attach points it may write
# (max_probes), or None. Each attach point written is at least one probe, so
# the parse stops at the first one past the limit: 20,000 probes written out
# are refused in a moment instead of after seconds of parsing.
_attach_point_limit: ContextVar[tuple[Source, int] | None] = ContextVar(
    "attach_point_limit", default=None)


def _limit_attach_points(stream: Iterator[Token]) -> Iterator[Token]:
    limit = _attach_point_limit.get()
    if limit is None:
        yield from stream
        return
    source, most = limit
    written = 0
    for token in stream:
        if token.type == "ATTACH_POINT":
            written += 1
            if written > most:
                message, hint = too_many_probes(most, written)
                raise CompileError([Diagnostic(Severity.ERROR, message, _tspan(source, token),
                                               (hint,))])
        yield token


class _TypedefNames(PostLex):
    """C's "lexer hack": a NAME declared by `typedef … NAME;` is a TYPEDEF_NAME
    in the rest of the script, so the grammar can tell a cast `(u32_t)-1` from
    a subtraction `(x) - 1`."""

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        stream = _limit_attach_points(stream)
        names = _typedef_names.get()
        assert names is not None
        if names is _NO_TYPEDEFS:
            yield from stream
            return
        declared: Token | None = None  # in a typedef: the last name seen, else None
        in_typedef = False
        depth = 0  # braces inside the typedef (`typedef struct { int x; } s_t;`)
        for token in stream:
            kind = token.type
            if kind == "NAME" and names and token in names:
                token = Token.new_borrow_pos("TYPEDEF_NAME", token, token)
                kind = "TYPEDEF_NAME"
            if in_typedef:
                depth += _BRACE_DEPTH.get(kind, 0)
                if depth == 0 and kind in ("NAME", "TYPEDEF_NAME"):
                    declared = token
                elif depth == 0 and kind == "SEMICOLON":
                    if declared is not None:
                        names.add(str(declared))
                    in_typedef = False
            elif kind == "TYPEDEF":
                in_typedef, declared, depth = True, None, 0
            yield token


def grammar_text() -> str:
    """grammar/ptrace.lark, the one definition of the syntax."""
    return resources.files("ptrace.grammar").joinpath("ptrace.lark").read_text()


@functools.cache
def _lark() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="contextual", start=list(START_RULES),
                propagate_positions=True, maybe_placeholders=True, cache=True,
                postlex=_TypedefNames())


def parse(source: Source, start: str = "program") -> Any:
    """Parse `source` from the start rule `start` into an AST node.

    Raises CompileError with located diagnostics for syntax errors.
    """
    reporter = Reporter()
    node = _parse_text(source, source.text, start, reporter)
    if reporter.has_errors:
        raise CompileError(reporter.diagnostics)
    if start == "stmts":
        statements, _ends_in_value = node
        return statements
    return node


def parse_program(source: Source,
                  predefined: PredefinedNames = NO_PREDEFINED_BTF,
                  max_probes: int | None = None) -> n.Program:
    """Parse a whole script, its preprocessor conditionals applied first, with
    the names `predefined` defines (see `preprocess`). With `max_probes`, a
    script that writes more attach points than that is refused as soon as the
    parser meets the first one too many, unless the script may change the
    limit (its text names max_probes or missing_probes, the settings that make
    an attach point count as other than one probe)."""
    text = source.text
    if text.startswith("#!"):
        # A shebang line: keep the line count so later locations stay right.
        text = text[text.find("\n"):] if "\n" in text else ""
    reporter = Reporter()
    text = preprocess(source, text, reporter, predefined)
    if reporter.has_errors:
        raise CompileError(reporter.diagnostics)
    limit = None if max_probes is None or _SETS_PROBE_LIMIT.search(text) else (source, max_probes)
    reset = _attach_point_limit.set(limit)
    try:
        program = _parse_text(source, text, "program", reporter)
    finally:
        _attach_point_limit.reset(reset)
    if reporter.has_errors:
        raise CompileError(reporter.diagnostics)
    assert isinstance(program, n.Program)
    return program


def parse_expression_at(source: Source, text: str, line: int, column: int) -> n.Expr:
    """Parse `text`, found at `line` and (1-based) `column` of `source`, as an
    expression whose spans are positions in the source. Raises CompileError."""
    reporter = Reporter()
    expr = _parse_text(source, _padded(text, line, column), "expr", reporter)
    if reporter.has_errors:
        raise CompileError(reporter.diagnostics)
    assert isinstance(expr, n.Expr)
    return expr


def _padded(text: str, line: int, column: int) -> str:
    """`text` preceded by blank lines and spaces, so that positions in it are the
    positions it has in the script."""
    return "\n" * (line - 1) + " " * (column - 1) + text


def _parse_text(source: Source, text: str, start: str, reporter: Reporter) -> Any:
    """Parse and build the AST. A parse inside another (a predicate's) knows the
    typedef names the outer one has seen."""
    outermost = _typedef_names.get() is None
    names = set() if "typedef" in text else _NO_TYPEDEFS
    reset = _typedef_names.set(names) if outermost else None
    try:
        return _parse_tree(source, text, start, reporter)
    finally:
        if reset is not None:
            _typedef_names.reset(reset)


def _parse_tree(source: Source, text: str, start: str, reporter: Reporter) -> Any:
    invalid = _first_invalid_byte(source, text)
    if invalid is not None:
        reporter.diagnostics.append(invalid)
        return None
    try:
        tree = _lark().parse(text, start=start)
    except UnexpectedInput as error:
        reporter.diagnostics.append(syntax_error(source, text, error))
        return None
    too_deep = _too_deep(tree)
    if too_deep is not None:
        reporter.error("the script is nested too deeply here", _position_span(source, too_deep),
                       f"ptrace accepts {MAX_DEPTH} levels of syntax (about "
                       f"{MAX_DEPTH // 4} nested blocks or {MAX_DEPTH} nested operators)")
        return None
    try:
        with recursion_room():
            return _ToAst(source, reporter).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, CompileError):
            reporter.diagnostics.extend(error.orig_exc.diagnostics)
            return None
        raise


def _first_invalid_byte(source: Source, text: str) -> Diagnostic | None:
    """A byte that is not UTF-8 (read as a lone surrogate, Python's
    "surrogateescape") is an error at its place: the script is refused."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        byte = ord(text[error.start]) & 0xFF
        line = text.count("\n", 0, error.start) + 1
        col = error.start - text.rfind("\n", 0, error.start)
        return Diagnostic(Severity.ERROR, f"the script is not valid UTF-8 (byte 0x{byte:02x})",
                          Span(source, line, col, line, col + 1))
    return None


def _too_deep(tree: Tree[Token]) -> Tree[Token] | Token | None:
    """The first subtree or token deeper than MAX_DEPTH, in one walk without recursion."""
    stack: list[tuple[Tree[Token] | Token, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return node
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in node.children if child is not None)
    return None


def _position_span(source: Source, node: Tree[Token] | Token) -> Span:
    """Where a subtree or token starts (a subtree without a position: its first token)."""
    while isinstance(node, Tree):
        if not node.meta.empty:
            return _span(source, node.meta)
        node = next(child for child in node.children if child is not None)
    return _tspan(source, node)


def _span(source: Source, meta: Any) -> Span:
    return Span(source, meta.line, meta.column, meta.end_line, meta.end_column)


def _tspan(source: Source, token: Token) -> Span:
    assert token.line is not None and token.column is not None
    end_line = token.end_line if token.end_line is not None else token.line
    end_col = token.end_column if token.end_column is not None else token.column + 1
    return Span(source, token.line, token.column, end_line, end_col)


@v_args(meta=True)
class _ToAst(Transformer[Token, Any]):
    """Builds AST nodes from Lark's tree; one method per grammar rule or alias."""

    def __init__(self, source: Source, reporter: Reporter):
        super().__init__()
        self.source = source
        self.reporter = reporter

    def _s(self, meta: Any) -> Span:
        return _span(self.source, meta)

    def _fail(self, message: str, span: Span) -> None:
        raise CompileError([_error(message, span)])

    # ---- top level ----
    def program(self, meta: Any, items: list[Any]) -> n.Program:
        out = [n.Preproc(str(i), span=_tspan(self.source, i)) if isinstance(i, Token) else i
               for i in items]
        # An empty program (nothing but space and comments) has no position.
        span = Span.whole(self.source) if getattr(meta, "empty", False) else self._s(meta)
        return n.Program(tuple(out), span=span)

    def probe(self, meta: Any, children: list[Any]) -> n.Probe:
        *points, predicate, body = children
        return n.Probe(tuple(points), predicate, body, span=self._s(meta))

    def attach_point(self, meta: Any, children: list[Token]) -> n.AttachPoint:
        # A name before '=' names the probe; bpftrace reserves it and so does ptrace.
        text = str(children[0])
        if "\0" in text:  # no name of a probe, a file or a function holds one
            at = meta.column + text.index("\0")
            self._fail("an attach point cannot hold a NUL byte",
                       Span(self.source, meta.line, at, meta.line, at + 1))
        provider_start = text.find("=") + 1 if _NAMED_PROBE.match(text) else 0
        return n.AttachPoint(text[provider_start:], span=self._s(meta))

    def predicate(self, meta: Any, children: list[Token]) -> n.Expr:
        token = children[0]
        assert token.line is not None and token.column is not None
        # Parse the inside again as an expression, padded so that positions
        # in the sub-parse are positions in the script.
        inner = _padded(str(token)[1:-1], token.line, token.column + 1)
        expr = _parse_text(self.source, inner, "expr", self.reporter)
        if expr is None:
            raise CompileError([])
        assert isinstance(expr, n.Expr)
        return expr

    def import_item(self, meta: Any, children: list[Token]) -> n.Import:
        # A name is a path: its bytes (a string's value holds one per character) as
        # the file system has them.
        name = self._string_value(children[0]).encode("latin-1").decode("utf-8",
                                                                       "surrogateescape")
        return n.Import(name, span=self._s(meta))

    import_stmt = import_item

    def macro_def(self, meta: Any, children: list[Any]) -> n.MacroDef:
        name, *params, body = children
        names = tuple(str(p) for p in params if p is not None)
        return n.MacroDef(str(name), names, body, span=self._s(meta))

    def macro_param(self, meta: Any, children: list[Token]) -> Token:
        return children[0]

    def map_decl(self, meta: Any, children: list[Any]) -> n.MapDecl:
        name, kind, *args = children
        return n.MapDecl(str(name), str(kind), tuple(a for a in args if a is not None),
                         span=self._s(meta))

    def config_block(self, meta: Any, children: list[Any]) -> n.ConfigBlock:
        return n.ConfigBlock(tuple(children), span=self._s(meta))

    def config_entry(self, meta: Any, children: list[Token]) -> n.ConfigEntry:
        key, value = children
        parsed: int | str | bool
        if value.type == "INT":
            parsed = self._integer_value(value)
        elif value.type == "STRING":
            parsed = self._string_value(value)
        elif value.type in ("TRUE", "FALSE"):
            parsed = value.type == "TRUE"
        else:
            parsed = str(value)
        return n.ConfigEntry(str(key), parsed, span=self._s(meta))

    # ---- C definitions ----
    def c_definition(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def c_struct(self, meta: Any, children: list[Any]) -> n.CStruct:
        kind, *rest = children
        name = rest.pop(0) if rest and isinstance(rest[0], Token) else None
        attributes = tuple(a for c in rest if isinstance(c, tuple) for a in c)
        fields = tuple(f for member in rest if isinstance(member, list) for f in member)
        return n.CStruct(str(kind), str(name) if name else None, fields, attributes,
                         span=self._s(meta))

    def c_attribute(self, meta: Any, children: list[Any]) -> tuple[n.CAttribute, ...]:
        return tuple(children)

    def c_attribute_item(self, meta: Any, children: list[Any]) -> n.CAttribute:
        name, argument = children
        return n.CAttribute(str(name), self._integer_value(argument) if argument else None,
                            span=self._s(meta))

    def c_member(self, meta: Any, children: list[Any]) -> list[n.CField]:
        ctype, *declarators = children
        if declarators == [None]:
            return [n.CField(ctype, None, 0, (), None, span=self._s(meta))]
        return [n.CField(ctype, name, stars, arrays, bits, span=span)
                for (name, stars, arrays, bits, span) in declarators]

    def c_declarator(self, meta: Any, children: list[Any]
                     ) -> tuple[str, int, tuple[int, ...], int | None, Span]:
        stars = sum(1 for c in children if isinstance(c, Token) and c.type == "STAR")
        rest = [c for c in children if not (isinstance(c, Token) and c.type == "STAR")]
        name, *sizes, bits = rest
        return (str(name), stars, tuple(self._integer_value(s) for s in sizes),
                self._integer_value(bits) if bits is not None else None, self._s(meta))

    def c_typedef(self, meta: Any, children: list[Any]) -> n.CTypedef:
        ctype, (name, stars, arrays, _bits, _span) = children
        return n.CTypedef(ctype, name, stars, arrays, span=self._s(meta))

    def c_enum(self, meta: Any, children: list[Any]) -> n.CEnum:
        _enum, *rest = children
        name = rest.pop(0) if rest and isinstance(rest[0], Token) else None
        return n.CEnum(str(name) if name else None, tuple(rest), span=self._s(meta))

    def c_enumerator(self, meta: Any, children: list[Any]) -> n.CEnumerator:
        name, *value = children
        tokens = [v for v in value if v is not None]
        number: int | None = None
        if tokens:
            number = self._integer_value(tokens[-1])
            if len(tokens) == 2:
                number = -number
        return n.CEnumerator(str(name), number, span=self._s(meta))

    def typedef_name(self, meta: Any, children: list[Token]) -> n.TypeName:
        return n.TypeName(str(children[0]), 0, None, span=self._s(meta))

    # ---- types ----
    def named_type(self, meta: Any, children: list[Token]) -> n.TypeName:
        return n.TypeName(str(children[0]), 0, None, span=self._s(meta))

    def c_base_type(self, meta: Any, children: list[Token]) -> n.TypeName:
        words = [str(c) for c in children if str(c) not in ("const", "volatile")]
        return n.TypeName(c_integer_name(words) or "int", 0, None, span=self._s(meta))

    def tagged_type(self, meta: Any, children: list[Token]) -> n.TypeName:
        kind, name = children
        return n.TypeName(f"{kind} {name}", 0, None, span=self._s(meta))

    def type(self, meta: Any, children: list[Any]) -> n.TypeName | n.TypeOf:
        base, *rest = children
        if isinstance(base, n.TypeOf):
            return base
        stars = sum(1 for c in rest if isinstance(c, Token) and c.type == "STAR")
        size = rest[-1] if rest and not isinstance(rest[-1], Token) else None
        return n.TypeName(base.base, stars, size, span=self._s(meta))

    def typeof_type(self, meta: Any, children: list[Any]) -> n.TypeOf:
        return n.TypeOf(children[0], span=self._s(meta))

    def array_suffix(self, meta: Any, children: list[Token | None]) -> int:
        (size,) = children
        return self._integer_value(size) if size is not None else 0

    # ---- statements ----
    def block(self, meta: Any, children: list[Any]) -> n.Block:
        ((stmts, ends_in_value),) = children
        return n.Block(stmts, ends_in_value, span=self._s(meta))

    def stmts(self, meta: Any, children: list[Any]) -> tuple[tuple[n.Stmt, ...], bool]:
        *body, last = children
        stmts = tuple(c for c in body if c is not None)
        if last is None:
            # A block that ends in a block or an if-else chain has their value.
            return stmts, bool(stmts) and _has_else(stmts[-1])
        return (*stmts, last), isinstance(last, n.ExprStmt)

    def last_stmt(self, meta: Any, children: list[Any]) -> n.Stmt:
        stmt: n.Stmt = children[0]
        return stmt

    def expr_stmt(self, meta: Any, children: list[Any]) -> n.ExprStmt:
        return n.ExprStmt(children[0], span=self._s(meta))

    def assign_stmt(self, meta: Any, children: list[Any]) -> n.Assign:
        target, op, value = children
        return n.Assign(target, str(op), value, span=self._s(meta))

    def let_stmt(self, meta: Any, children: list[Any]) -> n.Let:
        name, typ, value = children
        return n.Let(str(name), typ, value, span=self._s(meta))

    def break_stmt(self, meta: Any, children: list[Any]) -> n.Break:
        return n.Break(span=self._s(meta))

    def continue_stmt(self, meta: Any, children: list[Any]) -> n.Continue:
        return n.Continue(span=self._s(meta))

    def return_stmt(self, meta: Any, children: list[Any]) -> n.Return:
        return n.Return(children[0], span=self._s(meta))

    def block_stmt(self, meta: Any, children: list[Any]) -> n.Block:
        block: n.Block = children[0]
        return block

    def if_stmt(self, meta: Any, children: list[Any]) -> n.If:
        stmt: n.If = children[0]
        return stmt

    def if_chain(self, meta: Any, children: list[Any]) -> n.If:
        cond, then, orelse = children
        return n.If(cond, then, orelse, span=self._s(meta))

    def while_stmt(self, meta: Any, children: list[Any]) -> n.While:
        cond, body = children
        return n.While(cond, body, span=self._s(meta))

    def unroll_stmt(self, meta: Any, children: list[Any]) -> n.Unroll:
        count, body = children
        return n.Unroll(count, body, span=self._s(meta))

    def for_stmt(self, meta: Any, children: list[Any]) -> n.For:
        var, iterable, body = children
        return n.For(str(var), iterable, body, span=self._s(meta))

    def map_ref(self, meta: Any, children: list[Token]) -> n.MapRef:
        return n.MapRef(str(children[0]), span=self._s(meta))

    def range(self, meta: Any, children: list[Any]) -> n.Range:
        start, stop = children
        return n.Range(start, stop, span=self._s(meta))

    # ---- expressions ----
    def conditional(self, meta: Any, children: list[Any]) -> n.Conditional:
        cond, then, orelse = children
        return n.Conditional(cond, then, orelse, span=self._s(meta))

    def elvis(self, meta: Any, children: list[Any]) -> n.Conditional:
        cond, orelse = children
        return n.Conditional(cond, None, orelse, span=self._s(meta))

    def binary(self, meta: Any, children: list[Any]) -> n.Binary:
        left, op, right = children
        return n.Binary(str(op), left, right, span=self._s(meta))

    def unary(self, meta: Any, children: list[Any]) -> n.Unary:
        op, operand = children
        return n.Unary(str(op), operand, span=self._s(meta))

    def pre_incdec(self, meta: Any, children: list[Any]) -> n.IncDec:
        op, operand = children
        return n.IncDec(str(op), operand, True, span=self._s(meta))

    def post_incdec(self, meta: Any, children: list[Any]) -> n.IncDec:
        operand, op = children
        return n.IncDec(str(op), operand, False, span=self._s(meta))

    def cast(self, meta: Any, children: list[Any]) -> n.Cast:
        typ, operand = children
        return n.Cast(typ, operand, span=self._s(meta))

    def index(self, meta: Any, children: list[Any]) -> n.Index:
        base, idx = children
        return n.Index(base, idx, span=self._s(meta))

    def field(self, meta: Any, children: list[Any]) -> n.Field:
        base, name = children
        return n.Field(base, str(name), False, span=self._s(meta))

    def arrow(self, meta: Any, children: list[Any]) -> n.Field:
        base, name = children
        return n.Field(base, str(name), True, span=self._s(meta))

    def integer(self, meta: Any, children: list[Token]) -> n.Integer:
        token = children[0]
        return n.Integer(self._integer_value(token), str(token), span=self._s(meta))

    def string(self, meta: Any, children: list[Token]) -> n.String:
        return n.String(self._string_value(children[0]), span=self._s(meta))

    def boolean(self, meta: Any, children: list[Token]) -> n.Boolean:
        return n.Boolean(children[0].type == "TRUE", span=self._s(meta))

    def identifier(self, meta: Any, children: list[Token]) -> n.Identifier:
        return n.Identifier(builtin_name(str(children[0])), span=self._s(meta))

    def variable(self, meta: Any, children: list[Token]) -> n.Variable:
        return n.Variable(str(children[0]), span=self._s(meta))

    def positional(self, meta: Any, children: list[Token]) -> n.Positional:
        text = str(children[0])[1:]
        return n.Positional(0 if text == "#" else int(text), span=self._s(meta))

    def map_access(self, meta: Any, children: list[Any]) -> n.MapAccess:
        name, *keys = children
        return n.MapAccess(str(name), tuple(keys), span=self._s(meta))

    def call(self, meta: Any, children: list[Any]) -> n.Call | n.Identifier:
        name, *args = children
        called = builtin_name(str(name))
        given = tuple(a for a in args if a is not None)
        if called in CALLABLE_BUILTINS and not given:
            return n.Identifier(called, span=self._s(meta))  # pid() is pid
        return n.Call(called, given, _tspan(self.source, name), span=self._s(meta))

    def sizeof(self, meta: Any, children: list[Any]) -> n.Sizeof:
        return n.Sizeof(children[0], span=self._s(meta))

    def offsetof(self, meta: Any, children: list[Any]) -> n.Offsetof:
        typ, *fields = children
        return n.Offsetof(typ, tuple(str(f) for f in fields), span=self._s(meta))

    def tuple(self, meta: Any, children: list[Any]) -> n.Tuple:
        return n.Tuple(tuple(children), span=self._s(meta))

    def record(self, meta: Any, children: list[Any]) -> n.Record:
        return n.Record(tuple(children), span=self._s(meta))

    def record_field(self, meta: Any, children: list[Any]) -> n.RecordField:
        name, value = children
        return n.RecordField(str(name), value, span=self._s(meta))

    def block_expr(self, meta: Any, children: list[Any]) -> n.BlockExpr:
        return n.BlockExpr(children[0], span=self._s(meta))

    def if_expr(self, meta: Any, children: list[Any]) -> n.IfExpr:
        return n.IfExpr(children[0], span=self._s(meta))

    # ---- literals ----
    def _integer_value(self, token: Token) -> int:
        try:
            return parse_integer(str(token))
        except LiteralError as error:
            self._fail(str(error), _tspan(self.source, token))
            raise AssertionError("unreachable") from error

    def _string_value(self, token: Token) -> str:
        try:
            return unescape(str(token)[1:-1])
        except LiteralError as error:
            span = _tspan(self.source, token)
            col = span.col + 1 + error.offset
            self._fail(str(error), Span(self.source, span.line, col, span.line, col + 2))
            raise AssertionError("unreachable") from error


def _has_else(stmt: n.Stmt) -> bool:
    """Whether a statement is a block, or an `if` whose chain ends in `else`."""
    while isinstance(stmt, n.If):
        if stmt.orelse is None:
            return False
        stmt = stmt.orelse
    return isinstance(stmt, n.Block)


def _error(message: str, span: Span) -> Diagnostic:
    return Diagnostic(Severity.ERROR, message, span)
