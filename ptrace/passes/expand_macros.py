"""Macros: `macro name(params) { body }` and `#define NAME value`, expanded
where they are used.

Input: the parsed program. Output: `ctx.program` without macro calls or
defined names. A call `name(args)` becomes a block expression holding the body:

- a `$x` parameter takes a variable and an `@x` parameter a map, by
  reference: the body uses the caller's variable or map, and no other map;
- an `x` parameter takes any expression, which replaces each use of `x` in
  the body and is evaluated there, as often as the body uses it (as in
  bpftrace: `let $v = x;` evaluates it once); or a type, `typeof(…)`, used
  where the body writes a type (`sizeof(x)`, `sizeof(x *)`, `sizeof(x[4])`,
  `let $v: x`);
- the body's own variables are renamed, so they never meet the caller's
  (hygiene), and each of its nodes records the call it was expanded from,
  so a diagnostic inside a macro shows both places.

C preprocessor lines (those the conditionals of `ptrace.parse.preprocess`
kept): `#include` must name a file that exists, whose contents are not read
(kernel types come from BTF); `#define NAME value` (an object-like macro
whose value is an expression) replaces each use of NAME after it, up to an
`#undef NAME`, by its value, marked as an expansion like a macro's body; a
`#define NAME` without a value serves conditionals only. `#error` and
`#warning` report. Any other directive, and a `#define` with parameters, is
a diagnostic.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptrace.ast import nodes as n
from ptrace.ast.rewrite import Rewriter
from ptrace.ast.visitor import walk
from ptrace.diagnostics import CompileError, Reporter, Span
from ptrace.parse import parse_expression_at
from ptrace.parse.preprocess import (
    DEFINE,
    DIRECTIVE,
    first_file,
    header_defines,
    without_comments,
)
from ptrace.passes.context import CompileContext
from ptrace.types.builtins import FUNCTIONS, VARIABLES

MAX_DEPTH = 32


def expand_macros(ctx: CompileContext) -> None:
    macros: dict[str, n.MacroDef] = {}
    for item in ctx.program.items:
        if isinstance(item, n.MacroDef):
            if item.name in macros:
                ctx.reporter.error(f"macro '{item.name}' is defined twice", item.span,
                                   f"it was first defined at line {macros[item.name].span.line}")
            macros[item.name] = item
            _check_params(item, ctx.reporter)
    defines = _defines(ctx)
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


@dataclass
class _Define:
    """A `#define NAME value`, in force from its line to an `#undef NAME`."""
    name: str
    value: n.Expr | None  # None: defined without a value (for #ifdef)
    span: Span
    until: int | None = None  # the line of the #undef that ends it
    header: bool = False  # an integer an included header defines (value is an n.Integer)

    def in_force(self, line: int) -> bool:
        return self.span.line < line and (self.until is None or line < self.until)


def _defines(ctx: CompileContext) -> dict[str, list[_Define]]:
    """Each name's `#define`s in script order; the other directives are checked
    (an #include names a file that exists) or reported."""
    defines: dict[str, list[_Define]] = {}
    start = Span(ctx.source, 0, 1, 0, 1)  # --include's headers: before the first line
    for included in ctx.options.includes:
        _add_header(defines, Path(included), start, ctx.options.include_dirs)
    for item in ctx.program.items:
        if not isinstance(item, n.Preproc):
            continue
        directive = DIRECTIVE.match(item.text)
        word, rest = (directive[1], directive[2]) if directive else ("", "")
        if word == "include":
            header = _check_include(item, rest, ctx)
            if header is not None:
                _add_header(defines, header, item.span, ctx.options.include_dirs)
        elif word == "define":
            found = _define(item, ctx.reporter)
            if found is None:
                continue
            current = _in_force(defines.get(found.name, []))
            if current is not None and current.header:  # the script's own wins
                current.until = item.span.line + 1
            elif current is not None:
                ctx.reporter.error(f"{found.name} is defined twice", item.span,
                                   f"it was first defined at line {current.span.line}; "
                                   f"#undef {found.name} first to define it again")
                continue
            defines.setdefault(found.name, []).append(found)
        elif word == "undef":
            name = rest.split()[0] if rest.split() else ""
            current = _in_force(defines.get(name, []))
            if current is not None:
                current.until = item.span.line
        elif word in ("error", "warning"):
            report = ctx.reporter.error if word == "error" else ctx.reporter.warning
            report(f"#{word}{rest.rstrip()}", item.span)
        else:
            ctx.reporter.error(f"#{word} is not supported", item.span,
                               "ptrace takes #include, #define, #undef, #if, #ifdef, "
                               "#ifndef, #elif, #else, #endif, #error and #warning")
    return defines


def _add_header(defines: dict[str, list[_Define]], path: Path, span: Span,
                extra_dirs: tuple[str, ...]) -> None:
    """The integers a header defines (`EPERM`), in force after `span`'s line;
    builtins' names and names already defined keep their meaning."""
    for name, value in header_defines(path, include_dirs(extra_dirs)).items():
        if name not in VARIABLES and name not in FUNCTIONS \
                and _in_force(defines.get(name, [])) is None:
            defines.setdefault(name, []).append(
                _Define(name, n.Integer(value, str(value), span=span), span, header=True))


def _in_force(defines: list[_Define]) -> _Define | None:
    """The definition not yet ended by an #undef."""
    return defines[-1] if defines and defines[-1].until is None else None


def _define(item: n.Preproc, reporter: Reporter) -> _Define | None:
    """NAME and the parsed value of `#define NAME value`."""
    directive = DIRECTIVE.match(item.text)
    assert directive is not None
    offset = directive.start(2)
    match = DEFINE.match(item.text, offset)
    if match is None:
        reporter.error("#define needs a name, as in #define LIMIT 10", item.span)
        return None
    name = match[1]
    if match[2]:
        reporter.error(f"#define {name}(…) has parameters, which is not supported", item.span,
                       f"a macro takes parameters: macro {name}(x) {{ … }}")
        return None
    start = match.end()
    # A backslash that continues the line becomes a space: positions stay those of the script.
    body = item.text[start:].replace("\\\n", " \n")
    if not without_comments(body).strip():
        return _Define(name, None, item.span)
    column = item.span.col + start + len(body) - len(body.lstrip())
    try:
        value = parse_expression_at(item.span.source, body, item.span.line,
                                    item.span.col + start)
    except CompileError:
        reporter.error(f"the value of #define {name} is not an expression",
                       Span(item.span.source, item.span.line, column, item.span.end_line,
                            item.span.end_col),
                       "#define NAME value takes an expression as its value, as in "
                       "#define LIMIT (4 * 1024)")
        return None
    return _Define(name, value, item.span)


def _check_include(item: n.Preproc, rest: str, ctx: CompileContext) -> Path | None:
    """The file an #include names; an error where it is not found. Of its
    contents only the integers its macros define are taken (kernel types come
    from BTF)."""
    target = _INCLUDE.match(without_comments(rest))
    if target is None:
        ctx.reporter.error("#include takes a file name, as in #include <linux/sched.h> or "
                           '#include "defs.h"', item.span)
        return None
    name = target[1] or target[2]
    # (the working directory as ".": the name is relative to it, for the compile cache)
    local = Path(ctx.source.name).parent if target[2] and Path(ctx.source.name).is_file() \
        else Path()
    dirs = ([local] if target[2] else []) + include_dirs(ctx.options.include_dirs)
    found = first_file(directory / name for directory in dirs)
    if found is not None:
        return found
    ctx.reporter.error(f"'{name}' file not found", item.span,
                       "searched " + ", ".join(str(d.absolute() if d == Path() else d)
                                               for d in dirs if d.is_dir()) + "; kernel types "
                       "come from BTF and need no #include")
    return None


_INCLUDE = re.compile(r'\s*(?:<([^>\n]+)>|"([^"\n]+)")\s*$')


def include_dirs(extra_dirs: tuple[str, ...] = ()) -> list[Path]:
    """Where `#include <…>` looks, as bpftrace's clang does: the -I
    directories, the system's headers, then the running kernel's where they
    are installed. Directories that do not exist are kept: the compile cache
    records each path looked at, so a header that appears in one later is a
    miss."""
    release = os.uname().release
    dirs = [Path(d) for d in extra_dirs]
    dirs += [Path("/usr/local/include"), Path("/usr/include"),
            Path(f"/usr/include/{os.uname().machine}-linux-gnu")]
    dirs += [Path(f"/lib/modules/{release}/{kind}/include") for kind in ("build", "source")]
    return dirs


class _Expander(Rewriter):
    def __init__(self, macros: dict[str, n.MacroDef], defines: dict[str, list[_Define]],
                 reporter: Reporter):
        self.macros = macros
        self.defines = defines
        self.reporter = reporter
        self.active: list[str] = []  # macros being expanded, to catch recursion
        self.ids = itertools.count(1)

    def rewrite_Identifier(self, node: n.Identifier) -> Any:
        """A #define'd name is its value; a macro without parameters may be used
        without parentheses (`one` is `one()`)."""
        define = self._define_at(node)
        if define is None:
            macro = self.macros.get(node.name)
            if macro is None or macro.params:
                return node
            return self.rewrite_Call(n.Call(node.name, (), node.span, span=node.span))
        if node.name in self.active:
            return node  # as in C, a name met inside its own expansion stays
        value = define.value
        if value is None:
            self.reporter.error(f"{node.name} is defined without a value", node.span,
                                f"#define {node.name} at line {define.span.line} gives it none; "
                                f"such a name serves #ifdef {node.name}")
            return node
        if define.header:  # a header's integer: a literal where the name is
            assert isinstance(value, n.Integer)
            return dataclasses.replace(value, span=node.span)
        self.active.append(node.name)
        try:
            return self.rewrite(_Substitute({}, {}, {}, node.span, self.reporter).rewrite(value))
        finally:
            self.active.pop()

    def _define_at(self, node: n.Identifier) -> _Define | None:
        """The #define of the name in force where it is used (for a name in an
        expansion, where the expansion is)."""
        use = node.span
        while use.expanded_from is not None:
            use = use.expanded_from
        return next((d for d in self.defines.get(node.name, ()) if d.in_force(use.line)), None)

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
                call: n.Call) -> n.Expr | None:
        uid = next(self.ids)
        variables: dict[str, str] = {}
        maps: dict[str, str] = {}
        values: dict[str, n.Expr] = {}
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
                values[param] = arg
        # The body's own variables get names of this expansion's own.
        for node in walk(macro.body):
            if isinstance(node, n.Variable | n.Let) and node.name not in variables:
                variables[node.name] = f"{node.name}__macro{uid}"
            if isinstance(node, n.For) and node.var not in variables:
                variables[node.var] = f"{node.var}__macro{uid}"
        substitute = _Substitute(variables, maps, values, call.span, self.reporter)
        body = substitute.rewrite(macro.body)
        if len(body.stmts) == 1 and body.value is not None and isinstance(body.value, n.Expr):
            return body.value  # nothing but a value: the value itself, `one()` is `1`
        return n.BlockExpr(body, span=call.span)


