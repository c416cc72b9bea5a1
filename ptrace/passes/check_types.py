"""Semantic checks and type inference.

Input: the probe instances from `expand_probes`. Output: each instance's
`types` table (expr → Type), `ctx.maps` (every script map with its key
and value types), and `ctx.checked` (the printf sites and the other tables
keyed by node: sizes, offsets, field reads, …). Every misuse is a diagnostic
on the node that caused it.

Map types are global and may be read in one probe before the probe that
assigns them, so the check runs twice: a first quiet round learns the maps
from their assignments, the second reports. Each round returns its own
tables; only the second's are kept.

The builtins (variables and function calls) are checked by the part of the
checker in `check_builtins.py`, from the table in `ptrace.types.builtins`;
what a probe's context holds (`args`, `retval`, `ctx`, usdt arguments) by the
part in `probe_context.py`, from the probe-kind table.
"""

from __future__ import annotations

import difflib
import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ptrace.ast import nodes as n
from ptrace.diagnostics import Diagnostic, Reporter, Severity, Span, site_location
from ptrace.options import MAX_STRLEN_LIMIT, param_integer, unstable_refused
from ptrace.passes.check_builtins import BuiltinChecks, check_named_params
from ptrace.passes.context import CompileContext, MapInfo, PrintfSite, ProbeInstance, TypeResults
from ptrace.passes.probe_context import ProbeContextChecks
from ptrace.passes.type_rules import (
    MAX_BPF_LOOP,
    assigned_aggregation,
    constant_integer,
    is_callback_loop,
    is_unsigned,
    literal_type,
    literal_value,
    storable,
)
from ptrace.printf_format import parse_format
from ptrace.probe_kinds import KINDS, ProbeKind
from ptrace.program import WARN_ONCE
from ptrace.types import types as t
from ptrace.types.builtins import LATER_VARIABLES, VARIABLES
from ptrace.types.kernel import (
    FieldAccess,
    bitfield_type,
    c_size,
    field_access,
    from_btf,
    struct_id,
    struct_value,
)

UNROLL_MAX = 100
# Unrolls inside unrolls copy the innermost body the product of their counts
# times; past this many copies compiling takes minutes and the program is
# past the verifier's instruction limit anyway.
UNROLLED_COPIES_MAX = 1000
if TYPE_CHECKING:  # the BTF reader is imported only for kernel types
    from ptrace.types import btf as btf_module


def check_types(ctx: CompileContext) -> None:
    check_round(ctx, Reporter())  # learns ctx.maps and ctx.let_types
    ctx.checked = check_round(ctx, ctx.reporter)
    check_named_params(ctx)


def check_round(ctx: CompileContext, reporter: Reporter) -> TypeResults:
    """One round over every instance: fresh types and tables, and the maps
    and `let` types learned so far (kept, and added to)."""
    checked = TypeResults()
    found: list[tuple[ProbeInstance, list[Diagnostic]]] = []
    for instance in ctx.instances:
        instance.variable_types = _variable_types(instance)
        instance.types.clear()
        own = Reporter()
        _Checker(ctx, checked, instance, own).check()
        found.append((instance, own.diagnostics))
    reporter.diagnostics.extend(merge_instances(found))
    return checked


# How many names of the other probes sharing a diagnostic its hint shows.
SHARED_NAMES_SHOWN = 3


def merge_instances(found: list[tuple[ProbeInstance, list[Diagnostic]]]) -> list[Diagnostic]:
    """The diagnostics of every instance, each place told once per probe.

    A wildcard's instances share one body, so a mistake in it is found once
    per instance (21 times under `sys_enter_*`). The first instance's
    diagnostic at a place stands for the rest; a hint counts and names the
    other probes that have one there too.
    """
    first: dict[tuple[Span, Severity, Span | None], int] = {}
    others: dict[int, dict[str, None]] = {}  # the probes' names (in order), first the first's
    merged: list[Diagnostic] = []
    for instance, diagnostics in found:
        name = instance.attach.probe
        for diagnostic in diagnostics:
            key = (instance.probe.span, diagnostic.severity, diagnostic.span)
            if diagnostic.span is None or key not in first:
                first[key] = len(merged)
                others[len(merged)] = {name: None}
                merged.append(diagnostic)
            else:  # (a usdt probe's several sites share one name)
                others[first[key]][name] = None
    for index, shared in others.items():
        _, *names = shared
        if not names:
            continue
        shown = ", ".join(names[:SHARED_NAMES_SHOWN]) + (", …" if len(names) > SHARED_NAMES_SHOWN
                                                         else "")
        probes = "probe" if len(names) == 1 else "probes"
        diagnostic = merged[index]
        merged[index] = replace(diagnostic, hints=(
            *diagnostic.hints,
            f"the same {diagnostic.severity.value} in {len(names)} more {probes} "
            f"of this wildcard: {shown}"))
    return merged


def _ends_probe(stmt: n.Stmt) -> bool:
    """Whether a statement ends the probe: `exit();` or `return;`."""
    if isinstance(stmt, n.ExprStmt):
        return isinstance(stmt.expr, n.Call) and stmt.expr.name == "exit"
    return isinstance(stmt, n.Return)


@dataclass(frozen=True, slots=True)
class _Untyped(t.Type):
    """What a scope holds for `let $x;` until the variable's first assignment
    gives its type (bpftrace's rule); never assigned, it is an integer 0."""

    let: n.Let  # whose type codegen reads

    @property
    def size(self) -> int:
        return 8


