"""globmatch()'s patterns: `*` (any run of bytes), `?` (one byte), `[abc]`,
`[a-z]` and `[!…]` (one byte of a set, or of its complement); any other byte
stands for itself, and a `[` with no closing `]` too. The pattern covers the
whole string."""

from __future__ import annotations

STAR = None  # the token of `*`
ALL = frozenset(range(1, 256))  # what `?` matches: any byte but the NUL


def glob_tokens(pattern: bytes) -> list[frozenset[int] | None]:
    """The pattern as a list of tokens: STAR, or the set of bytes one byte
    may be."""
    tokens: list[frozenset[int] | None] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == ord("*"):
            tokens.append(STAR)
        elif c == ord("?"):
            tokens.append(ALL)
        elif c == ord("[") and (end := _class_end(pattern, i)) is not None:
            tokens.append(_class(pattern[i + 1:end]))
            i = end
        else:
            tokens.append(frozenset((c,)))
        i += 1
    return tokens


def _class_end(pattern: bytes, start: int) -> int | None:
    """The index of the `]` closing the class opened at `start`: a `]` right
    after `[` or `[!` belongs to the class."""
    i = start + 1
    if i < len(pattern) and pattern[i] == ord("!"):
        i += 1
    if i < len(pattern) and pattern[i] == ord("]"):
        i += 1
    end = pattern.find(b"]", i)
    return None if end < 0 else end


def _class(body: bytes) -> frozenset[int]:
    negated = body[:1] == b"!"
    if negated:
        body = body[1:]
    members: set[int] = set()
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == ord("-"):
            members.update(range(body[i], body[i + 2] + 1))
            i += 3
        else:
            members.add(body[i])
            i += 1
    return ALL - members if negated else frozenset(members) & ALL


def byte_ranges(members: frozenset[int]) -> list[tuple[int, int]]:
    """A set of bytes as its runs, (first, last)."""
    ranges: list[tuple[int, int]] = []
    for c in sorted(members):
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    return ranges
