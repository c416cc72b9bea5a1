"""The abstract syntax tree, its visitor and its printer."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

# The deepest parse tree accepted (a nested block is 4 levels, an operator 1).
# Every later pass walks the tree recursively, so a deeper tree is refused here,
# at the place, and the parser and the compiler raise Python's recursion limit
# to RECURSION_LIMIT. The hungriest pass measured needs about 7 frames a level
# (nested str() calls, in a deep copy of the tree): the limit leaves twice that.
MAX_DEPTH = 1000
RECURSION_LIMIT = 16 * MAX_DEPTH


@contextmanager
def recursion_room() -> Iterator[None]:
    """Python's recursion limit raised to RECURSION_LIMIT while in the block."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)
