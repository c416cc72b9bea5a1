"""Run-time printf formatting with glibc semantics.

``render`` turns the segments produced by ``ptrace.printf_format.parse_format``
and one decoded value per conversion into the output text. Each Conversion is
compiled once into a small closure (cached), so per-event work is just calling
those closures.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

from ptrace.printf_format import Conversion

# Values are typed Any: the compiler guarantees each conversion gets the kind
# of value it takes (Conversion.takes), so the closures do not re-check.
_Formatter = Callable[[Any], str]

_MASK64 = (1 << 64) - 1
# Argument width in bits for integer conversions, by length modifier.
_BITS = {"hh": 8, "h": 16, "": 32, "l": 64, "ll": 64, "j": 64, "z": 64, "t": 64}
_DIGIT_SPEC = {"d": "d", "i": "d", "u": "d", "o": "o", "x": "x", "X": "X", "p": "x"}

# %r: printable ASCII as is, anything else as \xNN.
_ESCAPED = tuple(chr(b) if 0x20 <= b <= 0x7E else f"\\x{b:02x}" for b in range(256))
_HEX_ESCAPED = tuple(f"\\x{b:02x}" for b in range(256))

_formatters: dict[Conversion, _Formatter] = {}


def render(segments: Sequence[str | Conversion], args: Sequence[int | str | bytes]) -> str:
    """Format ``segments`` with ``args``, one value per Conversion, in order."""
    out = []
    arg_index = 0
    for segment in segments:
        if isinstance(segment, str):
            out.append(segment)
            continue
        formatter = _formatters.get(segment)
        if formatter is None:
            formatter = _formatters[segment] = _compile(segment)
        out.append(formatter(args[arg_index]))
        arg_index += 1
    return "".join(out)


def _compile(c: Conversion) -> _Formatter:
    """Build the closure that formats one value for ``c``."""
    if c.conv == "s":
        return _string(c)
    if c.conv == "r":
        return _buffer(c)
    if c.conv == "c":
        # glibc ignores precision for %c; the low byte is taken as latin-1.
        spec = _text_spec(c, None)
        return lambda value: format(chr(value & 0xFF), spec)
    if c.conv == "p":
        return _pointer(c)
    if c.conv == "gr":
        from ptrace.runtime.gfp import gfp_text  # reads tracefs: only for scripts using %gr

        spec = _text_spec(c, c.precision)
        return lambda value: format(gfp_text(value), spec)
    signed = c.conv in "di"
    prefix = f"0{c.conv}" if c.conv in "xX" and "#" in c.flags else ""
    return _integer(c, _BITS[c.length], signed, _sign_flag(c) if signed else "", prefix)


def _text_spec(c: Conversion, precision: int | None) -> str:
    """Python format spec padding text to c's width and truncating to ``precision``.

    glibc pads strings with spaces even when the '0' flag is given.
    """
    spec = "<" if "-" in c.flags else ">"
    if c.width:
        spec += str(c.width)
    if precision is not None:
        spec += f".{precision}"
    return spec


def _string(c: Conversion) -> _Formatter:
    """%s: ints in decimal, bytes as a C string (up to the first NUL), str as is."""
    spec = _text_spec(c, c.precision)

    def format_string(value: int | str | bytes) -> str:
        if isinstance(value, bytes):
            text = value.split(b"\0", 1)[0].decode("latin-1")
        elif isinstance(value, int):
            text = str(value)
        else:
            text = value
        return format(text, spec)

    return format_string


def _buffer(c: Conversion) -> _Formatter:
    """%r buffers, rendered to text then padded/truncated like %s."""
    spec = _text_spec(c, c.precision)
    if c.buffer_mode == "h":
        return lambda data: format(data.hex(" "), spec)
    table = _HEX_ESCAPED if c.buffer_mode == "x" else _ESCAPED
    return lambda data: format("".join([table[b] for b in data]), spec)


def _pointer(c: Conversion) -> _Formatter:
    """%p as glibc prints it: like %#lx (sign flags included), but NULL is "(nil)".

    "(nil)" is padded like a string and ignores precision and sign flags.
    """
    number = _integer(c, 64, False, _sign_flag(c), "0x")
    nil = format("(nil)", _text_spec(c, None))
    return lambda value: number(value) if value & _MASK64 else nil


def _sign_flag(c: Conversion) -> str:
    """What a non-negative signed value is prefixed with: '+' beats ' '."""
    if "+" in c.flags:
        return "+"
    return " " if " " in c.flags else ""


def _integer(
    c: Conversion, bits: int, signed: bool, plus: str, prefix: str
) -> Callable[[int], str]:
    """Closure formatting the low ``bits`` bits of a value as C does.

    ``plus`` is the sign shown for non-negative values and ``prefix`` the
    "0x"/"0X" of the '#' flag, which C omits for the value 0.
    C rules applied: precision is the minimum number of digits, and precision
    0 prints no digits for 0; '#' with %o makes the first digit a 0 (also
    when precision 0 left no digits); the '0' flag pads with zeros after the
    sign/prefix, and is ignored with '-' or a precision.
    """
    mask = (1 << bits) - 1
    negative_from = 1 << (bits - 1) if signed else mask + 1
    digit_spec = _DIGIT_SPEC[c.conv]
    precision = c.precision
    alt_octal = c.conv == "o" and "#" in c.flags
    width = c.width or 0
    left = "-" in c.flags
    zero_pad = "0" in c.flags and not left and precision is None

    def format_integer(value: int) -> str:
        n = value & mask
        if n >= negative_from:
            n = mask + 1 - n
            head = "-"
        else:
            head = plus + prefix if n else plus
        digits = format(n, digit_spec)
        if precision is not None:
            digits = digits.zfill(precision) if n or precision else ""
        if alt_octal and not digits.startswith("0"):
            digits = "0" + digits
        if zero_pad:
            return head + digits.zfill(width - len(head))
        if left:
            return (head + digits).ljust(width)
        return (head + digits).rjust(width)

    return format_integer


# ---- many records of one site at a time ----

_BATCH_MAX = 1024  # records per struct unpack (a power of two)
_INT_CODES = {8: "b", 16: "h", 32: "i", 64: "q"}


class BatchPrintf:
    """A printf site formatted many records at a time: one struct unpack and one
    `%` operation per run of records, instead of a decode and a closure per value.

    Only sites whose conversions Python's `%` prints exactly as `render` does
    qualify (see `batch_printf`). A record is a ring-buffer record: its 8-byte
    ring-buffer header, then the event; runs of records have a fixed stride.
    """

    def __init__(self, text: str, fields: list[tuple[int, str]]):
        self._text = text  # the format for Python's %
        self._fields = fields  # (offset in the event, struct code), in offset order
        self._chunks: dict[tuple[int, int], tuple[struct.Struct, str]] = {}

    def format(self, data: memoryview, start: int, count: int, stride: int) -> str:
        """The text of `count` records of `stride` bytes from `data[start]`."""
        parts = []
        while count:
            size = 1 << (min(count, _BATCH_MAX).bit_length() - 1)
            layout, text = self._chunk(size, stride)
            parts.append(text % layout.unpack_from(data, start))
            start += size * stride
            count -= size
        return "".join(parts)

    def _chunk(self, size: int, stride: int) -> tuple[struct.Struct, str]:
        chunk = self._chunks.get((size, stride))
        if chunk is None:
            record, at = ["8x"], 0  # the ring buffer's own header
            for offset, code in self._fields:
                record.append(f"{offset - at}x{code}" if offset > at else code)
                at = offset + struct.calcsize(code)
            record.append(f"{stride - 8 - at}x")
            chunk = (struct.Struct("<" + "".join(record) * size), self._text * size)
            self._chunks[(size, stride)] = chunk
        return chunk

    def fits(self, length: int) -> bool:
        """Whether an event of `length` bytes holds every field."""
        return all(offset + 8 <= length for offset, _ in self._fields)


def batch_printf(segments: Sequence[str | Conversion],
                 args: Sequence[tuple[int, bool]]) -> BatchPrintf | None:
    """The batch formatter of a printf whose arguments are all 8-byte integers, given
    as (offset in the event, whether the type is an Int); None where a conversion
    needs `render` (%s, %c, %p, %r, '#', a precision) or an argument is not an Int."""
    text: list[str] = []
    fields: list[tuple[int, str]] = []
    conversions = [s for s in segments if not isinstance(s, str)]
    if len(conversions) != len(args):
        return None
    values = iter(zip(conversions, args, strict=True))
    for segment in segments:
        if isinstance(segment, str):
            text.append(segment.replace("%", "%%"))
            continue
        c, (offset, is_int) = next(values)
        if (not is_int or c.conv not in "diuxXo" or "#" in c.flags
                or c.precision is not None):
            return None
        signed = c.conv in "di"
        # The low bits of the 8-byte value, read as the conversion reads them.
        code = _INT_CODES[_BITS[c.length]]
        fields.append((offset, code if signed else code.upper()))
        flags = "".join(f for f in c.flags if signed or f in "-0")
        text.append(f"%{flags}{c.width or ''}{'d' if c.conv in 'diu' else c.conv}")
    if any(b[0] < a[0] + 8 for a, b in pairwise(fields)):
        return None  # unpacked in offset order, they must come in it
    return BatchPrintf("".join(text), fields)
