"""Attach points as written → concrete probe targets.

Input: the program's probes. Output: one `ProbeInstance` per concrete target
(a wildcard tracepoint gives one per match), each to become one BPF program.
Unknown providers, malformed attach points and tracepoints that do not exist
are diagnostics here.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import re

from ptrace.ast import nodes as n
from ptrace.ast.visitor import walk
from ptrace.diagnostics import Reporter
from ptrace.machine import Machine, match_tracepoints
from ptrace.parse.literals import LiteralError, parse_integer
from ptrace.passes.context import CompileContext, ProbeInstance
from ptrace.program import Attach
from ptrace.usdt import UsdtProbe

PROVIDER_ALIASES = {
    "t": "tracepoint", "i": "interval", "p": "profile", "k": "kprobe", "kr": "kretprobe",
    "u": "uprobe", "ur": "uretprobe", "U": "usdt", "s": "software", "h": "hardware",
    "w": "watchpoint", "f": "fentry", "fr": "fexit", "kfunc": "fentry", "kretfunc": "fexit",
    "rt": "rawtracepoint", "it": "iter",
}
SUPPORTED = ("begin", "end", "tracepoint", "interval", "profile", "uprobe", "uretprobe",
             "usdt", "rawtracepoint", "software", "hardware", "kprobe", "kretprobe", "fentry",
             "fexit", "watchpoint", "iter", "self")
PERF_TYPE_HARDWARE = 0
PERF_TYPE_SOFTWARE = 1
# watchpoint modes → HW_BREAKPOINT_R, _W, _X bits; lengths in bytes.
WATCHPOINT_MODES = {"r": 1, "w": 2, "x": 4}
WATCHPOINT_LENGTHS = (1, 2, 4, 8)
# BPF iterators (iter:NAME): each runs a program per object. Its ctx is a
# struct bpf_iter__NAME of 8-byte slots; the object that ends the iteration
# when NULL is at this offset.
ITERATORS = {"task": 8, "task_file": 24, "task_vma": 16}
# self:signal:NAME: the signals ptrace can take for its own probes (SIGINT and
# SIGTERM stop the run; the others' default actions would end it).
SELF_SIGNALS = {"SIGUSR1": 10, "SIGUSR2": 12, "SIGHUP": 1}
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
_UNITS_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


# A syscall wildcard matching at least this many tracepoints becomes one raw
# tracepoint program on sys_enter/sys_exit that dispatches on the syscall
# number: it attaches in milliseconds and detaches at once, where hundreds of
# tracepoint attachments take ~70 ms each to close.
SYSCALL_DISPATCH_MIN = 8


def _copy_probe(probe: n.Probe) -> n.Probe:
    """A copy of the probe's tree for another instance: what the later passes
    record per node (printf layouts, field offsets, constants) differs between
    instances, and they record it by node identity. Spans stay shared."""
    memo: dict[int, object] = {}
    for node in walk(probe):
        memo[id(node.span)] = node.span
    return copy.deepcopy(probe, memo)


def expand_probes(ctx: CompileContext) -> None:
    # A probe that does not exist: an error by default; with missing_probes
    # = warn or ignore it is left out (if something else remains to attach).
    missing = ctx.reporter if ctx.options.missing_probes == "error" else Reporter()
    for probe in ctx.program.probes:
        uses_args = any(isinstance(node, n.Identifier) and node.name == "args"
                        for node in walk(probe))
        body = probe
        for point in probe.attach_points:
            attaches = _expand(point, ctx.machine, ctx.reporter, missing,
                               ctx.options.has_command, ctx.options.pid)
            if not uses_args:
                attaches = _dispatch_syscalls(point, attaches, ctx.machine)
            for attach in attaches:
                ctx.instances.append(ProbeInstance(body, attach, len(ctx.instances)))
                body = _copy_probe(probe)
    _check_iterators(ctx)
    if missing is ctx.reporter:
        return
    if ctx.options.missing_probes == "warn":
        for d in missing.diagnostics:
            ctx.reporter.warning(d.message, d.span, *d.hints)
    if not ctx.instances and missing.diagnostics:
        first = missing.diagnostics[0]
        ctx.reporter.error("none of the script's probes exist on this machine", first.span,
                           first.message)


def _dispatch_syscalls(point: n.AttachPoint, attaches: list[Attach],
                       machine: Machine) -> list[Attach]:
    """Fold many syscalls:sys_enter_*/sys_exit_* tracepoints into dispatching programs.

    Syscalls missing from the machine's syscall table keep their own program.
    """
    numbers = machine.syscall_numbers()
    out: list[Attach] = []
    for direction in ("sys_enter", "sys_exit"):
        group = [a for a in attaches if a.kind == "tracepoint" and a.category == "syscalls"
                 and a.event.startswith(direction + "_")]
        known = [(numbers[a.event[len(direction) + 1:]], a.probe) for a in group
                 if a.event[len(direction) + 1:] in numbers]
        if len(known) < SYSCALL_DISPATCH_MIN:
            continue
        out.append(Attach("syscalls", point.text, category="syscalls", event=direction,
                          syscalls=tuple(sorted(known))))
        folded = {probe for _, probe in known}
        attaches = [a for a in attaches if a.probe not in folded]
    return out + attaches


def _check_iterators(ctx: CompileContext) -> None:
    """An iterator runs once over its objects, then the run ends: as in bpftrace,
    it is the script's only probe besides BEGIN and END."""
    iterators = [i for i in ctx.instances if i.attach.kind == "iter"]
    others = [i for i in ctx.instances if i.attach.kind not in ("iter", "begin", "end")]
    if iterators and (others or len(iterators) > 1):
        span = (iterators[1] if len(iterators) > 1 else others[0]).probe.span
        ctx.reporter.error("an iter probe must be the script's only probe besides BEGIN and "
                           "END", span, f"the iterator is {iterators[0].attach.probe}")


