"""Tests for compile-time printf format parsing (ptrace.printf_format)."""

from __future__ import annotations

import pytest

from ptrace.printf_format import Conversion, FormatError, parse_format


def conv(
    conv: str,
    start: int,
    end: int,
    *,
    flags: str = "",
    width: int | None = None,
    precision: int | None = None,
    length: str = "",
    buffer_mode: str = "",
) -> Conversion:
    return Conversion(flags, width, precision, length, conv, buffer_mode, start, end)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("", ()),
        ("hello\n", ("hello\n",)),
        ("%%", ("%",)),
        ("100%%\n", ("100%\n",)),
        ("a%%b%%%%c", ("a%b%%c",)),
        ("%d", (conv("d", 0, 2),)),
        ("pid=%d\n", ("pid=", conv("d", 4, 6), "\n")),
        ("%d%u", (conv("d", 0, 2), conv("u", 2, 4))),
        ("%d%%%x", (conv("d", 0, 2), "%", conv("x", 4, 6))),
        ("%%%d%%", ("%", conv("d", 2, 4), "%")),
        ("a %s b %c", ("a ", conv("s", 2, 4), " b ", conv("c", 7, 9))),
    ],
)
def test_segments(fmt: str, expected: tuple[str | Conversion, ...]) -> None:
    assert parse_format(fmt) == expected


@pytest.mark.parametrize("c", "diuoxXcsp")
def test_every_conversion_character(c: str) -> None:
    assert parse_format(f"%{c}") == (conv(c, 0, 2),)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("%-5d", conv("d", 0, 4, flags="-", width=5)),
        ("%05d", conv("d", 0, 4, flags="0", width=5)),
        ("%+d", conv("d", 0, 3, flags="+")),
        ("% d", conv("d", 0, 3, flags=" ")),
        ("%#o", conv("o", 0, 3, flags="#")),
        ("%0-+ #12d", conv("d", 0, 9, flags="0-+ #", width=12)),
        ("% +d", conv("d", 0, 4, flags=" +")),
        # Repeated flags are legal in C and mean the same as one.
        ("%--0-5d", conv("d", 0, 7, flags="-0", width=5)),
        ("%10x", conv("x", 0, 4, width=10)),
        ("%123456X", conv("X", 0, 8, width=123456)),
        ("%.3d", conv("d", 0, 4, precision=3)),
        ("%.0d", conv("d", 0, 4, precision=0)),
        # A '.' without digits is precision 0.
        ("%.d", conv("d", 0, 3, precision=0)),
        ("%5.s", conv("s", 0, 4, width=5, precision=0)),
        ("%007.03u", conv("u", 0, 8, flags="0", width=7, precision=3)),
        ("%-#20.10lx", conv("x", 0, 10, flags="-#", width=20, precision=10, length="l")),
    ],
)
def test_flags_width_precision(fmt: str, expected: Conversion) -> None:
    assert parse_format(fmt) == (expected,)


@pytest.mark.parametrize("length", ["hh", "h", "l", "ll", "j", "z", "t"])
@pytest.mark.parametrize("c", "diuoxX")
def test_length_modifiers(length: str, c: str) -> None:
    fmt = f"%{length}{c}"
    assert parse_format(fmt) == (conv(c, 0, len(fmt), length=length),)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("%r", ("", 2)),
        ("%rx", ("x", 3)),
        ("%rh", ("h", 3)),
        ("%-20rh", ("h", 6)),
    ],
)
def test_buffer_modes(fmt: str, expected: tuple[str, int]) -> None:
    (c,) = parse_format(fmt)
    assert isinstance(c, Conversion)
    assert (c.conv, c.buffer_mode, c.end) == ("r", *expected)


def test_buffer_mode_letter_is_taken_greedily() -> None:
    assert parse_format("%rhello %r!") == (
        conv("r", 0, 3, buffer_mode="h"),
        "ello ",
        conv("r", 8, 10),
        "!",
    )


@pytest.mark.parametrize(
    ("fmt", "takes"),
    [
        *((f"%{c}", "int") for c in "diuoxXcp"),
        ("%lu", "int"),
        ("%s", "any"),
        ("%r", "buffer"),
        ("%rx", "buffer"),
        ("%rh", "buffer"),
    ],
)
def test_takes(fmt: str, takes: str) -> None:
    (c,) = parse_format(fmt)
    assert isinstance(c, Conversion)
    assert c.takes == takes


def test_offsets_point_into_the_format() -> None:
    fmt = "x=%-08.3lld y=%%%rx z=%s\n"
    convs = [s for s in parse_format(fmt) if isinstance(s, Conversion)]
    assert [fmt[c.start : c.end] for c in convs] == ["%-08.3lld", "%rx", "%s"]


def test_conversion_is_frozen_and_hashable() -> None:
    a = conv("d", 0, 2)
    assert hash(a) == hash(conv("d", 0, 2))
    with pytest.raises(AttributeError):
        a.conv = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fmt", "message", "start", "end"),
    [
        ("%q", "unknown printf conversion '%q'", 0, 2),
        ("ab %-5q", "unknown printf conversion '%-5q'", 3, 7),
        ("%ld %y", "unknown printf conversion '%y'", 4, 6),
        ("%Ld", "unknown printf conversion '%L'", 0, 2),
        ("%hhh", "unknown printf conversion '%hhh'", 0, 4),
        ("%5%", "unknown printf conversion '%5%'", 0, 3),
        # Unprintable characters are escaped, so the message stays on one line.
        ("%\n", "unknown printf conversion '%\\n'", 0, 2),
        # Only ASCII digits form a width.
        ("%\u00b2d", "unknown printf conversion '%\u00b2'", 0, 2),
        ("%f", "floating-point conversions are not supported", 0, 2),
        ("v=%8.3f\n", "floating-point conversions are not supported", 2, 7),
        ("%lF", "floating-point conversions are not supported", 0, 3),
        *((f"%{c}", "floating-point conversions are not supported", 0, 2) for c in "eEgGaA"),
        ("%n", "the %n conversion is not supported", 0, 2),
        ("a%hhn", "the %n conversion is not supported", 1, 5),
        ("%", "incomplete printf conversion at end of format", 0, 1),
        ("abc %", "incomplete printf conversion at end of format", 4, 5),
        ("%d %-08.3l", "incomplete printf conversion at end of format", 3, 10),
        ("%%%", "incomplete printf conversion at end of format", 2, 3),
        ("%ls", "length modifier 'l' cannot be used with %s", 0, 3),
        ("%hc", "length modifier 'h' cannot be used with %c", 0, 3),
        ("%-10llp", "length modifier 'll' cannot be used with %p", 0, 7),
        ("%jr", "length modifier 'j' cannot be used with %r", 0, 3),
        ("%zrx", "length modifier 'z' cannot be used with %r", 0, 4),
        ("%*d", "'*' width and precision are not supported", 0, 2),
        ("x %-*d", "'*' width and precision are not supported", 2, 5),
        ("%.*s", "'*' width and precision are not supported", 0, 3),
        ("%5.*d", "'*' width and precision are not supported", 0, 4),
    ],
)
def test_errors(fmt: str, message: str, start: int, end: int) -> None:
    with pytest.raises(FormatError) as info:
        parse_format(fmt)
    err = info.value
    assert (err.message, str(err), err.start, err.end) == (message, message, start, end)


def test_first_error_is_reported() -> None:
    with pytest.raises(FormatError) as info:
        parse_format("%d %q %f")
    assert (info.value.start, info.value.end) == (3, 5)
