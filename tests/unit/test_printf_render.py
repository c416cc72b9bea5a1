"""Tests for run-time printf formatting (ptrace.runtime.printf).

Integer, %c, %p and %s results are checked against the C library's own
snprintf (called through ctypes) as ground truth, plus explicit expected
strings for the rules ptrace relies on.
"""

from __future__ import annotations

import ctypes
import itertools

import pytest
from ptrace.runtime.printf import batch_printf, render

from ptrace.printf_format import Conversion, parse_format

_libc = ctypes.CDLL(None)
_MASK64 = (1 << 64) - 1


def fmt(format_string: str, *args: int | str | bytes) -> str:
    return render(parse_format(format_string), args)


def c_snprintf(format_string: str, arg: object) -> str:
    buf = ctypes.create_string_buffer(1024)
    n = _libc.snprintf(buf, len(buf), format_string.encode("latin-1"), arg)
    assert 0 <= n < len(buf)
    return buf.raw[:n].decode("latin-1")


def signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def c_arg(c: str, length: str, value: int) -> object:
    """The C vararg for ``value``, typed as the conversion expects it."""
    if c == "p":
        return ctypes.c_void_p(value & _MASK64)
    if length in ("", "hh", "h"):  # promoted to int
        return ctypes.c_int(signed(value, 32))
    return ctypes.c_longlong(signed(value, 64))


VALUES = [
    0, 1, 7, 8, 9, 10, 42, 127, 128, 255, 256, 32767, 32768, 65535, 65536,
    2**31 - 1, 2**31, 2**32 - 1, 2**32, 0x12345678ABCDEF, 2**63 - 1, 2**63, 2**64 - 1,
    -1, -2, -128, -129, -32768, -(2**31), -(2**31) - 1, -(2**63),
]  # fmt: skip
FLAGS = ["", "-", "+", " ", "#", "0", "-0", "+0", " 0", "#0", "-#", "+ ", "-+ #0"]
WIDTHS = ["", "1", "6", "24"]
PRECISIONS = ["", ".", ".0", ".1", ".5", ".22"]
SPECS = [
    f"{flags}{width}{precision}"
    for flags, width, precision in itertools.product(FLAGS, WIDTHS, PRECISIONS)
]


@pytest.mark.parametrize(
    ("length", "c"),
    [
        *itertools.product(["", "hh", "h", "l", "ll", "j", "z", "t"], "diuoxX"),
        ("", "c"),
        ("", "p"),
    ],
)
def test_integers_match_libc(length: str, c: str) -> None:
    mismatches = []
    for spec in SPECS:
        if c == "c" and "." in spec:
            continue  # precision with %c is undefined in C
        f = f"[%{spec}{length}{c}]"
        segments = parse_format(f)
        for value in VALUES:
            expected = c_snprintf(f, c_arg(c, length, value))
            got = render(segments, [value])
            if got != expected:
                mismatches.append((f, value, got, expected))
    assert mismatches == []


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("text", [b"", b"a", b"hello", b"hello world, this is long"])
def test_strings_match_libc(spec: str, text: bytes) -> None:
    f = f"[%{spec}s]"
    expected = c_snprintf(f, ctypes.c_char_p(text))
    assert fmt(f, text) == expected
    assert fmt(f, text.decode()) == expected


