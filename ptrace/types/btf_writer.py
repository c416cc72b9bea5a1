"""Types written as raw BTF, for `ptrace.types.btf.Btf` to read.

A script's C definitions become a BTF blob split on top of the kernel's (its
type ids and string offsets continue after the base's), so the compiler reads
script types and kernel types through one reader. The blob is never loaded
into the kernel: it holds only the kinds C definitions need (int, pointer,
array, struct, union, enum, typedef), in the layout Documentation/bpf/btf.rst
describes, in native byte order.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ptrace.types.btf import _K

if TYPE_CHECKING:
    from ptrace.types.btf import Btf

_HEADER = struct.Struct("=HBBIIIII")
_ENCODING_SIGNED, _ENCODING_CHAR, _ENCODING_BOOL = 1, 2, 4


class BtfWriter:
    """Collects types, each given the next id; `blob()` encodes them.

    A struct may refer to itself (`struct node *next`): `reserve` gives an id
    that `composite` fills in later.
    """

    def __init__(self, base: Btf | None = None) -> None:
        self.first_id = base.last_id + 1 if base is not None else 1
        self._str_base = base.string_end if base is not None else 0
        self._types: list[bytes] = []
        self._strings = bytearray(b"\0")
        self._offsets: dict[str, int] = {}

    def reserve(self) -> int:
        self._types.append(b"")
        return self.first_id + len(self._types) - 1

    def int_(self, name: str, size: int, signed: bool, *, char: bool = False,
             boolean: bool = False) -> int:
        encoding = (signed * _ENCODING_SIGNED | char * _ENCODING_CHAR
                    | boolean * _ENCODING_BOOL)
        return self._add(_K.INT, name, size, tail=(encoding << 24 | size * 8,))

    def pointer(self, target: int) -> int:
        return self._add(_K.PTR, "", target)

    def array(self, element: int, count: int) -> int:
        # The index type is unused by ptrace's reader (and by C): 0 stands for it.
        return self._add(_K.ARRAY, "", 0, tail=(element, 0, count))

    def typedef(self, name: str, target: int) -> int:
        return self._add(_K.TYPEDEF, name, target)

    def composite(self, type_id: int, union: bool, name: str, size: int,
                  members: list[tuple[str, int, int, int]]) -> None:
        """Fill a reserved id with a struct or union; members are (name, type,
        bit offset, bitfield size or 0). Bitfields use the kind_flag encoding."""
        bitfields = any(bits for _, _, _, bits in members)
        tail = [word for member, target, offset, bits in members
                for word in (self._string(member), target, bits << 24 | offset)]
        self._set(type_id, _K.UNION if union else _K.STRUCT, name, size, len(members),
                  bitfields, tuple(tail))

    def enum(self, type_id: int, name: str, size: int, signed: bool,
             values: list[tuple[str, int]]) -> None:
        """Fill a reserved id with an enum: ENUM for 4 bytes, ENUM64 for 8."""
        if size == 8:
            tail = [w for n, v in values
                    for w in (self._string(n), v & 0xFFFFFFFF, v >> 32 & 0xFFFFFFFF)]
            self._set(type_id, _K.ENUM64, name, size, len(values), signed, tuple(tail))
        else:
            tail = [w for n, v in values for w in (self._string(n), v & 0xFFFFFFFF)]
            self._set(type_id, _K.ENUM, name, size, len(values), signed, tuple(tail))

    def blob(self) -> bytes:
        types = b"".join(self._types)
        header = _HEADER.pack(0xEB9F, 1, 0, _HEADER.size, 0, len(types), len(types),
                              len(self._strings))
        return header + types + bytes(self._strings)

    def _add(self, kind: int, name: str, ref: int, tail: tuple[int, ...] = ()) -> int:
        type_id = self.reserve()
        self._set(type_id, kind, name, ref, 0, False, tail)
        return type_id

    def _set(self, type_id: int, kind: int, name: str, ref: int, vlen: int, kind_flag: bool,
             tail: tuple[int, ...]) -> None:
        info = kind_flag << 31 | kind << 24 | vlen
        self._types[type_id - self.first_id] = struct.pack(
            f"=III{len(tail)}I", self._string(name), info, ref, *tail)

    def _string(self, text: str) -> int:
        if not text:
            return 0
        offset = self._offsets.get(text)
        if offset is None:
            offset = self._offsets[text] = self._str_base + len(self._strings)
            self._strings += text.encode() + b"\0"
        return offset
