"""Compile-side checks of builtins that reach into the kernel through its BTF:
comm(pid)'s kfunc calls and percpu_kaddr()'s per-CPU variable. They use the
kernel's BTF (world-readable), so they need no root; percpu_kaddr() cannot
load on a kernel whose kallsyms lists functions only (this one), so its
instructions are checked here."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ptrace.bpf_abi import (
    BPF_PSEUDO_BTF_ID,
    BPF_PSEUDO_KFUNC_CALL,
    LD_IMM64,
    AttachType,
    MapType,
    ProgType,
)
from ptrace.codegen.helpers import Helper
from ptrace.compile import compile
from ptrace.diagnostics import CompileError, Source
from ptrace.machine import FixtureMachine
from ptrace.types.btf import VMLINUX, Btf

pytestmark = pytest.mark.skipif(not Path(VMLINUX).exists(), reason="no kernel BTF here")
CALL = 0x85


@pytest.fixture(scope="module")
def btf() -> Btf:
    return Btf.load(VMLINUX)


def instructions(insns: bytes) -> list[tuple[int, int, int]]:
    """(opcode, src_reg, imm) of each instruction."""
    return [(code, regs >> 4, imm) for code, regs, _, imm in struct.iter_unpack("<BBhi", insns)]


def test_comm_of_a_pid_calls_the_task_kfuncs(btf: Btf) -> None:
    machine = FixtureMachine({}, kernel_types=btf)
    program = compile(Source("-e", "iter:task { @ = comm(pid); }"), machine=machine)
    calls = [(src, imm) for code, src, imm in instructions(program.programs[0].insns)
             if code == CALL]
    assert (BPF_PSEUDO_KFUNC_CALL, btf.find("bpf_task_from_pid", "func")) in calls
    assert (BPF_PSEUDO_KFUNC_CALL, btf.find("bpf_task_release", "func")) in calls
    assert all(src == 0 for src, imm in calls if imm < 1024)  # helpers stay helpers


@pytest.mark.parametrize("call, helper", [('percpu_kaddr("runqueues", 1)', Helper.PER_CPU_PTR),
                                          ('percpu_kaddr("runqueues")', Helper.THIS_CPU_PTR)])
def test_percpu_kaddr_loads_the_variable_and_asks_for_its_cpu_s_copy(
        btf: Btf, call: str, helper: Helper) -> None:
    machine = FixtureMachine({}, kernel_types=btf, symbols={"runqueues": 0xFFFFFFFF82000000})
    program = compile(Source("-e", f"BEGIN {{ @ = *{call}; }}"), machine=machine)
    insns = instructions(program.programs[0].insns)
    assert (LD_IMM64, BPF_PSEUDO_BTF_ID, btf.find("runqueues", "var")) in insns
    assert (CALL, 0, int(helper)) in insns


def test_percpu_kaddr_of_a_variable_kallsyms_does_not_list_is_refused(btf: Btf) -> None:
    machine = FixtureMachine({}, kernel_types=btf)
    with pytest.raises(CompileError) as error:
        compile(Source("-e", 'BEGIN { @ = *percpu_kaddr("runqueues"); }'), machine=machine)
    (diagnostic,) = error.value.diagnostics
    assert "built without CONFIG_KALLSYMS_ALL" in diagnostic.message
    assert (diagnostic.span.col, diagnostic.span.end_col) == (27, 38)  # the name


def test_socket_cookie_calls_its_helper_on_a_btf_socket(btf: Btf) -> None:
    machine = FixtureMachine({}, kernel_types=btf)
    program = compile(Source("-e", "fentry:tcp_rcv_established { @[socket_cookie(args.sk)] = "
                                   "count(); }"), machine=machine)
    assert (CALL, 0, int(Helper.GET_SOCKET_COOKIE)) in instructions(program.programs[0].insns)


@pytest.mark.parametrize("program, message", [
    ("BEGIN { @ = socket_cookie(0); }", "socket_cookie() cannot be used in BEGIN probes: the "
                                        "kernel gives bpf_get_socket_cookie() to BTF-typed "
                                        "programs only"),
    ("fentry:tcp_rcv_established { @ = socket_cookie(args.skb); }",
     "socket_cookie() takes a kernel socket (struct sock *), got struct sk_buff *"),
])
def test_socket_cookie_refusals(btf: Btf, program: str, message: str) -> None:
    with pytest.raises(CompileError) as error:
        compile(Source("-e", program), machine=FixtureMachine({}, kernel_types=btf))
    assert error.value.diagnostics[0].message == message


def test_a_raw_tracepoint_btf_types_is_a_btf_tracepoint(btf: Btf) -> None:
    """As in bpftrace 0.26: a TRACING program of attach type BPF_TRACE_RAW_TP,
    attached to the event's btf_trace_ typedef, which may call socket_cookie()."""
    machine = FixtureMachine({("tcp", "tcp_probe"): "name: tcp_probe\nformat:\n"},
                             kernel_types=btf)
    program = compile(Source("-e", "rawtracepoint:tcp_probe { @ = socket_cookie(args.sk); }"),
                      machine=machine).programs[0]
    assert (program.prog_type, program.expected_attach_type) == \
        (ProgType.TRACING, AttachType.TRACE_RAW_TP)
    assert program.attach_btf_id == btf.find("btf_trace_tcp_probe", "typedef")
    assert (CALL, 0, int(Helper.GET_SOCKET_COOKIE)) in instructions(program.insns)


