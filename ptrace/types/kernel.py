"""Kernel types from BTF, as ptrace types.

`from_btf` turns a BTF type into the ptrace type a script sees: integers,
bools, enums (integers that print by name), `char[N]` as a string, pointers
that remember their pointee, and structs (held by address, read field by field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ptrace.types import types as t

if TYPE_CHECKING:  # the BTF reader is imported only by scripts that use kernel types
    from ptrace.types import btf as b


C_CHARS = ("char", "signed char", "unsigned char")


@dataclass(frozen=True, slots=True)
class FieldAccess:
    """How codegen reads a field: at a byte offset, `read_size` bytes; a
    bitfield is then shifted right by `bit_shift` and masked to `bit_size`.
    A `read_size` of 0 reads nothing: the field's address is its value (a
    flexible array, the address of its first element)."""

    offset: int
    read_size: int
    bit_shift: int = 0
    bit_size: int = 0


def from_btf(btf: b.Btf, type_id: int, space: str = "kernel") -> t.Type | None:
    """The ptrace type of a BTF type, or None if ptrace cannot read it yet."""
    from ptrace.types import btf as b

    resolved = btf.resolve(type_id)
    kind = btf.type(resolved)
    if isinstance(kind, b.Int):
        if kind.is_bool:
            return t.BOOL
        return t.Int(kind.size * 8, kind.is_signed) if kind.size in (1, 2, 4, 8) else None
    if isinstance(kind, b.Enum):
        size = btf.size(resolved)
        signed = any(e.value < 0 for e in kind.values)
        enumerators = tuple((e.value, e.name) for e in kind.values)
        return t.Enum(size * 8, signed, btf.c_name(resolved), enumerators) \
            if size in (1, 2, 4, 8) else None
    if isinstance(kind, b.Ptr):
        return t.Pointer(btf.c_name(kind.type), kind.type, space)
    if isinstance(kind, b.Array):
        element = btf.type(btf.resolve(kind.elem_type))
        # `char comm[16]` is a string; `__u8 addr[16]` (a typedef) is numbers.
        written = btf.type(kind.elem_type)
        while isinstance(written, b.Alias) and not isinstance(written, b.Typedef):
            written = btf.type(written.type)  # const, volatile
        if kind.nelems == 0:
            return None
        if isinstance(written, b.Int) and written.name in C_CHARS:
            return t.Str(kind.nelems)
        if isinstance(element, b.Composite):
            held = struct_value(btf, kind.elem_type, space)
            return t.Array(held, kind.nelems) if isinstance(held, t.StructValue) else None
        etype = from_btf(btf, kind.elem_type, space)
        if isinstance(etype, t.Enum):  # an array of enums holds their numbers
            etype = t.Int(etype.bits, etype.signed)
        return t.Array(etype, kind.nelems) if etype is not None else None
    if isinstance(kind, b.Composite):
        return t.Struct(btf.c_name(resolved), resolved, space)
    return None


def struct_value(btf: b.Btf, type_id: int, space: str = "kernel") -> t.StructValue | str:
    """A struct or union as a value: its members as C lays them out (anonymous
    members' flattened; a flexible array left out). Where a member cannot be
    held, the reason (as "member 'x' is a float")."""
    from ptrace.types import btf as b

    resolved = btf.resolve(type_id)
    members: list[t.Member] = []
    for member in btf.members(resolved):
        kind = btf.type(btf.resolve(member.type))
        if isinstance(kind, b.Array) and kind.nelems == 0:
            continue
        mtype: t.Type | str | None
        if isinstance(kind, b.Composite):
            mtype = struct_value(btf, member.type, space)
        else:
            mtype = from_btf(btf, member.type, space)
        if isinstance(mtype, str):  # "member 'b' is a float" inside member a
            return mtype.replace("member '", f"member '{member.name}.", 1)
        if mtype is None:
            return f"member '{member.name}' is a {btf.c_name(member.type)}"
        access = field_access(btf, member)
        if access.bit_size:
            mtype = bitfield_type(mtype)
        members.append(t.Member(member.name, mtype, access.offset, access.bit_shift,
                                access.bit_size))
    return t.StructValue(btf.c_name(resolved), resolved, btf.size(resolved), tuple(members))


def struct_id(btf: b.Btf, name: str) -> int | None:
    """The BTF id of "struct x", "union x", "enum x" or a typedef name."""
    kind, _, bare = name.partition(" ")
    if not bare:
        return btf.find(kind, "typedef") or btf.find(kind)
    return btf.find(bare, kind)


def field_access(btf: b.Btf, member: b.Member) -> FieldAccess:
    if not member.bitfield_size:
        return FieldAccess(member.offset, btf.size(member.type))
    shift = member.bit_offset % 8
    needed = (shift + member.bitfield_size + 7) // 8
    size = next(s for s in (1, 2, 4, 8) if s >= needed)
    return FieldAccess(member.offset, size, shift, member.bitfield_size)


def bitfield_type(mtype: t.Type) -> t.Type:
    """What a bitfield of this type reads as: bpftrace 0.26 takes its bits
    zero-extended, so a signed integer's bitfield reads as an unsigned one
    (`short b:8` holding 217 is 217, not -39)."""
    if isinstance(mtype, t.Int) and not isinstance(mtype, t.Enum):
        return t.Int(mtype.bits, False)
    return mtype


def c_size(btf: b.Btf | None, vtype: t.Type) -> int | None:
    """sizeof of a value of this type, as C counts it."""
    if isinstance(vtype, t.Int):
        return vtype.bits // 8
    if isinstance(vtype, t.Bool):
        return 1
    if isinstance(vtype, t.Pointer | t.Formatted):
        return 8
    if isinstance(vtype, t.Str):
        return vtype.capacity
    if isinstance(vtype, t.Struct) and btf is not None:
        return btf.size(vtype.btf_id)
    if isinstance(vtype, t.StructValue):
        return vtype.c_size
    if isinstance(vtype, t.Tuple | t.Record | t.Array):
        return vtype.c_size
    return None
