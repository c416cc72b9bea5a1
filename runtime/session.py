"""A run of a compiled program: load, BEGIN, attach, events, END, print, detach.

Whatever ends the run (exit(), Ctrl-C, SIGTERM, an error) goes through the
same `finally`: results are printed first, then every fd is closed, so the
user never waits for teardown and nothing stays in the kernel.
"""

from __future__ import annotations

import ctypes
import gc
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TextIO

from ptrace.runtime import libbcc, stacks
from ptrace.runtime.attach import attach, run_iterator
from ptrace.runtime.cpus import online_cpus, possible_cpus
from ptrace.runtime.errors import RuntimeFailure
from ptrace.runtime.loader import Loaded, close_all, load
from ptrace.runtime.maps import PERCPU_TYPES, Entry, raw_entries, read_map
from ptrace.runtime.output import (
    Benchmark,
    CapturedOutput,
    HeldOutput,
    Output,
    TestResult,
    TextOutput,
    new_output,
)
from ptrace.runtime.printf import BatchPrintf, batch_printf, render
from ptrace.runtime.ringbuf_reader import RingBuffer
from ptrace.runtime.stacks import StackReader
from ptrace.runtime.target import Target
from ptrace.runtime.values import decode, format_value

from ptrace.launch import STOP_SIGNALS  # they end a run as Ctrl-C does
from ptrace.probe_kinds import KINDS, ProbeKind, Runs
from ptrace.program import (
    COUNTER_LOST_EVENTS,
    COUNTERS_FIXED,
    DIVISION_BY_ZERO,
    EVENT_HEADER,
    EXIT_CODE,
    GLOBAL_CPID,
    GLOBAL_NCPUS,
    GLOBAL_ONLINE_CPUS,
    GLOBAL_START_NS,
    GLOBAL_STOPPED,
    GLOBAL_TAI_OFFSET,
    HELPER_ERROR,
    BpfProgram,
    CompiledProgram,
    EventKind,
    event_header,
)
from ptrace.types import types as t

CAT_LIMIT = 1 << 20  # cat() prints at most this many bytes of a file

POLL_MS = 100
LOST_CHECK_S = 1.0
DRAIN_S = 0.5  # after a stop, the events waiting are printed for at most this long
# --mode bench: each bench probe runs for this long, at least this many times, in
# batches of this many runs between which what it printed is taken.
BENCH_S = 0.2
BENCH_MIN_RUNS = 1000
BENCH_BATCH = 100


@dataclass
class RunOptions:
    quiet: bool = False  # no "Attached N probes"
    json: bool = False  # -f json
    dry_run: bool = False  # load but attach nothing and run nothing
    # run: the probes attached; bench: each bench: probe run over and over, timed;
    # test: each test: probe run once, a test.
    mode: str = "run"
    verbose: bool = False
    # Called once the probes are attached, before anything BEGIN or the probes
    # printed is written (the CLI's notice to programs that drive it).
    on_attached: Callable[[], None] | None = None