@pytest.mark.parametrize(
    ("f", "args", "expected"),
    [
        ("%hhx %hx %x %jx", [0x12345678ABCDEF] * 4, "ef cdef 78abcdef 12345678abcdef"),
        ("%hhd %hd %d %ld", [0x12345678ABCDEF] * 4, "-17 -12817 2024525295 5124095577148911"),
        ("%u", [-1], "4294967295"),
        ("%lu", [-1], "18446744073709551615"),
        ("%llu %zu %ju %tu", [-1] * 4, " ".join(["18446744073709551615"] * 4)),
        ("%d", [-1], "-1"),
        ("%d", [2**64 - 1], "-1"),
        ("%ld", [2**64 - 1], "-1"),
        ("%d", [2**31], "-2147483648"),
        ("%hhu %hu", [-1, -1], "255 65535"),
        ("%hhi", [0x80], "-128"),
        ("%o %lo", [-1, -1], "37777777777 1777777777777777777777"),
        ("%X", [0xDEADBEEF], "DEADBEEF"),
        ("%-5d|", [42], "42   |"),
        ("%5d|", [42], "   42|"),
        ("%05d", [42], "00042"),
        ("%05d", [-42], "-0042"),
        ("%+d %+d %+d", [5, 0, -5], "+5 +0 -5"),
        ("% d % d", [5, -5], " 5 -5"),
        ("%+ d", [5], "+5"),
        ("%+u %+x", [5, 5], "5 5"),
        ("%.3d", [7], "007"),
        ("%.3d", [-7], "-007"),
        ("[%.0d] [%.d] [%5.0d]", [0, 0, 0], "[] [] [     ]"),
        ("%.0d", [1], "1"),
        ("%+.0d", [0], "+"),
        ("%#o %#o %#o", [8, 0, 0o10], "010 0 010"),
        ("%#.0o", [0], "0"),
        ("%#.3o %#.3o", [8, 64], "010 0100"),
        ("%#x %#x %#X", [255, 0, 255], "0xff 0 0XFF"),
        ("[%#.0x]", [0], "[]"),
        ("%#010x", [255], "0x000000ff"),
        ("%#10.4x|", [255], "    0x00ff|"),
        ("%05.3d|", [-5], " -005|"),
        ("%-05d|", [5], "5    |"),
        ("%0-5d|", [5], "5    |"),
        ("%c", [65], "A"),
        ("%c", [0x141], "A"),
        ("%c", [-191], "A"),
        ("%c", [0xE9], "\u00e9"),
        ("%c", [0], "\0"),
        ("[%3c] [%-3c] [%03c]", [65, 65, 65], "[  A] [A  ] [  A]"),
        ("%p", [0], "(nil)"),
        ("%p", [0xFFFFFFFF81000000], "0xffffffff81000000"),
        ("%p", [-1], "0xffffffffffffffff"),
        ("%p", [2**64], "(nil)"),
        ("[%10p] [%-10p] [%010p]", [0] * 3, "[     (nil)] [(nil)     ] [     (nil)]"),
        ("[%.8p] [%+p] [% p] [%#p]", [0] * 4, "[(nil)] [(nil)] [(nil)] [(nil)]"),
        ("[%10p] [%-10p] [%010p]", [255] * 3, "[      0xff] [0xff      ] [0x000000ff]"),
        ("[%.8p] [%+p] [% p] [%#p]", [255] * 4, "[0x000000ff] [+0xff] [ 0xff] [0xff]"),
    ],
)  # fmt: skip
def test_integer_rules(f: str, args: list[int], expected: str) -> None:
    assert fmt(f, *args) == expected


@pytest.mark.parametrize(
    ("f", "arg", "expected"),
    [
        ("%s", "bash", "bash"),
        ("%s", "", ""),
        ("%s", 42, "42"),
        ("%s", -5, "-5"),
        ("%s", 2**64 - 1, "18446744073709551615"),
        ("%s", b"bash\0garbage", "bash"),
        ("%s", b"\0x", ""),
        ("%s", b"caf\xe9", "caf\u00e9"),
        ("%s", "a\0b", "a\0b"),
        ("%s", "100%", "100%"),
        ("[%8s]", "bash", "[    bash]"),
        ("[%-8s]", "bash", "[bash    ]"),
        ("[%08s]", "bash", "[    bash]"),
        ("[%.2s]", "bash", "[ba]"),
        ("[%.0s]", "bash", "[]"),
        ("[%6.2s]", b"bash\0x", "[    ba]"),
        ("[%-6.2s]", 12345, "[12    ]"),
        ("[%2s]", "bash", "[bash]"),
    ],
)
def test_strings(f: str, arg: int | str | bytes, expected: str) -> None:
    assert fmt(f, arg) == expected


