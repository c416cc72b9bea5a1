"""Attach points as written → concrete probe targets.

Input: the program's probes. Output: one `ProbeInstance` per concrete target
(a wildcard tracepoint gives one per match), each to become one BPF program.
Unknown providers, malformed attach points and tracepoints that do not exist
are diagnostics here.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import fnmatch
import glob
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ptrace import archive
from ptrace.ast import nodes as n
from ptrace.ast.visitor import walk
from ptrace.bpf_abi import PerfType
from ptrace.diagnostics import Reporter
from ptrace.machine import Machine, match_tracepoints
from ptrace.options import too_many_probes
from ptrace.parse.literals import LiteralError, parse_integer, unescape
from ptrace.passes.context import CompileContext, ProbeInstance
from ptrace.probe_kinds import (
    BY_PROVIDER,
    HARDWARE_EVENTS,
    ITERATORS,
    KINDS,
    PROBE_TYPES,
    SELF_SIGNALS,
    SOFTWARE_EVENTS,
    ProbeKind,
)
from ptrace.program import Attach

if TYPE_CHECKING:  # (the USDT and ELF readers: imported by usdt probes only)
    from ptrace.usdt import UsdtProbe

# watchpoint modes → HW_BREAKPOINT_R, _W, _X bits; lengths in bytes.
WATCHPOINT_MODES = {"r": 1, "w": 2, "x": 4}
WATCHPOINT_LENGTHS = (1, 2, 4, 8)
# watchpoint:FUNC+argN: a function of the process's binary, an argument register.
_WATCHED_ARGUMENT = re.compile(r"([A-Za-z_][\w.$@]*)\+arg([0-5])")
EXECUTE_LENGTH = 8  # what the kernel takes for an execute breakpoint: sizeof(long)
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


# Each probe instance is type-checked and compiled on its own: a wildcard
# over hundreds of probes with a long body is that many long programs. Past
# this many syntax nodes in all the instances, the script is refused here,
# before seconds of checking (codegen's own bound, on instructions, is the
# one most scripts meet first).
MAX_COPIED_NODES = 1 << 16


def expand_probes(ctx: CompileContext) -> None:
    # A probe that does not exist: an error by default; with missing_probes
    # = warn or ignore it is left out (if something else remains to attach).
    missing = ctx.reporter if ctx.options.missing_probes == "error" else Reporter()
    probes = 0  # attach points so far (each syscall of a dispatching program is one)
    copied = 0  # syntax nodes in the instances so far
    for probe in ctx.program.probes:
        nodes = list(walk(probe))
        uses_args = any(isinstance(node, n.Identifier) and node.name == "args" for node in nodes)
        # What a uprobe's program computes from its own function's name: the
        # function's parameters, a variable's distance from the function.
        per_function = uses_args or any(isinstance(node, n.Call) and node.name == "uaddr"
                                        for node in nodes)
        # comm(pid) calls a kfunc, which the kernel refuses to a raw tracepoint's
        # program: a syscall wildcard then gets a tracepoint program per syscall.
        calls_kfunc = any(isinstance(node, n.Call) and node.name == "comm" and node.args
                          for node in nodes)
        body = probe
        for written in probe.attach_points:
            point = _with_params(written, ctx.options.params, ctx.reporter)
            if point is None:
                continue
            attaches = _expand(point, ctx.machine, ctx.reporter, missing,
                               ctx.options.has_command, ctx.options.pid, ctx.options.debuginfo,
                               ctx.options.unsafe)
            if not uses_args and not calls_kfunc:
                attaches = _dispatch_syscalls(point, attaches, ctx.machine)
            if not per_function and ctx.machine.uprobe_multi() \
                    and "uprobe_multi" not in ctx.options.no_features:
                attaches = _multi_uprobes(point, attaches, ctx.machine, ctx.options.debuginfo)
            probes += sum(a.probe_count for a in attaches)
            if probes > ctx.options.max_probes:
                _too_many_probes(ctx, point, probes)
                return
            copied += len(nodes) * len(attaches)
            if copied > MAX_COPIED_NODES:
                ctx.reporter.error(
                    "the script expands to too much code to compile: more than "
                    f"{MAX_COPIED_NODES:,} syntax nodes with this probe's copies "
                    f"({len(attaches)} of {len(nodes):,} nodes)", point.span,
                    "a narrower wildcard makes fewer copies; a shorter body makes smaller ones")
                return
            for attach in attaches:
                if attach.arms_watchpoint:  # its program only sends the address
                    ctx.instances.append(ProbeInstance(
                        n.Probe(probe.attach_points, None, n.Block((), span=probe.body.span),
                                span=probe.span), attach, len(ctx.instances)))
                    continue
                ctx.instances.append(ProbeInstance(body, attach, len(ctx.instances)))
                body = _copy_probe(probe)
    _check_iterators(ctx)
    _debug_types(ctx)
    if missing is ctx.reporter:
        return
    if ctx.options.missing_probes == "warn":
        for d in missing.diagnostics:
            ctx.reporter.warning(d.message, d.span, *d.hints)
    if not ctx.instances and missing.diagnostics:
        first = missing.diagnostics[0]
        ctx.reporter.error("none of the script's probes exist on this machine", first.span,
                           first.message)


def _too_many_probes(ctx: CompileContext, point: n.AttachPoint, probes: int) -> None:
    message, hint = too_many_probes(ctx.options.max_probes, probes)
    ctx.reporter.error(message, point.span, hint)


def _dispatch_syscalls(point: n.AttachPoint, attaches: list[Attach],
                       machine: Machine) -> list[Attach]:
    """Fold many syscalls:sys_enter_*/sys_exit_* tracepoints into dispatching programs.

    Syscalls missing from the machine's syscall table keep their own program.
    """
    numbers = machine.syscall_numbers()
    out: list[Attach] = []
    for direction in ("sys_enter", "sys_exit"):
        group = [a for a in attaches if a.kind == ProbeKind.TRACEPOINT
                 and a.category == "syscalls" and a.event.startswith(direction + "_")]
        known = [(numbers[a.event[len(direction) + 1:]], a.probe) for a in group
                 if a.event[len(direction) + 1:] in numbers]
        if len(known) < SYSCALL_DISPATCH_MIN:
            continue
        out.append(Attach(ProbeKind.SYSCALLS, point.text, category="syscalls", event=direction,
                          syscalls=tuple(sorted(known))))
        folded = {probe for _, probe in known}
        attaches = [a for a in attaches if a.probe not in folded]
    return out + attaches


def _multi_uprobes(point: n.AttachPoint, attaches: list[Attach], machine: Machine,
                   debug_dirs: tuple[str, ...]) -> list[Attach]:
    """Fold a wildcard's uprobes (or uretprobes) in one binary, when it matched
    two functions or more, into one program attached through one uprobe_multi
    link: one system call attaches them all, and one closes them all."""
    groups: dict[str, list[Attach]] = {}
    for attach in attaches:
        if attach.kind in (ProbeKind.UPROBE, ProbeKind.URETPROBE) and attach.symbol \
                and not attach.offset and attach.binary:
            groups.setdefault(attach.binary, []).append(attach)
    out: list[Attach] = []
    for binary, group in groups.items():
        if len(group) < 2:
            continue
        from ptrace.debuginfo import user_functions

        addresses = {s.name: s.address for s in user_functions(machine, binary, debug_dirs)}
        functions = tuple((symbol, addresses[symbol]) for symbol in
                          dict.fromkeys(a.symbol for a in group) if symbol in addresses)
        out.append(Attach(group[0].kind, point.text, binary=binary, functions=functions))
        folded = {a for a in group if a.symbol in addresses}
        attaches = [a for a in attaches if a not in folded]
    return out + attaches


def _debug_types(ctx: CompileContext) -> None:
    """The structs, unions and enums a uprobe's script names that neither the
    script nor the kernel defines (`(struct Foo *)arg0`): from the probed
    binary's debug information, written as BTF over the script's. Where it
    has none, the checker says the type is unknown."""
    named: dict[str, set[str]] = {}
    for instance in ctx.instances:
        if KINDS[instance.attach.kind].user_space and instance.attach.binary:
            named.setdefault(instance.attach.binary, set()).update(
                node.base for node in walk(instance.probe) if isinstance(node, n.TypeName)
                and node.base.startswith(("struct ", "union ", "enum ")))
    if not any(named.values()):
        return  # (the kernel's BTF is not loaded for scripts that name no type)
    from ptrace.types.kernel import struct_id

    btf = ctx.btf()
    wanted = {binary: {name for name in names if btf is None or struct_id(btf, name) is None}
              for binary, names in named.items()}
    from ptrace import dwarf
    from ptrace.types.btf import Btf
    from ptrace.types.btf_writer import BtfWriter

    for binary, names in wanted.items():
        try:
            info = dwarf.debug_info(binary, ctx.options.debuginfo) if names else None
            found = [die for die in map(info.find_type, sorted(names)) if die is not None] \
                if info is not None else []
        except dwarf.DwarfError:
            continue
        if found:
            base = ctx.btf()
            types = dwarf.TypeWriter(BtfWriter(base))
            for die in found:
                types.write(die)
            ctx.script_types = Btf.from_bytes(types.writer.blob(), base)


def _check_iterators(ctx: CompileContext) -> None:
    """An iterator runs once over its objects, then the run ends: as in bpftrace,
    it is the script's only probe besides BEGIN and END."""
    iterators = [i for i in ctx.instances if i.attach.kind == ProbeKind.ITER]
    others = [i for i in ctx.instances
              if i.attach.kind not in (ProbeKind.ITER, ProbeKind.BEGIN, ProbeKind.END)]
    if iterators and (others or len(iterators) > 1):
        span = (iterators[1] if len(iterators) > 1 else others[0]).probe.span
        ctx.reporter.error("an iter probe must be the script's only probe besides BEGIN and "
                           "END", span, f"the iterator is {iterators[0].attach.probe}")


