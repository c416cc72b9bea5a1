"""`-d ast`: the tree as indented text, one node per line."""

from __future__ import annotations

import dataclasses

from ptrace.ast.nodes import Node


def dump(node: Node, indent: int = 0) -> str:
    lines: list[str] = []
    _dump(node, indent, lines)
    return "\n".join(lines)


def _dump(node: Node, indent: int, lines: list[str]) -> None:
    pad = "  " * indent
    scalars: list[str] = []
    nested: list[tuple[str, Node | tuple[Node, ...]]] = []
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if f.name in ("span", "name_span"):
            continue
        if isinstance(value, Node) or (isinstance(value, tuple) and value
                                       and all(isinstance(v, Node) for v in value)):
            nested.append((f.name, value))
        elif value is not None and value != ():
            scalars.append(f"{f.name}={value!r}")
    line = node.span.line
    lines.append(f"{pad}{type(node).__name__} {' '.join(scalars)}".rstrip() + f"  @{line}")
    for name, value in nested:
        if isinstance(value, Node):
            lines.append(f"{pad}  .{name}:")
            _dump(value, indent + 2, lines)
        else:
            lines.append(f"{pad}  .{name}:")
            for v in value:
                _dump(v, indent + 2, lines)
