"""The probe-kind table (ptrace.probe_kinds): every row has what its kind needs
in each stage, and the stages read it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ptrace.runtime.attach import ATTACHERS
from ptrace.runtime.features import PROBE_CHECKS

from ptrace.bpf_abi import ProgType
from ptrace.passes.expand_probes import EXPANDERS
from ptrace.probe_kinds import (
    BY_PROVIDER,
    KINDS,
    PROVIDERS,
    Catalogue,
    ProbeKind,
    Runs,
)
from ptrace.program import Attach


def test_every_kind_has_one_row() -> None:
    assert list(KINDS) == list(ProbeKind)
    assert all(row.kind == kind for kind, row in KINDS.items())


def test_every_kind_scripts_write_has_an_expander() -> None:
    written = {kind for kind, row in KINDS.items() if row.provider}
    assert set(EXPANDERS) == written


def test_every_attached_kind_has_an_attacher() -> None:
    attached = {kind for kind, row in KINDS.items() if row.runs != Runs.TEST_RUN}
    assert set(ATTACHERS) == attached


def test_every_kind_scripts_write_has_an_info_verdict() -> None:
    checked = {word for name in PROBE_CHECKS for word in name.split(", ")}
    assert set(PROVIDERS) <= checked


def test_provider_words_name_one_kind_each() -> None:
    words = [word for row in KINDS.values() for word in (row.provider, *row.aliases) if word]
    assert len(words) == len(set(words)) == len(BY_PROVIDER)
    assert BY_PROVIDER["t"] == ProbeKind.TRACEPOINT
    assert BY_PROVIDER["kfunc"] == ProbeKind.FENTRY
    assert BY_PROVIDER["self"] == ProbeKind.SIGNAL
    assert "syscalls" not in BY_PROVIDER  # internal: scripts do not write it


@pytest.mark.parametrize("kind", list(ProbeKind))
def test_rows_are_consistent(kind: ProbeKind) -> None:
    row = KINDS[kind]
    # Only TRACING programs carry an expected attach type.
    assert (row.attach_type is not None) == (row.prog_type == ProgType.TRACING)
    # BPF_PROG_TEST_RUN runs raw-tracepoint programs (not kprobes or tracepoints).
    if row.runs == Runs.TEST_RUN:
        assert row.prog_type == ProgType.RAW_TRACEPOINT
    # Kinds listed as forms have forms; the others are listed from the machine.
    assert bool(row.forms) == (row.catalogue in (Catalogue.FORMS, Catalogue.TIMERS))
    assert (row.catalogue == Catalogue.INTERNAL) == (not row.provider)
    assert row.name and (row.probetype or row.kind.value)


def test_user_addresses_are_decided_by_the_row_and_the_syscall_category() -> None:
    assert Attach(ProbeKind.UPROBE, "uprobe:/bin/sh:main").user_addresses
    assert Attach(ProbeKind.USDT, "usdt:/bin/sh:p:n").user_addresses
    assert Attach(ProbeKind.TRACEPOINT, "tracepoint:syscalls:sys_enter_openat",
                  category="syscalls", event="sys_enter_openat").user_addresses
    assert Attach(ProbeKind.SYSCALLS, "tracepoint:syscalls:sys_enter_*",
                  category="syscalls", event="sys_enter").user_addresses
    assert not Attach(ProbeKind.TRACEPOINT, "tracepoint:sched:sched_switch",
                      category="sched", event="sched_switch").user_addresses
    assert not Attach(ProbeKind.KPROBE, "kprobe:vfs_read").user_addresses


def test_the_table_imports_nothing_heavy() -> None:
    """Every stage imports the table at start-up: it must stay plain data."""
    code = ("import sys; import ptrace.probe_kinds; "
            "print(' '.join(m for m in sys.modules if m.startswith(('ptrace', 'lark', "
            "'llvmlite', 'json', 'prompt_toolkit'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    assert sorted(loaded) == ["ptrace", "ptrace.bpf_abi", "ptrace.probe_kinds"]
