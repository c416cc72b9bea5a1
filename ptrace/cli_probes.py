"""What can be probed on this machine: `ptrace -l` (which probes exist) and
`ptrace --info` (which probe types work here, and why not).

Listing reads through a `Machine`, so tests list a `FixtureMachine`'s
tracepoints. The checks behind --info are the runtime's
(`ptrace.runtime.features`); this module prints them.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import sys
from typing import TYPE_CHECKING

from ptrace import __version__
from ptrace.probe_kinds import BY_PROVIDER, KINDS, PROBE_TYPES, Args, Catalogue, ProbeKind
from ptrace.streams import entry_point, finish, write_out

if TYPE_CHECKING:  # (`ptrace -l PATTERN` imports none of these)
    from collections.abc import Callable

    from ptrace.diagnostics import Source
    from ptrace.machine import Machine, TracepointField
    from ptrace.options import Options

# Kinds without a list of instances are listed as the forms they take.
FORMS = {kind: row.forms for kind, row in KINDS.items() if row.forms}
GLOB_CHARS = frozenset("*?[")


class ListingError(ValueError):
    """The pattern cannot be listed; the message says why, as one sentence."""


# ---- -l ------------------------------------------------------------------------------

def program_probes(source: Source, options: Options, machine: Machine | None = None
                   ) -> list[str]:
    """-l -e PROGRAM: the full name of each probe the program attaches, in the
    program's order, each once: the compiler's passes up to the expansion of
    wildcards. Raises CompileError."""
    from ptrace.ast import recursion_room
    from ptrace.compile import PASSES
    from ptrace.diagnostics import CompileError
    from ptrace.machine import LiveMachine
    from ptrace.parse import parse_program
    from ptrace.passes.context import CompileContext
    from ptrace.passes.expand_probes import expand_probes

    with recursion_room():
        ctx = CompileContext(source, options, machine or LiveMachine(), parse_program(source))
        for run_pass in PASSES[:PASSES.index(expand_probes) + 1]:
            run_pass(ctx)
            if ctx.reporter.has_errors:
                raise CompileError(ctx.reporter.diagnostics)
    return list(dict.fromkeys(_listed_form(instance.attach.probe, instance.attach.kind)
                              for instance in ctx.instances))


def listing_entry() -> None:
    """`ptrace -l` and `ptrace -l PATTERN` alone (ptrace/launch.py sends them
    here): the listing as ptrace.cli runs it, without importing the option
    parser, the option table or the compiler's messages."""
    entry_point(lambda: finish(lambda: list_command(sys.argv[2] if len(sys.argv) > 2 else None)))


