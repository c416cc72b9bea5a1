"""Tests for printing maps as text (ptrace.runtime.text_output), bpftrace's format."""

from __future__ import annotations

import io

import pytest
from ptrace.runtime import stacks
from ptrace.runtime.maps import Entry, Histogram, Stats
from ptrace.runtime.output import HeldOutput, new_output
from ptrace.runtime.text_output import BAR_WIDTH, format_map, histogram_rows

from ptrace.types import types as t


def row(label: str, count: int, bar: int) -> str:
    """One histogram row, spelled out: label in 16 columns, count right-aligned in 8."""
    return label.ljust(16) + str(count).rjust(8) + " |" + ("@" * bar).ljust(52) + "|"


def label_of(bucket: int, vtype: t.Type) -> str:
    (only,) = histogram_rows(Histogram({bucket: 1}), vtype)
    return only[:16].rstrip()


# ---- histogram labels -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("bucket", "label"),
    [
        (0, "(..., 0)"),
        (1, "[0]"),
        (2, "[1]"),
        (3, "[2, 4)"),
        (4, "[4, 8)"),
        (11, "[512, 1K)"),
        (12, "[1K, 2K)"),
        (13, "[2K, 4K)"),
        (21, "[512K, 1M)"),
        (22, "[1M, 2M)"),
        (32, "[1G, 2G)"),
        (42, "[1T, 2T)"),
        (52, "[1P, 2P)"),
        (62, "[1E, 2E)"),
        (65, "[8E, 16E)"),
    ],
)
def test_hist_labels(bucket: int, label: str) -> None:
    assert label_of(bucket, t.Hist()) == label


@pytest.mark.parametrize(
    ("lhist", "bucket", "label"),
    [
        (t.Lhist(0, 100, 10), 0, "(..., 0)"),
        (t.Lhist(0, 100, 10), 1, "[0, 10)"),
        (t.Lhist(0, 100, 10), 2, "[10, 20)"),
        (t.Lhist(0, 100, 10), 10, "[90, 100)"),
        (t.Lhist(0, 100, 10), 11, "[100, ...)"),
        (t.Lhist(-50, 50, 25), 0, "(..., -50)"),
        (t.Lhist(-50, 50, 25), 1, "[-50, -25)"),
        (t.Lhist(-50, 50, 25), 4, "[25, 50)"),
        (t.Lhist(-50, 50, 25), 5, "[50, ...)"),
        # K and M only when the step is a multiple of 1024
        (t.Lhist(0, 4096, 1024), 1, "[0, 1K)"),
        (t.Lhist(0, 4096, 1024), 4, "[3K, 4K)"),
        (t.Lhist(0, 4096, 1024), 5, "[4K, ...)"),
        (t.Lhist(1024, 4096, 1024), 0, "(..., 1K)"),
        (t.Lhist(0, 2 << 20, 1 << 20), 2, "[1M, 2M)"),
        (t.Lhist(0, 4096, 512), 3, "[1024, 1536)"),
        (t.Lhist(0, 2048, 1000), 2, "[1000, 2000)"),
    ],
)
def test_lhist_labels(lhist: t.Lhist, bucket: int, label: str) -> None:
    assert label_of(bucket, lhist) == label


# ---- rows and bars --------------------------------------------------------------------------

def test_row_format_is_exact() -> None:
    rows = histogram_rows(Histogram({3: 2, 4: 1}), t.Hist())
    assert rows == [
        "[2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
        "[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |",
    ]
    assert all(len(r) == 16 + 8 + 2 + BAR_WIDTH + 1 for r in rows)


def test_largest_bucket_gets_the_whole_bar() -> None:
    rows = histogram_rows(Histogram({2: 1, 3: 3, 4: 1000, 5: 999, 6: 0, 7: 20}), t.Hist())
    bars = [r.count("@") for r in rows]
    assert BAR_WIDTH == 52
    assert bars == [0, 0, 52, 51, 0, 1]  # count * 52 // peak, rounded down


def test_bars_scale_down_with_truncation() -> None:
    rows = histogram_rows(Histogram({1: 3, 2: 1, 3: 2}), t.Hist())
    assert rows == [row("[0]", 3, 52), row("[1]", 1, 17), row("[2, 4)", 2, 34)]


