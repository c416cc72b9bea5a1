"""`CompiledProgram`: the one thing that crosses from the compiler to the runtime.

It holds no file descriptors and no kernel state, so the same value can be
loaded many times. Maps are referred to by index in the instructions; the
loader creates them and patches each index into its fd.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from ptrace.bpf_abi import MapType, ProgType
from ptrace.printf_format import Conversion
from ptrace.probe_kinds import KINDS, ProbeKind, Runs
from ptrace.types.types import INT64, Type


class EventKind(IntEnum):
    """The first u32 of every ring-buffer record."""

    PRINTF = 1
    EXIT = 2
    PRINT_MAP = 3
    PRINT_VALUE = 4
    CLEAR = 5
    ZERO = 6
    WATCH = 7  # a function's argument to watch: watchpoint:FUNC+argN (WATCHED_ADDRESS)
    UNWATCH = 8  # unwatch(address) (WATCHED_ADDRESS)


# Slots of the per-CPU `counters` map: failed ring-buffer writes, then one
# slot per user map for updates refused because the map was full.
COUNTER_LOST_EVENTS = 0
COUNTERS_FIXED = 1


@dataclass(frozen=True, slots=True)
class Attach:
    """Where a program attaches: its kind, and what the kind needs to know."""

    kind: ProbeKind
    probe: str  # the full probe name, as the `probe` builtin gives it
    category: str = ""
    event: str = ""
    period_ns: int = 0  # interval/profile: time between runs
    frequency: int = 0  # profile: runs per second (instead of period_ns)
    # kind "syscalls": one raw tracepoint (event sys_enter or sys_exit) standing
    # for many syscall tracepoints, as (syscall number, full probe name).
    syscalls: tuple[tuple[int, str], ...] = ()
    # kinds "uprobe"/"uretprobe": the binary, and a symbol (plus an offset into
    # it) or a virtual address; the runtime turns them into a file offset.
    binary: str = ""
    symbol: str = ""
    offset: int = 0
    address: int = 0
    # The binary is not ELF (a flat binary, with --unsafe): `offset` is where
    # the uprobe goes in the file.
    flat: bool = False
    # kind "usdt": `binary`, `offset` the site's file offset and `address` its
    # virtual address; the specs of its arguments (ptrace.usdt.parse_arg reads
    # them), the virtual addresses of the symbols they name, and its semaphore's
    # file offset (0: none), which the kernel counts up while the uprobe is attached.
    # kinds "uprobe"/"uretprobe" through one uprobe_multi link: the functions
    # of `binary` a wildcard matched, as (symbol, virtual address); the link
    # gives function i the cookie i, by which the program finds its name.
    functions: tuple[tuple[str, int], ...] = ()
    usdt_args: tuple[str, ...] = ()
    usdt_symbols: tuple[tuple[str, int], ...] = ()
    ref_ctr_offset: int = 0
    # kinds "software"/"hardware": perf event type and config, sampled every
    # `sample_period` events.
    perf_type: int = 0
    perf_config: int = 0
    sample_period: int = 0
    # kinds "fentry"/"fexit": the kernel function's BTF id (the program's attach_btf_id);
    # kind "rawtracepoint": its btf_trace_EVENT typedef's, when the kernel's BTF
    # has one (then it is a BTF tracepoint, tp_btf; 0: a raw tracepoint by name);
    # kind "iter": `event` is the iterator (task, task_file, task_vma), `btf_id`
    # that of its bpf_iter_<event> function, and `offset` where its ctx holds
    # the object (NULL in the run that ends the iteration); `pin` the file of
    # /sys/fs/bpf the iterator is pinned to instead of run (iter:task:PIN).
    btf_id: int = 0
    pin: str = ""
    # kind "watchpoint": a hardware breakpoint on `address`, of `bp_len` bytes,
    # on accesses of `bp_type` (HW_BREAKPOINT_R 1 | W 2, or X 4).
    bp_type: int = 0
    bp_len: int = 0
    # watchpoint:FUNC+argN: the watchpoint (`symbol` FUNC) is on the address in
    # argument N, each new one opened when a uprobe on FUNC (kind "uprobe", the
    # same probe name, `binary` empty: the -p/-c process's) sends it.
    watch_arg: int = -1
    watch_async: bool = False  # an asyncwatchpoint's uprobe: the process is not stopped
    # kind "signal" (self:signal:SIGUSR1): `event` is the signal's name and
    # `signal` its number; the runtime runs the program when ptrace receives it.
    signal: int = 0

    @property
    def user_addresses(self) -> bool:
        """Whether the probe hands over the traced process's addresses: uprobes
        and usdt probes in their arguments, syscall tracepoints in their fields."""
        return KINDS[self.kind].user_space or self.category == "syscalls"

    @property
    def btf_tracepoint(self) -> bool:
        """Whether it is a raw tracepoint attached as a BTF tracepoint (tp_btf)."""
        return self.kind == ProbeKind.RAWTRACEPOINT and self.btf_id != 0

    @property
    def prog_type(self) -> ProgType:
        """Its program's type: its kind's, but TRACING for a BTF tracepoint."""
        return ProgType.TRACING if self.btf_tracepoint else KINDS[self.kind].prog_type

    @property
    def arms_watchpoint(self) -> bool:
        """Whether it is the uprobe of a watchpoint:FUNC+argN, which sends the argument."""
        return self.kind == ProbeKind.UPROBE and self.watch_arg >= 0

    @property
    def probe_count(self) -> int:
        """How many attach points this stands for (as bpftrace counts probes)."""
        return len(self.probe_names)

    @property
    def probe_names(self) -> tuple[str, ...]:
        """The full name of each attach point this stands for."""
        if self.syscalls:
            return tuple(name for _, name in self.syscalls)
        if self.functions:
            return tuple(self.function_prefix + symbol for symbol, _ in self.functions)
        if self.arms_watchpoint:  # a part of its watchpoint
            return ()
        return (self.probe,)

    @property
    def function_prefix(self) -> str:
        """What comes before the function in a uprobe's probe name."""
        return f"{self.kind.value}:{self.binary}:"


