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

What a probe's context holds (`args`, `retval`, `ctx`, usdt arguments) is
checked by the methods of `ptrace/passes/probe_context.py`.
"""

from __future__ import annotations

import difflib
import operator
import re
import signal as signal_module
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ptrace.ast import nodes as n
from ptrace.diagnostics import Reporter, Span, site_location
from ptrace.options import param_integer
from ptrace.passes.context import (
    CompileContext,
    MapInfo,
    PrintCall,
    PrintfSite,
    ProbeInstance,
    TypeResults,
)
from ptrace.passes.probe_context import ProbeContextChecks, func_name, probe_address, probe_type
from ptrace.printf_format import FormatError, parse_format
from ptrace.probe_kinds import KINDS, ProbeKind
from ptrace.program import DIVISION_BY_ZERO
from ptrace.types import types as t
from ptrace.types.builtins import BUILTINS, LATER_BUILTINS, PT_REGS
from ptrace.types.kernel import FieldAccess, c_size, field_access, from_btf, struct_id

UNROLL_MAX = 100
STACK_LIMIT = 127  # the kernel's default perf_event_max_stack
STACK_MODES = ("bpftrace", "perf", "raw")
if TYPE_CHECKING:  # the BTF reader is imported only for kernel types
    from ptrace.types import btf as btf_module

# Probes whose context holds the interrupted code's registers, as messages name them.
REGISTER_PROBES = tuple(row.name for row in KINDS.values() if row.registers)
AGGREGATIONS = frozenset({"count", "sum", "avg", "min", "max", "stats", "hist", "lhist"})
LATER_FUNCTIONS = frozenset({
    "override", "path", "unwatch", "debugf",
    "percpu_kaddr", "skboutput", "socket_cookie", "print_map",
})
JOIN_ARGS = 16  # join() prints at most this many strings …
JOIN_ARG_SIZE = 256  # … of at most this many bytes each (and max_strlen)
FUNCTIONS = frozenset({"printf", "print", "exit", "delete", "clear", "zero", "str",
                       "errorf", "warnf", "system", "time", "strlen", "strncmp", "strcontains",
                       "bswap", "strerror", "strftime", "has_key", "signal", "kstack", "ustack",
                       "ksym", "kptr", "uptr", "ntop", "pton", "macaddr", "len", "kaddr",
                       "cgroupid", "cgroup_path", "buf", "cat", "join", "usym", "uaddr", "reg",
                       *AGGREGATIONS})
_INT_CONVERSION_MAX = {"hh": 8, "h": 16}


def check_types(ctx: CompileContext) -> None:
    check_round(ctx, Reporter())  # learns ctx.maps and ctx.let_types
    ctx.checked = check_round(ctx, ctx.reporter)


def check_round(ctx: CompileContext, reporter: Reporter) -> TypeResults:
    """One round over every instance: fresh types and tables, and the maps
    and `let` types learned so far (kept, and added to)."""
    checked = TypeResults()
    for instance in ctx.instances:
        instance.types.clear()
        _Checker(ctx, checked, instance, reporter).check()
    return checked


@dataclass(frozen=True, slots=True)
class _Untyped(t.Type):
    """What a scope holds for `let $x;` until the variable's first assignment
    gives its type (bpftrace's rule); never assigned, it is an integer 0."""

    let: n.Let  # whose type codegen reads

    @property
    def size(self) -> int:
        return 8


class _Checker(ProbeContextChecks):
    def __init__(self, ctx: CompileContext, checked: TypeResults, instance: ProbeInstance,
                 reporter: Reporter):
        self.ctx = ctx
        self.checked = checked
        self.instance = instance
        self.reporter = reporter
        self.scopes: list[dict[str, t.Type]] = []
        self.loops = 0
        self.assigning: str | None = None  # the map an assignment is storing to
        self.assigning_value: t.Type | None = None  # what it stores, once known
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
        for stmt in block.stmts:
            self.stmt(stmt)
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
                self.error("return with a value is not supported yet", stmt.value.span)
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
        value = count.value if isinstance(count, n.Integer) else None
        if isinstance(count, n.Positional):
            text = (self.ctx.options.params[count.index - 1]
                    if 0 < count.index <= len(self.ctx.options.params) else "")
            value = param_integer(text)
        if value is None or not 1 <= value <= UNROLL_MAX:
            self.error(f"unroll takes a number from 1 to {UNROLL_MAX}", count.span)
            return
        self.checked.unroll_counts[stmt] = value
        # break/continue do not apply to unroll: its body is copied, not looped.
        saved, self.loops = self.loops, 0
        self.block(stmt.body)
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
        self.loop_body(stmt.body, {stmt.var: t.INT64})

    def if_(self, stmt: n.If) -> None:
        self._condition(stmt.cond)
        self.block(stmt.then)
        if isinstance(stmt.orelse, n.If):
            self.if_(stmt.orelse)
        elif stmt.orelse is not None:
            self.block(stmt.orelse)

    def let(self, stmt: n.Let) -> None:
        declared = self._type_name(stmt.type) if stmt.type is not None else None
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
        literal = _literal_value(stmt.value) if stmt.value is not None else None
        if isinstance(declared, t.Int) and literal is not None and not _fits(literal, declared):
            self.error(f"{literal} does not fit in {declared}", stmt.value.span
                       if stmt.value is not None else stmt.span)
        vtype = declared or value or t.INT64
        self.scopes[-1][stmt.name] = vtype
        self.instance.types[stmt] = vtype  # codegen sizes the variable from this

    def assign(self, stmt: n.Assign) -> None:
        target, value = stmt.target, stmt.value
        if stmt.op in ("/=", "%="):
            self.division_site(stmt, stmt.op[0], value)
        if isinstance(value, n.Call) and value.name in AGGREGATIONS:
            if not isinstance(target, n.MapAccess):
                self.error(f"{value.name}() must be assigned to a map", value.span)
                return
            if stmt.op != "=":
                self.error(f"{value.name}() is assigned with '=', not '{stmt.op}'", stmt.span)
                return
            aggregation = self.aggregation(value)
            if aggregation is not None:
                self.store(target, aggregation)
            return
        if isinstance(target, n.Identifier) and target.name == "_":
            self.discard(stmt)
            return
        if isinstance(target, n.Variable):
            vtype = self.expr(value)
            if vtype is None:
                return
            if isinstance(vtype, t.Void):
                self.error("this expression has no value to assign", value.span)
                return
            existing = self.lookup(target.name)
            if isinstance(existing, _Untyped):
                existing = self._settle(target.name, existing,
                                        vtype if stmt.op == "=" else t.INT64)
            if stmt.op != "=":
                if existing is None:
                    self.error(f"undefined variable '{target.name}'", target.span)
                elif not (existing.is_integer and vtype.is_integer):
                    self.error(f"'{stmt.op}' needs integers, got {existing} and {vtype}",
                               stmt.span)
                elif (isinstance(existing, t.Pointer) and stmt.op in ("+=", "-=")
                      and not isinstance(vtype, t.Pointer)):
                    self.checked.pointer_scales[stmt] = self.pointee_size(existing)  # `$p += 1`
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
            self.store(target, vtype if stmt.op == "=" else t.INT64)
            return
        self.error("only variables ($x) and maps (@x) can be assigned to", target.span)

    def discard(self, stmt: n.Assign) -> None:
        """`_ = expr;` evaluates expr for its effects and drops its value."""
        if stmt.op != "=":
            self.error(f"'_' only discards values: it takes '=', not '{stmt.op}'", stmt.span)
            return
        self.expr(stmt.value)

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
        types = [self.expr(k) for k in access.keys]
        for key, ktype in zip(access.keys, types, strict=True):
            if ktype is not None and (not _storable(ktype) or ktype.size == 0):
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
        if not isinstance(value, t.Aggregation) and (not _storable(value) or value.size == 0):
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
            return t.INT64 if e.value < 2**63 else t.UINT64
        if isinstance(e, n.String):
            return t.Str(len(e.value) + 1)
        if isinstance(e, n.Boolean):
            return t.BOOL
        if isinstance(e, n.Identifier):
            return self.identifier(e)
        if isinstance(e, n.Variable):
            vtype = self.lookup(e.name)
            if vtype is None:
                self.error(f"undefined variable '{e.name}'", e.span)
            return t.INT64 if isinstance(vtype, _Untyped) else vtype
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
            return self.conditional(e)
        if isinstance(e, n.Cast):
            return self.cast(e)
        if isinstance(e, n.Field):
            return self.field(e)
        if isinstance(e, n.Tuple):
            elements = [self.expr(x) for x in e.elements]
            if any(x is None for x in elements):
                return None
            for x, xt in zip(e.elements, elements, strict=True):
                if xt is not None and not _storable(xt):
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
            vtype = self.block_value(e.block) if isinstance(e, n.BlockExpr) else \
                self.if_value(e.if_)
            if isinstance(vtype, t.Void) and not statement:
                self.error("this block has no value: its last expression is followed by ';'"
                           if isinstance(e, n.BlockExpr) else "this if has no value", e.span)
                return None
            return vtype
        if isinstance(e, n.Index):
            return self.index(e)
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
            literal = _literal_value(e.index)
            if literal is not None and not 0 <= literal < count:
                self.error(f"index {literal} is out of bounds for {base}", e.index.span,
                           f"it has {count} elements, 0 to {count - 1}")
                return None
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
        elements = [self.expr(f.value) for f in e.fields]
        for f, ftype in zip(e.fields, elements, strict=True):
            if ftype is not None and not _storable(ftype):
                self.error(f"{ftype} cannot be part of a record", f.value.span)
                return None
        if any(x is None for x in elements):
            return None
        return t.Record(tuple(names), tuple(x for x in elements if x is not None))

    def block_value(self, block: n.Block) -> t.Type | None:
        """Check a block used as an expression; its type is its last expression's."""
        self.scopes.append({})
        value = block.value
        for stmt in block.stmts[:-1] if value is not None else block.stmts:
            self.stmt(stmt)
        result = self.expr(value) if value is not None else t.VOID
        self.scopes.pop()
        return result

    def if_value(self, stmt: n.If) -> t.Type | None:
        self._condition(stmt.cond)
        then = self.block_value(stmt.then)
        if stmt.orelse is None:
            if not isinstance(then, t.Void):
                self.error("an if with a value needs an else", stmt.span)
                return None
            return t.VOID
        orelse = self.if_value(stmt.orelse) if isinstance(stmt.orelse, n.If) else \
            self.block_value(stmt.orelse)
        if then is None or orelse is None:
            return None
        if isinstance(then, t.Void) or isinstance(orelse, t.Void):
            return t.VOID
        merged = t.merge(then, orelse)
        if merged is None:
            self.error(f"the branches of this if have different types: {then} and {orelse}",
                       stmt.span)
        return merged

    def identifier(self, e: n.Identifier) -> t.Type | None:
        if self.instance.attach.kind == ProbeKind.USDT and re.fullmatch(r"arg\d+", e.name):
            return self.usdt_arg(e)
        builtin = BUILTINS.get(e.name)
        if e.name == "cpid" and not self.ctx.options.has_command:
            self.error("cpid is the pid of the command given with -c", e.span,
                       "run as: ptrace -c 'COMMAND' -e '…'")
            return None
        if builtin is not None:
            if builtin.probes is not None and self.instance.attach.kind not in builtin.probes:
                self.error(f"'{e.name}' cannot be used in {self.instance.attach.kind} probes",
                           e.span)
                return None
            if e.name == "curtask":
                return self.kernel_pointer("struct task_struct") or builtin.type
            if e.name == "retval" and self.instance.attach.kind == ProbeKind.FEXIT:
                return self.fexit_retval(e)
            return builtin.type
        if e.name == "probe":
            names = [name for _, name in self.instance.attach.syscalls] or \
                [self.instance.attach.probe]
            return t.Str(max(len(name) for name in names) + 1)
        if e.name in ("kstack", "ustack"):
            return t.Stack(e.name == "ustack", self.ctx.options.stack_mode, STACK_LIMIT)
        if e.name == "func":
            if not KINDS[self.instance.attach.kind].function:
                self.error(f"'func' cannot be used in {self.instance.attach.kind} probes",
                           e.span)
                return None
            return t.Str(len(func_name(self.instance.attach)) + 1)
        if e.name == "probetype":
            return t.Str(len(probe_type(self.instance.attach)) + 1)
        if e.name == "args":
            return self.args_record(e)
        if e.name == "ctx":
            return self.context_pointer(e)
        if e.name in LATER_BUILTINS:
            self.error(f"the builtin '{e.name}' is not supported yet", e.span)
            return None
        btf = self.ctx.btf()
        found = btf.enum_value(e.name) if btf is not None else None
        if btf is not None and found is not None:  # an enumerator: a value of its enum's type
            self.checked.enum_values[e] = found[1]
            return from_btf(btf, found[0]) or t.INT64
        names = [*BUILTINS, "probe", "probetype", "args", "func", "kstack", "ustack"]
        close = difflib.get_close_matches(e.name, names, n=1)
        self.error(f"unknown identifier '{e.name}'", e.span,
                   *([f"did you mean '{close[0]}'?"] if close else []))
        return None

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
        unsigned = _is_unsigned(left) or _is_unsigned(right)
        return t.UINT64 if unsigned else t.INT64

    def compare_compound(self, e: n.Binary, left: t.Type, right: t.Type) -> t.Type | None:
        """`==`/`!=` of tuples, records or arrays: element by element (strings
        as strings), so both sides must have the same shape."""
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
        btf = self.ctx.machine.btf() if pointer.btf_id else None
        return max(1, btf.size(pointer.btf_id)) if btf is not None else 1

    def division_site(self, node: n.Binary | n.Assign, op: str, divisor: n.Expr) -> None:
        """A division whose divisor may be 0 at run time warns (once) when it is:
        the result is then 1, as in bpftrace."""
        literal = _literal_value(divisor)
        if literal is not None and literal != 0:
            return
        what = "division" if op == "/" else "modulo"
        location, context = site_location(node.span)
        self.checked.printf_ids[node] = len(self.checked.printf_sites)
        self.checked.printf_sites.append(PrintfSite(
            DIVISION_BY_ZERO, (f"{what} by zero; the result is 1",), (), location, context))

    def unary(self, e: n.Unary) -> t.Type | None:
        if e.op == "&":
            self.error("taking addresses is not supported yet", e.span)
            return None
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
            return t.INT64
        return t.UINT64 if _is_unsigned(operand) else t.INT64

    def dereference(self, e: n.Unary | n.Index, pointer: t.Type | None,
                    operand: Span) -> t.Type | None:
        """`*p`: the value a pointer points to (an integer, a pointer or a struct)."""
        if pointer is None:
            return None
        if not isinstance(pointer, t.Pointer):
            self.error(f"only pointers can be dereferenced, not {pointer}", operand)
            return None
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
        value = from_btf(btf, pointer.btf_id, pointer.space) if pointer.btf_id else None
        if value is None:
            self.error(f"cannot dereference {pointer}", e.span)
            return None
        if not isinstance(value, t.Struct):
            self.checked.field_accesses[e] = FieldAccess(0, btf.size(pointer.btf_id))
        return value

    def incdec(self, e: n.IncDec) -> t.Type | None:
        target = e.operand
        if isinstance(target, n.Variable):
            vtype = self.expr(target)
            if vtype is not None and not vtype.is_integer:
                self.error(f"'{e.op}' needs an integer variable, got {vtype}", target.span)
                return None
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
            return t.INT64
        self.error(f"'{e.op}' applies to variables and maps", target.span)
        return None

    def conditional(self, e: n.Conditional) -> t.Type | None:
        self._condition(e.cond)
        then = self.instance.types.get(e.cond) if e.then is None else self.expr(e.then)
        orelse = self.expr(e.orelse)
        if then is None or orelse is None:
            return None
        merged = t.merge(then, orelse)
        if merged is None:
            self.error(f"the branches of '?:' have different types: {then} and {orelse}",
                       e.span)
        return merged

    def cast(self, e: n.Cast) -> t.Type | None:
        if e.type.array_size is not None and not e.type.pointer_depth:
            return self.cast_to_array(e)
        target = self._type_name(e.type)
        operand = self.expr(e.operand)
        if target is None or operand is None:
            return None
        if isinstance(target, t.Pointer):
            if not (operand.is_integer or isinstance(operand, t.Struct)):
                self.error(f"cannot cast {operand} to {target}", e.operand.span)
                return None
            return target
        if not target.is_integer:
            self.error(f"cannot cast to {e.type.base}", e.type.span,
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
        element = t.NAMED_TYPES.get(e.type.base)
        operand = self.expr(e.operand)
        if not isinstance(element, t.Int):
            self.error(f"an array cast needs integer elements, as in (uint8[4]), not "
                       f"{e.type.base}", e.type.span)
            return None
        if operand is None:
            return None
        if not isinstance(operand, t.Int):
            self.error(f"only integers can be cast to arrays, not {operand}", e.operand.span)
            return None
        width = element.bits // 8
        size = _integer_size(e.operand, operand, width * (e.type.array_size or 0))
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

    def _type_name(self, tn: n.TypeName) -> t.Type | None:
        if tn.array_size is not None:
            self.error("array types are not supported yet", tn.span)
            return None
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
        close = difflib.get_close_matches(bare or kind, btf.names(kind if bare else "typedef"),
                                          n=3)
        where = "neither the script nor the kernel has a" if self.ctx.script_types \
            else "the kernel has no"
        self.error(f"{where} type '{tn.base}'", tn.span,
                   *([f"did you mean {' or '.join(repr(c) for c in close)}?"] if close else []))

    def sizeof(self, e: n.Sizeof) -> t.Type | None:
        operand = e.operand
        btf = self.ctx.btf()
        size: int | None
        if isinstance(operand, n.Identifier) and operand.name not in BUILTINS \
                and btf is not None and btf.find(operand.name, "typedef") is not None:
            operand = n.TypeName(operand.name, 0, None, span=operand.span)  # sizeof(u64)
        if isinstance(operand, n.TypeName):
            if operand.pointer_depth:
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

        btf = self.kernel_btf(e.span)
        if btf is None:
            return None
        type_id = struct_id(btf, e.type.base)
        if type_id is None:
            self._unknown_kernel_type(e.type)
            return None
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
        ftype = from_btf(btf, member.type, base.space)
        if ftype is None:
            self.error(f"field '{e.name}' is a {btf.c_name(member.type)}, which cannot be "
                       "read yet", e.span)
            return None
        self.checked.field_accesses[e] = field_access(btf, member)
        return ftype

    def args_record(self, e: n.Identifier) -> t.Type | None:
        """`args` alone: all of the probe's arguments as one record, as in
        `print(args)`, `$a = args` or `@[tid] = args`."""
        arguments = self.probe_arguments(e.span)
        if arguments is None:
            return None
        for argument in arguments:
            if argument.type is None or not _storable(argument.type):
                self.error(f"'args' cannot be read whole: "
                           f"{self.unreadable_argument(argument)}", e.span,
                           "read the other fields one by one, as in args."
                           + next((a.name for a in arguments if a is not argument), "name"))
                return None
        return t.Record(tuple(a.name for a in arguments),
                        tuple(a.type for a in arguments if a.type is not None))

    # ---- calls ----
    def call(self, e: n.Call, statement: bool) -> t.Type | None:
        name = e.name
        if name in AGGREGATIONS:
            self.error(f"{name}() must be assigned to a map, as in @x = {name}(…)", e.span)
            return None
        if name not in FUNCTIONS:
            for arg in e.args:
                self.expr(arg)
            if name in LATER_FUNCTIONS:
                self.error(f"{name}() is not supported yet", e.name_span)
            else:
                close = difflib.get_close_matches(name, sorted(FUNCTIONS | LATER_FUNCTIONS), 1)
                self.error(f"unknown function '{name}'", e.name_span,
                           *([f"did you mean '{close[0]}'?"] if close else []))
            return None
        result: t.Type | None = getattr(self, "call_" + name)(e)
        if isinstance(result, t.Void) and not statement:
            self.error(f"{name}() has no value", e.span)
            return None
        return result

    def _arity(self, e: n.Call, low: int, high: int) -> bool:
        count = len(e.args)
        if low <= count <= high:
            return True
        want = str(low) if low == high else f"{low} to {high}"
        self.error(f"{e.name}() takes {want} argument{'s' if high != 1 else ''}, "
                   f"got {count}", e.span)
        return False

    def call_printf(self, e: n.Call) -> t.Type | None:
        return self.formatted_call(e)

    def call_errorf(self, e: n.Call) -> t.Type | None:
        return self.formatted_call(e)

    def call_warnf(self, e: n.Call) -> t.Type | None:
        return self.formatted_call(e)

    def call_system(self, e: n.Call) -> t.Type | None:
        if not self.ctx.options.unsafe:
            self.error("system() runs commands, so it needs --unsafe", e.name_span)
            return None
        return self.formatted_call(e)

    def call_time(self, e: n.Call) -> t.Type | None:
        if not self._arity(e, 0, 1):
            return None
        text = "%H:%M:%S\n"
        if e.args:
            fmt = e.args[0]
            if not isinstance(fmt, n.String):
                self.error("time()'s format must be a string literal", fmt.span)
                return None
            text = _script_text(fmt.value)
        self._format_site(e, PrintfSite("time", (text,), ()))
        return t.VOID

    def _format_site(self, e: n.Call, site: PrintfSite) -> None:
        self.checked.printf_ids[e] = len(self.checked.printf_sites)
        self.checked.printf_sites.append(site)

    def formatted_call(self, e: n.Call) -> t.Type | None:
        """printf and its kin: a literal format, then arguments that match it."""
        if not e.args:
            self.error(f"{e.name}() needs a format string", e.span)
            return None
        fmt, *args = e.args
        arg_types = [self.expr(a) for a in args]
        if not isinstance(fmt, n.String):
            self.error(f"{e.name}'s format must be a string literal", fmt.span)
            return None
        try:
            segments = parse_format(_script_text(fmt.value))
        except FormatError as error:
            self.error(str(error), _format_span(fmt, error.start, error.end))
            return None
        conversions = [s for s in segments if not isinstance(s, str)]
        if len(conversions) != len(args):
            self.error(f"the format has {len(conversions)} conversion"
                       f"{'s' if len(conversions) != 1 else ''} but {len(args)} argument"
                       f"{'s were' if len(args) != 1 else ' was'} given", e.span)
            return None
        ok = True
        for conv, arg, atype in zip(conversions, args, arg_types, strict=True):
            if atype is None:
                ok = False
            elif conv.takes == "int" and not atype.is_integer:
                self.error(f"%{conv.conv} expects an integer, got {atype}", arg.span,
                           "use %s to print any value")
                ok = False
            elif conv.takes == "buffer" and not isinstance(atype, t.Buf):
                self.error(f"%r expects a buffer, got {atype}", arg.span,
                           "make one with buf(p, length)")
                ok = False
            elif isinstance(atype, t.Void):
                self.error("this argument has no value", arg.span)
                ok = False
        if not ok:
            return None
        location = context = ""
        if e.name in ("errorf", "warnf"):
            location, context = site_location(e.span)
        self._format_site(e, PrintfSite(e.name, segments,
                                        tuple(a for a in arg_types if a is not None),
                                        location, context))
        return t.VOID

    def call_print(self, e: n.Call) -> t.Type | None:
        if not self._arity(e, 1, 3):
            return None
        first = e.args[0]
        if isinstance(first, n.MapAccess) and not first.keys:
            if self.map_info(first.name, first.span) is None:
                return None
            for extra in e.args[1:]:
                if not isinstance(extra, n.Integer):
                    self.error("print()'s top and div must be integer literals", extra.span)
                    return None
            top, div = [a.value for a in e.args[1:] if isinstance(a, n.Integer)] + [0, 0][
                len(e.args) - 1:]
            self._print_site(e, PrintCall(first.name, top, div))
            return t.VOID
        if len(e.args) > 1:
            self.error("print(value) takes one argument; top and div are for maps", e.span)
            return None
        vtype = self.expr(first)
        if vtype is None:
            return None
        if not _storable(vtype):
            self.error(f"cannot print {vtype}", first.span)
            return None
        self._print_site(e, PrintCall(None, value_type=vtype))
        return t.VOID

    def _print_site(self, e: n.Call, call: PrintCall) -> None:
        self.checked.print_ids[e] = len(self.checked.print_calls)
        self.checked.print_calls.append(call)

    def call_exit(self, e: n.Call) -> t.Type | None:
        if not self._arity(e, 0, 1):
            return None
        if e.args:
            code = self.expr(e.args[0])
            if code is not None and not code.is_integer:
                self.error(f"exit() takes an integer code, got {code}", e.args[0].span)
                return None
        return t.VOID

    def _map_argument(self, e: n.Call) -> MapInfo | None:
        arg = e.args[0]
        if not isinstance(arg, n.MapAccess) or arg.keys:
            self.error(f"{e.name}() takes a map, as in {e.name}(@name)", arg.span)
            return None
        return self.map_info(arg.name, arg.span)

    def call_clear(self, e: n.Call) -> t.Type | None:
        if self._arity(e, 1, 1):
            self._map_argument(e)
        return t.VOID

    def call_zero(self, e: n.Call) -> t.Type | None:
        return self.call_clear(e)

    def call_delete(self, e: n.Call) -> t.Type | None:
        if not self._arity(e, 1, 2):
            return None
        target = e.args[0]
        if len(e.args) == 2:
            if not isinstance(target, n.MapAccess) or target.keys:
                self.error("delete(@map, key) takes a map first", target.span)
                return None
            target = n.MapAccess(target.name, (e.args[1],), span=target.span.to(e.args[1].span))
            self.checked.delete_targets[e] = target
        if not isinstance(target, n.MapAccess):
            self.error("delete() takes a map element, as in delete(@m[key])", target.span)
            return None
        info = self.map_info(target.name, target.span)
        if info is None:
            return None
        if info.key is not None and not target.keys:
            self.error(f"delete() needs a key: {target.name} is a keyed map", target.span)
            return None
        key = self.key_type(target)
        self._check_key(info, target, key)
        return t.BOOL

    def call_str(self, e: n.Call) -> t.Type | None:
        if not self._arity(e, 1, 2):
            return None
        if isinstance(e.args[0], n.Positional) and e.args[0].index > 0:
            # str($1): the parameter as text, even when it looks like a number.
            params = self.ctx.options.params
            index = e.args[0].index
            text = params[index - 1] if index <= len(params) else ""
            return t.Str(len(text.encode()) + 1)
        arg = self.expr(e.args[0])
        limit = self.ctx.options.max_strlen
        # A string that fills max_strlen may have been cut: it prints with the
        # trailer. A length given to str() is a cut the user asked for.
        trailer = self.ctx.options.str_trunc_trailer
        if len(e.args) == 2 and not isinstance(e.args[1], n.Integer):
            # str(p, n) with n known at run time: at most max_strlen, as a literal would be
            if self._integer_arg(e.args[1]) is None:
                return None
        elif len(e.args) == 2:
            size = e.args[1]
            assert isinstance(size, n.Integer)
            if size.value <= 0:
                self.error("str()'s length must be positive", size.span)
                return None
            if size.value + 1 < limit:
                limit, trailer = size.value + 1, ""
        if arg is None:
            return None
        if isinstance(arg, t.Str):
            return arg
        if not arg.is_integer:
            self.error(f"str() takes an address or a string, got {arg}", e.args[0].span)
            return None
        return t.Str(limit, trailer)

    def _string_arg(self, arg: n.Expr, what: str) -> t.Str | None:
        atype = self.expr(arg)
        if atype is None:
            return None
        if not isinstance(atype, t.Str):
            self.error(f"{what} takes a string, got {atype}", arg.span)
            return None
        return atype

    def call_strlen(self, e: n.Call) -> t.Type | None:
        if self._arity(e, 1, 1) and self._string_arg(e.args[0], "strlen()") is not None:
            return t.UINT64
        return None

    def call_strncmp(self, e: n.Call) -> t.Type | None:
        if not self._arity(e, 3, 3):
            return None
        a = self._string_arg(e.args[0], "strncmp()")
        b = self._string_arg(e.args[1], "strncmp()")
        size = e.args[2]
        if not isinstance(size, n.Integer) or size.value < 0:
            self.error("strncmp()'s length must be a non-negative integer literal", size.span)
            return None
        return t.INT64 if a is not None and b is not None else None

    def call_strcontains(self, e: n.Call) -> t.Type | None:
        if not self._arity(e, 2, 2):
            return None
        haystack = self._string_arg(e.args[0], "strcontains()")
        needle = e.args[1]
        if not isinstance(needle, n.String):
            self._string_arg(needle, "strcontains()")
            self.error("strcontains() looks for a string literal for now", needle.span)
            return None
        return t.BOOL if haystack is not None else None

    def call_bswap(self, e: n.Call) -> t.Type | None:
        if not self._arity(e, 1, 1):
            return None
        atype = self._integer_arg(e.args[0])
        if atype is None:
            return None
        if isinstance(atype, t.Int):
            return t.Int(atype.bits, False)
        return t.UINT64

    def call_kptr(self, e: n.Call) -> t.Type | None:
        return self._address_space(e, "kernel")

    def call_uptr(self, e: n.Call) -> t.Type | None:
        return self._address_space(e, "user")

    def _address_space(self, e: n.Call, space: str) -> t.Type | None:
        """kptr(p)/uptr(p): p, read from then on as kernel or user memory (by
        `*`, `->` and str(), which reads an integer argument by its call)."""
        if not self._arity(e, 1, 1):
            return None
        atype = self._integer_arg(e.args[0])
        return replace(atype, space=space) if isinstance(atype, t.Pointer) else atype

    def call_strerror(self, e: n.Call) -> t.Type | None:
        if self._arity(e, 1, 1) and self._integer_arg(e.args[0]) is not None:
            return t.Formatted("strerror")
        return None

    def call_cgroup_path(self, e: n.Call) -> t.Type | None:
        """cgroup_path(id[, filter]): the id, named in user space by the cgroup
        hierarchies (those whose name matches the glob `filter`) holding it."""
        if not self._arity(e, 1, 2) or self._integer_arg(e.args[0]) is None:
            return None
        pattern = "*"
        if len(e.args) == 2:
            given = e.args[1]
            if not isinstance(given, n.String):
                self.error("cgroup_path()'s filter must be a string literal", given.span)
                return None
            pattern = _script_text(given.value)
        return t.Formatted("cgroup_path", pattern)

    def call_strftime(self, e: n.Call) -> t.Type | None:
        if not self._arity(e, 2, 2):
            return None
        fmt, when = e.args
        if not isinstance(fmt, n.String):
            self.error("strftime()'s format must be a string literal", fmt.span)
            return None
        if self._integer_arg(when) is None:
            return None
        return t.Formatted("strftime", _script_text(fmt.value))

    def call_kstack(self, e: n.Call) -> t.Type | None:
        """kstack([mode][, limit]), ustack likewise: mode bpftrace, perf or raw."""
        if not self._arity(e, 0, 2):
            return None
        mode, limit = self.ctx.options.stack_mode, STACK_LIMIT
        for arg in e.args:
            if isinstance(arg, n.Identifier) and arg.name in STACK_MODES:
                mode = arg.name
            elif isinstance(arg, n.Integer) and 1 <= arg.value <= STACK_LIMIT:
                limit = arg.value
            else:
                self.error(f"{e.name}() takes a mode ({', '.join(STACK_MODES)}) and a frame "
                           f"limit from 1 to {STACK_LIMIT}", arg.span)
                return None
        return t.Stack(e.name == "ustack", mode, limit)

    def call_ustack(self, e: n.Call) -> t.Type | None:
        return self.call_kstack(e)

    def call_ksym(self, e: n.Call) -> t.Type | None:
        if self._arity(e, 1, 1) and self._integer_arg(e.args[0]) is not None:
            return t.Formatted("ksym")
        return None

    def call_buf(self, e: n.Call) -> t.Type | None:
        """buf(p, n): n bytes at address p (n at most max_strlen); buf(array)."""
        if not self._arity(e, 1, 2):
            return None
        source = e.args[0]
        stype = self.expr(source)
        if stype is None:
            return None
        held = None  # the bytes of an array or string value
        if isinstance(stype, t.Array | t.Str):
            held = stype.element_size * stype.count if isinstance(stype, t.Array) \
                else stype.capacity
        if len(e.args) == 1:
            if held is not None:
                return t.Buf(held)
            self.error(f"buf() of {stype} needs a length, as in buf(p, 16)", e.span)
            return None
        if held is None and not isinstance(stype, t.Pointer | t.Int):
            self.error(f"buf() reads memory at an address, not {stype}", source.span)
            return None
        length = e.args[1]
        if self._integer_arg(length) is None:
            return None
        literal = _literal_value(length)
        limit = self.ctx.options.max_strlen if held is None else held
        if literal is not None and not 0 <= literal <= limit:
            self.error(f"buf() reads from 0 to {limit} bytes "
                       f"({'max_strlen' if held is None else stype}), not {literal}",
                       length.span)
            return None
        return t.Buf(literal if literal is not None else limit)

    def call_cat(self, e: n.Call) -> t.Type | None:
        """cat("/path/%d", …): prints a file's contents when the event is handled."""
        return self.formatted_call(e)

    def call_join(self, e: n.Call) -> t.Type | None:
        """join(argv[, sep]): prints the strings of a NULL-terminated array of
        char pointers (up to JOIN_ARGS of them), separated by `sep` (" ")."""
        if not self._arity(e, 1, 2):
            return None
        array = e.args[0]
        atype = self.expr(array)
        if atype is None:
            return None
        if not isinstance(atype, t.Pointer | t.Int):
            self.error(f"join() takes an array of string pointers (char **), got {atype}",
                       array.span)
            return None
        separator = " "
        if len(e.args) == 2:
            sep = e.args[1]
            if not isinstance(sep, n.String):
                self.error("join()'s separator must be a string literal", sep.span)
                return None
            separator = _script_text(sep.value)
        capacity = min(self.ctx.options.max_strlen, JOIN_ARG_SIZE)
        self._format_site(e, PrintfSite("join", (separator,),
                                        (t.INT64,) + (t.Str(capacity),) * JOIN_ARGS))
        return t.VOID

    def call_ntop(self, e: n.Call) -> t.Type | None:
        """ntop([af,] addr): an IPv4 address from an integer or a 4-byte array, an
        IPv6 one from a 16-byte array; `af` (AF_INET 2, AF_INET6 10) may say which."""
        if not self._arity(e, 1, 2):
            return None
        if len(e.args) == 2 and self._integer_arg(e.args[0]) is None:
            return None
        address = e.args[-1]
        atype = self.expr(address)
        if atype is None:
            return None
        if atype.is_integer or (isinstance(atype, t.Array) and atype.element_size == 1
                                and atype.count in (4, 16)):
            return t.Inet()
        self.error(f"ntop() takes an integer or a uint8[4] or uint8[16] array, got {atype}",
                   address.span)
        return None

    def call_pton(self, e: n.Call) -> t.Type | None:
        """pton("addr"): the address's bytes, uint8[4] (IPv4) or uint8[16] (IPv6)."""
        if not self._arity(e, 1, 1):
            return None
        text = e.args[0]
        packed = _inet_pton(text.value) if isinstance(text, n.String) else None
        if packed is None:
            self.error("pton() takes an IPv4 or IPv6 address as a string literal",
                       text.span, 'as in pton("127.0.0.1") or pton("::1")')
            return None
        self.checked.pton_addresses[e] = packed
        return t.Array(t.Int(8, False), len(packed))

    def call_macaddr(self, e: n.Call) -> t.Type | None:
        """macaddr(p): the six bytes at a pointer or in an array, as 00:1A:2B:3C:4D:5E."""
        if not self._arity(e, 1, 1):
            return None
        atype = self.expr(e.args[0])
        if atype is None:
            return None
        # An array's size is rounded up to 8 bytes; its own bytes are what count.
        if isinstance(atype, t.Pointer) or \
                (isinstance(atype, t.Array) and atype.element_size * atype.count >= 6) or \
                (isinstance(atype, t.Str) and atype.capacity >= 6):
            return t.Formatted("macaddr")
        self.error(f"macaddr() takes a pointer or an array of six bytes, got {atype}",
                   e.args[0].span)
        return None

    def call_len(self, e: n.Call) -> t.Type | None:
        """len(@m): how many entries the map holds."""
        if not self._arity(e, 1, 1):
            return None
        target = e.args[0]
        if not isinstance(target, n.MapAccess) or target.keys:
            self.error("len() takes a map, as in len(@m)", target.span)
            return None
        info = self.map_info(target.name, target.span)
        if info is not None and info.key is None:
            self.error(f"map {target.name} has no keys to count", target.span)
            return None
        return t.INT64 if info is not None else None

    def call_kaddr(self, e: n.Call) -> t.Type | None:
        """kaddr("name"): the address of a kernel symbol, from /proc/kallsyms."""
        if not self._arity(e, 1, 1):
            return None
        name = e.args[0]
        if not isinstance(name, n.String):
            self.error("kaddr() takes a kernel symbol's name as a string literal", name.span)
            return None
        address = self.ctx.machine.kernel_symbol(name.value)
        if address is None:
            self.error(f"the kernel has no symbol '{name.value}'", name.span)
            return None
        self.checked.kernel_addresses[e] = address
        return t.Pointer("void", 0, "kernel")

    def call_usym(self, e: n.Call) -> t.Type | None:
        """usym(addr): named in user space from the current process's symbols."""
        if self._arity(e, 1, 1) and self._integer_arg(e.args[0]) is not None:
            return t.Usym()
        return None

    def call_uaddr(self, e: n.Call) -> t.Type | None:
        """uaddr("name"): the address of a function or variable of the probed binary
        in the probed process, typed as a pointer to an integer of the symbol's
        size (as bpftrace types it: 1, 2 or 4 bytes, else 8).

        A PIE or a library is loaded at a different address in each process, so
        the address is the probe's own (bpf_get_func_ip gives it) plus the
        distance from the probe to the symbol in the binary; that distance is
        what compiling records (symbol_offsets)."""
        if not self._arity(e, 1, 1):
            return None
        attach, name = self.instance.attach, e.args[0]
        if not KINDS[attach.kind].user_space:
            self.error(f"uaddr() cannot be used in {KINDS[attach.kind].name} probes", e.name_span,
                       "it gives an address in the binary of a uprobe, uretprobe or usdt probe")
            return None
        if not isinstance(name, n.String):
            self.error("uaddr() takes a symbol's name as a string literal", name.span)
            return None
        symbols = self.ctx.machine.binary_symbols(attach.binary) or []
        symbol = next((s for s in symbols if s.name == name.value), None)
        if symbol is None:
            close = difflib.get_close_matches(name.value, [s.name for s in symbols], n=3)
            self.error(f"{attach.binary} has no symbol '{name.value}'", name.span,
                       *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                         if close else []))
            return None
        probe = probe_address(attach, self.ctx.machine.function_symbols(attach.binary) or [])
        self.checked.symbol_offsets[e] = symbol.address - probe
        bits = symbol.size * 8 if symbol.size in (1, 2, 4) else 64
        return t.Pointer(f"int{bits}", 0, "user")

    def call_reg(self, e: n.Call) -> t.Type | None:
        """reg("name"): a register of the probed code, from the probe's pt_regs."""
        if not self._arity(e, 1, 1):
            return None
        row, name = KINDS[self.instance.attach.kind], e.args[0]
        if not row.registers:
            self.error(f"reg() cannot be used in {row.name} probes: they have no "
                       "registers", e.name_span, "reg() reads the registers in "
                       + ", ".join(REGISTER_PROBES[:-1]) + f" and {REGISTER_PROBES[-1]} probes")
            return None
        if not isinstance(name, n.String):
            self.error("reg() takes a register's name as a string literal", name.span,
                       'as in reg("ip")')
            return None
        if name.value not in PT_REGS:
            close = difflib.get_close_matches(name.value, list(PT_REGS), n=1)
            self.error(f"'{name.value}' is not an x86_64 register", name.span,
                       f"did you mean '{close[0]}'?" if close
                       else "registers: " + ", ".join(PT_REGS))
            return None
        return t.UINT64

    def call_cgroupid(self, e: n.Call) -> t.Type | None:
        """cgroupid("/sys/fs/cgroup/…"): the id of a cgroup v2 directory (its inode)."""
        if not self._arity(e, 1, 1):
            return None
        path = e.args[0]
        if not isinstance(path, n.String):
            self.error("cgroupid() takes a cgroup's path as a string literal", path.span)
            return None
        inode = self.ctx.machine.file_inode(path.value)
        if inode is None:
            shown = path.value.encode("unicode_escape").decode("ascii")  # a NUL shows as \x00
            self.error(f"no such cgroup: {shown}", path.span,
                       "cgroup v2 directories are under /sys/fs/cgroup")
            return None
        self.checked.cgroup_ids[e] = inode
        return t.UINT64

    def call_has_key(self, e: n.Call) -> t.Type | None:
        if not self._arity(e, 2, 2):
            return None
        target = e.args[0]
        if not isinstance(target, n.MapAccess) or target.keys:
            self.error("has_key() takes a map first, as in has_key(@m, key)", target.span)
            return None
        info = self.map_info(target.name, target.span)
        if info is None:
            return None
        if info.key is None:
            self.error(f"{target.name} has no keys", target.span)
            return None
        access = n.MapAccess(target.name, (e.args[1],), span=target.span.to(e.args[1].span))
        self.checked.delete_targets[e] = access
        self._check_key(info, access, self.key_type(access))
        return t.BOOL

    def call_signal(self, e: n.Call) -> t.Type | None:
        if not self.ctx.options.unsafe:
            self.error("signal() sends signals, so it needs --unsafe", e.name_span)
            return None
        if not self._arity(e, 1, 1):
            return None
        sig = e.args[0]
        number = _signal_number(sig)
        if number is None:
            self.error("signal() takes a signal name or number, as in signal(\"SIGUSR1\")",
                       sig.span)
            return None
        self.checked.signal_numbers[e] = number
        return t.VOID

    def aggregation(self, e: n.Call) -> t.Aggregation | None:
        name = e.name
        if name == "count":
            return t.Count() if self._arity(e, 0, 0) else None
        if name == "hist":
            if not self._arity(e, 1, 2):
                return None
            bits = 0
            if len(e.args) == 2:
                k = e.args[1]
                if not isinstance(k, n.Integer) or not 0 <= k.value <= 5:
                    self.error("hist()'s second argument must be a literal from 0 to 5",
                               k.span)
                    return None
                bits = k.value
            return t.Hist(bits) if self._integer_arg(e.args[0]) else None
        if name == "lhist":
            if not self._arity(e, 4, 4):
                return None
            bounds = e.args[1:]
            if not all(isinstance(b, n.Integer | n.Unary) for b in bounds):
                self.error("lhist()'s min, max and step must be integer literals", e.span)
                return None
            values = [_literal_value(b) for b in bounds]
            if any(v is None for v in values):
                self.error("lhist()'s min, max and step must be integer literals", e.span)
                return None
            low, high, step = (v if v is not None else 0 for v in values)
            if step <= 0 or high <= low:
                self.error("lhist() needs min < max and step > 0", e.span)
                return None
            if (high - low) // step > 1000:
                self.error("lhist() would have more than 1000 buckets", e.span)
                return None
            return t.Lhist(low, high, step) if self._integer_arg(e.args[0]) else None
        if not self._arity(e, 1, 1):
            return None
        arg = self._integer_arg(e.args[0])
        if arg is None:
            return None
        signed = not _is_unsigned(arg)
        kinds: dict[str, type[t.Sum | t.Min | t.Max | t.Avg | t.Stats]] = {
            "sum": t.Sum, "min": t.Min, "max": t.Max, "avg": t.Avg, "stats": t.Stats}
        return kinds[name](signed)

    def _integer_arg(self, arg: n.Expr) -> t.Type | None:
        atype = self.expr(arg)
        if atype is not None and not atype.is_integer:
            self.error(f"expected an integer, got {atype}", arg.span)
            return None
        return atype


def _byte_size(tp: t.Type) -> int:
    """The bytes of an integer or an array, as C counts them."""
    if isinstance(tp, t.Array):
        return tp.element_size * tp.count
    return tp.bits // 8 if isinstance(tp, t.Int) else 8


def _integer_size(node: n.Expr, itype: t.Int, wanted: int) -> int:
    """The bytes an integer brings to an array cast: a literal that fits in the
    `wanted` bytes brings that many (`(uint8[4])1` as `(uint8[4])(uint32)1`)."""
    literal = _literal_value(node)
    if literal is not None and 0 < wanted < 8 and (
            _fits(literal, t.Int(8 * wanted, False)) or _fits(literal, t.Int(8 * wanted, True))):
        return wanted
    return itype.bits // 8


def _compound(tp: t.Type) -> bool:
    return isinstance(tp, t.Tuple | t.Record | t.Array)


def _mismatch(a: t.Type, b: t.Type) -> str | None:
    """Why values of types a and b cannot be compared with `==`; None if they
    can, "" when the types say it all."""
    if (a.is_integer and b.is_integer) or (isinstance(a, t.Str) and isinstance(b, t.Str)):
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


def _inet_pton(text: str) -> bytes | None:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_pton(family, text)
        except (OSError, ValueError):  # ValueError: a NUL in the text
            continue
    return None


def _literal_value(e: n.Expr) -> int | None:
    if isinstance(e, n.Integer):
        return e.value
    if isinstance(e, n.Unary) and e.op == "-" and isinstance(e.operand, n.Integer):
        return -e.operand.value
    return None


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


_FOLDED: dict[str, Callable[[int, int], int]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "&": operator.and_,
    "|": operator.or_, "^": operator.xor, "<<": operator.lshift, ">>": operator.rshift,
    "/": lambda a, b: abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1),
    "%": lambda a, b: abs(a) % abs(b) * (1 if a >= 0 else -1),
}


