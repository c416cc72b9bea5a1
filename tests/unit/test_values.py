"""Tests for decoding and formatting values written by BPF.

ptrace.runtime.values decodes keys, values and event fields; reduce_value
(ptrace.runtime.maps) combines the per-CPU values of aggregation maps.
"""

from __future__ import annotations

import struct

import pytest
from ptrace.runtime import stacks
from ptrace.runtime.maps import Stats, reduce_value
from ptrace.runtime.values import decode, decode_str, format_key, format_value, sort_key

from ptrace.types import types as t


def u64(value: int) -> bytes:
    return struct.pack("<Q", value & 0xFFFFFFFFFFFFFFFF)


# ---- integers, bools, pointers ---------------------------------------------------------

@pytest.mark.parametrize(
    ("vtype", "raw", "value"),
    [
        (t.INT64, -1, -1),
        (t.INT64, 2**63 - 1, 2**63 - 1),
        (t.INT64, -(2**63), -(2**63)),
        (t.UINT64, -1, 2**64 - 1),
        (t.UINT64, 42, 42),
        # narrower types arrive sign- or zero-extended to 8 bytes
        (t.INT32, -5, -5),
        (t.Int(8, True), -128, -128),
        (t.UINT32, 0xFFFFFFFF, 0xFFFFFFFF),
        (t.Int(16, False), 65535, 65535),
    ],
)
def test_integers(vtype: t.Type, raw: int, value: int) -> None:
    assert decode(u64(raw), 0, vtype) == value


def test_integers_are_little_endian_8_bytes() -> None:
    data = bytes(range(1, 9)) + b"\xff" * 8
    assert decode(data, 0, t.UINT64) == 0x0807060504030201
    assert decode(data, 8, t.INT64) == -1
    assert decode(memoryview(data), 0, t.UINT64) == 0x0807060504030201


@pytest.mark.parametrize(("raw", "value"), [(0, False), (1, True), (255, True)])
def test_bools(raw: int, value: bool) -> None:
    decoded = decode(u64(raw), 0, t.BOOL)
    assert decoded is value
    assert format_value(decoded, t.BOOL) == ("true" if value else "false")


def test_pointers_are_unsigned_and_hexadecimal() -> None:
    address = 0xFFFF_8880_0123_4560
    assert decode(u64(address), 0, t.Pointer("struct task_struct")) == address
    assert format_value(address, t.Pointer()) == "0xffff888001234560"
    assert format_value(0, t.Pointer("char")) == "0x0"


def test_integer_formats() -> None:
    assert format_value(-7, t.INT64) == "-7"
    assert format_value(2**64 - 1, t.UINT64) == "18446744073709551615"


# ---- strings ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"bash\0\0\0\0", "bash"),
        (b"bash\0junk", "bash"),  # the first NUL ends the string
        (b"\0bash", ""),
        (b"", ""),
        (b"exactly8", "exactly8"),  # no NUL: the whole buffer
        ("héllo wörld".encode() + b"\0", "héllo wörld"),
        (b"a\tb\n", "a\tb\n"),
    ],
)
def test_decode_str(raw: bytes, value: str) -> None:
    assert decode_str(raw) == value


def test_non_utf8_bytes_survive_a_round_trip() -> None:
    raw = b"caf\xe9 \xff\xfe!"
    text = decode_str(raw + b"\0")
    assert text == "caf\udce9 \udcff\udcfe!"
    assert text.encode("utf-8", "surrogateescape") == raw


def test_strings_decode_within_their_capacity() -> None:
    data = u64(1) + b"comm-name-15chrs" + b"next"
    assert decode(data, 8, t.Str(16)) == "comm-name-15chrs"
    assert decode(data, 8, t.Str(4)) == "comm"
    assert format_value("comm", t.Str(16)) == "comm"


# ---- tuples and records ----------------------------------------------------------------