@dataclass(frozen=True, slots=True)
class _Point:
    """An attach point of a known kind, being expanded, and what its expander
    may need: malformed points are reported to `reporter`, well-formed ones that
    match nothing on this machine to `missing`; `has_process`: the run has a
    process to watch (-p or -c); `pid`: the -p one."""

    node: n.AttachPoint
    kind: ProbeKind
    rest: str  # what follows `provider:`
    machine: Machine
    reporter: Reporter
    missing: Reporter
    has_process: bool
    pid: int
    debug_dirs: tuple[str, ...] = ()  # --debuginfo
    unsafe: bool = False  # --unsafe

    @property
    def provider(self) -> str:
        return KINDS[self.kind].provider

    @property
    def parts(self) -> list[str]:
        return split_attach_point(self.rest)


def split_attach_point(rest: str) -> list[str]:
    """What follows `provider:`, split at its colons. A part may be quoted,
    wholly or in pieces (`"echo_builtin"+0`, `"\\"probe1\\""`): a quoted
    piece keeps its colons, and its C escapes are processed."""
    parts: list[str] = []
    part: list[str] = []
    for piece in _QUOTED_OR_COLON.split(rest):
        if piece == ":":
            parts.append("".join(part))
            part = []
        elif piece.startswith('"') and piece.endswith('"') and len(piece) > 1:
            try:
                part.append(unescape(piece[1:-1]))
            except LiteralError:
                part.append(piece[1:-1])
        else:
            part.append(piece)
    parts.append("".join(part))
    return parts