class _Checker(BuiltinChecks, ProbeContextChecks):
    def __init__(self, ctx: CompileContext, checked: TypeResults, instance: ProbeInstance,
                 reporter: Reporter):
        self.ctx = ctx
        self.checked = checked
        self.instance = instance
        self.reporter = reporter
        self.scopes: list[dict[str, t.Type]] = []
        self.loops = 0
        self.dead = 0  # > 0 in a branch whose condition is constant and false: fail() is quiet
        self.calls: list[n.Call] = []
        self.copies = 1  # copies of the statement being checked, made by enclosing unrolls
        self.assigning: str | None = None  # the map an assignment is storing to
        self.assigning_value: t.Type | None = None  # what it stores, once known
        self.fixed: set[str] = set()  # variables declared with a type (`let $x: uint8`)
        # Variables whose assignment was an error: their later uses are not
        # errors too (the script was told once, at the assignment).
        self.unknown: set[str] = set()
        # Reads of the map being assigned before its first definition, with their key types.
        self.early_reads: list[tuple[n.MapAccess, t.Type | None]] = []

    def check(self) -> None:
        probe = self.instance.probe
        self.scopes.append({})
        if probe.predicate is not None:
            self._condition(probe.predicate)
        self.block(probe.body, new_scope=False)
        self.scopes.pop()

    def error(self, message: str, span: Span, *hints: str) -> None:
        self.reporter.error(message, span, *hints)

    # ---- statements ----
    def block(self, block: n.Block, new_scope: bool = True) -> None:
        if new_scope:
            self.scopes.append({})
        for index, stmt in enumerate(block.stmts):
            self.stmt(stmt)
            if index + 1 < len(block.stmts) and _ends_probe(stmt):
                self.reporter.warning("this statement is never run: the probe ends before it",
                                      block.stmts[index + 1].span,
                                      "exit() and return end the probe at once")
        if new_scope:
            self.scopes.pop()

    def stmt(self, stmt: n.Stmt) -> None:
        if isinstance(stmt, n.ExprStmt):
            self.expr(stmt.expr, statement=True)
        elif isinstance(stmt, n.Assign):
            self.assign(stmt)
        elif isinstance(stmt, n.Let):
            self.let(stmt)
        elif isinstance(stmt, n.If):
            self.if_(stmt)
        elif isinstance(stmt, n.Block):
            self.block(stmt)
        elif isinstance(stmt, n.Return):
            if stmt.value is not None:
                self._returned(stmt.value)
        elif isinstance(stmt, n.Break | n.Continue):
            word = "break" if isinstance(stmt, n.Break) else "continue"
            if self.loops == 0:
                self.error(f"'{word}' outside a loop", stmt.span,
                           "break and continue belong in while and for loops")
        elif isinstance(stmt, n.While):
            self._condition(stmt.cond)
            self.loop_body(stmt.body)
        elif isinstance(stmt, n.Unroll):
            self.unroll(stmt)
        elif isinstance(stmt, n.For):
            self.for_(stmt)
        else:
            raise AssertionError(f"unknown statement {type(stmt).__name__}")

    def loop_body(self, body: n.Block, variables: dict[str, t.Type] | None = None) -> None:
        self.loops += 1
        self.scopes.append(dict(variables or {}))
        self.block(body, new_scope=False)
        self.scopes.pop()
        self.loops -= 1

    def unroll(self, stmt: n.Unroll) -> None:
        count = stmt.count
        value = self.constant_integer(count)
        if value is None or not 1 <= value <= UNROLL_MAX:
            self.error(f"unroll takes a number from 1 to {UNROLL_MAX}", count.span)
            return
        if self.copies * value > UNROLLED_COPIES_MAX:
            self.error(f"this unroll inside others copies its body {self.copies * value} "
                       f"times; at most {UNROLLED_COPIES_MAX}", count.span,
                       "a while or for loop runs its body without copying it")
            return
        self.checked.unroll_counts[stmt] = value
        # break/continue do not apply to unroll: its body is copied, not looped.
        saved, self.loops = self.loops, 0
        self.copies *= value
        self.block(stmt.body)
        self.copies //= value
        self.loops = saved

    def for_(self, stmt: n.For) -> None:
        if isinstance(stmt.iterable, n.MapRef):
            entry = self.map_entry_type(stmt.iterable)
            if entry is not None:
                self.instance.types[stmt] = entry
                self.loop_body(stmt.body, {stmt.var: entry})
            return
        for bound in (stmt.iterable.start, stmt.iterable.stop):
            btype = self.expr(bound)
            if btype is not None and not btype.is_integer:
                self.error(f"a range bound must be an integer, got {btype}", bound.span)
                return
        if is_callback_loop(stmt):  # a run-time count, which bpf_loop bounds
            location, context = site_location(stmt.iterable.span)
            self.checked.printf_ids[stmt] = len(self.checked.printf_sites)
            self.checked.printf_sites.append(PrintfSite(WARN_ONCE, (
                f"this range has more than {MAX_BPF_LOOP} values, the most bpf_loop runs: "
                "the loop did not run",), (), location, context))
        self.loop_body(stmt.body, {stmt.var: t.INT64})

    def if_(self, stmt: n.If) -> None:
        self._condition(stmt.cond)
        never_then, never_else = self._branches_never_taken(stmt.cond)
        self.dead += never_then
        self.block(stmt.then)
        self.dead += never_else - never_then
        if isinstance(stmt.orelse, n.If):
            self.if_(stmt.orelse)
        elif stmt.orelse is not None:
            self.block(stmt.orelse)
        self.dead -= never_else

    def _branches_never_taken(self, cond: n.Expr) -> tuple[bool, bool]:
        """Whether an if's then branch, and its else branch, is never taken: its
        condition is known when compiling."""
        value = self.folded(cond)
        return value == 0, value is not None and value != 0

    def folded(self, e: n.Expr) -> int | None:
        """The value of an expression known when compiling (literals, positional
        parameters, sizeof, offsetof and the operators over them), else None."""
        if isinstance(e, n.Boolean):
            return int(e.value)
        if isinstance(e, n.Sizeof):
            return self.checked.sizes.get(e)
        if isinstance(e, n.Offsetof):
            return self.checked.offsets.get(e)
        if isinstance(e, n.Unary) and e.op in ("!", "~", "-"):
            operand = self.folded(e.operand)
            if operand is None:
                return None
            return int(not operand) if e.op == "!" else (~operand if e.op == "~" else -operand)
        if isinstance(e, n.Binary):
            left, right = self.folded(e.left), self.folded(e.right)
            if left is None or right is None:
                return None
            if e.op in _COMPARED:
                return int(_COMPARED[e.op](left, right))
            if e.op in ("/", "%") and right == 0:
                return None
            if e.op in _FOLDED:
                return _FOLDED[e.op](left, right)
            return None
        return self.constant_integer(e)

    def let(self, stmt: n.Let) -> None:
        declared = self.declared_type(stmt.type) if stmt.type is not None else None
        value = self.expr(stmt.value) if stmt.value is not None else None
        if stmt.type is None and stmt.value is None:
            declared = self.ctx.let_types.get(stmt)
            if declared is None:
                self.scopes[-1][stmt.name] = _Untyped(stmt)
                self.instance.types[stmt] = t.INT64  # until an assignment says otherwise
                return
        if declared is not None and value is not None and not _assignable(declared, value):
            self.error(f"cannot initialise '{stmt.name}' of type {declared} with {value}",
                       stmt.span)
        literal = literal_value(stmt.value) if stmt.value is not None else None
        if isinstance(declared, t.Int) and literal is not None and not _fits(literal, declared):
            self.error(f"{literal} does not fit in {declared}", stmt.value.span
                       if stmt.value is not None else stmt.span)
        vtype = declared or value or t.INT64
        if declared is not None:
            self.fixed.add(stmt.name)
        self.scopes[-1][stmt.name] = vtype
        self.instance.types[stmt] = vtype  # codegen sizes the variable from this

    def assign(self, stmt: n.Assign) -> None:
        target, value = stmt.target, stmt.value
        if stmt.op in ("/=", "%="):
            self.division_site(stmt, stmt.op[0], value)
        aggregated = assigned_aggregation(value)
        if aggregated is not None:
            blocks, call = aggregated
            if not isinstance(target, n.MapAccess):
                self.error(f"{call.name}() must be assigned to a map", call.span)
                return
            if stmt.op != "=":
                self.error(f"{call.name}() is assigned with '=', not '{stmt.op}'", stmt.span)
                return
            for block in blocks:  # their statements first, each block a scope
                self.scopes.append({})
                for inner in block.stmts[:-1]:
                    self.stmt(inner)
            aggregation = self.aggregation(call)
            del self.scopes[len(self.scopes) - len(blocks):]
            if aggregation is not None:
                self.store(target, aggregation)
            return
        if isinstance(target, n.Identifier) and target.name == "_":
            self.discard(stmt)
            return
        if isinstance(target, n.Variable):
            vtype = self.expr(value)
            if vtype is None or isinstance(vtype, t.Void):
                if isinstance(vtype, t.Void):
                    self.error("this expression has no value to assign", value.span)
                self.unknown.add(target.name)
                return
            existing = self.lookup(target.name)
            if isinstance(existing, _Untyped):
                existing = self._settle(target.name, existing,
                                        vtype if stmt.op == "=" else t.INT64)
            if stmt.op != "=":
                if existing is None:
                    if target.name not in self.unknown:
                        self.error(f"undefined variable '{target.name}'", target.span)
                elif not (existing.is_integer and vtype.is_integer):
                    self.error(f"'{stmt.op}' needs integers, got {existing} and {vtype}",
                               stmt.span)
                elif (isinstance(existing, t.Pointer) and stmt.op in ("+=", "-=")
                      and not isinstance(vtype, t.Pointer)):
                    self.checked.pointer_scales[stmt] = self.pointee_size(existing)  # `$p += 1`
                else:
                    existing = self.widen(target.name, existing, vtype)
                self.instance.types[target] = existing or t.INT64
                return
            if existing is not None:
                if not _assignable(existing, vtype):
                    self.error(f"'{target.name}' holds {existing}; cannot assign {vtype}",
                               value.span)
                    return
                merged = t.merge(existing, vtype) or existing
                self._rebind(target.name, merged)
            else:
                self.scopes[-1][target.name] = vtype
            self.instance.types[target] = self.lookup(target.name) or vtype
            return
        if isinstance(target, n.MapAccess):
            self.assigning = target.name
            vtype = self.expr(value)
            if vtype is None:
                self.assigning = None
                return
            if isinstance(vtype, t.Void):
                self.assigning = None
                self.error("this expression has no value to assign", value.span)
                return
            if stmt.op != "=" and not vtype.is_integer:
                self.assigning = None
                self.error(f"'{stmt.op}' needs an integer, got {vtype}", value.span)
                return
            self.assigning = None
            held = self.ctx.maps.get(target.name)
            if (stmt.op in ("+=", "-=") and held is not None
                    and isinstance(held.value, t.Pointer) and not isinstance(vtype, t.Pointer)):
                self.checked.pointer_scales[stmt] = self.pointee_size(held.value)  # `@p += 1`
            self.store(target, vtype if stmt.op == "=" else t.INT64)
            return
        self.error("only variables ($x) and maps (@x) can be assigned to", target.span)

    def discard(self, stmt: n.Assign) -> None:
        """`_ = expr;` evaluates expr for its effects and drops its value."""
        if stmt.op != "=":
            self.error(f"'_' only discards values: it takes '=', not '{stmt.op}'", stmt.span)
            return
        self.expr(stmt.value)

    def widen(self, name: str, existing: t.Type, operand: t.Type) -> t.Type:
        """`$x += v`, `$x++`: a variable not declared with a type takes the
        type of the arithmetic's 64-bit result (as `$x = $x + v` would), so
        `$i = 0` counts past 255; one declared `let $x: uint8` wraps."""
        if not isinstance(existing, t.Int) or name in self.fixed:
            return existing
        result = t.UINT64 if is_unsigned(existing) or is_unsigned(operand) else t.INT64
        widened = t.merge(existing, result) or existing
        self._rebind(name, widened)
        return widened

    def _settle(self, name: str, untyped: _Untyped, vtype: t.Type) -> t.Type:
        """Give a variable declared by `let $x;` the type of its first use."""
        self._rebind(name, vtype)
        self.instance.types[untyped.let] = vtype
        self.ctx.let_types[untyped.let] = vtype
        return vtype

    def _rebind(self, name: str, vtype: t.Type) -> None:
        for scope in reversed(self.scopes):
            if name in scope:
                scope[name] = vtype
                return

    def lookup(self, name: str) -> t.Type | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    # ---- maps ----
    def key_type(self, access: n.MapAccess) -> t.Type | None:
        if not access.keys:
            return None
        types = [self.held(self.expr(k), k.span) for k in access.keys]
        for key, ktype in zip(access.keys, types, strict=True):
            if ktype is not None and (not storable(ktype) or ktype.size == 0):
                self.error(f"{ktype} cannot be a map key", key.span)
                return None
        if any(k is None for k in types):
            return None
        valid = [k for k in types if k is not None]
        return valid[0] if len(valid) == 1 else t.Tuple(tuple(valid))

    def store(self, target: n.MapAccess, value: t.Type) -> None:
        """Define or extend a map by a store to it. In `@a[@a[0]] = 1` as @a's
        first store, the key reads the map being defined: it reads what is
        stored, and its own key must agree with the map's once defined."""
        self.assigning, self.assigning_value, self.early_reads = target.name, value, []
        self.define_map(target, value)
        self.assigning, self.assigning_value = None, None
        info = self.ctx.maps.get(target.name)
        if info is not None:
            for early, key in self.early_reads:
                self._check_key(info, early, key)

    def define_map(self, access: n.MapAccess, value: t.Type) -> None:
        key = self.key_type(access)
        if access.keys and key is None:
            return
        held = self.held(value, access.span)
        if held is None:
            return
        value = _map_integer(held)
        if not isinstance(value, t.Aggregation) and (not storable(value) or value.size == 0):
            self.error(f"{value} cannot be stored in a map", access.span)
            return
        info = self.ctx.maps.get(access.name)
        if info is None:
            self.ctx.maps[access.name] = MapInfo(access.name, key, value, access.span)
            self.instance.types[access] = value
            return
        self._check_key(info, access, key)
        merged = t.merge(info.value, value)
        if merged is None:
            self.error(f"map {access.name} holds {_describe(info.value)}; "
                       f"cannot store {_describe(value)}", access.span,
                       f"{access.name} was first used at line {info.span.line}")
            return
        info.value = merged
        self.instance.types[access] = merged

    def _check_key(self, info: MapInfo, access: n.MapAccess, key: t.Type | None) -> None:
        if (info.key is None) != (key is None):
            want = "no key" if info.key is None else f"a key of type {info.key}"
            self.error(f"map {access.name} is used with {want} elsewhere", access.span,
                       f"{access.name} was first used at line {info.span.line}")
            return
        if info.key is not None and key is not None:
            merged = t.merge(info.key, key)
            if merged is None:
                self.error(f"map {access.name} has keys of type {info.key}; "
                           f"this key is {key}", access.span,
                           f"{access.name} was first used at line {info.span.line}")
            else:
                info.key = merged

    def map_info(self, name: str, span: Span) -> MapInfo | None:
        info = self.ctx.maps.get(name)
        if info is None:
            close = difflib.get_close_matches(name, list(self.ctx.maps), n=1)
            hints = [f"did you mean {close[0]}?"] if close else []
            self.error(f"map {name} is never assigned", span, *hints)
        return info

    def map_entry_type(self, ref: n.MapRef) -> t.Type | None:
        """The type of `$kv` in `for ($kv : @m)`: (key, value), the value as a read gives it."""
        info = self.map_info(ref.name, ref.span)
        if info is None:
            return None
        if info.key is None:
            self.error(f"map {ref.name} has no keys to iterate over", ref.span,
                       f"read it as {ref.name}, or give it keys: {ref.name}[k] = v")
            return None
        value = self.read_map(n.MapAccess(ref.name, (), span=ref.span), entry=True)
        return None if value is None else t.Tuple((info.key, value))

    def read_map(self, access: n.MapAccess, entry: bool = False) -> t.Type | None:
        if access.name == self.assigning and access.name not in self.ctx.maps:
            # `@x = @x + 1` with no assignment before: the map reads as integer 0.
            # In a key of the map's first assignment, it reads the value stored.
            self.early_reads.append((access, self.key_type(access)))
            stored = self.assigning_value
            if isinstance(stored, t.Aggregation):
                return t.UINT64 if isinstance(stored, t.Count) else t.INT64
            return stored or t.INT64
        info = self.map_info(access.name, access.span)
        key = self.key_type(access)
        if info is None:
            return None
        if access.keys and key is None:
            return None
        if not entry:
            self._check_key(info, access, key)
        if isinstance(info.value, t.Count | t.Sum | t.Min | t.Max | t.Avg):
            # The value summed (or min/max-ed, averaged) over the CPUs.
            return t.UINT64 if isinstance(info.value, t.Count) else t.INT64
        if isinstance(info.value, t.Aggregation):
            self.error(f"a {info.value.function}() map has no single value to read",
                       access.span, "print() it, or keep counts with count() or sum()")
            return None
        return info.value

    def _returned(self, value: n.Expr) -> None:
        """`return VALUE`: an integer, the program's result (a test probe's
        verdict: it fails on any but 0)."""
        rtype = self.expr(value)
        if rtype is not None and not rtype.is_integer:
            self.error(f"a probe returns an integer, not {rtype}", value.span)

    # ---- expressions ----
    def _condition(self, expr: n.Expr) -> None:
        ctype = self.expr(expr)
        if ctype is not None and not (ctype.is_integer or isinstance(ctype, t.Str)):
            self.error(f"a condition must be an integer or a string, got {ctype}", expr.span)

    def expr(self, expr: n.Expr, statement: bool = False) -> t.Type | None:
        result = self._expr(expr, statement)
        if result is not None:
            self.instance.types[expr] = result
        return result

    def _expr(self, e: n.Expr, statement: bool) -> t.Type | None:
        if isinstance(e, n.Integer):
            if e.value >= 2**64:
                self.error("integer literal is too large for 64 bits", e.span)
                return None
            return literal_type(e.value)
        if isinstance(e, n.String):
            if len(e.value) >= MAX_STRLEN_LIMIT:
                self.error(f"a string of {len(e.value)} bytes is too long: a string value "
                           f"holds at most {MAX_STRLEN_LIMIT - 1}", e.span,
                           "a printf format may be longer: the text stays in ptrace")
                return None
            return t.Str(len(e.value) + 1)
        if isinstance(e, n.Boolean):
            return t.BOOL
        if isinstance(e, n.Identifier):
            return self.identifier(e)
        if isinstance(e, n.Variable):
            vtype = self.lookup(e.name)
            if vtype is None and e.name not in self.unknown:
                self.error(f"undefined variable '{e.name}'", e.span)
            if isinstance(vtype, _Untyped):
                return t.INT64
            # As bpftrace, a read has the type the variable has over the whole
            # probe: `$a = ("hi", 1)` read before `$a = ("longer", 2)` is a
            # (string[7], …) too.
            final = self.instance.variable_types.get(e.name)
            return (t.merge(vtype, final) or vtype) if vtype is not None and final else vtype
        if isinstance(e, n.Positional):
            return self.positional(e)
        if isinstance(e, n.MapAccess):
            return self.read_map(e)
        if isinstance(e, n.Binary):
            return self.binary(e)
        if isinstance(e, n.Unary):
            return self.unary(e)
        if isinstance(e, n.IncDec):
            return self.incdec(e)
        if isinstance(e, n.Conditional):
            return self.conditional(e, statement)
        if isinstance(e, n.Cast):
            return self.cast(e)
        if isinstance(e, n.Field):
            return self.field(e)
        if isinstance(e, n.Tuple):
            elements = [self.held(self.expr(x), x.span) for x in e.elements]
            if any(x is None for x in elements):
                return None
            for x, xt in zip(e.elements, elements, strict=True):
                if xt is not None and not storable(xt):
                    self.error(f"{xt} cannot be part of a tuple", x.span)
                    return None
            return t.Tuple(tuple(x for x in elements if x is not None))
        if isinstance(e, n.Record):
            return self.record(e)
        if isinstance(e, n.Sizeof):
            return self.sizeof(e)
        if isinstance(e, n.Offsetof):
            return self.offsetof(e)
        if isinstance(e, n.Call):
            return self.call(e, statement)
        if isinstance(e, n.BlockExpr | n.IfExpr):
            vtype = self.block_value(e.block, statement) if isinstance(e, n.BlockExpr) else \
                self.if_value(e.if_, statement)
            if isinstance(vtype, t.Void) and not statement:
                self.error("this block has no value: its last expression is followed by ';'"
                           if isinstance(e, n.BlockExpr) else "this if has no value", e.span)
                return None
            return vtype
        if isinstance(e, n.Index):
            return self.index(e)
        if isinstance(e, n.TypeOf):
            self.error("typeof(…) is a type, not a value", e.span,
                       "a type goes in a cast, a let, sizeof, a macro's argument or "
                       "container_of's")
            return None
        self.error("this expression is not supported yet", e.span)
        return None

    def index(self, e: n.Index) -> t.Type | None:
        """`a[i]` of an array or a string (an element), or of a pointer (`*(p + i)`)."""
        base = self.expr(e.base)
        itype = self.expr(e.index)
        if base is None or itype is None:
            return None
        if not itype.is_integer:
            self.error(f"an index must be an integer, got {itype}", e.index.span)
            return None
        if isinstance(base, t.Tuple):
            return self.tuple_index(e, base)
        if isinstance(base, t.Array | t.Str):
            count = base.count if isinstance(base, t.Array) else base.capacity
            literal = literal_value(e.index)
            if literal is not None and not 0 <= literal < count:
                self.error(f"index {literal} is out of bounds for {base}", e.index.span,
                           f"it has {count} elements, 0 to {count - 1}")
                return None
            if not isinstance(e.index, n.Integer):  # checked when the probe runs
                location, context = site_location(e.index.span)
                self.checked.printf_ids[e] = len(self.checked.printf_sites)
                self.checked.printf_sites.append(PrintfSite(WARN_ONCE, parse_format(
                    f"index %d is out of bounds for {base} (0 to {count - 1}): 0 is read"),
                    (t.INT64,), location, context))
            return base.element if isinstance(base, t.Array) else t.Int(8, True)
        if isinstance(base, t.Pointer):
            element = self.dereference(e, base, e.base.span)
            access = self.checked.field_accesses.get(e)
            if access is not None:
                self.checked.pointer_scales[e] = access.read_size
            elif isinstance(element, t.Struct):
                btf = self.ctx.btf()
                self.checked.pointer_scales[e] = btf.size(element.btf_id) if btf is not None else 0
            return element
        self.error(f"{base} cannot be indexed", e.base.span)
        return None

    def tuple_index(self, e: n.Index, base: t.Tuple) -> t.Type | None:
        """`t[i]` is `t.i`: the index is known when compiling (`$t[1 - 1]`)."""
        position = _constant_value(e.index)
        if position is None:
            self.error("a tuple's index must be a constant, as in $t[0]", e.index.span,
                       "its elements may have different types")
            return None
        if not 0 <= position < len(base.elements):
            self.error(f"a tuple of {len(base.elements)} has no element {position}", e.index.span)
            return None
        self.checked.tuple_positions[e] = position
        return base.elements[position]

    def record(self, e: n.Record) -> t.Type | None:
        names = [f.name for f in e.fields]
        for i, name in enumerate(names):
            if name in names[:i]:
                self.error(f"the record has two fields named '{name}'", e.fields[i].span)
                return None
        elements = [self.held(self.expr(f.value), f.value.span) for f in e.fields]
        for f, ftype in zip(e.fields, elements, strict=True):
            if ftype is not None and not storable(ftype):
                self.error(f"{ftype} cannot be part of a record", f.value.span)
                return None
        if any(x is None for x in elements):
            return None
        return t.Record(tuple(names), tuple(x for x in elements if x is not None))

    def block_value(self, block: n.Block, statement: bool = False) -> t.Type | None:
        """Check a block used as an expression; its type is its value's (its last
        expression, or the if-else chain or block it ends in). In a statement,
        the value may be none (`{ printf("hi") };`)."""
        self.scopes.append({})
        value = block.value
        for stmt in block.stmts[:-1] if value is not None else block.stmts:
            self.stmt(stmt)
        result = self.value_of(value, statement) if value is not None else t.VOID
        self.scopes.pop()
        return result

    def value_of(self, value: n.Expr | n.If | n.Block, statement: bool) -> t.Type | None:
        """The type of a block's value: an expression, an if-else chain or a block."""
        if isinstance(value, n.Expr):
            return self.expr(value, statement)
        vtype = self.if_value(value, statement) if isinstance(value, n.If) else \
            self.block_value(value, statement)
        if vtype is not None:
            self.instance.types[value] = vtype  # codegen's block_type reads it
        return vtype

    def if_value(self, stmt: n.If, statement: bool = False) -> t.Type | None:
        self._condition(stmt.cond)
        never_then, never_else = self._branches_never_taken(stmt.cond)
        self.dead += never_then
        then = self.block_value(stmt.then, statement)
        self.dead -= never_then
        if stmt.orelse is None:
            if not isinstance(then, t.Void) and not statement:
                self.error("an if with a value needs an else", stmt.span)
                return None
            return t.VOID
        self.dead += never_else
        orelse = self.value_of(stmt.orelse, statement)
        self.dead -= never_else
        if then is None or orelse is None:
            return None
        return self.branches_type(then, orelse, "this if", stmt.span)

    def branches_type(self, then: t.Type, orelse: t.Type, what: str,
                      span: Span) -> t.Type | None:
        """The type of an if-else's or a `?:`'s value: none if a branch has none."""
        if isinstance(then, t.Void) or isinstance(orelse, t.Void):
            return t.VOID
        merged = t.merge(then, orelse)
        if merged is None:
            self.error(f"the branches of {what} have different types: {then} and {orelse}",
                       span)
        return merged

    def identifier(self, e: n.Identifier) -> t.Type | None:
        if self.instance.attach.kind == ProbeKind.USDT and re.fullmatch(r"arg\d+", e.name):
            return self.usdt_arg(e)
        builtin = VARIABLES.get(e.name)
        if builtin is not None:
            return self.variable(e, builtin)
        if e.name in LATER_VARIABLES:
            self.error(f"the builtin '{e.name}' is not supported yet", e.span)
            return None
        btf = self.ctx.btf()
        found = btf.enum_value(e.name) if btf is not None else None
        if btf is not None and found is not None:  # an enumerator: a value of its enum's type
            self.checked.enum_values[e] = found[1]
            enum = from_btf(btf, found[0])
            # As bpftrace 0.26, a 64-bit value (sizeof gives 8), still printed by name.
            return replace(enum, bits=64, signed=True) if isinstance(enum, t.Enum) else \
                enum or t.INT64
        close = difflib.get_close_matches(e.name, list(VARIABLES), n=1)
        self.error(f"unknown identifier '{e.name}'", e.span,
                   *([f"did you mean '{close[0]}'?"] if close else []))
        return None

    def constant_integer(self, e: n.Expr) -> int | None:
        """An integer literal's value, or a positional parameter's given as an
        integer (see type_rules.constant_integer)."""
        return constant_integer(e, self.ctx.options.params)

    def positional(self, e: n.Positional) -> t.Type | None:
        params = self.ctx.options.params
        if e.index == 0:
            return t.INT64
        text = params[e.index - 1] if e.index <= len(params) else ""
        if text == "":
            return t.INT64  # not given: 0 (or "" where a string is needed)
        number = param_integer(text)
        if number is None:
            return t.Str(len(text.encode()) + 1)
        if not -(2**63) <= number < 2**64:
            self.error(f"${e.index} is {text}, which does not fit in 64 bits", e.span)
            return None
        return t.UINT64 if number >= 2**63 else t.INT64

    def binary(self, e: n.Binary) -> t.Type | None:
        left, right = self.expr(e.left), self.expr(e.right)
        if left is None or right is None:
            return None
        op = e.op
        if op in ("==", "!=") and isinstance(left, t.Str) and isinstance(right, t.Str):
            return t.BOOL
        if op in ("==", "!=") and (_compound(left) or _compound(right)):
            return self.compare_compound(e, left, right)
        if not (left.is_integer and right.is_integer):
            if op in ("==", "!=") and isinstance(left, t.Str) != isinstance(right, t.Str):
                self.error(f"cannot compare {left} with {right}", e.span)
                return None
            bad = e.left if not left.is_integer else e.right
            badtype = left if not left.is_integer else right
            self.error(f"'{op}' needs integers, got {badtype}", bad.span)
            return None
        if op in ("==", "!=", "<", "<=", ">", ">=", "&&", "||"):
            return t.BOOL
        pointer = self.pointer_arithmetic(e, left, right)
        if pointer is not None:
            return pointer
        if op == "-":
            return t.INT64
        if op in ("/", "%"):
            self.division_site(e, op, e.right)
        unsigned = is_unsigned(left) or is_unsigned(right)
        return t.UINT64 if unsigned else t.INT64

    def compare_compound(self, e: n.Binary, left: t.Type, right: t.Type) -> t.Type | None:
        """`==`/`!=` of tuples, records, arrays or buffers: element by element
        (strings as strings, buffers up to their length), so both sides must
        have the same shape."""
        mismatch = _mismatch(left, right)
        if mismatch is None:
            return t.BOOL
        array = left if isinstance(left, t.Array) else right
        if not mismatch and isinstance(array, t.Array) and (left.is_integer or right.is_integer) \
                and _byte_size(array) in (1, 2, 4, 8):
            mismatch = f"(uint{8 * _byte_size(array)}) makes an integer of the array's bytes"
        self.error(f"cannot compare {left} with {right}", e.span, *([mismatch] if mismatch else []))
        return None

    def pointer_arithmetic(self, e: n.Binary, left: t.Type, right: t.Type) -> t.Type | None:
        """`p + i`, `i + p`, `p - i` move by whole elements, as in C: the result is
        a pointer of p's type, the integer scaled by the element's size (recorded
        for codegen). `p - q` counts the elements between them."""
        lptr, rptr = isinstance(left, t.Pointer), isinstance(right, t.Pointer)
        if e.op not in ("+", "-") or not (lptr or rptr) or (e.op == "-" and rptr and not lptr):
            return None
        pointer = left if lptr else right
        assert isinstance(pointer, t.Pointer)
        size = self.pointee_size(pointer)
        if lptr and rptr:
            if e.op == "+":
                self.error(f"cannot add two pointers ({left} and {right})", e.span)
                return None
            self.checked.pointer_scales[e] = size
            return t.INT64
        self.checked.pointer_scales[e] = size
        return pointer

    def pointee_size(self, pointer: t.Pointer) -> int:
        """The size of what `pointer` points to: 1 for void and unknown types (as GNU C)."""
        named = t.NAMED_TYPES.get(pointer.pointee)
        if named is not None and named.is_integer:
            return named.bits // 8 if isinstance(named, t.Int) else 1
        if pointer.pointee.endswith("*"):
            return 8
        btf = self.ctx.btf() if pointer.btf_id else None  # the script's types over the kernel's
        return max(1, btf.size(pointer.btf_id)) if btf is not None else 1

    def division_site(self, node: n.Binary | n.Assign, op: str, divisor: n.Expr) -> None:
        """A division whose divisor may be 0 at run time warns (once) when it is:
        the result is then 1, as in bpftrace."""
        literal = literal_value(divisor)
        if literal is not None and literal != 0:
            return
        what = "division" if op == "/" else "modulo"
        location, context = site_location(node.span)
        self.checked.printf_ids[node] = len(self.checked.printf_sites)
        self.checked.printf_sites.append(PrintfSite(
            WARN_ONCE, (f"{what} by zero; the result is 1",), (), location, context))

    def unary(self, e: n.Unary) -> t.Type | None:
        if e.op == "&":
            return self.address_of(e)
        operand = self.expr(e.operand)
        if e.op == "*":
            return self.dereference(e, operand, e.operand.span)
        if operand is None:
            return None
        if not operand.is_integer:
            self.error(f"'{e.op}' needs an integer, got {operand}", e.operand.span)
            return None
        if e.op == "!":
            return t.BOOL
        if e.op == "-":
            literal = literal_value(e)
            return t.INT64 if literal is None else literal_type(literal)
        return t.UINT64 if is_unsigned(operand) else t.INT64

    def address_of(self, e: n.Unary) -> t.Type | None:
        """`&$x`: the address of a variable's memory, a pointer to its type (a
        struct variable holds its struct's address: that address)."""
        refused = unstable_refused(self.ctx.options, "addr", "the address-of operator")
        if refused:
            self.error(refused, e.span)
            return None
        if not isinstance(e.operand, n.Variable):
            self.error("only a variable's address can be taken (&$x)", e.operand.span)
            return None
        vtype = self.expr(e.operand)
        if vtype is None:
            return None
        if isinstance(vtype, t.Struct):
            return t.Pointer(vtype.name, vtype.btf_id, vtype.space)
        return t.Pointer(str(vtype), 0, "kernel", vtype)

    def dereference(self, e: n.Unary | n.Index, pointer: t.Type | None,
                    operand: Span) -> t.Type | None:
        """`*p`: the value a pointer points to (an integer, a pointer or a struct)."""
        if pointer is None:
            return None
        if (type(pointer) is t.Int and pointer.bits == 64) \
                or (isinstance(pointer, t.Pointer) and pointer.pointee == "void"):
            # An address with no type (`*kaddr("avenrun")`, `*($a + 8)` of a 64-bit
            # integer): its 8 bytes, as bpftrace 0.26 reads one.
            self.checked.field_accesses[e] = FieldAccess(0, 8)
            return t.UINT64
        if not isinstance(pointer, t.Pointer):
            self.error(f"only pointers can be dereferenced, not {pointer}", operand)
            return None
        if pointer.target is not None:  # `*&$x`: as the variable holds it
            width = pointer.target.bits // 8 if isinstance(pointer.target, t.Int) else \
                pointer.target.size
            self.checked.field_accesses[e] = FieldAccess(0, width)
            return pointer.target
        named = t.NAMED_TYPES.get(pointer.pointee)
        if named is not None and named.is_integer:
            size = named.bits // 8 if isinstance(named, t.Int) else 1
            self.checked.field_accesses[e] = FieldAccess(0, size)
            return named
        if pointer.pointee.endswith("*") and not pointer.btf_id:
            # A pointer to a pointer from a tracepoint's format (`const char *const *argv`).
            self.checked.field_accesses[e] = FieldAccess(0, 8)
            return t.Pointer(pointer.pointee[:-1].strip(), space=pointer.space)
        btf = self.kernel_btf(e.span)
        if btf is None:
            return None
        # A tracepoint's field names its type only: `struct __kernel_timespec *`.
        type_id = pointer.btf_id or struct_id(btf, pointer.pointee.removeprefix("const ")) or 0
        value = from_btf(btf, type_id, pointer.space) if type_id else None
        if value is None:
            self.error(f"cannot dereference {pointer}", e.span)
            return None
        if not isinstance(value, t.Struct):
            self.checked.field_accesses[e] = FieldAccess(0, btf.size(type_id))
        return value

    def incdec(self, e: n.IncDec) -> t.Type | None:
        target = e.operand
        if isinstance(target, n.Variable):
            vtype = self.expr(target)
            if vtype is not None and not vtype.is_integer:
                self.error(f"'{e.op}' needs an integer variable, got {vtype}", target.span)
                return None
            if isinstance(vtype, t.Pointer):  # `$p++` moves by an element
                self.checked.pointer_scales[e] = self.pointee_size(vtype)
            elif vtype is not None:
                vtype = self.widen(target.name, vtype, t.INT64)
                self.instance.types[target] = vtype
            return vtype
        if isinstance(target, n.MapAccess):
            info = self.ctx.maps.get(target.name)
            if info is None:
                self.store(target, t.INT64)
                info = self.ctx.maps.get(target.name)
            else:  # the keys still need checking (and typing, for codegen)
                self._check_key(info, target, self.key_type(target))
            if info is not None and not info.value.is_integer:
                self.error(f"'{e.op}' needs an integer map, {target.name} holds "
                           f"{_describe(info.value)}", target.span)
                return None
            if info is not None and isinstance(info.value, t.Pointer):
                self.checked.pointer_scales[e] = self.pointee_size(info.value)
                return info.value
            return t.INT64
        self.error(f"'{e.op}' applies to variables and maps", target.span)
        return None

    def conditional(self, e: n.Conditional, statement: bool) -> t.Type | None:
        """`c ? a : b`; as a statement, its branches may have no value
        (`c ? printf("yes") : printf("no");`)."""
        self._condition(e.cond)
        then = self.instance.types.get(e.cond) if e.then is None else \
            self.expr(e.then, statement)
        orelse = self.expr(e.orelse, statement)
        if then is None or orelse is None:
            return None
        return self.branches_type(then, orelse, "'?:'", e.span)

    def cast(self, e: n.Cast) -> t.Type | None:
        if isinstance(e.type, n.TypeName) and e.type.array_size is not None \
                and not e.type.pointer_depth:
            return self.cast_to_array(e)
        target = self.declared_type(e.type)
        operand = self.expr(e.operand)
        if target is None or operand is None:
            return None
        if isinstance(target, t.Pointer):
            if not (operand.is_integer or isinstance(operand, t.Struct)):
                self.error(f"cannot cast {operand} to {target}", e.operand.span)
                return None
            if isinstance(operand, t.Pointer):  # the memory stays where it is
                return replace(target, space=operand.space)
            return target
        if not target.is_integer:
            written = e.type.base if isinstance(e.type, n.TypeName) else target
            self.error(f"cannot cast to {written}", e.type.span,
                       *(["str() makes a string from an address"] if isinstance(target, t.Str)
                         else []))
            return None
        if isinstance(operand, t.Array) and isinstance(target, t.Int):
            return target if self.same_size(e, operand, target) else None
        if not operand.is_integer:
            self.error(f"cannot cast {operand} to {target}", e.operand.span)
            return None
        return target

    def cast_to_array(self, e: n.Cast) -> t.Type | None:
        """`(int8[8])12345`: an integer's bytes (in memory order) as an array of
        integers. `(uint8[])x` takes the count from the integer's size."""
        assert isinstance(e.type, n.TypeName)
        element = t.NAMED_TYPES.get(e.type.base)
        operand = self.expr(e.operand)
        if not isinstance(element, t.Int | t.Bool):
            self.error(f"an array cast needs integer elements, as in (uint8[4]), not "
                       f"{e.type.base}", e.type.span)
            return None
        if operand is None:
            return None
        if not isinstance(operand, t.Int | t.Str):
            self.error(f"only integers and strings can be cast to arrays, not {operand}",
                       e.operand.span)
            return None
        width = t.c_width(element)
        size = operand.capacity if isinstance(operand, t.Str) else \
            _integer_size(operand, width * (e.type.array_size or 0))
        if not e.type.array_size and size % width:
            self.error(f"{operand} ({size} bytes) is not a whole number of {element} elements",
                       e.span)
            return None
        count = e.type.array_size or size // width
        target = t.Array(element, count)
        return target if self.same_size(e, operand, target, size) else None

    def same_size(self, e: n.Cast, source: t.Type, target: t.Type, size: int = 0) -> bool:
        """An array cast keeps every byte: the value and the type must be as large."""
        sizes = [size or _byte_size(source), _byte_size(target)]
        if sizes[0] == sizes[1]:
            return True
        self.error(f"cannot cast {source} ({sizes[0]} bytes) to {target} ({sizes[1]} bytes)",
                   e.span, "an array cast keeps every byte: both sides must have the same size")
        return False

    def declared_type(self, tn: n.TypeName | n.TypeOf) -> t.Type | None:
        """The type a `let`, a cast or `sizeof` names: as written, or typeof's (a
        type, or the type of an expression, which is not evaluated)."""
        if isinstance(tn, n.TypeName):
            return self._type_name(tn)
        operand = self._typedef_identifier(tn.operand)
        if isinstance(operand, n.TypeName | n.TypeOf):
            return self.declared_type(operand)
        return self.expr(operand)

    def _typedef_identifier(self, operand: n.TypeName | n.TypeOf | n.Expr
                            ) -> n.TypeName | n.TypeOf | n.Expr:
        """A name that is no builtin but a kernel typedef, as a type: `size_t`
        in `sizeof(size_t)` or `typeof(size_t)` is read as an identifier."""
        btf = self.ctx.btf() if isinstance(operand, n.Identifier) else None
        if isinstance(operand, n.Identifier) and operand.name not in VARIABLES \
                and btf is not None and btf.find(operand.name, "typedef") is not None:
            return n.TypeName(operand.name, 0, None, span=operand.span)
        return operand

    def _type_name(self, tn: n.TypeName) -> t.Type | None:
        if tn.array_size is not None:
            return self.array_type(tn)
        space = "user" if KINDS[self.instance.attach.kind].user_space else "kernel"
        if tn.pointer_depth:
            name = tn.base + " *" * (tn.pointer_depth - 1)
            if tn.pointer_depth > 1 or tn.base in t.NAMED_TYPES or tn.base == "void":
                return t.Pointer(name, 0, space)
            pointer = self.kernel_pointer(tn.base, space)
            if pointer is None:
                self._unknown_kernel_type(tn)
            return pointer
        if tn.base.startswith(("struct ", "union ")):
            self.error(f"a {tn.base} is used through a pointer: ({tn.base} *)", tn.span)
            return None
        if tn.base == "string":
            return t.Str(self.ctx.options.max_strlen)
        found = t.NAMED_TYPES.get(tn.base)
        if found is None:
            return self.btf_type(tn, space)
        return found

    def array_type(self, tn: n.TypeName) -> t.Type | None:
        """`T[N]` in a `let`: N elements of T, a struct's held by value."""
        if not tn.array_size:
            self.error("an array type needs its number of elements, as in uint8[4]", tn.span)
            return None
        if not tn.pointer_depth and tn.base.startswith(("struct ", "union ")):
            pointer = self.kernel_pointer(tn.base)
            if pointer is None:
                self._unknown_kernel_type(tn)
                return None
            element = self.held(t.Struct(tn.base, pointer.btf_id), tn.span)
        else:
            element = self._type_name(n.TypeName(tn.base, tn.pointer_depth, None, span=tn.span))
        return t.Array(element, tn.array_size) if element is not None else None

    def btf_type(self, tn: n.TypeName, space: str) -> t.Type | None:
        """An enum (`enum color`) or a typedef name (`u32`), from the script's
        definitions or the kernel's BTF."""
        btf = self.ctx.btf()
        enum = tn.base.startswith("enum ")
        type_id = (struct_id(btf, tn.base) if enum else btf.find(tn.base, "typedef")) \
            if btf is not None else None
        if type_id is None:
            if enum:
                self._unknown_kernel_type(tn)
            else:
                self.error(f"unknown type '{tn.base}'", tn.span)
            return None
        assert btf is not None
        found = from_btf(btf, type_id, space)
        if isinstance(found, t.Struct):
            self.error(f"{tn.base} is a {found}, which is used through a pointer: "
                       f"({tn.base} *)", tn.span)
            return None
        if found is None or isinstance(found, t.Str | t.Array):
            self.error(f"{tn.base} is a {btf.c_name(btf.resolve(type_id))}, which cannot be "
                       "used here", tn.span)
            return None
        return found

    def _unknown_kernel_type(self, tn: n.TypeName) -> None:
        btf = self.kernel_btf(tn.span)
        if btf is None:
            return
        kind, _, bare = tn.base.partition(" ")
        close = _close_kernel_type_names(btf, kind if bare else "typedef", bare or kind)
        where = "neither the script nor the kernel has a" if self.ctx.script_types \
            else "the kernel has no"
        self.error(f"{where} type '{tn.base}'", tn.span,
                   *([f"did you mean {' or '.join(repr(c) for c in close)}?"] if close else []))

    def sizeof(self, e: n.Sizeof) -> t.Type | None:
        operand = n.written_type(e.operand) or self._typedef_identifier(e.operand)  # sizeof(u64)
        btf = self.ctx.btf()
        size: int | None
        if isinstance(operand, n.TypeOf):
            vtype = self.declared_type(operand)
            size = c_size(btf, vtype) if vtype is not None else None
        elif isinstance(operand, n.TypeName):
            if operand.array_size is not None:  # sizeof(uint64 *[2])
                named = self._type_name(operand)
                size = c_size(btf, named) if named is not None else None
            elif operand.pointer_depth:
                size = 8
            elif operand.base.startswith(("struct ", "union ", "enum ")) \
                    or operand.base not in (*t.NAMED_TYPES, "string"):
                btf = self.kernel_btf(operand.span)
                type_id = struct_id(btf, operand.base) if btf is not None else None
                if btf is not None and type_id is None:
                    self._unknown_kernel_type(operand)
                size = btf.size(type_id) if btf is not None and type_id is not None else None
            else:
                named = self._type_name(operand)
                size = c_size(btf, named) if named is not None else None
        else:
            vtype = self.expr(operand)
            size = c_size(btf, vtype) if vtype is not None else None
            if vtype is not None and size is None:
                self.error(f"sizeof of {vtype} is not known", operand.span)
        if size is None:
            return None
        self.checked.sizes[e] = size
        return t.UINT64

    def offsetof(self, e: n.Offsetof) -> t.Type | None:
        from ptrace.types import btf as btf_module

        written = n.written_type(e.type)  # offsetof(typeof(struct s), f)
        btf = self.kernel_btf(e.span)
        if btf is None:
            return None
        if written is not None:
            type_id = struct_id(btf, written.base)
            if type_id is None:
                self._unknown_kernel_type(written)
                return None
        else:  # offsetof(*curtask, comm): the struct the expression is
            vtype = self.declared_type(e.type) if isinstance(e.type, n.TypeName | n.TypeOf) \
                else self.expr(e.type)
            if vtype is None:
                return None
            if not isinstance(vtype, t.Struct):
                self.error(f"offsetof needs a struct, not {vtype}: offsetof(struct s, "
                           "field), or offsetof(*p, field) for a pointer p", e.type.span)
                return None
            type_id = vtype.btf_id
        offset = 0
        for name in e.fields:
            member = btf.member(type_id, name) if isinstance(
                btf.type(btf.resolve(type_id)), btf_module.Composite) else None
            if member is None:
                self.error(f"{btf.c_name(type_id)} has no field '{name}'", e.span)
                return None
            offset += member.offset
            type_id = member.type
        self.checked.offsets[e] = offset
        return t.UINT64

    def field(self, e: n.Field) -> t.Type | None:
        if isinstance(e.base, n.Identifier) and e.base.name == "args":
            return self.tracepoint_arg(e)
        base = self.expr(e.base)
        if base is None:
            return None
        if isinstance(base, t.Tuple):
            if e.name.isdigit() and int(e.name) < len(base.elements):
                return base.elements[int(e.name)]
            self.error(f"a tuple of {len(base.elements)} has no element .{e.name}", e.span)
            return None
        if isinstance(base, t.Pointer | t.Struct):
            return self.kernel_field(e, base)
        if isinstance(base, t.StructValue):
            if e.name in base.names:
                return base.members[base.names.index(e.name)].type
            close = difflib.get_close_matches(e.name, base.names, n=3)
            self.error(f"{base} has no field '{e.name}'", e.span,
                       *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                         if close else []))
            return None
        if isinstance(base, t.Record):
            if e.name in base.names:
                return base.elements[base.names.index(e.name)]
            close = difflib.get_close_matches(e.name, base.names, n=1)
            self.error(f"the record has no field '{e.name}'", e.span,
                       f"did you mean '{close[0]}'?" if close else
                       f"its fields: {', '.join(base.names)}")
            return None
        self.error(f"{base} has no fields", e.span)
        return None

    def held(self, vtype: t.Type | None, span: Span) -> t.Type | None:
        """A value's type where it is kept (a map, a tuple, a record, an event):
        a struct known by its address is kept as its bytes."""
        if not isinstance(vtype, t.Struct):
            return vtype
        btf = self.kernel_btf(span)
        if btf is None:
            return None
        value = struct_value(btf, vtype.btf_id, vtype.space)
        if isinstance(value, str):
            self.error(f"{vtype} cannot be kept by value yet: {value}", span)
            return None
        return value

    def kernel_btf(self, span: Span) -> btf_module.Btf | None:
        btf = self.ctx.btf()
        if btf is None:
            self.error("this kernel has no BTF (/sys/kernel/btf/vmlinux), so kernel types "
                       "are not known", span)
        return btf

    def kernel_pointer(self, name: str, space: str = "kernel") -> t.Pointer | None:
        """A pointer to a kernel type by its C name, if the kernel has BTF for it."""
        btf = self.ctx.btf()
        type_id = struct_id(btf, name) if btf is not None else None
        return t.Pointer(name, type_id, space) if type_id is not None else None

    def kernel_field(self, e: n.Field, base: t.Pointer | t.Struct) -> t.Type | None:
        """`p->field` or `s.field` of a kernel struct, typed from BTF."""
        from ptrace.types import btf as btf_module

        btf = self.kernel_btf(e.span)
        if btf is None:
            return None
        type_id = base.btf_id
        if not type_id and isinstance(base, t.Pointer):
            type_id = struct_id(btf, base.pointee) or 0
        composite = btf.type(btf.resolve(type_id)) if type_id else None
        if not isinstance(composite, btf_module.Composite):
            self.error(f"{base} is not a struct or union, so it has no field '{e.name}'",
                       e.span)
            return None
        member = btf.member(type_id, e.name)
        if member is None:
            names = [m.name for m in btf.members(type_id)]
            close = difflib.get_close_matches(e.name, names, n=3)
            self.error(f"{btf.c_name(type_id)} has no field '{e.name}'", e.span,
                       *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                         if close else []))
            return None
        array = btf.type(btf.resolve(member.type))
        if isinstance(array, btf_module.Array) and array.nelems == 0:
            # A flexible array (`int y[0]`) is the address of its first element.
            self.checked.field_accesses[e] = FieldAccess(member.offset, 0)
            return t.Pointer(btf.c_name(array.elem_type), array.elem_type, base.space)
        ftype = from_btf(btf, member.type, base.space)
        if ftype is None:
            self.error(f"field '{e.name}' is a {btf.c_name(member.type)}, which cannot be "
                       "read yet", e.span)
            return None
        access = field_access(btf, member)
        self.checked.field_accesses[e] = access
        return bitfield_type(ftype) if access.bit_size else ftype

    def args_record(self, e: n.Identifier) -> t.Type | None:
        """`args` alone: all of the probe's arguments as one record, as in
        `print(args)`, `$a = args` or `@[tid] = args`."""
        arguments = self.probe_arguments(e.span)
        if arguments is None:
            return None
        for argument in arguments:
            if argument.type is None or not storable(argument.type):
                self.error(f"'args' cannot be read whole: "
                           f"{self.unreadable_argument(argument)}", e.span,
                           "read the other fields one by one, as in args."
                           + next((a.name for a in arguments if a is not argument), "name"))
                return None
        return t.Record(tuple(a.name for a in arguments),
                        tuple(a.type for a in arguments if a.type is not None))