def test_rows_span_the_first_to_the_last_used_bucket() -> None:
    rows = histogram_rows(Histogram({1: 0, 3: 5, 6: 5, 9: 0}), t.Hist())
    assert [r[:16].rstrip() for r in rows] == ["[2, 4)", "[4, 8)", "[8, 16)", "[16, 32)"]
    assert [int(r[16:24]) for r in rows] == [5, 0, 0, 5]
    assert histogram_rows(Histogram({}), t.Hist()) == []
    assert histogram_rows(Histogram({4: 0}), t.Hist()) == []


def test_long_labels_push_the_count_right() -> None:
    (only,) = histogram_rows(Histogram({1: 7}), t.Lhist(-1_000_000, 0, 10))
    assert only.startswith("[-1000000, -999990)       7 |")


def test_histogram_map_text() -> None:
    text = format_map("@lat", t.Str(16), t.Hist(),
                      [Entry("bash", Histogram({2: 1})), Entry("sh", Histogram({2: 1, 3: 1}))])
    assert text == ("@lat[bash]:\n" + row("[1]", 1, 52) + "\n\n"
                    "@lat[sh]:\n" + row("[1]", 1, 52) + "\n" + row("[2, 4)", 1, 52) + "\n\n")


def test_lhist_map_text_with_underflow_and_overflow() -> None:
    text = format_map("@l", None, t.Lhist(0, 30, 10),
                      [Entry(None, Histogram({0: 1, 2: 2, 4: 4}))])
    assert text.splitlines() == ["@l:", row("(..., 0)", 1, 13), row("[0, 10)", 0, 0),
                                 row("[10, 20)", 2, 26), row("[20, 30)", 0, 0),
                                 row("[30, ...)", 4, 52), ""]


# ---- values and keys ------------------------------------------------------------------------

def test_scalar_and_keyed_maps() -> None:
    assert format_map("@x", None, t.INT64, [Entry(None, -5)]) == "@x: -5\n"
    assert format_map("@", t.Str(16), t.Count(), [Entry("bash", 3)]) == "@[bash]: 3\n"
    assert format_map("@x", t.INT64, t.Count(), []) == ""


def test_tuple_keys_lose_their_parentheses() -> None:
    ktype = t.Tuple((t.INT64, t.Str(8)))
    assert format_map("@c", ktype, t.Count(), [Entry((1, "a"), 5)]) == "@c[1, a]: 5\n"
    nested = t.Tuple((t.INT64, t.Tuple((t.INT64, t.BOOL))))
    assert format_map("@c", nested, t.Count(), [Entry((1, (2, True)), 1)]) \
        == "@c[1, (2, true)]: 1\n"


@pytest.mark.parametrize(
    ("vtype", "value", "text"),
    [
        (t.BOOL, True, "true"),
        (t.BOOL, False, "false"),
        (t.Pointer("void"), 255, "0xff"),
        (t.Str(8), "hi there", "hi there"),
        (t.Tuple((t.INT64, t.Str(4), t.BOOL)), (1, "ab", False), "(1, ab, false)"),
        (t.Record(("a", "b"), (t.INT64, t.Str(4))), (1, "x"), "{ .a = 1, .b = x }"),
        (t.UINT64, 2**64 - 1, "18446744073709551615"),
        (t.Int(8, True), -1, "-1"),
    ],
)
def test_value_formats(vtype: t.Type, value: object, text: str) -> None:
    assert format_map("@v", None, vtype, [Entry(None, value)]) == f"@v: {text}\n"


def test_stats_and_avg() -> None:
    entries = [Entry("x", Stats(3, 7)), Entry("y", Stats(2, -7)), Entry("z", Stats(0, 0))]
    assert format_map("@s", t.Str(8), t.Stats(), entries).splitlines() == [
        "@s[y]: { .count = 2, .average = -3, .total = -7 }",
        "@s[z]: { .count = 0, .average = 0, .total = 0 }",
        "@s[x]: { .count = 3, .average = 2, .total = 7 }",
    ]
    assert format_map("@a", t.Str(8), t.Avg(), entries).splitlines() == [
        "@a[y]: -3", "@a[z]: 0", "@a[x]: 2"]


