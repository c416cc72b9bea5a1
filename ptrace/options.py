"""Options that change what a script compiles to."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Options:
    params: tuple[str, ...] = ()  # positional parameters $1, $2, …
    max_strlen: int = 1024  # bytes kept of a string read with str()
    max_map_keys: int = 4096  # entries of each map
    ringbuf_pages: int = 64  # size of the event ring buffer, in pages (power of two)
    unsafe: bool = False


def param_integer(text: str) -> int | None:
    """A positional parameter's value as an integer, or None if it is not one.

    Decimal (leading zeros allowed: `010` is ten) or hexadecimal (`0x1f`),
    optionally negative. The caller checks the 64-bit range.
    """
    body = text[1:] if text.startswith("-") else text
    if body.isdigit():
        value = int(body, 10)
    elif body[:2].lower() == "0x" and len(body) > 2 and all(
            c in "0123456789abcdefABCDEF" for c in body[2:]):
        value = int(body, 16)
    else:
        return None
    return -value if text.startswith("-") else value


class SettingError(ValueError):
    pass


def from_environment(options: Options, environ: dict[str, str] | None = None) -> Options:
    """Apply PTRACE_<KEY> and BPFTRACE_<KEY> variables; PTRACE_ wins when both are set."""
    env = os.environ if environ is None else environ

    def setting(key: str, default: int) -> int:
        value = default
        for prefix in ("BPFTRACE_", "PTRACE_"):
            name = prefix + key.upper()
            if name in env:
                text = env[name]
                if not text.isdigit() or int(text) <= 0:
                    raise SettingError(f"{name} must be a positive whole number, not {text!r}")
                value = int(text)
        return value

    pages = setting("perf_rb_pages", options.ringbuf_pages)
    return replace(options,
                   max_strlen=setting("max_strlen", options.max_strlen),
                   max_map_keys=setting("max_map_keys", options.max_map_keys),
                   ringbuf_pages=1 << (pages - 1).bit_length())  # a power of two
