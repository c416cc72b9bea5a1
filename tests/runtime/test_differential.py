"""The same scripts under ptrace and bpftrace (Debian's 0.17), same output.

Only scripts whose output format 0.17 shares with current bpftrace: counts,
sums, printf, keyed maps, exit codes. Map values are kept distinct so that
the order within a map does not depend on hash order.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest

from tests.runtime.casefile import Case
from tests.runtime.test_cases import run_case

SCRIPTS = [
    ("count", 'tracepoint:syscalls:sys_enter_getppid /comm == "ptt_getppid"/ { @ = count(); }',
     "ptt_getppid 17"),
    ("sum of args", 'tracepoint:syscalls:sys_enter_write /comm == "ptt_write"/ '
     "{ @bytes = sum(args->count); @calls = count(); }", "ptt_write 1 10 100 1000"),
    ("keyed by size", 'tracepoint:syscalls:sys_enter_write /comm == "ptt_write"/ '
     "{ @[args->count] = count(); }", "ptt_write 5 7 7 9 9 9"),
    ("tuple keys", 'tracepoint:syscalls:sys_enter_write /comm == "ptt_write"/ '
     '{ @[args->count, 1] = sum(args->count); }', "ptt_write 3 4 4"),
    ("printf of args and strings", 'tracepoint:syscalls:sys_enter_openat /comm == "ptt_open"/ '
     '{ printf("%s opens %s (flags %d)\\n", comm, str(args->filename), args->flags); }',
     "ptt_open /etc/hostname /nonexistent"),
    ("printf conversions", 'BEGIN { $v = 0x12345678abcdef; '
     'printf("%hhx %hx %x %jx|%5d|%-5d|%05d|%x|%X|%o|%c|%s\\n", $v, $v, $v, $v, 42, 42, 42, '
     '255, 255, 8, 65, "str"); exit(); }', ""),
    # (Signed division is left out: 0.17 divides as unsigned, -7 / 2 giving -4,
    # where C and ptrace give -3.)
    ("arithmetic", 'BEGIN { printf("%d %d %d %d\\n", 7 / 2, 7 % 3, 1 << 10, 0xff & 0x0f); '
     "exit(); }", ""),
    ("exit code", "BEGIN { exit(); }", ""),
    ("maps at exit in name order", "BEGIN { @b = 2; @a = 1; @c[1] = 3; @c[2] = 4; exit(); }", ""),
    ("usym and reg in uprobes", 'uprobe:@@TRIGGERS@@/ptt_stack:ptt_inner '
     '{ printf("%s %s\\n", usym(reg("ip")), func); } uretprobe:@@TRIGGERS@@/ptt_stack:ptt_inner '
     '{ printf("%s\\n", usym(reg("ip"))); }', "ptt_stack 2"),
]


def private_trigger(program: str, run: str, triggers: Path, tmp_path: Path) -> tuple[str, str]:
    """The program and command with the trigger under a name of this test's own.

    The scripts filter on the trigger's comm, or probe its binary; a copy with
    a unique name keeps other test runs on the machine out of the counts.
    """
    if not run:
        return program, run
    trigger, *args = run.split()
    unique = f"pd{os.getpid() % 100000}{next(_COUNTER)}"[:15]
    shutil.copy(triggers / trigger, tmp_path / unique)
    program = program.replace(f'"{trigger}"', f'"{unique}"')
    return program.replace(f"@@TRIGGERS@@/{trigger}:", f"@@TRIGGERS@@/{unique}:"), \
        " ".join([unique, *args])


_COUNTER = itertools.count()


@pytest.mark.bpf
@pytest.mark.parametrize(("name", "program", "run"), SCRIPTS, ids=[s[0] for s in SCRIPTS])
def test_same_output_as_bpftrace(name: str, program: str, run: str, ptrace_exe: list[str],
                                 triggers: Path, tmp_path: Path) -> None:
    bpftrace = shutil.which("bpftrace")
    if bpftrace is None:
        pytest.fail("bpftrace is not installed; scripts/setup installs it")
    program, run = private_trigger(program, run, triggers, tmp_path)
    triggers = tmp_path
    case = Case(name, Path(name), 0, prog=program, run=run.split())
    ours = run_case(case, ptrace_exe, triggers)
    theirs = run_case(case, [bpftrace], triggers, bpftrace=True)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == theirs.returncode
    # bpftrace 0.17 reads one perf buffer per CPU, so events from a process
    # that moved between CPUs can print out of order: compare the lines as a
    # multiset (ptrace's single ring buffer keeps them in order).
    assert sorted(ours.stdout.split("\n")) == sorted(theirs.stdout.split("\n"))