# ---- order, top and div -------------------------------------------------------------------

def test_counts_sort_ascending_by_value_then_key() -> None:
    entries = [Entry("c", 5), Entry("a", 5), Entry("b", 1), Entry("d", 9)]
    assert format_map("@", t.Str(4), t.Count(), entries).splitlines() == [
        "@[b]: 1", "@[a]: 5", "@[c]: 5", "@[d]: 9"]


@pytest.mark.parametrize("vtype", [t.Sum(), t.Min(), t.Max(), t.INT64, t.UINT32])
def test_integer_values_sort_by_value(vtype: t.Type) -> None:
    entries = [Entry(1, 30), Entry(2, -10), Entry(3, 20)]
    assert format_map("@", t.INT64, vtype, entries).splitlines() == [
        "@[2]: -10", "@[3]: 20", "@[1]: 30"]


@pytest.mark.parametrize("vtype", [t.Avg(), t.Stats()])
def test_averages_sort_by_average(vtype: t.Type) -> None:
    entries = [Entry("a", Stats(1, 50)), Entry("b", Stats(10, 100)), Entry("c", Stats(2, 20))]
    keys = [line.split("]")[0] for line in format_map("@", t.Str(4), vtype, entries).splitlines()]
    assert keys == ["@[b", "@[c", "@[a"]  # averages 10, 10, 50: ties by key


def test_histograms_sort_by_total_count() -> None:
    entries = [Entry("big", Histogram({2: 5, 3: 5})), Entry("small", Histogram({2: 1})),
               Entry("mid", Histogram({4: 3}))]
    text = format_map("@", t.Str(8), t.Hist(), entries)
    assert [line for line in text.splitlines() if line.endswith(":")] == [
        "@[small]:", "@[mid]:", "@[big]:"]


def test_other_values_sort_by_key() -> None:
    entries = [Entry(3, "x"), Entry(-1, "z"), Entry(2, "a")]
    assert format_map("@", t.INT64, t.Str(4), entries).splitlines() == [
        "@[-1]: z", "@[2]: a", "@[3]: x"]
    strings = [Entry("b", True), Entry("a", False)]
    assert format_map("@", t.Str(4), t.BOOL, strings).splitlines() == ["@[a]: false", "@[b]: true"]


def test_keys_sort_numerically_and_field_by_field() -> None:
    ktype = t.Tuple((t.INT64, t.Str(4)))
    entries = [Entry((10, "a"), "v"), Entry((9, "b"), "v"), Entry((9, "a"), "v")]
    assert format_map("@", ktype, t.Str(2), entries).splitlines() == [
        "@[9, a]: v", "@[9, b]: v", "@[10, a]: v"]


def test_print_top_keeps_the_largest() -> None:
    entries = [Entry(i, i * 10) for i in range(6)]
    assert format_map("@", t.INT64, t.Count(), entries, top=2).splitlines() == [
        "@[4]: 40", "@[5]: 50"]
    assert len(format_map("@", t.INT64, t.Count(), entries, top=0).splitlines()) == 6
    assert len(format_map("@", t.INT64, t.Count(), entries, top=10).splitlines()) == 6


def test_print_div_divides_toward_zero() -> None:
    entries = [Entry("a", 25), Entry("b", -25)]
    assert format_map("@", t.Str(2), t.Sum(), entries, div=10).splitlines() == [
        "@[b]: -2", "@[a]: 2"]
    stats = [Entry(None, Stats(2, 50))]
    assert format_map("@", None, t.Stats(), stats, div=10) == \
        "@: { .count = 2, .average = 2, .total = 5 }\n"
    assert format_map("@", None, t.Avg(), stats, div=10) == "@: 2\n"
    assert format_map("@", None, t.Str(4), [Entry(None, "abc")], div=10) == "@: abc\n"


def test_print_top_and_div_together() -> None:
    entries = [Entry("a", 100), Entry("b", 300), Entry("c", 200)]
    assert format_map("@", t.Str(2), t.Count(), entries, top=2, div=100).splitlines() == [
        "@[c]: 2", "@[b]: 3"]


