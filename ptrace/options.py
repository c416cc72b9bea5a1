"""Options that change what a script compiles to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Options:
    params: tuple[str, ...] = ()  # positional parameters $1, $2, …
    max_strlen: int = 1024  # bytes kept of a string read with str()
    max_map_keys: int = 4096  # entries of each map
    ringbuf_pages: int = 64  # size of the event ring buffer, in pages (power of two)
    unsafe: bool = False