@functools.lru_cache(maxsize=4)  # (few: it holds the types it was asked about)
def _close_kernel_type_names(btf: btf_module.Btf, kind: str, name: str) -> tuple[str, ...]:
    """The kernel's names of `kind` closest to `name`, for a hint. Each copy of a
    wildcard's probe asks for the same, and one answer takes 0.1 s."""
    return tuple(difflib.get_close_matches(name, btf.names(kind), n=3))


def _map_integer(value: t.Type) -> t.Type:
    """A map keeps an integer value in 64 bits: `@n = 255; @n++` counts on to 256
    although 255 is a uint8 literal. Narrower integers become int64, which
    holds each of their values and lets `@n -= 300` go below zero."""
    if type(value) is t.Int and value.bits < 64:
        return t.INT64
    return value


def _variable_types(instance: ProbeInstance) -> dict[str, t.Type]:
    """Each variable's types in the instance (as a round typed them) merged;
    types that do not mix (a name reused in separate blocks) are left out."""
    out: dict[str, t.Type] = {}
    for node, vtype in instance.types.items():
        if isinstance(node, n.Variable | n.Let) and not isinstance(vtype, _Untyped):
            out[node.name] = t.merge(out.get(node.name, vtype), vtype) or out[node.name]
    return out


def _byte_size(tp: t.Type) -> int:
    """The bytes of an integer, a string or an array, as C counts them."""
    if isinstance(tp, t.Array | t.Str):
        return t.c_width(tp)
    return tp.bits // 8 if isinstance(tp, t.Int) else 8


