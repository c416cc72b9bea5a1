"""Everything the runtime needs, decided before codegen.

Input: the checked context. Output: `Resources`: the index of every map (user
maps in printing order, then the internal ones), each map's BPF shape, every
printf site (the checker's, then -k's warnings of failed helpers) with its
record layout, and every print call site. Codegen and the runtime both read
these layouts, so an event is decoded exactly as it was written. Codegen only
reads these decisions, except the scratch map's size (see `set_scratch_size`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from ptrace.ast import nodes as n
from ptrace.ast.visitor import children, walk
from ptrace.bpf_abi import MapType
from ptrace.codegen.helpers import Helper, helper_name, read_helper, read_str_helper
from ptrace.diagnostics import Reporter, site_location
from ptrace.options import Options
from ptrace.passes.context import (
    CompileContext,
    MapDecl,
    MapInfo,
    PrintfSite,
    ProbeInstance,
    TypeResults,
)
from ptrace.printf_format import parse_format
from ptrace.probe_kinds import KINDS, Runs
from ptrace.program import (
    COUNTERS_FIXED,
    EVENT_HEADER_SIZE,
    GLOBALS_COUNT,
    HELPER_ERROR,
    Attach,
    EventArg,
    MapSpec,
    PrintSite,
)
from ptrace.types import types as t

STRERROR = t.Formatted(t.FormatKind.STRERROR)  # a -k warning's argument: the helper's error


@dataclass(frozen=True, slots=True)
class PrintfLayout:
    """Where a printf's arguments are in its event, and the event's size."""

    args: tuple[EventArg, ...]
    size: int


@dataclass
class Resources:
    """The maps, event sites and scratch space the program uses."""

    maps: list[MapSpec] = field(default_factory=list)
    user_maps: list[int] = field(default_factory=list)
    ringbuf_map: int = -1
    counters_map: int = -1
    globals_map: int = -1
    scratch_map: int = -1
    # The checker's printf sites, then -k's; a site's number is its index.
    printf_sites: list[PrintfSite] = field(default_factory=list)
    printf_layouts: list[PrintfLayout] = field(default_factory=list)
    # -k: the warning site of each (location, helper) whose failure is checked
    helper_error_sites: dict[tuple[str, str], int] = field(default_factory=dict)
    print_sites: list[PrintSite] = field(default_factory=list)
    # Instances that stand for many probes: instance index → the map of their
    # probe names, by syscall number for a syscall-dispatching program (an
    # empty name: not traced), by cookie for a uprobe_multi link's functions
    # (made only where the program uses `probe` or `func`).
    name_tables: dict[int, int] = field(default_factory=dict)
    # Stack-trace maps by frame limit (one per limit, so equal prefixes share ids).
    stack_maps: dict[int, int] = field(default_factory=dict)
    packet_map: int = -1  # skboutput()'s perf event array, if the script calls it
    # watchpoint:FUNC+argN: the addresses its uprobes have sent, by (program, address)
    watched_map: int = -1

    def full_counter(self, map_index: int) -> int:
        """The counters slot that counts refused updates of user map `map_index`."""
        return COUNTERS_FIXED + self.user_maps.index(map_index)


def allocate_resources(ctx: CompileContext) -> Resources:
    res = Resources()
    for name in sorted(ctx.maps):
        info = ctx.maps[name]
        info.index = len(res.maps)
        res.user_maps.append(info.index)
        decl = ctx.map_decls.get(name)
        res.maps.append(_user_map(info, ctx.options.max_map_keys, decl, ctx.reporter,
                                  ctx.options.hist_sums))
    for name, decl in ctx.map_decls.items():
        if name not in ctx.maps:
            ctx.reporter.warning(f"map {name} is declared but never used", decl.span)
    res.ringbuf_map = _add(res, MapSpec(".events", MapType.RINGBUF, 0, 0,
                                        _ringbuf_pages(ctx) * 4096))
    res.counters_map = _add(res, MapSpec(".counters", MapType.PERCPU_ARRAY, 4, 8,
                                         COUNTERS_FIXED + len(ctx.maps)))
    res.globals_map = _add(res, MapSpec(".globals", MapType.ARRAY, 4, 8, GLOBALS_COUNT))
    # The scratch map's value size is known after lowering; see set_scratch_size.
    # An array with an entry for each CPU, indexed by the CPU a program runs on
    # (a per-CPU array's values are limited to 32 KiB; strings of max_strlen
    # bytes, several at once, need more).
    res.scratch_map = _add(res, MapSpec(".scratch", MapType.ARRAY, 4, 8, 1,
                                        per_cpu_entries=True))
    limits = sorted({tp.limit for instance in ctx.instances for tp in instance.types.values()
                     if isinstance(tp, t.Stack)})
    for limit in limits:
        res.stack_maps[limit] = _add(res, MapSpec(f".stacks{limit}", MapType.STACK_TRACE, 4,
                                                  8 * limit, ctx.options.max_map_keys))
    if ctx.checked.skb_sites:  # bpf_skb_output writes to a perf buffer, one per CPU
        res.packet_map = _add(res, MapSpec(".packets", MapType.PERF_EVENT_ARRAY, 4, 4, 1,
                                           per_cpu_entries=True))
    if any(instance.attach.arms_watchpoint for instance in ctx.instances):
        res.watched_map = _add(res, MapSpec(".watched", MapType.HASH, 16, 8, WATCHED_ADDRESSES))
    for instance in ctx.instances:
        if instance.attach.syscalls or (instance.attach.functions and any(
                isinstance(node, n.Identifier) and node.name in ("probe", "func")
                for node in walk(instance.probe))):
            res.name_tables[instance.index] = _add(res, _name_table(instance.attach))
    res.printf_sites.extend(ctx.checked.printf_sites)
    _helper_error_sites(ctx, res)
    for site in res.printf_sites:
        args, offset = [], EVENT_HEADER_SIZE
        for arg_type in site.arg_types:
            args.append(EventArg(arg_type, offset))
            offset += arg_type.size
        res.printf_layouts.append(PrintfLayout(tuple(args), offset))
    for call in ctx.checked.print_calls:
        if call.map_name is not None:
            res.print_sites.append(PrintSite(ctx.maps[call.map_name].index, call.top, call.div))
        else:
            assert call.value_type is not None
            res.print_sites.append(PrintSite(value=EventArg(call.value_type, EVENT_HEADER_SIZE)))
    return res


# Calls that write a record to the event ring buffer each time they run.
_EVENT_CALLS = frozenset({"printf", "print", "time", "join", "system", "cat", "errorf",
                          "warnf"})
SMALL_RINGBUF_PAGES = 64
WATCHED_ADDRESSES = 1024  # a watchpoint:FUNC+argN's addresses its uprobe stops for, at most


def _ringbuf_pages(ctx: CompileContext) -> int:
    """The event ring buffer's size in pages: as set, except that the default is
    SMALL_RINGBUF_PAGES where only the probes ptrace runs itself (BEGIN, END,
    signals; their events are read as soon as each has run) print anything: the
    reader maps the buffer, and its pages count in the process's memory."""
    pages = ctx.options.ringbuf_pages
    if pages != Options().ringbuf_pages:
        return pages
    for instance in ctx.instances:
        if KINDS[instance.attach.kind].runs != Runs.TEST_RUN and any(
                isinstance(node, n.Call) and node.name in _EVENT_CALLS
                for node in walk(instance.probe)):
            return pages
    return SMALL_RINGBUF_PAGES


