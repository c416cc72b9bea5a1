"""The integer-keyed map's fast path (entries made and lines formatted all at
once) and the garbage collector's pause while a map prints."""

from __future__ import annotations

import gc
import random

from ptrace.runtime.maps import _ENTRY, Entry
from ptrace.runtime.session import _not_collecting
from ptrace.runtime.text_output import format_map

from ptrace.types import types as t


def test_integer_maps_print_by_count_then_key_in_one_format() -> None:
    rng = random.Random(13)
    pairs = [(key, rng.choice((1, 2, 7, 2**40))) for key in range(-500, 500)]
    rng.shuffle(pairs)
    entries = list(map(_ENTRY, pairs))
    assert all(type(e) is Entry for e in entries) and entries[0].key == pairs[0][0]
    expected = sorted(pairs, key=lambda p: (p[1], p[0]))
    text = format_map("@m", t.Int(), t.Count(), entries)
    assert text == "".join(f"@m[{k}]: {v}\n" for k, v in expected)
    assert format_map("@m", t.Int(), t.Count(), entries, top=3) == "".join(
        f"@m[{k}]: {v}\n" for k, v in expected[-3:])


def test_the_collector_pauses_while_a_map_prints_and_comes_back_as_it_was() -> None:
    was = gc.isenabled()
    try:
        gc.enable()
        with _not_collecting():
            assert not gc.isenabled()
        assert gc.isenabled()
        gc.disable()
        with _not_collecting():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
