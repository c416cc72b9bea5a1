"""What can be probed on this machine: `ptrace -l` (which probes exist) and
`ptrace --info` (which probe types work here, and why not).

Listing reads through a `Machine`, so tests list a `FixtureMachine`'s
tracepoints. The checks behind --info are the runtime's
(`ptrace.runtime.features`); this module prints them.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import os
import platform
import re
import sys

from ptrace import __version__
from ptrace.machine import Machine, TracepointField
from ptrace.passes.expand_probes import (
    HARDWARE_EVENTS,
    ITERATORS,
    PROVIDER_ALIASES,
    SELF_SIGNALS,
    SOFTWARE_EVENTS,
    SUPPORTED,
)

TIMER_UNITS = ("s", "ms", "us", "ns", "hz")
# Providers without a list of instances are listed as the forms they take.
FORMS = {
    "begin": ("BEGIN",),
    "end": ("END",),
    "interval": tuple(f"interval:{unit}:" for unit in TIMER_UNITS),
    "profile": tuple(f"profile:{unit}:" for unit in TIMER_UNITS),
    "software": tuple(f"software:{event}:" for event in SOFTWARE_EVENTS),
    "hardware": tuple(f"hardware:{event}:" for event in HARDWARE_EVENTS),
    "iter": tuple(f"iter:{name}" for name in ITERATORS),
    "self": tuple(f"self:signal:{name}" for name in SELF_SIGNALS),
}
GLOB_CHARS = frozenset("*?[")


class ListingError(ValueError):
    """The pattern cannot be listed; the message says why, as one sentence."""


# ---- -l ------------------------------------------------------------------------------

def list_probes(pattern: str | None, verbose: bool, machine: Machine,
                pid: int | None = None) -> list[str]:
    """The lines `ptrace -l [PATTERN]` prints, `-lv` with each tracepoint's fields.

    PATTERN is a glob over full probe names (`tracepoint:sched:*`, `*open*`);
    a bare probe type (`tracepoint`, `t`, `interval`) lists all of its probes;
    `uprobe:BINARY:GLOB` lists a binary's functions, `usdt:BINARY:GLOB` its
    USDT probes (`-lv` with their argument specs); with `pid` (-p), `usdt:GLOB`
    and `uprobe:GLOB` without a binary list those of the process's executable
    and libraries. No pattern lists everything that can be listed. Raises
    ListingError.
    """
    pattern = pattern or "*"
    head, colon, rest = pattern.partition(":")
    provider = _provider(head)
    if pid is not None and provider in ("usdt", "uprobe", "uretprobe") and \
            not rest.startswith("/"):
        names = _process_probes(provider, pattern, pid, machine)
    elif not colon and provider is not None:
        names = _all_of(provider, machine)
    elif provider in ("uprobe", "uretprobe") and colon:
        names = _functions(provider, rest, machine)
    elif provider == "usdt" and colon:
        names = _usdt_probes(rest, machine)
    elif provider is not None:
        names = [name for name in _all_of(provider, machine)
                 if _matches(name, f"{provider}:{rest}")]
    elif colon and not GLOB_CHARS & set(head):
        raise ListingError(_unknown_provider(head, machine))
    else:
        names = [name for name in _everything(machine) if _matches(name, pattern)]
    lines: list[str] = []
    for name in sorted(set(names)):
        lines.append(name)
        if verbose:
            lines.extend(f"    {line}" for line in _arguments(name, machine))
    return lines


def _matches(name: str, pattern: str) -> bool:
    """Whether a glob matches a probe name; forms such as `software:cs:` match
    with or without their trailing colon."""
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name.rstrip(":"), pattern)


def _arguments(name: str, machine: Machine) -> list[str]:
    """What -lv shows under a probe: a tracepoint's fields, a kernel function's
    parameters (fentry/fexit, from BTF), an iterator's ctx fields, a USDT
    probe's argument specs; nothing for other probes."""
    provider, _, rest = name.partition(":")
    if provider == "usdt":
        return _usdt_arguments(rest, machine)
    if provider == "tracepoint":
        category, _, event = rest.partition(":")
        tracepoint = machine.tracepoint_format(category, event)
        return [declaration(f) for f in tracepoint.fields] if tracepoint else []
    from ptrace.types.btf import BtfError  # lazily: the BTF reader is not needed at start-up

    btf = machine.btf() if provider in ("fentry", "fexit", "iter") else None
    if btf is None:
        return []
    if provider == "iter":
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
    return shown + (["retval"] if provider == "fexit" else [])


def declaration(field: TracepointField) -> str:
    """A field as its tracepoint's format declares it: `char prev_comm[16]`."""
    array = re.fullmatch(r"(.*?)\s*(\[\d*\])", field.ctype)
    if array and not field.is_data_loc:
        return f"{array[1]} {field.name}{array[2]}"
    return f"{field.ctype} {field.name}"


