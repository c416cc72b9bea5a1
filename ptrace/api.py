"""ptrace as a Python library: `run()` a script to its end, or `trace()` it in the
background; its maps and events come back as Python values.

The run is the CLI's: the same compile (`compile_script`, ptrace/script.py,
which the CLI and the REPL call too) and the same `Session`, in a worker
thread. `LiveSession` adds what a library needs on top of it: the events as
objects, the maps read on request (a snapshot while the run goes on, read
under a lock so the fds stay open while it is taken), and the maps at the
end, read before the probes are detached. docs/api.md is the reference.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import warnings
from collections import deque, namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, NamedTuple

from ptrace.diagnostics import Diagnostic, Source
from ptrace.program import EVENT_HEADER, CompiledProgram, EventKind, MapSpec
from ptrace.runtime.maps import Stats as Stats  # the API's stats() value is the runtime's
from ptrace.script import Error as Error
from ptrace.script import RunError as RunError
from ptrace.script import ScriptError as ScriptError
from ptrace.script import compile_script as compile_script
from ptrace.types import types as t

# ---- values ------------------------------------------------------------------------------


class Bucket(NamedTuple):
    """A histogram bucket: values v with low <= v < high, and how many there were.
    `low` is None for the bucket below the first bound, `high` None above the last."""

    low: int | None
    high: int | None
    count: int  # type: ignore[assignment]  # (tuple's count() method is not needed here)


@dataclass(frozen=True, slots=True)
class Histogram:
    """A `hist()` or `lhist()` value: its buckets from the first to the last non-empty
    one, in order. Iterating gives the buckets as (low, high, count)."""

    kind: str  # "hist" or "lhist"
    buckets: tuple[Bucket, ...]
    bars: tuple[str, ...] = field(default=(), repr=False, compare=False)  # as the CLI draws it
    sum: int | None = None  # the sum of the values (None where the program was not
    # compiled to keep it: ptrace.run/trace always do)

    def __str__(self) -> str:
        """The histogram as the CLI prints it: a row of `@` bars per bucket."""
        return "".join(row + "\n" for row in self.bars)

    def __iter__(self) -> Iterator[Bucket]:
        return iter(self.buckets)

    def __len__(self) -> int:
        return len(self.buckets)

    @property
    def count(self) -> int:
        """How many values were added."""
        return sum(bucket.count for bucket in self.buckets)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "sum": self.sum,
                "buckets": [bucket._asdict() for bucket in self.buckets]}


class Point(NamedTuple):
    """One interval of a tseries: when it starts (ns on the clock tseries() reads,
    the kernel's TAI clock: since the Unix epoch) and its value (None where
    nothing was recorded in it; the CLI's chart shows `-` there)."""

    start: int
    value: int | None


@dataclass(frozen=True, slots=True)
class TimeSeries:
    """A `tseries()` value: its intervals, oldest first, as the CLI shows them (from
    the first one recorded among the last `intervals` to the map's latest one).
    Iterating gives the Points (start, value)."""

    interval: int  # the length of an interval, in ns
    agg: str | None  # how the values in an interval combine: "avg", "max", "min", "sum"
    # (None: the last value recorded)
    points: tuple[Point, ...]
    chart: tuple[str, ...] = field(default=(), repr=False, compare=False)  # as the CLI draws it

    def __str__(self) -> str:
        """The series as the CLI prints it: a text chart, a row per interval."""
        return "".join(row + "\n" for row in self.chart)

    def __iter__(self) -> Iterator[Point]:
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "tseries", "interval": self.interval, "agg": self.agg,
                "points": [point._asdict() for point in self.points]}