class _Substitute(Rewriter):
    """Renames variables and maps, replaces value parameters by their
    arguments (a copy at each use, evaluated there), marks the expansion."""

    def __init__(self, variables: dict[str, str], maps: dict[str, str],
                 values: dict[str, n.Expr], call: Span, reporter: Reporter):
        self.variables = variables
        self.maps = maps
        self.values = values
        self.call = call
        self.reporter = reporter

    def rewrite(self, node: n.Node) -> Any:
        if isinstance(node, n.Identifier) and node.name in self.values:
            return _Copy().rewrite(self.values[node.name])  # the caller's spans
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
        return self.rebuild(node, name=self._map(node))

    def rewrite_MapRef(self, node: n.MapRef) -> Any:
        return dataclasses.replace(node, name=self._map(node))

    def _map(self, node: n.MapAccess | n.MapRef) -> str:
        """The caller's map a body's map parameter stands for; a map the body
        names that is not a parameter is an error (macros are hygienic)."""
        name = self.maps.get(node.name)
        if name is None:
            self.reporter.error(f"a macro's body may only use the maps passed to it: {node.name} "
                                "is not one of its parameters", self._span(node.span),
                                f"add a parameter {node.name} and pass the map")
            return node.name
        return name

    def rewrite_TypeName(self, node: n.TypeName) -> Any:
        """A parameter used as a type (`sizeof(t *)`, `let $x: t`): the type its
        argument passes, `typeof(…)`."""
        arg = self.values.get(node.base)
        if arg is None:
            return node
        passed = n.written_type(arg)
        if passed is None or (node.array_size is not None and passed.array_size is not None):
            self.reporter.error(f"'{node.base}' is used as a type here: its argument must be "
                                "typeof(a type), as in typeof(struct task_struct)", arg.span)
            return node
        size = passed.array_size if node.array_size is None else node.array_size
        return n.TypeName(passed.base, passed.pointer_depth + node.pointer_depth, size,
                          span=node.span)

    def rewrite_Index(self, node: n.Index) -> Any:
        """`t[4]` of a parameter that passes a type: an array type (`sizeof(t[4])`)."""
        new = self.rebuild(node)
        passed = n.written_type(new.base) if isinstance(new.base, n.TypeOf) else None
        if passed is None or not isinstance(new.index, n.Integer) \
                or passed.array_size is not None:
            return new
        return n.TypeOf(n.TypeName(passed.base, passed.pointer_depth, new.index.value,
                                   span=node.span), span=node.span)


class _Copy(Rewriter):
    """A copy of a tree whose every node is new (side tables are keyed by node)."""

    def rewrite(self, node: n.Node) -> Any:
        new = super().rewrite(node)
        return dataclasses.replace(new) if new is node else new
