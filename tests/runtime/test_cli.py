"""The command line: how a program is given, options, signals and exit status.

Tests that load BPF are marked `bpf`; the others (-d, errors found before
loading) also run without root. Every BPF test checks afterwards that no
program ptrace created (`probe_*`) is left in the kernel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ptrace.machine import cpu_list

TIMEOUT = 20
ATTACHED = re.compile(r"^Attached \d+ probes?$", re.MULTILINE)
NOBODY = 65534


def run(argv: list[str], *, input: str | None = None, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=input, capture_output=True, text=True, timeout=TIMEOUT,
                          cwd=cwd, env=env, stdin=None if input is not None else subprocess.DEVNULL)


def probe_programs() -> dict[int, str]:
    """Loaded BPF programs that ptrace creates (probe_N), by id."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {int(p["id"]): str(p["name"]) for p in json.loads(out or "[]")
            if str(p.get("name", "")).startswith("probe_")}


def held_programs() -> set[int]:
    """Ids of BPF programs some live process holds a descriptor of."""
    held: set[int] = set()
    for process in Path("/proc").glob("[0-9]*"):
        try:  # processes exit and descriptors close while they are looked at
            fdinfos = list((process / "fdinfo").iterdir())
        except OSError:
            continue
        for fdinfo in fdinfos:
            try:
                text = fdinfo.read_text()
            except OSError:
                continue
            match = re.search(r"^prog_id:\s*(\d+)$", text, re.MULTILINE)
            if match:
                held.add(int(match[1]))
    return held


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """After the test, no probe_* program it loaded is left in the kernel.

    The machine is shared: a program that appeared during the test but is
    held by a live process belongs to another ptrace running concurrently
    (ours has exited). Freeing is asynchronous, so look for a short while.
    """
    before = set(probe_programs())
    yield
    left: dict[int, str] = {}
    for _ in range(20):
        now = probe_programs()
        held = held_programs()
        left = {i: name for i, name in now.items() if i not in before and i not in held}
        if not left:
            return
        time.sleep(0.1)
    assert not left, f"programs left in the kernel after ptrace exited: {left}"


class Running:
    """ptrace started in the background; waits for its 'Attached' line."""

    def __init__(self, argv: list[str], cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, cwd=cwd)
        self.stderr: list[str] = []
        self.attached = threading.Event()
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            if ATTACHED.match(line.rstrip("\n")):
                self.attached.set()
        self.attached.set()

    def wait_attached(self) -> None:
        assert self.attached.wait(TIMEOUT), "ptrace did not attach in time"
        assert self.proc.poll() is None, f"ptrace exited early: {''.join(self.stderr)}"

    def finish(self, sig: int | None = None) -> tuple[int, str, str]:
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            assert self.proc.stdout is not None
            stdout = self.proc.stdout.read()
            code = self.proc.wait(timeout=TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        return code, stdout, "".join(self.stderr)


def as_nobody(argv: list[str]) -> list[str]:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv is needed to drop privileges")
    if os.geteuid() != 0:
        return argv
    if argv[0].endswith("/ptrace"):
        # setpriv execs the command while it still holds root's capabilities, the
        # interpreter of a script included; the console script's interpreter is env
        # (scripts/setup), which runs as nobody and cannot reach a Python under a
        # directory only root may search (this machine's, under /root). Its Python
        # runs the same console script.
        argv = [str(Path(argv[0]).parent / "python"), *argv]
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]


# --- ways to give the program ---------------------------------------------

@pytest.mark.bpf
def test_e_program(ptrace_exe: list[str], no_leftovers: None) -> None:
    r = run([*ptrace_exe, "-e", 'BEGIN { printf("hello %d\\n", 42); exit(); }'])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip("\n") == "hello 42"
    assert "Traceback" not in r.stderr