def _expand(point: n.AttachPoint, machine: Machine, reporter: Reporter,
            missing: Reporter, has_process: bool, pid: int) -> list[Attach]:
    """The attach targets of one attach point. Malformed points are reported to
    `reporter`; well-formed ones that match nothing on this machine to `missing`.
    `has_process`: the run has a process to watch (-p or -c); `pid`: the -p one."""
    text = point.text
    if text in ("BEGIN", "begin"):
        return [Attach("begin", "BEGIN")]
    if text in ("END", "end"):
        return [Attach("end", "END")]
    provider, _, rest = text.partition(":")
    provider = PROVIDER_ALIASES.get(provider, provider)
    parts = rest.split(":")
    if provider == "tracepoint":
        return _tracepoints(point, parts, machine, reporter, missing)
    if provider in ("uprobe", "uretprobe"):
        return _uprobes(point, provider, rest, machine, reporter, missing)
    if provider == "usdt":
        return _usdt(point, rest, machine, reporter, missing, pid)
    if provider == "rawtracepoint":
        return _raw_tracepoint(point, parts, machine, reporter, missing)
    if provider in ("software", "hardware"):
        attach = _perf_event(point, provider, parts, reporter)
        return [attach] if attach else []
    if provider in ("kprobe", "kretprobe"):
        return _kprobe(point, provider, rest, machine, reporter, missing)
    if provider in ("fentry", "fexit"):
        return _fentry(point, provider, rest, machine, reporter, missing)
    if provider in ("interval", "profile"):
        attach = _timer(point, provider, parts, reporter)
        return [attach] if attach else []
    if provider == "watchpoint":
        attach = _watchpoint(point, parts, reporter, has_process)
        return [attach] if attach else []
    if provider == "iter":
        return _iterator(point, parts, machine, reporter, missing)
    if provider == "self":
        attach = _self(point, parts, reporter)
        return [attach] if attach else []
    known = sorted(set(SUPPORTED) - {"begin", "end"})
    close = difflib.get_close_matches(provider, known, n=1)
    hints = [f"did you mean '{close[0]}'?"] if close else [f"probe types: {', '.join(known)}"]
    reporter.error(f"unknown probe type '{provider}'", point.span, *hints)
    return []


