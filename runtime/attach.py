"""Attaching loaded programs: one attacher per kind of probe, one interface.

Each attacher returns the fds that keep the program attached; closing them
detaches it, which is all teardown needs.
"""

from __future__ import annotations

import ctypes
import errno as errno_module
import itertools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ptrace.runtime import links, perf
from ptrace.runtime.cpus import online_cpus
from ptrace.runtime.errors import RuntimeFailure
from ptrace.runtime.features import kprobes_available
from ptrace.runtime.libbcc import BccSymbol, Libraries, errno, load_symbols
from ptrace.runtime.loader import close_all

from ptrace import archive
from ptrace.bpf_abi import PERF_COUNT_SW_CPU_CLOCK, AttachType, PerfType
from ptrace.machine import TRACEFS_ROOTS
from ptrace.probe_kinds import ProbeKind
from ptrace.program import Attach

# Each attacher gets the pid given with -p (-1: every process).
Attacher = Callable[[Libraries, int, Attach, int], list[int]]


def attach(libs: Libraries, prog_fd: int, target: Attach, pid: int = -1) -> list[int]:
    return ATTACHERS[target.kind](libs, prog_fd, target, pid)


def _tracepoint(libs: Libraries, prog_fd: int, target: Attach, _pid: int) -> list[int]:
    # bcc prints its own perf_event_open(…) and ioctl(…) lines when this fails;
    # the user gets ours, one sentence.
    with _stderr_silenced():
        fd = libs.bcc.bpf_attach_tracepoint(prog_fd, target.category.encode(),
                                            target.event.encode())
        code = errno()
    if fd < 0:
        raise RuntimeFailure(f"cannot attach {target.probe}: {os.strerror(code or -fd)}")
    return [int(fd)]


def _raw_syscalls(libs: Libraries, prog_fd: int, target: Attach, _pid: int) -> list[int]:
    fd = libs.bcc.bpf_attach_raw_tracepoint(prog_fd, target.event.encode())
    if fd < 0:
        raise RuntimeFailure(f"cannot attach {target.probe} (raw tracepoint {target.event}): "
                             f"{os.strerror(errno() or -fd)}")
    return [int(fd)]


BPF_PROBE_ENTRY = 0
BPF_PROBE_RETURN = 1
_event_names = itertools.count()


def _uprobe(libs: Libraries, prog_fd: int, target: Attach, pid: int) -> list[int]:
    """uprobes, uretprobes, and usdt probes (a uprobe at the site's file offset)."""
    if target.functions:
        return [_uprobe_multi(prog_fd, target, pid)]
    binary = target.binary
    if archive.split(binary) is not None:
        binary, offset = _archive_offset(target)
    else:
        offset = target.offset if target.kind == ProbeKind.USDT or target.flat \
            else resolve_offset(target, pid)
    kind = BPF_PROBE_RETURN if target.kind == ProbeKind.URETPROBE else BPF_PROBE_ENTRY
    # The event name matters only if bcc falls back to tracefs uprobe_events
    # (the uprobe PMU is used when the kernel has it, as 6.18 does).
    name = f"ptrace_{os.getpid()}_{next(_event_names)}".encode()
    # A USDT semaphore's file offset is the uprobe's ref_ctr_offset: the kernel
    # counts the semaphore up in every process the uprobe is installed in, and
    # down when it is removed.
    return [_bcc_probe(target, "uprobe", name, lambda: libs.bcc.bpf_attach_uprobe(
        prog_fd, kind, name, binary.encode(), offset, pid, target.ref_ctr_offset))]


def _archive_offset(target: Attach) -> tuple[str, int]:
    """A uprobe on a member of an archive (`app.apk!/lib/libx.so`) is a uprobe
    on the archive: the archive's path, and the offset in it of the symbol
    (plus offset) or address."""
    from ptrace.debuginfo import function_address
    from ptrace.elf import file_offset

    path, base, data = _binary_file(target)
    address = function_address(target.binary, target.symbol, ()) if target.symbol \
        else target.address
    at = file_offset(data, address) if address is not None else None
    if at is None:
        raise RuntimeFailure(f"cannot find {target.symbol or hex(target.address)} in "
                             f"{target.binary}")
    return path, base + at + target.offset


def _binary_file(target: Attach) -> tuple[str, int, bytes]:
    """The file a uprobe attaches to (absolute), where the binary starts in it
    and its bytes: the binary itself from 0, or the archive holding it
    (`app.apk!/lib/libx.so`) from the member's offset."""
    try:
        data = archive.read_binary(target.binary)
        if archive.split(target.binary) is None:
            return os.path.abspath(target.binary), 0, data
        found = archive.member(target.binary)
    except (archive.ArchiveError, OSError) as error:
        raise RuntimeFailure(f"cannot attach {target.probe}: cannot read {target.binary}: "
                             f"{getattr(error, 'strerror', None) or error}") from None
    return os.path.abspath(found.archive), found.offset, data


