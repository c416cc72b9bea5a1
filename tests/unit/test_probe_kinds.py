"""Compile-side checks of watchpoint, iter and self:signal probes: their attach
plans, program types and ctx types. Iterators need the kernel's BTF
(world-readable at /sys/kernel/btf/vmlinux); the others need no kernel."""

from __future__ import annotations

import errno
import os
import signal
import struct
from pathlib import Path
from typing import cast

import pytest
from ptrace.runtime.libbcc import Libraries

from ptrace.compile import compile
from ptrace.diagnostics import CompileError, Source
from ptrace.machine import FixtureMachine
from ptrace.options import Options
from ptrace.program import Attach, ProgType
from ptrace.types import types as t
from ptrace.types.btf import VMLINUX, Btf

needs_btf = pytest.mark.skipif(not Path(VMLINUX).exists(), reason="no kernel BTF here")
WITH_PROCESS = Options(has_command=True)


@pytest.fixture(scope="module")
def btf_machine() -> FixtureMachine:
    return FixtureMachine({}, kernel_types=Btf.load(VMLINUX))


def errors(text: str, machine: FixtureMachine | None = None,
           options: Options | None = None) -> list[str]:
    with pytest.raises(CompileError) as error:
        compile(Source("-e", text), options, machine or FixtureMachine({}))
    return [d.message for d in error.value.diagnostics]


@pytest.mark.parametrize(("point", "probe", "bp_type", "bp_len"), [
    ("watchpoint:0x10000000:8:w", "watchpoint:0x10000000:8:w", 2, 8),
    ("w:0x10000000:4:wr", "watchpoint:0x10000000:4:rw", 3, 4),
    ("watchpoint:268435456:1:r", "watchpoint:0x10000000:1:r", 1, 1),
    ("watchpoint:0x401000:8:x", "watchpoint:0x401000:8:x", 4, 8),
])
def test_watchpoint_plan(point: str, probe: str, bp_type: int, bp_len: int) -> None:
    program = compile(Source("-e", f"{point} {{ @[probe] = count(); }}"), WITH_PROCESS,
                      FixtureMachine({}))
    (prog,) = program.programs
    assert prog.prog_type == ProgType.PERF_EVENT
    assert prog.attach == Attach("watchpoint", probe, address=int(probe.split(":")[1], 16),
                                 bp_type=bp_type, bp_len=bp_len)
    assert program.attached_programs == (prog,)


@pytest.mark.parametrize(("point", "message"), [
    ("watchpoint:0x1000:16:w", "a watchpoint's length is 1, 2, 4 or 8 bytes, not '16'"),
    ("watchpoint:0x1000:8:ww", "unknown watchpoint mode 'ww'"),
    ("watchpoint:0x1000:8:rx", "unknown watchpoint mode 'rx'"),
    ("watchpoint:0x1000:8:q", "unknown watchpoint mode 'q'"),
    ("watchpoint:0:8:w", "a watchpoint's address must be above 0"),
    ("watchpoint:0x1000", "a watchpoint is written 'watchpoint:ADDRESS:LENGTH:MODE' or "
                          "'watchpoint:FUNCTION+argN:LENGTH:MODE', as in "
                          "watchpoint:0x10000000:8:w"),
    ("watchpoint:f+arg6:8:w", "'f+arg6' is not an address, nor a function's argument "
                              "(FUNCTION+argN)"),
])
def test_watchpoint_errors(point: str, message: str) -> None:
    assert errors(f"{point} {{ @ = count(); }}", options=WITH_PROCESS) == [message]


def test_an_execute_watchpoint_gives_the_kernel_the_length_of_a_long() -> None:
    (prog,) = compile(Source("-e", "watchpoint:0x401000:1:x { }"), WITH_PROCESS,
                      FixtureMachine({})).programs
    assert (prog.attach.probe, prog.attach.bp_len) == ("watchpoint:0x401000:1:x", 8)