def list_command(pattern: str | None, verbose: bool = False, pid: int | None = None,
                 debug_dirs: tuple[str, ...] = ()) -> int:
    """-l PATTERN, -lv PATTERN: print the probes matching PATTERN (several, split
    by commas), with -v their arguments or types as C defines them (-lv 'struct
    task_struct'); the exit status."""
    from ptrace.machine import LiveMachine

    if pattern is not None and pattern.endswith(".bt"):
        print(f"ptrace: warning: {pattern} looks like a file name, but there is no such file; "
              "listing it as a pattern", file=sys.stderr)
    unreadable: OSError | None = None
    try:
        if verbose and pattern is not None and pattern.startswith(TYPE_KEYWORDS):
            lines = type_definitions(pattern, LiveMachine())
        else:
            parts = pattern.split(",") if pattern is not None else [None]
            lines = [line for part in parts
                     for line in list_probes(part, verbose, LiveMachine(), pid, debug_dirs)]
    except ListingError as error:
        print(f"ptrace: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # tracefs unreadable: not root
        lines, unreadable = [], error
    if not lines:
        from ptrace.runtime.features import tracefs_problem  # (not imported when all is well)

        problem = tracefs_problem() or unreadable
        if problem:
            print(f"ptrace: error: cannot list tracepoints: {problem}", file=sys.stderr)
            return 1
    return write_out("".join(f"{line}\n" for line in lines))


def _listed_form(name: str, kind: ProbeKind) -> str:
    """A probe's name as -l lists it: a timer or perf event without its count
    (`interval:ms:100` → `interval:ms:`), anything else as it is."""
    forms = [form for form in FORMS.get(kind, ()) if form.endswith(":") and
             name.startswith(form)]
    return max(forms, key=len, default=name)


def list_probes(pattern: str | None, verbose: bool, machine: Machine,
                pid: int | None = None, debug_dirs: tuple[str, ...] = ()) -> list[str]:
    """The lines `ptrace -l [PATTERN]` prints, `-lv` with each tracepoint's fields.

    PATTERN is a glob over full probe names (`tracepoint:sched:*`, `*open*`);
    a bare probe type (`tracepoint`, `t`, `interval`) lists all of its probes;
    `uprobe:BINARY:GLOB` lists a binary's functions, `usdt:BINARY:GLOB` its
    USDT probes (`-lv` with their argument specs); with `pid` (-p), `usdt:GLOB`
    and `uprobe:GLOB` without a binary list those of the process's executable
    and libraries. A binary's functions include those only its debug file
    names, and `-lv` shows a function's parameters from its debug information
    (looked for first in `debug_dirs`, --debuginfo). No pattern lists
    everything that can be listed. Raises ListingError.
    """
    if pattern is None and pid is not None:  # -l -p PID: what the process offers
        return [line for kind in (ProbeKind.UPROBE, ProbeKind.USDT)
                for line in list_probes(f"{KINDS[kind].provider}:*", verbose, machine, pid)]
    pattern = pattern or "*"
    head, colon, rest = pattern.partition(":")
    kind = _kind(head)
    catalogue = KINDS[kind].catalogue if kind is not None else None
    per_binary = catalogue in (Catalogue.BINARY_FUNCTIONS, Catalogue.USDT_NOTES)
    if kind is not None and pid is not None and per_binary and not rest.startswith("/"):
        names = _process_probes(kind, pattern, pid, machine)
    elif not colon and kind is not None:
        names = _all_of(kind, machine)
    elif kind is not None and catalogue == Catalogue.BINARY_FUNCTIONS and colon:
        names = _functions(KINDS[kind].provider, rest, machine, debug_dirs)
    elif catalogue == Catalogue.USDT_NOTES and colon:
        names = _usdt_probes(rest, machine)
    elif kind is not None:
        names = _matching(_all_of(kind, machine), f"{KINDS[kind].provider}:{rest}")
    elif colon and not GLOB_CHARS & set(head):
        raise ListingError(_unknown_provider(head, machine))
    else:
        names = _matching(_everything(machine), pattern)
    lines: list[str] = []
    for name in sorted(set(names)):
        lines.append(name)
        if verbose:
            lines.extend(f"    {line}" for line in _arguments(name, machine, debug_dirs))
    return lines


def _matching(names: list[str], *patterns: str) -> list[str]:
    """The probe names any of the globs matches; forms such as `software:cs:`
    match with or without their trailing colon. (One regular expression for
    the ~2,000 names: fnmatch's per-name calls cost more than the listing.)"""
    match = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)).match
    return [name for name in names
            if match(name) or (name.endswith(":") and match(name.rstrip(":")))]


def _arguments(name: str, machine: Machine, debug_dirs: tuple[str, ...]) -> list[str]:
    """What -lv shows under a probe: a tracepoint's fields, a kernel function's
    parameters (fentry/fexit, from BTF), a user function's (uprobe, from its
    debug information), an iterator's ctx fields, a USDT probe's argument
    specs; nothing for other probes."""
    provider, _, rest = name.partition(":")
    kind = BY_PROVIDER.get(provider)
    if kind == ProbeKind.USDT:
        return _usdt_arguments(rest, machine)
    if kind is not None and KINDS[kind].args == Args.DEBUG_INFO:
        return _user_parameters(rest, machine, debug_dirs)
    if kind == ProbeKind.TRACEPOINT:
        category, _, event = rest.partition(":")
        tracepoint = machine.tracepoint_format(category, event)
        return [declaration(f) for f in tracepoint.fields] if tracepoint else []
    if kind == ProbeKind.RAWTRACEPOINT:
        return _raw_tracepoint_arguments(rest, machine)
    from ptrace.types.btf import BtfError  # lazily: the BTF reader is not needed at start-up

    btf = machine.btf() if kind in (ProbeKind.FENTRY, ProbeKind.FEXIT, ProbeKind.ITER) else None
    if btf is None:
        return []
    if kind == ProbeKind.ITER:
        from ptrace.types.kernel import struct_id

        type_id = struct_id(btf, f"struct bpf_iter__{rest}")
        return [f"{btf.c_name(m.type)} ctx->{m.name}" for m in btf.members(type_id)
                if m.name != "meta"] if type_id else []
    try:
        params = btf.func_params(rest)
        shown = [f"{btf.c_name(type_id)} {param}" for param, type_id in params or ()]
    except BtfError:  # a function without a usable prototype: its name alone
        return []
    if params is None:
        return []
    return shown + (["retval"] if kind == ProbeKind.FEXIT else [])