def _uprobe_multi(prog_fd: int, target: Attach, pid: int) -> int:
    """The functions of a wildcard in one binary, through one uprobe_multi link."""
    from ptrace.elf import file_offset

    path, base, data = _binary_file(target)
    offsets = []
    for symbol, address in target.functions:
        offset = file_offset(data, address)
        if offset is None:
            raise RuntimeFailure(f"cannot attach {target.probe}: {symbol} lies outside the "
                                 f"loaded segments of {target.binary}")
        offsets.append(base + offset)
    try:
        return links.uprobe_multi(prog_fd, path, offsets, target.kind == ProbeKind.URETPROBE,
                                  pid)
    except OSError as error:
        failure = MultiLinkRefused if error.errno in MULTI_LINK_REFUSALS else RuntimeFailure
        raise failure(f"cannot attach {target.probe} ({len(offsets)} functions of "
                      f"{path}) through a uprobe_multi link: {error.strerror}") from None


class MultiLinkRefused(RuntimeFailure):
    """The kernel has no uprobe_multi links after all: the functions are to be
    attached one by one (uprobes_with_cookies), by the program loaded anew
    without the uprobe_multi attach type."""


ENOTSUPP = 524  # the kernel's own "operation is not supported", which errno lacks
# What BPF_LINK_CREATE fails with where the kernel cannot make a uprobe_multi
# link (built without it, or older than it): not a refusal of one function.
MULTI_LINK_REFUSALS = frozenset({errno_module.EOPNOTSUPP, errno_module.EINVAL,
                                 errno_module.ENOSYS, ENOTSUPP})
UPROBE_PMU = "/sys/bus/event_source/devices/uprobe"


def uprobes_with_cookies(prog_fd: int, target: Attach, pid: int) -> list[int]:
    """The functions of a folded uprobe wildcard attached one by one, where
    the kernel refuses a uprobe_multi link: a perf event of the uprobe PMU per
    function, linked to the program with the cookie the multi link would have
    given it (function i, cookie i), so that `probe` and `func` name it."""
    from ptrace.elf import file_offset

    path, base, data = _binary_file(target)
    name = ctypes.create_string_buffer(os.fsencode(path))
    fds: list[int] = []
    try:
        with open(f"{UPROBE_PMU}/type") as f:
            pmu = int(f.read())
        for cookie, (symbol, address) in enumerate(target.functions):
            offset = file_offset(data, address)
            if offset is None:
                raise RuntimeFailure(f"cannot attach {target.probe}: {symbol} lies outside "
                                     f"the loaded segments of {target.binary}")
            fds.append(perf.open_event(pmu, int(target.kind == ProbeKind.URETPROBE),
                                       0 if pid < 0 else -1, pid=pid,
                                       bp_addr=ctypes.addressof(name), bp_len=base + offset))
            fds.append(links.perf_link(prog_fd, fds[-1], cookie))
    except OSError as error:
        close_all(fds)
        raise RuntimeFailure(f"cannot attach {target.probe} ({len(target.functions)} "
                             f"functions of {path}) one by one: {error.strerror}") from None
    except RuntimeFailure:
        close_all(fds)
        raise
    return fds