# What -k says where a map is read at a key it does not hold.
LOOKUP_MISSED = " found no element: the map has no such key, and 0 is read"


def _helper_error_sites(ctx: CompileContext, res: Resources) -> None:
    """-k and -kk: a warning site for each source location and helper whose
    result the lowering checks there. Sites at one location are shared by its
    instances and unrolled copies. The first node found at a location gives
    the warning's underline, so nodes are visited in the lowering's order."""
    level = ctx.options.helper_errors
    if not level:
        return
    for instance in ctx.instances:
        for node in _evaluated(instance.probe):
            for helper, needs in checked_helpers(node, instance, ctx.checked):
                location, context = site_location(node.span)
                name = helper_name(helper)
                if needs > level or (location, name) in res.helper_error_sites:
                    continue
                res.helper_error_sites[location, name] = len(res.printf_sites)
                if helper == Helper.MAP_LOOKUP_ELEM:
                    site = PrintfSite(HELPER_ERROR, (name, LOOKUP_MISSED), (), location, context)
                else:
                    site = PrintfSite(HELPER_ERROR, (name, " failed: ", *parse_format("%s")),
                                      (STRERROR,), location, context)
                res.printf_sites.append(site)


def _evaluated(node: n.Node) -> Iterator[n.Node]:
    """`node` and the nodes its lowering evaluates, children first (the order
    in which operands are evaluated); a sizeof's operand is typed, not read,
    and a map entry assigned to is written, not read (its key is evaluated)."""
    if not isinstance(node, n.Sizeof):
        for child in children(node):
            if child is _assigned(node):
                for grandchild in children(child):
                    yield from _evaluated(grandchild)
            else:
                yield from _evaluated(child)
    yield node


def _assigned(node: n.Node) -> n.Node | None:
    """The map entry an assignment or ++/-- writes."""
    if isinstance(node, n.Assign) and isinstance(node.target, n.MapAccess):
        return node.target
    if isinstance(node, n.IncDec) and isinstance(node.operand, n.MapAccess):
        return node.operand
    return None