def _user_parameters(rest: str, machine: Machine, debug_dirs: tuple[str, ...]) -> list[str]:
    """A user function's parameters, `int argc`, where its binary has debug
    information describing it."""
    from ptrace import dwarf
    from ptrace.debuginfo import function_address

    path, _, function = rest.rpartition(":")
    address = function_address(path, function, debug_dirs, machine.function_symbols(path) or [])
    try:
        info = dwarf.debug_info(path, debug_dirs) if address is not None else None
        params = info.parameters(address, function) \
            if info is not None and address is not None else None
    except dwarf.DwarfError as error:
        raise ListingError(str(error)) from error
    return [f"{p.ctype} {p.name}" for p in params or ()]


def _raw_tracepoint_arguments(event: str, machine: Machine) -> list[str]:
    """A raw tracepoint's arguments, from BTF: its __bpf_trace_ function's
    parameters after the leading `void *__data` (what `args` reads)."""
    btf = machine.btf()
    params = btf.func_params(f"__bpf_trace_{event}") if btf is not None else None
    return [btf.declare(type_id, name) for name, type_id in params[1:]] \
        if btf is not None and params else []


def type_definitions(pattern: str, machine: Machine) -> list[str]:
    """`-lv 'struct task_struct,enum pid_type'`: each type as C defines it, from the
    kernel's BTF, one member (or enumerator) a line. ListingError names a type
    BTF does not describe."""
    from ptrace.types.btf import Composite, Enum

    btf = machine.btf()
    if btf is None:
        raise ListingError("types are listed from the kernel's BTF, and this kernel has none")
    lines: list[str] = []
    for wanted in (part.strip() for part in pattern.split(",")):
        keyword, _, name = wanted.partition(" ")
        type_id = btf.find(name.strip(), keyword)
        if type_id is None:
            raise ListingError(f"the kernel's BTF has no {wanted}")
        found = btf.type(type_id)
        lines.append(f"vmlinux: {keyword} {found.name} {{")
        if isinstance(found, Composite):
            for member in found.members:
                bits = f" : {member.bitfield_size}" if member.bitfield_size else ""
                lines.append(f"    {btf.declare(member.type, member.name)}{bits};")
        elif isinstance(found, Enum):
            lines += [f"    {value.name} = {value.value}," for value in found.values]
        lines.append("};")
    return lines


TYPE_KEYWORDS = ("struct ", "union ", "enum ")


def declaration(field: TracepointField) -> str:
    """A field as its tracepoint's format declares it: `char prev_comm[16]`."""
    array = re.fullmatch(r"(.*?)\s*(\[\d*\])", field.ctype)
    if array and not field.is_data_loc:
        return f"{array[1]} {field.name}{array[2]}"
    return f"{field.ctype} {field.name}"


def _kind(word: str) -> ProbeKind | None:
    """The probe kind a word names (its provider, an alias, or BEGIN/END in any case)."""
    if word.lower() in ("begin", "end"):
        return BY_PROVIDER[word.lower()]
    return BY_PROVIDER.get(word)


def _all_of(kind: ProbeKind, machine: Machine) -> list[str]:
    """Every probe of a kind, by where its probes come from."""
    row = KINDS[kind]
    provider = row.provider
    if row.catalogue == Catalogue.TRACEPOINTS:
        return [f"tracepoint:{c}:{e}" for c, e in machine.tracepoints()]
    if row.catalogue in (Catalogue.FORMS, Catalogue.TIMERS):
        return list(row.forms)
    if row.catalogue == Catalogue.EVENTS:
        # syscalls:* are the syscall tracer's events, not kernel tracepoints: no raw
        # tracepoint has their names (raw_syscalls:sys_enter is the one to use).
        return sorted({f"{provider}:{e}" for c, e in machine.tracepoints() if c != "syscalls"})
    if row.catalogue == Catalogue.BTF_FUNCTIONS:
        btf = machine.btf()
        if btf is None:
            raise ListingError(f"{provider} probes are the functions the kernel's BTF "
                               "describes, and this kernel has no BTF")
        return [f"{provider}:{func}" for func in btf.names("func")]
    if row.catalogue == Catalogue.TRACEABLE_FUNCTIONS:
        return _kprobe_functions(provider, machine)
    if row.catalogue in (Catalogue.BINARY_FUNCTIONS, Catalogue.USDT_NOTES):
        binary = "/path/to/binary" if row.catalogue == Catalogue.USDT_NOTES else "/bin/bash"
        raise ListingError(f"{provider} probes are listed per binary, for example: "
                           f"ptrace -l '{provider}:{binary}:*'")
    # Catalogue.ADDRESSES (an internal kind has no provider to ask for)
    raise ListingError("a watchpoint is any address of the -p/-c process, written "
                       "watchpoint:ADDRESS:LENGTH:MODE: there is no list of them")


