"""The lowering visitor: one typed probe instance → one BPF program's IR.

Values: integers, bools and pointers are `i64` SSA values; strings and
tuples are pointers to 8-aligned memory laid out as `ptrace.types.types`
describes for a value alone (stack or scratch, always fully defined, padding
zero, so they can be hashed as map keys and copied into events byte for
byte). A tuple's elements are stored and loaded as C lays them out
(`store(…, field=True)`, `load_field`).

The lowering of builtins, of aggregations and of events lives in its parts,
`lower_builtins.py`, `lower_aggregations.py` and `lower_events.py`.
"""

from __future__ import annotations

import contextlib
import re
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from llvmlite import ir

from ptrace.ast import nodes as n
from ptrace.ast.visitor import walk
from ptrace.codegen.bpf_builder import I8, I32, I64, PTR, ProgramBuilder, i64
from ptrace.codegen.helpers import BPF_ANY, E2BIG, Helper, read_helper
from ptrace.codegen.lower_aggregations import AggregationLowering
from ptrace.codegen.lower_builtins import BuiltinLowering
from ptrace.codegen.lower_events import EventLowering
from ptrace.diagnostics import Span
from ptrace.machine import TracepointField
from ptrace.options import param_integer
from ptrace.passes.allocate_resources import Resources
from ptrace.passes.context import CompileContext, ProbeInstance
from ptrace.passes.probe_context import pointer_argument
from ptrace.passes.type_rules import (
    MAX_BPF_LOOP,
    assigned_aggregation,
    is_callback_loop,
)
from ptrace.probe_kinds import KINDS, Args, ProbeKind, Runs
from ptrace.program import EVENT_HEADER_SIZE, GLOBAL_STOPPED, WATCHED_ADDRESS, EventKind
from ptrace.types import types as t
from ptrace.types.builtins import ARG_REGISTERS, PT_REGS
from ptrace.types.kernel import FieldAccess

# Slots of a loop callback's context (see Lowerer.callback_loop).
_CB_PROBE_CTX, _CB_RETURNED, _CB_PROBE_NAME, _CB_START, _CB_RETURN_SLOT, _CB_VARIABLES = range(6)
# x86_64 `struct pt_regs`: the syscall number (orig_ax) follows 15 registers.
PT_REGS_ORIG_AX = 120


# A branch of a conditional: produces its value and type when called.
Branch = Callable[[], tuple[ir.Value, t.Type]]


@dataclass
class _Var:
    """A scratch variable: its type and its memory."""

    type: t.Type
    ptr: ir.Value  # the variable's memory