def _integer_size(itype: t.Int, wanted: int) -> int:
    """The bytes an integer brings to an array cast: one narrower than the
    array's `wanted` bytes (up to 8) is widened to them, as bpftrace does
    (`(uint8[4])1` as `(uint8[4])(uint32)1`)."""
    width = itype.bits // 8
    return wanted if width < wanted <= 8 else width


def _compound(tp: t.Type) -> bool:
    return isinstance(tp, t.Tuple | t.Record | t.Array | t.Buf)


def _mismatch(a: t.Type, b: t.Type) -> str | None:
    """Why values of types a and b cannot be compared with `==`; None if they
    can, "" when the types say it all."""
    if (a.is_integer and b.is_integer) or (isinstance(a, t.Str) and isinstance(b, t.Str)) \
            or (isinstance(a, t.Buf) and isinstance(b, t.Buf)):  # buffers of any sizes
        return None
    if isinstance(a, t.Array) and isinstance(b, t.Array):
        same = (a.element_size, a.count) == (b.element_size, b.count)
        return None if same else f"{a} and {b} are arrays of different sizes"
    if isinstance(a, t.Tuple) and isinstance(b, t.Tuple):
        if len(a.elements) != len(b.elements):
            return f"one has {len(a.elements)} elements, the other {len(b.elements)}"
        pairs = [(str(i), x, y) for i, (x, y) in enumerate(zip(a.elements, b.elements,
                                                                strict=True))]
    elif isinstance(a, t.Record) and isinstance(b, t.Record):
        if sorted(a.names) != sorted(b.names):
            return f"one has the fields {', '.join(a.names)}, the other {', '.join(b.names)}"
        pairs = [(name, x, b.field(name)) for name, x in zip(a.names, a.elements, strict=True)]
    else:
        return ""
    for where, x, y in pairs:
        inner = _mismatch(x, y)
        if inner is not None:  # where in the value: `.1: …`, `.0.name: …`
            reason = inner or f"{x} and {y} cannot be compared"
            return f".{where}{'' if reason.startswith('.') else ': '}{reason}"
    return None