def _bcc_probe(target: Attach, group: str, name: bytes, attach_it: Callable[[], int]) -> int:
    """Attach a kprobe or uprobe through bcc, which tries the kernel's probe PMU
    and falls back to an event it adds to tracefs' GROUP_events. bcc reports
    its failures on stderr itself: the user gets ours instead, one sentence,
    and nothing of a failed attach stays in tracefs (bcc leaves the event it
    added when opening it fails)."""
    with _stderr_silenced():
        fd = attach_it()
        code = errno()
    if fd < 0:
        _remove_tracefs_event(group, f"{name.decode()}_bcc_{os.getpid()}")
        raise RuntimeFailure(f"cannot attach {target.probe}: {os.strerror(code or -fd)}")
    return fd


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 goes to /dev/null while the block runs (C code's messages)."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _remove_tracefs_event(group: str, event: str) -> None:
    """Remove GROUP/EVENT from tracefs' GROUP_events, if it is there."""
    for root in TRACEFS_ROOTS:
        events = root / f"{group}_events"
        try:
            if f"{group}s/{event} " not in events.read_text():
                continue
            fd = os.open(events, os.O_WRONLY | os.O_APPEND)  # no seek: tracefs refuses it
            try:
                os.write(fd, f"-:{group}s/{event}\n".encode())
            finally:
                os.close(fd)
        except OSError:
            continue


def resolve_offset(target: Attach, pid: int) -> int:
    """The file offset of a uprobe's symbol (plus offset) or address, through bcc."""
    lib = load_symbols()
    symbol = BccSymbol()
    name = target.symbol.encode() if target.symbol else None
    # With a pid, bcc reads the binary through /proc/PID/root + path, which
    # needs an absolute path: a relative one is the user's, from ptrace's cwd.
    binary = os.path.abspath(target.binary)
    if lib.bcc_resolve_symname(binary.encode(), name, target.address, pid, None,
                               ctypes.byref(symbol)) != 0:
        what = target.symbol or f"0x{target.address:x}"
        raise RuntimeFailure(f"cannot find {what} in {target.binary}")
    lib.bcc_procutils_free(symbol.module)
    return int(symbol.offset) + target.offset


def _raw_tracepoint(libs: Libraries, prog_fd: int, target: Attach, _pid: int) -> list[int]:
    if target.btf_tracepoint:  # the event is the program's, from its load
        return _fentry(libs, prog_fd, target, _pid)
    fd = libs.bcc.bpf_attach_raw_tracepoint(prog_fd, target.event.encode())
    if fd < 0:
        raise RuntimeFailure(f"cannot attach {target.probe}: {os.strerror(errno() or -fd)}")
    return [int(fd)]


def _perf_counter(libs: Libraries, prog_fd: int, target: Attach, _pid: int) -> list[int]:
    """software:/hardware: events, sampled every N events, on every CPU."""
    return _on_every_cpu(lambda cpu: _perf_event(
        libs, prog_fd, target, cpu, target.perf_type, target.perf_config,
        target.sample_period, 0))


def _kprobe(libs: Libraries, prog_fd: int, target: Attach, _pid: int) -> list[int]:
    if not kprobes_available():
        raise RuntimeFailure(f"cannot attach {target.probe}: this kernel has no kprobes "
                             "(it was built without CONFIG_KPROBES)")
    kind = BPF_PROBE_RETURN if target.kind == ProbeKind.KRETPROBE else BPF_PROBE_ENTRY
    name = f"ptrace_{os.getpid()}_{next(_event_names)}".encode()
    return [_bcc_probe(target, "kprobe", name, lambda: libs.bcc.bpf_attach_kprobe(
        prog_fd, kind, name, target.symbol.encode(), target.offset, 0))]


def _fentry(libs: Libraries, prog_fd: int, target: Attach, _pid: int) -> list[int]:
    fd = libs.bcc.bpf_attach_kfunc(prog_fd)
    if fd < 0:
        raise RuntimeFailure(f"cannot attach {target.probe}: {os.strerror(errno() or -fd)}")
    return [int(fd)]


def _iterator(libs: Libraries, prog_fd: int, target: Attach, _pid: int) -> list[int]:
    """iter:NAME: a link to the iterator; run_iterator runs it. iter:NAME:PIN:
    the link pinned to its file, which keeps it (and runs it when read) after
    ptrace has ended."""
    fd = libs.libbpf.bpf_link_create(prog_fd, 0, AttachType.TRACE_ITER, None)
    if fd < 0:
        raise RuntimeFailure(f"cannot attach {target.probe}: {os.strerror(-fd)}")
    if target.pin:
        code = libs.libbpf.bpf_obj_pin(fd, target.pin.encode())
        if code < 0:
            os.close(fd)
            raise RuntimeFailure(f"cannot pin {target.probe} to {target.pin}: "
                                 f"{os.strerror(errno() or -code)} (a pin is a new file of a "
                                 "mounted BPF file system: mount -t bpf bpf /sys/fs/bpf)")
    return [int(fd)]


def run_iterator(libs: Libraries, link_fd: int, between: Callable[[], bool]) -> None:
    """Run an iterator over all its objects: read a new iterator fd of the link to
    its end (the programs write nothing to it: their output goes through the ring
    buffer, which `between` takes after every read), or until `between` says to
    stop (a stop was asked for)."""
    fd = libs.libbpf.bpf_iter_create(link_fd)
    if fd < 0:
        raise RuntimeFailure(f"cannot start the iterator: {os.strerror(-fd)}")
    try:
        while True:
            try:
                chunk = os.read(fd, ITER_READ_SIZE)
            except BlockingIOError:  # EAGAIN: a million objects without output
                chunk = b"."
            except OSError as error:
                raise RuntimeFailure(f"the iterator failed: {error.strerror}") from None
            if not between() or not chunk:
                return
    finally:
        os.close(fd)


def _watchpoint(libs: Libraries, prog_fd: int, target: Attach, pid: int) -> list[int]:
    """watchpoint:ADDRESS:LENGTH:MODE: a hardware breakpoint in the -p/-c process,
    or without one on kernel memory, on every CPU."""
    if target.watch_arg >= 0:  # on each address its uprobe sends (Session._watch)
        return []
    if pid < 0:
        return _on_every_cpu(lambda cpu: _breakpoint(prog_fd, target, -1, cpu, 0))
    # Inherited: threads the process starts after this are watched too (the
    # kernel cannot add threads that exist already), as in bpftrace.
    return [_breakpoint(prog_fd, target, pid, -1, perf.FLAG_INHERIT)]


def _breakpoint(prog_fd: int, target: Attach, pid: int, cpu: int, flags: int) -> int:
    try:
        fd = perf.open_event(PerfType.BREAKPOINT, 0, cpu, period=1, pid=pid,
                             bp_type=target.bp_type, bp_addr=target.address,
                             bp_len=target.bp_len, flags=flags)
        perf.run_program(fd, prog_fd)
    except OSError as error:
        code = error.errno or 0
        why = WATCHPOINT_ERRORS.get(code, error.strerror)
        if pid < 0 and code in (errno_module.EPERM, errno_module.EACCES):
            why = f"this machine refuses watchpoints on kernel memory ({error.strerror})"
        raise RuntimeFailure(f"cannot attach {target.probe}: {why}") from None
    return fd


ITER_READ_SIZE = 1 << 16
WATCHPOINT_ERRORS = {
    errno_module.ENOENT: "this machine has no hardware breakpoints (no breakpoint PMU)",
    errno_module.ENODEV: "this machine has no hardware breakpoints (no breakpoint PMU)",
    errno_module.EOPNOTSUPP: "this machine has no hardware breakpoints (no breakpoint PMU)",
    errno_module.ENOSPC: "every hardware breakpoint register of the CPU is in use",
    errno_module.EINVAL: "the CPU cannot watch this (x86-64 watches w, rw or x, not r alone; "
                         "the address must be a multiple of the length)",
    errno_module.ESRCH: "the process does not exist",
}


def _interval(libs: Libraries, prog_fd: int, target: Attach, _pid: int) -> list[int]:
    # One CPU: an interval fires once per period, not once per CPU.
    return [_perf_event(libs, prog_fd, target, 0, PerfType.SOFTWARE,
                        PERF_COUNT_SW_CPU_CLOCK, target.period_ns, 0)]


def _profile(libs: Libraries, prog_fd: int, target: Attach, _pid: int) -> list[int]:
    return _on_every_cpu(lambda cpu: _perf_event(
        libs, prog_fd, target, cpu, PerfType.SOFTWARE, PERF_COUNT_SW_CPU_CLOCK,
        target.period_ns, target.frequency))


def _on_every_cpu(attach_one: Callable[[int], int]) -> list[int]:
    """attach_one(cpu) on each online CPU; on a failure, what was attached is closed."""
    fds: list[int] = []
    try:
        for cpu in online_cpus():
            fds.append(attach_one(cpu))
    except BaseException:
        close_all(fds)
        raise
    return fds


def _perf_event(libs: Libraries, prog_fd: int, target: Attach, cpu: int, perf_type: int,
                config: int, period: int, frequency: int) -> int:
    try:
        fd = perf.open_event(perf_type, config, cpu, period=period, frequency=frequency)
        perf.run_program(fd, prog_fd)
    except OSError as error:
        if target.kind == ProbeKind.HARDWARE and error.errno in perf.NO_PMU:
            raise RuntimeFailure(f"cannot attach {target.probe}: this machine has no hardware "
                                 "performance counters (no CPU PMU)") from None
        raise RuntimeFailure(f"cannot attach {target.probe} on CPU {cpu}: "
                             f"{error.strerror}") from None
    return fd


# One per kind that is attached (Runs.ATTACHED or ITERATED).
ATTACHERS: dict[ProbeKind, Attacher] = {
    ProbeKind.TRACEPOINT: _tracepoint,
    ProbeKind.SYSCALLS: _raw_syscalls,
    ProbeKind.INTERVAL: _interval,
    ProbeKind.PROFILE: _profile,
    ProbeKind.UPROBE: _uprobe,
    ProbeKind.URETPROBE: _uprobe,
    ProbeKind.USDT: _uprobe,
    ProbeKind.RAWTRACEPOINT: _raw_tracepoint,
    ProbeKind.SOFTWARE: _perf_counter,
    ProbeKind.HARDWARE: _perf_counter,
    ProbeKind.KPROBE: _kprobe,
    ProbeKind.KRETPROBE: _kprobe,
    ProbeKind.FENTRY: _fentry,
    ProbeKind.FEXIT: _fentry,
    ProbeKind.WATCHPOINT: _watchpoint,
    ProbeKind.ASYNCWATCHPOINT: _watchpoint,
    ProbeKind.ITER: _iterator,
}
