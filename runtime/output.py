"""Where a run's results go: text as bpftrace prints it, or JSON lines (-f json).

The session calls one `Output`; each format decides how a printf, a map, a
value or a count of lost events looks.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from ptrace.runtime.maps import Entry, Histogram, Stats, divide, ordered
from ptrace.runtime.text_output import format_map
from ptrace.runtime.tseries import json_rows
from ptrace.runtime.values import Value, format_value

from ptrace.types import types as t

# --mode bench: a bench probe's name, its average time per run (ns), its runs.
Benchmark = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class TestResult:
    """--test: how one test: probe's run went."""

    __test__ = False  # not a pytest test class
    name: str  # the probe's NAME
    passed: bool
    duration_ns: int
    output: str  # what it printed (errors included), shown when it failed


class Output(Protocol):
    def attached(self, probes: int) -> None: ...
    def printf(self, text: str, kind: str = "printf") -> None:
        """Text the program printed: by printf, or (kind) join, system ("syscall") or cat."""
        ...
    def maps_at_exit(self) -> None:
        """Before the maps printed when the program ends."""
        ...
    def map(self, name: str, ktype: t.Type | None, vtype: t.Type, entries: Sequence[Entry],
            top: int = 0, div: int = 0) -> None: ...
    def value(self, value: Value, vtype: t.Type) -> None: ...
    def lost_events(self, count: int) -> None: ...
    def time(self, text: str) -> None: ...
    def benchmarks(self, results: list[Benchmark]) -> None:
        """--mode bench: each bench probe's average time per run, and its runs."""
        ...
    def test_result(self, names: Sequence[str], results: Sequence[TestResult]) -> None:
        """--test: after each test, the results so far (the last one is new) of
        the tests `names`, in the script's order."""
        ...
    def message(self, kind: str, text: str, location: str, context: str) -> None:
        """errorf() or warnf(): the message, where the call is, its marked line."""
        ...
    def helper_error(self, helper: str, retcode: int, text: str, location: str,
                     context: str) -> None:
        """-k: a BPF helper failed (returned `retcode`, a negative errno) at `location`;
        `text` says so ("probe_read_user failed: Bad address")."""
        ...
    def flush(self) -> None: ...


def new_output(out: TextIO, err: TextIO, as_json: bool, quiet: bool = False,
               warnings: bool = True) -> Output:
    """A run's output: JSON lines on `out` (-f json), or text on `out` with
    "Attached N probes" and messages on `err`. Without `warnings` (--no-warnings),
    warnf()'s and -k's messages are left out."""
    output = JsonOutput(out, quiet) if as_json else TextOutput(out, err, quiet)
    output.warnings = warnings
    return output


class HeldOutput:
    """An output that holds what is written to it until `release()`, except the
    "Attached N probes" line, which passes at once. What BEGIN prints is held
    while the probes attach, so that, as in bpftrace, the line comes first."""

    def __init__(self, output: Output):
        self.output = output
        self.held: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def attached(self, probes: int) -> None:
        self.output.attached(probes)

    def flush(self) -> None:
        """Nothing is written before the release."""

    def __getattr__(self, name: str) -> Any:
        def hold(*args: Any, **kwargs: Any) -> None:
            self.held.append((name, args, kwargs))
        return hold

    def drop(self) -> None:
        """Forget what was held: it is never written."""
        self.held.clear()

    def release(self) -> Output:
        """Write what was held, in order; the output to use from now on."""
        for name, args, kwargs in self.held:
            getattr(self.output, name)(*args, **kwargs)
        self.held.clear()
        self.output.flush()
        return self.output


