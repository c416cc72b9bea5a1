"""Compile-time parsing of printf format strings.

A format string is split into literal text and :class:`Conversion` specs.
The accepted syntax is the integer/string subset of C's printf plus
bpftrace's ``%r`` buffer and ``%gr`` GFP flags conversions::

    %[flags][width][.precision][length]conv

Runtime formatting lives in ``ptrace.runtime.printf``.
"""

from __future__ import annotations

from dataclasses import dataclass

_FLAGS = "-+ #0"
_DIGITS = "0123456789"
# Longest first, so "hh" wins over "h" and "ll" over "l".
_LENGTHS = ("hh", "h", "ll", "l", "j", "z", "t")
_TAKES = {
    **dict.fromkeys("diuoxXcp", "int"),
    "gr": "int",  # bpftrace's GFP flags, named as the kernel's %pGg names them
    "s": "any",
    "r": "buffer",
}
_FLOAT_CONVS = "fFeEgGaA"
_NO_LENGTH_CONVS = ("s", "c", "p", "r", "gr")
_BUFFER_MODES = "xh"


@dataclass(frozen=True, slots=True)
class Conversion:
    """One ``%...`` conversion spec and where it sits in the format string."""

    flags: str  # subset of "-+ #0" in the order written
    width: int | None
    precision: int | None
    length: str  # "", "hh", "h", "l", "ll", "j", "z", "t"
    conv: str  # one of d i u o x X c s p, "r" for buffers, "gr" for GFP flags
    buffer_mode: str  # only for conv "r": "" (%r), "x" (%rx), "h" (%rh); else ""
    start: int  # offset of the '%' in the format string
    end: int  # offset just past the conversion

    @property
    def takes(self) -> str:
        """Kind of argument consumed: "int", "any" (for %s) or "buffer" (for %r)."""
        return _TAKES[self.conv]


class FormatError(Exception):
    """An invalid format string; ``start``/``end`` delimit the offending text."""

    def __init__(self, message: str, start: int, end: int):
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end


def parse_format(fmt: str) -> tuple[str | Conversion, ...]:
    """Split ``fmt`` into literal text and Conversions, in order.

    ``%%`` becomes a literal ``%`` and adjacent literal text is merged, so
    literals and conversions alternate and no literal is empty.
    Raises FormatError for anything the runtime cannot format.
    """
    segments: list[str | Conversion] = []
    text: list[str] = []
    pos = 0
    while (pct := fmt.find("%", pos)) >= 0:
        text.append(fmt[pos:pct])
        if fmt.startswith("%", pct + 1):
            text.append("%")
            pos = pct + 2
            continue
        conversion = _parse_conversion(fmt, pct)
        if literal := "".join(text):
            segments.append(literal)
        text.clear()
        segments.append(conversion)
        pos = conversion.end
    text.append(fmt[pos:])
    if literal := "".join(text):
        segments.append(literal)
    return tuple(segments)


def _parse_conversion(fmt: str, start: int) -> Conversion:
    """Parse the conversion whose '%' is at ``fmt[start]``."""
    i = start + 1
    flags = ""
    while i < len(fmt) and fmt[i] in _FLAGS:
        if fmt[i] not in flags:
            flags += fmt[i]
        i += 1
    width, i = _parse_number(fmt, i, start)
    precision = None
    if fmt.startswith(".", i):
        # C: a '.' without digits means precision 0.
        digits, i = _parse_number(fmt, i + 1, start)
        precision = digits or 0
    length = next((m for m in _LENGTHS if fmt.startswith(m, i)), "")
    i += len(length)
    if i >= len(fmt):
        raise FormatError("incomplete printf conversion at end of format", start, len(fmt))
    conv = "gr" if fmt.startswith("gr", i) else fmt[i]
    i += len(conv)
    if conv in _FLOAT_CONVS:
        raise FormatError("floating-point conversions are not supported", start, i)
    if conv == "n":
        raise FormatError("the %n conversion is not supported", start, i)
    if conv not in _TAKES:
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in fmt[start:i])
        raise FormatError(f"unknown printf conversion '{shown}'", start, i)
    buffer_mode = ""
    if conv == "r" and i < len(fmt) and fmt[i] in _BUFFER_MODES:
        buffer_mode = fmt[i]
        i += 1
    if length and conv in _NO_LENGTH_CONVS:
        raise FormatError(f"length modifier '{length}' cannot be used with %{conv}", start, i)
    return Conversion(flags, width, precision, length, conv, buffer_mode, start, i)


def _parse_number(fmt: str, i: int, start: int) -> tuple[int | None, int]:
    """Read an ASCII decimal number at ``fmt[i]``; None if there is none.

    Returns the number and the offset after it. Only ASCII digits count
    (str.isdigit would also accept e.g. superscripts).
    """
    j = i
    while j < len(fmt) and fmt[j] in _DIGITS:
        j += 1
    if fmt.startswith("*", j):
        raise FormatError("'*' width and precision are not supported", start, j + 1)
    return (int(fmt[i:j]) if j > i else None), j
