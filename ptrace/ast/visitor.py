"""Walking trees: a node's children, and every node under it.

Passes that do something different per node class dispatch themselves:
statements with isinstance chains (mypy narrows each branch), the lowering's
expressions by method name (`expr_<NodeClass>`, keeping the span of the one
being lowered), rewrites through `Rewriter`; the dumps are generic over fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from ptrace.ast.nodes import Node


def children(node: Node) -> Iterator[Node]:
    """The direct child nodes of `node`, in field order."""
    for f in dataclasses.fields(node):
        if f.name == "span":
            continue
        value = getattr(node, f.name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, tuple):
            yield from (v for v in value if isinstance(v, Node))


def walk(node: Node) -> Iterator[Node]:
    """`node` and all its descendants, parents before children."""
    yield node
    for child in children(node):
        yield from walk(child)