class TextOutput:
    warnings = True  # whether warnf()'s and -k's messages are shown

    def __init__(self, out: TextIO, err: TextIO, quiet: bool = False):
        self.out, self.err, self.quiet = out, err, quiet

    def attached(self, probes: int) -> None:
        if not self.quiet:
            self.err.write(f"Attached {probes} probe{'s' if probes != 1 else ''}\n")
            self.err.flush()

    def printf(self, text: str, kind: str = "printf") -> None:
        self.out.write(text)

    def maps_at_exit(self) -> None:
        self.out.write("\n\n")

    def map(self, name: str, ktype: t.Type | None, vtype: t.Type, entries: Sequence[Entry],
            top: int = 0, div: int = 0) -> None:
        self.out.write(format_map(name, ktype, vtype, entries, top, div))

    def value(self, value: Value, vtype: t.Type) -> None:
        self.out.write(format_value(value, vtype) + "\n")

    def benchmarks(self, results: list[Benchmark]) -> None:
        self.out.write(f"{'Benchmark':<41}{'Time(ns)':<15}Iterations\n{'-' * 66}\n")
        for name, average_ns, runs in results:
            self.out.write(f"{name:<41}{average_ns:<15}{runs}\n")

    def test_result(self, names: Sequence[str], results: Sequence[TestResult]) -> None:
        """As bpftrace (googletest's layout, without its colours): a line for the
        run and one for its outcome, a failed test's output between them; after
        the last test, the counts and the failed tests' names."""
        result = results[-1]
        if len(results) == 1:
            self.out.write(f"[==========] Running {_counted(len(names), 'test')}.\n")
        self.out.write(f"[ RUN      ] {result.name}\n")
        if not result.passed:
            self.out.write("".join(f"{line}\n" for line in result.output.splitlines() if line))
        self.out.write(f"[{'       OK ' if result.passed else '  FAILED  '}] {result.name} "
                       f"({_duration(result.duration_ns)})\n")
        if len(results) < len(names):
            return
        failed = [r.name for r in results if not r.passed]
        self.out.write(f"[==========] {_counted(len(results), 'test')} ran.\n"
                       f"[  PASSED  ] {_counted(len(results) - len(failed), 'test')}.\n")
        if failed:
            self.out.write(f"[  FAILED  ] {_counted(len(failed), 'test')}, listed below:\n")
            self.out.write("".join(f"[  FAILED  ] {name}\n" for name in failed))

    def lost_events(self, count: int) -> None:
        self.out.write(f"Lost {count} events\n")

    def time(self, text: str) -> None:
        self.out.write(text)

    def message(self, kind: str, text: str, location: str, context: str) -> None:
        if kind != "errorf" and not self.warnings:
            return
        self.out.flush()
        word = "error" if kind == "errorf" else "warning"
        self.err.write(f"{location}: {word}: {text.rstrip(chr(10))}\n{context}\n")
        self.err.flush()

    def helper_error(self, helper: str, retcode: int, text: str, location: str,
                     context: str) -> None:
        self.message("warnf", text, location, context)

    def flush(self) -> None:
        self.out.flush()


class JsonOutput:
    """One JSON object per line: {"type": …, "data": …}, as bpftrace's -f json."""

    warnings = True  # whether warnf()'s and -k's messages are shown

    def __init__(self, out: TextIO, quiet: bool = False):
        self.out, self.quiet = out, quiet

    def _emit(self, kind: str, data: Any, **fields: Any) -> None:
        record = {"type": kind, **fields, "data": data}
        self.out.write(json_text(record) + "\n")

    def attached(self, probes: int) -> None:
        if not self.quiet:
            self._emit("attached_probes", {"probes": probes}, count=probes)

    def printf(self, text: str, kind: str = "printf") -> None:
        self._emit(kind, text)

    def maps_at_exit(self) -> None:
        pass

    def map(self, name: str, ktype: t.Type | None, vtype: t.Type, entries: Sequence[Entry],
            top: int = 0, div: int = 0) -> None:
        kind = "hist" if isinstance(vtype, t.Hist | t.Lhist) else \
            "stats" if isinstance(vtype, t.Stats | t.Avg) else \
            "tseries" if isinstance(vtype, t.TSeries) else "map"
        rows = ordered(vtype, entries, top)
        if isinstance(vtype, t.TSeries):
            self._emit(kind, {name: _json_series(rows, ktype, vtype)})
            return
        if ktype is None:
            data = _json_result(rows[0].value, vtype, div)
        else:
            data = {_json_key(e.key, ktype): _json_result(e.value, vtype, div) for e in rows}
        self._emit(kind, {name: data})

    def value(self, value: Value, vtype: t.Type) -> None:
        self._emit("value", _json_value(value, vtype))

    def benchmarks(self, results: list[Benchmark]) -> None:
        for name, average_ns, runs in results:
            self._emit("benchmark_result", {name: {"average": average_ns, "iters": runs}})

    def test_result(self, names: Sequence[str], results: Sequence[TestResult]) -> None:
        result = results[-1]
        self._emit("test_result", {result.name: {"duration": result.duration_ns,
                                                 "passed": result.passed,
                                                 "output": result.output}})

    def lost_events(self, count: int) -> None:
        self._emit("lost_events", {"events": count})

    def time(self, text: str) -> None:
        self._emit("time", text)

    def message(self, kind: str, text: str, location: str, context: str) -> None:
        if kind != "errorf" and not self.warnings:
            return
        self._emit(kind, {"message": text, "location": location})

    def helper_error(self, helper: str, retcode: int, text: str, location: str,
                     context: str) -> None:
        """bpftrace 0.26's record: the error's text, the helper (named as libbpf
        does, `probe_read_user`), its return value (0 for a map read at a key
        it does not hold), and where the call is, without "data"."""
        if not self.warnings:
            return
        filename, line, col = location.rsplit(":", 2)
        # A missing map key (retcode 0) is told in the warning's own words.
        message = os.strerror(-retcode) if retcode else text.removeprefix(helper).strip()
        record = {"type": "helper_error", "msg": message,
                  "helper": helper.removeprefix("bpf_"),
                  "retcode": retcode, "filename": filename, "line": int(line),
                  "col": int(col)}
        self.out.write(json_text(record) + "\n")

    def flush(self) -> None:
        self.out.flush()