def test_a_watchpoint_on_a_function_argument_is_a_watchpoint_and_its_uprobe() -> None:
    """The watchpoint's program is the probe's; the uprobe's only sends the
    argument (its body is not the probe's), and counts as no probe of its own."""
    program = compile(Source("-e", 'watchpoint:increment+arg1:4:w { printf("hit\\n"); }'),
                      WITH_PROCESS, FixtureMachine({}))
    watch, setup = program.programs
    name = "watchpoint:increment+arg1:4:w"
    assert watch.attach == Attach("watchpoint", name, symbol="increment", bp_type=2, bp_len=4,
                                  watch_arg=1)
    assert setup.attach == Attach("uprobe", name, symbol="increment", watch_arg=1)
    assert setup.prog_type == ProgType.KPROBE
    assert sum(p.attach.probe_count for p in program.programs) == 1
    assert len(program.printf_formats) == 1  # the watchpoint's printf only


def test_an_asyncwatchpoint_s_uprobe_does_not_stop_the_process() -> None:
    watch, setup = compile(Source("-e", "aw:increment+arg1:4:w { }"), WITH_PROCESS,
                           FixtureMachine({})).programs
    assert (watch.attach.kind, watch.attach.probe) == (
        "asyncwatchpoint", "asyncwatchpoint:increment+arg1:4:w")
    assert setup.attach.watch_async
    send_signal = struct.pack("<BBhi", 0x85, 0, 0, 109)  # call bpf_send_signal
    assert send_signal not in [setup.insns[i:i + 8] for i in range(0, len(setup.insns), 8)]


def test_unwatch_takes_an_address() -> None:
    assert errors('BEGIN { unwatch("x"); }') == ['unwatch() takes an address, not string[2]']
    program = compile(Source("-e", "watchpoint:f+arg0:8:w { unwatch(0x1000); }"), WITH_PROCESS,
                      FixtureMachine({}))
    assert program.maps[program.watched_map].name == ".watched"


def test_a_watchpoint_without_a_process_is_on_kernel_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """As in bpftrace: on every CPU (pid -1); a function's argument needs a process."""
    from ptrace.runtime import attach, perf

    (prog,) = compile(Source("-e", "watchpoint:0xffffffff81000000:8:w { }"), None,
                      FixtureMachine({})).programs
    opened: list[tuple[int, int]] = []

    def open_event(*args: object, **kwargs: object) -> int:
        opened.append((cast(int, kwargs["pid"]), cast(int, args[2])))
        return 100 + len(opened)

    monkeypatch.setattr(perf, "open_event", open_event)
    monkeypatch.setattr(perf, "run_program", lambda fd, prog_fd: None)
    monkeypatch.setattr(attach, "online_cpus", lambda: [0, 1])
    assert attach.attach(cast(Libraries, None), 3, prog.attach, pid=-1) == [101, 102]
    assert opened == [(-1, 0), (-1, 1)]
    assert errors("watchpoint:f+arg0:8:w { @ = count(); }") == [
        "a watchpoint on a function's argument watches one process: run with -p PID or "
        "-c 'COMMAND'"]


@pytest.mark.parametrize(("name", "number"), [
    ("SIGUSR1", signal.SIGUSR1), ("usr2", signal.SIGUSR2), ("SIGHUP", signal.SIGHUP)])
def test_self_signal_plan(name: str, number: int) -> None:
    program = compile(Source("-e", f"self:signal:{name} {{ printf(\"%s\\n\", probe); }}"),
                      machine=FixtureMachine({}))
    (prog,) = program.programs
    full = f"SIG{name.upper().removeprefix('SIG')}"
    # Run like BEGIN: a raw-tracepoint program given a test-run ctx, never attached.
    assert (prog.prog_type, prog.ctx_size) == (ProgType.RAW_TRACEPOINT, 8)
    assert prog.attach == Attach("signal", f"self:signal:{full}", event=full, signal=number)
    assert program.attached_programs == ()
    assert program.signals == {number}