class Session:
    def __init__(self, program: CompiledProgram, out: TextIO, err: TextIO,
                 options: RunOptions | None = None, target: Target | None = None,
                 output: Output | None = None):
        self.program = program
        self.out = out
        self.err = err
        self.options = options or RunOptions()
        self.output: Output = output or new_output(out, err, self.options.json,
                                                   self.options.quiet)
        self.libs = libbcc.load()
        self.target = target  # -p PID or -c CMD: uprobes follow it, the run ends with it
        self.loaded: Loaded | None = None
        self.warned: set[int] = set()  # division sites that have warned
        self.perf_fds: list[int] = []
        self.iterator_links: list[int] = []  # of iter probes (also in perf_fds)
        self.signals_received: list[int] = []  # that self:signal probes are waiting for
        self.ringbuf: RingBuffer | None = None
        self.exit_code = 0
        self.stopping = False  # exit() was called or a signal arrived: leave the loop
        self.exited = False  # exit() was called: later events are dropped, as in bpftrace
        self.lost_reported = 0
        self.dropped_at_stop = 0  # events still waiting when the drain's time ran out

    # ---- the run ----
    def run(self) -> int:
        with _stop_signals(self.stop), probe_signals(self.program.signals, self.deliver):
            try:
                self.loaded = load(self.libs, self.program, self.options.verbose)
                if self.options.dry_run:
                    return 0
                self._write_global(GLOBAL_START_NS, time.monotonic_ns())
                self._write_global(GLOBAL_NCPUS, possible_cpus())
                self._write_global(GLOBAL_ONLINE_CPUS, len(online_cpus()))
                self._write_global(GLOBAL_TAI_OFFSET, tai_offset())
                if self.target is not None:
                    self._write_global(GLOBAL_CPID, self.target.pid)
                stacks.use(StackReader(self.libs, {
                    limit: self.loaded.map_fds[index]
                    for limit, index in self.program.stack_maps},
                    self.program.debug_dirs if self.program.show_debug_info else None))
                self.ringbuf = RingBuffer(self.loaded.map_fds[self.program.ringbuf_map],
                                          self.program.maps[self.program.ringbuf_map].max_entries,
                                          self._on_event, self._batch_sites(), self._printed)
                self._begin_and_attach()
                if self.options.mode == "bench" and not self.stopping:
                    self._run_benchmarks()
                if self.options.mode == "test" and not self.stopping:
                    self._run_tests()
                if not self.stopping:
                    if self.target is not None:
                        self.target.release()
                    if self.iterator_links:
                        self._run_iterators()
                    if not self.stopping and (self.program.attached_programs or self.target
                                              or self.program.signals):
                        self._event_loop()
                self._run_signal_probes()  # signals that arrived with the stop
                self._write_global(GLOBAL_STOPPED, 1)  # probes stop before END runs
                self._drain()
                self.exited = False
                self._run_kind(ProbeKind.END)
                self._finish()
            finally:
                stacks.use(None)
                self._detach()
                if self.target is not None:
                    self.target.finish()
        return self.exit_code

    def stop(self) -> None:
        """End the run as Ctrl-C does: END runs, the maps print. Callable from another
        thread: the REPL runs a cell in a worker thread and stops it from its prompt."""
        self.stopping = True

    def deliver(self, signum: int) -> None:
        """A signal of a self:signal probe arrived; its programs run from the event
        loop. Callable from another thread (the REPL's main thread takes the
        signals of a cell running in a worker)."""
        self.signals_received.append(signum)

    def _begin_and_attach(self) -> None:
        """Run BEGIN, then attach the other probes (also after BEGIN's exit(), as
        bpftrace does, but not after a signal). What BEGIN prints comes after the
        "Attached N probes" line, as in bpftrace. When a probe fails to attach,
        none of it is shown: bpftrace runs BEGIN only once every probe is attached."""
        held = HeldOutput(self.output)
        self.output = held
        try:
            self._run_kind(ProbeKind.BEGIN)
            if not self.stopping or self.exited:
                self._attach_all()
        except RuntimeFailure:
            held.drop()
            raise
        finally:
            self.output = held.release()

    def _attach_all(self) -> None:
        assert self.loaded is not None
        programs = list(zip(self.program.programs, self.loaded.prog_fds, strict=True))
        # The kernel runs the uprobes of one address newest first: attaching the
        # user-space probes last to first runs them in the script's order.
        user = [p for p in programs if KINDS[p[0].attach.kind].user_space]
        for prog, fd in [p for p in programs if not KINDS[p[0].attach.kind].user_space] \
                + user[::-1]:
            if KINDS[prog.attach.kind].runs == Runs.TEST_RUN:
                continue
            pid = self.target.pid if self.target is not None else -1
            fds = attach(self.libs, fd, prog.attach, pid)
            self.perf_fds.extend(fds)
            if KINDS[prog.attach.kind].runs == Runs.ITERATED:
                self.iterator_links.extend(fds)
        self.output.attached(sum(p.attach.probe_count for p in self.program.programs))
        if self.options.on_attached is not None:
            self.options.on_attached()

    def _event_loop(self) -> None:
        assert self.ringbuf is not None
        next_lost_check = time.monotonic() + LOST_CHECK_S
        while not self.stopping:
            self.ringbuf.poll(POLL_MS)
            self._run_signal_probes()
            self.output.flush()
            if self.target is not None and not self.target.alive():
                self.ringbuf.consume()  # what it did before it ended
                break
            if time.monotonic() >= next_lost_check:
                self._report_lost()
                self._remember_user_stacks()
                next_lost_check = time.monotonic() + LOST_CHECK_S

    def _drain(self) -> None:
        """Take the events still in the buffer: they happened before the stop.

        After exit() they are dropped (bpftrace does the same); after Ctrl-C,
        SIGTERM or the -c command's end they are printed for at most DRAIN_S,
        so that a flood cannot hold the stop up; the ones left then are
        dropped and reported as lost. When the -c command ended by itself, every
        event it left is printed (no more come: the probes have stopped), unless
        a stop is asked for meanwhile.
        """
        if self.ringbuf is None:
            return
        if self.exited:
            self.ringbuf.discard()
            return
        if not self.stopping:  # the run ended with its command: the probes have stopped,
            while self.ringbuf.consume() and not self.stopping:  # so this ends
                pass
        if self.ringbuf.consume(DRAIN_S):
            self.dropped_at_stop = self.ringbuf.discard()

    def _run_iterators(self) -> None:
        """Run each iter probe's iterator to its end, taking events as they come;
        then the run ends, as in bpftrace."""
        assert self.ringbuf is not None
        for link in self.iterator_links:
            if not self.stopping:
                run_iterator(self.libs, link, self._iterator_step)
        self._catch_up()
        self.stopping = True

    def _iterator_step(self) -> bool:
        """Between two reads of an iterator: take its events; whether to read on."""
        self._catch_up()
        return not self.stopping

    def _catch_up(self) -> None:
        """Take the events waiting, pass after pass, until none is left or a stop
        is asked for."""
        assert self.ringbuf is not None
        while self.ringbuf.consume() and not self.stopping:
            pass

    def _run_signal_probes(self) -> None:
        """Run the self:signal probes of the signals received since the last call."""
        while self.signals_received and not self.exited:
            self._run_kind(ProbeKind.SIGNAL, self.signals_received.pop(0))
        self.signals_received.clear()

    def _run_kind(self, kind: ProbeKind, signal_number: int = 0) -> None:
        """Run BEGIN, END or a signal's programs in order with BPF_PROG_TEST_RUN, then
        take their events."""
        assert self.loaded is not None and self.ringbuf is not None
        for prog, fd in zip(self.program.programs, self.loaded.prog_fds, strict=True):
            if prog.attach.kind != kind or prog.attach.signal != signal_number:
                continue
            self._test_run(prog, fd)()
            if kind == ProbeKind.SIGNAL:
                self._catch_up()  # the probes run on: the event loop takes the rest
            else:
                while self.ringbuf.consume():  # nothing else runs: take all it printed
                    pass
            self.output.flush()

    def _test_run(self, prog: BpfProgram, fd: int) -> Callable[[], int]:
        """A function that runs a test-run program once with BPF_PROG_TEST_RUN and
        gives what it returned."""
        ctx = ctypes.create_string_buffer(max(prog.ctx_size, 8))
        opts = libbcc.TestRunOpts(sz=ctypes.sizeof(libbcc.TestRunOpts),
                                  ctx_in=ctypes.addressof(ctx), ctx_size_in=max(prog.ctx_size, 8))
        test_run, by_ref = self.libs.libbpf.bpf_prog_test_run_opts, ctypes.byref(opts)

        def run() -> int:
            if test_run(fd, by_ref) != 0:
                raise RuntimeFailure(f"cannot run the {prog.attach.probe} probe: "
                                     f"{_strerror(libbcc.errno())}")
            return int(opts.retval)
        return run

    def _run_benchmarks(self) -> None:
        """--mode bench: run each bench: probe, in the script's order, over and over
        for BENCH_S (at least BENCH_MIN_RUNS times); then print each one's average
        time per run, BPF_PROG_TEST_RUN's system call included."""
        assert self.loaded is not None and self.ringbuf is not None
        results: list[Benchmark] = []
        for prog, fd in zip(self.program.programs, self.loaded.prog_fds, strict=True):
            if prog.attach.kind != ProbeKind.BENCH:
                continue
            run, runs, spent = self._test_run(prog, fd), 0, 0
            while not self.stopping and (runs < BENCH_MIN_RUNS or spent < BENCH_S * 1e9):
                start = time.perf_counter_ns()
                for _ in range(BENCH_BATCH):
                    run()
                spent += time.perf_counter_ns() - start
                runs += BENCH_BATCH
                while self.ringbuf.consume():  # what it printed, between batches
                    pass
                self.output.flush()
            results.append((prog.attach.event, spent // max(runs, 1), runs))
        self.output.benchmarks(results)
        self.output.flush()

    def _run_tests(self) -> None:
        """--test: run each test: probe once, in the script's order. A test fails
        when its program returns other than 0 (`return 1`), reports an error
        (errorf(), a failed assert()) or calls exit() with a code other than 0;
        its exit() ends the test, not the run. What a test prints is kept, and
        shown when it fails. The run's exit status is 1 when a test failed."""
        assert self.loaded is not None and self.ringbuf is not None
        tests = [(prog, fd) for prog, fd in zip(self.program.programs, self.loaded.prog_fds,
                                                 strict=True)
                 if prog.attach.kind == ProbeKind.TEST]
        names = [prog.attach.event for prog, _ in tests]
        results: list[TestResult] = []
        for prog, fd in tests:
            if self.stopping:
                break
            captured = CapturedOutput(getattr(self.output, "warnings", True))
            outer, self.output = self.output, captured
            try:
                start = time.perf_counter_ns()
                returned = self._test_run(prog, fd)()
                duration = time.perf_counter_ns() - start
                while self.ringbuf.consume():  # what it printed
                    pass
            finally:
                self.output = outer
            exited, code = self.exited, self.exit_code
            if exited:  # its exit() ended the test only
                self.stopping = self.exited = False
                self.exit_code = 0
            passed = returned == 0 and captured.errors == 0 and not (exited and code)
            results.append(TestResult(prog.attach.event, passed, duration,
                                      captured.text.getvalue()))
            self.output.test_result(names, results)
            self.output.flush()
        if not all(result.passed for result in results):
            self.exit_code = 1

    def _finish(self) -> None:
        """Print what the run gathered: the maps, and any limits that were hit."""
        if self.program.print_maps_on_exit:
            self.output.maps_at_exit()
            for index in self.program.user_maps:
                self._print_map(index)
        self.output.flush()
        self._report_lost(final=True)
        self._report_full_maps()

    def _detach(self) -> None:
        close_all(self.perf_fds)
        if self.ringbuf is not None:
            self.ringbuf.close()
            self.ringbuf = None
        if self.loaded is not None:
            self.loaded.close()
            self.loaded = None

    # ---- events ----
    def _on_event(self, record: bytes) -> None:
        if self.exited:
            return
        kind, site = EVENT_HEADER.unpack_from(record)
        if kind == EventKind.PRINTF:
            self._printf(site, record)
        elif kind == EventKind.EXIT:
            self.exit_code = int(decode(record, EXIT_CODE.offset, EXIT_CODE.type)) & 0xFF
            self.stopping = self.exited = True
        elif kind == EventKind.PRINT_MAP:
            spec = self.program.print_sites[site]
            self._print_map(spec.map_index, spec.top, spec.div, called=True)
        elif kind == EventKind.PRINT_VALUE:
            arg = self.program.print_sites[site].value
            assert arg is not None
            self.output.value(decode(record, arg.offset, arg.type), arg.type)
        elif kind == EventKind.CLEAR:
            self._clear(site, zero=False)
        elif kind == EventKind.ZERO:
            self._clear(site, zero=True)

    def _batch_sites(self) -> dict[int, BatchPrintf]:
        """The printf sites the reader formats many records at a time, by their
        records' first word: text output only (JSON wraps each line)."""
        if type(self.output) is not TextOutput:
            return {}
        sites = {}
        for site, fmt in enumerate(self.program.printf_formats):
            if fmt.kind != "printf":
                continue
            batch = batch_printf(fmt.segments, [
                (arg.offset, isinstance(arg.type, t.Int) and not isinstance(arg.type, t.Enum))
                for arg in fmt.args])
            if batch is not None:
                sites[event_header(EventKind.PRINTF, site)] = batch
        return sites

    def _printed(self, text: str) -> None:
        """A run of printf records' text (the reader formatted them)."""
        if not self.exited:
            self.output.printf(text)

    def _printf(self, site: int, record: bytes) -> None:
        """A formatted call: printf, errorf, warnf, system or time."""
        fmt = self.program.printf_formats[site]
        if fmt.kind == "time":
            (text,) = fmt.segments
            assert isinstance(text, str)
            self.output.time(time.strftime(text))
            return
        if fmt.kind == "join":
            count, *strings = (decode(record, arg.offset, arg.type) for arg in fmt.args)
            (separator,) = fmt.segments
            assert isinstance(separator, str)
            self.output.printf(separator.join(strings[:count]) + "\n", "join")
            return
        args: list[int | str | bytes] = []
        conversions = [s for s in fmt.segments if not isinstance(s, str)]
        for conv, arg in zip(conversions, fmt.args, strict=True):
            value = decode(record, arg.offset, arg.type)
            if conv.takes == "int" or (isinstance(arg.type, t.Int)
                                       and not isinstance(arg.type, t.Enum)):
                args.append(int(value))
            elif conv.takes == "buffer":
                args.append(value)
            else:
                args.append(format_value(value, arg.type))
        text = render(fmt.segments, args)
        if fmt.kind == "printf":
            self.output.printf(text)
        elif fmt.kind == "system":
            import subprocess  # (with selectors, signal, …: only for system())

            self.output.flush()
            ran = subprocess.run(text, shell=True, capture_output=True, text=True,
                                 errors="surrogateescape", check=False)
            self.output.printf(ran.stdout, "syscall")
            self.err.write(ran.stderr)
        elif fmt.kind == "cat":
            self.output.printf(_file_text(text, self.err), "cat")
        elif fmt.kind == DIVISION_BY_ZERO:
            if site not in self.warned:  # once per site: it may happen at every event
                self.warned.add(site)
                self.output.message("warnf", text, fmt.location, fmt.context)
        elif fmt.kind == HELPER_ERROR:  # its return code, or none for a missing map key
            helper = fmt.segments[0]
            assert isinstance(helper, str)
            retcode = int(decode(record, fmt.args[0].offset, fmt.args[0].type)) if fmt.args else 0
            self.output.helper_error(helper, retcode, text, fmt.location, fmt.context)
        else:
            self.output.message(fmt.kind, text, fmt.location, fmt.context)

    # ---- maps ----
    def _print_map(self, index: int, top: int = 0, div: int = 0, called: bool = False) -> None:
        """Print a map now, unless it is empty. A map without keys that print()
        is `called` on before it holds a value prints its type's zero (as
        bpftrace: `@: 0`, `@: (0, )`)."""
        assert self.loaded is not None
        spec = self.program.maps[index]
        assert spec.value_type is not None
        with _not_collecting():
            entries = read_map(self.libs, self.loaded.map_fds[index], spec)
            if not entries and called and spec.key_type is None \
                    and not isinstance(spec.value_type, t.Aggregation):
                entries = [Entry(None, decode(bytes(spec.value_size), 0, spec.value_type))]
            if entries:
                self.output.map(spec.name, spec.key_type, spec.value_type, entries, top, div)

    def _remember_user_stacks(self) -> None:
        """Build symbol caches for the processes whose user stacks and usym()
        values maps hold (as keys or values), while they live: a process that
        has exited by the time maps print cannot be read."""
        assert self.loaded is not None
        for index in self.program.user_maps:
            spec = self.program.maps[index]
            key_type = spec.key_type if _has_user_stack(spec.key_type) else None
            value_type = spec.value_type if _has_user_stack(spec.value_type) else None
            if key_type is None and value_type is None:
                continue
            for key, values in raw_entries(self.libs, self.loaded.map_fds[index], spec):
                held = [decode(key, 0, key_type)] if key_type is not None else []
                if value_type is not None:
                    held.extend(decode(value, 0, value_type) for value in values)
                for pid in _user_pids(tuple(held)):
                    stacks.SYMBOLS.remember(pid)

    def _clear(self, index: int, zero: bool) -> None:
        assert self.loaded is not None
        spec = self.program.maps[index]
        fd = self.loaded.map_fds[index]
        keys = [key for key, _ in raw_entries(self.libs, fd, spec)]
        size = ((spec.value_size + 7) & ~7) * possible_cpus() \
            if spec.map_type in PERCPU_TYPES else spec.value_size
        zeros = ctypes.create_string_buffer(size)
        for key in keys:
            kbuf = ctypes.create_string_buffer(key, len(key))
            if zero:
                self.libs.bcc.bpf_update_elem(fd, kbuf, zeros, 0)
            else:
                self.libs.bcc.bpf_delete_elem(fd, kbuf)

    def _write_global(self, slot: int, value: int) -> None:
        assert self.loaded is not None
        key = ctypes.c_uint32(slot)
        val = ctypes.c_uint64(value)
        fd = self.loaded.map_fds[self.program.globals_map]
        self.libs.bcc.bpf_update_elem(fd, ctypes.byref(key), ctypes.byref(val), 0)

    def _counter(self, slot: int) -> int:
        assert self.loaded is not None
        fd = self.loaded.map_fds[self.program.counters_map]
        ncpus = possible_cpus()
        buf = ctypes.create_string_buffer(8 * ncpus)
        key = ctypes.c_uint32(slot)
        if self.libs.bcc.bpf_lookup_elem(fd, ctypes.byref(key), buf) != 0:
            return 0
        return sum(int.from_bytes(buf.raw[i * 8:i * 8 + 8], "little") for i in range(ncpus))

    def _report_lost(self, final: bool = False) -> None:
        lost = self._counter(COUNTER_LOST_EVENTS) + self.dropped_at_stop
        if lost > self.lost_reported:
            self.output.lost_events(lost - self.lost_reported)
            self.output.flush()
            self.lost_reported = lost
        if final and lost:
            self.err.write(f"WARNING: Total lost event count: {lost}\n")

    def _report_full_maps(self) -> None:
        for slot, index in enumerate(self.program.user_maps):
            refused = self._counter(COUNTERS_FIXED + slot)
            if refused:
                spec = self.program.maps[index]
                size = f"{spec.max_entries} {'entry' if spec.max_entries == 1 else 'entries'}"
                why = f"{size}, as declared" if spec.declared else f"{size}; raise max_map_keys"
                self.err.write(f"WARNING: {refused} update{'s' if refused != 1 else ''} of "
                               f"{spec.name} {'were' if refused != 1 else 'was'} dropped: the "
                               f"map is full ({why})\n")


def tai_offset() -> int:
    """CLOCK_TAI - CLOCK_BOOTTIME in ns: the boot clock read between two reads
    of TAI, taken against their mean (the program adds it to the boot clock)."""
    before = time.clock_gettime_ns(time.CLOCK_TAI)
    boot = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    after = time.clock_gettime_ns(time.CLOCK_TAI)
    return (before + after) // 2 - boot


def _has_user_stack(vtype: t.Type | None) -> bool:
    """Whether values of the type hold user addresses: a ustack or a usym()."""
    if isinstance(vtype, t.Stack):
        return vtype.user
    if isinstance(vtype, t.Tuple | t.Record | t.StructValue):
        return any(_has_user_stack(e) for e in vtype.elements)
    return isinstance(vtype, t.Usym)


def _user_pids(value: object) -> list[int]:
    """The processes whose addresses a value's user stacks and usym()s hold."""
    if isinstance(value, stacks.StackRef):
        return [value.pid] if value.type.user else []
    if isinstance(value, stacks.UserSymbol):
        return [value.pid]
    if isinstance(value, tuple):
        return [pid for item in value for pid in _user_pids(item)]
    return []


def _strerror(code: int) -> str:
    import os

    return os.strerror(code) if code else "unknown error"


def _file_text(path: str, err: TextIO) -> str:
    """What cat() prints: the file's contents, or nothing and a warning."""
    try:
        with open(path, "rb") as f:
            return f.read(CAT_LIMIT).decode("utf-8", "surrogateescape")
    except OSError as error:
        err.write(f"warning: cat: cannot read {path}: {error.strerror}\n")
    except ValueError:  # a NUL in the path
        err.write(f"warning: cat: cannot read {path!r}: the path holds a NUL byte\n")
    return ""


@contextmanager
def _stop_signals(on_stop: object) -> Iterator[None]:
    """While running, SIGINT, SIGTERM and SIGHUP ask the session to stop instead of
    killing it (a self:signal:SIGHUP probe takes SIGHUP instead).

    Signals reach only the main thread: a run in another thread is stopped by
    whoever started it, through `Session.stop`.
    """
    assert callable(on_stop)
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        on_stop()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def probe_signals(signals: frozenset[int], on_signal: Callable[[int], None]) -> Iterator[None]:
    """While running, the signals of self:signal probes are handed to `on_signal`
    (a run in another thread than the main one cannot take signals)."""
    if not signals or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        on_signal(signum)

    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(program: CompiledProgram, options: RunOptions | None = None,
        out: TextIO | None = None) -> int:
    return Session(program, out or sys.stdout, sys.stderr, options).run()


@contextmanager
def _not_collecting() -> Iterator[None]:
    """The garbage collector paused: a printed map makes an object or more per
    entry and no cycles, and a 100,000-key map would otherwise set off hundreds
    of collections, the last ones walking every object of the process."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
