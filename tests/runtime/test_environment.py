"""A hostile environment: closed or full standard streams, a reader that goes
away, bad invocations, signals at any moment, floods of events.

Whatever happens, ptrace says one sentence (or nothing, where a Unix tool
would say nothing) and leaves nothing behind: no BPF program, map or link,
no tracefs entry, no process and no temporary file of the run.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# What is left in the whole kernel, memory and stop bounds, floods of events:
# no other test of the run beside them (tests/conftest.py).
pytestmark = pytest.mark.serial

TIMEOUT = 20
SCRIPT = 'BEGIN { printf("hi\\n"); @a[1] = 2; exit(); }'
TRACEFS = Path("/sys/kernel/tracing")


def run(argv: list[str], *, before_exec: Callable[[], None] | None = None,
        stdout: int | None = subprocess.PIPE, **kwargs: object,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE, text=True,
                          timeout=TIMEOUT, preexec_fn=before_exec,
                          stdin=kwargs.pop("stdin", subprocess.DEVNULL), **kwargs)  # type: ignore[call-overload]


def one_sentence(err: str) -> str:
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if not line.startswith("Attached")]
    assert len(lines) == 1, err
    return lines[0]


def close_fd(fd: int) -> Callable[[], None]:
    return lambda: os.close(fd)


# --- bad invocations ------------------------------------------------------------

@pytest.mark.parametrize("script", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_as_the_script(ptrace_exe: list[str], script: str) -> None:
    r = run([*ptrace_exe, script])
    assert r.returncode == 1
    assert one_sentence(r.stderr) == f"ptrace: error: {script}: the script is larger than 16 MiB"


@pytest.mark.parametrize("program", [[], ["-"]], ids=["no program", "-"])
def test_standard_input_closed_with_no_program(ptrace_exe: list[str],
                                               program: list[str]) -> None:
    r = run([*ptrace_exe, *program], before_exec=close_fd(0))
    assert r.returncode == 1
    assert one_sentence(r.stderr) == ("ptrace: error: no program: standard input is closed "
                                      "(give a file or -e PROGRAM)")


@pytest.mark.bpf
def test_standard_input_closed_with_a_program(ptrace_exe: list[str]) -> None:
    r = run([*ptrace_exe, "-e", SCRIPT], before_exec=close_fd(0))
    assert (r.returncode, r.stdout) == (0, "hi\n\n\n@a[1]: 2\n"), r.stderr


@pytest.mark.parametrize("options", [["-e", SCRIPT], ["-h"]], ids=["run", "-h"])
def test_standard_output_closed(ptrace_exe: list[str], options: list[str]) -> None:
    r = run([*ptrace_exe, *options], stdout=None, before_exec=close_fd(1))
    assert r.returncode == 1
    assert one_sentence(r.stderr).startswith(
        "ptrace: error: cannot write to standard output: it is closed")


@pytest.mark.bpf
def test_standard_output_closed_with_o(ptrace_exe: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run([*ptrace_exe, "-o", str(out), "-e", SCRIPT], stdout=None, before_exec=close_fd(1))
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "hi\n\n\n@a[1]: 2\n"


@pytest.mark.bpf
@pytest.mark.parametrize("how", ["-o", "stdout", "stdout -B line"])
def test_a_full_output_stops_the_run_and_says_what_was_lost(ptrace_exe: list[str],
                                                            how: str) -> None:
    with open("/dev/full", "w") as full:
        if how == "-o":
            r = run([*ptrace_exe, "-o", "/dev/full", "-e", SCRIPT])
        else:
            r = run([*ptrace_exe, *how.split()[1:], "-e", SCRIPT], stdout=full.fileno())
    where = "/dev/full" if how == "-o" else "standard output"
    assert r.returncode == 1
    assert one_sentence(r.stderr) == (f"ptrace: error: cannot write to {where}: No space left "
                                      "on device; the run stopped, and @a was not printed")


@pytest.mark.bpf
def test_a_full_output_stops_a_running_probe(ptrace_exe: list[str]) -> None:
    """Output that fails while events arrive ends the run at once, cleanly."""
    r = run([*ptrace_exe, "-o", "/dev/full", "-e",
             'interval:ms:10 { printf("tick\\n"); } END { @n = 1; }'])
    assert r.returncode == 1
    assert one_sentence(r.stderr) == ("ptrace: error: cannot write to /dev/full: No space left "
                                      "on device; the run stopped, and @n was not printed")


def test_a_listing_to_a_full_output(ptrace_exe: list[str]) -> None:
    with open("/dev/full", "w") as full:
        r = run([*ptrace_exe, "-h"], stdout=full.fileno())
    assert r.returncode == 1
    assert one_sentence(r.stderr) == ("ptrace: error: cannot write to standard output: "
                                      "No space left on device")


@pytest.mark.bpf
def test_a_full_standard_error_does_not_stop_the_run(ptrace_exe: list[str]) -> None:
    with open("/dev/full", "w") as full:
        r = subprocess.run([*ptrace_exe, "-e", SCRIPT], stdout=subprocess.PIPE, stderr=full,
                           stdin=subprocess.DEVNULL, text=True, timeout=TIMEOUT)
    assert (r.returncode, r.stdout) == (0, "hi\n\n\n@a[1]: 2\n")


def test_c_with_an_unbalanced_quote(ptrace_exe: list[str]) -> None:
    r = run([*ptrace_exe, "-c", "echo 'a", "-e", SCRIPT])
    assert r.returncode == 1
    assert one_sentence(r.stderr) == (
        "ptrace: error: -c: the command cannot be split into words: no closing quotation "
        "(ptrace -h lists the options)")


@pytest.mark.bpf
def test_a_reader_that_goes_away_ends_the_run_quietly(ptrace_exe: list[str]) -> None:
    """ptrace … | head -1: the rest has nowhere to go; as bpftrace and Unix tools, end
    without a word (status 0)."""
    with subprocess.Popen([*ptrace_exe, "-e", 'interval:ms:1 { printf("line\\n"); }'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, text=True) as p:
        assert p.stdout is not None and p.stderr is not None
        assert p.stdout.readline() == "line\n"
        p.stdout.close()
        code = p.wait(timeout=TIMEOUT)
        err = p.stderr.read()
    assert code == 0, err
    assert ATTACHED.fullmatch(err), err


ATTACHED = re.compile(r"Attached \d+ probes?\n")


# --- signals --------------------------------------------------------------------

def sigint_held(pid: int) -> bool | None:
    """Whether the process catches or blocks SIGINT now (None: it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    bit = 1 << (signal.SIGINT - 1)
    masks = re.findall(r"^Sig(?:Cgt|Blk):\s*([0-9a-f]+)$", status, re.MULTILINE)
    return any(int(mask, 16) & bit for mask in masks)


def wait_until_python_let_sigint_go(pid: int, argument: str) -> None:
    """During its start-up the process holds SIGINT: the launcher's `env` blocks it
    until ptrace's entry point has said what it does, and Python catches it (to
    raise KeyboardInterrupt) until then. Wait for the moment it is neither
    blocked nor caught, having been one of them (in the process after its exec:
    its command line has `argument`). Blocked, it is held from the launcher on,
    a window no poll misses."""
    seen_held = False
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            if argument.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue  # still the forked test process, with its handlers
        except OSError:
            return
        held = sigint_held(pid)
        if held is None or (seen_held and not held):
            return
        seen_held = seen_held or held
        time.sleep(0.0005)  # leave the CPU to the process starting
    pytest.fail("ptrace never let SIGINT go")


@pytest.mark.bpf
@pytest.mark.parametrize("how", ["command", "python -m"])
def test_an_early_sigint_ends_quietly(ptrace_exe: list[str], how: str) -> None:
    """From ptrace's first line of code on, SIGINT at any moment of the start-up
    (imports, compiling, loading) ends the run without a traceback."""
    command = ptrace_exe if how == "command" else [sys.executable, "-m", "ptrace"]
    rng = random.Random(15)
    for _ in range(6):
        with leftovers_checked():
            program = "interval:s:5 { exit(); }"
            p = subprocess.Popen([*command, "-e", program],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, text=True)
            wait_until_python_let_sigint_go(p.pid, program)
            time.sleep(rng.uniform(0, 0.3))
            p.send_signal(signal.SIGINT)
            _, err = p.communicate(timeout=TIMEOUT)
        assert p.returncode in (-signal.SIGINT, 0), err
        assert "Traceback" not in err and "error" not in err, err


@pytest.mark.bpf
def test_a_sigint_in_the_first_milliseconds_ends_quietly(ptrace_exe: list[str],
                                                         triggers: Path) -> None:
    """The command starts Python with SIGINT blocked (scripts/setup), so a SIGINT
    while the interpreter itself starts waits until ptrace has said what it does.
    40 runs, each signalled 0-60 ms after it started: each ends killed by the
    signal, silent (status 130 in the shell), or, once the run's handlers are in,
    as a stopped run (END, maps, status 0); none with a traceback, none leaving
    anything in the kernel."""
    program = (f"BEGIN {{ @a = 1; }} uprobe:{triggers / 'ptt_uprobe'}:ptt_add {{ @u = 1; }} "
               "interval:s:5 { exit(); }")
    outcomes: list[tuple[int, str, str]] = []

    def runs(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(10):
            p = subprocess.Popen([*ptrace_exe, "-e", program], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
            time.sleep(rng.uniform(0, 0.06))
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=TIMEOUT)
            outcomes.append((p.returncode, out, err))

    with leftovers_checked():
        threads = [threading.Thread(target=runs, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(outcomes) == 40
    for outcome in outcomes:
        assert outcome in ((-signal.SIGINT, "", ""),
                           (0, "\n\n@a: 1\n", "Attached 3 probes\n")), outcome


# --- what a run leaves behind ---------------------------------------------------

def bpftool(what: str) -> list[dict[str, object]]:
    out = subprocess.run(["bpftool", "-j", what, "show"], capture_output=True, text=True,
                         check=True).stdout
    return list(json.loads(out or "[]"))


RUN_MAPS = {".events", ".counters", ".globals", ".scratch"}  # every run has these


def kernel_objects() -> dict[str, set[int]]:
    """ptrace's programs (probe_*), maps and links in the kernel, by id."""
    progs = {int(str(p["id"])) for p in bpftool("prog")
             if str(p.get("name", "")).startswith("probe_")}
    maps = {int(str(m["id"])) for m in bpftool("map") if m.get("name") in RUN_MAPS}
    links = {int(str(link["id"])) for link in bpftool("link")
             if int(str(link.get("prog_id", 0))) in progs}
    return {"prog": progs, "map": maps, "link": links}


def held_objects() -> dict[str, set[int]]:
    """Ids of programs, maps and links that some live process holds a descriptor of,
    and the maps that loaded programs use."""
    held: dict[str, set[int]] = {"prog": set(), "map": set(), "link": set()}
    for process in Path("/proc").glob("[0-9]*"):
        try:  # processes exit and descriptors close while they are looked at
            infos = [info.read_text() for info in (process / "fdinfo").iterdir()]
        except OSError:
            continue
        for text in infos:
            for kind in held:
                match = re.search(rf"^{kind}_id:\s*(\d+)$", text, re.MULTILINE)
                if match:
                    held[kind].add(int(match[1]))
    for prog in bpftool("prog"):
        held["map"].update(int(str(i)) for i in prog.get("map_ids", []))  # type: ignore[attr-defined]
    return held


def tracefs_entries() -> set[str]:
    entries: set[str] = set()
    for name in ("uprobe_events", "kprobe_events"):
        try:
            entries |= {line for line in (TRACEFS / name).read_text().splitlines()
                        if "ptrace_" in line}
        except OSError:
            continue
    return entries


@contextmanager
def leftovers_checked(command_marker: str | None = None,
                      cache: Path | None = None) -> Iterator[None]:
    """After the block, nothing the ptrace it ran created is left: no program, map
    or link that no live process holds (the machine is shared: others' runs hold
    theirs), no tracefs entry, no process of the -c command (its command line holds
    `command_marker`), no temporary file in the BTF cache folder."""
    before = kernel_objects()
    entries_before = tracefs_entries()
    yield
    left: dict[str, set[int]] = {}
    for _ in range(30):  # freeing is asynchronous
        now, held = kernel_objects(), held_objects()
        left = {kind: ids - before[kind] - held[kind] for kind, ids in now.items()}
        if not any(left.values()):
            break
        time.sleep(0.1)
    assert not any(left.values()), f"left in the kernel: {left}"
    assert tracefs_entries() <= entries_before
    if command_marker is not None:
        running = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if command_marker in cmdline.read_bytes().decode(errors="replace"):
                    running.append(cmdline.parent.name)
            except OSError:
                continue
        assert not running, f"the -c command is still running: {running}"
    if cache is not None:
        assert not list(cache.rglob("*.tmp")), list(cache.rglob("*"))


@pytest.mark.bpf
def test_start_then_signal_leaves_nothing(ptrace_exe: list[str], triggers: Path,
                                          tmp_path: Path) -> None:
    """INT, TERM, HUP and KILL at random moments, from the start-up to the running
    probes: a uprobe, a tracepoint, a timer and a -c command."""
    rng = random.Random(4)
    binary = triggers / "ptt_uprobe"
    program = (f"uprobe:{binary}:ptt_add {{ @[1] = count(); }} "
               "tracepoint:sched:sched_switch { @s = count(); } "
               'interval:ms:50 { printf("t\\n"); }')
    for cycle, sig in enumerate([signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL]
                                * 2):
        marker = f"97.{os.getpid()}{cycle}"
        cache = tmp_path / f"cache{cycle}"
        with leftovers_checked(marker, cache):
            p = subprocess.Popen([*ptrace_exe, "-c", f"sleep {marker}", "-e", program],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, text=True,
                                 env={**os.environ, "XDG_CACHE_HOME": str(cache)})
            wait_until_python_let_sigint_go(p.pid, program)  # before: Python's own start
            time.sleep(rng.uniform(0, 1.5))
            p.send_signal(sig)
            _, err = p.communicate(timeout=TIMEOUT)
        assert "Traceback" not in err and "internal error" not in err, err


# --- stop under load, lost events -----------------------------------------------

@pytest.mark.bpf
def test_a_signal_stops_system_on_every_context_switch(ptrace_exe: list[str]) -> None:
    """Each event runs a command, whose running makes more events: SIGINT still
    reaches END within the bound."""
    with subprocess.Popen([*ptrace_exe, "--unsafe", "-e",
                           'tracepoint:sched:sched_switch { system("true"); } '
                           'END { printf("end\\n"); }'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, text=True) as p:
        assert p.stderr is not None
        assert ATTACHED.fullmatch(p.stderr.readline())
        time.sleep(1)
        start = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=TIMEOUT)
        took = time.monotonic() - start
    assert p.returncode == 0, err
    assert "end\n" in out
    assert took < 5, f"the stop took {took:.1f} s"


@pytest.mark.bpf
def test_every_event_is_printed_or_counted_lost(ptrace_exe: list[str], triggers: Path,
                                                tmp_path: Path) -> None:
    """100,000 events into a one-page ring buffer while ptrace is stopped (the
    traced program stops it, so the buffer overflows on any machine): printed
    lines and the counts of lost events add up to the events made, exactly."""
    events = 100_000
    out = tmp_path / "out"
    r = run([*ptrace_exe, "-o", str(out), "-c", f"{triggers / 'ptt_burst_paused'} {events}", "-e",
             "config = { perf_rb_pages = 1 } "
             'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("e\\n"); }'])
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    printed = lines.count("e")
    lost = sum(int(m[1]) for line in lines if (m := re.fullmatch(r"Lost (\d+) events", line)))
    assert lost > 0, "the test means the buffer to overflow"
    assert printed + lost == events
    assert f"WARNING: Total lost event count: {lost}\n" in r.stderr


def test_an_iterator_stops_reading_when_a_stop_is_asked_for() -> None:
    """An iterator whose reads never end (here /dev/zero stands in for it) is read
    until the step between two reads says to stop."""
    from types import SimpleNamespace

    from ptrace.runtime.attach import run_iterator

    libs = SimpleNamespace(libbpf=SimpleNamespace(
        bpf_iter_create=lambda _link: os.open("/dev/zero", os.O_RDONLY)))
    steps = 0

    def step() -> bool:
        nonlocal steps
        steps += 1
        return steps < 5

    run_iterator(libs, 0, step)  # type: ignore[arg-type]
    assert steps == 5


# --- a long run -----------------------------------------------------------------

class CountingSink(io.TextIOBase):
    """An output that keeps nothing, counting the maps printed to it."""

    def __init__(self) -> None:
        super().__init__()
        self.maps = 0

    def write(self, text: str, /) -> int:
        self.maps += text.count("@n")
        return len(text)

    def writable(self) -> bool:
        return True


def grown_by(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> int:
    """Bytes allocated between two snapshots and still held, by ptrace's own code."""
    ours = [tracemalloc.Filter(True, f"{ROOT}/ptrace/*"),
            tracemalloc.Filter(True, f"{ROOT}/runtime/*")]
    return sum(stat.size_diff for stat in after.filter_traces(ours).compare_to(
        before.filter_traces(ours), "filename"))


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.bpf
def test_memory_stays_flat_over_many_map_reads() -> None:
    """Thousands of map prints and lost-event checks (an hour of a script printing
    its maps every second) leave ptrace's memory as it was."""
    from ptrace.runtime.session import Session

    from ptrace.compile import compile
    from ptrace.diagnostics import Source
    from ptrace.options import Options

    program = compile(Source("-e", "interval:ms:1 { @n = count(); print(@n); }"), Options())
    sink = CountingSink()
    session = Session(program, sink, io.StringIO())  # type: ignore[arg-type]
    snapshots: list[tuple[int, tracemalloc.Snapshot]] = []

    def watch() -> None:
        for reads in (300, 3300):
            while sink.maps < reads and not session.stopping:
                time.sleep(0.01)
            snapshots.append((sink.maps, tracemalloc.take_snapshot()))
        session.stop()

    tracemalloc.start()
    try:
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        session.run()
        watcher.join(TIMEOUT)
    finally:
        tracemalloc.stop()
    (first, before), (last, after) = snapshots
    assert last - first >= 2900
    assert grown_by(before, after) < 16 * 1024


def test_the_cpu_count_is_read_once() -> None:
    from ptrace.runtime.cpus import possible_cpus

    possible_cpus()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10_000):
            possible_cpus()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1024


# --- counts ---------------------------------------------------------------------

@pytest.mark.bpf
def test_counts_are_exact_when_cpus_create_a_key_together(ptrace_exe: list[str],
                                                          tmp_path: Path) -> None:
    """Two processes on two CPUs make write() calls; every millisecond both meet a
    new key at once. The keys' counts add up to the total: no CPU's first count
    of a key is lost to the other's creating it.

    The interval's run can be skipped by the kernel when its timer fires while
    the tracepoint's program runs on that CPU (bpftrace loses the same ticks), so
    the run may last a multiple of 1.5 s: the map has room for a minute of keys,
    and a full map would show as a warning."""
    writers = [subprocess.Popen(["dd", "if=/dev/zero", "of=/dev/null", "bs=1"],
                                stderr=subprocess.DEVNULL) for _ in range(2)]
    out = tmp_path / "out"
    try:
        r = run([*ptrace_exe, "-o", str(out), "-e",
                 "config = { max_map_keys = 65536 } "
                 f"tracepoint:syscalls:sys_enter_write /pid == {writers[0].pid} || "
                 f"pid == {writers[1].pid}/ {{ @k[nsecs / 1000000] = count(); "
                 "@total = count(); } interval:ms:1500 { exit(); }"])
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()
    assert r.returncode == 0, r.stderr
    assert "WARNING" not in r.stderr, r.stderr
    text = out.read_text()
    total = re.search(r"^@total: (\d+)$", text, re.MULTILINE)
    keyed = [int(m[1]) for m in re.finditer(r"^@k\[\d+\]: (\d+)$", text, re.MULTILINE)]
    assert total is not None and len(keyed) > 100, text[-300:]
    assert sum(keyed) == int(total[1])


@pytest.mark.bpf
def test_probes_detach_while_the_maps_print_and_are_gone_when_the_run_ends() -> None:
    """The attachments are closed from the stop on, in another thread (the kernel
    waits ~70 ms per tracepoint): the maps print meanwhile, and when the run
    returns every attachment is closed."""
    from ptrace.runtime.session import Session

    from ptrace.compile import compile
    from ptrace.diagnostics import Source
    from ptrace.options import Options

    program = compile(Source("-e", "tracepoint:syscalls:sys_enter_getppid { @[pid] = count(); } "
                                   "interval:ms:1 { @[0] = count(); exit(); }"), Options())
    seen: dict[str, object] = {}

    class Watched(Session):
        def _attach_all(self) -> None:
            super()._attach_all()
            seen["attached"] = list(self.perf_fds)

        def _finish(self) -> None:
            seen["detaching"] = self.detaching is not None and not self.perf_fds
            super()._finish()

    out = io.StringIO()
    assert Watched(program, out, io.StringIO()).run() == 0
    assert "\n@[0]: 1\n" in out.getvalue()
    attached = seen["attached"]
    assert isinstance(attached, list) and len(attached) >= 2 and seen["detaching"] is True
    for fd in attached:
        with pytest.raises(OSError):
            os.fstat(fd)
