"""Values of integer and string literals as written in scripts."""

from __future__ import annotations

import re

# Duration suffixes give nanoseconds.
_DURATIONS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
              "h": 3600 * 10**9, "d": 86400 * 10**9}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'",
            "a": "\a", "b": "\b", "f": "\f", "v": "\v", "e": "\x1b"}


class LiteralError(ValueError):
    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.offset = offset


def parse_integer(text: str) -> int:
    """`0x1f`, `0b101`, `017`, `1_000`, `1e6`, `10ms`, `5UL` → an int."""
    try:
        return _parse_integer(text)
    except ValueError as error:
        if isinstance(error, LiteralError):
            raise
        raise LiteralError(f"invalid number '{text}'") from error


def _parse_integer(text: str) -> int:
    body = text.replace("_", "")
    lower = body.lower()
    if lower.startswith("0x"):
        digits = lower.rstrip("ul")
        return int(digits, 16)
    for suffix in sorted(_DURATIONS, key=len, reverse=True):
        if lower.endswith(suffix) and lower[: -len(suffix)].isdigit():
            return int(lower[: -len(suffix)]) * _DURATIONS[suffix]
    digits = lower.rstrip("ul")
    if digits.startswith("0b"):
        return int(digits[2:], 2)
    if "e" in digits:
        mantissa, exponent = digits.split("e")
        scaled: int = int(mantissa) * 10 ** int(exponent)
        return scaled
    if len(digits) > 1 and digits.startswith("0"):
        if any(c in "89" for c in digits):
            raise LiteralError(f"invalid octal literal '{text}'")
        return int(digits, 8)
    return int(digits)


_BACKSLASH = re.compile(r"\\(.?)", re.DOTALL)


def unescape(body: str) -> str:
    """Process C escapes in a string literal's body (without the quotes).

    The result has one character per byte (latin-1): characters written in the
    script become their UTF-8 bytes, escapes such as \\xNN give the byte itself.
    The text between escapes is converted a run at a time (a literal may be
    megabytes long).
    """
    out: list[str] = []
    done = 0  # the end of what `out` holds
    for escape in _BACKSLASH.finditer(body):
        i = escape.start()
        out.append(body[done:i].encode("utf-8").decode("latin-1"))
        nxt = escape.group(1)
        if not nxt:
            raise LiteralError("a string cannot end with a lone backslash", i)
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            done = i + 2
        elif nxt == "x":
            digits = _take(body, i + 2, "0123456789abcdefABCDEF", 2)
            if not digits:
                raise LiteralError("\\x needs hexadecimal digits", i)
            out.append(chr(int(digits, 16)))
            done = i + 2 + len(digits)
        elif nxt in "01234567":
            digits = _take(body, i + 1, "01234567", 3)
            out.append(chr(int(digits, 8) & 0xFF))
            done = i + 1 + len(digits)
        else:
            raise LiteralError(f"unknown escape sequence '\\{nxt}'", i)
    out.append(body[done:].encode("utf-8").decode("latin-1"))
    return "".join(out)


def _take(text: str, start: int, allowed: str, most: int) -> str:
    end = start
    while end < len(text) and end - start < most and text[end] in allowed:
        end += 1
    return text[start:end]