COLOR = t.Enum(32, False, "enum color", ((0, "RED"), (5, "GREEN"), (6, "BLUE")))


def test_enums_print_their_enumerators_names() -> None:
    assert format_map("@c", COLOR, COLOR, [Entry(6, 5), Entry(0, 7), Entry(9, 6)]) == (
        "@c[BLUE]: GREEN\n@c[9]: BLUE\n@c[RED]: 7\n")  # by value; 7 and 9 have no name
    pair = t.Tuple((COLOR, t.INT64))
    assert format_map("@t", pair, t.Count(), [Entry((5, 5), 1)]) == "@t[GREEN, 5]: 1\n"


# ---- the output of a run, for the CLI and the REPL ----------------------------------------

@pytest.mark.parametrize("as_json, quiet, out, err", [
    (False, False, "hi\n", "Attached 2 probes\n"),
    (False, True, "hi\n", ""),
    (True, False, '{"type": "attached_probes", "count": 2, "data": {"probes": 2}}\n'
                  '{"type": "printf", "data": "hi\\n"}\n', ""),
    (True, True, '{"type": "printf", "data": "hi\\n"}\n', ""),
])
def test_new_output_in_each_format(as_json: bool, quiet: bool, out: str, err: str) -> None:
    streams = io.StringIO(), io.StringIO()
    output = new_output(*streams, as_json, quiet)
    output.attached(2)
    output.printf("hi\n")
    assert (streams[0].getvalue(), streams[1].getvalue()) == (out, err)


def test_json_records_follow_bpftrace_0_26() -> None:
    """The record types and shapes of bpftrace 0.26's -f json (docs/cli.md's table)."""
    out = io.StringIO()
    output = new_output(out, io.StringIO(), True)
    output.printf("a b c\n", "syscall")
    output.printf("1.0 2.0\n", "cat")
    output.printf("x y\n", "join")
    output.value((1, "s", (4, 5), True), t.Tuple((t.INT64, t.Str(2), t.Tuple((t.INT64, t.INT64)),
                                                  t.BOOL)))
    output.map("@a", t.Str(2), t.Avg(True), [Entry("c", Stats(2, 60)), Entry("d", Stats(1, 40))],
               div=10)
    assert out.getvalue().splitlines() == [
        '{"type": "syscall", "data": "a b c\\n"}',
        '{"type": "cat", "data": "1.0 2.0\\n"}',
        '{"type": "join", "data": "x y\\n"}',
        '{"type": "value", "data": [1,"s",[4,5],true]}',
        '{"type": "stats", "data": {"@a": {"c": 3, "d": 4}}}',
    ]


def test_no_warnings_leaves_out_warnf_but_not_errorf() -> None:
    for as_json in (False, True):
        out, err = io.StringIO(), io.StringIO()
        output = new_output(out, err, as_json, warnings=False)
        output.message("warnf", "careful", "x.bt:1:9", "    line")
        output.message("errorf", "bad", "x.bt:2:9", "    line")
        assert "careful" not in out.getvalue() + err.getvalue()
        assert "bad" in out.getvalue() + err.getvalue()


def test_held_output_writes_the_attached_line_first_then_what_it_held() -> None:
    stream = io.StringIO()  # stdout and stderr to one place, as with 2>&1
    held = HeldOutput(new_output(stream, stream, False))
    held.printf("header\n")
    held.flush()
    assert stream.getvalue() == ""
    held.attached(3)
    held.printf("more\n")
    output = held.release()
    output.printf("after\n")
    assert stream.getvalue() == "Attached 3 probes\nheader\nmore\nafter\n"


def test_a_stack_without_frames_is_a_newline_as_a_key() -> None:
    """bpftrace prints a stack as a newline, then a line per frame: a stack
    without frames (a kernel thread's user stack) is the newline alone."""
    stacks.use(stacks.StackReader(None, {}))  # no stack-trace maps: no frames
    try:
        for mode in ("bpftrace", "perf"):
            ktype = t.Stack(user=True, mode=mode)
            entries = [Entry(stacks.StackRef(-14, 0, ktype), 1)]
            assert format_map("@", ktype, t.INT64, entries) == "@[\n]: 1\n"
    finally:
        stacks.use(None)
