"""Tests for literal values (ptrace.parse.literals): parse_integer and unescape."""

from __future__ import annotations

import pytest

from ptrace.parse.literals import LiteralError, parse_integer, unescape


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("7", 7),
        ("1234567890", 1234567890),
        ("1_000", 1000),
        ("1_2_3", 123),
        # hexadecimal, with separators and suffixes
        ("0x1f", 31),
        ("0X1F", 31),
        ("0xdead_beef", 0xDEADBEEF),
        ("0x1d", 29),  # 'd' is a digit here, not the days suffix
        ("0xffffffffffffffff", 2**64 - 1),
        ("0x10u", 16),
        ("0x10UL", 16),
        ("0x10ull", 16),
        # binary
        ("0b0", 0),
        ("0b101", 5),
        ("0B1_0_1", 5),
        ("0b11UL", 3),
        # octal: a leading zero
        ("017", 15),
        ("00", 0),
        ("0777", 511),
        ("0_17", 15),
        # exponents
        ("1e6", 1_000_000),
        ("2E3", 2000),
        ("1e0", 1),
        ("1_5e2", 1500),
        # durations, in nanoseconds
        ("5ns", 5),
        ("5us", 5_000),
        ("5ms", 5_000_000),
        ("5s", 5_000_000_000),
        ("5m", 300_000_000_000),
        ("5h", 18_000_000_000_000),
        ("5d", 432_000_000_000_000),
        ("1_000ms", 1_000_000_000),
        # C integer suffixes
        ("5u", 5),
        ("5U", 5),
        ("5l", 5),
        ("5UL", 5),
        ("5ul", 5),
        ("5LL", 5),
        ("5ULL", 5),
        ("5llu", 5),
    ],
)
def test_parse_integer(text: str, value: int) -> None:
    assert parse_integer(text) == value


@pytest.mark.parametrize("text", ["08", "09", "0128", "0_9"])
def test_octal_with_digits_8_or_9_is_an_error(text: str) -> None:
    with pytest.raises(LiteralError, match="invalid octal literal"):
        parse_integer(text)


def test_literal_error_is_a_value_error_with_an_offset() -> None:
    error = LiteralError("message", 3)
    assert isinstance(error, ValueError)
    assert (str(error), error.offset) == ("message", 3)
    assert LiteralError("message").offset == 0


@pytest.mark.parametrize(
    ("body", "value"),
    [
        ("", ""),
        ("plain text", "plain text"),
        (r"\n", "\n"),
        (r"\t", "\t"),
        (r"\r", "\r"),
        (r"\\", "\\"),
        (r"\"", '"'),
        (r"\'", "'"),
        (r"\a\b\f\v", "\a\b\f\v"),
        (r"\e", "\x1b"),
        (r"a\nb\tc", "a\nb\tc"),
        # hexadecimal escapes take at most two digits
        (r"\x41", "A"),
        (r"\x4a", "J"),
        (r"\xA", "\n"),
        (r"\x4142", "A42"),
        (r"\xff", "\xff"),
        # octal escapes take at most three digits and keep the low byte
        (r"\0", "\0"),
        (r"\101", "A"),
        (r"\1011", "A1"),
        (r"\7", "\a"),
        (r"\777", "\xff"),
        (r"a\0b", "a\0b"),
        # an escaped backslash does not start another escape
        (r"\\n", "\\n"),
    ],
)
def test_unescape(body: str, value: str) -> None:
    assert unescape(body) == value


@pytest.mark.parametrize(
    ("body", "message", "offset"),
    [
        (r"\q", "unknown escape sequence '\\q'", 0),
        (r"ab\z", "unknown escape sequence '\\z'", 2),
        (r"\8", "unknown escape sequence '\\8'", 0),
        (r"\x", "\\x needs hexadecimal digits", 0),
        (r"abc\xg", "\\x needs hexadecimal digits", 3),
    ],
)
def test_unescape_errors(body: str, message: str, offset: int) -> None:
    with pytest.raises(LiteralError) as caught:
        unescape(body)
    assert str(caught.value) == message
    assert caught.value.offset == offset
