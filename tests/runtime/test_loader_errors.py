"""What the user sees when the kernel refuses a program."""

from __future__ import annotations

import pytest
from ptrace.runtime import libbcc
from ptrace.runtime.attach import attach
from ptrace.runtime.errors import RuntimeFailure
from ptrace.runtime.loader import load

from ptrace.probe_kinds import ProbeKind
from ptrace.program import Attach, BpfProgram, CompiledProgram, ProgType

EXIT_ONLY = bytes([0x95, 0, 0, 0, 0, 0, 0, 0])  # `exit` with r0 never set


@pytest.mark.bpf
def test_verifier_rejection_names_the_probe_and_its_line() -> None:
    prog = BpfProgram("probe_0", ProgType.TRACEPOINT, EXIT_ONLY,
                      Attach("tracepoint", "tracepoint:syscalls:sys_enter_openat",
                             category="syscalls", event="sys_enter_openat"),
                      location="script.bt:7:1")
    program = CompiledProgram((prog,), (), -1, -1, -1, (), (), ())
    with pytest.raises(RuntimeFailure) as caught:
        load(libbcc.load(), program)
    message = str(caught.value)
    assert message.startswith("script.bt:7:1: the kernel's verifier rejected the program for "
                              "tracepoint:syscalls:sys_enter_openat")
    assert "R0 !read_ok" in message  # the verifier's own reason, from its log


@pytest.mark.bpf
def test_bccs_own_lines_about_a_failed_attach_do_not_reach_the_user(
        capfd: pytest.CaptureFixture[str]) -> None:
    """bcc writes lines of its own to file descriptor 2 when an attach fails
    (`ioctl(PERF_EVENT_IOC_SET_BPF): Bad file descriptor`); the user gets
    ptrace's one sentence instead."""
    libs = libbcc.load()
    target = Attach(ProbeKind.TRACEPOINT, "tracepoint:syscalls:sys_enter_getppid",
                    category="syscalls", event="sys_enter_getppid")
    assert libs.bcc.bpf_attach_tracepoint(-1, b"syscalls", b"sys_enter_getppid") < 0
    assert capfd.readouterr().err.startswith("ioctl(")  # what bcc itself writes
    with pytest.raises(RuntimeFailure) as caught:
        attach(libs, -1, target)  # -1: not a program, so attaching fails
    assert str(caught.value).startswith("cannot attach tracepoint:syscalls:sys_enter_getppid: ")
    assert capfd.readouterr() == ("", "")
