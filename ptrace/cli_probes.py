"""What can be probed on this machine: `ptrace -l` (which probes exist) and
`ptrace --info` (which probe types work here, and why not).

Listing reads through a `Machine`, so tests list a `FixtureMachine`'s
tracepoints. The kernel checks are cheap and change nothing: files in sysfs
and tracefs, the kernel release, a BPF map created and closed, a perf counter
opened and closed. Nothing here needs root; without it some checks say so.
"""

from __future__ import annotations

import contextlib
import ctypes
import difflib
import errno
import fnmatch
import os
import platform
import re
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ptrace import __version__
from ptrace.bpf_abi import PERF_COUNT_HW_CPU_CYCLES, AttachType, MapType, PerfType, ProgType
from ptrace.machine import TRACEFS_ROOTS, Machine, TracepointField, tracefs_root
from ptrace.probe_kinds import BY_PROVIDER, KINDS, PROBE_TYPES, Catalogue, ProbeKind

# Kinds without a list of instances are listed as the forms they take.
FORMS = {kind: row.forms for kind, row in KINDS.items() if row.forms}
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
    kind = _kind(head)
    catalogue = KINDS[kind].catalogue if kind is not None else None
    per_binary = catalogue in (Catalogue.BINARY_FUNCTIONS, Catalogue.USDT_NOTES)
    if kind is not None and pid is not None and per_binary and not rest.startswith("/"):
        names = _process_probes(kind, pattern, pid, machine)
    elif not colon and kind is not None:
        names = _all_of(kind, machine)
    elif kind is not None and catalogue == Catalogue.BINARY_FUNCTIONS and colon:
        names = _functions(KINDS[kind].provider, rest, machine)
    elif catalogue == Catalogue.USDT_NOTES and colon:
        names = _usdt_probes(rest, machine)
    elif kind is not None:
        names = [name for name in _all_of(kind, machine)
                 if _matches(name, f"{KINDS[kind].provider}:{rest}")]
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
    kind = BY_PROVIDER.get(provider)
    if kind == ProbeKind.USDT:
        return _usdt_arguments(rest, machine)
    if kind == ProbeKind.TRACEPOINT:
        category, _, event = rest.partition(":")
        tracepoint = machine.tracepoint_format(category, event)
        return [declaration(f) for f in tracepoint.fields] if tracepoint else []
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
        return sorted({f"{provider}:{e}" for _, e in machine.tracepoints()})
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
    if machine.traceable_functions() is not None:  # (BTF stands in only when asked)
        listed += _kprobe_functions(ProbeKind.KPROBE, machine)
    return listed + (_all_of(ProbeKind.FENTRY, machine) if machine.btf() is not None else [])


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
    return [name for name in found
            if _matches(name, f"{provider}:{glob}") or _matches(name, f"{provider}:*:{glob}")]


def _usdt_probes(rest: str, machine: Machine) -> list[str]:
    """usdt:BINARY[:PROVIDER]:GLOB → the binary's USDT probes matching."""
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
    close = difflib.get_close_matches(head, PROBE_TYPES, n=1)
    if close:
        return f"unknown probe type '{head}'; did you mean '{close[0]}'?"
    return f"unknown probe type '{head}'; probe types: {', '.join(PROBE_TYPES)}"


def tracefs_problem() -> str | None:
    """Why tracepoints cannot be read here, or None when they can."""
    for root in TRACEFS_ROOTS:
        events = root / "events"
        try:
            os.listdir(events)
        except PermissionError:
            return f"cannot read {events}: permission denied (tracefs is for root)"
        except OSError:
            continue
        return None
    return f"tracefs is not mounted (mount -t tracefs nodev {TRACEFS_ROOTS[0]})"


# ---- the kernel: cheap checks ------------------------------------------------------------

# System call numbers, by architecture: (bpf, perf_event_open).
SYSCALLS = {"x86_64": (321, 298), "aarch64": (280, 241)}
SYS_BPF, SYS_PERF_EVENT_OPEN = 0, 1  # indexes into SYSCALLS' pairs
BPF_MAP_CREATE = 0
PERF_FLAG_FD_CLOEXEC = 8
# perf_event_attr flags: disabled, exclude_kernel, exclude_hv: a counter any
# user may open on itself, so the check tells whether the hardware exists.
PERF_FLAGS = 1 | 1 << 5 | 1 << 6
PERF_ATTR_SIZE = 64  # PERF_ATTR_SIZE_VER0
NO_COUNTERS = frozenset({errno.ENOENT, errno.ENODEV, errno.EOPNOTSUPP})
EVENT_SOURCES = Path("/sys/bus/event_source/devices")
BTF_PATH = Path("/sys/kernel/btf/vmlinux")
NOT_ROOT = "loading BPF programs needs root: run ptrace with sudo"
BPF_PROG_LOAD = 5
# union bpf_attr for BPF_PROG_LOAD: its size here, and two fields' offsets.
PROG_LOAD_ATTR_SIZE = 128
PROG_LOAD_EXPECTED_ATTACH_TYPE = 68
PROG_LOAD_ATTACH_BTF_ID = 108
RETURN_ZERO = struct.pack("<BBhiBBhi", 0xB7, 0, 0, 0, 0x95, 0, 0, 0)  # r0 = 0; exit


