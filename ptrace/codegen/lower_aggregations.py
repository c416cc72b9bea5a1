"""Aggregation lowering: `@m[k] = count()`, `sum(v)`, `hist(v)`, … update a
per-CPU map's entry, one method per aggregation of the builtin table
(`aggregate_<name>`); reading such a map combines the CPUs' entries.

`AggregationLowering` is a part of the lowering visitor (`lower.Lowerer`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from ptrace.ast import nodes as n
from ptrace.codegen.bpf_builder import I32, PTR, ProgramBuilder, i64
from ptrace.codegen.helpers import BPF_ANY, Helper
from ptrace.program import GLOBAL_NCPUS
from ptrace.types import types as t

if TYPE_CHECKING:
    from ptrace.passes.context import CompileContext, TypeResults


class AggregationLowering:
    """The lowering's methods for aggregations."""

    if TYPE_CHECKING:  # the rest of the lowering, which these methods use
        ctx: CompileContext
        checked: TypeResults
        pb: ProgramBuilder
        b: ir.IRBuilder

        def expr(self, e: n.Expr) -> ir.Value: ...
        def map_key(self, access: n.MapAccess, extra: int = 0) -> ir.Value: ...
        def global_value(self, slot: int) -> ir.Value: ...
        def update(self, map_index: int, key: ir.Value, value: ir.Value, flags: int) -> None: ...
        def sw_tai_ns(self) -> ir.Value: ...
        def arith(self, op: str, left: ir.Value, right: ir.Value, ltype: t.Type,
                  rtype: t.Type, warning: int | None = None) -> ir.Value: ...

    def aggregate(self, target: n.MapAccess, call: n.Call) -> None:
        """`@m[k] = f(v)`: the aggregation's method updates the entry with v (1 for
        count()); the call is there for what else it gives (tseries()'s clock)."""
        value = self.expr(call.args[0]) if call.args else i64(1)
        method: Callable[[n.MapAccess, ir.Value, n.Call], None] = getattr(
            self, "aggregate_" + call.name)
        method(target, value, call)

    def aggregate_count(self, target: n.MapAccess, value: ir.Value, call: n.Call) -> None:
        """count() and sum(v): the entry's total (on this CPU)."""
        self.add_to(self.ctx.maps[target.name].index, self.map_key(target), value)

    aggregate_sum = aggregate_count

    def aggregate_hist(self, target: n.MapAccess, value: ir.Value, call: n.Call) -> None:
        """hist() and lhist(): one more in the value's bucket, the key's last 8 bytes;
        compiled with hist_sums, the value is also added to the bucket's sum."""
        info = self.ctx.maps[target.name]
        agg = info.value
        assert isinstance(agg, t.Hist | t.Lhist)
        key = self.map_key(target, extra=8)
        bucket = self.hist_bucket(value, agg.bits) if isinstance(agg, t.Hist) else \
            self.lhist_bucket(value, agg)
        self.pb.store64(bucket, key, info.key.size if info.key is not None else 8)
        if not self.ctx.options.hist_sums:
            self.add_to(info.index, key, i64(1))
            return

        def add(found: ir.Value) -> None:
            self.pb.store64(self.b.add(self.pb.load64(found), i64(1)), found)
            self.pb.store64(self.b.add(self.pb.load64(found, 8), value), found, 8)

        self.update_entry(target, add, i64(1), value, key)

    aggregate_lhist = aggregate_hist

    def aggregate_min(self, target: n.MapAccess, value: ir.Value, call: n.Call) -> None:
        """min() and max(): the best value so far, then 1 once there is one."""
        agg = self.ctx.maps[target.name].value
        assert isinstance(agg, t.Min | t.Max)
        op, signed = "<" if isinstance(agg, t.Min) else ">", agg.signed

        def keep_better(found: ir.Value) -> None:
            old = self.pb.load64(found)
            has = self.pb.load64(found, 8)
            better = (self.b.icmp_signed(op, value, old) if signed
                      else self.b.icmp_unsigned(op, value, old))
            empty = self.b.icmp_unsigned("==", has, i64(0))
            with self.b.if_then(self.b.or_(better, empty)):
                self.pb.store64(value, found)
                self.pb.store64(i64(1), found, 8)

        self.update_entry(target, keep_better, value, i64(1), self.map_key(target))

    aggregate_max = aggregate_min

    def aggregate_avg(self, target: n.MapAccess, value: ir.Value, call: n.Call) -> None:
        """avg() and stats(): how many values, then their total."""
        def add(found: ir.Value) -> None:
            self.pb.store64(self.b.add(self.pb.load64(found), i64(1)), found)
            self.pb.store64(self.b.add(self.pb.load64(found, 8), value), found, 8)

        self.update_entry(target, add, i64(1), value, self.map_key(target))

    aggregate_stats = aggregate_avg

    def aggregate_tseries(self, target: n.MapAccess, value: ir.Value, call: n.Call) -> None:
        """tseries(): the slot of the current interval (its key is the map's key and
        epoch % intervals) takes the value, kept by the aggregation, and the epoch.
        A slot last written in an earlier epoch starts again from nothing."""
        info = self.ctx.maps[target.name]
        agg = info.value
        assert isinstance(agg, t.TSeries)
        b, pb = self.b, self.pb
        clock = self.checked.tseries_clocks.get(call)
        now = self.expr(clock) if clock is not None else self.sw_tai_ns()
        epoch = b.udiv(now, i64(agg.interval))
        key = self.map_key(target, extra=8)
        pb.store64(b.urem(epoch, i64(agg.intervals)), key,
                   info.key.size if info.key is not None else 8)
        found = pb.helper(Helper.MAP_LOOKUP_ELEM, PTR, [pb.map_ptr(info.index), key])
        then, orelse, merge = pb.if_nonnull(found, "tseries")
        b.position_at_end(then)
        if agg.agg:  # a new epoch: the slot's value and word start from nothing
            with b.if_then(b.icmp_unsigned("!=", pb.load64(found, 16), epoch)):
                pb.store64(i64(0), found)
                pb.store64(i64(0), found, 8)
        self._tseries_update(agg, found, value, now)
        pb.store64(epoch, found, 16)
        b.branch(merge)
        b.position_at_end(orelse)
        fresh = pb.fresh_memory(24)
        self._tseries_update(agg, fresh, value, now)
        pb.store64(epoch, fresh, 16)
        self.update(info.index, key, fresh, BPF_ANY)  # see add_to
        b.branch(merge)
        b.position_at_end(merge)

    def _tseries_update(self, agg: t.TSeries, slot: ir.Value, value: ir.Value,
                        now: ir.Value) -> None:
        """The slot's value and word after one more value: the value and its time;
        the total and how many; the best and 1 (there is one)."""
        b, pb = self.b, self.pb
        if agg.agg in ("avg", "sum"):
            pb.store64(b.add(pb.load64(slot), value), slot)
            if agg.agg == "avg":
                pb.store64(b.add(pb.load64(slot, 8), i64(1)), slot, 8)
        elif agg.agg in ("min", "max"):
            op = "<" if agg.agg == "min" else ">"
            old = pb.load64(slot)
            better = b.icmp_signed(op, value, old) if agg.signed else \
                b.icmp_unsigned(op, value, old)
            with b.if_then(b.or_(better, b.icmp_unsigned("==", pb.load64(slot, 8), i64(0)))):
                pb.store64(value, slot)
                pb.store64(i64(1), slot, 8)
        else:
            pb.store64(value, slot)
            pb.store64(now, slot, 8)

    def update_entry(self, target: n.MapAccess, update: Callable[[ir.Value], None],
                     first: ir.Value, second: ir.Value, key: ir.Value) -> None:
        """A two-word entry at key: updated in place by `update`, or created as
        (first, second)."""
        info = self.ctx.maps[target.name]
        assert isinstance(info.value, t.Aggregation)
        found = self.pb.helper(Helper.MAP_LOOKUP_ELEM, PTR, [self.pb.map_ptr(info.index), key])
        then, orelse, merge = self.pb.if_nonnull(found, info.value.function)
        self.b.position_at_end(then)
        update(found)
        self.b.branch(merge)
        self.b.position_at_end(orelse)
        fresh = self.pb.fresh_memory(16)
        self.pb.store64(first, fresh)
        self.pb.store64(second, fresh, 8)
        self.update(info.index, key, fresh, BPF_ANY)  # see add_to
        self.b.branch(merge)
        self.b.position_at_end(merge)

    def add_to(self, map_index: int, key: ir.Value, amount: ir.Value) -> None:
        """*map[key] += amount in a per-CPU map, creating the entry if needed.

        The entry is created with BPF_ANY: when another CPU created it between
        the lookup and the update, the update writes this CPU's slot only (a
        per-CPU map's update from a program does), which was empty, so no count
        is lost; BPF_NOEXIST would fail there and drop this one."""
        found = self.pb.helper(Helper.MAP_LOOKUP_ELEM, PTR, [self.pb.map_ptr(map_index), key])
        then, orelse, merge = self.pb.if_nonnull(found, "add")
        self.b.position_at_end(then)
        self.pb.store64(self.b.add(self.pb.load64(found), amount), found)
        self.b.branch(merge)
        self.b.position_at_end(orelse)
        fresh = self.pb.fresh_memory(8)
        self.pb.store64(amount, fresh)
        self.update(map_index, key, fresh, BPF_ANY)
        self.b.branch(merge)
        self.b.position_at_end(merge)

    def hist_bucket(self, value: ir.Value, bits: int) -> ir.Value:
        """The bucket of `value` in hist(value, bits); see ptrace.types.hist_buckets."""
        b = self.b
        log = i64(0)
        v = value
        for shift in (32, 16, 8, 4, 2, 1):
            big = b.icmp_unsigned(">=", v, i64(1 << shift))
            v = b.select(big, b.lshr(v, i64(shift)), v)
            log = b.select(big, b.add(log, i64(shift)), log)
        # value >= 2**(bits+1): power 2**log split into 2**bits steps
        step_shift = b.sub(log, i64(bits))
        within = b.and_(b.lshr(value, step_shift), i64((1 << bits) - 1))
        coarse = b.add(b.add(i64(1 + (2 << bits) - ((bits + 1) << bits)),
                             b.shl(log, i64(bits))), within)
        exact = b.add(value, i64(1))
        small = b.icmp_signed("<", value, i64(2 << bits))
        bucket = b.select(small, exact, coarse)
        return b.select(b.icmp_signed("<", value, i64(0)), i64(0), bucket)

    def lhist_bucket(self, value: ir.Value, agg: t.Lhist) -> ir.Value:
        """0 below min, 1 + (value - min) / step inside, the last bucket at or above max."""
        b = self.b
        buckets = -(-(agg.max - agg.min) // agg.step)
        inside = b.add(b.udiv(b.sub(value, i64(agg.min)), i64(agg.step)), i64(1))
        bucket = b.select(b.icmp_signed(">=", value, i64(agg.max)), i64(buckets + 1), inside)
        return b.select(b.icmp_signed("<", value, i64(agg.min)), i64(0), bucket)

    def aggregation_read(self, map_index: int, agg: t.Aggregation, key: ir.Value) -> ir.Value:
        """count/sum/min/max/avg of a per-CPU map, combined over the possible CPUs."""
        b = self.b
        ncpus = self.global_value(GLOBAL_NCPUS)
        cpu_key = self.pb.fresh_memory(8, zeroed=False)
        # accumulators: total, count (avg) or best, found (min/max)
        first, second = self.pb.fresh_memory(8), self.pb.fresh_memory(8)
        self.pb.store64(i64(0), first)
        self.pb.store64(i64(0), second)

        def combine(cpu: ir.Value, values: list[ir.Value]) -> list[ir.Value]:
            b.store(b.trunc(cpu, I32), cpu_key)
            slot = self.pb.helper(Helper.MAP_LOOKUP_PERCPU_ELEM, PTR,
                                  [self.pb.map_ptr(map_index), key, b.load(cpu_key, typ=I32)])
            with b.if_then(b.icmp_unsigned("!=", slot, ir.Constant(PTR, None))):
                value = self.pb.load64(slot)
                if isinstance(agg, t.Count | t.Sum):
                    self.pb.store64(b.add(self.pb.load64(first), value), first)
                elif isinstance(agg, t.Avg):
                    self.pb.store64(b.add(self.pb.load64(first), self.pb.load64(slot, 8)), first)
                    self.pb.store64(b.add(self.pb.load64(second), value), second)
                else:
                    present = b.icmp_unsigned("!=", self.pb.load64(slot, 8), i64(0))
                    op = "<" if isinstance(agg, t.Min) else ">"
                    signed = getattr(agg, "signed", True)
                    better = b.icmp_signed(op, value, self.pb.load64(first)) if signed else \
                        b.icmp_unsigned(op, value, self.pb.load64(first))
                    unset = b.icmp_unsigned("==", self.pb.load64(second), i64(0))
                    with b.if_then(b.and_(present, b.or_(better, unset))):
                        self.pb.store64(value, first)
                        self.pb.store64(i64(1), second)
            return values

        self.pb.counted_loop("percpu", self.ctx.machine.possible_cpus(), combine, limit=ncpus)
        if isinstance(agg, t.Avg):
            return self.arith("/", self.pb.load64(first), self.pb.load64(second), t.INT64,
                              t.INT64)
        return self.pb.load64(first)
