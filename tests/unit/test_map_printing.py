"""The integer-keyed map's fast path (entries made and lines formatted all at
once; a map read as columns, sorted and printed without an entry each) and the
garbage collector's pause while a map prints."""

from __future__ import annotations

import gc
import io
import json
import random

from ptrace.runtime.maps import _ENTRY, Columns, Entry, ordered
from ptrace.runtime.output import JsonOutput
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


def test_a_map_read_as_columns_prints_as_its_entries_do() -> None:
    rng = random.Random(7)
    pairs = [(key, rng.choice((1, 3, 2**40))) for key in range(-300, 300)]
    rng.shuffle(pairs)
    columns = Columns([k for k, _ in pairs], [v for _, v in pairs])
    entries = list(map(_ENTRY, pairs))
    assert list(columns) == entries and columns[5] == entries[5] and len(columns) == 600
    for top in (0, 1, 4):
        assert format_map("@m", t.Int(), t.Count(), columns, top=top) == \
            format_map("@m", t.Int(), t.Count(), entries, top=top)
        assert list(ordered(t.Count(), columns, top)) == list(ordered(t.Count(), entries, top))
    assert format_map("@m", t.Int(), t.Count(), columns, div=2) == \
        format_map("@m", t.Int(), t.Count(), entries, div=2)
    out = io.StringIO()
    JsonOutput(out).map("@m", t.Int(), t.Count(), columns)
    assert json.loads(out.getvalue())["data"]["@m"] == {str(k): v for k, v in
                                                         sorted(pairs, key=lambda p: (p[1], p[0]))}
    assert format_map("@s", None, t.Count(), Columns([None], [9])) == "@s: 9\n"


def test_columns_order_by_value_then_key_dense_sparse_or_one_value() -> None:
    rng = random.Random(11)
    dense = rng.sample(range(-40, 60), 70)  # a range with gaps, negative keys
    sparse = [rng.randrange(-2**63, 2**63) for _ in range(50)]
    for keys in (dense, sparse, [5, 3], [2**64 - 1, 0]):
        for values in ([4] * len(keys), [rng.choice((0, 1, 9, 2**40)) for _ in keys]):
            rows = Columns(list(keys), list(values)).ordered()
            expected = sorted(zip(keys, values, strict=True), key=lambda p: (p[1], p[0]))
            assert list(zip(rows.keys, rows.values, strict=True)) == expected


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