@pytest.mark.bpf
def test_script_file_with_shebang(ptrace_exe: list[str], tmp_path: Path,
                                  no_leftovers: None) -> None:
    script = tmp_path / "hello.bt"
    script.write_text('#!/usr/bin/env ptrace\n'
                      '// a script file\n'
                      'BEGIN\n'
                      '{\n'
                      '\tprintf("from a file %s\\n", $1);\n'
                      '\t@n = $#;\n'
                      '\texit();\n'
                      '}\n')
    r = run([*ptrace_exe, str(script), "arg"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip("\n") == "from a file arg\n\n\n@n: 1"


def test_script_file_error_reports_its_line(ptrace_exe: list[str], tmp_path: Path) -> None:
    script = tmp_path / "broken.bt"
    script.write_text('#!/usr/bin/env ptrace\n'
                      'BEGIN\n'
                      '{\n'
                      '\t$x = 1;\n'
                      '\t$y = undefined_thing;\n'
                      '}\n')
    r = run([*ptrace_exe, str(script)])
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"{script}:5:"), r.stderr
    assert "undefined_thing" in r.stderr


def test_script_file_syntax_error_reports_its_line(ptrace_exe: list[str],
                                                   tmp_path: Path) -> None:
    script = tmp_path / "syntax.bt"
    script.write_text('#!/usr/bin/env ptrace\n'
                      '\n'
                      'BEGIN {\n'
                      '\tprintf("x\\n")\n'
                      '\texit();\n')
    r = run([*ptrace_exe, str(script)])
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert re.match(rf"{re.escape(str(script))}:[45]:\d+: ", r.stderr), r.stderr


@pytest.mark.parametrize("how", ["file", "stdin", "-"])
def test_a_script_larger_than_the_limit_is_refused(ptrace_exe: list[str], how: str) -> None:
    # /dev/zero never ends: ptrace reads one byte past the limit and stops.
    argv = {"file": ["/dev/zero"], "stdin": [], "-": ["-"]}[how]
    with open("/dev/zero", "rb") as zero:
        r = subprocess.run([*ptrace_exe, "-d", "ast", *argv], stdin=zero, capture_output=True,
                           text=True, timeout=TIMEOUT)
    name = "/dev/zero" if how == "file" else "stdin"
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"ptrace: error: {name}: the script is larger than 16 MiB\n"


@pytest.mark.parametrize("how", ["file", "stdin", "-e"])
def test_invalid_utf8_is_a_located_error(ptrace_exe: list[str], tmp_path: Path,
                                         how: str) -> None:
    script = b'BEGIN {\n  printf("caf\xe9\\n"); }\n'
    path = tmp_path / "latin1.bt"
    path.write_bytes(script)
    argv = {"file": [str(path)], "stdin": ["-"], "-e": ["-e", os.fsdecode(script)]}[how]
    r = subprocess.run([*ptrace_exe, "-d", "ast", *argv], capture_output=True, timeout=TIMEOUT,
                       input=script if how == "stdin" else b"")
    name = {"file": str(path), "stdin": "stdin", "-e": "-e"}[how]
    assert (r.returncode, r.stdout) == (1, b"")
    assert r.stderr.decode() == (
        f"{name}:2:14: error: the script is not valid UTF-8 (byte 0xe9)\n"
        '      printf("caf?\\n"); }\n'
        "                 ^\n")


@pytest.mark.bpf
def test_program_from_stdin(ptrace_exe: list[str], no_leftovers: None) -> None:
    r = run([*ptrace_exe, "-", "7", "seven"],
            input='BEGIN { printf("stdin %d %s %d\\n", $1, $2, $#); exit(); }\n')
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip("\n") == "stdin 7 seven 2"


@pytest.mark.bpf
def test_positional_parameters_after_the_program(ptrace_exe: list[str], tmp_path: Path,
                                                 no_leftovers: None) -> None:
    prog = 'BEGIN { printf("%d|%s|%d|%d\\n", $1 + 1, $2, $3, $#); exit(); }'
    r = run([*ptrace_exe, "-e", prog, "41", "two words", "-3"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip("\n") == "42|two words|-3|3"
    r = run([*ptrace_exe, "-e", prog, "--", "1", "x"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip("\n") == "2|x|0|2"
    script = tmp_path / "params.bt"
    script.write_text(prog + "\n")
    r = run([*ptrace_exe, str(script), "9", "nine"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip("\n") == "10|nine|0|2"


# --- options ---------------------------------------------------------------

@pytest.mark.bpf
def test_attached_line_comes_before_what_begin_prints(ptrace_exe: list[str],
                                                      no_leftovers: None) -> None:
    """As in bpftrace: BEGIN runs before the other probes attach, and its output
    follows the line; after BEGIN's exit() the probes still attach."""
    r = subprocess.run([*ptrace_exe, "-e", 'BEGIN { printf("header\\n"); exit(); } '
                        "tracepoint:syscalls:sys_enter_getppid { }"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode == 0
    assert r.stdout.strip("\n") == "Attached 2 probes\nheader"


@pytest.mark.bpf
def test_attached_line(ptrace_exe: list[str], triggers: Path, no_leftovers: None) -> None:
    p = Running([*ptrace_exe, "-e",
                 'tracepoint:syscalls:sys_enter_getppid /comm == "cli_attached"/ { @ = count(); }'])
    p.wait_attached()
    subprocess.run([str(triggers / "ptt_as"), "cli_attached", "ppid:2"], check=True,
                   timeout=TIMEOUT)
    code, out, err = p.finish(signal.SIGINT)
    assert code == 0, err
    assert out.strip("\n") == "@: 2"
    assert err == "Attached 1 probe\n"


@pytest.mark.bpf
def _held_links(pid: int) -> tuple[list[str], int]:
    """The types of the BPF links a process holds, and how many perf events."""
    links, perf_events = [], 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
            info = (Path(f"/proc/{pid}/fdinfo") / fd.name).read_text()
        except OSError:
            continue
        perf_events += target == "anon_inode:[perf_event]"
        match = re.search(r"^link_type:\s*(\S+)$", info, re.MULTILINE)
        if match:
            links.append(match[1])
    return links, perf_events


@pytest.mark.bpf
def test_a_wildcard_attaches_through_one_uprobe_multi_link(ptrace_exe: list[str], triggers: Path,
                                                           no_leftovers: None) -> None:
    """uretprobe:BINARY:GLOB over two functions: one uprobe_multi link and no perf
    event; `probe` and `func` name the function that returned."""
    program = triggers / "ptt_uprobe"
    tracer = Running([*ptrace_exe, "-e", f"uretprobe:{program}:ptt_* "
                      "{ @[probe, func] = sum(retval); }"])
    tracer.wait_attached()
    held = _held_links(tracer.proc.pid)
    subprocess.run([str(program), "x", "yy"], check=True)
    code, stdout, stderr = tracer.finish(signal.SIGINT)
    assert held == (["uretprobe_multi"], 0)
    assert code == 0, stderr
    assert "Attached 2 probes\n" in stderr
    assert stdout.strip("\n") == (f"@[uretprobe:{program}:ptt_greet, ptt_greet]: 3\n"
                                   f"@[uretprobe:{program}:ptt_add, ptt_add]: 33")


def test_q_hides_the_attached_line(ptrace_exe: list[str], no_leftovers: None) -> None:
    prog = 'interval:ms:50 { @ = count(); exit(); } END { printf("end\\n"); }'
    r = run([*ptrace_exe, "-e", prog])
    assert r.returncode == 0, r.stderr
    assert ATTACHED.search(r.stderr), r.stderr
    r = run([*ptrace_exe, "-q", "-e", prog])
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert re.fullmatch(r"end\n\n\n@: [12]", r.stdout.strip("\n")), r.stdout


@pytest.mark.bpf
def test_attach_notice_goes_to_stdout_with_o(ptrace_exe: list[str], tmp_path: Path,
                                             no_leftovers: None) -> None:
    """__BPFTRACE_NOTIFY_PROBES_ATTACHED set: the notice is on standard output,
    what the program prints in the -o file."""
    out = tmp_path / "out.txt"
    r = run([*ptrace_exe, "-q", "-o", str(out), "-e", 'BEGIN { printf("begin\\n"); exit(); }'],
            env={**os.environ, "__BPFTRACE_NOTIFY_PROBES_ATTACHED": "1"})
    assert (r.returncode, r.stdout, r.stderr) == (0, "__BPFTRACE_NOTIFY_PROBES_ATTACHED\n", "")
    assert out.read_text() == "begin\n\n\n"


@pytest.mark.bpf
def test_o_writes_output_to_a_file(ptrace_exe: list[str], tmp_path: Path,
                                   no_leftovers: None) -> None:
    out = tmp_path / "out.txt"
    r = run([*ptrace_exe, "-o", str(out), "-e",
             'BEGIN { printf("to file\\n"); @x = 1; exit(); } END { printf("end\\n"); }'])
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert out.read_text().strip("\n") == "to file\nend\n\n\n@x: 1"
    assert "Traceback" not in r.stderr


@pytest.mark.bpf
def test_o_with_q_and_a_tracepoint(ptrace_exe: list[str], triggers: Path, tmp_path: Path,
                                   no_leftovers: None) -> None:
    out = tmp_path / "trace.txt"
    p = Running([*ptrace_exe, "-o", str(out), "-e",
                 'tracepoint:syscalls:sys_enter_getppid /comm == "cli_output"/ '
                 '{ printf("%s\\n", comm); @[comm] = count(); }'])
    p.wait_attached()
    subprocess.run([str(triggers / "ptt_as"), "cli_output", "ppid:2"], check=True,
                   timeout=TIMEOUT)
    code, stdout, err = p.finish(signal.SIGINT)
    assert code == 0, err
    assert stdout == ""
    assert out.read_text().strip("\n") == "cli_output\ncli_output\n\n\n@[cli_output]: 2"


@pytest.mark.parametrize("stage, marker", [
    ("ast", re.compile(r"Probe|Program")),
    ("ir", re.compile(r"define .*@\"?probe_0")),
    ("ir-opt", re.compile(r"define .*@\"?probe_0")),
    ("asm", re.compile(r"^probe_0:", re.MULTILINE)),
])
def test_d_prints_a_stage_without_root(ptrace_exe: list[str], stage: str,
                                       marker: re.Pattern[str]) -> None:
    prog = 'BEGIN { printf("hi %d\\n", 1); @x = count(); exit(); } END { printf("bye\\n"); }'
    r = run(as_nobody([*ptrace_exe, "-d", stage, "-e", prog]))
    assert r.returncode == 0, r.stderr
    assert marker.search(r.stdout), r.stdout[:2000]
    lines = r.stdout.splitlines()
    assert "hi 1" not in lines and "bye" not in lines, "the program ran"
    assert "Traceback" not in r.stderr


def test_d_ast_shows_the_program(ptrace_exe: list[str]) -> None:
    r = run([*ptrace_exe, "-d", "ast", "-e", 'BEGIN { printf("marker_%d\\n", 12345); }'])
    assert r.returncode == 0, r.stderr
    assert "printf" in r.stdout and "12345" in r.stdout and "BEGIN" in r.stdout



def test_d_types_prints_the_checked_program_without_root(ptrace_exe: list[str]) -> None:
    r = run(as_nobody([*ptrace_exe, "-d", "types", "-e",
                       'BEGIN { $x = 1; @m[comm] = $x; exit(); }']))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Map name='@m' key='string[16]' value='int64'  @1\n"
                               "Instance index=0 probe='BEGIN'  @1\n"
                               "  .variables:\n"
                               "    Variable name='$x' type='uint8'  @1\n"), r.stdout
    assert r.stderr == ""


def test_d_types_is_printed_when_checking_fails(ptrace_exe: list[str]) -> None:
    """What the checker typed, on stdout, explains the error on stderr."""
    r = run([*ptrace_exe, "-d", "types", "-d", "ir", "-e", 'BEGIN { @m = 1; @m = "one"; }'])
    assert r.returncode == 1
    assert "MapAccess name='@m' type='int64'  @1\n" in r.stdout
    assert "String value='one' type='string[4]'  @1\n" in r.stdout
    assert "define" not in r.stdout
    assert r.stderr.startswith("-e:1:17: error: map @m holds values of type int64; "
                               "cannot store values of type string[4]\n"), r.stderr

@pytest.mark.bpf
def test_d_loads_nothing(ptrace_exe: list[str], no_leftovers: None) -> None:
    r = run([*ptrace_exe, "-d", "asm", "-e",
             'tracepoint:syscalls:sys_enter_getppid { @ = count(); }'])
    assert r.returncode == 0, r.stderr
    assert re.search(r"^probe_0:", r.stdout, re.MULTILINE)
    assert not ATTACHED.search(r.stderr)


@pytest.mark.bpf
def test_d_verifier_prints_each_programs_log_and_runs_nothing(ptrace_exe: list[str],
                                                              no_leftovers: None) -> None:
    """-d verifier (and all, which ends with it) loads, prints the verifier's
    log of each program, closes everything: nothing attached, nothing run."""
    prog = 'BEGIN { printf("hi\\n"); } tracepoint:syscalls:sys_enter_getppid { @ = count(); }'
    compiled = run([*ptrace_exe, "-d", "ast,types,ir,ir-opt,asm", "-e", prog])
    r = run([*ptrace_exe, "-d", "all", "-e", prog])
    assert (r.returncode, r.stderr) == (0, ""), r.stderr
    assert r.stdout.startswith(compiled.stdout)
    logs = r.stdout[len(compiled.stdout):]
    assert logs.startswith("BEGIN:\n") and "\ntracepoint:syscalls:sys_enter_getppid:\n" in logs
    assert len(re.findall(r"^processed \d+ insns", logs, re.MULTILINE)) == 2, logs
    assert "hi" not in r.stdout.splitlines()
    short = run([*ptrace_exe, "-d", "verifier", "-e", prog], env={**os.environ,
                                                                   "PTRACE_LOG_SIZE": "64"})
    assert (short.returncode, short.stdout) == (1, "")
    assert short.stderr == ("ptrace: error: -e:1:1: the verifier's log of BEGIN is longer than "
                            "log_size (64 bytes): raise it, as in PTRACE_LOG_SIZE=16777216\n")


@pytest.mark.bpf
def test_dry_run(ptrace_exe: list[str], no_leftovers: None) -> None:
    r = run([*ptrace_exe, "--dry-run", "-e",
             'BEGIN { printf("begin\\n"); @b = 1; } '
             'tracepoint:syscalls:sys_enter_getppid { @ = count(); } '
             'END { printf("end\\n"); }'])
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert not ATTACHED.search(r.stderr)
    # What was checked: BEGIN, the tracepoint and END; @b, @ and the internal maps.
    assert re.fullmatch(r"ptrace: dry run: 3 programs \(1 probe to attach\), \d+ maps "
                        r"\(2 of the script's\), \d+ instructions: loaded, and accepted by "
                        r"the kernel's verifier; nothing was attached or run\n", r.stderr)


@pytest.mark.bpf
def test_dry_run_reports_errors(ptrace_exe: list[str], no_leftovers: None) -> None:
    r = run([*ptrace_exe, "--dry-run", "-e", "BEGIN { $x = nosuchthing; }"])
    assert r.returncode == 1
    assert r.stdout == ""
    assert "nosuchthing" in r.stderr


# --- signals and exit status -----------------------------------------------

@pytest.mark.bpf
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_runs_end_and_prints_maps(ptrace_exe: list[str], triggers: Path, sig: int,
                                         no_leftovers: None) -> None:
    p = Running([*ptrace_exe, "-e",
                 f'tracepoint:syscalls:sys_enter_getppid /comm == "cli_sig{int(sig)}"/ '
                 '{ @c = count(); @h = hist(2); } END { printf("end\\n"); }'])
    p.wait_attached()
    subprocess.run([str(triggers / "ptt_as"), f"cli_sig{int(sig)}", "ppid:3"], check=True,
                   timeout=TIMEOUT)
    code, out, err = p.finish(sig)
    assert code == 0, err
    assert out.strip("\n") == (
        "end\n\n\n@c: 3\n@h:\n"
        "[2, 4)                 3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|")
    assert "Traceback" not in err


@pytest.mark.bpf
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_an_interval_program(ptrace_exe: list[str], sig: int,
                                          no_leftovers: None) -> None:
    p = Running([*ptrace_exe, "-e",
                 'interval:ms:10 { @ticks = count(); } END { printf("end\\n"); }'])
    p.wait_attached()
    time.sleep(0.5)
    code, out, err = p.finish(sig)
    assert code == 0, err
    assert re.fullmatch(r"end\n\n\n@ticks: [1-9]\d*", out.strip("\n")), out


FLOOD = ('tracepoint:syscalls:sys_enter_write { printf("x %d\\n", pid); } '
         'END { printf("end\\n"); }')
STOP_BOUND_S = 10  # a stop ignored under load took minutes


@contextmanager
def write_flood() -> Iterator[None]:
    """Another process making write() calls as fast as it can while the block runs:
    more events than ptrace can print, so its ring buffer never empties."""
    flood = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        flood.kill()
        flood.wait()


def assert_ended_with_end(text: str) -> None:
    """The flood's output: printf lines and counts of lost events (the buffer had no
    room for them, or the stop dropped them), END's line, and at most a last count."""
    assert re.fullmatch(r"((x \d+|Lost \d+ events)\n)*end\n(\n\n(Lost \d+ events\n)?)?",
                        text), text[-200:]


@pytest.mark.bpf
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_run_under_an_event_flood(ptrace_exe: list[str], tmp_path: Path,
                                                     sig: int, no_leftovers: None) -> None:
    output = tmp_path / "out"
    with write_flood():
        p = Running([*ptrace_exe, "-o", str(output), "-e", FLOOD])
        p.wait_attached()
        time.sleep(1)
        start = time.monotonic()
        p.proc.send_signal(sig)
        try:
            p.proc.wait(timeout=STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            p.proc.kill()
        took = time.monotonic() - start
        code, _, err = p.finish()
    assert took < STOP_BOUND_S, "the stop was not honoured"
    assert code == 0, err
    assert_ended_with_end(output.read_text())
    assert "Traceback" not in err


@pytest.mark.bpf
def test_the_run_ends_with_its_command_under_an_event_flood(ptrace_exe: list[str],
                                                            tmp_path: Path,
                                                            no_leftovers: None) -> None:
    output = tmp_path / "out"
    with write_flood():
        start = time.monotonic()
        r = subprocess.run([*ptrace_exe, "-o", str(output), "-c", "sleep 1", "-e", FLOOD],
                           capture_output=True, text=True, timeout=STOP_BOUND_S + 5,
                           stdin=subprocess.DEVNULL)
        took = time.monotonic() - start
    assert took < STOP_BOUND_S, "the run did not end with its command"
    assert r.returncode == 0, r.stderr
    assert_ended_with_end(output.read_text())
    assert "Traceback" not in r.stderr


BURST = 'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("%d %d\\n", pid, tid); }'


def burst_lines(text: str, pid: int | None = None) -> tuple[int, int]:
    """The printf lines of a burst (each "PID TID" of one process) and the lost
    events the output reports."""
    printed = lost = 0
    pids = set()
    for line in text.splitlines():
        if match := re.fullmatch(r"Lost (\d+) events", line):
            lost += int(match.group(1))
        elif line:
            first, second = line.split()
            assert first == second, line
            pids.add(first)
            printed += 1
    assert len(pids) <= 1, pids
    return printed, lost


@pytest.mark.bpf
def test_a_burst_prints_every_event_with_the_default_buffer(ptrace_exe: list[str],
                                                            triggers: Path,
                                                            no_leftovers: None) -> None:
    events = 300_000
    r = run([*ptrace_exe, "-q", "-c", f"{triggers / 'ptt_getppid'} {events}", "-e", BURST])
    assert r.returncode == 0, r.stderr
    assert burst_lines(r.stdout) == (events, 0)
    assert "lost" not in r.stderr


@pytest.mark.bpf
def test_a_burst_beyond_the_buffer_reports_exactly_what_it_lost(ptrace_exe: list[str],
                                                                 triggers: Path,
                                                                 no_leftovers: None) -> None:
    """The traced program stops ptrace during its burst: nothing reads the one-page
    buffer then, so it overflows on any machine."""
    events = 50_000
    r = run([*ptrace_exe, "-q", "-c", f"{triggers / 'ptt_burst_paused'} {events}", "-e",
             f"config = {{ perf_rb_pages = 1 }} {BURST}"])
    assert r.returncode == 0, r.stderr
    printed, lost = burst_lines(r.stdout)
    assert lost > 0 and printed + lost == events
    assert f"WARNING: Total lost event count: {lost}\n" in r.stderr


@pytest.mark.bpf
def test_events_of_batched_and_other_printfs_keep_their_order(ptrace_exe: list[str],
                                                              triggers: Path,
                                                              no_leftovers: None) -> None:
    r = run([*ptrace_exe, "-q", "-c", f"{triggers / 'ptt_getppid'} 3000", "-e",
             'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @n++; '
             'printf("%d a\\n", @n); if (@n % 7 == 0) { printf("%s %d\\n", comm, @n); } '
             'printf("%u b\\n", @n); }'])
    assert r.returncode == 0, r.stderr
    expected = "".join(f"{n} a\n" + (f"ptt_getppid {n}\n" if n % 7 == 0 else "") + f"{n} b\n"
                       for n in range(1, 3001))
    assert r.stdout == expected + "\n\n@n: 3000\n"


@pytest.mark.bpf
def test_large_maps_print_in_bpftrace_order(ptrace_exe: list[str], triggers: Path,
                                            no_leftovers: None) -> None:
    """Maps read in batches and printed without per-entry dispatch: counts and sums
    by value, ties by key (negative keys first), a per-CPU and a plain map, top."""
    events = 6000
    r = run([*ptrace_exe, "-q", "-c", f"{triggers / 'ptt_getppid'} {events}", "-e",
             "config = { max_map_keys = 8192 } "
             "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { "
             "@c[@i - 3000] = count(); @s[@i % 7 - 3] = sum(@i); @v[@i] = @i * 2; @i++; } "
             "END { print(@s, 3); }"])
    assert r.returncode == 0, r.stderr
    sums = {k - 3: sum(i for i in range(events) if i % 7 == k) for k in range(7)}
    by_sum = sorted(sums, key=lambda k: (sums[k], k))
    expected = ("".join(f"@s[{k}]: {sums[k]}\n" for k in by_sum[-3:]) + "\n\n"
                + "".join(f"@c[{k}]: 1\n" for k in range(-3000, 3000))
                + f"@i: {events}\n"
                + "".join(f"@s[{k}]: {sums[k]}\n" for k in by_sum)
                + "".join(f"@v[{i}]: {2 * i}\n" for i in range(events)))
    assert r.stdout == expected


@pytest.mark.bpf
def test_exit_code_from_exit(ptrace_exe: list[str], no_leftovers: None) -> None:
    r = run([*ptrace_exe, "-e", "BEGIN { exit(5); }"])
    assert r.returncode == 5, r.stderr
    r = run([*ptrace_exe, "-e", "BEGIN { exit(); }"])
    assert r.returncode == 0, r.stderr


# --- errors ----------------------------------------------------------------

def test_missing_file(ptrace_exe: list[str], tmp_path: Path) -> None:
    r = run([*ptrace_exe, str(tmp_path / "nonexistent.bt")])
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.strip("\n").splitlines()
    assert len(lines) == 1, r.stderr
    assert "nonexistent.bt" in lines[0]


def test_unreadable_file(ptrace_exe: list[str], tmp_path: Path) -> None:
    # root reads any file, so "unreadable" is a directory in its place
    r = run([*ptrace_exe, str(tmp_path)])
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.strip("\n").splitlines()
    assert len(lines) == 1, r.stderr
    assert str(tmp_path) in lines[0]


def test_unreadable_file_as_user(ptrace_exe: list[str], tmp_path: Path) -> None:
    script = tmp_path / "secret.bt"
    script.write_text("BEGIN { exit(); }\n")
    script.chmod(0o000)
    r = run(as_nobody([*ptrace_exe, "-d", "ast", str(script)]))
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    lines = r.stderr.strip("\n").splitlines()
    assert len(lines) == 1, r.stderr
    assert "secret.bt" in lines[0]


def test_no_program(ptrace_exe: list[str]) -> None:
    r = run([*ptrace_exe])
    assert r.returncode != 0
    assert r.stdout == ""
    assert "Traceback" not in r.stderr


def test_compile_error_exit_status(ptrace_exe: list[str]) -> None:
    r = run([*ptrace_exe, "-e", "BEGIN { printf(\"%d\\n\", \"not a number\"); }"])
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith("-e:1:"), r.stderr
    assert "Traceback" not in r.stderr


def test_without_root_loading_fails_cleanly(ptrace_exe: list[str]) -> None:
    r = run(as_nobody([*ptrace_exe, "-e", "BEGIN { exit(); }"]))
    assert r.returncode in (1, 2)
    assert r.stdout == ""
    assert len(r.stderr.strip("\n").splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_o_to_an_unwritable_place(ptrace_exe: list[str], tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "out.txt"
    r = run([*ptrace_exe, "-o", str(target), "-e", "BEGIN { exit(); }"])
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.strip("\n").splitlines()
    assert len(lines) == 1, r.stderr
    assert str(target) in lines[0]


@pytest.mark.bpf
def test_missing_tracepoint_is_a_script_error(ptrace_exe: list[str],
                                              no_leftovers: None) -> None:
    for prog in ("tracepoint:nosuch:event { }",
                 "tracepoint:syscalls:sys_enter_nosuch* { }"):
        r = run([*ptrace_exe, "-e", prog])
        assert r.returncode == 1, r.stderr
        assert r.stdout == ""
        assert r.stderr.startswith("-e:1:1: "), r.stderr
        assert "Traceback" not in r.stderr


def test_uprobe_offset_beyond_the_function_is_a_script_error(ptrace_exe: list[str],
                                                             triggers: Path) -> None:
    binary = triggers / "ptt_uprobe"
    r = run([*ptrace_exe, "-d", "ast", "-e", f"uprobe:{binary}:ptt_add+999999 {{ exit(); }}"])
    assert r.returncode == 1, r.stderr
    assert re.match(r"-e:1:1: error: offset 999999 is beyond the end of ptt_add, which is "
                    r"\d+ bytes long\n", r.stderr), r.stderr



@pytest.mark.bpf
def test_a_relative_uprobe_path_with_c(ptrace_exe: list[str], triggers: Path,
                                       no_leftovers: None) -> None:
    """A relative binary path is the user's, from the current directory, also
    when -c gives the process (bcc would look for it under /proc/PID/root)."""
    r = run([*ptrace_exe, "-e", 'uprobe:./ptt_uprobe:ptt_add { printf("%d\\n", arg0); }',
             "-c", "./ptt_uprobe a b"], cwd=triggers)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip("\n") == "1\n2"

@pytest.mark.bpf
def test_a_failed_uprobe_attach_leaves_nothing_in_tracefs(ptrace_exe: list[str], triggers: Path,
                                                          no_leftovers: None) -> None:
    """The kernel refuses an offset past the end of the file. Its symbol has no
    size, so the offset cannot be checked before (--unsafe lets it through):
    bcc adds a tracefs event as it falls back from the uprobe PMU, and opening
    that fails too."""
    binary = triggers / "ptt_nosize"
    probe = f"uprobe:{binary}:ptt_nosize+99999999"
    r = run([*ptrace_exe, "--unsafe", "-e", f"{probe} {{ exit(); }}"])
    assert r.returncode == 1, r.stderr
    assert r.stderr == f"ptrace: error: cannot attach {probe}: Invalid argument\n"
    assert r.stdout == ""
    events = Path("/sys/kernel/tracing/uprobe_events").read_text()
    assert f" {binary}:" not in events, events


@pytest.mark.bpf
def test_ncpus_is_the_number_of_online_cpus(ptrace_exe: list[str], no_leftovers: None) -> None:
    online = cpu_list(Path("/sys/devices/system/cpu/online").read_text())
    r = run([*ptrace_exe, "-e", 'BEGIN { printf("%d\\n", ncpus); exit(); }'])
    assert (r.returncode, r.stdout) == (0, f"{len(online)}\n\n\n"), r.stderr


@pytest.mark.bpf
def test_usdt_without_a_binary_with_p(ptrace_exe: list[str], triggers: Path,
                                      no_leftovers: None) -> None:
    """With -p, usdt:PROBE, usdt::PROBE and usdt::PROVIDER:PROBE are looked for in
    the process's executable and the libraries it has loaded; the arguments read
    the process's variables (operands relative to %rip, in the executable and in
    a library, each loaded at an address of its own)."""
    program = triggers / "ptt_usdt_rip"
    target = subprocess.Popen([str(program), "wait"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert target.stdout is not None and target.stdin is not None
        assert target.stdout.readline() == "ready\n"  # the library is loaded
        tracer = Running([*ptrace_exe, "-p", str(target.pid), "-e",
                          'usdt:globals { printf("%s %d %d\\n", probe, arg0, arg2); } '
                          'usdt::absolute { printf("%d %d\\n", arg1, arg3 == uaddr("ptt_table")); }'
                          'usdt::pttlib:hello { printf("%s %d\\n", probe, arg0); }'])
        tracer.wait_attached()
        target.stdin.write("\n")
        target.stdin.close()
        assert target.wait(timeout=TIMEOUT) == 0
        code, stdout, stderr = tracer.finish()  # the run ends with the process
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
    assert code == 0, stderr
    assert stdout.strip("\n") == (f"usdt:{program}:ptt:globals 5 40\n"
                                  "20 1\n"
                                  f"usdt:{triggers / 'libptt_usdt.so'}:pttlib:hello 42")


def test_list_usdt_and_functions_of_a_process(ptrace_exe: list[str], triggers: Path) -> None:
    """-l with -p and no binary: the probes of the process's executable and libraries."""
    program = triggers / "ptt_usdt_rip"
    library = triggers / "libptt_usdt.so"
    target = subprocess.Popen([str(program), "wait"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert target.stdout is not None and target.stdin is not None
        assert target.stdout.readline() == "ready\n"  # the library is loaded
        usdt = run([*ptrace_exe, "-p", str(target.pid), "-l", "usdt:*"])
        pttlib = run([*ptrace_exe, "-p", str(target.pid), "-l", "usdt:pttlib:*"])
        functions = run([*ptrace_exe, "-p", str(target.pid), "-l", "uprobe:*:ptt_lib_*"])
        everything = run([*ptrace_exe, "-l", "-p", str(target.pid)])  # uprobes, then usdt
        program_probes = run([*ptrace_exe, "-l", "-e", "uretprobe:*:ptt_lib_* { exit(); }",
                              "--pid", str(target.pid)])
    finally:
        target.kill()
        target.wait()
    assert usdt.returncode == 0, usdt.stderr
    listed = usdt.stdout.splitlines()
    assert f"usdt:{program}:ptt:globals" in listed
    assert f"usdt:{library}:pttlib:hello" in listed
    assert pttlib.stdout.splitlines() == [f"usdt:{library}:pttlib:hello"]
    assert f"uprobe:{library}:ptt_lib_hello" in functions.stdout.splitlines()
    assert all(line.startswith(f"uprobe:{library}:ptt_lib_")
               for line in functions.stdout.splitlines())
    assert everything.returncode == 0, everything.stderr
    whole = everything.stdout.splitlines()
    assert f"uprobe:{library}:ptt_lib_hello" in whole and f"usdt:{library}:pttlib:hello" in whole
    assert whole.index(f"uprobe:{library}:ptt_lib_hello") < whole.index(listed[0])
    assert (program_probes.returncode, program_probes.stdout) == (
        0, f"uretprobe:{library}:ptt_lib_hello\n"), program_probes.stderr
    missing = run([*ptrace_exe, "-p", "999999999", "-l", "usdt:*"])
    assert (missing.returncode, missing.stderr) == (
        1, "ptrace: error: no process with pid 999999999\n")


@pytest.mark.bpf
def test_a_process_in_another_mount_namespace(ptrace_exe: list[str], triggers: Path,
                                              tmp_path: Path, no_leftovers: None) -> None:
    """A process whose files are at paths that do not exist here (its own mount
    namespace, as in a container): -l -p lists them through /proc/PID/root,
    and a uprobe on the path the process sees attaches with -p."""
    inside = tmp_path / "inside"
    inside.mkdir()  # empty here; the triggers' directory in the process's namespace
    target = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         f'mount --bind "{triggers}" "{inside}" && exec "{inside}/ptt_usdt_rip" wait'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert target.stdout is not None and target.stdin is not None
        assert target.stdout.readline() == "ready\n"
        seen = f"/proc/{target.pid}/root{inside}"
        listed = run([*ptrace_exe, "-l", "-p", str(target.pid)])
        tracer = Running([*ptrace_exe, "-p", str(target.pid), "-e",
                          f'uprobe:{inside}/libptt_usdt.so:ptt_lib_hello {{ printf("%s\\n", '
                          'probe); exit(); }'])
        tracer.wait_attached()
        target.stdin.write("\n")
        target.stdin.close()
        code, stdout, stderr = tracer.finish()
    finally:
        if target.poll() is None:
            target.kill()
        target.wait()
    assert listed.returncode == 0, listed.stderr
    assert f"usdt:{seen}/ptt_usdt_rip:ptt:globals" in listed.stdout.splitlines()
    assert f"uprobe:{seen}/libptt_usdt.so:ptt_lib_hello" in listed.stdout.splitlines()
    assert code == 0, stderr
    assert stdout.strip("\n") == f"uprobe:{seen}/libptt_usdt.so:ptt_lib_hello"

@pytest.mark.bpf
def test_a_refused_builtin_names_the_kind_as_written(ptrace_exe: list[str]) -> None:
    """A syscall wildcard runs as one dispatching program; a builtin it may not use
    is refused in `tracepoint` probes, the kind the script wrote."""
    r = run([*ptrace_exe, "-d", "ast", "-e", "tracepoint:syscalls:sys_enter_* { $f = func; }"])
    assert r.returncode == 1
    assert r.stderr.startswith("-e:1:40: error: 'func' cannot be used in tracepoint probes\n"), \
        r.stderr


# ---- options of bpftrace 0.26 ----------------------------------------------------------------

@pytest.mark.bpf
def test_probe_filter_attaches_the_matching_probes_and_keeps_begin_end(
        ptrace_exe: list[str], no_leftovers: None) -> None:
    r = run([*ptrace_exe, "--probe-filter", ":(20|30)$", "-e",
             'BEGIN { printf("begin\\n"); } interval:ms:10 { printf("bad\\n"); exit(); } '
             'interval:ms:20 { printf("a\\n"); } interval:ms:30 { printf("b\\n"); exit(); } '
             'END { printf("end\\n"); }'])
    assert r.returncode == 0, r.stderr
    assert "bad" not in r.stdout
    assert r.stdout.startswith("begin\na\nb\nend\n")
    assert "Attached 4 probes\n" in r.stderr  # BEGIN, END and the two intervals


@pytest.mark.bpf
def test_probe_filter_matching_nothing_is_an_error(ptrace_exe: list[str]) -> None:
    r = run([*ptrace_exe, "--probe-filter", "nothing", "-e", "interval:ms:10 { exit(); }"])
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == ("ptrace: error: no probes to attach: --probe-filter 'nothing' matches "
                        "none of the program's probes\n")


@pytest.mark.bpf
def test_no_warnings_hides_warnf_and_compiler_warnings(ptrace_exe: list[str]) -> None:
    program = 'BEGIN { warnf("careful"); $unused = 1; }\nEND { errorf("bad"); }\nBEGIN { exit(); }'
    loud = run([*ptrace_exe, "-e", program])
    assert "careful" in loud.stderr and "bad" in loud.stderr
    quiet = run([*ptrace_exe, "--no-warnings", "-e", program])
    assert quiet.returncode == 0, quiet.stderr
    assert "careful" not in quiet.stderr and "warning" not in quiet.stderr
    assert "error: bad" in quiet.stderr  # errorf is not a warning


@pytest.mark.bpf
def test_long_names_of_p_c_and_o(ptrace_exe: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    r = run([*ptrace_exe, "--cmd", "/bin/true", "--output", str(out), "-e",
             'END { printf("cpid %d\\n", cpid); }'])
    assert r.returncode == 0, r.stderr
    assert re.match(r"cpid [1-9]\d*\n", out.read_text())
    r = run([*ptrace_exe, "--pid", str(os.getpid()), "--usdt-file-activation",
             "-e", "BEGIN { printf(\"%d\\n\", cpid); exit(); }"])
    assert (r.returncode, r.stdout.strip()) == (0, str(os.getpid())), r.stderr


def test_list_functions_of_a_wildcarded_path(ptrace_exe: list[str], triggers: Path) -> None:
    """uprobe:DIR/ptt_u*:GLOB lists each ELF file the path matches; others are skipped."""
    (triggers / "ptt_uprobe.notes").write_text("not an ELF file\n")
    r = run([*ptrace_exe, "-l", f"uprobe:{triggers}/ptt_u*:main"])
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.splitlines() == [f"uprobe:{triggers}/{name}:main"
                                     for name in ("ptt_uprobe", "ptt_usdt", "ptt_usdt_rip")]
    none = run([*ptrace_exe, "-l", f"uprobe:{triggers}/nothing*:main"])
    assert (none.returncode, none.stderr) == (1, f"ptrace: error: no file matches "
                                                 f"{triggers}/nothing*\n")


@pytest.mark.bpf
def test_list_leaves_out_what_cannot_attach(ptrace_exe: list[str]) -> None:
    """ftrace's own events have a format but no perf event: they are not listed,
    and raw tracepoints are (bpftrace lists them too)."""
    r = run([*ptrace_exe, "-l"])
    assert r.returncode == 0, r.stderr
    listed = r.stdout.splitlines()
    assert "rawtracepoint:sched_switch" in listed
    assert "tracepoint:sched:sched_switch" in listed
    assert not [name for name in listed if ":ftrace:" in name]


@pytest.mark.bpf
def test_a_plain_listing_skips_the_option_parser(ptrace_exe: list[str]) -> None:
    """`-l PATTERN` alone imports neither argparse nor dataclasses (it starts
    in less time than bpftrace's), and lists what the full command line does."""
    pattern = "tracepoint:syscalls:sys_enter_open*"
    code = ("import atexit, sys; from ptrace.launch import entry; "
            "atexit.register(lambda: print(sorted({'argparse', 'dataclasses', 'ptrace.cli'} "
            "& set(sys.modules)), file=sys.stderr)); entry()")
    light = run([sys.executable, "-c", code, "-l", pattern])
    full = run([*ptrace_exe, "-q", "-l", pattern])  # (with an option: the full command line)
    assert (light.returncode, light.stderr) == (0, "[]\n")
    assert (full.returncode, full.stderr) == (0, "")
    assert light.stdout == full.stdout
    assert "tracepoint:syscalls:sys_enter_openat\n" in light.stdout
    unknown = run([*ptrace_exe, "-l", "nosuch:x"])
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert unknown.stderr.startswith("ptrace: error: unknown probe type 'nosuch'")


@pytest.mark.bpf
def test_mode_bench_runs_each_bench_probe_and_prints_its_time(ptrace_exe: list[str],
                                                              no_leftovers: None) -> None:
    """--mode bench: begin, then each bench: probe over and over in the script's
    order (what it prints comes out), a table of their average times, then end."""
    r = run([*ptrace_exe, "--mode", "bench", "-e",
             'begin { printf("begin\\n"); } bench:a { @a++; } '
             "bench:second { if (@b == 0) { print(@a); } @b++; } "
             "end { print(@b); clear(@a); clear(@b); }"])
    assert r.returncode == 0, r.stderr
    match = re.fullmatch(r"begin\n@a: (\d+)\n"
                         r"Benchmark {32}Time\(ns\) {7}Iterations\n-{66}\n"
                         r"a {40}(\d+) +(\d+)\nsecond {35}(\d+) +(\d+)\n@b: (\d+)\n\n\n",
                         r.stdout)
    assert match, r.stdout
    a_runs, b_runs = int(match[3]), int(match[5])
    assert int(match[1]) == a_runs >= 1000 and int(match[6]) == b_runs >= 1000
    as_json = run([*ptrace_exe, "-q", "-f", "json", "--mode", "bench", "-e",
                   "bench:a { @a = count(); }"])
    first = json.loads(as_json.stdout.splitlines()[0])
    assert first["type"] == "benchmark_result" and first["data"]["a"]["iters"] >= 1000


@pytest.mark.bpf
def test_mode_bench_and_bench_probes_go_together(ptrace_exe: list[str]) -> None:
    """A program of bench probes alone needs --mode bench, and --mode bench a bench
    probe. (Beside other probes, each mode leaves the other's out: as bpftrace,
    since --test came; --mode bench with an interval probe was an error before.)"""
    for argv, message in [
            (["-e", "bench:a { @ = 1; }"], "bench:a runs with --mode bench"),
            (["--mode", "bench", "-e", "begin { exit(); }"],
             "--mode bench runs the program's bench:NAME probes, and it has none")]:
        r = run([*ptrace_exe, *argv])
        assert (r.returncode, r.stdout, r.stderr) == (1, "", f"ptrace: error: {message}\n")


# What --test prints for each test's time, which varies.
TEST_TIME = re.compile(r" \(\d+ (?:s|ms|μs|ns)\)$", re.MULTILINE)

TESTED_SCRIPT = """
begin { printf("begin\\n"); }
test:passes { $n = 20; assert($n + 1 == 21, "adds"); @kept = 1; }
test:returns { printf("returned 1\\n"); return 1; }
test:reports { errorf("bad %d", 7); }
test:asserts { $n = 2; assert($n == 3, "n is 3"); printf("not reached\\n"); }
test:exits { exit(3); }
test:exits_zero { printf("quiet\\n"); exit(); }
test:from_loop { for ($i : 0..@kept + 2) { if ($i == 1) { return 5; } } }
interval:ms:1 { printf("never in --test\\n"); }
end { printf("end %d\\n", @kept); }
"""


@pytest.mark.bpf
def test_test_mode_runs_each_test_and_reports_it(ptrace_exe: list[str], tmp_path: Path,
                                                 no_leftovers: None) -> None:
    """--test: begin, each test: probe once in the script's order (what a test
    prints shown only when it fails: a non-zero return, also from a loop's
    callback, an error, a failed assert, exit() with a code), then end and the
    maps; other probes are left out; the exit status is 1 when a test failed."""
    script = tmp_path / "tested.bt"
    script.write_text(TESTED_SCRIPT)
    r = run([*ptrace_exe, "--test", str(script)])
    assert (r.returncode, TEST_TIME.sub("", r.stdout)) == (1, f"""begin
[==========] Running 7 tests.
[ RUN      ] passes
[       OK ] passes
[ RUN      ] returns
returned 1
[  FAILED  ] returns
[ RUN      ] reports
{script}:5:16: error: bad 7
    test:reports {{ errorf("bad %d", 7); }}
                   ^~~~~~~~~~~~~~~~~~~
[  FAILED  ] reports
[ RUN      ] asserts
{script}:6:24: error: assertion failed: n is 3
    test:asserts {{ $n = 2; assert($n == 3, "n is 3"); printf("not reached\\n"); }}
                           ^~~~~~~~~~~~~~~~~~~~~~~~~
[  FAILED  ] asserts
[ RUN      ] exits
[  FAILED  ] exits
[ RUN      ] exits_zero
[       OK ] exits_zero
[ RUN      ] from_loop
[  FAILED  ] from_loop
[==========] 7 tests ran.
[  PASSED  ] 2 tests.
[  FAILED  ] 5 tests, listed below:
[  FAILED  ] returns
[  FAILED  ] reports
[  FAILED  ] asserts
[  FAILED  ] exits
[  FAILED  ] from_loop
end 1


@kept: 1
"""), r.stderr
    assert r.stderr == "Attached 9 probes\n"
    records = [json.loads(line) for line in run(
        [*ptrace_exe, "-q", "-f", "json", "--test", "--probe-filter", "exits|returns",
         str(script)]).stdout.splitlines()]
    results = [(name, result["passed"], result["output"], result["duration"] > 0)
               for record in records if record["type"] == "test_result"
               for name, result in record["data"].items()]
    assert results == [("returns", False, "returned 1\n", True),
                       ("exits", False, "", True), ("exits_zero", True, "quiet\n", True)]
    passing = run([*ptrace_exe, "--mode", "test", "-e", "test:a { } test:b { return 0; }"])
    assert (passing.returncode, TEST_TIME.sub("", passing.stdout)) == (0, (
        "[==========] Running 2 tests.\n[ RUN      ] a\n[       OK ] a\n"
        "[ RUN      ] b\n[       OK ] b\n[==========] 2 tests ran.\n"
        "[  PASSED  ] 2 tests.\n\n\n"))
    traced = run([*ptrace_exe, "-e", 'test:a { printf("a test\\n"); } '
                  'begin { printf("traced\\n"); exit(); }'])
    assert (traced.returncode, traced.stdout) == (0, "traced\n\n\n")


@pytest.mark.bpf
def test_imported_scripts_and_the_standard_library_run_with_the_program(
        ptrace_exe: list[str], tmp_path: Path) -> None:
    """import: a directory's scripts (their BEGIN first, their macros for the
    program) beside the script, and bpftrace's stdlib/test module; with -e, in
    the working directory (as bpftrace's interop test runs it)."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "twice.bt").write_text(
        'macro twice(x) { x * 2 }\nBEGIN { printf("lib begins\\n"); }\n')
    (tmp_path / "main.bt").write_text(
        'import "lib"; import "stdlib/test";\n'
        'BEGIN { printf("%d %d %d\\n", twice(21), __always_true(), '
        "__test_get_current_task()->pid == pid); exit(); }\n")
    r = run([*ptrace_exe, "-q", str(tmp_path / "main.bt")], cwd=Path("/"))
    assert (r.returncode, r.stdout, r.stderr) == (0, "lib begins\n42 1 1\n\n\n", "")
    interop = run([*ptrace_exe, "-q", "-e", 'import "lib/twice.bt"; import "stdlib/test"; '
                   "begin { print(__always_true()); exit(); }"], cwd=tmp_path)
    assert (interop.returncode, interop.stdout) == (0, "lib begins\n1\n\n\n"), interop.stderr


@pytest.mark.bpf
def test_test_mode_and_test_probes_go_together(ptrace_exe: list[str]) -> None:
    for argv, message in [
            (["-e", "test:a { }"], "test:a runs with --test"),
            (["--test", "-e", "begin { exit(); }"],
             "--test runs the program's test:NAME probes, and it has none"),
            (["--test", "--mode", "bench", "-e", "test:a { }"],
             "--test is --mode test; it cannot go with --mode bench (ptrace -h lists the "
             "options)")]:
        r = run([*ptrace_exe, *argv])
        assert (r.returncode, r.stdout, r.stderr) == (1, "", f"ptrace: error: {message}\n")


@pytest.mark.bpf
def test_syscall_tracepoints_read_kernel_strings_and_user_casts_where_they_are(
        ptrace_exe: list[str], triggers: Path, tmp_path: Path) -> None:
    """In a syscall tracepoint, whose arguments are user addresses: str() of a
    kernel struct's char * field reads kernel memory (the working directory's
    name through curtask), and a cast of a user pointer still reads user memory."""
    (tmp_path / "named").mkdir()
    r = run([*ptrace_exe, "-q", "-c", f"{triggers / 'ptt_open'} /etc/hostname", "-e",
             "tracepoint:syscalls:sys_enter_openat /pid == cpid/ { "
             'printf("%s %c%c %s\\n", str(curtask->fs->pwd.dentry->d_name.name), '
             "*(uint8 *)args.filename, *((uint8 *)args.filename + 1), str(args.filename)); }"],
            cwd=tmp_path / "named")
    assert r.returncode == 0, r.stderr
    assert "named /e /etc/hostname\n" in r.stdout


@pytest.mark.bpf
def test_the_process_is_named_as_the_command_was(ptrace_exe: list[str], tmp_path: Path) -> None:
    """comm is the name ptrace was run by (a link named bpftrace gives bpftrace),
    as the kernel names a program, though the command starts Python by env."""
    link = tmp_path / "bpftrace"
    link.symlink_to(ptrace_exe[0])
    program = 'BEGIN { printf("%s\\n", comm); exit(); }'
    assert run([*ptrace_exe, "-q", "-e", program]).stdout == "ptrace\n\n\n"
    assert run([str(link), "-q", "-e", program]).stdout == "bpftrace\n\n\n"


def _archive(path: Path, member: Path, *, stored: bool = True) -> tuple[int, int]:
    """A zip archive holding `member` (as an APK holds a library), its bytes
    starting on a page boundary, as zipalign places them; where they start and
    how long they are."""
    import zipfile

    data = member.read_bytes()
    info = zipfile.ZipInfo(member.name)
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    start = 30 + len(member.name) + 4  # local header, name, the padding field's header
    info.extra = struct.pack("<HH", 0xD935, -start % 4096) + bytes(-start % 4096)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(info, data)
    return start + -start % 4096, len(data)


@pytest.mark.bpf
def test_uprobes_on_a_binary_inside_a_zip_archive(ptrace_exe: list[str], triggers: Path,
                                                  tmp_path: Path, no_leftovers: None) -> None:
    """uprobe:"ARCHIVE!/MEMBER":FUNC probes a binary stored in a zip archive
    where a process maps it from the archive: a uprobe, a uretprobe and a
    wildcard (one uprobe_multi link) all fire."""
    from ptrace.elf import file_offset, function_symbols

    member = triggers / "ptt_uprobe"
    archive = tmp_path / "app.apk"
    start, size = _archive(archive, member)
    data = member.read_bytes()
    add = next(s.address for s in function_symbols(data) if s.name == "ptt_add")
    at = f'"{archive}!/ptt_uprobe"'
    script = (f"uprobe:{at}:ptt_add {{ @args[arg0, arg1] = count(); }} "
              f"uretprobe:{at}:ptt_add {{ @ret[retval] = count(); }} "
              f"uprobe:{at}:ptt_* {{ @any[func] = count(); }}")
    command = f"{triggers / 'ptt_mapcall'} {archive} {start} {size} {file_offset(data, add)} 2"
    r = run([*ptrace_exe, "-e", script, "-c", command])
    assert r.returncode == 0, r.stderr
    assert [line for line in r.stdout.splitlines() if line] == [
        "@any[ptt_add]: 2", "@args[1, 10]: 1", "@args[2, 20]: 1", "@ret[11]: 1", "@ret[22]: 1"]


def test_a_compressed_or_missing_archive_member_is_a_script_error(
        ptrace_exe: list[str], triggers: Path, tmp_path: Path) -> None:
    archive = tmp_path / "app.zip"
    _archive(archive, triggers / "ptt_uprobe", stored=False)
    for member, message in (
            ("ptt_uprobe", f"{archive}!/ptt_uprobe is compressed in its archive: only a "
                           "member stored uncompressed can be probed"),
            ("lib/nosuch.so", f"{archive} has no member lib/nosuch.so")):
        r = run([*ptrace_exe, "-d", "ast", "-e", f'uprobe:"{archive}!/{member}":ptt_add {{ }}'])
        assert r.returncode == 1, r.stderr
        assert r.stderr.startswith(f"-e:1:1: error: {message}\n"), r.stderr


@pytest.mark.bpf
def test_a_pinned_iterator_prints_into_its_file(ptrace_exe: list[str], tmp_path: Path,
                                                no_leftovers: None) -> None:
    """iter:NAME:PIN pins the iterator to a file of a BPF file system and ends
    (a BPF file system of its own here, not the machine's /sys/fs/bpf); each
    read of the file runs it, the kernel formatting its printf; removing the
    file frees it. What the kernel does not format is refused at its place."""
    bpffs = tmp_path / "bpffs"
    bpffs.mkdir()
    subprocess.run(["mount", "-t", "bpf", "bpf", str(bpffs)], check=True)
    try:
        pin = bpffs / "tasks"
        r = run([*ptrace_exe, "-e", f"iter:task:{pin} /ctx->task->pid == {os.getpid()}/ {{ "
                 'printf("%s|%d|%5d|%-3s|%x %c %p\\n", ctx->task->comm, ctx->task->pid, -42, '
                 '"ab", 255, 65, 4096); }'])
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"Program pinned to {pin}\n\n\n", r.stdout
        comm = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
        expected = f"{comm}|{os.getpid()}|  -42|ab |ff A 0x1000\n"
        assert pin.read_text() == expected
        assert pin.read_text() == expected  # each read runs it again
        pin.unlink()
    finally:
        subprocess.run(["umount", str(bpffs)], check=True)
    r = run([*ptrace_exe, "-d", "types", "-e",
             f'iter:task:{pin} {{ print(1); printf("%d %.2d\\n", 1, 2); }}'])
    assert r.returncode == 1
    assert "-e:1:1: error" not in r.stderr
    assert re.findall(r"error: (.*)", r.stderr) == [
        "print() is not supported in a pinned iterator yet: only printf() writes to its file",
        "%d is not supported in a pinned iterator yet: the kernel formats its printf"], r.stderr