class CapturedOutput(TextOutput):
    """--test: what one test prints, kept as text (its messages too, in order),
    and the errors it reported (errorf(), a failed assert())."""

    def __init__(self, warnings: bool):
        self.text = io.StringIO()
        super().__init__(self.text, self.text, quiet=True)
        self.warnings = warnings
        self.errors = 0

    def message(self, kind: str, text: str, location: str, context: str) -> None:
        if kind == "errorf":
            self.errors += 1
        super().message(kind, text, location, context)


def _counted(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _duration(ns: int) -> str:
    """A test's time in its largest unit that is at least 1, as bpftrace names them."""
    for unit, scale in (("s", 10**9), ("ms", 10**6), ("μs", 10**3)):
        if ns >= scale:
            return f"{ns // scale} {unit}"
    return f"{ns} ns"


def json_text(value: Any) -> str:
    """One JSON value as bpftrace 0.26 writes it: objects with ", " and ": " between
    their parts, arrays (tuples, buckets, stacks) compact: {"@": [1,2,"x"]}."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {json_text(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _json_result(value: Any, vtype: t.Type, div: int) -> Any:
    if isinstance(value, Histogram):
        assert isinstance(vtype, t.Hist | t.Lhist)
        return _json_buckets(value, vtype)
    if isinstance(value, Stats):
        if isinstance(vtype, t.Stats):
            return {"count": value.count, "average": divide(value.average, div),
                    "total": divide(value.total, div)}
        return divide(value.average, div)
    if isinstance(vtype, t.Aggregation | t.Int):
        return divide(value, div)
    return _json_value(value, vtype)


def _json_series(rows: Sequence[Entry], ktype: t.Type | None, vtype: t.TSeries) -> Any:
    last = max((e.value.last_epoch for e in rows), default=0)
    if ktype is None:
        return json_rows(rows[0].value, vtype, last) if rows else []
    return {_json_key(e.key, ktype): json_rows(e.value, vtype, last) for e in rows}


def _json_buckets(hist: Histogram, vtype: t.Hist | t.Lhist) -> list[dict[str, int]]:
    """Buckets as closed intervals, from the first to the last non-empty one."""
    used = [b for b, c in hist.buckets.items() if c]
    rows: list[dict[str, int]] = []
    for bucket in range(min(used), max(used) + 1) if used else ():
        low, high = vtype.bounds(bucket)
        row: dict[str, int] = {}
        if low is not None:
            row["min"] = low
        if high is not None:
            row["max"] = high - 1
        row["count"] = hist.buckets.get(bucket, 0)
        rows.append(row)
    return rows


def _json_value(value: Value, vtype: t.Type) -> Any:
    if isinstance(vtype, t.Formatted | t.Inet | t.Buf | t.Usym):
        return format_value(value, vtype)
    if isinstance(vtype, t.Array):
        return [_json_value(v, vtype.element) for v in value]
    if isinstance(vtype, t.Stack):  # frames, one string each
        return [line.strip() for line in format_value(value, vtype).split("\n") if line.strip()]
    if isinstance(vtype, t.Tuple):
        return [_json_value(v, e) for v, e in zip(value, vtype.elements, strict=True)]
    if isinstance(vtype, t.Record | t.StructValue):
        return {n: _json_value(v, e) for n, v, e in zip(vtype.names, value, vtype.elements,
                                                         strict=True)}
    return value


def _json_key(key: Value, ktype: t.Type) -> str:
    """Map keys are strings; tuple keys join their elements with commas. Enums
    are numbers in JSON (as in bpftrace: only printf text names them)."""
    if isinstance(ktype, t.Tuple):
        return ",".join(_json_key(k, e) for k, e in zip(key, ktype.elements, strict=True))
    if isinstance(ktype, t.Enum):
        return str(key)
    return format_value(key, ktype)
