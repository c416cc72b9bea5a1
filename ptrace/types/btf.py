"""The kernel's BTF type information, read lazily.

Input: the raw BTF of /sys/kernel/btf/vmlinux, or the split BTF of a module
(/sys/kernel/btf/<module>), whose type ids and string offsets continue after
those of its base. Output: types by id and by name, struct members with their
bit offsets, sizes, enumerator values, function parameters and C spellings,
for the compiler to type kernel structures, BTF tracepoint arguments and
function arguments.

vmlinux has ~130k types in 5 MB, and start-up time matters, so nothing is
decoded up front. Loading makes one pass over the type section that records
where each type starts and the string offset of its name (the only work
proportional to the file; ~25 ms for vmlinux), and `load` keeps that index in
a cache keyed by the file's path, size and mtime (~4 ms then). A name is found
by searching the string section for it, then the index for types naming that
string offset (~2 ms); a type is decoded into a frozen dataclass when first
asked for, and kept. Enumerators are found the same way, in the type section.

The format is described in the kernel's Documentation/bpf/btf.rst. BTF of the
other byte order is rejected: ptrace reads the BTF of the kernel it runs on.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ptrace.caches import cache_file, replace_file

VMLINUX = Path("/sys/kernel/btf/vmlinux")
POINTER_SIZE = 8  # the kernels ptrace targets are 64-bit

_MAGIC = 0xEB9F
_HEADER = struct.Struct("=HBBIIIII")  # magic, version, flags, hdr_len, type_off/len, str_off/len


class _K:
    """BTF kind numbers (btf_type.info bits 24-28)."""

    INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF = 1, 2, 3, 4, 5, 6, 7, 8
    VOLATILE, CONST, RESTRICT, FUNC, FUNC_PROTO, VAR, DATASEC = 9, 10, 11, 12, 13, 14, 15
    FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = 16, 17, 18, 19


_KIND_NAMES = ("int", "ptr", "array", "struct", "union", "enum", "fwd", "typedef", "volatile",
              "const", "restrict", "func", "func_proto", "var", "datasec", "float", "decl_tag",
              "type_tag", "enum64")
# The kinds `find(name, kind)` and `names(kind)` accept: "enum" also finds ENUM64, as C
# spells both `enum x`.
_KIND_CODES = {name: frozenset({code}) for code, name in enumerate(_KIND_NAMES, 1)}
_KIND_CODES["enum"] = frozenset({_K.ENUM, _K.ENUM64})

# A type's length in 32-bit words is 3 + _EXTRA[kind] + _PER_VLEN[kind] * vlen. Unknown
# kinds get a length past any section, so the scan stops and reports them.
_UNKNOWN = 1 << 40
_EXTRA = [_UNKNOWN] * 32
_PER_VLEN = [0] * 32
for _kind, _extra, _per in (
        (_K.INT, 1, 0), (_K.PTR, 0, 0), (_K.ARRAY, 3, 0), (_K.STRUCT, 0, 3), (_K.UNION, 0, 3),
        (_K.ENUM, 0, 2), (_K.FWD, 0, 0), (_K.TYPEDEF, 0, 0), (_K.VOLATILE, 0, 0),
        (_K.CONST, 0, 0), (_K.RESTRICT, 0, 0), (_K.FUNC, 0, 0), (_K.FUNC_PROTO, 0, 2),
        (_K.VAR, 1, 0), (_K.DATASEC, 0, 3), (_K.FLOAT, 0, 0), (_K.DECL_TAG, 1, 0),
        (_K.TYPE_TAG, 0, 0), (_K.ENUM64, 0, 3)):
    _EXTRA[_kind], _PER_VLEN[_kind] = _extra, _per

_ALIAS_KINDS = frozenset({_K.TYPEDEF, _K.VOLATILE, _K.CONST, _K.RESTRICT, _K.TYPE_TAG})
_LINKAGE = ("static", "global", "extern")
_MAX_ALIAS_DEPTH = 64


class BtfError(Exception):
    """Malformed BTF, or a question about a type id that does not exist."""


# ---------------------------------------------------------------------------- decoded types


# The kinds that add no field to their base class are plain subclasses (with its
# __init__, __eq__ and __repr__, equal only to their own class): making each a
# dataclass again would add ~0.4 ms of import time apiece.


@dataclass(frozen=True, slots=True)
class BtfType:
    id: int
    name: str  # "" when anonymous
    kind: ClassVar[str] = ""


class Void(BtfType):
    __slots__ = ()
    kind: ClassVar[str] = "void"


@dataclass(frozen=True, slots=True)
class Int(BtfType):
    size: int
    bits: int
    bit_offset: int
    is_signed: bool
    is_char: bool
    is_bool: bool
    kind: ClassVar[str] = "int"


@dataclass(frozen=True, slots=True)
class Float(BtfType):
    size: int
    kind: ClassVar[str] = "float"


@dataclass(frozen=True, slots=True)
class Ptr(BtfType):
    type: int
    kind: ClassVar[str] = "ptr"


@dataclass(frozen=True, slots=True)
class Array(BtfType):
    elem_type: int
    index_type: int
    nelems: int
    kind: ClassVar[str] = "array"


@dataclass(frozen=True, slots=True)
class Member:
    name: str  # "" for an anonymous struct/union member or padding
    type: int
    bit_offset: int  # from the start of the struct (the outermost one, from Btf.member)
    bitfield_size: int  # 0 unless a bitfield

    @property
    def offset(self) -> int:
        """The byte offset (of the byte holding the first bit, for a bitfield)."""
        return self.bit_offset // 8


@dataclass(frozen=True, slots=True)
class Composite(BtfType):
    """A struct or a union. Member bit offsets and bitfield sizes are normalised:
    the same whichever of the two encodings (kind_flag set or not) the BTF uses."""

    size: int
    members: tuple[Member, ...]


class Struct(Composite):
    __slots__ = ()
    kind: ClassVar[str] = "struct"


class Union(Composite):
    __slots__ = ()
    kind: ClassVar[str] = "union"


@dataclass(frozen=True, slots=True)
class Enumerator:
    name: str
    value: int


@dataclass(frozen=True, slots=True)
class Enum(BtfType):
    size: int
    is_signed: bool
    values: tuple[Enumerator, ...]
    kind: ClassVar[str] = "enum"


class Enum64(Enum):
    __slots__ = ()
    kind: ClassVar[str] = "enum64"


@dataclass(frozen=True, slots=True)
class Fwd(BtfType):
    is_union: bool
    kind: ClassVar[str] = "fwd"


@dataclass(frozen=True, slots=True)
class Alias(BtfType):
    """A type that names, qualifies or tags another without changing its layout."""

    type: int


class Typedef(Alias):
    __slots__ = ()
    kind: ClassVar[str] = "typedef"


class Volatile(Alias):
    __slots__ = ()
    kind: ClassVar[str] = "volatile"


class Const(Alias):
    __slots__ = ()
    kind: ClassVar[str] = "const"


class Restrict(Alias):
    __slots__ = ()
    kind: ClassVar[str] = "restrict"


class TypeTag(Alias):
    __slots__ = ()
    kind: ClassVar[str] = "type_tag"


@dataclass(frozen=True, slots=True)
class Func(BtfType):
    type: int  # its FuncProto
    linkage: str  # "static", "global" or "extern"
    kind: ClassVar[str] = "func"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: int


@dataclass(frozen=True, slots=True)
class FuncProto(BtfType):
    return_type: int  # 0: void
    params: tuple[Param, ...]
    variadic: bool  # ends with `...` (not listed in params)
    kind: ClassVar[str] = "func_proto"


@dataclass(frozen=True, slots=True)
class Var(BtfType):
    type: int
    linkage: str
    kind: ClassVar[str] = "var"


@dataclass(frozen=True, slots=True)
class VarSecinfo:
    type: int  # a Var
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Datasec(BtfType):
    size: int
    vars: tuple[VarSecinfo, ...]
    kind: ClassVar[str] = "datasec"


@dataclass(frozen=True, slots=True)
class DeclTag(BtfType):
    type: int
    component_idx: int  # -1: the type itself; else a member or parameter index
    kind: ClassVar[str] = "decl_tag"


VOID = Void(0, "void")


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


# ------------------------------------------------------------------------------- the reader


class Btf:
    """One BTF blob: vmlinux's, or a module's split on top of `base`.

    Type ids below this blob's first id belong to the base (0 is void); every
    query answers for the base's types too. A `shadowing` blob (a script's C
    definitions) hides the base's types and enumerators of the same names:
    lookups by name find its own first.
    """

    def __init__(self, data: bytes, base: Btf | None = None,
                 index: tuple[array[int], bytes] | None = None, *,
                 shadowing: bool = False) -> None:
        """Prefer `load` or `from_bytes`. `index`, as `_scan` makes it and `load`
        caches it, spares the scan if it fits `data`."""
        self._data = data
        self._base = base
        self._shadowing = shadowing
        self._type_start, type_end, self._str_start, self._str_end = _sections(data, base)
        self._words = memoryview(data)[self._type_start:type_end].cast("I")
        if index is None or not _fits(self._words, *index):
            index = _scan(self._words)
        self._index = index
        # Where each type starts (word offset), and its name (string offset, as native
        # u32 bytes, searched for a name's offset), in id order.
        self._offsets, self._names = index
        self._first_id = base.last_id + 1 if base is not None else 1
        self._str_base: int = base._str_base + base._str_len if base is not None else 0
        self._types: dict[int, BtfType] = {}
        self._named: dict[str, list[int]] = {}

    @classmethod
    def from_bytes(cls, data: bytes, base: Btf | None = None, *, shadowing: bool = False) -> Btf:
        return cls(data, base, shadowing=shadowing)

    @classmethod
    def load(cls, path: str | Path, base: Btf | None = None, *, cache: bool = True) -> Btf:
        """Read a BTF file. With `cache`, the index of its types is kept in
        $XDG_CACHE_HOME/ptrace (~/.cache/ptrace), one file per BTF path, replaced
        atomically when the file's size or mtime changes; an unusable cache is ignored."""
        path = Path(path)
        try:
            with open(path, "rb") as f:
                stat = os.fstat(f.fileno())
                data = f.read()
        except OSError as e:
            raise BtfError(f"cannot read BTF from {path}: {e.strerror}") from e
        file = _cache_file(path) if cache else None
        if file is None:
            return cls(data, base)
        stamp = f"{path.absolute()}:{stat.st_size}:{stat.st_mtime_ns}".encode()
        cached = _read_cache(file, stamp)
        btf = cls(data, base, cached)
        if btf._index is not cached:
            _write_cache(file, stamp, btf._index)
        return btf

    # -- sizes of the id and string spaces

    @property
    def last_id(self) -> int:
        """The highest type id, this blob's last type."""
        return self._first_id + len(self._offsets) - 1

    @property
    def _str_len(self) -> int:
        return self._str_end - self._str_start

    @property
    def string_end(self) -> int:
        """The string offset after this blob's (and its base's) last string: where
        the strings of a blob split on top of this one start."""
        return self._str_base + self._str_len

    # -- by id

    def type(self, type_id: int) -> BtfType:
        t = self._types.get(type_id)
        if t is not None:
            return t
        if type_id < self._first_id:
            if self._base is not None:
                return self._base.type(type_id)
            if type_id == 0:
                return VOID
        t = self._decode(type_id)
        self._types[type_id] = t
        return t

    def resolve(self, type_id: int) -> int:
        """The type under any typedef, const, volatile, restrict and type tag."""
        for _ in range(_MAX_ALIAS_DEPTH):
            if self._kind(type_id) not in _ALIAS_KINDS:
                return type_id
            type_id = self._word(type_id, 2)
        raise BtfError(f"type {type_id}: typedefs and qualifiers nest too deep (a cycle?)")

    def size(self, type_id: int) -> int:
        """sizeof the type. Void, forward declarations and functions have none: BtfError."""
        t = self.type(self.resolve(type_id))
        if isinstance(t, Int | Float | Composite | Enum | Datasec):
            return t.size
        if isinstance(t, Ptr):
            return POINTER_SIZE
        if isinstance(t, Array):
            return t.nelems * self.size(t.elem_type)
        if isinstance(t, Var):
            return self.size(t.type)
        raise BtfError(f"{self.c_name(type_id)} (type {type_id}) has no size")

    def member(self, struct_id: int, name: str) -> Member | None:
        """The field `name` of a struct or union (typedefs resolved), looking into
        anonymous struct/union members as C does; its bit offset counts from the
        start of `struct_id`."""
        return next((m for m in self._flat_members(struct_id, 0) if m.name == name), None)

    def members(self, struct_id: int) -> list[Member]:
        """Every named field, with anonymous struct/union members flattened."""
        return list(self._flat_members(struct_id, 0))

    def follow(self, struct_id: int, path: Iterable[str]) -> int | None:
        """The struct or union reached from `struct_id` through the members named in
        `path`, as `s.a->b` reaches it: a pointer member leads to what it points to,
        a forward declaration to its definition. None where a name is not a member,
        or leads to anything but a struct or union."""
        for name in path:
            member = self.member(struct_id, name)
            if member is None:
                return None
            struct_id = self.resolve(member.type)
            pointer = self.type(struct_id)
            if isinstance(pointer, Ptr):
                struct_id = self.resolve(pointer.type)
            declared = self.type(struct_id)
            if isinstance(declared, Fwd):
                found = self.find(declared.name, "union" if declared.is_union else "struct")
                struct_id = found if found is not None else struct_id
            if not isinstance(self.type(struct_id), Composite):
                return None
        return struct_id

    def _flat_members(self, struct_id: int, bit_base: int) -> Iterator[Member]:
        t = self.type(self.resolve(struct_id))
        if not isinstance(t, Composite):
            raise BtfError(f"{self.c_name(struct_id)} (type {struct_id}) is not a struct or union")
        for m in t.members:
            if m.name:
                yield m if not bit_base else Member(m.name, m.type, bit_base + m.bit_offset,
                                                    m.bitfield_size)
            elif isinstance(self.type(self.resolve(m.type)), Composite):
                yield from self._flat_members(m.type, bit_base + m.bit_offset)

    def c_name(self, type_id: int) -> str:
        """The type as C spells it: "struct task_struct *", "char[16]", "u64",
        "void (*)(int)"; a function reads "int name(params)"."""
        return self._declare(type_id, "")

    def _declare(self, type_id: int, inner: str) -> str:
        """C's declaration of `inner` (the declarator so far, without a name) as `type_id`."""
        t = self.type(type_id)
        if isinstance(t, Ptr):
            return self._declare(t.type, "*" + inner)
        if isinstance(t, Array):
            return self._declare(t.elem_type, _suffixed(inner, f"[{t.nelems}]"))
        if isinstance(t, FuncProto):
            params = ", ".join([self.c_name(p.type) for p in t.params] + ["..."] * t.variadic)
            return self._declare(t.return_type, _suffixed(inner, f"({params or 'void'})"))
        if isinstance(t, Func):
            return self._declare(t.type, t.name + inner)
        if isinstance(t, Const | Volatile | Restrict):
            if isinstance(self.type(t.type), Ptr):  # `char *const`: the pointer is qualified
                return self._declare(t.type, t.kind + (" " + inner if inner else ""))
            return f"{t.kind} {self._declare(t.type, inner)}"
        if isinstance(t, TypeTag | Var | DeclTag):
            return self._declare(t.type, inner)
        if isinstance(t, Composite | Enum):
            base = f"{'enum' if isinstance(t, Enum) else t.kind} {t.name or '{...}'}"
        elif isinstance(t, Fwd):
            base = f"{'union' if t.is_union else 'struct'} {t.name}"
        else:  # void, int, float, typedef, datasec: by name
            base = t.name
        return base + (inner if inner.startswith("[") or not inner else " " + inner)

    # -- by name

    def find(self, name: str, kind: str | None = None) -> int | None:
        """The id of the type called `name`, of `kind` if given ("struct", "typedef",
        "func", …; "enum" finds enum64 too). Without a kind, the first complete type
        (not a forward declaration, nor a decl tag) wins, else a forward declaration."""
        ids = self._ids_named(name)
        if kind is None:
            complete = (i for i in ids if self._kind(i) not in (_K.FWD, _K.DECL_TAG))
            return next(complete, next((i for i in ids if self._kind(i) == _K.FWD), None))
        codes = _kind_codes(kind)
        return next((i for i in ids if self._kind(i) in codes), None)

    def names(self, kind: str) -> list[str]:
        """Sorted distinct names of the types of a kind (for hints and completion)."""
        codes = _kind_codes(kind)
        found = set(self._base.names(kind)) if self._base is not None else set()
        w = self._words
        for i in self._offsets:
            if w[i + 1] >> 24 & 0x1F in codes and w[i]:
                found.add(self._str(w[i]))
        return sorted(found)

    def enum_value(self, name: str) -> tuple[int, int] | None:
        """(enum type id, value) of the enumerator `name`, in the first enum having one
        (this blob's first if it is shadowing, else its base's)."""
        if self._base is None:
            return self._own_enum_value(name)
        if self._shadowing:
            return self._own_enum_value(name) or self._base.enum_value(name)
        return self._base.enum_value(name) or self._own_enum_value(name)

    def _own_enum_value(self, name: str) -> tuple[int, int] | None:
        hits: list[int] = []
        end = self._type_start + 4 * len(self._words)
        words = (word for offset in self._string_offsets(name)
                 for word in _aligned_hits(self._data, self._type_start, end, offset))
        for word in words:
            j = bisect_right(self._offsets, word) - 1
            start = self._offsets[j]
            kind = self._words[start + 1] >> 24 & 0x1F
            stride = 2 if kind == _K.ENUM else 3 if kind == _K.ENUM64 else 0
            if stride and word > start + 2 and (word - start - 3) % stride == 0:
                hits.append(self._first_id + j)
        for type_id in sorted(hits):
            t = self.type(type_id)
            assert isinstance(t, Enum)
            for e in t.values:
                if e.name == name:
                    return type_id, e.value
        return None

    def func_params(self, func_name: str) -> list[tuple[str, int]] | None:
        """(name, type id) of each parameter of the function, without a trailing `...`."""
        func_id = self.find(func_name, "func")
        if func_id is None:
            return None
        func = self.type(func_id)
        assert isinstance(func, Func)
        proto = self.type(func.type)
        if not isinstance(proto, FuncProto):
            raise BtfError(f"func {func_name} (type {func_id}) has no function prototype")
        return [(p.name, p.type) for p in proto.params]

    def _ids_named(self, name: str) -> list[int]:
        """Ids of every type called `name`, ascending; a shadowing blob's own come first."""
        ids = self._named.get(name)
        if ids is None:
            base = list(self._base._ids_named(name)) if self._base is not None else []
            hits = (_aligned_hits(self._names, 0, len(self._names), offset)
                    for offset in self._string_offsets(name))
            own = sorted(self._first_id + j for found in hits for j in found)
            ids = own + base if self._shadowing else base + own
            self._named[name] = ids
        return ids

    def _string_offsets(self, name: str) -> list[int]:
        """Every string offset (base's included) holding exactly `name`."""
        found = self._base._string_offsets(name) if self._base is not None else []
        raw = name.encode()
        if not raw or b"\0" in raw:
            return found
        data, start, end = self._data, self._str_start, self._str_end
        if data.startswith(raw + b"\0", start, end):  # a split blob's first string
            found.append(self._str_base)
        needle = b"\0" + raw + b"\0"
        p = data.find(needle, start, end)
        while p >= 0:
            found.append(self._str_base + p + 1 - start)
            p = data.find(needle, p + 1, end)
        return found

    # -- raw access

    def _kind(self, type_id: int) -> int:
        return self._word(type_id, 1) >> 24 & 0x1F if type_id else 0

    def _word(self, type_id: int, k: int) -> int:
        """Word `k` of the type's header: 0 name, 1 info, 2 size or referred type."""
        if type_id < self._first_id and self._base is not None:
            return self._base._word(type_id, k)
        return self._words[self._start(type_id) + k]

    def _start(self, type_id: int) -> int:
        j = type_id - self._first_id
        if not 0 <= j < len(self._offsets):
            raise BtfError(f"no BTF type {type_id} (the last is {self.last_id})")
        return self._offsets[j]

    def _str(self, offset: int) -> str:
        if offset < self._str_base:
            assert self._base is not None
            return self._base._str(offset)
        p = self._str_start + offset - self._str_base
        if p >= self._str_end:
            raise BtfError(f"string offset {offset} is past the string section")
        return self._data[p:self._data.index(b"\0", p, self._str_end)].decode("utf-8", "replace")

    def _decode(self, type_id: int) -> BtfType:
        w = self._words
        i = self._start(type_id)
        info, ref = w[i + 1], w[i + 2]  # `ref` is the size or the referred type
        kind, vlen, flag = info >> 24 & 0x1F, info & 0xFFFF, bool(info >> 31)
        name = self._str(w[i])
        match kind:
            case _K.INT:
                enc = w[i + 3]
                return Int(type_id, name, ref, enc & 0xFF, enc >> 16 & 0xFF, bool(enc >> 24 & 1),
                           bool(enc >> 24 & 2), bool(enc >> 24 & 4))
            case _K.PTR:
                return Ptr(type_id, name, ref)
            case _K.ARRAY:
                return Array(type_id, name, w[i + 3], w[i + 4], w[i + 5])
            case _K.STRUCT | _K.UNION:
                members = tuple(self._member(w[j], w[j + 1], w[j + 2], flag)
                                for j in _rows(i, vlen, 3))
                cls = Struct if kind == _K.STRUCT else Union
                return cls(type_id, name, ref, members)
            case _K.ENUM:
                values = tuple(Enumerator(self._str(w[j]), _s32(w[j + 1]) if flag else w[j + 1])
                               for j in _rows(i, vlen, 2))
                return Enum(type_id, name, ref, flag, values)
            case _K.ENUM64:
                values = tuple(Enumerator(self._str(w[j]), _enum64(w[j + 1], w[j + 2], flag))
                               for j in _rows(i, vlen, 3))
                return Enum64(type_id, name, ref, flag, values)
            case _K.FWD:
                return Fwd(type_id, name, flag)
            case _K.TYPEDEF:
                return Typedef(type_id, name, ref)
            case _K.VOLATILE:
                return Volatile(type_id, name, ref)
            case _K.CONST:
                return Const(type_id, name, ref)
            case _K.RESTRICT:
                return Restrict(type_id, name, ref)
            case _K.TYPE_TAG:
                return TypeTag(type_id, name, ref)
            case _K.FUNC:
                return Func(type_id, name, ref, _linkage(vlen))
            case _K.FUNC_PROTO:
                params = [Param(self._str(w[j]), w[j + 1]) for j in _rows(i, vlen, 2)]
                variadic = bool(params) and params[-1] == Param("", 0)
                return FuncProto(type_id, name, ref, tuple(params[:-1] if variadic else params),
                                 variadic)
            case _K.VAR:
                return Var(type_id, name, ref, _linkage(w[i + 3]))
            case _K.DATASEC:
                return Datasec(type_id, name, ref, tuple(VarSecinfo(w[j], w[j + 1], w[j + 2])
                                                         for j in _rows(i, vlen, 3)))
            case _K.FLOAT:
                return Float(type_id, name, ref)
            case _K.DECL_TAG:
                return DeclTag(type_id, name, ref, _s32(w[i + 3]))
        raise BtfError(f"type {type_id} has unknown kind {kind}")

    def _member(self, name_off: int, type_id: int, offset: int, kind_flag: bool) -> Member:
        name = self._str(name_off)
        if kind_flag:
            return Member(name, type_id, offset & 0xFFFFFF, offset >> 24)
        # Without kind_flag, a bitfield's size and extra bit offset are in its INT type.
        # (Checked on raw kinds: decoding member types here would decode whole graphs.)
        resolved = self.resolve(type_id)
        if self._kind(resolved) == _K.INT:
            t = self.type(resolved)
            assert isinstance(t, Int)
            if t.bit_offset or t.bits != t.size * 8:
                return Member(name, type_id, offset + t.bit_offset, t.bits)
        return Member(name, type_id, offset, 0)