def _tracepoints(point: n.AttachPoint, parts: list[str], machine: Machine,
                 reporter: Reporter, missing: Reporter) -> list[Attach]:
    if len(parts) != 2 or not all(parts):
        reporter.error("a tracepoint is written 'tracepoint:category:event'", point.span)
        return []
    category, event = parts
    matches = match_tracepoints(machine, category, event)
    if not matches and not machine.tracepoints():
        reporter.error("the kernel's tracepoints cannot be read: /sys/kernel/tracing is not "
                       "mounted or not readable", point.span,
                       "run as root; scripts/setup mounts tracefs")
        return []
    if not matches:
        if "*" in point.text or "?" in point.text:
            missing.error(f"no tracepoint matches '{category}:{event}'", point.span)
        else:
            names = [f"{c}:{e}" for c, e in machine.tracepoints()]
            close = difflib.get_close_matches(f"{category}:{event}", names, n=3)
            hints = [f"did you mean {' or '.join(repr(c) for c in close)}?"] if close else []
            missing.error(f"tracepoint '{category}:{event}' does not exist", point.span,
                          *hints)
        return []
    return [Attach("tracepoint", f"tracepoint:{c}:{e}", category=c, event=e)
            for c, e in matches]


def _uprobes(point: n.AttachPoint, provider: str, rest: str, machine: Machine,
             reporter: Reporter, missing: Reporter) -> list[Attach]:
    """uprobe:BINARY:FUNC, :FUNC+OFFSET, :0xADDRESS, :GLOB; BINARY a path, a
    program on PATH or a library by name (libc)."""
    binary, _, target = rest.rpartition(":")
    if not binary or not target:
        reporter.error(f"a {provider} is written '{provider}:/path/to/binary:function'",
                       point.span)
        return []
    path = machine.resolve_binary(binary)
    if path is None:
        missing.error(f"'{binary}' is not a file, a program on PATH or a library", point.span)
        return []
    if re.fullmatch(r"0x[0-9a-fA-F]+", target):
        address = int(target, 16)
        return [Attach(provider, f"{provider}:{path}:{target}", binary=path, address=address)]
    symbols = machine.function_symbols(path)
    if symbols is None:
        reporter.error(f"cannot read the symbols of {path} (not an ELF binary?)", point.span)
        return []
    names = [s.name for s in symbols]
    symbol, plus, offset_text = target.partition("+")
    offset = _offset(offset_text, point, reporter) if plus else 0
    if offset is None:
        return []
    if "*" in symbol or "?" in symbol:
        matched = [name for name in names if fnmatch.fnmatchcase(name, symbol)]
        if not matched:
            missing.error(f"no function of {path} matches '{symbol}'", point.span)
        return [Attach(provider, f"{provider}:{path}:{name}", binary=path, symbol=name)
                for name in matched]
    if symbol not in names:
        close = difflib.get_close_matches(symbol, names, n=3)
        missing.error(f"{path} has no function '{symbol}'", point.span,
                      *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                        if close else []))
        return []
    name = f"{provider}:{path}:{target}"
    return [Attach(provider, name, binary=path, symbol=symbol, offset=offset)]