def test_tuples_decode_as_c_lays_out_a_struct() -> None:
    ttype = t.Tuple((t.INT64, t.Str(3), t.BOOL, t.Str(16), t.Int(16, True)))
    assert ttype.offsets == (0, 8, 11, 12, 28)
    assert (ttype.c_size, ttype.size) == (32, 32)
    data = u64(-2) + b"ab\0" + b"\x01" + b"kworker/0:1\0\0\0\0\0" + struct.pack("<h", -5) + b"\0\0"
    assert len(data) == ttype.size
    value = decode(data, 0, ttype)
    assert value == (-2, "ab", True, "kworker/0:1", -5)
    assert format_value(value, ttype) == "(-2, ab, true, kworker/0:1, -5)"


@pytest.mark.parametrize(
    ("elements", "offsets", "c_size"),
    [
        ((t.Int(8, True), t.Int(16, True), t.INT32), (0, 2, 4), 8),
        ((t.INT32, t.Int(16, True), t.Int(8, True)), (0, 4, 6), 8),
        ((t.Int(8, True), t.INT64, t.Int(8, True), t.INT64), (0, 8, 16, 24), 32),
        ((t.INT32, t.Array(t.INT32, 4)), (0, 4), 20),
        ((t.Int(8, True), t.Tuple((t.Int(8, True), t.Int(16, True)))), (0, 2), 6),
        ((t.Str(3), t.Pointer()), (0, 8), 16),
        ((), (), 0),
    ],
)
def test_tuple_layout_is_c_struct_layout(elements: tuple[t.Type, ...],
                                         offsets: tuple[int, ...], c_size: int) -> None:
    ttype = t.Tuple(elements)
    assert (ttype.offsets, ttype.c_size, ttype.size) == (offsets, c_size, t.align8(c_size))


def test_nested_tuples_at_an_offset() -> None:
    ttype = t.Tuple((t.UINT64, t.Tuple((t.INT32, t.Pointer()))))
    data = b"\xaa" * 8 + u64(5) + u64(-3) + u64(0x10)
    assert decode(data, 8, ttype) == (5, (-3, 0x10))
    assert format_value((5, (-3, 0x10)), ttype) == "(5, (-3, 0x10))"


def test_records() -> None:
    rtype = t.Record(("pid", "name"), (t.UINT32, t.Str(8)))
    assert (rtype.offsets, rtype.c_size) == ((0, 4), 12)
    data = struct.pack("<I", 42) + b"init\0\0\0\0" + b"\0" * 4
    value = decode(data, 0, rtype)
    assert value == (42, "init")
    assert format_value(value, rtype) == "{ .pid = 42, .name = init }"


def test_aggregations_are_not_plain_values() -> None:
    with pytest.raises(AssertionError):
        decode(u64(1), 0, t.Count())


# ---- keys ------------------------------------------------------------------------------

def test_usym_of_a_process_that_is_gone_is_its_address() -> None:
    """A usym() value carries its pid; once the process has exited (before its
    symbols were read) it prints as the address, as bpftrace does."""
    gone = 2**22 + 1  # above the largest pid the kernel gives (pid_max ≤ 2**22)
    value = decode(u64(0x5555DEADBEEF) + u64(gone), 0, t.Usym())
    assert value == stacks.UserSymbol(0x5555DEADBEEF, gone)
    assert format_value(value, t.Usym()) == "0x5555deadbeef"
    assert format_key((value, 1), t.Tuple((t.Usym(), t.INT64))) == "0x5555deadbeef, 1"
    assert sort_key(value) < sort_key(stacks.UserSymbol(0x5555DEADBEF0, gone))


def test_format_key() -> None:
    ttype = t.Tuple((t.INT64, t.Str(8)))
    assert format_key((1, "bash"), ttype) == "1, bash"
    assert format_key("bash", t.Str(8)) == "bash"
    assert format_key(7, t.INT64) == "7"
    assert format_key(True, t.BOOL) == "true"
    nested = t.Tuple((t.Tuple((t.INT64, t.INT64)), t.Str(4)))
    assert format_key(((1, 2), "x"), nested) == "(1, 2), x"