@dataclass(frozen=True, slots=True)
class BpfProgram:
    """One probe's program: its instructions and where it attaches."""

    name: str
    prog_type: ProgType
    insns: bytes
    attach: Attach
    location: str  # where the probe is written: "script.bt:3:1"
    loops: tuple[str, ...] = ()  # where its while/for loops are written
    ctx_size: int = 0  # bytes of ctx the program may read (for test runs of BEGIN/END)
    expected_attach_type: int = 0  # TRACING programs: their kind's AttachType
    attach_btf_id: int = 0
    callbacks: tuple[int, ...] = ()  # instruction offsets of its callback functions


@dataclass(frozen=True, slots=True)
class MapSpec:
    """A BPF map. User maps carry the script's name and types; internal maps start with '.'."""

    name: str
    map_type: MapType
    key_size: int
    value_size: int
    max_entries: int
    key_type: Type | None = None  # None for a scalar map (key is a u64 zero)
    value_type: Type | None = None
    initial: tuple[tuple[bytes, bytes], ...] = ()  # entries the loader writes first
    declared: bool = False  # sized by its `let @m = kind(size);`, not by max_map_keys
    location: str = ""  # file:line:col of its declaration, or of its first use
    per_cpu_entries: bool = False  # an entry for each possible CPU (max_entries is ignored)


@dataclass(frozen=True, slots=True)
class EventArg:
    """A value in an event record: its type and where it starts."""

    type: Type
    offset: int  # from the start of the record


# Every ring-buffer record starts with this header: its EventKind, then its
# site (the printf or print site, or the map that clear() or zero() empties).
# Codegen writes it as one 64-bit store (`event_header`); the session reads
# it back with the same struct.
EVENT_HEADER = struct.Struct("<II")
EVENT_HEADER_SIZE = EVENT_HEADER.size
# What skboutput() puts before a packet's bytes in its perf-buffer sample: its
# site, the time (CLOCK_BOOTTIME ns), the packet's length and how many of its
# bytes follow (from its start: the site's offset is where the file's begin).
PACKET_HEADER = struct.Struct("<QQQQ")
SKB_OUTPUT_MAX = 0xFFFFF  # the most bytes of a packet it takes (BPF_F_CTXLEN_MASK)
EXIT_CODE = EventArg(INT64, EVENT_HEADER_SIZE)  # what an EXIT record carries
WATCHED_ADDRESS = EventArg(INT64, EVENT_HEADER_SIZE)  # … and a WATCH record


