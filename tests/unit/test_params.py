"""Positional parameters: how their text becomes a value."""

from __future__ import annotations

import pytest

from ptrace.compile import compile
from ptrace.diagnostics import CompileError, Source, render_all
from ptrace.machine import FixtureMachine
from ptrace.options import Options, param_integer


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("42", 42), ("010", 10), ("-5", -5), ("0x1f", 31), ("0X1F", 31),
    ("-0x10", -16), ("18446744073709551615", 2**64 - 1),
    ("", None), ("abc", None), ("1.5", None), ("0x", None), ("12ab", None), ("-", None),
])
def test_param_integer(text: str, value: int | None) -> None:
    assert param_integer(text) == value


def test_a_number_too_large_for_64_bits_is_a_located_error() -> None:
    with pytest.raises(CompileError) as caught:
        compile(Source("-e", "BEGIN { @x = $1; }"), Options(params=("99999999999999999999",)),
                machine=FixtureMachine({}))
    assert render_all(caught.value.diagnostics).startswith(
        "-e:1:14: error: $1 is 99999999999999999999, which does not fit in 64 bits")


def test_str_of_a_numeric_parameter_is_its_text() -> None:
    program = compile(Source("-e", 'BEGIN { printf("%s\\n", str($1)); }'),
                      Options(params=("010",)), machine=FixtureMachine({}))
    (fmt,) = program.printf_formats
    assert str(fmt.args[0].type) == "string[4]"
