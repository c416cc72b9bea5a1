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


# Settings read from PTRACE_<KEY> (or bpftrace's BPFTRACE_<KEY>): key → Options field.
ENV_SETTINGS = {"max_strlen": "max_strlen", "max_map_keys": "max_map_keys",
                "perf_rb_pages": "ringbuf_pages"}


class SettingError(ValueError):
    pass


def from_environment(options: Options, environ: dict[str, str] | None = None) -> Options:
    """Apply PTRACE_<KEY> and BPFTRACE_<KEY> variables; PTRACE_ wins when both are set."""
    env = os.environ if environ is None else environ
    changes: dict[str, int] = {}
    for key, field_name in ENV_SETTINGS.items():
        for prefix in ("BPFTRACE_", "PTRACE_"):
            name = prefix + key.upper()
            if name in env:
                text = env[name]
                if not text.isdigit() or int(text) <= 0:
                    raise SettingError(f"{name} must be a positive whole number, not {text!r}")
                changes[field_name] = int(text)
    if "ringbuf_pages" in changes:
        # The ring buffer is a power of two pages.
        changes["ringbuf_pages"] = 1 << (changes["ringbuf_pages"] - 1).bit_length()
    return replace(options, **changes)
