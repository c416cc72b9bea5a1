"""GFP flag masks as the kmem tracepoints' formats write them, evaluated."""

from __future__ import annotations

import pytest
from ptrace.runtime.gfp import _evaluate


@pytest.mark.parametrize("expression, value", [
    ("( gfp_t)((((1UL))) << (10))|((((1UL))) << (11))", 0xC00),
    ("(((( gfp_t)0x400u|0x800u)) | (( gfp_t)0x40u)) & ~(( gfp_t)0x800u)", 0x440),
    ("(( gfp_t)0)", 0),
])
def test_masks_are_evaluated(expression: str, value: int) -> None:
    assert _evaluate(expression) == value


@pytest.mark.parametrize("expression", ["1 + 2", "(1 << 3", "sizeof(int)", "010"])
def test_what_is_not_a_mask_is_none(expression: str) -> None:
    assert _evaluate(expression) is None
