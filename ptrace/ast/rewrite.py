"""Rewriting trees: nodes are frozen, so a rewrite builds new ones.

A `Rewriter` dispatches to `rewrite_<NodeClass>` and by default rebuilds a
node from its rewritten children (the node itself when nothing changed).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ptrace.ast.nodes import Node


class Rewriter:
    def rewrite(self, node: Node) -> Any:
        method = getattr(self, "rewrite_" + type(node).__name__, None)
        if method is not None:
            return method(node)
        return self.rebuild(node)

    def rebuild(self, node: Node, **overrides: Any) -> Any:
        """`node` with its child nodes rewritten (and any field given in overrides)."""
        changes: dict[str, Any] = dict(overrides)
        for f in dataclasses.fields(node):
            if f.name in changes:
                continue
            value = getattr(node, f.name)
            if isinstance(value, Node):
                new = self.rewrite(value)
                if new is not value:
                    changes[f.name] = new
            elif isinstance(value, tuple) and any(isinstance(v, Node) for v in value):
                items = tuple(self.rewrite(v) if isinstance(v, Node) else v for v in value)
                if any(a is not b for a, b in zip(items, value, strict=True)):
                    changes[f.name] = items
        return dataclasses.replace(node, **changes) if changes else node
