"""GFP flags (a kernel allocation's gfp_t) as the kernel names them, for
printf's %gr: the names and masks this kernel's kmem tracepoints print their
gfp_flags with (`__print_flags(REC->gfp_flags, "|", {mask, "NAME"}, …)` in the
tracepoint's format), read once from tracefs."""

from __future__ import annotations

import functools
import re

from ptrace.machine import TRACEFS_ROOTS

# Tracepoints whose format names the flags.
EVENTS = ("kmem/kmalloc", "kmem/mm_page_alloc")
_ENTRY = re.compile(r'\{\s*\(\s*unsigned long\s*\)\s*([^{}"]*?)\s*,\s*"(\w+)"\s*\}')
_CAST = re.compile(r"\(\s*(?:unsigned long|gfp_t)\s*\)")
_SUFFIX = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b")
_TOKEN = re.compile(r"\s*(0[xX][0-9a-fA-F]+|\d+|<<|>>|[()|&~])")


def gfp_text(flags: int) -> str:
    """`GFP_KERNEL|__GFP_ZERO`: each name whose mask the flags hold, in the
    kernel's order, then what is left in hex; "none" for 0, as the kernel's
    tracepoints print it; the hex value where this kernel does not tell."""
    flags &= 0xFFFFFFFFFFFFFFFF
    if flags == 0:
        return "none"
    names = _gfp_names()
    if not names:
        return f"0x{flags:x}"
    parts = []
    for mask, name in names:
        if mask and flags & mask == mask:
            parts.append(name)
            flags &= ~mask
    if flags:
        parts.append(f"0x{flags:x}")
    return "|".join(parts)


@functools.cache
def _gfp_names() -> tuple[tuple[int, str], ...]:
    for root in TRACEFS_ROOTS:
        for event in EVENTS:
            try:
                text = (root / "events" / event / "format").read_text()
            except OSError:
                continue
            names = tuple((mask, name) for expression, name in _ENTRY.findall(text)
                          if (mask := _evaluate(expression)) is not None)
            if names:
                return names
    return ()


def _evaluate(expression: str) -> int | None:
    """The value of a mask as the format writes it: numbers, casts, ( ) << >> |
    & ~; None for anything else."""
    text = _SUFFIX.sub(r"\1", _CAST.sub("", expression))
    tokens: list[str] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            if text[at:].strip():
                return None
            break
        tokens.append(match[1])
        at = match.end()
    try:
        value, rest = _or(tokens)
    except (IndexError, ValueError):
        return None
    return value & 0xFFFFFFFFFFFFFFFF if not rest else None


# Precedence climbing over C's operators, tightest last: | & (<< >>) unary.
def _or(tokens: list[str]) -> tuple[int, list[str]]:
    value, tokens = _and(tokens)
    while tokens and tokens[0] == "|":
        right, tokens = _and(tokens[1:])
        value |= right
    return value, tokens


def _and(tokens: list[str]) -> tuple[int, list[str]]:
    value, tokens = _shift(tokens)
    while tokens and tokens[0] == "&":
        right, tokens = _shift(tokens[1:])
        value &= right
    return value, tokens


def _shift(tokens: list[str]) -> tuple[int, list[str]]:
    value, tokens = _unary(tokens)
    while tokens and tokens[0] in ("<<", ">>"):
        op = tokens[0]
        right, tokens = _unary(tokens[1:])
        value = value << right if op == "<<" else value >> right
    return value, tokens


def _unary(tokens: list[str]) -> tuple[int, list[str]]:
    token = tokens[0]
    if token == "~":
        value, rest = _unary(tokens[1:])
        return ~value, rest
    if token == "(":
        value, rest = _or(tokens[1:])
        if rest[0] != ")":
            raise ValueError("unbalanced")
        return value, rest[1:]
    return int(token, 0), tokens[1:]