def _rows(start: int, vlen: int, width: int) -> range:
    """Word indexes of the `vlen` entries (`width` words each) after the type at `start`."""
    return range(start + 3, start + 3 + width * vlen, width)


def _enum64(lo: int, hi: int, signed: bool) -> int:
    v = hi << 32 | lo
    return v - (1 << 64) if signed and v >> 63 else v


def _linkage(code: int) -> str:
    return _LINKAGE[code] if code < len(_LINKAGE) else str(code)


def _suffixed(inner: str, suffix: str) -> str:
    """`inner` followed by an array or parameter suffix, which binds tighter than `*`."""
    return f"({inner}){suffix}" if inner.startswith("*") else inner + suffix


def _kind_codes(kind: str) -> frozenset[int]:
    try:
        return _KIND_CODES[kind]
    except KeyError:
        raise BtfError(f"unknown BTF kind {kind!r}") from None


def _sections(data: bytes, base: Btf | None) -> tuple[int, int, int, int]:
    """Byte ranges of the type and string sections, checked."""
    if len(data) < _HEADER.size:
        raise BtfError("BTF is shorter than its header")
    magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = \
        _HEADER.unpack_from(data)
    if magic == 0x9FEB:
        raise BtfError("BTF of the other byte order is not supported")
    if magic != _MAGIC:
        raise BtfError(f"not BTF (magic {magic:#06x})")
    if version != 1:
        raise BtfError(f"unsupported BTF version {version}")
    type_start, str_start = hdr_len + type_off, hdr_len + str_off
    if (hdr_len < _HEADER.size or type_start % 4 or type_len % 4
            or type_start + type_len > len(data) or str_start + str_len > len(data)):
        raise BtfError("BTF header describes sections outside the data")
    str_end = str_start + str_len
    if ((base is None and (not str_len or data[str_start])) or (str_len and data[str_end - 1])):
        raise BtfError("malformed BTF string section")
    return type_start, type_start + type_len, str_start, str_end