_QUOTED_OR_COLON = re.compile(r'("(?:[^"\\]|\\.)*"|:)')


_PARAM = re.compile(r"\$(\d+)")


def _with_params(point: n.AttachPoint, params: tuple[str, ...],
                 reporter: Reporter) -> n.AttachPoint | None:
    """The attach point with its positional parameters replaced by their text;
    None (reported) if it uses one not given."""
    if "$" not in point.text:
        return point
    missing = [int(i) for i in _PARAM.findall(point.text) if not 0 < int(i) <= len(params)]
    if missing:
        reporter.error(f"the attach point uses ${missing[0]}, but {len(params)} parameter"
                       f"{' was' if len(params) == 1 else 's were'} given", point.span)
        return None
    return dataclasses.replace(
        point, text=_PARAM.sub(lambda m: params[int(m[1]) - 1], point.text))


def _expand(point: n.AttachPoint, machine: Machine, reporter: Reporter,
            missing: Reporter, has_process: bool, pid: int,
            debug_dirs: tuple[str, ...] = (), unsafe: bool = False) -> list[Attach]:
    """The attach targets of one attach point, by its kind's expander."""
    provider, colon, rest = point.text.partition(":")
    kind = BY_PROVIDER.get(provider)
    if kind is None or (colon and kind in (ProbeKind.BEGIN, ProbeKind.END)):
        _unknown_provider(point, provider, reporter)
        return []
    return EXPANDERS[kind](_Point(point, kind, rest, machine, reporter, missing, has_process,
                                  pid, debug_dirs, unsafe))


def _unknown_provider(point: n.AttachPoint, provider: str, reporter: Reporter) -> None:
    close = difflib.get_close_matches(provider, PROBE_TYPES, n=1)
    hints = [f"did you mean '{close[0]}'?"] if close else [
        f"probe types: {', '.join(PROBE_TYPES)}"]
    reporter.error(f"unknown probe type '{provider}'", point.span, *hints)


def _special(p: _Point) -> list[Attach]:
    """BEGIN and END."""
    return [Attach(p.kind, p.provider)]


def _one(expander: Callable[[_Point], Attach | None]) -> Callable[[_Point], list[Attach]]:
    """An expander of kinds that give at most one target."""
    def expand(p: _Point) -> list[Attach]:
        attach = expander(p)
        return [attach] if attach else []
    return expand


