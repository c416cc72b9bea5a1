"""`-d types`: the probe instances after the passes, with what the checker decided.

Input: the context after `check_types`, whether or not it reported errors
(a node it could not type shows no type). Output: text in the shape of
`-d ast`. First every script map with its key and value types (and its
declared kind and size), then one section per probe instance naming its
attach point: each variable with each type it takes, then the instance's
tree, each node with its type and the decisions that explain it (how a
kernel field is read, a constant the checker computed).

Imported only when `-d types` is asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import partial
from typing import Any

from ptrace.ast import nodes as n
from ptrace.ast.dump import dump, node_line
from ptrace.ast.visitor import walk
from ptrace.passes.context import CompileContext, MapInfo, ProbeInstance, TypeResults
from ptrace.types import types as t


def dump_types(ctx: CompileContext) -> str:
    lines = [_map_line(ctx, info) for _, info in sorted(ctx.maps.items())]
    for instance in ctx.instances:
        lines.append(node_line(0, "Instance", (f"index={instance.index}",
                                               f"probe={instance.attach.probe!r}"),
                               instance.probe.span.line))
        variables = _variables(instance)
        if variables:
            lines.append("  .variables:")
            lines.extend(node_line(2, "Variable", (f"name={name!r}", _type(vtype)), line)
                         for (name, vtype), line in variables.items())
        lines.append("  .probe:")
        lines.append(dump(instance.probe, 2, partial(_annotations, ctx, instance)))
    return "\n".join(lines)


def _map_line(ctx: CompileContext, info: MapInfo) -> str:
    scalars = [f"name={info.name!r}"]
    if info.key is not None:
        scalars.append(f"key={_text(info.key)!r}")
    scalars.append(f"value={_text(info.value)!r}")
    decl = ctx.map_decls.get(info.name)
    if decl is not None:
        scalars += [f"kind={decl.kind!r}", f"size={decl.size}"]
    return node_line(0, "Map", scalars, info.span.line)


def _variables(instance: ProbeInstance) -> dict[tuple[str, t.Type], int]:
    """Each variable of the instance with each type it takes (a variable of
    another scope may take another type), and the line where it first does."""
    found: dict[tuple[str, t.Type], int] = {}
    for node in walk(instance.probe):
        if isinstance(node, n.Variable | n.Let | n.For):
            vtype = _type_of(instance, node)
            if vtype is not None:
                name = node.var if isinstance(node, n.For) else node.name
                found.setdefault((name, vtype), node.span.line)
    return found


def _annotations(ctx: CompileContext, instance: ProbeInstance, node: n.Node) -> list[str]:
    """What the passes decided about `node`: its type, how it reads a kernel
    field or a pointer, the constant the checker computed for it (a size, an
    offset, an enum's or an argument's number). With `_type_of`, the one
    reader of the passes' tables by node."""
    scalars: list[str] = []
    vtype = _type_of(instance, node)
    if vtype is not None:
        scalars.append(_type(vtype))
    access = ctx.checked.field_accesses.get(node) if isinstance(node, n.Expr) else None
    if access is not None:
        scalars += [f"offset={access.offset}", f"read_size={access.read_size}"]
        if access.bit_size:
            scalars += [f"bit_shift={access.bit_shift}", f"bit_size={access.bit_size}"]
    constant = _constant(ctx.checked, node)
    if constant is not None:
        scalars.append(f"constant={constant}")
    return scalars


def _constant(checked: TypeResults, node: n.Node) -> int | None:
    """The number the checker computed for `node`, in whichever table holds it
    (an address from pton() as the little-endian integer of its bytes)."""
    tables: tuple[Mapping[Any, int], ...] = (
        checked.sizes, checked.offsets, checked.enum_values, checked.pointer_scales,
        checked.tuple_positions, checked.arg_positions, checked.kernel_addresses,
        checked.symbol_offsets, checked.cgroup_ids)
    for table in tables:
        if node in table:
            return table[node]
    address = checked.pton_addresses.get(node) if isinstance(node, n.Call) else None
    return int.from_bytes(address, "little") if address is not None else None


def _type_of(instance: ProbeInstance, node: n.Node) -> t.Type | None:
    return instance.types.get(node)


def _type(vtype: t.Type) -> str:
    return f"type={_text(vtype)!r}"


def _text(vtype: t.Type) -> str:
    """A type as messages name it: an aggregation as its function, with what
    the checker fixed about it (`sum(signed=False)`, `hist(bits=0)`)."""
    if isinstance(vtype, t.Aggregation):
        fixed = ", ".join(f"{f.name}={getattr(vtype, f.name)!r}"
                          for f in dataclasses.fields(vtype))
        return f"{vtype.function}({fixed})"
    return str(vtype)
