"""What this machine lets ptrace do: whether programs can be loaded here, and
the checks `ptrace --info` shows (the CLI only prints them).

The checks are cheap and change nothing: files in sysfs and tracefs, the
kernel release, a BPF map created and closed, an iterator program loaded and
closed, a perf counter opened and closed. They go through the calls the
runtime itself loads and attaches with (`libbcc.py`, `perf.py`), so a check
fails as a run would. Nothing here needs root; without it some checks say so.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ptrace.runtime import libbcc, perf
from ptrace.runtime.libbcc import LibraryMissing, ProgLoadOpts

from ptrace.bpf_abi import PERF_COUNT_HW_CPU_CYCLES, AttachType, MapType, PerfType, ProgType
from ptrace.machine import TRACEFS_ROOTS, UPROBE_MULTI_SINCE, Machine, tracefs_root

NOT_ROOT = "loading BPF programs needs root: run ptrace with sudo"
EVENT_SOURCES = Path("/sys/bus/event_source/devices")
BTF_PATH = Path("/sys/kernel/btf/vmlinux")
KPROBE_FILES = (EVENT_SOURCES / "kprobe", TRACEFS_ROOTS[0] / "kprobe_events")
# A perf counter any user may open on itself (disabled, user space only), so
# opening it tells whether the hardware exists.
OWN_COUNTER_FLAGS = perf.FLAG_DISABLED | perf.FLAG_EXCLUDE_KERNEL | perf.FLAG_EXCLUDE_HV
RETURN_ZERO = bytes([0xB7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])  # r0 = 0; exit


# ---- can programs be loaded here? ------------------------------------------------------

def root_problem() -> str | None:
    """NOT_ROOT unless ptrace runs as root."""
    return NOT_ROOT if os.geteuid() != 0 else None


def load_problem() -> str | None:
    """Why no program can be loaded here (not root, no BPF, no bcc), as one sentence;
    None if programs can be loaded."""
    try:
        return root_problem() or bpf_problem(bpf_errno())
    except LibraryMissing as error:
        return str(error)


def _closed(fd: int) -> int:
    """0 after closing a descriptor a check opened, or the errno of a failed call (-errno)."""
    if fd < 0:
        return -fd
    os.close(fd)
    return 0


def bpf_errno() -> int:
    """Create and close a one-entry BPF array map, as the loader creates maps: 0, or
    the errno it failed with. Raises LibraryMissing."""
    return _closed(libbcc.load().bcc.bcc_create_map(MapType.ARRAY, b"", 4, 4, 1, 0))


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


def hardware_errno() -> int:
    """Open and close a CPU cycle counter on this process: 0, or the errno."""
    try:
        fd = perf.open_event(PerfType.HARDWARE, PERF_COUNT_HW_CPU_CYCLES, -1, pid=0,
                             flags=OWN_COUNTER_FLAGS)
    except OSError as error:
        return error.errno or errno.EIO
    return _closed(fd)


def iterator_errno(btf_id: int) -> int:
    """Load and close a two-instruction iterator program over the BTF function
    `btf_id` (bpf_iter_task): 0, or the errno. Raises LibraryMissing."""
    opts = ProgLoadOpts(sz=ctypes.sizeof(ProgLoadOpts), expected_attach_type=AttachType.TRACE_ITER,
                        attach_btf_id=btf_id)
    return _closed(libbcc.load().libbpf.bpf_prog_load(
        ProgType.TRACING, b"ptrace_check", b"GPL", RETURN_ZERO, len(RETURN_ZERO) // 8,
        ctypes.byref(opts)))


def kprobes_available() -> bool:
    """Whether the kernel has kprobes (CONFIG_KPROBES): a PMU, or tracefs' kprobe_events."""
    return any(os.path.exists(path) for path in KPROBE_FILES)


def kernel_release() -> tuple[int, int]:
    """(major, minor) of the running kernel; (0, 0) when the release is not a version."""
    match = re.match(r"(\d+)\.(\d+)", os.uname().release)  # (platform.release(): 5 ms to import)
    return (int(match[1]), int(match[2])) if match else (0, 0)


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


# ---- --info: a verdict per kernel feature and per probe type ----------------------------

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
    try:
        problem = bpf_problem(bpf_errno())
    except LibraryMissing as error:
        return Verdict(None, str(error))
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