def _tracepoints(p: _Point) -> list[Attach]:
    point, parts, machine, reporter, missing = p.node, p.parts, p.machine, p.reporter, p.missing
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
    return [Attach(ProbeKind.TRACEPOINT, f"tracepoint:{c}:{e}", category=c, event=e)
            for c, e in matches]


def _uprobes(p: _Point) -> list[Attach]:
    """uprobe:BINARY:FUNC, :FUNC+OFFSET, :0xADDRESS, :GLOB, and BINARY@FILE:LINE
    (a source line, by the binary's debug information); BINARY a path, a
    program on PATH or a library by name (libc). The functions are the
    binary's symbols, and those only its separate debug file names."""
    point, provider, machine, reporter, missing = \
        p.node, p.provider, p.machine, p.reporter, p.missing
    *binary_parts, target = p.parts
    binary = ":".join(binary_parts)
    source = ""
    if "@" in binary and target.isdigit():
        binary, _, source = binary.rpartition("@")
    if not binary or not target:
        reporter.error(f"a {provider} is written '{provider}:/path/to/binary:function'",
                       point.span)
        return []
    if not source and ("*" in binary or "?" in binary):
        return _uprobes_of_binaries(p, binary, target)
    path = _binary_path(machine, binary, p.pid)
    if path is None:
        missing.error(f"'{binary}' is not a file, a program on PATH or a library", point.span)
        return []
    if not _probeable_member(p, path):
        return []
    if source:
        return _source_line(p, path, source, int(target))
    if re.fullmatch(r"0x[0-9a-fA-F]+|[0-9]+", target):
        return _uprobe_at_address(p, path, target)
    symbols = machine.function_symbols(path)
    if symbols is None:
        reporter.error(f"cannot read the symbols of {path} (not an ELF binary?)", point.span)
        return []
    symbol, plus, offset_text = target.partition("+")
    if "*" in symbol or "?" in symbol or symbol not in {s.name for s in symbols}:
        from ptrace.debuginfo import user_functions

        symbols = user_functions(machine, path, p.debug_dirs)
    names = [s.name for s in symbols]
    offset = _offset(offset_text, point, reporter) if plus else 0
    if offset is None:
        return []
    if "*" in symbol or "?" in symbol:
        matched = [name for name in names if fnmatch.fnmatchcase(name, symbol)]
        if not matched:
            missing.error(f"no function of {path} matches '{symbol}'", point.span)
        return [Attach(p.kind, f"{provider}:{path}:{name}", binary=path, symbol=name)
                for name in matched]
    if symbol not in names:
        close = difflib.get_close_matches(symbol, names, n=3)
        missing.error(f"{path} has no function '{symbol}'", point.span,
                      *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                        if close else []))
        return []
    size = max(s.size for s in symbols if s.name == symbol)
    if not size and not p.unsafe:
        reporter.error(f"cannot tell where {symbol} ends: its symbol has size 0", point.span,
                       "--unsafe attaches it anyway; a uprobe that is not at the start of an "
                       "instruction corrupts the traced process")
        return []
    if size and offset >= size:  # a size of 0 (with --unsafe): the offset is not checked
        reporter.error(f"offset {offset} is beyond the end of {symbol}, which is {size} "
                       f"bytes long", point.span)
        return []
    name = f"{provider}:{path}:{target}"
    return [Attach(p.kind, name, binary=path, symbol=symbol, offset=offset)]


def _probeable_member(p: _Point, path: str) -> bool:
    """Whether a binary inside an archive (`app.apk!/lib/libx.so`) can be
    probed: the kernel maps it straight from the archive, so it must be stored
    uncompressed. True for a plain path."""
    if archive.split(path) is None:
        return True
    try:
        stored = archive.member(path).stored
    except archive.ArchiveError as error:
        p.missing.error(str(error), p.node.span)
        return False
    if not stored:
        p.reporter.error(f"{path} is compressed in its archive: only a member stored "
                         "uncompressed can be probed", p.node.span,
                         "store it uncompressed (zip -0; an APK's native libraries "
                         "with extractNativeLibs=false)")
    return stored


def _uprobe_at_address(p: _Point, path: str, target: str) -> list[Attach]:
    """uprobe:BINARY:ADDRESS (0x4f0 or 1264): an address in the binary's code
    (an executable segment). A file that is not ELF (a flat binary)
    has no addresses: with --unsafe, ADDRESS is an offset in the file."""
    address = int(target, 0) if target.startswith("0x") else int(target)
    name = f"{p.provider}:{path}:{target}"
    code = p.machine.in_code(path, address)
    if code is None:
        if not p.unsafe:
            p.reporter.error(f"{path} is not an ELF binary: ptrace cannot check that "
                             f"0x{address:x} is the start of an instruction", p.node.span,
                             "--unsafe attaches the uprobe at that offset of the file")
            return []
        return [Attach(p.kind, name, binary=path, offset=address, flat=True)]
    if not code:
        p.reporter.error(f"the address 0x{address:x} is not in the code of {path}",
                         p.node.span, "an address is a virtual address of the binary's "
                         "executable segment, as objdump -d shows it")
        return []
    return [Attach(p.kind, name, binary=path, address=address)]


