"""Reading ELF files: the sections of a compiled BPF object, the symbols of a binary.

Little-endian ELF64 only (x86_64 and the bpfel objects LLVM writes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_DYNSYM = 11
SHT_REL = 9
STT_FUNC = 2
STT_GNU_IFUNC = 10


class ElfError(ValueError):
    """The file is not a readable little-endian ELF64 file."""


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    type: int
    offset: int
    size: int
    link: int
    entsize: int


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str
    address: int  # the symbol's virtual address
    size: int


def _sections(data: bytes) -> list[Section]:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ElfError("not a little-endian 64-bit ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
               for i in range(shnum)]
    names_off = headers[shstrndx][4] if shnum else 0

    def name_of(offset: int) -> str:
        start = names_off + offset
        return data[start:data.index(b"\0", start)].decode(errors="replace")

    return [Section(name_of(h[0]), h[1], h[4], h[5], h[6], h[9]) for h in headers]


def object_sections(obj: bytes) -> dict[str, bytes]:
    """The PROGBITS sections of an object, by name.

    Programs need no relocations (maps are referred to by index through
    ld_imm64, and there are no globals), so a relocation section means a bug.
    """
    out: dict[str, bytes] = {}
    for section in _sections(obj):
        if section.type == SHT_REL and section.name.startswith(".rel") \
                and not section.name.startswith(".rel.BTF"):
            raise RuntimeError(f"internal error: unexpected relocations in {section.name}")
        if section.type == SHT_PROGBITS and section.size:
            out[section.name] = obj[section.offset:section.offset + section.size]
    return out


def function_symbols(data: bytes) -> list[Symbol]:
    """The function symbols of a binary (.symtab, else .dynsym), sorted by name."""
    sections = _sections(data)
    found: dict[str, Symbol] = {}
    for kind in (SHT_SYMTAB, SHT_DYNSYM):
        for table in (s for s in sections if s.type == kind):
            strings = sections[table.link]
            for i in range(table.size // 24):
                name_off, info, _other, shndx, value, size = struct.unpack_from(
                    "<IBBHQQ", data, table.offset + i * 24)
                if info & 0xF not in (STT_FUNC, STT_GNU_IFUNC) or shndx == 0 or not name_off:
                    continue
                start = strings.offset + name_off
                name = data[start:data.index(b"\0", start)].decode(errors="replace")
                found.setdefault(name, Symbol(name, value, size))
        if found:
            break
    return sorted(found.values(), key=lambda s: s.name)