@pytest.mark.parametrize(
    ("f", "arg", "expected"),
    [
        ("%r", b"", ""),
        ("%r", b"hello", "hello"),
        ("%r", b"a\x01b", "a\\x01b"),
        ("%r", b"\x00\x1f \x7e\x7f\x80\xff", "\\x00\\x1f ~\\x7f\\x80\\xff"),
        ("%r", b"\\", "\\"),
        ("%r", b"\n\t", "\\x0a\\x09"),
        ("%rx", b"", ""),
        ("%rx", b"AB", "\\x41\\x42"),
        ("%rx", b"\x00\xfe", "\\x00\\xfe"),
        ("%rh", b"", ""),
        ("%rh", b"\xde\xad\xbe\xef", "de ad be ef"),
        ("%rh", b"\x01", "01"),
        ("%rh", b"AB", "41 42"),
        ("[%8r]", b"a\x01", "[   a\\x01]"),
        ("[%-8rh]", b"\x01\x02", "[01 02   ]"),
        ("[%.5rx]", b"AB", "[\\x41\\]"),
    ],
)
def test_buffers(f: str, arg: bytes, expected: str) -> None:
    assert fmt(f, arg) == expected


def test_every_byte_in_buffer_modes() -> None:
    data = bytes(range(256))
    plain = fmt("%r", data)
    assert plain == "".join(
        chr(b) if 32 <= b < 127 else "\\x" + format(b, "02x") for b in range(256)
    )
    assert fmt("%rx", data) == "".join("\\x" + format(b, "02x") for b in range(256))
    assert fmt("%rh", data) == " ".join(format(b, "02x") for b in range(256))


def test_mixed_arguments_in_order() -> None:
    f = "pid %d comm %s ret %ld at %p: %rh 100%%\n"
    args: list[int | str | bytes] = [1234, "bash", -1, 0xFFFF800000001000, b"\x00\xff"]
    expected = "pid 1234 comm bash ret -1 at 0xffff800000001000: 00 ff 100%\n"
    assert fmt(f, *args) == expected


def test_literal_only() -> None:
    assert render(parse_format("no args 50%%\n"), []) == "no args 50%\n"
    assert render((), []) == ""


def test_accepts_any_sequences() -> None:
    segments = list(parse_format("%d-%s"))
    assert render(segments, (1, "a")) == "1-a"


def test_repeated_and_equal_conversions() -> None:
    segments = parse_format("%x %x")
    for value in (1, 255, 16):
        assert render(segments, [value, value + 1]) == f"{value:x} {value + 1:x}"
    # An equal Conversion from another parse formats the same way.
    other = Conversion("", None, None, "", "x", "", 0, 2)
    assert render((other,), [255]) == "ff"


# ---- many records of one site at a time (BatchPrintf) ----

_BATCHED = ["%d", "%i", "%u", "%x", "%X", "%o", "%ld", "%lu", "%lx", "%hhd", "%hu", "%5d",
            "%-5d|", "%05d", "%+d", "% d", "%+u", "%-08x|", "%lld", "%zu"]
_BATCH_VALUES = [0, 1, -1, 255, -256, 65535, 1 << 31, -(1 << 31), (1 << 32) + 5,
                 (1 << 63) - 1, -(1 << 63), 123456789012]


def records(layout: list[int], rows: list[list[int]], stride: int) -> bytes:
    """Ring-buffer records of `stride` bytes: an 8-byte ring-buffer header, the
    event's 8-byte header, then each value as 8 bytes at its offset."""
    out = bytearray()
    for row in rows:
        record = bytearray(stride)
        for offset, value in zip(layout, row, strict=True):
            record[8 + offset:16 + offset] = (value & _MASK64).to_bytes(8, "little")
        out += record
    return bytes(out)


@pytest.mark.parametrize("conversion", _BATCHED)
def test_a_batched_site_prints_what_render_prints(conversion: str) -> None:
    segments = parse_format(f"a%%{conversion} b {conversion}\n")
    batch = batch_printf(segments, [(8, True), (16, True)])
    assert batch is not None
    rows = [[v, -v] for v in _BATCH_VALUES] * 100  # runs of several chunk sizes
    data = memoryview(records([8, 16], rows, 32))
    for count in (1, 3, len(rows)):
        expected = "".join(render(segments, row) for row in rows[:count])
        assert batch.format(data, 0, count, 32) == expected


@pytest.mark.parametrize("format_string", ["%s", "%c", "%p", "%#x", "%#o", "%.3d", "%rx"])
def test_conversions_python_prints_differently_are_not_batched(format_string: str) -> None:
    assert batch_printf(parse_format(format_string), [(8, True)]) is None


def test_a_site_with_a_non_integer_argument_is_not_batched() -> None:
    assert batch_printf(parse_format("%d %d"), [(8, True), (16, False)]) is None
