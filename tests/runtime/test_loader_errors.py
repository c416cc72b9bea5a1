"""What the user sees when the kernel refuses a program."""

from __future__ import annotations

import pytest
from ptrace.runtime import libbcc
from ptrace.runtime.errors import RuntimeFailure
from ptrace.runtime.loader import load

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