class Lowerer(BuiltinLowering, AggregationLowering, EventLowering):
    def __init__(self, ctx: CompileContext, resources: Resources, instance: ProbeInstance,
                 pb: ProgramBuilder):
        self.ctx = ctx
        self.checked = ctx.checked
        self.res = resources
        self.instance = instance
        self.pb = pb
        self.b = pb.b
        self.scopes: list[dict[str, _Var]] = []
        self.loops: list[tuple[ir.Block, ir.Block]] = []  # (continue target, break target)
        self.variable_types = _variable_types(instance)
        self.exit_block = pb.block("exit")  # returns the return slot's value, else 0
        # `return VALUE`'s value, in a probe ptrace runs itself (the result of
        # BPF_PROG_TEST_RUN: a test's verdict); attached programs return 0.
        self.return_slot: ir.Value | None = None
        # For an instance that stands for many probes: the name of the one that fired.
        self.probe_name: ir.Value | None = None
        self.span: Span | None = None  # what is being lowered: where -k's warnings point

    def type_of(self, e: n.Expr | n.If | n.Block) -> t.Type:
        return self.instance.type_of(e)

    # ---- program ----
    def lower(self) -> None:
        probe = self.instance.probe
        self.scopes.append({})
        if KINDS[self.instance.attach.kind].runs == Runs.TEST_RUN and any(
                isinstance(node, n.Return) and node.value is not None for node in walk(probe)):
            self.return_slot = self.pb.slot(I64)
        exit_builder = ir.IRBuilder(self.exit_block)
        exit_builder.ret(exit_builder.load(self.return_slot, typ=I64)
                         if self.return_slot is not None else i64(0))
        if self.instance.attach.kind not in (ProbeKind.BEGIN, ProbeKind.END, ProbeKind.TEST) \
                and not self.instance.attach.pin:  # (a pinned iterator runs after the run)
            # END runs, and maps print, after the probes stop: as bpftrace, which
            # detaches first. A flag stops them at once; detaching comes last.
            # (A test's exit() ends that test only: the next one runs.)
            running = self.pb.block("running")
            stopped = self.b.icmp_unsigned("!=", self.global_value(GLOBAL_STOPPED), i64(0))
            self.b.cbranch(stopped, self.exit_block, running)
            self.b.position_at_end(running)
        if self.instance.attach.syscalls:
            self.dispatch_syscall()
        elif self.instance.index in self.res.name_tables:
            self.find_function()
        if self.instance.attach.kind == ProbeKind.ITER:
            # The iterator runs the program once more at its end, with no object:
            # an exit() of the iteration takes effect then.
            found = self.pb.block("iter.object")
            end = self.pb.block("iter.end")
            item = self.pb.ctx_load(self.instance.attach.offset)
            self.b.cbranch(self.b.icmp_unsigned("==", item, i64(0)), end, found)
            self.b.position_at_end(end)
            self.iteration_end()
            self.b.branch(self.exit_block)
            self.b.position_at_end(found)
        if self.instance.attach.arms_watchpoint:
            self.send_watched_address()
        if probe.predicate is not None:
            cond = self.truth(probe.predicate)
            body = self.pb.block("probe")
            self.b.cbranch(cond, body, self.exit_block)
            self.b.position_at_end(body)
        self.block(probe.body, new_scope=False)
        if not self.b.block.is_terminated:
            self.b.branch(self.exit_block)
        self.pb.finish()

    def send_watched_address(self) -> None:
        """watchpoint:FUNC+argN's uprobe: send the argument, then stop the process
        (it runs on once the runtime has its watchpoint on the address, so no
        access is missed: the kernel stops it on the way back to user space); an
        asyncwatchpoint's lets it run on."""
        address = self.pb.ctx_load(ARG_REGISTERS[self.instance.attach.watch_arg])
        # An address sent before is in the map (until unwatch() takes it out):
        # the process runs on at once.
        key = self.pb.fresh_memory(16)
        self.pb.store64(i64(self.instance.index), key)
        self.pb.store64(address, key, 8)
        value = self.pb.fresh_memory(8)
        watched = self.pb.map_ptr(self.res.watched_map)
        sent = self.pb.helper(Helper.MAP_LOOKUP_ELEM, PTR, [watched, key])
        with self.b.if_then(self.b.icmp_unsigned("==", sent, ir.Constant(PTR, None))):
            self.pb.helper(Helper.MAP_UPDATE_ELEM, I64, [watched, key, value, i64(BPF_ANY)])
            self.emit_event(EventKind.WATCH, self.instance.index, WATCHED_ADDRESS.offset + 8,
                            [(WATCHED_ADDRESS.offset, t.INT64, address, t.INT64)])
            if not self.instance.attach.watch_async:
                self.pb.helper(Helper.SEND_SIGNAL, I64, [i64(signal.SIGSTOP)])

    def dispatch_syscall(self) -> None:
        """Raw sys_enter/sys_exit: go on only for the syscalls the wildcard matched.

        The syscall's probe name comes from the instance's table map, indexed by
        syscall number; an empty name means the syscall was not matched.
        """
        if self.instance.attach.event == "sys_enter":
            number = self.pb.ctx_load(8)  # raw args: (struct pt_regs *regs, long id)
        else:
            regs = self.pb.ctx_load(0)  # raw args: (struct pt_regs *regs, long ret)
            slot = self.pb.fresh_memory(8)
            address = self.b.add(regs, i64(PT_REGS_ORIG_AX))
            self.pb.helper(Helper.PROBE_READ_KERNEL, I64, [slot, i64(8), address])
            number = self.pb.load64(slot)
        name = self.probe_name_of(number)
        traced = self.pb.block("syscall.traced")
        first = self.b.load(name, typ=I8)
        self.b.cbranch(self.b.icmp_unsigned("==", first, ir.Constant(I8, 0)), self.exit_block,
                       traced)
        self.b.position_at_end(traced)
        self.probe_name = name

    def find_function(self) -> None:
        """A uprobe_multi link: the function that fired is the link's cookie."""
        self.probe_name = self.probe_name_of(
            self.pb.helper(Helper.GET_ATTACH_COOKIE, I64, [self.pb.ctx]))

    def probe_name_of(self, key: ir.Value) -> ir.Value:
        """The instance's name table at `key`; the program ends where it has none."""
        slot = self.pb.slot(I32)
        self.b.store(self.b.trunc(key, I32), slot)
        table = self.res.name_tables[self.instance.index]
        name = self.pb.helper(Helper.MAP_LOOKUP_ELEM, PTR, [self.pb.map_ptr(table), slot])
        found = self.pb.block("name.known")
        isnull = self.b.icmp_unsigned("==", name, ir.Constant(PTR, None))
        self.b.cbranch(isnull, self.exit_block, found)
        self.b.position_at_end(found)
        return name

    # ---- statements ----
    def block(self, block: n.Block, new_scope: bool = True) -> None:
        with self.scope() if new_scope else contextlib.nullcontext():
            for stmt in block.stmts:
                if self.b.block.is_terminated:
                    break  # after `return`: unreachable
                self.stmt(stmt)

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """A scope of variables; its variables' memory serves the code after it."""
        pb = self.pb
        self.scopes.append({})
        mark = pb.scope()
        yield
        pb.end_scope(mark)
        self.scopes.pop()

    def stmt(self, stmt: n.Stmt) -> None:
        # The values a statement computes are dead after it: their stack
        # memory serves the next statements (unrolled copies especially).
        pb = self.pb
        mark = pb.statement()
        self.lower_stmt(stmt)
        pb.end_statement(mark)

    def lower_stmt(self, stmt: n.Stmt) -> None:
        self.span = stmt.span
        if isinstance(stmt, n.ExprStmt):
            self.expr(stmt.expr)
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
                value = self.expr(stmt.value)
                if self.return_slot is not None:
                    self.b.store(value, self.return_slot)
            self.b.branch(self.exit_block)
        elif isinstance(stmt, n.While):
            self.while_(stmt)
        elif isinstance(stmt, n.For) and isinstance(stmt.iterable, n.MapRef):
            self.for_map(stmt, stmt.iterable)
        elif isinstance(stmt, n.For) and is_callback_loop(stmt):
            self.for_range_callback(stmt)
        elif isinstance(stmt, n.For):
            self.for_range(stmt)
        elif isinstance(stmt, n.Unroll):
            for _ in range(self.checked.unroll_counts[stmt]):
                mark = self.pb.statement()  # each copy's memory serves the next copy
                self.block(stmt.body)
                self.pb.end_statement(mark)
                if self.b.block.is_terminated:
                    break
        elif isinstance(stmt, n.Break):
            self.b.branch(self.loops[-1][1])
        elif isinstance(stmt, n.Continue):
            self.b.branch(self.loops[-1][0])
        else:
            raise AssertionError(f"unchecked statement {type(stmt).__name__}")

    def while_(self, stmt: n.While) -> None:
        test = self.pb.block("while.test")
        body = self.pb.block("while.body")
        done = self.pb.block("while.end")
        self.b.branch(test)
        self.b.position_at_end(test)
        self.pb.loop_depth += 1
        self.b.cbranch(self.truth(stmt.cond), body, done)
        self.loop_body(stmt.body, body, test, done)
        self.pb.loop_depth -= 1

    def for_range(self, stmt: n.For) -> None:
        """for ($i : start..stop): $i from start up to, not including, stop."""
        assert isinstance(stmt.iterable, n.Range)
        start = self.expr(stmt.iterable.start)
        stop = self.materialize(self.expr(stmt.iterable.stop), t.INT64)
        with self.scope():
            self.range_loop(stmt, start, stop)

    def range_loop(self, stmt: n.For, start: ir.Value, stop: ir.Value) -> None:
        var = self.declare(stmt.var, t.INT64)
        self.pb.store64(start, var.ptr)
        test = self.pb.block("for.test")
        body = self.pb.block("for.body")
        step = self.pb.block("for.step")
        done = self.pb.block("for.end")
        self.b.branch(test)
        self.b.position_at_end(test)
        more = self.b.icmp_signed("<", self.pb.load64(var.ptr), self.pb.load64(stop))
        self.b.cbranch(more, body, done)
        self.pb.loop_depth += 1
        self.loop_body(stmt.body, body, step, done)
        self.pb.loop_depth -= 1
        self.b.position_at_end(step)
        self.pb.store64(self.b.add(self.pb.load64(var.ptr), i64(1)), var.ptr)
        self.b.branch(test)
        self.b.position_at_end(done)

    def for_map(self, stmt: n.For, ref: n.MapRef) -> None:
        """for ($kv : @m): the body becomes a callback of bpf_for_each_map_elem."""
        info = self.ctx.maps[ref.name]

        def fill(child: ProgramBuilder, state: ir.Value) -> None:
            kv = self.declare(stmt.var, self.instance.types[stmt])
            self.fill_entry(kv, ref, child.function.args[1], child.function.args[2])

        def call(callback: ir.Function, state: ir.Value) -> None:
            self.pb.helper(Helper.FOR_EACH_MAP_ELEM, I64,
                           [self.pb.map_ptr(info.index), callback, state, i64(0)])

        self.callback_loop(stmt, 4, fill, call)

    def for_range_callback(self, stmt: n.For) -> None:
        """for ($i : start..stop) with a bound known only when the probe runs (a
        map's value, a variable): the body becomes a callback of bpf_loop, which
        the verifier accepts whatever the count. The bounds are read once,
        before the loop; a range longer than bpf_loop runs (MAX_BPF_LOOP) does
        not run, and warns once."""
        assert isinstance(stmt.iterable, n.Range)
        start = self.expr(stmt.iterable.start)
        stop = self.expr(stmt.iterable.stop)

        def fill(child: ProgramBuilder, state: ir.Value) -> None:
            var = self.declare(stmt.var, t.INT64)
            first = child.entry_pointer(state, 8 * _CB_START)
            index = self.b.ptrtoint(child.function.args[0], I64)
            self.pb.store64(self.b.add(self.b.ptrtoint(first, I64), index), var.ptr)

        def call(callback: ir.Function, state: ir.Value) -> None:
            self.b.store(self.b.inttoptr(start, PTR), self.pb.offset(state, 8 * _CB_START))
            count = self.b.sub(stop, start)
            count = self.b.select(self.b.icmp_signed(">", count, i64(0)), count, i64(0))
            too_long = self.b.icmp_unsigned(">", count, i64(MAX_BPF_LOOP))
            with self.b.if_else(too_long, likely=False) as (warn, run):
                with warn:  # bpf_loop would refuse it and run nothing, unsaid
                    self.emit_event(EventKind.PRINTF, self.checked.printf_ids[stmt],
                                    EVENT_HEADER_SIZE, [])
                with run:
                    self.pb.helper(Helper.LOOP, I64, [count, callback, state, i64(0)])

        self.callback_loop(stmt, 2, fill, call)

    def callback_loop(self, stmt: n.For, params: int,
                      fill: Callable[[ProgramBuilder, ir.Value], None],
                      call: Callable[[ir.Function, ir.Value], None]) -> None:
        """A loop whose body is a callback a helper calls (`params` arguments,
        the last its context); `fill` sets the loop's variable in the callback,
        `call` calls the helper with the callback and its context.

        The callback reaches the program's state through its context, a stack
        array of 8-byte slots: the probe's context, a flag set by `return`, the
        syscall name of a dispatched syscall probe, the first value of a range,
        a pointer to the program's return slot, and a pointer to each variable
        of the enclosing scopes. It returns 0 to
        go on, 1 to stop.
        """
        outer = {name: var for scope in self.scopes for name, var in scope.items()}
        captured = sorted(name for name in {node.name for node in walk(stmt.body)
                                            if isinstance(node, n.Variable)} if name in outer)
        state = self.pb.slot(ir.ArrayType(I64, _CB_VARIABLES + len(captured)), stack_only=True)
        self.b.store(self.pb.ctx, self.pb.offset(state, 8 * _CB_PROBE_CTX))
        if self.probe_name is not None:
            self.b.store(self.probe_name, self.pb.offset(state, 8 * _CB_PROBE_NAME))
        if self.return_slot is not None:
            self.b.store(self.return_slot, self.pb.offset(state, 8 * _CB_RETURN_SLOT))
        for i, name in enumerate(captured):
            self.b.store(outer[name].ptr, self.pb.offset(state, 8 * (_CB_VARIABLES + i)))

        parent = (self.pb, self.b, self.scopes, self.loops, self.exit_block, self.probe_name,
                  self.return_slot)
        child = self.pb.callback(f"{self.pb.function.name}_for{len(self.pb.module.functions)}",
                                 params)
        cb_state = child.ctx
        child.ctx = child.entry_pointer(cb_state, 8 * _CB_PROBE_CTX)
        self.pb, self.b = child, child.b
        self.probe_name = (child.entry_pointer(cb_state, 8 * _CB_PROBE_NAME)
                           if self.probe_name is not None else None)
        self.return_slot = (child.entry_pointer(cb_state, 8 * _CB_RETURN_SLOT)
                            if self.return_slot is not None else None)
        self.scopes = [{name: _Var(outer[name].type,
                                   child.entry_pointer(cb_state, 8 * (_CB_VARIABLES + i)))
                        for i, name in enumerate(captured)}]
        go_on, stop, returned = (child.block(x) for x in ("for.next", "for.stop", "for.return"))
        ir.IRBuilder(go_on).ret(i64(0))
        ir.IRBuilder(stop).ret(i64(1))
        builder = ir.IRBuilder(returned)
        builder.store(i64(1), child.entry_address(cb_state, 8 * _CB_RETURNED), align=8)
        builder.ret(i64(1))
        self.exit_block = returned
        self.loops = [(go_on, stop)]
        self.scopes.append({})
        fill(child, cb_state)
        self.block(stmt.body, new_scope=False)
        if not self.b.block.is_terminated:
            self.b.branch(go_on)
        child.finish()
        (self.pb, self.b, self.scopes, self.loops, self.exit_block, self.probe_name,
         self.return_slot) = parent
        self.pb.scratch_size = max(self.pb.scratch_size, child.scratch_size)

        call(child.function, state)
        after = self.pb.block("for.after")
        returned_flag = self.pb.load64(state, 8 * _CB_RETURNED)
        self.b.cbranch(self.b.icmp_unsigned("!=", returned_flag, i64(0)), self.exit_block, after)
        self.b.position_at_end(after)

    def fill_entry(self, kv: _Var, ref: n.MapRef, key: ir.Value, value: ir.Value) -> None:
        """$kv = (key, value) from the callback's pointers into the map's element."""
        info = self.ctx.maps[ref.name]
        assert isinstance(kv.type, t.Tuple) and info.key is not None
        value_type = kv.type.elements[1]
        key_offset, value_offset = kv.type.offsets
        own_key = self.pb.fresh_memory(info.key.size)  # the key as a lookup takes it
        self.pb.memcpy(own_key, key, info.key.size)
        self.store(kv.ptr, key_offset, info.key, self.load_element(own_key, 0, info.key),
                   info.key, field=True)
        if isinstance(info.value, t.Aggregation):
            total = self.aggregation_read(info.index, info.value, own_key)
            self.store(kv.ptr, value_offset, value_type, total, value_type, field=True)
        else:
            self.store(kv.ptr, value_offset, value_type,
                       self.load_element(value, 0, info.value), info.value, field=True)

    def loop_body(self, body: n.Block, start: ir.Block, next_: ir.Block, done: ir.Block) -> None:
        """Lower a loop's body at `start`; continue goes to `next_`, break to `done`."""
        self.b.position_at_end(start)
        self.loops.append((next_, done))
        self.block(body)
        self.loops.pop()
        if not self.b.block.is_terminated:
            self.b.branch(next_)
        self.b.position_at_end(done)

    def if_(self, stmt: n.If) -> None:
        cond = self.truth(stmt.cond)
        then = self.pb.block("if.then")
        merge = self.pb.block("if.end")
        orelse = self.pb.block("if.else") if stmt.orelse is not None else merge
        self.b.cbranch(cond, then, orelse)
        self.b.position_at_end(then)
        self.block(stmt.then)
        if not self.b.block.is_terminated:
            self.b.branch(merge)
        if stmt.orelse is not None:
            self.b.position_at_end(orelse)
            if isinstance(stmt.orelse, n.If):
                with self.scope():
                    self.if_(stmt.orelse)
            else:
                self.block(stmt.orelse)
            if not self.b.block.is_terminated:
                self.b.branch(merge)
        self.b.position_at_end(merge)

    def lookup(self, name: str) -> _Var | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def declare(self, name: str, vtype: t.Type) -> _Var:
        # A variable may hold a longer string later than at its first assignment:
        # its memory is sized for every value it takes in this probe.
        for other in self.variable_types.get(name, ()):
            vtype = t.merge(vtype, other) or vtype
        memory = self.pb.variable_slot() if vtype.in_register else \
            self.pb.fresh_memory(vtype.size, variable=True)
        var = _Var(vtype, memory)
        self.scopes[-1][name] = var
        return var

    def let(self, stmt: n.Let) -> None:
        var = self.declare(stmt.name, self.instance.types[stmt])
        vtype = var.type
        if stmt.value is not None:
            self.store(var.ptr, 0, vtype, self.expr(stmt.value), self.type_of(stmt.value))
        elif not vtype.in_register:
            self.pb.memset(var.ptr, vtype.size)
        else:
            self.pb.store64(i64(0), var.ptr)

    def assign(self, stmt: n.Assign) -> None:
        target, value = stmt.target, stmt.value
        aggregated = assigned_aggregation(value)
        if aggregated is not None:
            blocks, call = aggregated
            assert isinstance(target, n.MapAccess)
            with contextlib.ExitStack() as scopes:
                for block in blocks:  # their statements first, each block a scope
                    scopes.enter_context(self.scope())
                    for inner in block.stmts[:-1]:
                        self.stmt(inner)
                self.aggregate(target, call)
            return
        if isinstance(target, n.MapAccess):
            if stmt.op == "=":
                self.map_store(target, self.expr(value), self.type_of(value))
            else:
                old = self.map_read(target)
                held = self.ctx.maps[target.name].value
                scale = self.checked.pointer_scales.get(stmt)
                if scale is not None:  # `@p += i` on a pointer moves by elements
                    new = self.pointer_arith(stmt.op[:-1], old, self.expr(value), held,
                                             self.type_of(value), scale)
                else:
                    new = self.arith(stmt.op[:-1], old, self.expr(value),
                                     held if held.is_integer else t.INT64,
                                     self.type_of(value), self.checked.printf_ids.get(stmt))
                self.map_store(target, new, t.INT64)
            return
        if isinstance(target, n.Identifier):  # `_ = expr;`: for its effects only
            self.expr(value)
            return
        assert isinstance(target, n.Variable)
        var = self.lookup(target.name)
        vtype = self.type_of(target)
        if stmt.op != "=":
            assert var is not None
            old = self.pb.load64(var.ptr)
            scale = self.checked.pointer_scales.get(stmt)
            if scale is not None:  # `$p += i` on a pointer moves by elements
                new = self.pointer_arith(stmt.op[:-1], old, self.expr(value), var.type,
                                         self.type_of(value), scale)
            else:
                new = self.arith(stmt.op[:-1], old, self.expr(value), var.type,
                                 self.type_of(value), self.checked.printf_ids.get(stmt))
            self.pb.store64(self.fit(new, var.type), var.ptr)
            return
        result = self.expr(value)
        if var is None:
            var = self.declare(target.name, vtype)
        self.store(var.ptr, 0, var.type, result, self.type_of(value))

    # ---- memory of values ----
    def store(self, dst: ir.Value, offset: int, dtype: t.Type, value: ir.Value,
              vtype: t.Type, field: bool = False) -> None:
        """Write `value` (of type vtype) into memory laid out as dtype: as a value
        alone (`size` bytes), or as an element of a tuple or a record (`field`:
        its `c_width` bytes, at `offset` from 8-aligned `dst`)."""
        place = self.pb.offset(dst, offset)
        align = self.pb.alignment(dst, offset)
        if dtype.in_register:
            value = self.fit(value, dtype)
            width = t.c_width(dtype) if field else 8
            if width == 8 and align == 8:
                self.pb.store64(value, dst, offset)
            else:
                self.b.store(self.b.trunc(value, ir.IntType(8 * width)) if width < 8 else value,
                             place, align=min(width, align))
            return
        width = t.c_width(dtype) if field else dtype.size
        if dtype == vtype or (isinstance(dtype, t.Array) and isinstance(vtype, t.Array)
                              and t.c_width(dtype) == t.c_width(vtype)):
            # the same layout (arrays the checker mixed have one): copy it
            self.pb.memcpy(place, value, width, dst_align=align)
            return
        if isinstance(dtype, t.Str) and isinstance(vtype, t.Str):
            size = min(width, vtype.size)
            self.pb.memcpy(place, value, size, dst_align=align)
            if width > size:
                self.pb.memset(self.pb.offset(dst, offset + size), width - size,
                               self.pb.alignment(dst, offset + size))
            return
        if isinstance(dtype, t.Tuple | t.Record) and isinstance(vtype, t.Tuple | t.Record):
            for d_el, d_off, v_el, v_off in _paired(dtype, vtype):
                element = self.load_field(value, v_off, v_el)
                self.store(dst, offset + d_off, d_el, element, v_el, field=True)
            return
        if isinstance(dtype, t.StructValue) and isinstance(vtype, t.Struct):
            # A struct known by its address, kept by value: its bytes are read.
            helper = read_helper(vtype.space)
            self.check_helper(self.pb.helper(helper, I64, [self.pb.offset(dst, offset),
                                                           i64(dtype.c_size), value]), helper, 2)
            return
        raise AssertionError(f"cannot store {vtype} as {dtype}")

    def fit(self, value: ir.Value, dtype: t.Type) -> ir.Value:
        """A value stored as a narrow integer wraps as in C: uint8 255 + 1 is 0;
        a bool holds 0 or 1 (`$b += 5` leaves true)."""
        if isinstance(dtype, t.Bool):
            return self.b.zext(self.b.icmp_unsigned("!=", value, i64(0)), I64)
        if not isinstance(dtype, t.Int) or dtype.bits == 64:
            return value
        narrow = self.b.trunc(value, ir.IntType(dtype.bits))
        return self.b.sext(narrow, I64) if dtype.signed else self.b.zext(narrow, I64)

    def load_element(self, ptr: ir.Value, offset: int, etype: t.Type) -> ir.Value:
        """A value alone at `ptr + offset` (an integer in its 8 bytes)."""
        if etype.in_register:
            return self.pb.load64(ptr, offset)
        return self.pb.offset(ptr, offset)

    def load_field(self, ptr: ir.Value, offset: int, etype: t.Type) -> ir.Value:
        """An element of a tuple or a record at `ptr + offset` (ptr 8-aligned):
        an integer loaded at its width; anything else where it is when that
        memory is laid out as the value alone (8-aligned, its `size` bytes),
        else copied into such memory."""
        if not etype.in_register and offset % 8 == 0 and t.c_width(etype) == etype.size:
            return self.pb.offset(ptr, offset)
        return self.load_c(self.pb.offset(ptr, offset), etype, self.pb.alignment(ptr, offset))

    def materialize(self, value: ir.Value, vtype: t.Type) -> ir.Value:
        """A pointer to `value` in memory (a fresh copy for integers)."""
        if vtype.in_register:
            mem = self.pb.slot(I64)
            self.pb.store64(value, mem)
            return mem
        return value

    def string_constant(self, text: str, capacity: int | None = None) -> ir.Value:
        data = text.encode("latin-1") + b"\0"
        return self.bytes_constant(data.ljust(capacity or 0, b"\0"))

    def bytes_constant(self, data: bytes) -> ir.Value:
        """Memory holding `data`, zero-padded to a multiple of 8 bytes."""
        size = t.align8(len(data))
        data = data.ljust(size, b"\0")
        mem = self.pb.fresh_memory(size, zeroed=False)
        self.pb.store_bytes(data, mem)
        return mem

    # ---- maps ----
    def map_key(self, access: n.MapAccess, extra: int = 0) -> ir.Value:
        """Memory holding the key of `access` (and `extra` more zeroed bytes after it)."""
        info = self.ctx.maps[access.name]
        if info.key is None:
            key = self.pb.fresh_memory(8 + extra)
            return key
        key = self.pb.fresh_memory(info.key.size + extra)
        if len(access.keys) == 1:
            k = access.keys[0]
            self.store(key, 0, info.key, self.expr(k), self.type_of(k))
        else:
            assert isinstance(info.key, t.Tuple)
            for k, ktype, off in zip(access.keys, info.key.elements, info.key.offsets,
                                     strict=True):
                self.store(key, off, ktype, self.expr(k), self.type_of(k), field=True)
        return key

    def map_read(self, access: n.MapAccess, warn: bool = False) -> ir.Value:
        """A map's value at a key (0 where it has none: -k warns of that if `warn`)."""
        info = self.ctx.maps[access.name]
        if isinstance(info.value, t.Aggregation):
            return self.aggregation_read(info.index, info.value, self.map_key(access))
        key = self.map_key(access)
        found = self.pb.helper(Helper.MAP_LOOKUP_ELEM, PTR, [self.pb.map_ptr(info.index), key])
        if warn:
            self.check_lookup(found)
        if info.value.in_register:
            return self.pb.load64_or_zero(found, "read")
        out = self.pb.fresh_memory(info.value.size)
        then, orelse, merge = self.pb.if_nonnull(found, "read")
        self.b.position_at_end(then)
        self.pb.memcpy(out, found, info.value.size)
        self.b.branch(merge)
        self.b.position_at_end(orelse)
        self.pb.memset(out, info.value.size)
        self.b.branch(merge)
        self.b.position_at_end(merge)
        return out

    def global_value(self, slot: int) -> ir.Value:
        """A value the runtime wrote in the globals map before BEGIN (0 if missing)."""
        key = self.pb.fresh_memory(8, zeroed=False)
        self.b.store(ir.Constant(I32, slot), key)
        found = self.pb.helper(Helper.MAP_LOOKUP_ELEM, PTR,
                               [self.pb.map_ptr(self.res.globals_map), key])
        return self.pb.load64_or_zero(found, "global")

    def map_store(self, access: n.MapAccess, value: ir.Value, vtype: t.Type) -> None:
        info = self.ctx.maps[access.name]
        key = self.map_key(access)
        mem = self.pb.fresh_memory(info.value.size)
        self.store(mem, 0, info.value, value, vtype)
        self.update(info.index, key, mem, BPF_ANY)

    def update(self, map_index: int, key: ir.Value, value: ir.Value, flags: int) -> None:
        """map_update_elem, counting refusals because the map is full."""
        ret = self.pb.helper(Helper.MAP_UPDATE_ELEM, I64,
                             [self.pb.map_ptr(map_index), key, value, i64(flags)])
        self.check_helper(ret, Helper.MAP_UPDATE_ELEM, 1, expected=E2BIG)  # a full map is counted
        full = self.b.icmp_signed("==", ret, i64(-E2BIG))
        with self.b.if_then(full, likely=False):
            self.bump_counter(self.res.full_counter(map_index))

    # ---- expressions ----
    def truth(self, e: n.Expr) -> ir.Value:
        """An i1: the expression taken as a condition."""
        return self.value_truth(self.expr(e), self.type_of(e))

    def value_truth(self, value: ir.Value, vtype: t.Type) -> ir.Value:
        """An i1: non-zero integers and non-empty strings are true."""
        if isinstance(vtype, t.Str):
            first = self.b.load(value, typ=I8)
            return self.b.icmp_unsigned("!=", first, ir.Constant(I8, 0))
        return self.b.icmp_unsigned("!=", value, i64(0))

    def expr(self, e: n.Expr) -> ir.Value:
        method = getattr(self, "expr_" + type(e).__name__)
        outer, self.span = self.span, e.span
        result: ir.Value = method(e)
        self.span = outer
        return result

    def expr_Integer(self, e: n.Integer) -> ir.Value:
        return i64(e.value)

    def expr_Boolean(self, e: n.Boolean) -> ir.Value:
        return i64(int(e.value))

    def expr_String(self, e: n.String) -> ir.Value:
        return self.string_constant(e.value)

    def expr_Variable(self, e: n.Variable) -> ir.Value:
        var = self.lookup(e.name)
        assert var is not None, e.name
        if var.type.in_register:
            return self.pb.load64(var.ptr)
        read = self.type_of(e)
        if read != var.type:  # laid out for all the values it takes: as this read has it
            mem = self.pb.fresh_memory(read.size)
            self.store(mem, 0, read, var.ptr, var.type)
            return mem
        return var.ptr

    def expr_Positional(self, e: n.Positional) -> ir.Value:
        params = self.ctx.options.params
        if e.index == 0:
            return i64(len(params))
        text = params[e.index - 1] if e.index <= len(params) else ""
        number = param_integer(text) if text else 0
        if number is not None:
            return i64(number)
        return self.string_constant(text.encode().decode("latin-1"))

    def expr_MapAccess(self, e: n.MapAccess) -> ir.Value:
        return self.map_read(e, warn=True)

    def expr_Tuple(self, e: n.Tuple) -> ir.Value:
        return self.aggregate_value(e, e.elements)

    def expr_Record(self, e: n.Record) -> ir.Value:
        return self.aggregate_value(e, tuple(f.value for f in e.fields))

    def aggregate_value(self, e: n.Expr, elements: tuple[n.Expr, ...]) -> ir.Value:
        """A tuple or record: its elements laid out as C lays out a struct."""
        ttype = self.type_of(e)
        assert isinstance(ttype, t.Tuple | t.Record)
        mem = self.pb.fresh_memory(ttype.size)
        for element, etype, off in zip(elements, ttype.elements, ttype.offsets, strict=True):
            self.store(mem, off, etype, self.expr(element), self.type_of(element), field=True)
        return mem

    def expr_Field(self, e: n.Field) -> ir.Value:
        if isinstance(e.base, n.Identifier) and e.base.name == "args":
            return self.tracepoint_arg(e)
        base_type = self.type_of(e.base)
        if isinstance(base_type, t.Pointer | t.Struct):
            return self.read_memory(self.expr(e.base), self.checked.field_accesses[e],
                                    self.type_of(e), base_type.space)
        if isinstance(base_type, t.StructValue):
            member = base_type.members[base_type.names.index(e.name)]
            return self.load_member(self.expr(e.base), member)
        assert isinstance(base_type, t.Tuple | t.Record)
        index = int(e.name) if isinstance(base_type, t.Tuple) else base_type.names.index(e.name)
        return self.load_field(self.expr(e.base), base_type.offsets[index],
                               base_type.elements[index])

    def ctx_argument(self, index: int, atype: t.Type) -> ir.Value:
        """Argument `index` of a raw tracepoint or fentry/fexit (ctx is u64 args[]),
        or of a user function (ctx is pt_regs): at position `index`, an argument
        register or a word on the stack above the return address."""
        if KINDS[self.instance.attach.kind].args != Args.DEBUG_INFO:
            raw = self.pb.ctx_load(8 * index)
        elif index < len(ARG_REGISTERS):
            raw = self.pb.ctx_load(ARG_REGISTERS[index])
        else:  # a struct on the stack is its address there
            word = FieldAccess(8 * (index - len(ARG_REGISTERS) + 1), 8)
            raw = self.read_memory(self.pb.ctx_load(PT_REGS["sp"]), word,
                                   atype if isinstance(atype, t.Struct) else t.UINT64, "user")
        if isinstance(atype, t.Int) and atype.bits < 64:
            narrow = self.b.trunc(raw, ir.IntType(atype.bits))
            return self.b.sext(narrow, I64) if atype.signed else self.b.zext(narrow, I64)
        return raw

    def tracepoint_arg(self, e: n.Field) -> ir.Value:
        if KINDS[self.instance.attach.kind].args != Args.FIELDS:
            return self.ctx_argument(self.checked.arg_positions[e], self.type_of(e))
        field = self.tracepoint_field(e)
        assert field is not None
        return self.read_tracepoint_field(field, self.type_of(e))

    def args_record(self, rtype: t.Type) -> ir.Value:
        """`args` whole: each argument read into its place in a record."""
        assert isinstance(rtype, t.Record)
        attach = self.instance.attach
        mem = self.pb.fresh_memory(rtype.size)
        fmt = self.ctx.machine.tracepoint_format(attach.category, attach.event) \
            if KINDS[attach.kind].args == Args.FIELDS else None
        # a user function's parameters: where the calling convention passes each
        positions = [a.position for a in
                     self.ctx.user_parameters.get((attach.binary, attach.symbol), ())]
        for index, (name, ftype, offset) in enumerate(zip(rtype.names, rtype.elements,
                                                          rtype.offsets, strict=True)):
            field = fmt.field(name) if fmt is not None else None
            if field is None:  # raw tracepoints, fentry, fexit, uprobes
                position = positions[index] if positions else None
                self.store(mem, offset, ftype, self.ctx_argument(
                    index if position is None else position, ftype), ftype, field=True)
            elif ftype.in_register:
                self.store(mem, offset, ftype, self.read_tracepoint_field(field, ftype), ftype,
                           field=True)
            else:
                self.read_tracepoint_field(field, ftype, self.pb.offset(mem, offset))
        return mem

    def read_tracepoint_field(self, field: TracepointField, ftype: t.Type,
                              into: ir.Value | None = None) -> ir.Value:
        """A field of the tracepoint's record; a string or an array is read into
        memory (`into`, or fresh memory)."""
        address = self.pb.offset(self.pb.ctx, field.offset)
        if isinstance(ftype, t.Str | t.Array):
            mem = into or self.pb.fresh_memory(ftype.size)
            if field.is_data_loc and isinstance(ftype, t.Str):
                loc = self.pb.ctx_load(field.offset, 4)
                start = self.b.and_(loc, i64(0xFFFF))
                source = self.b.gep(self.pb.ctx, [start], source_etype=I8)
                self.pb.helper(Helper.PROBE_READ_KERNEL_STR, I64,
                               [mem, i64(ftype.capacity), source])
            else:
                self.pb.helper(Helper.PROBE_READ_KERNEL, I64, [mem, i64(field.size), address])
            return mem
        raw = self.pb.ctx_load(field.offset, field.size)
        if field.size == 8 or not field.signed:
            return raw
        return self.b.sext(self.b.trunc(raw, ir.IntType(field.size * 8)), I64)

    def expr_Cast(self, e: n.Cast) -> ir.Value:
        target = self.type_of(e)
        position = self.raw_argument(e.operand)
        if position is not None and isinstance(target, t.Pointer):
            # A BTF tracepoint's argument (arg0) cast to a pointer: the kernel's
            # typed pointer itself (skboutput() and socket_cookie() take no other).
            return self.pb.ctx_load(8 * position)
        btf = self.ctx.machine.btf()
        if position is not None and isinstance(target, t.Int) and btf is not None \
                and pointer_argument(btf, self.instance.attach, position):
            value = self.integer_argument(position)  # a pointer's value: a number
        else:
            value = self.expr(e.operand)
        if isinstance(target, t.Array) and isinstance(self.type_of(e.operand), t.Str):
            mem = self.pb.fresh_memory(target.size)  # the string's bytes
            self.pb.memcpy(mem, value, target.c_size)
            return mem
        if isinstance(target, t.Array):  # the integer's low bytes, in memory order
            size = target.c_size
            mem = self.pb.fresh_memory(size)
            self.pb.store64(self.b.and_(value, i64((1 << (8 * size)) - 1)), mem)
            return mem
        if isinstance(self.type_of(e.operand), t.Array):  # as many bytes as the integer has
            value = self.pb.load64(value)
        if isinstance(target, t.Pointer):
            return value
        if isinstance(target, t.Bool):
            return self.b.zext(self.b.icmp_unsigned("!=", value, i64(0)), I64)
        assert isinstance(target, t.Int)
        if target.bits == 64:
            return value
        narrow = self.b.trunc(value, ir.IntType(target.bits))
        return self.b.sext(narrow, I64) if target.signed else self.b.zext(narrow, I64)

    def raw_argument(self, e: n.Expr) -> int | None:
        """The position of a BTF tracepoint's argument that `e` reads whole
        (`arg1`, `args.prev`), if it reads one."""
        if not self.instance.attach.btf_tracepoint:
            return None
        if isinstance(e, n.Identifier) and re.fullmatch(r"arg\d", e.name):
            return int(e.name[3:])
        if isinstance(e, n.Field) and isinstance(e.base, n.Identifier) and e.base.name == "args":
            return self.checked.arg_positions.get(e)
        return None

    def read_memory(self, base: ir.Value, access: FieldAccess, vtype: t.Type,
                    space: str) -> ir.Value:
        """Read a value of `vtype` at `base + access.offset` in kernel or user memory.

        A struct is not read: its address is its value, and its fields are
        read when used. bpf_probe_read_* zero the destination if they fault.
        """
        address = self.b.add(base, i64(access.offset)) if access.offset else base
        if isinstance(vtype, t.Struct) or not access.read_size:
            return address
        helper = read_helper(space)
        if not vtype.in_register:
            mem = self.pb.fresh_memory(vtype.size)
            size = min(access.read_size, vtype.capacity) if isinstance(vtype, t.Str) else \
                t.c_width(vtype)
            self.check_helper(self.pb.helper(helper, I64, [mem, i64(size), address]), helper, 2)
            return mem
        slot = self.pb.fresh_memory(8)
        self.check_helper(self.pb.helper(helper, I64, [slot, i64(access.read_size), address]),
                          helper, 2)
        raw = self.b.load(slot, typ=ir.IntType(access.read_size * 8), align=8)
        signed = isinstance(vtype, t.Int) and vtype.signed
        if access.bit_size:
            # The field's top bit to bit 63, then back down, filling with its sign if signed.
            top = self.b.shl(self.b.zext(raw, I64), i64(64 - access.bit_shift - access.bit_size))
            down = self.b.ashr if signed else self.b.lshr
            return down(top, i64(64 - access.bit_size))
        return self.extend(raw, t.Int(access.read_size * 8, signed))

    def expr_Index(self, e: n.Index) -> ir.Value:
        base_type = self.type_of(e.base)
        etype = self.type_of(e)
        if isinstance(base_type, t.Tuple):  # `t[i]`, i known: `t.i`
            position = self.checked.tuple_positions[e]
            return self.load_field(self.expr(e.base), base_type.offsets[position], etype)
        if isinstance(base_type, t.Pointer):  # *(p + i), scaled by the element's size
            scaled = self.b.mul(self.expr(e.index), i64(self.checked.pointer_scales[e]))
            address = self.b.add(self.expr(e.base), scaled)
            access = self.checked.field_accesses.get(e)
            if access is None:  # a struct: its address
                return address
            return self.read_memory(address, access, etype, base_type.space)
        assert isinstance(base_type, t.Array | t.Str)
        size = t.c_width(etype)
        count = base_type.count if isinstance(base_type, t.Array) else base_type.capacity
        index = e.index
        if isinstance(index, n.Integer):
            field = self.tracepoint_field(e.base)
            if field is not None and isinstance(etype, t.Int):  # args->args[1]: from the context
                return self.extend(self.pb.ctx_load(field.offset + index.value * size, size),
                                   etype)
            offset = index.value * size
            return self.load_c(self.pb.offset(self.expr(e.base), offset), etype,
                               _alignment(offset))
        base = self.expr(e.base)
        position = self.expr(index)
        inside = self.b.icmp_unsigned("<", position, i64(count))
        with self.b.if_then(self.b.not_(inside), likely=False):  # warned once, 0 read
            site = self.checked.printf_ids[e]
            self.emit_event(EventKind.PRINTF, site, self.res.printf_layouts[site].size,
                            [(self.res.printf_layouts[site].args[0].offset, t.INT64, position,
                              t.INT64)])

        def element() -> ir.Value:
            address = self.b.gep(base, [self.b.mul(position, i64(size))], source_etype=I8)
            return self.load_c(address, etype, _alignment(size))

        if etype.in_register:
            return self.pb.value_or_zero(inside, element, "index")
        mem = self.pb.fresh_memory(etype.size)  # zero where the index is outside
        with self.b.if_then(inside):
            address = self.b.gep(base, [self.b.mul(position, i64(size))], source_etype=I8)
            self.pb.memcpy(mem, address, size, _alignment(size))
        return mem

    def load_c(self, address: ir.Value, vtype: t.Type, align: int) -> ir.Value:
        """A value laid out as C does (an array's element, a struct's member) in
        the program's memory, at an address a multiple of `align`: an integer,
        bool or pointer loaded at its width, anything else copied out whole."""
        width = t.c_width(vtype)
        if not vtype.in_register:
            mem = self.pb.fresh_memory(vtype.size)
            self.pb.memcpy(mem, address, width, align)
            return mem
        raw = self.load_int(address, width, align)
        if isinstance(vtype, t.Int):
            return self.extend(raw, vtype)
        return self.b.zext(raw, I64) if width < 8 else raw

    def load_int(self, address: ir.Value, width: int, align: int) -> ir.Value:
        """An integer of `width` bytes; where its address may not be a multiple
        of its width (a packed struct's member), its bytes are copied to an
        aligned slot first: the verifier refuses misaligned stack reads."""
        if align < width:
            slot = self.pb.fresh_memory(8)
            self.pb.memcpy(slot, address, width, align)
            address = slot
        return self.b.load(address, typ=ir.IntType(width * 8), align=min(width, 8))

    def load_member(self, base: ir.Value, member: t.Member) -> ir.Value:
        """A member of a struct held by value, from the program's own memory: an
        integer loaded at its width (a bitfield shifted out of its bytes), other
        values copied out whole."""
        align = _alignment(member.offset)
        if not member.bit_size:
            return self.load_c(self.pb.offset(base, member.offset), member.type, align)
        read = next(w for w in (1, 2, 4, 8) if w >= member.width)
        raw = self.load_int(self.pb.offset(base, member.offset), read, align)
        signed = isinstance(member.type, t.Int) and member.type.signed
        top = self.b.shl(self.b.zext(raw, I64), i64(64 - member.bit_shift - member.bit_size))
        return (self.b.ashr if signed else self.b.lshr)(top, i64(64 - member.bit_size))

    def extend(self, value: ir.Value, itype: t.Int) -> ir.Value:
        """A narrow integer loaded from memory, widened to i64 by its signedness."""
        if value.type == I64:
            return value
        if value.type != ir.IntType(itype.bits):
            value = self.b.trunc(value, ir.IntType(itype.bits))
        return self.b.sext(value, I64) if itype.signed else self.b.zext(value, I64)

    def tracepoint_field(self, e: n.Expr) -> TracepointField | None:
        """The format-file field that `args->name` reads in a tracepoint, else None."""
        attach = self.instance.attach
        if not (isinstance(e, n.Field) and isinstance(e.base, n.Identifier)
                and e.base.name == "args" and KINDS[attach.kind].args == Args.FIELDS):
            return None
        fmt = self.ctx.machine.tracepoint_format(attach.category, attach.event)
        return fmt.field(e.name) if fmt is not None else None

    def expr_Sizeof(self, e: n.Sizeof) -> ir.Value:
        return i64(self.checked.sizes[e])

    def expr_Offsetof(self, e: n.Offsetof) -> ir.Value:
        return i64(self.checked.offsets[e])

    def expr_Unary(self, e: n.Unary) -> ir.Value:
        if e.op == "&":
            assert isinstance(e.operand, n.Variable)
            var = self.lookup(e.operand.name)
            assert var is not None
            if isinstance(var.type, t.Struct):  # it holds the struct's address
                return self.pb.load64(var.ptr)
            return self.b.ptrtoint(var.ptr, I64)
        if e.op == "*":
            pointer = self.type_of(e.operand)
            value = self.expr(e.operand)
            access = self.checked.field_accesses.get(e)
            if access is None:  # a struct: its address
                return value
            if isinstance(pointer, t.Pointer):
                space = pointer.space
            else:  # an integer as an address: the probe's own memory
                space = "user" if KINDS[self.instance.attach.kind].user_space else "kernel"
            return self.read_memory(value, access, self.type_of(e), space)
        value = self.expr(e.operand)
        if e.op == "-":
            return self.b.neg(value)
        if e.op == "~":
            return self.b.not_(value)
        if e.op == "!":
            return self.b.zext(self.b.icmp_unsigned("==", value, i64(0)), I64)
        return value

    def expr_IncDec(self, e: n.IncDec) -> ir.Value:
        step = self.checked.pointer_scales.get(e, 1)  # a pointer moves by an element
        delta = i64(step if e.op == "++" else -step)
        target = e.operand
        if isinstance(target, n.Variable):
            var = self.lookup(target.name)
            assert var is not None
            old = self.pb.load64(var.ptr)
            new = self.fit(self.b.add(old, delta), var.type)
            self.pb.store64(new, var.ptr)
            return new if e.prefix else old
        assert isinstance(target, n.MapAccess)
        old = self.map_read(target)
        new = self.b.add(old, delta)
        self.map_store(target, new, self.ctx.maps[target.name].value)
        return new if e.prefix else old

    def expr_Binary(self, e: n.Binary) -> ir.Value:
        op = e.op
        if op in ("&&", "||"):
            return self.logical(e)
        ltype, rtype = self.type_of(e.left), self.type_of(e.right)
        if isinstance(ltype, t.Str | t.Tuple | t.Record | t.Array | t.Buf):
            equal = self.string_equal(e.left, e.right) if isinstance(ltype, t.Str) else \
                self.values_equal(self.expr(e.left), ltype, self.expr(e.right), rtype)
            result = equal if op == "==" else self.b.not_(equal)
            return self.b.zext(result, I64)
        left, right = self.expr(e.left), self.expr(e.right)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            unsigned = _unsigned(ltype) or _unsigned(rtype)
            cmp = (self.b.icmp_unsigned(op, left, right) if unsigned
                   else self.b.icmp_signed(op, left, right))
            return self.b.zext(cmp, I64)
        scale = self.checked.pointer_scales.get(e)
        if scale is not None:  # pointer arithmetic, in elements
            return self.pointer_arith(op, left, right, ltype, rtype, scale)
        return self.arith(op, left, right, ltype, rtype, self.checked.printf_ids.get(e))

    def pointer_arith(self, op: str, left: ir.Value, right: ir.Value, ltype: t.Type,
                      rtype: t.Type, scale: int) -> ir.Value:
        """`p ± i` (i scaled by the element size), or `p - q` (the byte difference
        divided by the element size)."""
        if isinstance(ltype, t.Pointer) and isinstance(rtype, t.Pointer):
            return self.b.sdiv(self.b.sub(left, right), i64(scale))
        if isinstance(ltype, t.Pointer):
            moved = self.b.mul(right, i64(scale))
            return self.b.add(left, moved) if op == "+" else self.b.sub(left, moved)
        return self.b.add(self.b.mul(left, i64(scale)), right)

    def arith(self, op: str, left: ir.Value, right: ir.Value, ltype: t.Type,
              rtype: t.Type, warning: int | None = None) -> ir.Value:
        """`left op right`; a division by zero gives 1, and sends the warning
        event of site `warning` if there is one."""
        b = self.b
        signed = not (_unsigned(ltype) or _unsigned(rtype))
        simple = {"+": b.add, "-": b.sub, "*": b.mul, "&": b.and_, "|": b.or_, "^": b.xor}
        if op in simple:
            result: ir.Value = simple[op](left, right)
            return result
        if op in ("<<", ">>"):  # as in C, the left operand's type alone decides
            amount = b.and_(right, i64(63))
            if op == "<<":
                return b.shl(left, amount)
            return b.lshr(left, amount) if _unsigned(ltype) else b.ashr(left, amount)
        assert op in ("/", "%")
        # Division and modulo by zero give 1 (as bpftrace); BPF's v3 ISA has only
        # unsigned division, so signed division goes through magnitudes.
        zero = b.icmp_unsigned("==", right, i64(0))
        if warning is not None:
            with b.if_then(zero, likely=False):
                self.emit_event(EventKind.PRINTF, warning, EVENT_HEADER_SIZE, [])
        # Opaque: where LLVM knows the divisor is a power of two (or 0), it divides
        # by shifting with a count-trailing-zeros lookup table in .rodata, data
        # that BPF programs here do not carry.
        divisor = b.select(zero, i64(1), right)
        if not isinstance(right, ir.Constant):
            divisor = self.pb.opaque(divisor)
        if signed:
            lneg = b.icmp_signed("<", left, i64(0))
            rneg = b.icmp_signed("<", divisor, i64(0))
            lmag = b.select(lneg, b.neg(left), left)
            rmag = b.select(rneg, b.neg(divisor), divisor)
            if op == "/":
                q = b.udiv(lmag, rmag)
                result = b.select(b.xor(lneg, rneg), b.neg(q), q)
            else:
                r = b.urem(lmag, rmag)
                result = b.select(lneg, b.neg(r), r)
        else:
            result = b.udiv(left, divisor) if op == "/" else b.urem(left, divisor)
        return b.select(zero, i64(1), result)

    def logical(self, e: n.Binary) -> ir.Value:
        left = self.truth(e.left)
        start = self.b.block
        rhs = self.pb.block("logic.rhs")
        merge = self.pb.block("logic.end")
        if e.op == "&&":
            self.b.cbranch(left, rhs, merge)
        else:
            self.b.cbranch(left, merge, rhs)
        self.b.position_at_end(rhs)
        right = self.truth(e.right)
        rhs_end = self.b.block
        self.b.branch(merge)
        self.b.position_at_end(merge)
        phi = self.b.phi(ir.IntType(1))
        phi.add_incoming(ir.Constant(ir.IntType(1), int(e.op == "||")), start)
        phi.add_incoming(right, rhs_end)
        return self.b.zext(phi, I64)

    def string_equal(self, left: n.Expr, right: n.Expr) -> ir.Value:
        """An i1: whether two strings are equal up to their NUL."""
        if isinstance(left, n.String):
            left, right = right, left
        ltype, rtype = self.type_of(left), self.type_of(right)
        assert isinstance(ltype, t.Str) and isinstance(rtype, t.Str)
        lptr = self.expr(left)
        if isinstance(right, n.String):
            # Compare 8 bytes at a time against the literal, its NUL included.
            data = right.value.encode("latin-1") + b"\0"
            if len(data) > ltype.capacity:
                return ir.Constant(ir.IntType(1), 0)
            return self.pb.words_equal(lptr, data, len(data))
        rptr = self.expr(right)
        return self.pb.strings_equal(lptr, rptr, min(ltype.capacity, rtype.capacity))

    def values_equal(self, left: ir.Value, ltype: t.Type, right: ir.Value,
                     rtype: t.Type) -> ir.Value:
        """An i1: whether two values of the same shape are equal, element by
        element (tuples, records), byte by byte (arrays; buffers up to their
        length), as strings (strings)."""
        if isinstance(ltype, t.Str) and isinstance(rtype, t.Str):
            return self.pb.strings_equal(left, right, min(ltype.capacity, rtype.capacity))
        if isinstance(ltype, t.Array):
            return self.pb.words_equal(left, right, ltype.element_size * ltype.count)
        if isinstance(ltype, t.Buf) and isinstance(rtype, t.Buf):  # the same length and bytes
            length = self.pb.load64(left)
            same = self.b.icmp_unsigned("==", length, self.pb.load64(right))
            return self.b.and_(same, self.pb.prefixes_equal(
                self.pb.offset(left, 8), self.pb.offset(right, 8), length,
                min(ltype.capacity, rtype.capacity)))
        if isinstance(ltype, t.Tuple | t.Record) and isinstance(rtype, t.Tuple | t.Record):
            result: ir.Value = ir.Constant(ir.IntType(1), 1)
            for l_el, l_off, r_el, r_off in _paired(ltype, rtype):
                same = self.values_equal(self.load_field(left, l_off, l_el), l_el,
                                         self.load_field(right, r_off, r_el), r_el)
                result = self.b.and_(result, same)
            return result
        return self.b.icmp_unsigned("==", left, right)

    def expr_Conditional(self, e: n.Conditional) -> ir.Value:
        cond_value = self.expr(e.cond)
        cond = self.value_truth(cond_value, self.type_of(e.cond))
        then: Branch = ((lambda: (cond_value, self.type_of(e.cond))) if e.then is None else
                        self.branch_of(e.then))
        return self.choose(cond, then, self.branch_of(e.orelse), self.type_of(e))

    def expr_IfExpr(self, e: n.IfExpr) -> ir.Value:
        return self.if_value(e.if_, self.type_of(e))

    def if_value(self, stmt: n.If, rtype: t.Type) -> ir.Value:
        cond = self.truth(stmt.cond)
        orelse = stmt.orelse
        if orelse is None:  # a statement's: its value is none
            return self.choose(cond, lambda: (self.block_value(stmt.then), t.VOID),
                               lambda: (i64(0), t.VOID), t.VOID)

        def other() -> tuple[ir.Value, t.Type]:
            if isinstance(orelse, n.If):
                return self.if_value(orelse, rtype), rtype
            return self.block_value(orelse), self.block_type(orelse)

        return self.choose(cond, lambda: (self.block_value(stmt.then),
                                          self.block_type(stmt.then)), other, rtype)

    def expr_BlockExpr(self, e: n.BlockExpr) -> ir.Value:
        return self.block_value(e.block)

    def block_type(self, block: n.Block) -> t.Type:
        return self.type_of(block.value) if block.value is not None else t.VOID

    def block_value(self, block: n.Block) -> ir.Value:
        """Run a block's statements in a scope of its own; its value is its last expression."""
        with self.scope():
            value = block.value
            for stmt in block.stmts[:-1] if value is not None else block.stmts:
                if self.b.block.is_terminated:
                    break
                self.stmt(stmt)
            if self.b.block.is_terminated:  # after a `return`: what follows is unreachable
                self.b.position_at_end(self.pb.block("unreachable"))
            if isinstance(value, n.If):
                return self.if_value(value, self.type_of(value))
            if isinstance(value, n.Block):
                return self.block_value(value)
            return self.expr(value) if value is not None else i64(0)

    def branch_of(self, node: n.Expr) -> Branch:
        return lambda: (self.expr(node), self.type_of(node))

    def choose(self, cond: ir.Value, then: Branch, orelse: Branch, rtype: t.Type) -> ir.Value:
        """`cond ? then() : orelse()`, each branch evaluated only when taken."""
        then_block = self.pb.block("cond.then")
        else_block = self.pb.block("cond.else")
        merge = self.pb.block("cond.end")
        result_mem = None if rtype.in_register or isinstance(rtype, t.Void) else \
            self.pb.fresh_memory(rtype.size)
        self.b.cbranch(cond, then_block, else_block)
        incoming: list[tuple[ir.Value, ir.Block]] = []
        for block, produce in ((then_block, then), (else_block, orelse)):
            self.b.position_at_end(block)
            value, vtype = produce()
            if result_mem is not None:
                self.store(result_mem, 0, rtype, value, vtype)
            elif rtype.in_register:
                incoming.append((value, self.b.block))
            self.b.branch(merge)
        self.b.position_at_end(merge)
        if result_mem is not None:
            return result_mem
        if not incoming:
            return i64(0)
        phi = self.b.phi(I64)
        for value, block in incoming:
            phi.add_incoming(value, block)
        return phi


