"""Reading ELF files: the sections of a compiled BPF object, the symbols of a binary.

Little-endian ELF64 only (x86_64 and the bpfel objects LLVM writes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ptrace.bpf_abi import BPF_PSEUDO_FUNC, LD_IMM64

SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_DYNSYM = 11
SHT_REL = 9
STT_OBJECT = 1
STT_FUNC = 2
STT_GNU_IFUNC = 10
R_BPF_64_64 = 1


class ElfError(ValueError):
    """The file is not a readable little-endian ELF64 file."""


@dataclass(frozen=True, slots=True)
class Section:
    """A section header of an ELF file."""

    name: str
    type: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int


@dataclass(frozen=True, slots=True)
class Symbol:
    """A function or object symbol: its name, address and size."""

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

    return [Section(name_of(h[0]), h[1], h[4], h[5], h[6], h[7], h[9]) for h in headers]


@dataclass(frozen=True, slots=True)
class ProgramCode:
    """One program's section: its instructions, and where its functions start
    (instruction offsets: the program at 0, then its callbacks)."""

    insns: bytes
    functions: tuple[int, ...]


def object_sections(obj: bytes) -> dict[str, ProgramCode]:
    """The code sections of a BPF object, by name, relocations resolved.

    Maps are referred to by index through ld_imm64 and there are no globals,
    so the only relocations are of a callback's address (bpf_for_each_map_elem)
    within its program's section: they become BPF_PSEUDO_FUNC loads. Any other
    relocation means a bug.
    """
    sections = _sections(obj)
    symbols = _symbols(obj, sections)
    code: dict[int, bytearray] = {
        index: bytearray(obj[section.offset:section.offset + section.size])
        for index, section in enumerate(sections)
        if section.type == SHT_PROGBITS and section.size and section.name != ".eh_frame"}
    for section in sections:
        if section.type != SHT_REL or section.name in (".rel.eh_frame",) \
                or section.name.startswith(".rel.BTF"):
            continue
        insns = code.get(section.info)
        for i in range(section.size // 16):
            offset, info = struct.unpack_from("<QQ", obj, section.offset + i * 16)
            symbol = symbols[info >> 32]
            if insns is None or symbol.section != section.info or info & 0xFFFFFFFF != R_BPF_64_64 \
                    or insns[offset] != LD_IMM64:
                raise RuntimeError(f"internal error: unexpected relocations in {section.name}")
            (addend,) = struct.unpack_from("<i", insns, offset + 4)
            target = (symbol.value + addend) // 8
            insns[offset + 1] = (insns[offset + 1] & 0x0F) | (BPF_PSEUDO_FUNC << 4)
            struct.pack_into("<i", insns, offset + 4, target - (offset // 8 + 1))
    functions: dict[int, set[int]] = {index: {0} for index in code}
    for symbol in symbols:
        if symbol.kind == STT_FUNC and symbol.section in functions:
            functions[symbol.section].add(symbol.value // 8)
    return {sections[index].name: ProgramCode(bytes(insns), tuple(sorted(functions[index])))
            for index, insns in code.items()}


@dataclass(frozen=True, slots=True)
class _ObjectSymbol:
    """A symbol of an object file: its kind, section and value."""

    kind: int
    section: int
    value: int


def _symbols(data: bytes, sections: list[Section]) -> list[_ObjectSymbol]:
    """The entries of an object's .symtab, in order."""
    out: list[_ObjectSymbol] = []
    for table in (s for s in sections if s.type == SHT_SYMTAB):
        for i in range(table.size // 24):
            _name, info, _other, shndx, value, _size = struct.unpack_from(
                "<IBBHQQ", data, table.offset + i * 24)
            out.append(_ObjectSymbol(info & 0xF, shndx, value))
    return out


def function_symbols(data: bytes) -> list[Symbol]:
    """The function symbols of a binary (.symtab, else .dynsym), sorted by name."""
    return _named_symbols(data, (STT_FUNC, STT_GNU_IFUNC))


def symbols(data: bytes) -> list[Symbol]:
    """The function and variable symbols of a binary (.symtab, else .dynsym), by name."""
    return _named_symbols(data, (STT_FUNC, STT_GNU_IFUNC, STT_OBJECT))


def _named_symbols(data: bytes, kinds: tuple[int, ...]) -> list[Symbol]:
    sections = _sections(data)
    found: dict[str, Symbol] = {}
    for kind in (SHT_SYMTAB, SHT_DYNSYM):
        for table in (s for s in sections if s.type == kind):
            strings = sections[table.link]
            for i in range(table.size // 24):
                name_off, info, _other, shndx, value, size = struct.unpack_from(
                    "<IBBHQQ", data, table.offset + i * 24)
                if info & 0xF not in kinds or shndx == 0 or not name_off:
                    continue
                start = strings.offset + name_off
                name = data[start:data.index(b"\0", start)].decode(errors="replace")
                found.setdefault(name, Symbol(name, value, size))
        if found:
            break
    return sorted(found.values(), key=lambda s: s.name)


SHT_NOTE = 7
SHT_NOBITS = 8
PT_LOAD = 1
PF_X = 1  # an executable segment


def notes(data: bytes, section_name: str) -> list[tuple[str, int, bytes]]:
    """The notes of a SHT_NOTE section, as (owner, type, descriptor)."""
    out: list[tuple[str, int, bytes]] = []
    for section in _sections(data):
        if section.type != SHT_NOTE or section.name != section_name:
            continue
        at, end = section.offset, section.offset + section.size
        while at + 12 <= end:
            namesz, descsz, kind = struct.unpack_from("<III", data, at)
            name_at = at + 12
            desc_at = name_at + (namesz + 3) // 4 * 4
            owner = data[name_at:name_at + namesz].rstrip(b"\0").decode(errors="replace")
            out.append((owner, kind, data[desc_at:desc_at + descsz]))
            at = desc_at + (descsz + 3) // 4 * 4
    return out


def section_bytes(data: bytes, section_name: str) -> bytes | None:
    """The contents of the named section, or None if there is none (or it has
    none in the file, as a debug file's code sections)."""
    for section in _sections(data):
        if section.name == section_name and section.type != SHT_NOBITS:
            return data[section.offset:section.offset + section.size]
    return None


def section_address(data: bytes, section_name: str) -> int | None:
    """The virtual address of the named section, or None if there is none."""
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    (shentsize,) = struct.unpack_from("<H", data, 0x3A)
    for i, section in enumerate(_sections(data)):
        if section.name == section_name:
            (address,) = struct.unpack_from("<Q", data, shoff + i * shentsize + 0x10)
            return int(address)
    return None


def in_code(data: bytes, address: int) -> bool:
    """Whether a virtual address lies in a loadable segment that is executable."""
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        kind, flags, _offset, vaddr, _paddr, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        if kind == PT_LOAD and flags & PF_X and vaddr <= address < vaddr + filesz:
            return True
    return False


def file_offset(data: bytes, address: int) -> int | None:
    """Where the byte mapped at a virtual address lies in the file (by the
    loadable segments), or None if no segment maps it from the file."""
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        kind, _flags, offset, vaddr, _paddr, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        if kind == PT_LOAD and vaddr <= address < vaddr + filesz:
            return int(address - vaddr + offset)
    return None