def test_sort_key_orders_numbers_numerically() -> None:
    assert sorted([10, 9, -1, 100], key=sort_key) == [-1, 9, 10, 100]
    assert sorted(["b", "a", "B"], key=sort_key) == ["B", "a", "b"]
    assert sorted([(2, "a"), (10, "a"), (2, "A")], key=sort_key) == [(2, "A"), (2, "a"),
                                                                     (10, "a")]
    assert sorted([True, False], key=sort_key) == [False, True]
    assert sorted(["x", 3], key=sort_key) == [3, "x"]  # numbers before strings


# ---- per-CPU aggregations --------------------------------------------------------------

def pair(value: int, second: int) -> bytes:
    return u64(value) + u64(second)


def test_counts_and_sums_add_up_across_cpus() -> None:
    assert reduce_value(t.Count(), [u64(3), u64(0), u64(4)]) == 7
    assert reduce_value(t.Sum(True), [u64(-10), u64(3)]) == -7
    assert reduce_value(t.Sum(False), [u64(2**63), u64(2**63)]) == 2**64


def test_min_and_max_ignore_cpus_without_a_value() -> None:
    # (value, has a value) per CPU; the CPU with flag 0 must not win with its 0
    cpus = [pair(5, 1), pair(0, 0), pair(-3, 1)]
    assert reduce_value(t.Min(True), cpus) == -3
    assert reduce_value(t.Max(True), cpus) == 5
    assert reduce_value(t.Min(True), [pair(7, 1), pair(0, 0)]) == 7
    assert reduce_value(t.Max(False), [pair(-1, 1), pair(1, 1)]) == 2**64 - 1
    assert reduce_value(t.Max(True), [pair(0, 0), pair(0, 0)]) == 0


@pytest.mark.parametrize("vtype", [t.Avg(True), t.Stats(True)])
def test_averages_keep_count_and_total(vtype: t.Type) -> None:
    result = reduce_value(vtype, [pair(2, 10), pair(1, -17), pair(0, 0)])
    assert result == Stats(3, -7)
    assert result.average == -2  # rounded toward zero, as C does
    assert Stats(0, 0).average == 0


def test_plain_values_come_from_the_one_value() -> None:
    assert reduce_value(t.INT64, [u64(-4)]) == -4
    assert reduce_value(t.Str(8), [b"abc\0\0\0\0\0"]) == "abc"


def test_enum_values_decode_as_integers_and_format_as_names() -> None:
    color = t.Enum(32, True, "enum color", ((-1, "NONE"), (5, "GREEN"), (5, "ALSO_GREEN")))
    assert decode(u64(-1), 0, color) == -1
    assert [format_value(v, color) for v in (-1, 5, 6)] == ["NONE", "GREEN", "6"]
    record = t.Record(("c", "n"), (color, t.INT64))
    assert format_value((5, 5), record) == "{ .c = GREEN, .n = 5 }"


def test_structs_by_value_decode_as_c_lays_them_out() -> None:
    """Members at their offsets and widths; bitfields by their bits, with sign."""
    inner = t.StructValue("struct in", 2, 2, (t.Member("c", t.Int(8, True), 0),
                                               t.Member("ok", t.BOOL, 1)))
    color = t.Enum(32, False, "enum color", ((1, "RED"),))
    outer = t.StructValue("struct out", 1, 16, (
        t.Member("a", t.Int(16, True), 0), t.Member("lo", t.Int(32, False), 2, 0, 3),
        t.Member("hi", t.Int(32, True), 2, 3, 5), t.Member("in", inner, 4),
        t.Member("color", color, 8), t.Member("name", t.Str(4), 12)))
    raw = struct.pack("<hBBbBxxI4s", -2, 0b11110101, 0, -5, 1, 1, b"ab\0\0")
    value = decode(raw, 0, outer)
    assert value == (-2, 5, -2, (-5, True), 1, "ab")
    assert format_value(value, outer) == \
        "{ .a = -2, .lo = 5, .hi = -2, .in = { .c = -5, .ok = true }, .color = RED, .name = ab }"