def test_a_raw_tracepoint_btf_does_not_type_stays_one(btf: Btf) -> None:
    """An event without a btf_trace_ typedef is attached by name, as before,
    and a helper that needs BTF-typed arguments is refused there."""
    machine = FixtureMachine({("x", "no_such_event"): "name: no_such_event\nformat:\n"},
                             kernel_types=btf)
    program = compile(Source("-e", "rawtracepoint:no_such_event { @ = arg0; }"),
                      machine=machine).programs[0]
    assert (program.prog_type, program.attach_btf_id) == (ProgType.RAW_TRACEPOINT, 0)
    with pytest.raises(CompileError) as error:
        compile(Source("-e", "rawtracepoint:no_such_event { @ = socket_cookie(arg0); }"),
                machine=machine)
    assert error.value.diagnostics[0].message == (
        "socket_cookie() cannot be used in rawtracepoint:no_such_event: the kernel's BTF does "
        "not type this event (no btf_trace_no_such_event), so it is attached as a plain raw "
        "tracepoint")


@pytest.mark.parametrize("program, message", [
    ('rawtracepoint:consume_skb { @ = skboutput("x.pcap", arg0, 1, 0); }',
     "skboutput() takes a kernel packet (struct sk_buff *), got uint64"),
    ('rawtracepoint:consume_skb { @ = skboutput("x.pcap", args.skb, 1, pid); }',
     "skboutput()'s offset must be a constant from 0 to 1048575"),
    ('rawtracepoint:consume_skb { @ = skboutput(comm, args.skb, 1, 0); }',
     "skboutput() takes the pcap file's path as a string literal"),
    ('BEGIN { @ = skboutput("x.pcap", 0, 1, 0); }',
     "skboutput() cannot be used in BEGIN probes: the kernel gives bpf_skb_output() to "
     "BTF-typed programs only"),
])
def test_skboutput_refusals(btf: Btf, program: str, message: str) -> None:
    machine = FixtureMachine({("skb", "consume_skb"): "name: consume_skb\nformat:\n"},
                             kernel_types=btf)
    with pytest.raises(CompileError) as error:
        compile(Source("-e", program), machine=machine)
    assert error.value.diagnostics[0].message == message


def test_skboutput_calls_its_helper_with_a_perf_event_array(btf: Btf) -> None:
    machine = FixtureMachine({("skb", "consume_skb"): "name: consume_skb\nformat:\n"},
                             kernel_types=btf)
    program = compile(Source("-e", 'rawtracepoint:consume_skb { @ = skboutput("x.pcap", '
                                   '(struct sk_buff *)arg0, 1, 0); }'), machine=machine)
    assert (CALL, 0, int(Helper.SKB_OUTPUT)) in instructions(program.programs[0].insns)
    assert program.maps[program.packet_map].map_type == MapType.PERF_EVENT_ARRAY
    assert program.packet_sites == (("x.pcap", 0),)


def test_comm_of_a_pid_in_a_btf_tracepoint(btf: Btf) -> None:
    """A BTF tracepoint is a TRACING program, which may call the task kfuncs."""
    machine = FixtureMachine({("sched", "sched_switch"): "name: sched_switch\nformat:\n"},
                             kernel_types=btf)
    program = compile(Source("-e", "rawtracepoint:sched_switch { @[comm(args.next->pid)] = "
                                   "count(); }"), machine=machine)
    calls = [(src, imm) for code, src, imm in instructions(program.programs[0].insns)
             if code == CALL]
    assert (BPF_PSEUDO_KFUNC_CALL, btf.find("bpf_task_from_pid", "func")) in calls