def _aligned_hits(data: bytes, start: int, end: int, value: int) -> Iterator[int]:
    """Indexes of the 32-bit words equal to `value` in data[start:end]."""
    needle = value.to_bytes(4, sys.byteorder)
    p = data.find(needle, start, end)
    while p >= 0:
        if (p - start) & 3:
            p = data.find(needle, p + 1, end)
        else:
            yield (p - start) >> 2
            p = data.find(needle, p + 4, end)


def _scan(words: memoryview) -> tuple[array[int], bytes]:
    """Each type's word offset and name offset, in id order: the one pass over every type."""
    offsets, names = array("I"), array("I")
    add, add_name, extra, per_vlen = offsets.append, names.append, _EXTRA, _PER_VLEN
    n, i = len(words), 0
    try:
        while i < n:
            add(i)
            add_name(words[i])
            info = words[i + 1]
            kind = info >> 24 & 0x1F
            i += 3 + extra[kind] + per_vlen[kind] * (info & 0xFFFF)
    except IndexError:
        i = n + 1
    if i != n:
        kind = words[offsets[-1] + 1] >> 24 & 0x1F if offsets[-1] + 1 < n else 0
        raise BtfError(f"BTF type section is truncated or has a type of unknown kind {kind}"
                       f" (type {len(offsets)})")
    return offsets, names.tobytes()


