"""Large programs load and run: their jumps reach, the verifier accepts them."""

from __future__ import annotations

import subprocess

import pytest


@pytest.mark.bpf
def test_a_thousand_printf_calls_in_one_if_run(ptrace_exe: list[str]) -> None:
    """The jump over the `if`'s body is about 29,000 instructions: within 16 bits
    as LLVM writes it, but past them once the verifier has inlined the map
    lookups inside ("cannot be patched due to 16-bit range"). bpftrace runs it."""
    program = ("BEGIN { if (nsecs > 0) { "
               + "".join(f'printf("line %d\\n", {i}); ' for i in range(1000)) + "} exit(); }")
    r = subprocess.run([*ptrace_exe, "-q", "-e", program], capture_output=True, text=True,
                       timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout == "".join(f"line {i}\n" for i in range(1000)) + "\n\n"