def _kprobe_functions(provider: str, machine: Machine) -> list[str]:
    """The functions kprobes can attach to (tracefs' available_filter_functions:
    `kprobe:func`, `kprobe:module:func`). Where that list is unreadable (root
    may be refused it), the functions the kernel's BTF describes stand in, with
    a note saying so."""
    traceable = machine.traceable_functions()
    if traceable is not None:
        return sorted({f"{provider}:{module}:{func}" if module else f"{provider}:{func}"
                       for module, func in traceable})
    btf = machine.btf()
    if btf is None:
        raise ListingError("cannot read available_filter_functions in tracefs, and the "
                           "kernel has no BTF to list its functions from")
    print("ptrace: note: available_filter_functions cannot be read here; listing the "
          "kernel functions BTF describes", file=sys.stderr)
    return [f"{provider}:{func}" for func in btf.names("func")]


def _everything(machine: Machine) -> list[str]:
    """What `-l` lists without a probe type: every form, every tracepoint, and the
    kernel functions fentry can attach to (where the kernel has BTF)."""
    listed = [form for forms in FORMS.values() for form in forms]
    listed += [f"tracepoint:{c}:{e}" for c, e in machine.tracepoints()]
    listed += [name for kind, row in KINDS.items() if row.catalogue == Catalogue.EVENTS
               for name in _all_of(kind, machine)]  # rawtracepoints
    if machine.traceable_functions() is not None:  # (BTF stands in only when asked)
        listed += _kprobe_functions(ProbeKind.KPROBE, machine)
    return listed + (_all_of(ProbeKind.FENTRY, machine) if machine.btf() is not None else [])


def _functions(provider: str, rest: str, machine: Machine,
               debug_dirs: tuple[str, ...] = ()) -> list[str]:
    """uprobe:BINARY:GLOB → the binary's function symbols matching GLOB, with
    those only its separate debug file names; a BINARY with wildcards
    (./testprogs/uprobe*) lists each file it matches."""
    from ptrace.debuginfo import user_functions

    binaries = _binary_glob(rest)
    if binaries is not None:
        return _each_binary(binaries,
                            lambda path: _functions(provider, path, machine, debug_dirs))
    path, glob = _listed_binary(provider, rest, machine, "/bin/bash")
    if machine.function_symbols(path) is None:
        raise ListingError(f"cannot read the functions of {path}: it is not an ELF binary")
    return [f"{provider}:{path}:{s.name}" for s in user_functions(machine, path, debug_dirs)
            if fnmatch.fnmatchcase(s.name, glob or "*")]


def _listed_binary(provider: str, rest: str, machine: Machine,
                   example: str) -> tuple[str, str]:
    """BINARY:GLOB of a per-binary listing → (the binary's path, GLOB)."""
    binary, _, glob = rest.partition(":")
    if not binary:
        raise ListingError(f"{provider} probes are listed per binary, for example: "
                           f"ptrace -l '{provider}:{example}:*'")
    if GLOB_CHARS & set(binary):
        raise ListingError(f"a wildcard binary ('{binary}') matches files by a path "
                           "('./bin/app*') or, with -p PID, the files the process maps")
    path = machine.resolve_binary(binary)
    if path is None:
        raise ListingError(f"no program or library named {binary}")
    return path, glob


def _process_probes(kind: ProbeKind, pattern: str, pid: int, machine: Machine) -> list[str]:
    """The functions (uprobe) or USDT probes of a process's executable and
    libraries whose full names match `pattern` (`usdt:*`, `usdt:*:myapp:*`)."""
    binaries = machine.process_binaries(pid)
    if binaries is None:
        raise ListingError(f"no process with pid {pid}")
    provider = KINDS[kind].provider
    glob = pattern.partition(":")[2] or "*"
    found: list[str] = []
    for path in binaries:
        with contextlib.suppress(ListingError):  # a mapped file that is not ELF
            found += (_usdt_probes(f"{path}:*", machine) if kind == ProbeKind.USDT
                      else _functions(provider, f"{path}:*", machine))
    # The glob over the whole name, or over what follows the binary's path.
    return _matching(found, f"{provider}:{glob}", f"{provider}:*:{glob}")


