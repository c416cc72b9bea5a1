"""The probe kinds: one enum, and one row per kind that every stage reads.

`Attach.kind` is a `ProbeKind`. What a stage asks about a kind (how scripts
write it, its program and attach types, how it runs, what its context holds,
how `-l` lists it) is a field of its row in `KINDS`. Adding a kind is a row
here, an expander in `ptrace/passes/expand_probes.py` (`EXPANDERS`) and, unless
it is test-run, an attacher in `runtime/attach.py` (`ATTACHERS`);
`tests/unit/test_probe_kind_table.py` fails when one is missing.

Pure data with no imports beyond the ABI numbers: the CLI, the REPL, the
passes and the runtime all import it at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum, StrEnum
from typing import NamedTuple

from ptrace.bpf_abi import AttachType, ProgType


class ProbeKind(StrEnum):
    """What a program attaches to. The value is the kind's name in messages;
    the order is the one the REPL offers and messages list kinds in."""

    BEGIN = "begin"
    END = "end"
    TRACEPOINT = "tracepoint"
    RAWTRACEPOINT = "rawtracepoint"
    KPROBE = "kprobe"
    KRETPROBE = "kretprobe"
    UPROBE = "uprobe"
    URETPROBE = "uretprobe"
    USDT = "usdt"
    PROFILE = "profile"
    INTERVAL = "interval"
    SOFTWARE = "software"
    HARDWARE = "hardware"
    WATCHPOINT = "watchpoint"
    FENTRY = "fentry"
    FEXIT = "fexit"
    ITER = "iter"
    BENCH = "bench"  # run over and over, timed, with --mode bench
    TEST = "test"  # run once, its result a test's verdict, with --test
    SIGNAL = "signal"  # self:signal:NAME
    # Internal: one raw tracepoint on sys_enter/sys_exit standing for many
    # syscall tracepoints, dispatching on the syscall number.
    SYSCALLS = "syscalls"


class Runs(Enum):
    """How a kind's program runs."""

    ATTACHED = "attached"  # attached to its kernel event, run by the kernel
    TEST_RUN = "test-run"  # never attached: ptrace runs it with BPF_PROG_TEST_RUN
    ITERATED = "iterated"  # linked to a BPF iterator, run by reading the iterator


class Context(Enum):
    """What a kind's `ctx` points to (the value: its C type)."""

    UNTYPED = "void"
    PT_REGS = "struct pt_regs"  # the probed code's registers
    PERF_EVENT = "struct bpf_perf_event_data_kern"  # its first member: the registers
    ITERATOR = "struct bpf_iter__"  # + the iterator's name


class Args(Enum):
    """What `args` holds in a kind's probes."""

    NONE = "none"
    FIELDS = "fields"  # the tracepoint's fields, read from its record
    ARGUMENTS = "arguments"  # the raw tracepoint's arguments; ctx is u64 args[]
    PARAMETERS = "parameters"  # the kernel function's parameters; ctx is u64 args[]
    DEBUG_INFO = "debug info"  # the user function's parameters (DWARF); ctx is pt_regs


class Catalogue(Enum):
    """Where a kind's probes come from: what `ptrace -l` lists for it, and what
    the REPL completes after its `provider:`."""

    FORMS = "forms"  # the forms in its row
    TIMERS = "timers"  # forms by unit; the REPL completes the units
    TRACEPOINTS = "tracepoints"  # tracefs' tracepoints; the REPL completes them
    EVENTS = "events"  # tracefs' event names (raw tracepoints)
    TRACEABLE_FUNCTIONS = "traceable functions"  # available_filter_functions (or BTF's)
    BTF_FUNCTIONS = "BTF functions"  # the kernel functions BTF describes
    BINARY_FUNCTIONS = "binary functions"  # a binary's functions; the REPL completes them
    USDT_NOTES = "USDT notes"  # a binary's USDT probes
    ADDRESSES = "addresses"  # any address: nothing to list
    NAMES = "names"  # any name the script gives: nothing to list
    INTERNAL = "internal"  # not written in scripts