def test_self_signal_errors() -> None:
    assert errors("self:signal:SIGINT { }") == ["ptrace cannot run a probe on signal 'SIGINT'"]
    assert errors("self:usr1 { }") == [
        "a self probe is written 'self:signal:SIGNAL', as in self:signal:SIGUSR1"]


@needs_btf
@pytest.mark.parametrize(("name", "offset"), [("task", 8), ("task_file", 24), ("task_vma", 16)])
def test_iterator_plan(btf_machine: FixtureMachine, name: str, offset: int) -> None:
    program = compile(Source("-e", f"iter:{name} {{ @[ctx->task->pid] = count(); }}"),
                      machine=btf_machine)
    (prog,) = program.programs
    btf = btf_machine.kernel_types
    assert btf is not None
    assert (prog.prog_type, prog.expected_attach_type, prog.attach_btf_id) == \
        (ProgType.TRACING, 28, btf.find(f"bpf_iter_{name}", "func"))
    assert prog.attach.offset == offset  # where the object is, NULL at the end
    (user_map,) = [m for m in program.maps if m.name == "@"]
    assert user_map.key_type == t.Int(32, True)  # pid_t


@needs_btf
def test_iterator_ctx_is_typed_from_btf(btf_machine: FixtureMachine) -> None:
    program = compile(Source("-e", "iter:task_file { @[ctx->fd, ctx->file->f_flags] = "
                                   "count(); }"), machine=btf_machine)
    (user_map,) = [m for m in program.maps if m.name == "@"]
    assert user_map.key_type == t.Tuple((t.Int(32, False), t.Int(32, False)))
    assert errors("iter:task { @ = ctx->file; }", btf_machine) == [
        "struct bpf_iter__task has no field 'file'"]


@needs_btf
def test_iterator_must_run_alone(btf_machine: FixtureMachine) -> None:
    compile(Source("-e", "BEGIN { } iter:task { } END { }"), machine=btf_machine)
    message = "an iter probe must be the script's only probe besides BEGIN and END"
    assert errors("iter:task { } self:signal:SIGUSR1 { }", btf_machine) == [message]
    assert errors("iter:task { } iter:task_file { }", btf_machine) == [message]


def test_iterator_errors() -> None:
    assert errors("iter:tsk { }") == ["unknown iterator 'tsk'"]
    assert errors("iter:task { }") == [
        "iter probes need the kernel's BTF (/sys/kernel/btf/vmlinux)"]


def test_ctx_is_typed_by_the_probe() -> None:
    compile(Source("-e", "BEGIN { @ = ctx; }"), None, FixtureMachine({}))  # an address
    assert errors("profile:hz:99 { @ = ctx->regs; }") == [
        "the kernel's BTF has no struct bpf_perf_event_data_kern"]  # the fixture has none


@pytest.mark.parametrize(("code", "why"), [
    (errno.ENODEV, "this machine has no hardware breakpoints (no breakpoint PMU)"),
    (errno.ENOSPC, "every hardware breakpoint register of the CPU is in use"),
    (errno.EINVAL, "the CPU cannot watch this (x86-64 watches w, rw or x, not r alone; "
                   "the address must be a multiple of the length)"),
])
def test_watchpoint_attach_failures_are_one_sentence(monkeypatch: pytest.MonkeyPatch,
                                                     code: int, why: str) -> None:
    from ptrace.runtime import attach, perf
    from ptrace.runtime.errors import RuntimeFailure

    def refuse(*_args: object, **_kwargs: object) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(perf, "open_event", refuse)
    target = Attach("watchpoint", "watchpoint:0x1000:8:w", address=0x1000, bp_type=2, bp_len=8)
    with pytest.raises(RuntimeFailure) as caught:
        attach.attach(cast(Libraries, None), 3, target, pid=42)
    assert str(caught.value) == f"cannot attach watchpoint:0x1000:8:w: {why}"