def _binary_path(machine: Machine, binary: str, pid: int) -> str | None:
    """Where BINARY is (machine.resolve_binary); with -p, an absolute path that
    is not a file here but is in the process's mount namespace (a container's
    files) is named through the process's root, `/proc/PID/root/PATH`."""
    path = machine.resolve_binary(binary)
    if path is None and pid and binary.startswith("/"):
        path = machine.resolve_binary(f"/proc/{pid}/root{binary}")
    return path


def _uprobes_of_binaries(p: _Point, binary: str, target: str) -> list[Attach]:
    """uprobe:BINARY:FUNC with a wildcard in BINARY: each file a path matches
    (`./bin/app*`), or with -p each file the process maps whose path or name
    matches (`*`, `libc*`). A binary without the function is left out; an error
    only when none has it."""
    found = _matching_binaries(p, binary)
    if found is None:
        return []
    where, paths = found
    attaches = [attach for path in paths for attach in _uprobes(dataclasses.replace(
        p, rest=f"{path}:{target}", reporter=Reporter(), missing=Reporter()))]
    if not attaches:
        p.missing.error(f"{where} has a function matching '{target}'", p.node.span)
    return attaches


def _matching_binaries(p: _Point, binary: str) -> tuple[str, list[str]] | None:
    """The files a wildcarded BINARY names: those a path matches (`./bin/app*`),
    or with -p those the process maps whose path or name matches (`*`,
    `libc*`); and how a message names none of them. None after a diagnostic."""
    if "/" in binary:
        paths = sorted(path for path in glob.glob(binary) if os.path.isfile(path))
        return f"no file matching {binary}", paths
    if p.pid:
        mapped = p.machine.process_binaries(p.pid)
        if mapped is None:
            p.reporter.error(f"cannot read the mappings of process {p.pid} (it does not "
                             "exist?)", p.node.span)
            return None
        return f"no binary of process {p.pid} matching '{binary}'", [
            path for path in mapped if fnmatch.fnmatchcase(path, binary)
            or fnmatch.fnmatchcase(os.path.basename(path), binary)]
    p.reporter.error(f"a {p.provider}'s binary '{binary}' has a wildcard: it matches "
                     "files by a path ('./bin/app*') or, with -p PID, the files the "
                     "process maps", p.node.span)
    return None


def _source_line(p: _Point, path: str, source: str, line: int) -> list[Attach]:
    """uprobe:BINARY@FILE:LINE: a uprobe where the code of the line starts (its
    lowest address, by the binary's line table)."""
    from ptrace import dwarf

    written = f"{path}@{source}:{line}"
    if p.kind != ProbeKind.UPROBE:
        p.reporter.error(f"a {p.provider} is placed on a function's return, not on a source "
                         "line", p.node.span, f"use uprobe:{written}")
        return []
    try:
        info = dwarf.debug_info(path, p.debug_dirs)
        addresses = info.line_addresses(source, line) if info is not None else []
    except dwarf.DwarfError as error:
        p.reporter.error(f"cannot read the source lines of {path}: {error}", p.node.span)
        return []
    if info is None:
        p.missing.error(f"{path} has no debug information: a probe on a source line needs "
                        "it", p.node.span,
                        "build it with -g, or install its debug file (see --debuginfo)")
        return []
    if not addresses:
        p.missing.error(f"the line table of {path} has no code at {source}:{line}",
                        p.node.span)
        return []
    return [Attach(p.kind, f"{p.provider}:{written}", binary=path, address=addresses[0])]


def _usdt(at: _Point) -> list[Attach]:
    """usdt:BINARY:PROVIDER:PROBE or usdt:BINARY:PROBE, with wildcards in both
    names and in BINARY (as for uprobes); an empty PROVIDER is any provider:
    one program per probe site (a probe may have several). With -p the binary
    may be left out (usdt:PROBE, usdt::PROBE, usdt::PROVIDER:PROBE,
    usdt:::PROBE): the probe is looked for in the process's executable and the
    libraries it has loaded, as bpftrace does."""
    point, reporter, missing, pid = at.node, at.reporter, at.missing, at.pid
    binary, *names = at.parts
    if pid and not names:
        binary, names = "", [binary]
    if len(names) not in (1, 2) or not names[-1] or not (binary or pid):
        reporter.error("a usdt probe is written 'usdt:/path/to/binary:provider:probe' or "
                       "'usdt:/path/to/binary:probe'", point.span,
                       *(["without a binary (usdt::provider:probe), it needs -p PID"]
                         if not binary and names and names[-1] else []))
        return []
    provider, name = names if len(names) == 2 and names[0] else ("*", names[-1])
    sites = _usdt_sites(at, binary)
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
    return [Attach(ProbeKind.USDT, f"usdt:{path}:{p.provider}:{p.name}", binary=path,
                   offset=p.offset, address=p.address, usdt_args=p.args, usdt_symbols=p.symbols,
                   ref_ctr_offset=p.semaphore)
            for path, p in sorted(matched, key=lambda m: (m[1].provider, m[1].name, m[0],
                                                          m[1].address))]