def _link_kind(since: tuple[int, int], kprobes: bool, use: str = "") -> Callable[[], Verdict]:
    """A kind of BPF link bpftrace 0.26 reports under the name (kprobe_multi,
    kprobe_session, uprobe_multi): the kernel version it came with, kprobes
    for the kprobe ones, and what ptrace uses it for ("": nothing, it
    attaches those probes one by one)."""
    def check() -> Verdict:
        release = kernel_release()
        shown = f"kernel {release[0]}.{release[1]}, needs {since[0]}.{since[1]}"
        if kprobes and not kprobes_available():
            return Verdict(False, "the kernel has no kprobes")
        if release < since:
            return Verdict(False, shown)
        return Verdict(True, f"{shown} ({use or 'ptrace attaches one link per probe'})")
    return check


KERNEL_CHECKS: dict[str, Callable[[], Verdict]] = {
    "bpf() system call": _bpf,
    "BTF": _btf,
    "tracefs": _tracefs,
    "ring buffer maps": _ringbuf,
    "kprobe_multi": _link_kind((5, 18), kprobes=True),
    "kprobe_session": _link_kind((6, 10), kprobes=True),
    "uprobe_multi": _link_kind(UPROBE_MULTI_SINCE, kprobes=False,
                               use="ptrace attaches a uprobe wildcard's functions with one"),
}


def _tracepoints(machine: Machine) -> Verdict:
    problem = tracefs_problem()
    if problem:
        return Verdict(False, problem)
    return Verdict(True, f"{len(machine.tracepoints())} tracepoints in {tracefs_root()}/events")


def _hardware() -> Verdict:
    code = hardware_errno()
    if code == 0:
        return Verdict(True, "a CPU cycle counter opened")
    if code in perf.NO_PMU:
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


def _iterators(machine: Machine) -> Verdict:
    btf = machine.btf()
    btf_id = btf.find("bpf_iter_task", "func") if btf is not None else None
    if btf_id is None:
        return Verdict(False, "iterators need kernel BTF with bpf_iter_task")
    try:
        code = iterator_errno(btf_id)
    except LibraryMissing as error:
        return Verdict(None, str(error))
    if code == 0:
        return Verdict(True, "an iterator program loaded")
    if code in (errno.EPERM, errno.EACCES) and os.geteuid() != 0:
        return Verdict(None, NOT_ROOT)
    return Verdict(False, f"the kernel refused an iterator program: {os.strerror(code)}")


def _user_space(_machine: Machine) -> Verdict:
    bpf = _bpf()
    return Verdict(True, "run with BPF_PROG_TEST_RUN when ptrace receives the signal") \
        if bpf.works else bpf


def _run_in_mode(option: str) -> Callable[[Machine], Verdict]:
    """bench: and test: probes: run with BPF_PROG_TEST_RUN in the mode `option` asks for."""
    def verdict(_machine: Machine) -> Verdict:
        bpf = _bpf()
        return Verdict(True, f"run with BPF_PROG_TEST_RUN, with {option}") if bpf.works else bpf
    return verdict


def _raw_tracepoints(_machine: Machine) -> Verdict:
    major, minor = kernel_release()
    return Verdict((major, minor) >= (4, 17), f"kernel {major}.{minor}, needs 4.17")


def _begin_end(_machine: Machine) -> Verdict:
    bpf = _bpf()
    return Verdict(True, "run once with BPF_PROG_TEST_RUN") if bpf.works else bpf


_SOFTWARE = EVENT_SOURCES / "software"
_UPROBES = (EVENT_SOURCES / "uprobe", TRACEFS_ROOTS[0] / "uprobe_events")
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
    "kprobe": lambda _m: _exists(*KPROBE_FILES),
    "kretprobe": lambda _m: _exists(*KPROBE_FILES),
    "watchpoint": lambda _m: _exists(EVENT_SOURCES / "breakpoint"),
    "fentry": _needs_btf("fentry"),
    "fexit": _needs_btf("fexit"),
    "iter": _iterators,
    "self": _user_space,
    "bench": _run_in_mode("--mode bench"),
    "test": _run_in_mode("--test"),
}
