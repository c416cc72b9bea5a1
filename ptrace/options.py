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