def _usdt(point: n.AttachPoint, rest: str, machine: Machine, reporter: Reporter,
          missing: Reporter, pid: int) -> list[Attach]:
    """usdt:BINARY:PROVIDER:PROBE or usdt:BINARY:PROBE, with wildcards in both
    names: one program per probe site (a probe may have several). With -p the
    binary may be left out (usdt:PROBE, usdt::PROBE, usdt::PROVIDER:PROBE): the
    probe is looked for in the process's executable and the libraries it has
    loaded, as bpftrace does."""
    binary, *names = rest.split(":")
    if pid and not names:
        binary, names = "", [binary]
    if len(names) not in (1, 2) or not all(names) or not (binary or pid):
        reporter.error("a usdt probe is written 'usdt:/path/to/binary:provider:probe' or "
                       "'usdt:/path/to/binary:probe'", point.span,
                       *(["without a binary (usdt::provider:probe), it needs -p PID"]
                         if not binary and all(names) else []))
        return []
    provider, name = names if len(names) == 2 else ("*", names[0])
    sites = _usdt_sites(point, binary, pid, machine, reporter, missing)
    if sites is None:
        return []
    where, found = sites
    if not found:
        missing.error(f"{where} has no USDT probes", point.span)
        return []
    written = ":".join(names)
    matched = [(path, p) for path, p in found if fnmatch.fnmatchcase(p.provider, provider)
               and fnmatch.fnmatchcase(p.name, name)]
    if not matched:
        if "*" in written or "?" in written:
            missing.error(f"no USDT probe of {where} matches '{written}'", point.span)
        else:
            known = sorted({f"{p.provider}:{p.name}" for _, p in found}
                           | {p.name for _, p in found})
            close = difflib.get_close_matches(written, known, n=3)
            missing.error(f"{where} has no USDT probe '{written}'", point.span,
                          *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                            if close else []))
        return []
    providers = sorted({p.provider for _, p in matched})
    if len(names) == 1 and len(providers) > 1 and "*" not in name and "?" not in name:
        reporter.error(f"USDT probe '{name}' of {where} is in more than one provider: "
                       f"{', '.join(providers)}", point.span,
                       f"name the provider, as in usdt:{binary}:{providers[0]}:{name}")
        return []
    return [Attach("usdt", f"usdt:{path}:{p.provider}:{p.name}", binary=path, offset=p.offset,
                   address=p.address, usdt_args=p.args, usdt_symbols=p.symbols,
                   ref_ctr_offset=p.semaphore)
            for path, p in sorted(matched, key=lambda m: (m[1].provider, m[1].name, m[0],
                                                          m[1].address))]


def _usdt_sites(point: n.AttachPoint, binary: str, pid: int, machine: Machine,
                reporter: Reporter, missing: Reporter
                ) -> tuple[str, list[tuple[str, UsdtProbe]]] | None:
    """Where the probes are looked for (a path, or "process PID"), and the USDT
    probe sites there with the path of each: those of the binary, or (no binary)
    of every file the -p process has mapped. None after a diagnostic."""
    if not binary:
        paths = machine.process_binaries(pid)
        if paths is None:
            reporter.error(f"cannot read the mappings of process {pid} (it does not exist?)",
                           point.span)
            return None
        return f"process {pid}", [(path, p) for path in paths
                                  for p in machine.usdt_probes(path) or []]
    path = machine.resolve_binary(binary)
    if path is None:
        missing.error(f"'{binary}' is not a file, a program on PATH or a library", point.span)
        return None
    probes = machine.usdt_probes(path)
    if probes is None:
        reporter.error(f"cannot read the USDT probes of {path} (not an ELF binary?)",
                       point.span)
        return None
    return path, [(path, p) for p in probes]


def _offset(text: str, point: n.AttachPoint, reporter: Reporter) -> int | None:
    """The offset after `function+` in an attach point (None, reported, if it is not one)."""
    try:
        return parse_integer(text)
    except LiteralError:
        reporter.error(f"'{text}' is not an offset", point.span)
        return None


def _raw_tracepoint(point: n.AttachPoint, parts: list[str], machine: Machine,
                    reporter: Reporter, missing: Reporter) -> list[Attach]:
    """rawtracepoint:EVENT (a category before the event is accepted and ignored)."""
    event = parts[-1] if parts and parts[-1] else ""
    if not event or len(parts) > 2:
        reporter.error("a raw tracepoint is written 'rawtracepoint:event'", point.span)
        return []
    events = sorted({e for _, e in machine.tracepoints()})
    if event not in events:
        close = difflib.get_close_matches(event, events, n=3)
        missing.error(f"tracepoint '{event}' does not exist", point.span,
                      *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                        if close else []))
        return []
    return [Attach("rawtracepoint", f"rawtracepoint:{event}", event=event)]