def _binary_glob(rest: str) -> list[str] | None:
    """BINARY:GLOB with wildcards in a BINARY that is a path (it has a '/'): each
    regular file the path matches, with ":GLOB" after it; None when BINARY is not
    a wildcarded path. ListingError when it matches no file."""
    binary, colon, glob = rest.partition(":")
    if "/" not in binary or not GLOB_CHARS & set(binary):
        return None
    import glob as globbing

    paths = sorted(p for p in globbing.glob(binary) if os.path.isfile(p))
    if not paths:
        raise ListingError(f"no file matches {binary}")
    return [f"{path}{colon}{glob}" for path in paths]


def _each_binary(binaries: list[str], listing: Callable[[str], list[str]]) -> list[str]:
    """The probes of each file a wildcarded path matched; a file that is not ELF
    (a source file next to the program) has none."""
    found: list[str] = []
    for binary in binaries:
        with contextlib.suppress(ListingError):
            found += listing(binary)
    return found


def _usdt_probes(rest: str, machine: Machine) -> list[str]:
    """usdt:BINARY[:PROVIDER]:GLOB → the binary's USDT probes matching (each file's,
    for a BINARY with wildcards)."""
    binaries = _binary_glob(rest)
    if binaries is not None:
        return _each_binary(binaries, lambda path: _usdt_probes(path, machine))
    path, glob = _listed_binary(ProbeKind.USDT, rest, machine, "/path/to/binary")
    probes = machine.usdt_probes(path)
    if probes is None:
        raise ListingError(f"cannot read the USDT probes of {path}: it is not an ELF binary")
    glob = glob or "*"
    if ":" not in glob:
        glob = "*:" + glob  # a probe name alone, in any provider
    return [f"usdt:{path}:{p.provider}:{p.name}" for p in probes
            if fnmatch.fnmatchcase(f"{p.provider}:{p.name}", glob)]


def _usdt_arguments(rest: str, machine: Machine) -> list[str]:
    """A USDT probe's arguments, as its (first) site's note gives them: `arg0: -4@%eax`."""
    path, provider, name = rest.rsplit(":", 2)
    site = next((p for p in machine.usdt_probes(path) or ()
                 if (p.provider, p.name) == (provider, name)), None)
    return [f"arg{i}: {spec}" for i, spec in enumerate(site.args)] if site else []


def _unknown_provider(head: str, machine: Machine) -> str:
    if any(category == head for category, _ in machine.tracepoints()):
        return f"unknown probe type '{head}'; tracepoints are written tracepoint:{head}:EVENT"
    import difflib  # (only for a probe type that is not one)

    close = difflib.get_close_matches(head, PROBE_TYPES, n=1)
    if close:
        return f"unknown probe type '{head}'; did you mean '{close[0]}'?"
    return f"unknown probe type '{head}'; probe types: {', '.join(PROBE_TYPES)}"


def info_lines(machine: Machine) -> list[str]:
    """`ptrace --info`: the system, the kernel's BPF features, each probe type's verdict
    (the checks are the runtime's: ptrace.runtime.features)."""
    import platform  # (only here: -l need not import it)

    from ptrace.runtime import features

    uid = os.geteuid()
    lines = [
        "System",
        f"  kernel: {platform.system()} {platform.release()} {platform.machine()}",
        f"  ptrace: {__version__} (Python {platform.python_version()})",
        f"  user: {'root' if uid == 0 else f'uid {uid}, not root: programs cannot be loaded'}",
        "",
        "Kernel features",
        *(f"  {name}: {check()}" for name, check in features.KERNEL_CHECKS.items()),
        "",
        "Probe types",
    ]
    width = max(map(len, features.PROBE_CHECKS)) + 1
    for name, check in features.PROBE_CHECKS.items():
        verdict = str(check(machine))
        if _kind(name.split(",")[0]) is None:
            verdict += f" (ptrace does not support {name} probes yet)"
        lines.append(f"  {(name + ':').ljust(width)} {verdict}")
    return lines