def _syscall(which: int, *args: ctypes.c_long | ctypes.Array[ctypes.c_char]) -> int:
    """Call SYS_BPF or SYS_PERF_EVENT_OPEN: 0, or an errno (ENOSYS on other machines).

    A descriptor the call returns is closed at once: these are only checks.
    """
    numbers = SYSCALLS.get(platform.machine())
    if numbers is None:
        return errno.ENOSYS
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    fd = int(libc.syscall(ctypes.c_long(numbers[which]), *args))
    if fd < 0:
        return ctypes.get_errno()
    os.close(fd)
    return 0


def bpf_errno() -> int:
    """Create and close a one-entry BPF array map: 0, or the errno it failed with."""
    attr = ctypes.create_string_buffer(struct.pack("<IIII", MapType.ARRAY, 4, 4, 1), 72)
    return _syscall(SYS_BPF, ctypes.c_long(BPF_MAP_CREATE), attr, ctypes.c_long(len(attr)))


def hardware_errno() -> int:
    """Open and close a CPU cycle counter on this process: 0, or the errno."""
    attr = ctypes.create_string_buffer(struct.pack(
        "<IIQQQQQ", PerfType.HARDWARE, PERF_ATTR_SIZE, PERF_COUNT_HW_CPU_CYCLES, 0, 0, 0,
        PERF_FLAGS), PERF_ATTR_SIZE)
    return _syscall(SYS_PERF_EVENT_OPEN, attr, ctypes.c_long(0), ctypes.c_long(-1),
                    ctypes.c_long(-1), ctypes.c_long(PERF_FLAG_FD_CLOEXEC))


def bpf_problem(code: int) -> str | None:
    """Why programs cannot be loaded, as one sentence, for bpf_errno()'s result."""
    if code == 0:
        return None
    if code == errno.ENOSYS:
        return "this kernel has no BPF: the bpf() system call does not exist here"
    if code in (errno.EPERM, errno.EACCES):
        if os.geteuid() != 0:
            return NOT_ROOT
        return ("the kernel refuses BPF to root here (kernel lockdown, or a container "
                "without CAP_BPF)")
    return f"the kernel refused to create a BPF map: {os.strerror(code)}"


def kernel_release() -> tuple[int, int]:
    """(major, minor) of the running kernel; (0, 0) when the release is not a version."""
    match = re.match(r"(\d+)\.(\d+)", platform.release())
    return (int(match[1]), int(match[2])) if match else (0, 0)


# ---- --info ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Verdict:
    works: bool | None  # None: cannot tell without loading a program
    why: str

    def __str__(self) -> str:
        word = "unknown" if self.works is None else "yes" if self.works else "no"
        return f"{word}: {self.why}" if self.why else word


def _exists(*paths: Path) -> Verdict:
    found = next((p for p in paths if os.path.exists(p)), None)  # False when unreadable
    if found is not None:
        return Verdict(True, f"{found} exists")
    return Verdict(False, f"the kernel has none of {', '.join(map(str, paths))}")


def _bpf() -> Verdict:
    problem = bpf_problem(bpf_errno())
    return Verdict(True, "a BPF map was created") if problem is None else Verdict(False, problem)


def _btf() -> Verdict:
    if os.path.exists(BTF_PATH):
        return Verdict(True, str(BTF_PATH))
    return Verdict(False, f"no {BTF_PATH} (kernel built without CONFIG_DEBUG_INFO_BTF)")


def _tracefs() -> Verdict:
    problem = tracefs_problem()
    return Verdict(False, problem) if problem else Verdict(True, str(tracefs_root()))


def _ringbuf() -> Verdict:
    major, minor = kernel_release()
    verdict = "≥" if (major, minor) >= (5, 8) else "<"
    return Verdict((major, minor) >= (5, 8), f"kernel {major}.{minor} {verdict} 5.8")


def _tracepoints(machine: Machine) -> Verdict:
    problem = tracefs_problem()
    if problem:
        return Verdict(False, problem)
    return Verdict(True, f"{len(machine.tracepoints())} tracepoints in {tracefs_root()}/events")


def _hardware() -> Verdict:
    code = hardware_errno()
    if code == 0:
        return Verdict(True, "a CPU cycle counter opened")
    if code in NO_COUNTERS:
        return Verdict(False, f"no hardware performance counters (no CPU PMU: "
                              f"{os.strerror(code)})")
    return Verdict(None, f"opening a CPU cycle counter failed: {os.strerror(code)}")