def _perf_event(point: n.AttachPoint, provider: str, parts: list[str],
                reporter: Reporter) -> Attach | None:
    """software:EVENT[:COUNT] and hardware:EVENT[:COUNT]: every COUNT events, on every CPU."""
    table = SOFTWARE_EVENTS if provider == "software" else HARDWARE_EVENTS
    name = parts[0] if parts else ""
    if name not in table or len(parts) > 2:
        close = difflib.get_close_matches(name, list(table), n=1)
        reporter.error(f"unknown {provider} event '{name}'", point.span,
                       f"did you mean '{close[0]}'?" if close else
                       f"events: {', '.join(table)}")
        return None
    config, period = table[name]
    if len(parts) == 2:
        try:
            period = parse_integer(parts[1])
        except LiteralError:
            period = 0
        if period <= 0:
            reporter.error(f"{provider}:{name}'s count must be a positive number", point.span)
            return None
    return Attach(provider, f"{provider}:{name}:{period}",
                  perf_type=PERF_TYPE_SOFTWARE if provider == "software" else PERF_TYPE_HARDWARE,
                  perf_config=config, sample_period=period)


def _kprobe(point: n.AttachPoint, provider: str, rest: str, machine: Machine,
            reporter: Reporter, missing: Reporter) -> list[Attach]:
    """kprobe:FUNCTION[+OFFSET] and kretprobe:FUNCTION (kernel functions known to BTF)."""
    function, plus, offset_text = rest.partition("+")
    if not function or ":" in function:
        reporter.error(f"a {provider} is written '{provider}:function'", point.span)
        return []
    offset = _offset(offset_text, point, reporter) if plus else 0
    if offset is None:
        return []
    btf = machine.btf()
    if btf is not None and "*" not in function and btf.find(function, "func") is None:
        close = difflib.get_close_matches(function, btf.names("func"), n=3)
        missing.error(f"the kernel has no function '{function}'", point.span,
                      *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                        if close else []))
        return []
    return [Attach(provider, f"{provider}:{rest}", symbol=function, offset=offset)]


def _fentry(point: n.AttachPoint, provider: str, rest: str, machine: Machine,
            reporter: Reporter, missing: Reporter) -> list[Attach]:
    """fentry:FUNCTION and fexit:FUNCTION (a module name before it is accepted)."""
    function = rest.rpartition(":")[2]
    if not function:
        reporter.error(f"{provider} is written '{provider}:function'", point.span)
        return []
    btf = machine.btf()
    if btf is None:
        reporter.error(f"{provider} needs the kernel's BTF (/sys/kernel/btf/vmlinux)",
                       point.span)
        return []
    names = btf.names("func")
    matched = [f for f in names if fnmatch.fnmatchcase(f, function)]
    if not matched:
        close = difflib.get_close_matches(function, names, n=3)
        missing.error(f"the kernel has no function '{function}'", point.span,
                      *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                        if close else []))
        return []
    return [Attach(provider, f"{provider}:{f}", symbol=f, btf_id=btf.find(f, "func") or 0)
            for f in matched]


