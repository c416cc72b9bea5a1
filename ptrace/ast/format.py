"""A script written back from its AST, in one layout: `ptrace --fmt`.

Input: a `Program` (or any node). Output: text that parses to the same tree
(`same_shape` compares two trees without their spans): probes as the shipped
tools write them (one attach point a line, the predicate and `{` on their own
lines, a tab per level), one statement a line, operators between spaces,
parentheses only where precedence needs them. Comments are not in the AST:
the caller passes them (with their lines), and each is written before the
item or statement that follows it, or after the statement on its line.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ptrace.ast import nodes as n
from ptrace.ast import recursion_room

INDENT = "\t"

# How tightly each binary operator binds (C's order); higher binds tighter.
_BINARY = {"||": 2, "&&": 3, "|": 4, "^": 5, "&": 6, "==": 7, "!=": 7,
           "<": 8, "<=": 8, ">": 8, ">=": 8, "<<": 9, ">>": 9, "+": 10, "-": 10,
           "*": 11, "/": 11, "%": 11}
_TERNARY, _UNARY, _POSTFIX, _PRIMARY = 1, 12, 13, 14
_NAME = re.compile(r"[A-Za-z_]\w*")
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def format_program(program: n.Program, shebang: str = "",
                   comments: tuple[Comment, ...] = ()) -> str:
    """The whole script: its items separated by blank lines, each comment (from
    `comments`, the script's, in order) before the item or statement that
    follows it, or at the end of the line it ended."""
    layout = _Layout(list(comments))
    with recursion_room():  # a tree as deep as the parser takes
        items = [layout.item(item) for item in program.items]
    rest = layout.take_before(None, "")
    text = "\n\n".join(items) + ("\n\n" + "\n".join(rest) if rest else "")
    return (f"{shebang}\n" if shebang else "") + text + "\n"


@dataclasses.dataclass(frozen=True, slots=True)
class Comment:
    line: int  # where it starts (1-based)
    text: str  # with its // or /* */


def same_shape(a: Any, b: Any) -> bool:
    """Whether two trees are equal but for their spans (the round-trip check)."""
    return bool(_shape(a) == _shape(b))


def _shape(value: Any) -> Any:
    if isinstance(value, n.Node):
        return (type(value).__name__, *(
            _shape(getattr(value, f.name)) for f in dataclasses.fields(value)
            if f.name not in ("span", "name_span")))
    if isinstance(value, tuple):
        return tuple(_shape(v) for v in value)
    return value


# ---- top level and statements ---------------------------------------------------------

class _Layout:
    """Items and statements laid out, with the script's comments put back."""

    def __init__(self, comments: list[Comment]):
        self.comments = comments  # those not written yet, in order

    def take_before(self, line: int | None, indent: str) -> list[str]:
        """The comments that start before `line` (all of them for None), indented."""
        taken = []
        while self.comments and (line is None or self.comments[0].line < line):
            taken.append(indent + self.comments.pop(0).text)
        return taken

    def take_on(self, line: int) -> list[str]:
        """The comments that start on `line`, after what ends there."""
        taken = []
        while self.comments and self.comments[0].line == line:
            taken.append(self.comments.pop(0).text)
        return taken

    # ---- top level ----------------------------------------------------------------------

    def item(self, item: n.TopLevel) -> str:
        """An item, after the comments before it."""
        before = "".join(f"{c}\n" for c in self.take_before(item.span.line, ""))
        return before + self.item_text(item)

    def item_text(self, item: n.TopLevel) -> str:
        if isinstance(item, n.Probe):
            head = ",\n".join(point.text for point in item.attach_points)
            if item.predicate is not None:
                head += f"\n/{expr(item.predicate)}/"
            return f"{head}\n{self.block(item.body, 0)}"
        if isinstance(item, n.Import):
            return f"import {_string(_name_bytes(item.name))};"
        if isinstance(item, n.MacroDef):
            return f"macro {item.name}({', '.join(item.params)})\n{self.block(item.body, 0)}"
        if isinstance(item, n.MapDecl):
            return f"let {item.name} = {item.kind}({', '.join(expr(a) for a in item.args)});"
        if isinstance(item, n.ConfigBlock):
            entries = "; ".join(f"{e.key} = {_config_value(e.value)}" for e in item.entries)
            return f"config = {{ {entries} }}" if entries else "config = { }"
        if isinstance(item, n.Preproc):
            return item.text
        if isinstance(item, n.CTypedef):
            declarator = _declarator(item.name, item.pointer_depth, item.array_sizes)
            return f"typedef {_c_type(item.type, 0)} {declarator};"
        return _c_type(item, 0) + ";"

    def block(self, block: n.Block, depth: int) -> str:
        """`{`, a statement a line one level deeper, `}` at this level."""
        inner = INDENT * (depth + 1)
        lines: list[str] = []
        for index, stmt in enumerate(block.stmts):
            lines += self.take_before(stmt.span.line, inner)
            text = self.stmt(stmt, depth + 1)
            if block.ends_in_value and index == len(block.stmts) - 1:
                text = text.removesuffix(";")
            trailing = "".join(f" {c}" for c in self.take_on(stmt.span.end_line))
            lines.append(inner + text + trailing)
        lines += self.take_before(block.span.end_line, inner)
        return "{\n" + "".join(f"{line}\n" for line in lines) + INDENT * depth + "}"

    def stmt(self, stmt: n.Stmt, depth: int) -> str:
        if isinstance(stmt, n.ExprStmt):
            text = expr(stmt.expr, depth)
            # A statement that starts with `{` or `if` would be read as a block or an if.
            return (f"({text})" if isinstance(stmt.expr, n.BlockExpr | n.IfExpr) else text) + ";"
        if isinstance(stmt, n.Assign):
            return f"{expr(stmt.target, depth)} {stmt.op} {expr(stmt.value, depth)};"
        if isinstance(stmt, n.Let):
            typed = f": {type_name(stmt.type)}" if stmt.type is not None else ""
            value = f" = {expr(stmt.value, depth)}" if stmt.value is not None else ""
            return f"let {stmt.name}{typed}{value};"
        if isinstance(stmt, n.Block):
            return self.block(stmt, depth)
        if isinstance(stmt, n.If):
            return self.if_(stmt, depth)
        if isinstance(stmt, n.While):
            return f"while ({expr(stmt.cond)}) {self.block(stmt.body, depth)}"
        if isinstance(stmt, n.Unroll):
            return f"unroll ({expr(stmt.count)}) {self.block(stmt.body, depth)}"
        if isinstance(stmt, n.For):
            what = stmt.iterable.name if isinstance(stmt.iterable, n.MapRef) else \
                f"{expr(stmt.iterable.start)}..{expr(stmt.iterable.stop)}"
            return f"for ({stmt.var} : {what}) {self.block(stmt.body, depth)}"
        if isinstance(stmt, n.Break):
            return "break;"
        if isinstance(stmt, n.Continue):
            return "continue;"
        if isinstance(stmt, n.Return):
            value = f" {expr(stmt.value, depth)}" if stmt.value is not None else ""
            return f"return{value};"
        if isinstance(stmt, n.Import):
            return f"import {_string(_name_bytes(stmt.name))};"
        raise TypeError(f"no layout for {type(stmt).__name__}")  # a node added without one


    def if_(self, stmt: n.If, depth: int) -> str:
        text = f"if ({expr(stmt.cond)}) {self.block(stmt.then, depth)}"
        if isinstance(stmt.orelse, n.If):
            text += " else " + self.if_(stmt.orelse, depth)
        elif stmt.orelse is not None:
            text += " else " + self.block(stmt.orelse, depth)
        return text


def _name_bytes(name: str) -> str:
    """An import's name as a string literal's value holds it: a character a byte."""
    return name.encode("utf-8", "surrogateescape").decode("latin-1")


def _config_value(value: int | str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or _NAME.fullmatch(value):
        return str(value)
    return _string(value)


def _c_type(type_: n.TypeName | n.CStruct | n.CEnum, depth: int) -> str:
    """A C definition's type: a name, or a struct, union or enum with its body."""
    if isinstance(type_, n.TypeName):
        return type_name(type_)
    inner = INDENT * (depth + 1)
    if isinstance(type_, n.CEnum):
        values = ",\n".join(f"{inner}{e.name}" + (f" = {e.value}" if e.value is not None else "")
                            for e in type_.values)
        return f"enum {type_.name + ' ' if type_.name else ''}{{\n{values}\n{INDENT * depth}}}"
    members = "".join(
        f"{inner}{_c_type(f.type, depth + 1)}"
        + (f" {_declarator(f.name, f.pointer_depth, f.array_sizes)}" if f.name is not None else
           "*" * f.pointer_depth)
        + (f" : {f.bits}" if f.bits is not None else "") + ";\n"
        for f in type_.fields)
    attributes = "".join(
        f" __attribute__(({a.name}{f'({a.argument})' if a.argument is not None else ''}))"
        for a in type_.attributes)
    return (f"{type_.kind} {type_.name + ' ' if type_.name else ''}{{\n{members}"
            f"{INDENT * depth}}}{attributes}")


def _declarator(name: str, pointers: int, sizes: tuple[int, ...]) -> str:
    return "*" * pointers + name + "".join(f"[{size}]" for size in sizes)


def type_name(type_: n.TypeName | n.TypeOf) -> str:
    """`uint32`, `struct task_struct *`, `int8[4]`, `uint8[]`, `typeof($x)`."""
    if isinstance(type_, n.TypeOf):
        operand = type_.operand
        return f"typeof({type_name(operand) if isinstance(operand, n.TypeName) else expr(operand)})"
    text = type_.base + (" " + "*" * type_.pointer_depth if type_.pointer_depth else "")
    if type_.array_size is not None:
        text += f"[{type_.array_size or ''}]"
    return text


# ---- expressions --------------------------------------------------------------------

def expr(e: n.Expr, depth: int = 0) -> str:
    """An expression, with the parentheses its tree needs and no others."""
    return _expr(e, depth)[0]


def _within(e: n.Expr, least: int, depth: int) -> str:
    """`e`, in parentheses if it binds less tightly than `least`."""
    text, binds = _expr(e, depth)
    return text if binds >= least else f"({text})"


def _expr(e: n.Expr, depth: int) -> tuple[str, int]:
    """The text of `e` and how tightly it binds."""
    if isinstance(e, n.Binary):
        level = _BINARY[e.op]
        return (f"{_within(e.left, level, depth)} {e.op} "
                f"{_within(e.right, level + 1, depth)}", level)
    if isinstance(e, n.Conditional):
        cond = _within(e.cond, _BINARY["||"], depth)
        orelse = _within(e.orelse, _TERNARY, depth)
        if e.then is None:
            return f"{cond} ?: {orelse}", _TERNARY
        return f"{cond} ? {expr(e.then, depth)} : {orelse}", _TERNARY
    if isinstance(e, n.Unary):
        operand = _within(e.operand, _UNARY, depth)
        if operand[0] in "+-&" and operand[0] == e.op:  # `- -x` is not `--x`
            operand = f"({operand})"
        return e.op + operand, _UNARY
    if isinstance(e, n.Cast):
        return f"({type_name(e.type)}){_within(e.operand, _UNARY, depth)}", _UNARY
    if isinstance(e, n.IncDec):
        if e.prefix:
            return e.op + _within(e.operand, _UNARY, depth), _UNARY
        return _within(e.operand, _POSTFIX, depth) + e.op, _POSTFIX
    if isinstance(e, n.Index):
        base = _within(e.base, _POSTFIX, depth)
        if isinstance(e.base, n.MapAccess):  # `@m[1]` would be a key: `(@m)[1]` indexes its value
            base = f"({base})"
        return f"{base}[{expr(e.index, depth)}]", _POSTFIX
    if isinstance(e, n.Field):
        return (f"{_within(e.base, _POSTFIX, depth)}{'->' if e.arrow else '.'}{e.name}",
                _POSTFIX)
    return _primary(e, depth), _PRIMARY


def _primary(e: n.Expr, depth: int) -> str:
    if isinstance(e, n.Integer):
        return e.text
    if isinstance(e, n.String):
        return _string(e.value)
    if isinstance(e, n.Boolean):
        return "true" if e.value else "false"
    if isinstance(e, n.Identifier | n.Variable):
        return e.name
    if isinstance(e, n.Positional):
        return f"${e.index}" if e.index else "$#"
    if isinstance(e, n.MapAccess):
        return e.name + (f"[{_list(e.keys, depth)}]" if e.keys else "")
    if isinstance(e, n.Call):
        return f"{e.name}({_list(e.args, depth)})"
    if isinstance(e, n.Sizeof):
        operand = type_name(e.operand) if isinstance(e.operand, n.TypeName | n.TypeOf) else \
            expr(e.operand, depth)
        return f"sizeof({operand})"
    if isinstance(e, n.Offsetof):
        operand = type_name(e.type) if isinstance(e.type, n.TypeName | n.TypeOf) else \
            expr(e.type, depth)
        return f"offsetof({operand}, {'.'.join(e.fields)})"
    if isinstance(e, n.Tuple):
        return f"({_list(e.elements, depth)}{',' if len(e.elements) == 1 else ''})"
    if isinstance(e, n.Record):
        return "(" + ", ".join(f"{f.name} = {expr(f.value, depth)}" for f in e.fields) + ")"
    if isinstance(e, n.BlockExpr):
        return _Layout([]).block(e.block, depth)  # its comments go after the statement
    if isinstance(e, n.IfExpr):
        return _Layout([]).if_(e.if_, depth)
    if isinstance(e, n.TypeOf):  # a call's argument
        return type_name(e)
    raise TypeError(f"no layout for {type(e).__name__}")  # a node added without one


def _list(items: tuple[n.Expr, ...], depth: int) -> str:
    return ", ".join(expr(item, depth) for item in items)


def _string(value: str) -> str:
    """A string literal for a value of one char per byte: escapes for quotes,
    backslashes, control bytes and bytes past ASCII."""
    return '"' + "".join(
        _ESCAPES.get(c) or (c if " " <= c < "\x7f" else f"\\x{ord(c):02x}") for c in value) + '"'