def checked_helpers(node: n.Node, instance: ProbeInstance, checked: TypeResults
                    ) -> Iterator[tuple[Helper, int]]:
    """The helpers whose result the lowering of `node` checks, each with the -k
    level that checks it: map updates, stack ids and signals at -k (1), memory
    reads and reads of a map's missing key at -kk (2). `Lowerer.check_helper`
    and `Lowerer.check_lookup` find their sites from these."""
    types = instance.types
    if (isinstance(node, n.Assign) and isinstance(node.target, n.MapAccess)) or \
            (isinstance(node, n.IncDec) and isinstance(node.operand, n.MapAccess)):
        yield Helper.MAP_UPDATE_ELEM, 1
    elif isinstance(node, n.MapAccess) and not isinstance(types.get(node), t.Aggregation):
        yield Helper.MAP_LOOKUP_ELEM, 2
    elif isinstance(node, n.Identifier | n.Call) and node.name in ("kstack", "ustack") \
            and isinstance(types.get(node), t.Stack):
        yield Helper.GET_STACKID, 1
    elif isinstance(node, n.Call) and node.name == "signal":
        yield Helper.SEND_SIGNAL, 1
    elif isinstance(node, n.Call) and node.name == "signal_thread":
        yield Helper.SEND_SIGNAL_THREAD, 1
    elif isinstance(node, n.Call) and node.name == "str":
        arg = node.args[0]
        if not (isinstance(arg, n.Positional) and arg.index > 0) and \
                not isinstance(types[arg], t.Str):
            yield read_str_helper(arg, types[arg], instance.attach), 2
    elif isinstance(node, n.Field | n.Index | n.Unary) and node in checked.field_accesses \
            and not isinstance(types[node], t.Struct):
        pointer = types[node.operand if isinstance(node, n.Unary) else node.base]
        assert isinstance(pointer, t.Pointer | t.Struct)
        yield read_helper(pointer.space), 2


def set_scratch_size(res: Resources, size: int) -> None:
    """The scratch map's value size: the most any program's lowering put in
    scratch. Decided by lowering, not before: which values go to scratch is the
    stack allocator's choice (the stack budget, freed memory reused, a map
    loop's callback frame), and it runs while the program is lowered."""
    old = res.maps[res.scratch_map]
    res.maps[res.scratch_map] = replace(old, value_size=max(8, size))


def _name_table(attach: Attach) -> MapSpec:
    keyed = attach.syscalls or tuple(enumerate(attach.probe_names))
    if attach.functions:  # `func` is read from where it starts, past the prefix, in words
        width = t.align8(len(attach.function_prefix) + t.align8(
            max(len(symbol) for symbol, _ in attach.functions) + 1))
    else:
        width = t.align8(max(len(name) for _, name in keyed) + 1)
    entries = tuple((key.to_bytes(4, "little"), name.encode().ljust(width, b"\0"))
                    for key, name in keyed)
    highest = max(key for key, _ in keyed)
    return MapSpec(".syscalls" if attach.syscalls else ".functions", MapType.ARRAY, 4, width,
                   highest + 1, initial=entries)


def _add(res: Resources, spec: MapSpec) -> int:
    res.maps.append(spec)
    return len(res.maps) - 1


def _user_map(info: MapInfo, max_entries: int, decl: MapDecl | None,
              reporter: Reporter, hist_sums: bool) -> MapSpec:
    """The BPF shape of a script map: aggregations are per-CPU, declared maps
    take their kind's eviction (lru) and their size, a scalar map one entry
    (a tseries one an interval, a histogram one a bucket). A histogram's entry is a
    bucket's count, then with hist_sums the sum of the values in that bucket."""
    key_size = info.key.size if info.key is not None else 8
    value = info.value
    lru = decl is not None and "lru" in decl.kind
    if decl is not None:
        max_entries = decl.size
        if decl.kind.startswith("percpu") and not isinstance(value, t.Aggregation):
            reporter.error(f"{info.name} is declared {decl.kind} but holds {value}; "
                           "per-CPU maps hold aggregations such as count() and sum()",
                           decl.span)
    elif info.key is None and not isinstance(value, t.Hist | t.Lhist):
        max_entries = 1  # a scalar map holds one value (a histogram holds its buckets)
    value_size = value.size
    if isinstance(value, t.Aggregation):
        map_type = MapType.LRU_PERCPU_HASH if lru else MapType.PERCPU_HASH
        if isinstance(value, t.Hist | t.Lhist):
            key_size, value_size = key_size + 8, 16 if hist_sums else 8
        elif isinstance(value, t.TSeries):  # an entry per key and interval
            key_size, max_entries = key_size + 8, max_entries * value.intervals
    else:
        map_type = MapType.LRU_HASH if lru else MapType.HASH
    location, _ = site_location(decl.span if decl is not None else info.span)
    return MapSpec(info.name, map_type, key_size, value_size, max_entries, info.key, value,
                   declared=decl is not None, location=location)
