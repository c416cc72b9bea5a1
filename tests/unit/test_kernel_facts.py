"""Kernel and ABI facts declared once: the event header that codegen writes and
the session reads back."""

from __future__ import annotations

import re

import pytest
from ptrace.runtime.values import decode

from ptrace.program import (
    EVENT_HEADER,
    EVENT_HEADER_SIZE,
    EXIT_CODE,
    EventKind,
    event_header,
)
from tests.unit.fixtures import compile_text


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