def _timer(point: n.AttachPoint, provider: str, parts: list[str],
           reporter: Reporter) -> Attach | None:
    """interval:s:1, interval:ms:10, interval:hz:5, interval:1s; profile likewise."""
    form = f"'{provider}:hz:99', '{provider}:s:1', '{provider}:ms:10' or '{provider}:10ms'"
    if len(parts) == 1:
        m = re.fullmatch(r"(\d+)(s|ms|us|ns|hz)?", parts[0])
        if m and (m[2] or provider == "profile"):
            unit, value = (m[2] or "hz"), m[1]
        else:
            reporter.error(f"{provider} probes are written {form}", point.span)
            return None
    elif len(parts) == 2:
        unit, value = parts
    else:
        reporter.error(f"{provider} probes are written {form}", point.span)
        return None
    try:
        count = parse_integer(value)
    except (LiteralError, ValueError):
        count = 0
    if unit not in (*_UNITS_NS, "hz"):
        reporter.error(f"unknown {provider} unit '{unit}'", point.span,
                       "units: s, ms, us, ns, hz")
        return None
    if count <= 0:
        reporter.error(f"{provider} probes are written {form}", point.span,
                       "the rate must be a positive whole number")
        return None
    if (unit != "hz" and count * _UNITS_NS[unit] >= 2**63) or (unit == "hz" and count > 10**9):
        reporter.error(f"{provider} period is too long", point.span)
        return None
    name = f"{provider}:{unit}:{count}"
    if unit == "hz":
        if provider == "profile":
            return Attach(provider, name, frequency=count)
        return Attach(provider, name, period_ns=max(1, 10**9 // count))
    return Attach(provider, name, period_ns=count * _UNITS_NS[unit])


def _watchpoint(point: n.AttachPoint, parts: list[str], reporter: Reporter,
                has_process: bool) -> Attach | None:
    """watchpoint:ADDRESS:LENGTH:MODE: a hardware breakpoint in the -p/-c process."""
    form = ("a watchpoint is written 'watchpoint:ADDRESS:LENGTH:MODE', as in "
            "watchpoint:0x10000000:8:w")
    if len(parts) != 3 or not all(parts):
        reporter.error(form, point.span)
        return None
    address_text, length_text, mode = parts
    try:
        address = parse_integer(address_text)
    except LiteralError:
        reporter.error(f"'{address_text}' is not an address", point.span, form)
        return None
    try:
        length = parse_integer(length_text)
    except LiteralError:
        length = 0
    if length not in WATCHPOINT_LENGTHS:
        reporter.error(f"a watchpoint's length is 1, 2, 4 or 8 bytes, not '{length_text}'",
                       point.span)
        return None
    if (set(mode) - set(WATCHPOINT_MODES) or len(set(mode)) != len(mode)
            or ("x" in mode and len(mode) > 1)):
        reporter.error(f"unknown watchpoint mode '{mode}'", point.span,
                       "modes: r (read), w (write), rw, or x (execute)")
        return None
    if address <= 0:
        reporter.error("a watchpoint's address must be above 0", point.span)
        return None
    if not has_process:
        reporter.error("a watchpoint watches one process: run with -p PID or -c 'COMMAND'",
                       point.span)
        return None
    mode = "".join(m for m in WATCHPOINT_MODES if m in mode)
    return Attach("watchpoint", f"watchpoint:0x{address:x}:{length}:{mode}", address=address,
                  bp_len=length, bp_type=sum(WATCHPOINT_MODES[m] for m in mode))


def _iterator(point: n.AttachPoint, parts: list[str], machine: Machine, reporter: Reporter,
              missing: Reporter) -> list[Attach]:
    """iter:task, iter:task_file, iter:task_vma: a BPF iterator over kernel objects."""
    name = parts[0]
    if len(parts) > 1:
        reporter.error("ptrace does not pin iterators: an iter probe is written 'iter:NAME'",
                       point.span)
        return []
    if name not in ITERATORS:
        close = difflib.get_close_matches(name, list(ITERATORS), n=1)
        reporter.error(f"unknown iterator '{name}'", point.span,
                       f"did you mean '{close[0]}'?" if close else
                       f"iterators: {', '.join(ITERATORS)}")
        return []
    btf = machine.btf()
    if btf is None:
        reporter.error("iter probes need the kernel's BTF (/sys/kernel/btf/vmlinux)", point.span)
        return []
    btf_id = btf.find(f"bpf_iter_{name}", "func")
    if btf_id is None:
        missing.error(f"this kernel has no {name} iterator (no bpf_iter_{name} in its BTF)",
                      point.span)
        return []
    return [Attach("iter", f"iter:{name}", event=name, btf_id=btf_id,
                   offset=ITERATORS[name])]


def _self(point: n.AttachPoint, parts: list[str], reporter: Reporter) -> Attach | None:
    """self:signal:SIGUSR1: runs when ptrace itself receives the signal."""
    if len(parts) != 2 or parts[0] != "signal" or not parts[1]:
        reporter.error("a self probe is written 'self:signal:SIGNAL', as in "
                       "self:signal:SIGUSR1", point.span)
        return None
    name = parts[1].upper()
    name = name if name.startswith("SIG") else "SIG" + name
    if name not in SELF_SIGNALS:
        reporter.error(f"ptrace cannot run a probe on signal '{parts[1]}'", point.span,
                       f"signals: {', '.join(SELF_SIGNALS)}")
        return None
    return Attach("signal", f"self:signal:{name}", event=name, signal=SELF_SIGNALS[name])