def _usdt_sites(at: _Point, binary: str) -> tuple[str, list[tuple[str, UsdtProbe]]] | None:
    """Where the probes are looked for (a path, a wildcarded path, or "process
    PID"), and the USDT probe sites there with the path of each: those of the
    binary, of each file a wildcarded binary matches, or (no binary) of every
    file the -p process has mapped. None after a diagnostic."""
    point, machine, pid = at.node, at.machine, at.pid
    if not binary:
        paths = machine.process_binaries(pid)
        if paths is None:
            at.reporter.error(f"cannot read the mappings of process {pid} (it does not "
                              "exist?)", point.span)
            return None
        return f"process {pid}", [(path, p) for path in paths
                                  for p in machine.usdt_probes(path) or []]
    if "*" in binary or "?" in binary:
        matching = _matching_binaries(at, binary)
        if matching is None:
            return None
        none, paths = matching
        if not paths:
            at.missing.error(none, point.span)
            return None
        return f"'{binary}'", [(path, p) for path in paths
                               for p in machine.usdt_probes(path) or []]
    path = _binary_path(machine, binary, pid)
    if path is None:
        at.missing.error(f"'{binary}' is not a file, a program on PATH or a library",
                         point.span)
        return None
    probes = machine.usdt_probes(path)
    if probes is None:
        at.reporter.error(f"cannot read the USDT probes of {path} (not an ELF binary?)",
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


def _module_loaded(p: _Point, module: str) -> bool:
    """Whether a kernel module a probe names (a pattern) is loaded; an error
    where none is. vmlinux is the kernel itself."""
    if any(fnmatch.fnmatchcase(m, module) for m in p.machine.kernel_modules()):
        return True
    p.missing.error(f"no kernel module matches '{module}' (vmlinux is the kernel itself)"
                    if "*" in module or "?" in module else
                    f"the kernel has no module '{module}' (vmlinux is the kernel itself)",
                    p.node.span)
    return False


def _raw_tracepoint(p: _Point) -> list[Attach]:
    """rawtracepoint:EVENT or rawtracepoint:MODULE:EVENT (MODULE vmlinux, the
    kernel, or a loaded module), with wildcards in both: one program per event.
    The events are the kernel's tracepoints (tracefs' events but the syscall
    tracer's, which are no tracepoints)."""
    point, parts, machine, reporter, missing = p.node, p.parts, p.machine, p.reporter, p.missing
    event = parts[-1] if parts and parts[-1] else ""
    if not event or len(parts) > 2:
        reporter.error("a raw tracepoint is written 'rawtracepoint:event' or "
                       "'rawtracepoint:module:event'", point.span)
        return []
    if len(parts) == 2 and parts[0] and not _module_loaded(p, parts[0]):
        return []
    events = sorted({e for c, e in machine.tracepoints() if c != "syscalls"})
    matched = [e for e in events if fnmatch.fnmatchcase(e, event)]
    if not matched:
        if "*" in event or "?" in event:
            missing.error(f"no raw tracepoint matches '{event}'", point.span)
            return []
        close = difflib.get_close_matches(event, events, n=3)
        missing.error(f"tracepoint '{event}' does not exist", point.span,
                      *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                        if close else []))
        return []
    # An event the kernel's BTF types (a btf_trace_EVENT typedef) is attached as
    # bpftrace 0.26 does, as a BTF tracepoint (tp_btf): a TRACING program, whose
    # arguments are BTF-typed pointers that skboutput() and socket_cookie() take.
    btf = machine.btf()
    return [Attach(ProbeKind.RAWTRACEPOINT, f"rawtracepoint:{e}", event=e,
                   btf_id=btf.find(f"btf_trace_{e}", "typedef") or 0 if btf else 0)
            for e in matched]