def _signal_number(node: n.Expr) -> int | None:
    if isinstance(node, n.Integer):
        return node.value if 0 < node.value < 65 else None
    if isinstance(node, n.String):
        name = node.value.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        member = getattr(signal_module.Signals, name, None)
        return int(member) if member is not None else None
    return None


def _script_text(value: str) -> str:
    """A string literal's bytes (one char each) as text, for formats and messages."""
    return value.encode("latin-1").decode("utf-8", "surrogateescape")


def _format_span(fmt: n.String, start: int, end: int) -> Span:
    span = fmt.span
    raw = span.source.line(span.line)[span.col: span.end_col - 2] if span.line == span.end_line \
        else ""
    if raw == fmt.value:  # no escapes: offsets in the value are offsets in the source
        return Span(span.source, span.line, span.col + 1 + start, span.line, span.col + 1 + end)
    return span


def _is_unsigned(tp: t.Type) -> bool:
    return (isinstance(tp, t.Int) and not tp.signed and tp.bits == 64) or isinstance(tp, t.Pointer)


def _storable(tp: t.Type) -> bool:
    if isinstance(tp, t.Tuple | t.Record):
        return all(_storable(e) for e in tp.elements)
    return isinstance(tp, t.Int | t.Bool | t.Str | t.Pointer | t.Formatted | t.Stack | t.Array
                      | t.Inet | t.Buf | t.Usym)


def _assignable(to: t.Type, value: t.Type) -> bool:
    return t.merge(to, value) is not None


def _describe(tp: t.Type) -> str:
    if isinstance(tp, t.Aggregation):
        return f"{tp.function}() values"
    return f"values of type {tp}"
