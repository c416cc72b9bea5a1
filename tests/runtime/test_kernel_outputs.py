"""Builtins whose output goes somewhere else than ptrace's stdout: debugf()
into the kernel's trace buffer (bpf_trace_printk), read back from tracefs."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

TIMEOUT = 30
TRACE = Path("/sys/kernel/tracing/trace")


@pytest.mark.bpf
def test_debugf_writes_to_the_kernel_trace_buffer(ptrace_exe: list[str]) -> None:
    if not TRACE.exists():
        pytest.skip("tracefs is not mounted at /sys/kernel/tracing")
    token = uuid.uuid4().hex[:12]
    r = subprocess.run([*ptrace_exe, "-e", f'interval:ms:10 {{ $c = "{token}"; '
                        'debugf("%s %d %u %x %ld %c|", $c, -1, 7, 255, -5, 65); exit(); }'],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""
    lines = [line for line in TRACE.read_text(errors="replace").splitlines() if token in line]
    assert len(lines) == 1, lines
    assert lines[0].endswith(f"bpf_trace_printk: {token} -1 7 ff -5 A|")