# What some kinds accept after `provider:`, and list as their forms.
TIMER_UNITS = ("s", "ms", "us", "ns", "hz")
# perf event names: (config, default sample period).
SOFTWARE_EVENTS = {
    "cpu-clock": (0, 1000000), "cpu": (0, 1000000), "task-clock": (1, 1000000),
    "page-faults": (2, 100), "faults": (2, 100), "context-switches": (3, 1000),
    "cs": (3, 1000), "cpu-migrations": (4, 1), "minor-faults": (5, 100),
    "major-faults": (6, 1), "alignment-faults": (7, 1), "emulation-faults": (8, 1),
    "dummy": (9, 1), "bpf-output": (10, 1),
}
HARDWARE_EVENTS = {
    "cpu-cycles": (0, 1000000), "cycles": (0, 1000000), "instructions": (1, 1000000),
    "cache-references": (2, 1000000), "cache-misses": (3, 1000000),
    "branch-instructions": (4, 100000), "branches": (4, 100000), "branch-misses": (5, 100000),
    "bus-cycles": (6, 100000), "frontend-stalls": (7, 1000000),
    "backend-stalls": (8, 1000000), "ref-cycles": (9, 1000000),
}
# BPF iterators (iter:NAME): each runs a program per object. Its ctx is a
# struct bpf_iter__NAME of 8-byte slots; the object that ends the iteration
# when NULL is at this offset.
ITERATORS = {"task": 8, "task_file": 24, "task_vma": 16}
# self:signal:NAME: the signals ptrace can take for its own probes (SIGINT and
# SIGTERM stop the run; the others' default actions would end it).
SELF_SIGNALS = {"SIGUSR1": 10, "SIGUSR2": 12, "SIGHUP": 1}


class KindRow(NamedTuple):  # (not a dataclass: `ptrace -l` need not import dataclasses)
    kind: ProbeKind
    provider: str  # how scripts write it before the first colon ("" if they do not)
    aliases: tuple[str, ...]  # other words for the provider
    prog_type: ProgType
    runs: Runs
    catalogue: Catalogue
    attach_type: AttachType | None = None  # a TRACING program's expected_attach_type
    # Its arguments and registers are the traced process's: addresses in user memory.
    user_space: bool = False
    function: bool = False  # it probes a function, whose name `func` gives
    ctx: Context = Context.UNTYPED
    args: Args = Args.NONE
    forms: tuple[str, ...] = ()  # Catalogue.FORMS/TIMERS: what `-l` lists
    named: str = ""  # how messages name it, if not by its kind
    probetype: str = ""  # what the `probetype` builtin gives, if not its kind

    @property
    def registers(self) -> bool:
        """Whether its context holds the probed code's registers (reg() reads them)."""
        return self.ctx in (Context.PT_REGS, Context.PERF_EVENT)

    @property
    def name(self) -> str:
        """The kind as messages name it (as a script writes it)."""
        return self.named or self.kind.value


K, P, R, C = ProbeKind, ProgType, Runs, Catalogue


def _forms(provider: str, names: Iterable[str]) -> tuple[str, ...]:
    """Forms that take a number after them: `software:faults:`, `interval:ms:`."""
    return tuple(f"{provider}:{name}:" for name in names)


