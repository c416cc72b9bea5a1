"""A small visitor: `visit_<NodeClass>` methods with a generic fallback."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

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


class Visitor:
    """Dispatches `visit(node)` to `visit_<ClassName>`, else `generic_visit`."""

    def visit(self, node: Node) -> Any:
        method = getattr(self, "visit_" + type(node).__name__, self.generic_visit)
        return method(node)

    def generic_visit(self, node: Node) -> Any:
        for child in children(node):
            self.visit(child)
        return None
