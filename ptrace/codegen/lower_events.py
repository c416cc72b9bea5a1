"""Event lowering: ring-buffer records (printf, print, exit, …, warnings of
failed helpers) and the counters of what could not be sent.

`EventLowering` is a part of the lowering visitor (`lower.Lowerer`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from ptrace.codegen.bpf_builder import I32, I64, PTR, ProgramBuilder, i64
from ptrace.codegen.helpers import Helper, helper_name
from ptrace.diagnostics import Span, site_location
from ptrace.passes.allocate_resources import STRERROR, Resources
from ptrace.passes.context import CompileContext
from ptrace.program import COUNTER_LOST_EVENTS, EVENT_HEADER_SIZE, EventKind, event_header
from ptrace.types import types as t


class EventLowering:
    """The lowering's methods that send events and count losses."""

    if TYPE_CHECKING:  # the rest of the lowering, which these methods use
        ctx: CompileContext
        res: Resources
        pb: ProgramBuilder
        b: ir.IRBuilder
        span: Span | None

        def store(self, dst: ir.Value, offset: int, dtype: t.Type, value: ir.Value,
                  vtype: t.Type, field: bool = False) -> None: ...

    def emit_event(self, kind: EventKind, site: int, size: int,
                   fields: list[tuple[int, t.Type, ir.Value, t.Type]]) -> None:
        """Reserve a ring-buffer record, fill it, submit it; count it lost on failure."""
        def fill(record: ir.Value) -> None:
            for offset, ftype, value, vtype in fields:
                self.store(record, offset, ftype, value, vtype)

        self.emit_record(kind, site, size, fill)

    def emit_record(self, kind: EventKind, site: int, size: int,
                    fill: Callable[[ir.Value], None]) -> None:
        """Reserve a record, write its header, let `fill` write the rest, submit."""
        record = self.pb.helper(Helper.RINGBUF_RESERVE, PTR,
                                [self.pb.map_ptr(self.res.ringbuf_map), i64(size), i64(0)])
        then, orelse, merge = self.pb.if_nonnull(record, "event")
        self.b.position_at_end(then)
        self.pb.store64(i64(event_header(kind, site)), record)
        fill(record)
        self.pb.helper(Helper.RINGBUF_SUBMIT, I64, [record, i64(0)])
        self.b.branch(merge)
        self.b.position_at_end(orelse)
        self.bump_counter(COUNTER_LOST_EVENTS)
        self.b.branch(merge)
        self.b.position_at_end(merge)

    def check_helper(self, ret: ir.Value, helper: Helper, level: int,
                     expected: int | None = None) -> None:
        """With -k (level 1) or -kk (level 2): a warning event, at the expression
        being lowered, when the helper returns an error (other than `expected`)."""
        if self.ctx.options.helper_errors < level or self.span is None:
            return
        location, _ = site_location(self.span)
        site = self.res.helper_error_sites[location, helper_name(helper)]
        failed = self.b.icmp_signed("<", ret, i64(0))
        if expected is not None:
            failed = self.b.and_(failed, self.b.icmp_signed("!=", ret, i64(-expected)))
        with self.b.if_then(failed, likely=False):
            self.emit_event(EventKind.PRINTF, site, EVENT_HEADER_SIZE + STRERROR.size,
                            [(EVENT_HEADER_SIZE, STRERROR, ret, t.INT64)])

    def check_lookup(self, found: ir.Value) -> None:
        """With -k: a warning event, at the map read being lowered, when the map
        has no element at its key."""
        if self.ctx.options.helper_errors < 2 or self.span is None:
            return
        location, _ = site_location(self.span)
        site = self.res.helper_error_sites[location, helper_name(Helper.MAP_LOOKUP_ELEM)]
        missing = self.b.icmp_unsigned("==", found, ir.Constant(PTR, None))
        with self.b.if_then(missing, likely=False):
            self.emit_event(EventKind.PRINTF, site, EVENT_HEADER_SIZE, [])

    def bump_counter(self, slot: int) -> None:
        """Add one to a counter of the counters map (lost events, refusals of full maps)."""
        key = self.pb.fresh_memory(8, zeroed=False)
        self.b.store(ir.Constant(I32, slot), key)
        found = self.pb.helper(Helper.MAP_LOOKUP_ELEM, PTR,
                               [self.pb.map_ptr(self.res.counters_map), key])
        isnull = self.b.icmp_unsigned("==", found, ir.Constant(PTR, None))
        with self.b.if_then(self.b.not_(isnull)):
            self.pb.store64(self.b.add(self.pb.load64(found), i64(1)), found)