def _fits(words: memoryview, offsets: array[int], names: bytes) -> bool:
    """Whether a cached index matches the type section: it ends where the section
    does, and the first and last types' names agree."""
    if not offsets or len(names) != 4 * len(offsets):
        return not words and not names
    last = offsets[-1]
    if (offsets[0] != 0 or last + 1 >= len(words)
            or names[:4] != words[0].to_bytes(4, sys.byteorder)
            or names[-4:] != words[last].to_bytes(4, sys.byteorder)):
        return False
    info = words[last + 1]
    kind = info >> 24 & 0x1F
    return last + 3 + _EXTRA[kind] + _PER_VLEN[kind] * (info & 0xFFFF) == len(words)


# --------------------------------------------------------------------------- the index cache

_CACHE_MAGIC = b"ptbtfi02"
_CACHE_HEAD = struct.Struct("=8sIII")  # magic, stamp length, number of types, crc32


def _cache_file(path: Path) -> Path | None:
    return cache_file("btf" + str(path.absolute()).replace(os.sep, "_") + ".idx")


def _read_cache(file: Path, stamp: bytes) -> tuple[array[int], bytes] | None:
    """The index cached for the file `stamp` describes (its path, size and mtime)."""
    try:
        blob = file.read_bytes()
    except OSError:
        return None
    if len(blob) < _CACHE_HEAD.size:
        return None
    magic, stamp_len, count, crc = _CACHE_HEAD.unpack_from(blob)
    start = _CACHE_HEAD.size + stamp_len
    if ((magic, blob[_CACHE_HEAD.size:start]) != (_CACHE_MAGIC, stamp)
            or len(blob) != start + 8 * count or zlib.crc32(memoryview(blob)[start:]) != crc):
        return None
    offsets = array("I")
    offsets.frombytes(blob[start:start + 4 * count])
    return offsets, blob[start + 4 * count:]


def _write_cache(file: Path, stamp: bytes, index: tuple[array[int], bytes]) -> None:
    offsets, names = index
    body = offsets.tobytes() + names
    head = _CACHE_HEAD.pack(_CACHE_MAGIC, len(stamp), len(offsets), zlib.crc32(body))
    replace_file(file, head + stamp + body)