def _perf_event(p: _Point) -> Attach | None:
    """software:EVENT[:COUNT] and hardware:EVENT[:COUNT]: every COUNT events, on every CPU."""
    point, provider, parts, reporter = p.node, p.provider, p.parts, p.reporter
    table = SOFTWARE_EVENTS if p.kind == ProbeKind.SOFTWARE else HARDWARE_EVENTS
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
    software = p.kind == ProbeKind.SOFTWARE
    return Attach(p.kind, f"{provider}:{name}:{period}",
                  perf_type=PerfType.SOFTWARE if software else PerfType.HARDWARE,
                  perf_config=config, sample_period=period)


def _kprobe(p: _Point) -> list[Attach]:
    """kprobe:[MODULE:]FUNCTION[+OFFSET] and kretprobe:[MODULE:]FUNCTION (kernel
    functions known to BTF; a loaded module's are taken as named)."""
    point, provider, rest, machine, reporter, missing = \
        p.node, p.provider, p.rest, p.machine, p.reporter, p.missing
    module, _, function_part = rest.rpartition(":")
    function, plus, offset_text = function_part.partition("+")
    if not function or ":" in module:
        reporter.error(f"a {provider} is written '{provider}:function' or "
                       f"'{provider}:module:function'", point.span)
        return []
    if module and not _module_loaded(p, module):
        return []
    offset = _offset(offset_text, point, reporter) if plus else 0
    if offset is None:
        return []
    btf = machine.btf()
    if btf is not None and module in ("", "vmlinux") and "*" not in function \
            and btf.find(function, "func") is None:
        close = difflib.get_close_matches(function, btf.names("func"), n=3)
        missing.error(f"the kernel has no function '{function}'", point.span,
                      *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                        if close else []))
        return []
    return [Attach(p.kind, f"{provider}:{rest}", symbol=function, offset=offset)]


def _fentry(p: _Point) -> list[Attach]:
    """fentry:FUNCTION and fexit:FUNCTION (a module name before it is accepted)."""
    point, provider, rest, machine, reporter, missing = \
        p.node, p.provider, p.rest, p.machine, p.reporter, p.missing
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
    return [Attach(p.kind, f"{provider}:{f}", symbol=f, btf_id=btf.find(f, "func") or 0)
            for f in matched]


