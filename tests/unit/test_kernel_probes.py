"""Compile-side checks of probes the test kernel cannot attach: kprobes and fentry/fexit.

They use the kernel's BTF (world-readable at /sys/kernel/btf/vmlinux), so
they need no root; their attach plans and types are checked here because
their end-to-end runs stop at attaching on this kernel.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ptrace.compile import compile
from ptrace.diagnostics import Source
from ptrace.machine import FixtureMachine
from ptrace.program import ProgType
from ptrace.types import types as t
from ptrace.types.btf import VMLINUX, Btf

pytestmark = pytest.mark.skipif(not Path(VMLINUX).exists(), reason="no kernel BTF here")


@pytest.fixture(scope="module")
def machine() -> FixtureMachine:
    return FixtureMachine({}, kernel_types=Btf.load(VMLINUX))


def test_fentry_plan_and_types(machine: FixtureMachine) -> None:
    program = compile(Source("-e", "fentry:vfs_read { @[comm] = sum(args.count); } "
                                   "fexit:vfs_read { @r[args.count] = sum(retval); }"),
                      machine=machine)
    entry, exit_ = program.programs
    btf = machine.kernel_types
    assert btf is not None
    func = btf.find("vfs_read", "func")
    assert (entry.prog_type, entry.expected_attach_type, entry.attach_btf_id) == \
        (ProgType.TRACING, 24, func)
    assert (exit_.prog_type, exit_.expected_attach_type, exit_.attach_btf_id) == \
        (ProgType.TRACING, 25, func)
    maps = {m.name: m for m in program.maps}
    assert maps["@r"].key_type == t.Int(64, False)  # size_t count
    assert maps["@r"].value_type == t.Sum(True)  # ssize_t return value


def test_fexit_reads_the_return_value_after_the_arguments(machine: FixtureMachine) -> None:
    program = compile(Source("-e", "fexit:vfs_read { @ = retval; }"), machine=machine,
                      dumps=("ir",))
    # vfs_read has 4 parameters: the return value is the fifth u64 of ctx.
    assert "i64 32" in program.dumps["ir"]


def test_kprobe_plan(machine: FixtureMachine) -> None:
    program = compile(Source("-e", "kprobe:vfs_read+4 { @[func] = count(); } "
                                   "kretprobe:vfs_read { @r = sum(retval); }"), machine=machine)
    probe, ret = program.programs
    assert probe.prog_type == ret.prog_type == ProgType.KPROBE
    assert (probe.attach.kind, probe.attach.symbol, probe.attach.offset) == \
        ("kprobe", "vfs_read", 4)
    assert ret.attach.kind == "kretprobe"