def event_header(kind: EventKind, site: int) -> int:
    """A record's header as the one little-endian 64-bit word codegen stores."""
    return int.from_bytes(EVENT_HEADER.pack(kind, site), "little")


# The PrintfFormat kind of a run-time warning printed once per site (a
# division by zero, a range loop longer than bpf_loop runs).
WARN_ONCE = "warn_once"
# The PrintfFormat kind of -k's warning that a helper failed; its segments are
# the helper's name, " failed: " and the error (the helper's return value).
HELPER_ERROR = "helper_error"


@dataclass(frozen=True, slots=True)
class PrintfFormat:
    """A call site with a format (printf, errorf, warnf, system, time, or a
    division's warning): its parsed format and where each argument lies in the
    record."""

    kind: str
    segments: tuple[str | Conversion, ...]
    args: tuple[EventArg, ...]
    location: str = ""
    context: str = ""


@dataclass(frozen=True, slots=True)
class PrintSite:
    """A print(@map, top, div) or print(value) call site."""

    map_index: int = -1
    top: int = 0
    div: int = 0
    value: EventArg | None = None


@dataclass(frozen=True, slots=True)
class CompiledProgram:
    """What the compiler gives the runtime: plain data, kept by the compile cache
    (ptrace/program_cache.py) as a pickle."""

    programs: tuple[BpfProgram, ...]
    maps: tuple[MapSpec, ...]
    ringbuf_map: int
    counters_map: int
    globals_map: int
    printf_formats: tuple[PrintfFormat, ...]
    print_sites: tuple[PrintSite, ...]
    user_maps: tuple[int, ...]  # indexes of the script's maps, in printing order
    stack_maps: tuple[tuple[int, int], ...] = ()  # (frame limit, map index)
    dumps: dict[str, str] = field(default_factory=dict)  # stage → text, for -d
    print_maps_on_exit: bool = True
    log_size: int = 1 << 20  # verifier log bytes to keep when loading fails
    license: str = "GPL"  # the license the programs are loaded with
    warnings: tuple[str, ...] = ()
    # show_debug_info: user stacks show file:line and inlined functions, from the
    # debug information found in these directories first (--debuginfo).
    show_debug_info: bool = False
    debug_dirs: tuple[str, ...] = ()
    # skboutput(): the perf event array its packets go through, and each site's
    # pcap file and offset.
    packet_map: int = -1
    packet_sites: tuple[tuple[str, int], ...] = ()
    watched_map: int = -1  # watchpoint:FUNC+argN: the addresses sent, by (program, address)

    @property
    def attached_programs(self) -> tuple[BpfProgram, ...]:
        return tuple(p for p in self.programs if KINDS[p.attach.kind].runs is not Runs.TEST_RUN)

    @property
    def signals(self) -> frozenset[int]:
        """The signals that run self:signal probes."""
        return frozenset(p.attach.signal for p in self.programs
                         if p.attach.kind == ProbeKind.SIGNAL)


# Slots of the `globals` array map, written by the runtime before BEGIN runs.
GLOBAL_START_NS = 0
GLOBAL_NCPUS = 1  # possible CPUs: how many per-CPU slots a value has
GLOBAL_CPID = 2  # the pid of the -c command (or of -p)
GLOBAL_STOPPED = 3  # set before END runs: probes do nothing from then on
GLOBAL_ONLINE_CPUS = 4  # `ncpus`: the CPUs online when the run started
GLOBAL_TAI_OFFSET = 5  # CLOCK_TAI - CLOCK_BOOTTIME when the run started: nsecs(sw_tai)
GLOBAL_ITER_EXIT = 6  # exit(code) in an iter probe: code + 1, for the iteration's end
GLOBALS_COUNT = 7
