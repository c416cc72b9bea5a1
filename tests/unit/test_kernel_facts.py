"""Kernel and ABI facts declared once: the event header that codegen writes and
the session reads back, and the runtime's checks of what this machine can do
(which `ptrace --info` prints), made through the runtime's own calls."""

from __future__ import annotations

import errno
import os
import re

import pytest
from ptrace.runtime import features, perf
from ptrace.runtime.libbcc import LibraryMissing
from ptrace.runtime.values import decode

from ptrace.program import (
    EVENT_HEADER,
    EVENT_HEADER_SIZE,
    EXIT_CODE,
    EventKind,
    event_header,
)
from ptrace.types.btf import VMLINUX, Btf
from tests.unit.fixtures import compile_text, fixture_machine


@pytest.mark.parametrize("kind, site", [(EventKind.PRINTF, 0), (EventKind.CLEAR, 7),
                                        (EventKind.ZERO, 0xFFFF_FFFF)])
def test_the_header_word_reads_back_as_kind_and_site(kind: EventKind, site: int) -> None:
    record = event_header(kind, site).to_bytes(8, "little")
    assert EVENT_HEADER_SIZE == len(record) == 8
    assert EVENT_HEADER.unpack_from(record) == (kind, site)


def test_codegen_stores_the_header_word() -> None:
    program = compile_text("BEGIN { @a = 1; @b = 2; } END { clear(@b); }", dumps=("ir",))
    index = next(i for i, spec in enumerate(program.maps) if spec.name == "@b")
    stored = {int(word) for word in re.findall(r"store i64 (\d+), ptr", program.dumps["ir"])}
    assert event_header(EventKind.CLEAR, index) in stored


def test_an_exit_record_carries_its_code_after_the_header() -> None:
    record = event_header(EventKind.EXIT, 0).to_bytes(8, "little") + (-3).to_bytes(8, "little",
                                                                                  signed=True)
    assert EXIT_CODE.offset == EVENT_HEADER_SIZE
    assert decode(record, EXIT_CODE.offset, EXIT_CODE.type) == -3


# ---- the runtime's checks (ptrace.runtime.features) -------------------------------------

@pytest.mark.bpf
def test_the_checks_load_through_the_runtimes_calls() -> None:
    assert features.bpf_errno() == 0
    assert features.load_problem() is None
    btf = Btf.load(VMLINUX)
    task = btf.find("bpf_iter_task", "func")
    assert task is not None and features.iterator_errno(task) == 0
    not_an_iterator = btf.find("vfs_read", "func")
    assert not_an_iterator is not None and features.iterator_errno(not_an_iterator) != 0


def test_a_check_closes_what_it_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    opened: list[dict[str, int]] = []

    def open_event(perf_type: int, config: int, cpu: int, **how: int) -> int:
        opened.append({"type": perf_type, "config": config, "cpu": cpu, **how})
        return write_end

    monkeypatch.setattr(perf, "open_event", open_event)
    assert features.hardware_errno() == 0
    assert opened == [{"type": perf.PERF_TYPE_HARDWARE, "config": perf.PERF_COUNT_HW_CPU_CYCLES,
                       "cpu": -1, "pid": 0, "flags": features.OWN_COUNTER_FLAGS}]
    with pytest.raises(OSError):
        os.fstat(write_end)


def test_a_failed_check_gives_the_kernels_errno(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pmu(*_args: int, **_how: int) -> int:
        raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))

    monkeypatch.setattr(perf, "open_event", no_pmu)
    assert features.hardware_errno() == errno.ENODEV
    assert str(features.PROBE_CHECKS["hardware"](fixture_machine())).startswith(
        "no: no hardware performance counters")


def test_load_problem_says_why_in_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert features.load_problem() == features.NOT_ROOT
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(features, "bpf_errno", lambda: errno.EPERM)
    assert "lockdown" in (features.load_problem() or "")

    def missing() -> int:
        raise LibraryMissing("bcc's libraries are not installed")

    monkeypatch.setattr(features, "bpf_errno", missing)
    assert features.load_problem() == "bcc's libraries are not installed"
    assert str(features.KERNEL_CHECKS["bpf() system call"]()) == \
        "unknown: bcc's libraries are not installed"
