"""Macros: `macro name(params) { body }` and `#define NAME value`, expanded
where they are used.

Input: the parsed program. Output: `ctx.program` without macro calls or
defined names. A call `name(args)` becomes a block expression holding the body:

- a `$x` parameter takes a variable and an `@x` parameter a map, by
  reference: the body uses the caller's variable or map;
- an `x` parameter takes any expression, evaluated once, before the body;
- the body's own variables are renamed, so they never meet the caller's
  (hygiene), and each of its nodes records the call it was expanded from,
  so a diagnostic inside a macro shows both places.

C preprocessor lines: `#include` is accepted and ignored (kernel types come
from BTF); `#define NAME value` (an object-like macro whose value is an
expression) replaces each use of NAME by its value, marked as an expansion
like a macro's body. Any other directive, and a `#define` with parameters or
without a value, is a diagnostic.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any

from ptrace.ast import nodes as n
from ptrace.ast.rewrite import Rewriter
from ptrace.ast.visitor import walk
from ptrace.diagnostics import CompileError, Reporter, Span
from ptrace.parse import parse_expression_at
from ptrace.passes.context import CompileContext

MAX_DEPTH = 32
_DIRECTIVE = re.compile(r"#\s*(\w*)")
_DEFINE = re.compile(r"#\s*define\s+([A-Za-z_]\w*)(\()?")


def expand_macros(ctx: CompileContext) -> None:
    macros: dict[str, n.MacroDef] = {}
    for item in ctx.program.items:
        if isinstance(item, n.MacroDef):
            if item.name in macros:
                ctx.reporter.error(f"macro '{item.name}' is defined twice", item.span,
                                   f"it was first defined at line {macros[item.name].span.line}")
            macros[item.name] = item
            _check_params(item, ctx.reporter)
    defines = _defines(ctx.program, ctx.reporter)
    if not macros and not defines:
        return
    expander = _Expander(macros, defines, ctx.reporter)
    items = tuple(item if isinstance(item, n.MacroDef) else expander.rewrite(item)
                  for item in ctx.program.items)
    ctx.program = dataclasses.replace(ctx.program, items=items)


def _check_params(macro: n.MacroDef, reporter: Reporter) -> None:
    seen: set[str] = set()
    for param in macro.params:
        if param.lstrip("$@") in seen:
            reporter.error(f"macro '{macro.name}' has two parameters named '{param}'",
                           macro.span)
        seen.add(param.lstrip("$@"))


def _defines(program: n.Program, reporter: Reporter) -> dict[str, n.Expr]:
    """The value of each `#define NAME value`, by name; other directives are reported."""
    defines: dict[str, n.Expr] = {}
    lines: dict[str, int] = {}
    for item in program.items:
        if not isinstance(item, n.Preproc):
            continue
        directive = _DIRECTIVE.match(item.text)
        word = directive[1] if directive else ""
        if word == "include":
            continue  # kernel types come from BTF
        if word != "define":
            reporter.error(f"#{word} is not supported", item.span,
                           "ptrace takes #include (and ignores it: types come from BTF) "
                           "and #define NAME value")
            continue
        found = _define(item, reporter)
        if found is None:
            continue
        name, value = found
        if name in defines:
            reporter.error(f"{name} is defined twice", item.span,
                           f"it was first defined at line {lines[name]}")
            continue
        defines[name], lines[name] = value, item.span.line
    return defines


def _define(item: n.Preproc, reporter: Reporter) -> tuple[str, n.Expr] | None:
    """NAME and the parsed value of `#define NAME value`."""
    match = _DEFINE.match(item.text)
    if match is None:
        reporter.error("#define needs a name and a value, as in #define LIMIT 10", item.span)
        return None
    name = match[1]
    if match[2]:
        reporter.error(f"#define {name}(…) has parameters, which is not supported", item.span,
                       f"a macro takes parameters: macro {name}(x) {{ … }}")
        return None
    start = match.end()
    # A backslash that continues the line becomes a space: positions stay those of the script.
    body = item.text[start:].replace("\\\n", " \n")
    if not body.strip():
        reporter.error(f"#define {name} has no value, which is not supported", item.span,
                       f"give it one, as in #define {name} 1")
        return None
    column = item.span.col + start + len(body) - len(body.lstrip())
    try:
        return name, parse_expression_at(item.span.source, body, item.span.line,
                                         item.span.col + start)
    except CompileError:
        reporter.error(f"the value of #define {name} is not an expression",
                       Span(item.span.source, item.span.line, column, item.span.end_line,
                            item.span.end_col),
                       "#define NAME value takes an expression as its value, as in "
                       "#define LIMIT (4 * 1024)")
        return None


class _Expander(Rewriter):
    def __init__(self, macros: dict[str, n.MacroDef], defines: dict[str, n.Expr],
                 reporter: Reporter):
        self.macros = macros
        self.defines = defines
        self.reporter = reporter
        self.active: list[str] = []  # macros being expanded, to catch recursion
        self.ids = itertools.count(1)

    def rewrite_Identifier(self, node: n.Identifier) -> Any:
        """A #define'd name is its value; a macro without parameters may be used
        without parentheses (`one` is `one()`)."""
        value = self.defines.get(node.name)
        if value is None:
            macro = self.macros.get(node.name)
            if macro is None or macro.params:
                return node
            return self.rewrite_Call(n.Call(node.name, (), node.span, span=node.span))
        if node.name in self.active:
            return node  # as in C, a name met inside its own expansion stays
        self.active.append(node.name)
        try:
            return self.rewrite(_Substitute({}, {}, {}, node.span).rewrite(value))
        finally:
            self.active.pop()

    def rewrite_Call(self, call: n.Call) -> Any:
        macro = self.macros.get(call.name)
        if macro is None:
            return self.rebuild(call)
        if call.name in self.active or len(self.active) >= MAX_DEPTH:
            self.reporter.error(f"macro '{call.name}' calls itself", call.span,
                                "macros are expanded in place, so they cannot recurse")
            return call
        if len(call.args) != len(macro.params):
            self.reporter.error(f"macro '{macro.name}' takes {len(macro.params)} argument"
                                f"{'s' if len(macro.params) != 1 else ''}, got "
                                f"{len(call.args)}", call.span)
            return call
        args = tuple(self.rewrite(a) for a in call.args)
        expansion = self._expand(macro, args, call)
        if expansion is None:
            return call
        self.active.append(call.name)
        try:
            return self.rewrite(expansion)  # macros the body calls
        finally:
            self.active.pop()

    def _expand(self, macro: n.MacroDef, args: tuple[n.Expr, ...],
                call: n.Call) -> n.BlockExpr | None:
        uid = next(self.ids)
        variables: dict[str, str] = {}
        maps: dict[str, str] = {}
        values: dict[str, str] = {}
        prologue: list[n.Stmt] = []
        for param, arg in zip(macro.params, args, strict=True):
            if param.startswith("$"):
                if not isinstance(arg, n.Variable):
                    self.reporter.error(f"macro parameter {param} takes a variable, as in "
                                        f"{macro.name}($x)", arg.span)
                    return None
                variables[param] = arg.name
            elif param.startswith("@"):
                if not isinstance(arg, n.MapAccess) or arg.keys:
                    self.reporter.error(f"macro parameter {param} takes a map, as in "
                                        f"{macro.name}(@m)", arg.span)
                    return None
                maps[param] = arg.name
            else:
                hidden = f"${param}__macro{uid}"
                values[param] = hidden
                prologue.append(n.Assign(n.Variable(hidden, span=arg.span), "=", arg,
                                         span=arg.span))
        # The body's own variables get names of this expansion's own.
        for node in walk(macro.body):
            if isinstance(node, n.Variable | n.Let) and node.name not in variables:
                variables[node.name] = f"{node.name}__macro{uid}"
            if isinstance(node, n.For) and node.var not in variables:
                variables[node.var] = f"{node.var}__macro{uid}"
        body = _Substitute(variables, maps, values, call.span).rewrite(macro.body)
        block = n.Block((*prologue, *body.stmts), body.ends_in_value, span=body.span)
        return n.BlockExpr(block, span=call.span)


class _Substitute(Rewriter):
    """Renames variables and maps, replaces value parameters, marks the expansion."""

    def __init__(self, variables: dict[str, str], maps: dict[str, str], values: dict[str, str],
                 call: Span):
        self.variables = variables
        self.maps = maps
        self.values = values
        self.call = call

    def rewrite(self, node: n.Node) -> Any:
        new = super().rewrite(node)
        return dataclasses.replace(new, span=self._span(node.span))

    def _span(self, span: Span) -> Span:
        origin = span.expanded_from
        return dataclasses.replace(span, expanded_from=self.call if origin is None else
                                   dataclasses.replace(origin, expanded_from=self.call))

    def rewrite_Variable(self, node: n.Variable) -> Any:
        return dataclasses.replace(node, name=self.variables.get(node.name, node.name))

    def rewrite_Let(self, node: n.Let) -> Any:
        return self.rebuild(node, name=self.variables.get(node.name, node.name))

    def rewrite_For(self, node: n.For) -> Any:
        return self.rebuild(node, var=self.variables.get(node.var, node.var))

    def rewrite_MapAccess(self, node: n.MapAccess) -> Any:
        return self.rebuild(node, name=self.maps.get(node.name, node.name))

    def rewrite_MapRef(self, node: n.MapRef) -> Any:
        return dataclasses.replace(node, name=self.maps.get(node.name, node.name))

    def rewrite_Identifier(self, node: n.Identifier) -> Any:
        hidden = self.values.get(node.name)
        if hidden is None:
            return node
        return n.Variable(hidden, span=node.span)