KINDS: dict[ProbeKind, KindRow] = {row.kind: row for row in (
    KindRow(K.BEGIN, "BEGIN", ("begin",), P.RAW_TRACEPOINT, R.TEST_RUN, C.FORMS,
            forms=("BEGIN",), named="BEGIN", probetype="special"),
    KindRow(K.END, "END", ("end",), P.RAW_TRACEPOINT, R.TEST_RUN, C.FORMS,
            forms=("END",), named="END", probetype="special"),
    KindRow(K.TRACEPOINT, "tracepoint", ("t",), P.TRACEPOINT, R.ATTACHED, C.TRACEPOINTS,
            args=Args.FIELDS),
    KindRow(K.RAWTRACEPOINT, "rawtracepoint", ("rt",), P.RAW_TRACEPOINT, R.ATTACHED, C.EVENTS,
            args=Args.ARGUMENTS),
    KindRow(K.KPROBE, "kprobe", ("k",), P.KPROBE, R.ATTACHED, C.TRACEABLE_FUNCTIONS,
            function=True, ctx=Context.PT_REGS),
    KindRow(K.KRETPROBE, "kretprobe", ("kr",), P.KPROBE, R.ATTACHED, C.TRACEABLE_FUNCTIONS,
            function=True, ctx=Context.PT_REGS),
    KindRow(K.UPROBE, "uprobe", ("u",), P.KPROBE, R.ATTACHED, C.BINARY_FUNCTIONS,
            user_space=True, function=True, ctx=Context.PT_REGS, args=Args.DEBUG_INFO),
    KindRow(K.URETPROBE, "uretprobe", ("ur",), P.KPROBE, R.ATTACHED, C.BINARY_FUNCTIONS,
            user_space=True, function=True, ctx=Context.PT_REGS),
    KindRow(K.USDT, "usdt", ("U",), P.KPROBE, R.ATTACHED, C.USDT_NOTES,
            user_space=True, ctx=Context.PT_REGS),
    KindRow(K.PROFILE, "profile", ("p",), P.PERF_EVENT, R.ATTACHED, C.TIMERS,
            ctx=Context.PERF_EVENT, forms=_forms("profile", TIMER_UNITS)),
    KindRow(K.INTERVAL, "interval", ("i",), P.PERF_EVENT, R.ATTACHED, C.TIMERS,
            ctx=Context.PERF_EVENT, forms=_forms("interval", TIMER_UNITS)),
    KindRow(K.SOFTWARE, "software", ("s",), P.PERF_EVENT, R.ATTACHED, C.FORMS,
            ctx=Context.PERF_EVENT, forms=_forms("software", SOFTWARE_EVENTS)),
    KindRow(K.HARDWARE, "hardware", ("h",), P.PERF_EVENT, R.ATTACHED, C.FORMS,
            ctx=Context.PERF_EVENT, forms=_forms("hardware", HARDWARE_EVENTS)),
    KindRow(K.WATCHPOINT, "watchpoint", ("w",), P.PERF_EVENT, R.ATTACHED, C.ADDRESSES,
            ctx=Context.PERF_EVENT),
    KindRow(K.FENTRY, "fentry", ("f", "kfunc"), P.TRACING, R.ATTACHED, C.BTF_FUNCTIONS,
            attach_type=AttachType.TRACE_FENTRY, function=True, args=Args.PARAMETERS),
    KindRow(K.FEXIT, "fexit", ("fr", "kretfunc"), P.TRACING, R.ATTACHED, C.BTF_FUNCTIONS,
            attach_type=AttachType.TRACE_FEXIT, function=True, args=Args.PARAMETERS),
    KindRow(K.ITER, "iter", ("it",), P.TRACING, R.ITERATED, C.FORMS,
            attach_type=AttachType.TRACE_ITER, ctx=Context.ITERATOR,
            forms=tuple(f"iter:{name}" for name in ITERATORS)),
    KindRow(K.BENCH, "bench", (), P.RAW_TRACEPOINT, R.TEST_RUN, C.NAMES),
    KindRow(K.TEST, "test", (), P.RAW_TRACEPOINT, R.TEST_RUN, C.NAMES),
    # Run like BEGIN, when ptrace receives the signal.
    KindRow(K.SIGNAL, "self", (), P.RAW_TRACEPOINT, R.TEST_RUN, C.FORMS,
            forms=tuple(f"self:signal:{name}" for name in SELF_SIGNALS), probetype="special"),
    KindRow(K.SYSCALLS, "", (), P.RAW_TRACEPOINT, R.ATTACHED, C.INTERNAL,
            named="tracepoint", probetype="tracepoint"),
)}

# The kinds only a --mode runs (besides BEGIN and END), by the mode's name.
MODE_KINDS = {"bench": ProbeKind.BENCH, "test": ProbeKind.TEST}

# The kind each provider word names (its full name or an alias).
BY_PROVIDER: dict[str, ProbeKind] = {
    word: row.kind for row in KINDS.values() for word in (row.provider, *row.aliases) if word}
# The kinds scripts write, in the table's order.
PROVIDERS = tuple(row.provider for row in KINDS.values() if row.provider)
# Those written before a colon (not BEGIN and END), sorted: what a message
# about an unknown probe type offers.
PROBE_TYPES = tuple(sorted(set(PROVIDERS) - {"BEGIN", "END"}))