def _needs_btf(what: str) -> Callable[[Machine], Verdict]:
    def check(_machine: Machine) -> Verdict:
        if not os.path.exists(BTF_PATH):
            return Verdict(False, f"{what} needs kernel BTF ({BTF_PATH})")
        return Verdict(None, "the kernel has BTF; whether it attaches them shows only "
                             "when a program loads")
    return check


def iterator_errno(btf_id: int) -> int:
    """Load and close a two-instruction iterator program: 0, or the errno."""
    insns = ctypes.create_string_buffer(RETURN_ZERO, len(RETURN_ZERO))
    license = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(PROG_LOAD_ATTR_SIZE)
    struct.pack_into("<IIQQ", attr, 0, ProgType.TRACING, len(RETURN_ZERO) // 8,
                     ctypes.addressof(insns), ctypes.addressof(license))
    struct.pack_into("<I", attr, PROG_LOAD_EXPECTED_ATTACH_TYPE, AttachType.TRACE_ITER)
    struct.pack_into("<I", attr, PROG_LOAD_ATTACH_BTF_ID, btf_id)
    return _syscall(SYS_BPF, ctypes.c_long(BPF_PROG_LOAD), attr, ctypes.c_long(len(attr)))


def _iterators(machine: Machine) -> Verdict:
    btf = machine.btf()
    btf_id = btf.find("bpf_iter_task", "func") if btf is not None else None
    if btf_id is None:
        return Verdict(False, "iterators need kernel BTF with bpf_iter_task")
    code = iterator_errno(btf_id)
    if code == 0:
        return Verdict(True, "an iterator program loaded")
    if code in (errno.EPERM, errno.EACCES) and os.geteuid() != 0:
        return Verdict(None, NOT_ROOT)
    return Verdict(False, f"the kernel refused an iterator program: {os.strerror(code)}")


def _user_space(_machine: Machine) -> Verdict:
    bpf = _bpf()
    return Verdict(True, "run with BPF_PROG_TEST_RUN when ptrace receives the signal") \
        if bpf.works else bpf


def _raw_tracepoints(_machine: Machine) -> Verdict:
    major, minor = kernel_release()
    return Verdict((major, minor) >= (4, 17), f"kernel {major}.{minor}, needs 4.17")


def _begin_end(_machine: Machine) -> Verdict:
    bpf = _bpf()
    return Verdict(True, "run once with BPF_PROG_TEST_RUN") if bpf.works else bpf


_SOFTWARE = EVENT_SOURCES / "software"
_UPROBES = (EVENT_SOURCES / "uprobe", TRACEFS_ROOTS[0] / "uprobe_events")
_KPROBES = (EVENT_SOURCES / "kprobe", TRACEFS_ROOTS[0] / "kprobe_events")
PROBE_CHECKS: dict[str, Callable[[Machine], Verdict]] = {
    "BEGIN, END": _begin_end,
    "tracepoint": _tracepoints,
    "rawtracepoint": _raw_tracepoints,
    "interval": lambda _m: _exists(_SOFTWARE),
    "profile": lambda _m: _exists(_SOFTWARE),
    "software": lambda _m: _exists(_SOFTWARE),
    "hardware": lambda _m: _hardware(),
    "uprobe": lambda _m: _exists(*_UPROBES),
    "uretprobe": lambda _m: _exists(*_UPROBES),
    "usdt": lambda _m: _exists(*_UPROBES),
    "kprobe": lambda _m: _exists(*_KPROBES),
    "kretprobe": lambda _m: _exists(*_KPROBES),
    "watchpoint": lambda _m: _exists(EVENT_SOURCES / "breakpoint"),
    "fentry": _needs_btf("fentry"),
    "fexit": _needs_btf("fexit"),
    "iter": _iterators,
    "self": _user_space,
}


def info_lines(machine: Machine) -> list[str]:
    """`ptrace --info`: the system, the kernel's BPF features, each probe type's verdict."""
    uid = os.geteuid()
    lines = [
        "System",
        f"  kernel: {platform.system()} {platform.release()} {platform.machine()}",
        f"  ptrace: {__version__} (Python {platform.python_version()})",
        f"  user: {'root' if uid == 0 else f'uid {uid}, not root: programs cannot be loaded'}",
        "",
        "Kernel features",
        f"  bpf() system call: {_bpf()}",
        f"  BTF: {_btf()}",
        f"  tracefs: {_tracefs()}",
        f"  ring buffer maps: {_ringbuf()}",
        "",
        "Probe types",
    ]
    width = max(map(len, PROBE_CHECKS)) + 1
    for name, check in PROBE_CHECKS.items():
        verdict = str(check(machine))
        if _kind(name.split(",")[0]) is None:
            verdict += f" (ptrace does not support {name} probes yet)"
        lines.append(f"  {(name + ':').ljust(width)} {verdict}")
    return lines
