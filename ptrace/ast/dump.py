"""`-d ast`: the tree as indented text, one node per line.

A line is the node's class, its scalar fields (`name='$x'`) and its source
line (`@3`); child nodes follow under `.field:` labels. `-d types`
(ptrace/passes/dump_types.py) prints the same lines with what the passes
decided about each node added by an `annotate` function.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from ptrace.ast.nodes import Node

# What to add to a node's line: more `key=value` scalars.
Annotate = Callable[[Node], Iterable[str]]


def dump(node: Node, indent: int = 0, annotate: Annotate | None = None) -> str:
    lines: list[str] = []
    _dump(node, indent, annotate, lines)
    return "\n".join(lines)


def node_line(indent: int, name: str, scalars: Iterable[str], line: int) -> str:
    """One line of a dump: `name scalars  @line`, indented two spaces a level."""
    return f"{'  ' * indent}{name} {' '.join(scalars)}".rstrip() + f"  @{line}"


def _dump(node: Node, indent: int, annotate: Annotate | None, lines: list[str]) -> None:
    scalars: list[str] = []
    nested: list[tuple[str, tuple[Node, ...]]] = []
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if f.name in ("span", "name_span"):
            continue
        if isinstance(value, Node):
            nested.append((f.name, (value,)))
        elif isinstance(value, tuple) and value and all(isinstance(v, Node) for v in value):
            nested.append((f.name, value))
        elif value is not None and value != ():
            scalars.append(f"{f.name}={value!r}")
    if annotate is not None:
        scalars.extend(annotate(node))
    lines.append(node_line(indent, type(node).__name__, scalars, node.span.line))
    for name, children in nested:
        lines.append(f"{'  ' * indent}  .{name}:")
        for child in children:
            _dump(child, indent + 2, annotate, lines)