class EnumValue(int):
    """A value of a C enum type that one of its enumerators names: an int (it
    compares and computes as its number) with `name`, the enumerator (`str()`
    gives it, as the CLI prints it), and `enum`, the type (`"enum color"`)."""

    name: str
    enum: str

    def __new__(cls, value: int, name: str, enum: str) -> EnumValue:
        self = super().__new__(cls, value)
        self.name, self.enum = name, enum
        return self

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<{self.enum}.{self.name}: {int(self)}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return EnumValue, (int(self), self.name, self.enum)


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a kstack or ustack: its address and, where known, the symbol it
    falls in, the offset into it, and the module (user stacks) that holds it."""

    address: int
    symbol: str | None = None
    offset: int = 0
    module: str | None = None

    def __str__(self) -> str:
        return f"{self.symbol}+{self.offset}" if self.symbol else f"0x{self.address:x}"


@dataclass(frozen=True, slots=True)
class Event:
    """Something the script printed while it ran.

    `kind` is "printf" (also what system() and cat() print), "print" (a value),
    "map" (`print(@m)`, `name` tells which), "time", "errorf", "warnf" or "lost"
    (events the buffer had no room for; `values` holds the count). `text` is what
    the CLI prints for it; `values` are the arguments as Python values (printf's,
    in order).
    """

    kind: str
    text: str
    values: tuple[Any, ...] = ()
    name: str | None = None  # the map of a "map" event
    location: str | None = None  # file:line:col of an errorf or warnf


@dataclass(frozen=True, slots=True)
class Result:
    """A finished run: its maps by name ("@x"), its events in order, its exit code
    (exit()'s argument, 0 otherwise), the compiler's warnings, and how many events
    were dropped (a trace()'s `max_events` were waiting to be taken)."""

    maps: dict[str, Any]
    events: list[Event]
    exit_code: int
    warnings: tuple[str, ...] = ()
    dropped_events: int = 0


# ---- errors ------------------------------------------------------------------------------
# Error, ScriptError and RunError are ptrace/script.py's: the CLI and the REPL raise them too.

# ---- Python values from decoded ones ------------------------------------------------------

_RECORDS: dict[tuple[str, ...], Callable[..., tuple[Any, ...]]] = {}


def _record_class(names: tuple[str, ...]) -> Callable[..., tuple[Any, ...]]:
    """One named-tuple class per set of record field names."""
    if names not in _RECORDS:
        _RECORDS[names] = namedtuple("Record", names, rename=True)
    return _RECORDS[names]


def python_value(value: Any, vtype: t.Type) -> Any:
    """A decoded value (runtime/values.py) as a Python value: ints, bools, strings,
    bytes (buf), tuples, named tuples (records), tuples of Frames (stacks), and
    the text the CLI prints for values it formats (ksym, strerror, ntop, …)."""
    from ptrace.runtime import stacks
    from ptrace.runtime.values import format_value

    if isinstance(vtype, t.Tuple):
        return tuple(python_value(v, e) for v, e in zip(value, vtype.elements, strict=True))
    if isinstance(vtype, t.Record | t.StructValue):
        return _record_class(tuple(vtype.names))(
            *(python_value(v, e) for v, e in zip(value, vtype.elements, strict=True)))
    if isinstance(vtype, t.Stack):
        return tuple(_frame(address, value) for address in stacks.frames(value))
    if isinstance(vtype, t.Array):
        return tuple(python_value(v, vtype.element) for v in value)
    if isinstance(vtype, t.Formatted | t.Inet | t.Usym):
        return format_value(value, vtype)
    if isinstance(vtype, t.Bool):
        return bool(value)
    if isinstance(vtype, t.Enum):
        name = vtype.symbol(value)
        return value if name == str(value) else EnumValue(value, name, vtype.name)
    return value


def _frame(address: int, ref: Any) -> Frame:
    from ptrace.runtime import stacks

    if ref.type.mode == "raw":
        return Frame(address)
    found = stacks.SYMBOLS.resolve(address, ref.pid if ref.type.user else stacks.KERNEL)
    if found is None:
        return Frame(address)
    symbol, offset, module = found
    return Frame(address, symbol, offset, module or None)


def result_value(value: Any, vtype: t.Type, div: int = 0, last: int = 0) -> Any:
    """A map's value (as runtime/maps.py reduces it) as a Python value: an int for
    count, sum, min, max and avg; a Stats; a Histogram; a TimeSeries (`last`: the
    map's latest epoch); or the plain value."""
    from ptrace.runtime.maps import Histogram as Reduced
    from ptrace.runtime.maps import divide
    from ptrace.runtime.tseries import TimeSeries as Slots

    if isinstance(value, Slots):
        assert isinstance(vtype, t.TSeries)
        from ptrace.runtime.tseries import chart_rows, shown

        return TimeSeries(vtype.interval, vtype.agg or None,
                          tuple(Point(epoch * vtype.interval, v)
                                for epoch, v in _from_first_value(shown(value, vtype, last))),
                          tuple(chart_rows(value, vtype, last)))

    if isinstance(value, Reduced):
        assert isinstance(vtype, t.Hist | t.Lhist)
        used = [b for b, c in value.buckets.items() if c]
        buckets = tuple(Bucket(*vtype.bounds(b), value.buckets.get(b, 0))
                        for b in (range(min(used), max(used) + 1) if used else ()))
        from ptrace.runtime.text_output import histogram_rows

        return Histogram(vtype.function, buckets, tuple(histogram_rows(value, vtype)),
                         value.sum)
    if isinstance(value, Stats):
        if isinstance(vtype, t.Stats):
            return Stats(value.count, divide(value.total, div))
        return divide(value.average, div)
    if isinstance(vtype, t.Aggregation):
        return divide(value, div)
    return python_value(value, vtype)


def _from_first_value(rows: list[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    """The intervals of a series from the first that holds a value (as the chart)."""
    first = next((i for i, (_, value) in enumerate(rows) if value is not None), len(rows))
    return rows[first:]


def map_value(spec: MapSpec, entries: list[Any], top: int = 0, div: int = 0) -> Any:
    """A map as a Python value: a scalar map is its value; a keyed one a dict in
    the order the CLI prints it, keyed by the key (a tuple for several keys)."""
    from ptrace.runtime.maps import ordered
    from ptrace.runtime.tseries import TimeSeries as Slots

    vtype = spec.value_type
    assert vtype is not None
    rows = ordered(vtype, entries, top)
    last = max((e.value.last_epoch for e in rows if isinstance(e.value, Slots)), default=0)
    if spec.key_type is None:
        return result_value(rows[0].value, vtype, div, last) if rows else None
    return {python_value(e.key, spec.key_type): result_value(e.value, vtype, div, last)
            for e in rows}


# ---- a run that a library drives -----------------------------------------------------------

MAX_EVENTS = 10_000  # events a trace() keeps waiting to be taken, by default


class _EventQueue:
    """The events of a run waiting to be taken, at most `limit` (None: no limit).
    An event that finds the queue full is dropped and counted (`dropped`); the
    run never waits for its reader. `close()` marks the end of the events."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.dropped = 0
        self._items: deque[Event] = deque()
        self._closed = False
        self._ready = threading.Condition()

    def put(self, event: Event) -> None:
        with self._ready:
            if self.limit is not None and len(self._items) >= self.limit:
                self.dropped += 1
                return
            self._items.append(event)
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def get(self, timeout: float | None) -> Event | None:
        """The next event; None once they have ended; TimeoutError after `timeout`."""
        with self._ready:
            if not self._ready.wait_for(lambda: self._items or self._closed, timeout):
                raise TimeoutError
            return self._items.popleft() if self._items else None

    def take_all(self) -> list[Event]:
        with self._ready:
            events, self._items = list(self._items), deque()
            return events


class _EventOutput:
    """The Output of a library's run (runtime/output.py's protocol): each thing the
    script prints becomes an Event, put on a queue; nothing is written."""

    def __init__(self, events: _EventQueue, attached: threading.Event):
        self.events = events
        self.attached_event = attached
        self.printf_values: tuple[Any, ...] = ()  # set by LiveSession before printf
        self.specs: dict[str, MapSpec] = {}

    def attached(self, probes: int) -> None:
        self.attached_event.set()

    def printf(self, text: str, kind: str = "printf") -> None:
        """Text the script printed; join(), system() and cat() text too (as "printf")."""
        values, self.printf_values = self.printf_values, ()
        self.events.put(Event("printf", text, values))

    def maps_at_exit(self) -> None:
        pass

    def map(self, name: str, ktype: t.Type | None, vtype: t.Type, entries: list[Any],
            top: int = 0, div: int = 0) -> None:
        from ptrace.runtime.text_output import format_map

        self.events.put(Event("map", format_map(name, ktype, vtype, entries, top, div),
                              (map_value(self.specs[name], entries, top, div),), name))

    def value(self, value: Any, vtype: t.Type) -> None:
        from ptrace.runtime.values import format_value

        self.events.put(Event("print", format_value(value, vtype) + "\n",
                              (python_value(value, vtype),)))

    def lost_events(self, count: int) -> None:
        self.events.put(Event("lost", f"Lost {count} events\n", (count,)))

    def benchmarks(self, results: list[tuple[str, int, int]]) -> None:
        for name, average_ns, runs in results:
            self.events.put(Event("benchmark", f"{name} {average_ns} ns {runs}\n",
                                  (name, average_ns, runs)))

    def test_result(self, names: Any, results: Any) -> None:
        """--test's reports: the library runs no tests (its mode is a run's)."""

    def time(self, text: str) -> None:
        self.events.put(Event("time", text))

    def message(self, kind: str, text: str, location: str, context: str) -> None:
        self.events.put(Event(kind, text, (), None, location))

    def helper_error(self, helper: str, retcode: int, text: str, location: str,
                     context: str) -> None:
        """-k's warning that a helper failed: a "warnf" event."""
        self.message("warnf", text, location, context)

    def flush(self) -> None:
        pass


def _api_session(program: CompiledProgram, options: Any, target: Any,
                 output: _EventOutput) -> Any:
    """A LiveSession (ptrace/live.py) for the API: printf's arguments as Python
    values, the maps read as Python values (`snapshot`), and the maps at the end
    kept (`final`), read before the probes are detached.

    Built here rather than at import: the runtime is imported only for a run.
    """
    from ptrace.live import LiveSession
    from ptrace.runtime.values import decode

    class ApiSession(LiveSession):
        def __init__(self) -> None:
            super().__init__(program, sys.stdout, sys.stderr, options, target, output)
            self.final: dict[str, Any] | None = None

        def snapshot(self) -> dict[str, Any]:
            """Every map of the script as a Python value, read now; after the run,
            the maps as they were when it ended."""
            with self.lock:
                if self.final is not None or self.loaded is None:
                    return dict(self.final or {})
                return self._read_maps()

        def _read_maps(self) -> dict[str, Any]:
            return {spec.name: map_value(spec, entries)
                    for spec, entries in self.read_all() if entries}

        def _on_event(self, record: bytes) -> None:
            if not self.exited:
                kind, site = EVENT_HEADER.unpack_from(record)
                fmt = self.program.printf_formats[site] if kind == EventKind.PRINTF else None
                if fmt is not None and fmt.kind == "printf":
                    output.printf_values = tuple(
                        python_value(decode(record, arg.offset, arg.type), arg.type)
                        for arg in fmt.args)
            super()._on_event(record)

        def _finish(self) -> None:
            with self.lock:  # while the stacks can still be read
                self.final = self._read_maps()
            super()._finish()

        def _detach(self) -> None:
            with self.lock:
                if self.final is None:
                    self.final = {}
            super()._detach()

    return ApiSession()


class Trace:
    """A script running in the background (see `trace()`); a context manager that
    stops the run when it is left."""

    def __init__(self, source: str | Source, args: Sequence[str | int] = (), *,
                 unsafe: bool = False, settings: Mapping[str, int | str | bool] | None = None,
                 pid: int | None = None, command: str | None = None,
                 max_events: int | None = MAX_EVENTS):
        from ptrace.runtime.features import load_problem

        if max_events is not None and max_events < 0:
            raise Error(f"max_events must be 0 or more (None: no limit), not {max_events}")
        if isinstance(source, str):
            source = Source("<script>", source)
        self.source = source
        self.program = compile_script(source, args, settings=settings, unsafe=unsafe, pid=pid,
                                      has_command=command is not None)
        problem = load_problem()
        if problem:
            raise RunError(problem)
        self.warnings = self.program.warnings
        self._events = _EventQueue(max_events)
        self._drops_told = False
        self._attached = threading.Event()
        self._output = _EventOutput(self._events, self._attached)
        self._output.specs = {spec.name: spec for spec in self.program.maps}
        self._pid, self._command = pid, command
        self._session: Any = None
        self._lock = threading.Lock()
        self._stop_asked = False
        self._error: BaseException | None = None
        self._exit_code = 0
        self._ended = threading.Event()
        self._thread: threading.Thread | None = None
        self._signals_received: list[int] = []  # before the session had started
        self._signal_handlers = contextlib.ExitStack()

    # ---- starting and stopping ----
    def start(self) -> Trace:
        """Load and attach the probes, in a worker thread; return once they are
        attached (or the run has ended, or failed: then RunError). A script with
        self:signal probes must be started in the main thread, which takes the
        signals for the run until it ends (ScriptError elsewhere)."""
        from ptrace.runtime.session import RunOptions, probe_signals

        program = replace(self.program, print_maps_on_exit=False)  # read, not printed
        if program.signals:
            if threading.current_thread() is not threading.main_thread():
                raise ScriptError([_signal_probe_elsewhere(self.source, program)])
            self._signal_handlers.enter_context(probe_signals(program.signals, self._deliver))
        ready = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(program, RunOptions(), ready),
                                        name="ptrace-run", daemon=True)
        self._thread.start()
        try:
            ready.wait()
            while not (self._attached.wait(0.05) or self._ended.is_set()):
                pass
        except BaseException:  # Ctrl-C while starting: the run stops before it goes on
            self.stop()
            self.wait()
            raise
        if self._error is not None and self._ended.is_set():
            self._raise()
        return self

    def _work(self, program: CompiledProgram, options: Any, ready: threading.Event) -> None:
        from ptrace.runtime.target import Target

        try:
            target = None
            if self._pid is not None:
                target = Target.existing(self._pid)
            elif self._command is not None:
                target = Target.command(self._command)
            session = _api_session(program, options, target, self._output)
            with self._lock:
                self._session = session
                if self._stop_asked:
                    session.stop()
                for signum in self._signals_received:
                    session.deliver(signum)
        except BaseException as error:
            self._error = error
            self._ended.set()
            ready.set()
            self._events.close()
            return
        ready.set()
        try:
            self._exit_code = self._session.run()
        except BaseException as error:
            self._error = error
        finally:
            self._ended.set()
            self._events.close()

    def stop(self) -> None:
        """End the run as Ctrl-C ends the CLI's: END probes run, the maps are kept.
        Asked before the session exists, it stops as soon as it does."""
        with self._lock:
            self._stop_asked = True
            session = self._session
        if session is not None:
            session.stop()

    def _deliver(self, signum: int) -> None:
        """A signal of a self:signal probe (in the main thread): for the session, or
        kept until it exists."""
        with self._lock:
            if self._session is None:
                self._signals_received.append(signum)
            else:
                self._session.deliver(signum)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the run ends (exit(), the -c command ending, `stop()`), at most
        `timeout` seconds; whether it has ended."""
        ended = self._ended.wait(timeout)
        if ended and self._thread is not None:
            self._thread.join()
            if threading.current_thread() is threading.main_thread():
                self._signal_handlers.close()  # the signals' handlers as they were
        return ended

    def __enter__(self) -> Trace:
        return self.start() if self._thread is None else self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
        self.wait()
        if kind is None and self._error is not None:
            self._raise()
        self._tell_drops()

    def _raise(self) -> None:
        from ptrace.runtime.errors import RuntimeFailure
        from ptrace.runtime.libbcc import LibraryMissing

        error = self._error
        assert error is not None
        if isinstance(error, RuntimeFailure | LibraryMissing):
            raise RunError(str(error)) from None
        raise error

    # ---- what it gives ----
    @property
    def running(self) -> bool:
        return self._thread is not None and not self._ended.is_set()

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """The events as they come, until the run ends or `timeout` seconds have
        passed since the call (None: until the run ends)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            try:
                event = self._events.get(left)
            except TimeoutError:
                return
            if event is None:
                return
            yield event

    def maps(self) -> dict[str, Any]:
        """The maps now, by name, without stopping the run (after it: as it ended).
        Empty maps are left out."""
        return {} if self._session is None else dict(self._session.snapshot())

    def result(self) -> Result:
        """The run's result, once it has ended (RunError if the machine refused it)."""
        if not self._ended.is_set():
            raise Error("the run has not ended: stop() it or wait() for it first")
        self.wait()
        if self._error is not None:
            self._raise()
        self._tell_drops()
        return Result(self.maps(), self._events.take_all(), self._exit_code, self.warnings,
                      self.dropped_events)

    @property
    def dropped_events(self) -> int:
        """How many events were dropped because `max_events` were waiting to be taken."""
        return self._events.dropped

    def _tell_drops(self) -> None:
        """A warning, once, when the run has ended, if events were dropped."""
        if self._events.dropped and not self._drops_told:
            self._drops_told = True
            warnings.warn(f"ptrace: {self._events.dropped} events were dropped: "
                          f"{self._events.limit} were waiting to be taken (read t.events() "
                          "while the run goes on, or give trace() a larger max_events)",
                          RuntimeWarning, stacklevel=3)

    @property
    def exit_code(self) -> int:
        return self._exit_code


def _signal_probe_elsewhere(source: Source, program: CompiledProgram) -> Diagnostic:
    """The error for a script with self:signal probes started outside the main thread,
    located at its first such probe."""
    from ptrace.diagnostics import Severity, Span
    from ptrace.probe_kinds import ProbeKind

    location = next(p.location for p in program.programs if p.attach.kind == ProbeKind.SIGNAL)
    line, col = (int(part) for part in location.rsplit(":", 2)[1:])
    text = source.line(line)
    end = col
    while end <= len(text) and text[end - 1] not in " \t{,/":
        end += 1
    return Diagnostic(Severity.ERROR, "self:signal probes need the trace to be started in "
                      "the main thread", Span(source, line, col, line, max(end, col + 1)),
                      ("signals reach only the main thread of a process; start the trace "
                       "there, or leave the probe out",))


def trace(source: str | Source, args: Sequence[str | int] = (), *, unsafe: bool = False,
          settings: Mapping[str, int | str | bool] | None = None, pid: int | None = None,
          command: str | None = None, max_events: int | None = MAX_EVENTS) -> Trace:
    """A script to run in the background: `with trace(source) as t:` compiles it,
    attaches its probes and returns; `t.events()`, `t.maps()` read it while it runs;
    leaving the block stops it.

    `args` are what follows the script on the CLI's command line: the positional
    parameters ($1, $2, …) and the named options getopt() reads (`--name=value`);
    `settings` the config keys (max_map_keys, …); `pid` or `command` the process
    to trace (-p, -c); `unsafe` allows system(), signal() and the like. At most
    `max_events` events wait to be taken (None: no limit); past it, events are
    dropped and counted (`dropped_events`, and a RuntimeWarning when the run is
    left). Raises ScriptError (with the located
    diagnostics) when the script does not compile, RunError when the machine
    refuses it, Error for a bad setting.
    """
    return Trace(source, args, unsafe=unsafe, settings=settings, pid=pid, command=command,
                 max_events=max_events)


def run(source: str | Source, args: Sequence[str | int] = (), *,
        duration: float | None = None, unsafe: bool = False,
        settings: Mapping[str, int | str | bool] | None = None, pid: int | None = None,
        command: str | None = None, max_events: int | None = None) -> Result:
    """Run a script to its end and return its maps and events.

    The run ends when the script calls exit(), when it has only BEGIN/END probes,
    when the traced command ends, after `duration` seconds, or at Ctrl-C
    (KeyboardInterrupt in the calling thread stops it like the CLI: END runs and
    the maps are kept). The other arguments are `trace()`'s, but `max_events`
    is None by default: every event is kept for the Result.
    """
    # Ctrl-C (KeyboardInterrupt) ends the run, as in the CLI, and leaving the block stops it.
    with Trace(source, args, unsafe=unsafe, settings=settings, pid=pid, command=command,
               max_events=max_events) as running, contextlib.suppress(KeyboardInterrupt):
        running.wait(duration)
    return running.result()