def _fits(value: int, itype: t.Int) -> bool:
    if itype.signed:
        return -(1 << (itype.bits - 1)) <= value < (1 << (itype.bits - 1))
    return 0 <= value < (1 << itype.bits)


def _constant_value(e: n.Expr) -> int | None:
    """The value of an integer expression made of literals (`1 - 1`), else None."""
    if isinstance(e, n.Integer):
        return e.value
    if isinstance(e, n.Unary) and e.op in ("-", "+", "~"):
        operand = _constant_value(e.operand)
        if operand is None:
            return None
        return {"-": -operand, "+": operand, "~": ~operand}[e.op]
    if isinstance(e, n.Binary) and e.op in _FOLDED:
        left, right = _constant_value(e.left), _constant_value(e.right)
        if left is None or right is None or (e.op in ("/", "%") and right == 0) or (
                e.op in ("<<", ">>") and not 0 <= right < 64):
            return None
        return _FOLDED[e.op](left, right)
    return None


_COMPARED: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge, "&&": lambda a, b: bool(a and b),
    "||": lambda a, b: bool(a or b),
}

_FOLDED: dict[str, Callable[[int, int], int]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "&": operator.and_,
    "|": operator.or_, "^": operator.xor, "<<": operator.lshift, ">>": operator.rshift,
    "/": lambda a, b: abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1),
    "%": lambda a, b: abs(a) % abs(b) * (1 if a >= 0 else -1),
}


def _assignable(to: t.Type, value: t.Type) -> bool:
    return t.merge(to, value) is not None


def _describe(tp: t.Type) -> str:
    if isinstance(tp, t.Aggregation):
        return f"{tp.function}() values"
    return f"values of type {tp}"