def _paired(a: t.Tuple | t.Record, b: t.Tuple | t.Record) -> list[tuple[t.Type, int, t.Type, int]]:
    """The elements of a and b that correspond, each as (type, offset) in a then
    in b: by position in tuples, by name in records (whose fields may come in
    another order)."""
    order = [b.names.index(name) for name in a.names] if isinstance(a, t.Record) and \
        isinstance(b, t.Record) else list(range(len(b.elements)))
    return [(a.elements[i], a.offsets[i], b.elements[j], b.offsets[j])
            for i, j in enumerate(order)]


def _alignment(offset: int) -> int:
    """What an offset from 8-aligned memory keeps its address a multiple of."""
    return min(offset & -offset, 8) if offset else 8


def _unsigned(tp: t.Type) -> bool:
    return (isinstance(tp, t.Int) and not tp.signed and tp.bits == 64) or \
        isinstance(tp, t.Pointer)


def _variable_types(instance: ProbeInstance) -> dict[str, list[t.Type]]:
    """Every type each variable name takes in the probe (names may be reused in
    separate blocks with types that do not mix)."""
    out: dict[str, list[t.Type]] = {}
    for node in walk(instance.probe):
        if isinstance(node, n.Variable | n.Let) and node in instance.types:
            out.setdefault(node.name, []).append(instance.types[node])
    return out