def _timer(p: _Point) -> Attach | None:
    """interval:s:1, interval:ms:10, interval:hz:5, interval:1s, interval:1000 (ns);
    profile likewise (profile:99 is a rate)."""
    point, provider, parts, reporter = p.node, p.provider, p.parts, p.reporter
    form = f"'{provider}:hz:99', '{provider}:s:1', '{provider}:ms:10' or '{provider}:10ms'"
    if len(parts) == 1:
        m = re.fullmatch(r"(\d+)(s|ms|us|ns|hz)?", parts[0])
        if m:  # a bare number: nanoseconds for interval, as bpftrace; a rate for profile
            unit, value = (m[2] or ("hz" if p.kind == ProbeKind.PROFILE else "ns")), m[1]
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
        if p.kind == ProbeKind.PROFILE:
            return Attach(p.kind, name, frequency=count)
        return Attach(p.kind, name, period_ns=max(1, 10**9 // count))
    return Attach(p.kind, name, period_ns=count * _UNITS_NS[unit])


def _watchpoint(p: _Point) -> list[Attach]:
    """watchpoint:ADDRESS:LENGTH:MODE: a hardware breakpoint in the -p/-c
    process (without one, on kernel memory); watchpoint:FUNC+argN:LENGTH:MODE,
    on the address in FUNC's argument N each time FUNC is called with a new
    one: a uprobe on FUNC in the
    process's binary sends it (and stops the process until it is watched, but
    for an asyncwatchpoint)."""
    point, parts, reporter, has_process = p.node, p.parts, p.reporter, p.has_process
    form = (f"a watchpoint is written '{p.provider}:ADDRESS:LENGTH:MODE' or "
            f"'{p.provider}:FUNCTION+argN:LENGTH:MODE', as in {p.provider}:0x10000000:8:w")
    if len(parts) != 3 or not all(parts):
        reporter.error(form, point.span)
        return []
    address_text, length_text, mode = parts
    argument = _WATCHED_ARGUMENT.fullmatch(address_text)
    address = 0
    if argument is None:
        try:
            address = parse_integer(address_text)
        except LiteralError:
            reporter.error(f"'{address_text}' is not an address, nor a function's argument "
                           "(FUNCTION+argN)", point.span, form)
            return []
        if address <= 0:
            reporter.error("a watchpoint's address must be above 0", point.span)
            return []
    try:
        length = parse_integer(length_text)
    except LiteralError:
        length = 0
    if length not in WATCHPOINT_LENGTHS:
        reporter.error(f"a watchpoint's length is 1, 2, 4 or 8 bytes, not '{length_text}'",
                       point.span)
        return []
    if (set(mode) - set(WATCHPOINT_MODES) or len(set(mode)) != len(mode)
            or ("x" in mode and len(mode) > 1)):
        reporter.error(f"unknown watchpoint mode '{mode}'", point.span,
                       "modes: r (read), w (write), rw, or x (execute)")
        return []
    if not has_process and argument is not None:
        reporter.error("a watchpoint on a function's argument watches one process: run with "
                       "-p PID or -c 'COMMAND'", point.span)
        return []
    mode = "".join(m for m in WATCHPOINT_MODES if m in mode)
    # An execute breakpoint covers one instruction, whatever the length: the
    # kernel takes it with the length of a long only, which ptrace passes (as
    # bpftrace does).
    bp_len = EXECUTE_LENGTH if mode == "x" else length
    bp_type = sum(WATCHPOINT_MODES[m] for m in mode)
    if argument is None:
        return [Attach(p.kind, f"{p.provider}:0x{address:x}:{length}:{mode}",
                       address=address, bp_len=bp_len, bp_type=bp_type)]
    function, index = argument[1], int(argument[2])
    name = f"{p.provider}:{function}+arg{index}:{length}:{mode}"
    return [Attach(p.kind, name, symbol=function, bp_len=bp_len, bp_type=bp_type,
                   watch_arg=index),
            Attach(ProbeKind.UPROBE, name, symbol=function, watch_arg=index,
                   watch_async=p.kind == ProbeKind.ASYNCWATCHPOINT)]


BPF_FS = "/sys/fs/bpf"


def _iterator(p: _Point) -> list[Attach]:
    """iter:task, iter:task_file, iter:task_vma: a BPF iterator over kernel
    objects; iter:NAME:PIN pins it to a file (a path relative to /sys/fs/bpf
    or absolute), which runs it when read."""
    point, parts, machine, reporter, missing = p.node, p.parts, p.machine, p.reporter, p.missing
    name, *pin_parts = parts
    pin = ":".join(pin_parts)
    if pin_parts and (not pin or pin.endswith("/")):
        reporter.error("an iter probe's pin is a file: 'iter:NAME:/sys/fs/bpf/FILE' or "
                       "'iter:NAME:FILE' (in /sys/fs/bpf)", point.span)
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
    probe = f"iter:{name}" + (f":{pin}" if pin else "")
    if pin and not pin.startswith("/"):
        pin = f"{BPF_FS}/{pin}"
    return [Attach(ProbeKind.ITER, probe, event=name, btf_id=btf_id, offset=ITERATORS[name],
                   pin=pin)]


def _named(p: _Point) -> Attach | None:
    """bench:NAME (run over and over and timed, with --mode bench) and test:NAME
    (run once, a test, with --test)."""
    if not re.fullmatch(r"[A-Za-z_]\w*", p.rest):
        p.reporter.error(f"a {p.provider} probe is written '{p.provider}:NAME', NAME a word",
                         p.node.span)
        return None
    return Attach(p.kind, f"{p.provider}:{p.rest}", event=p.rest)


def _self(p: _Point) -> Attach | None:
    """self:signal:SIGUSR1: runs when ptrace itself receives the signal."""
    point, parts, reporter = p.node, p.parts, p.reporter
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
    return Attach(ProbeKind.SIGNAL, f"self:signal:{name}", event=name, signal=SELF_SIGNALS[name])


Expander = Callable[[_Point], list[Attach]]
# One per kind scripts write: its attach points → its targets.
EXPANDERS: dict[ProbeKind, Expander] = {
    ProbeKind.BEGIN: _special,
    ProbeKind.END: _special,
    ProbeKind.TRACEPOINT: _tracepoints,
    ProbeKind.RAWTRACEPOINT: _raw_tracepoint,
    ProbeKind.KPROBE: _kprobe,
    ProbeKind.KRETPROBE: _kprobe,
    ProbeKind.UPROBE: _uprobes,
    ProbeKind.URETPROBE: _uprobes,
    ProbeKind.USDT: _usdt,
    ProbeKind.PROFILE: _one(_timer),
    ProbeKind.INTERVAL: _one(_timer),
    ProbeKind.SOFTWARE: _one(_perf_event),
    ProbeKind.HARDWARE: _one(_perf_event),
    ProbeKind.WATCHPOINT: _watchpoint,
    ProbeKind.ASYNCWATCHPOINT: _watchpoint,
    ProbeKind.FENTRY: _fentry,
    ProbeKind.FEXIT: _fentry,
    ProbeKind.ITER: _iterator,
    ProbeKind.BENCH: _one(_named),
    ProbeKind.TEST: _one(_named),
    ProbeKind.SIGNAL: _one(_self),
}