def _provider(word: str) -> str | None:
    """The probe type a word names (an alias, or BEGIN/END in any case), or None."""
    name = PROVIDER_ALIASES.get(word, word)
    lowered = name.lower()
    if lowered in ("begin", "end"):
        return lowered
    return name if name in SUPPORTED else None


def _all_of(provider: str, machine: Machine) -> list[str]:
    if provider == "tracepoint":
        return [f"tracepoint:{c}:{e}" for c, e in machine.tracepoints()]
    if provider in FORMS:
        return list(FORMS[provider])
    if provider == "rawtracepoint":
        return sorted({f"rawtracepoint:{e}" for _, e in machine.tracepoints()})
    if provider in ("fentry", "fexit"):
        btf = machine.btf()
        if btf is None:
            raise ListingError(f"{provider} probes are the functions the kernel's BTF "
                               "describes, and this kernel has no BTF")
        return [f"{provider}:{func}" for func in btf.names("func")]
    if provider in ("kprobe", "kretprobe"):
        return _kprobe_functions(provider, machine)
    if provider in ("uprobe", "uretprobe", "usdt"):
        binary = "/path/to/binary" if provider == "usdt" else "/bin/bash"
        raise ListingError(f"{provider} probes are listed per binary, for example: "
                           f"ptrace -l '{provider}:{binary}:*'")
    if provider == "watchpoint":
        raise ListingError("a watchpoint is any address of the -p/-c process, written "
                           "watchpoint:ADDRESS:LENGTH:MODE: there is no list of them")
    raise ListingError(f"ptrace cannot list {provider} probes yet")


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
    if machine.traceable_functions() is not None:  # (BTF stands in only when asked)
        listed += _kprobe_functions("kprobe", machine)
    return listed + (_all_of("fentry", machine) if machine.btf() is not None else [])


def _functions(provider: str, rest: str, machine: Machine) -> list[str]:
    """uprobe:BINARY:GLOB → the binary's function symbols matching GLOB."""
    path, glob = _listed_binary(provider, rest, machine, "/bin/bash")
    symbols = machine.function_symbols(path)
    if symbols is None:
        raise ListingError(f"cannot read the functions of {path}: it is not an ELF binary")
    return [f"{provider}:{path}:{s.name}" for s in symbols
            if fnmatch.fnmatchcase(s.name, glob or "*")]


def _listed_binary(provider: str, rest: str, machine: Machine,
                   example: str) -> tuple[str, str]:
    """BINARY:GLOB of a per-binary listing → (the binary's path, GLOB)."""
    binary, _, glob = rest.partition(":")
    if not binary:
        raise ListingError(f"{provider} probes are listed per binary, for example: "
                           f"ptrace -l '{provider}:{example}:*'")
    path = machine.resolve_binary(binary)
    if path is None:
        raise ListingError(f"no program or library named {binary}")
    return path, glob


def _process_probes(provider: str, pattern: str, pid: int, machine: Machine) -> list[str]:
    """The functions (uprobe) or USDT probes of a process's executable and
    libraries whose full names match `pattern` (`usdt:*`, `usdt:*:myapp:*`)."""
    binaries = machine.process_binaries(pid)
    if binaries is None:
        raise ListingError(f"no process with pid {pid}")
    glob = pattern.partition(":")[2] or "*"
    found: list[str] = []
    for path in binaries:
        with contextlib.suppress(ListingError):  # a mapped file that is not ELF
            found += (_usdt_probes(f"{path}:*", machine) if provider == "usdt"
                      else _functions(provider, f"{path}:*", machine))
    # The glob over the whole name, or over what follows the binary's path.
    return [name for name in found
            if _matches(name, f"{provider}:{glob}") or _matches(name, f"{provider}:*:{glob}")]


def _usdt_probes(rest: str, machine: Machine) -> list[str]:
    """usdt:BINARY[:PROVIDER]:GLOB → the binary's USDT probes matching."""
    path, glob = _listed_binary("usdt", rest, machine, "/path/to/binary")
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
    known = sorted(set(SUPPORTED) - {"begin", "end"})
    close = difflib.get_close_matches(head, known, n=1)
    if close:
        return f"unknown probe type '{head}'; did you mean '{close[0]}'?"
    return f"unknown probe type '{head}'; probe types: {', '.join(known)}"


def info_lines(machine: Machine) -> list[str]:
    """`ptrace --info`: the system, the kernel's BPF features, each probe type's verdict
    (the checks are the runtime's: ptrace.runtime.features)."""
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
        provider = name.split(",")[0].lower()
        if provider not in SUPPORTED:
            verdict += f" (ptrace does not support {name} probes yet)"
        lines.append(f"  {(name + ':').ljust(width)} {verdict}")
    return lines
