"""Where the debug information of a user binary is, and the symbols only a
separate debug file names.

The binary itself (`gcc -g`; with `-gsplit-dwarf`, its skeleton units), else
a separate debug file found by the binary's build id (`.build-id/ab/cdef….debug`
under /usr/lib/debug) or by its `.gnu_debuglink` name (beside the binary, in
its `.debug/` directory, under /usr/lib/debug + its directory); the
directories `--debuginfo` gives are searched first, for the build-id path,
the debuglink name and BINARY.debug. Reads ELF only: no DWARF reader is
loaded here (`ptrace.dwarf` reads what the file says). A debug file's
symbols are cached between runs per build id.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
from typing import TYPE_CHECKING

from ptrace.archive import read_binary
from ptrace.caches import cache_file, replace_file
from ptrace.elf import ElfError, Symbol, file_offset, function_symbols, notes, section_bytes

if TYPE_CHECKING:
    from pathlib import Path

    from ptrace.machine import Machine

DEBUG_ROOT = "/usr/lib/debug"
NT_GNU_BUILD_ID = 3


def read_file(path: str) -> bytes | None:
    try:
        return read_binary(path)
    except OSError:
        return None


def build_id(data: bytes) -> str | None:
    """The GNU build id of an ELF file, in hex."""
    try:
        found = [desc for owner, kind, desc in notes(data, ".note.gnu.build-id")
                 if owner == "GNU" and kind == NT_GNU_BUILD_ID]
    except (ElfError, struct.error, ValueError):
        return None
    return found[0].hex() if found and found[0] else None


def _has_dwarf(data: bytes) -> bool:
    try:
        return section_bytes(data, ".debug_info") is not None
    except (ElfError, struct.error, ValueError):
        return False


def _candidates(binary: str, data: bytes, dirs: tuple[str, ...]) -> list[str]:
    """The paths a separate debug file of the binary may have, in the order
    they are tried. A relative directory of `dirs` is taken from the binary's
    directory, then from the current one."""
    where = os.path.dirname(os.path.realpath(binary))
    searched = [path for d in dirs
                for path in ((d,) if os.path.isabs(d) else (os.path.join(where, d), d))]
    found: list[str] = []
    ident = build_id(data)
    if ident:
        tail = os.path.join(".build-id", ident[:2], ident[2:] + ".debug")
        found += [os.path.join(d, tail) for d in (*searched, DEBUG_ROOT)]
    try:
        link = section_bytes(data, ".gnu_debuglink")
    except (ElfError, struct.error, ValueError):
        link = None
    names = [os.path.basename(binary) + ".debug"]
    if link and b"\0" in link:
        names.insert(0, os.path.basename(link[:link.index(b"\0")].decode(errors="replace")))
    found += [os.path.join(d, name) for d in searched for name in names]
    found += [os.path.join(d, name) for name in names[:1 if link else 0]
              for d in (where, os.path.join(where, ".debug"), DEBUG_ROOT + where)]
    return found


@functools.cache
def debug_file(binary: str, dirs: tuple[str, ...] = ()) -> str | None:
    """The file holding the binary's DWARF: the binary itself, or a separate
    debug file (see the module's docstring); None where there is none. Kept
    for the process's life, as a binary's symbols are."""
    data = read_file(binary)
    if data is None:
        return None
    if _has_dwarf(data):
        return binary
    for path in _candidates(binary, data, dirs):
        if os.path.realpath(path) != os.path.realpath(binary) and os.path.isfile(path):
            candidate = read_file(path)
            if candidate is not None and _has_dwarf(candidate):
                return path
    return None


# A DWARF package's index (.debug_cu_index, DWARF 5 section 7.3.5): the ELF
# section of each of its section ids, by the index's version (2: the GNU
# extension to DWARF 4, 5: DWARF 5). .debug_str.dwo is shared by every unit.
_PACKAGE_SECTIONS = {
    2: {1: ".debug_info.dwo", 2: ".debug_types.dwo", 3: ".debug_abbrev.dwo",
        4: ".debug_line.dwo", 5: ".debug_loc.dwo", 6: ".debug_str_offsets.dwo",
        7: ".debug_macinfo.dwo", 8: ".debug_macro.dwo"},
    5: {1: ".debug_info.dwo", 3: ".debug_abbrev.dwo", 4: ".debug_line.dwo",
        5: ".debug_loclists.dwo", 6: ".debug_str_offsets.dwo", 7: ".debug_macro.dwo",
        8: ".debug_rnglists.dwo"},
}


def package_file(binary: str, dirs: tuple[str, ...] = ()) -> str | None:
    """The DWARF package (`dwp`'s output) of a binary built with -gsplit-dwarf:
    BINARY.dwp beside it or in a `--debuginfo` directory; None where there is none."""
    name = os.path.basename(binary) + ".dwp"
    where = os.path.dirname(os.path.realpath(binary))
    for d in (where, *dirs):
        path = os.path.join(d if os.path.isabs(d) else os.path.join(where, d), name)
        if os.path.isfile(path):
            return path
    return None


def package_unit(package: str, dwo_id: int) -> str | None:
    """A file holding one split unit of a DWARF package, as a .dwo file would:
    the unit's part of each section its index names (libdw before 0.191 reads
    .dwo files but not packages). Written to the cache once per package file
    (path, size and mtime) and unit; None where the package has no such unit."""
    try:  # opened, not just stat'ed: the compile cache counts what a compile opens
        with open(package, "rb") as f:
            stat = os.fstat(f.fileno())
    except OSError:
        return None
    stamp = f"{os.path.realpath(package)} {stat.st_size} {stat.st_mtime_ns}"
    digest = hashlib.sha1(stamp.encode()).hexdigest()[:16]
    file = cache_file(f"dwp-{digest}-{dwo_id:016x}.dwo")
    if file is not None and file.is_file():
        return str(file)
    data = read_file(package)
    try:
        unit = _package_unit(data, dwo_id) if data is not None else None
    except (ElfError, struct.error, ValueError, IndexError):
        return None
    if unit is None or file is None:
        return None
    replace_file(file, _elf_file(unit))
    return str(file) if file.is_file() else None


def _package_unit(data: bytes, dwo_id: int) -> dict[str, bytes] | None:
    """The sections of one unit of a DWARF package, by the package's
    .debug_cu_index: {ELF section name: the unit's bytes}."""
    index = section_bytes(data, ".debug_cu_index")
    if index is None:
        return None
    version = struct.unpack_from("<H", index)[0]
    names = _PACKAGE_SECTIONS.get(version)
    if names is None:
        return None
    columns, units, slots = struct.unpack_from("<III", index, 4)
    signatures = struct.unpack_from(f"<{slots}Q", index, 16)
    rows = struct.unpack_from(f"<{slots}I", index, 16 + 8 * slots)
    row = next((r for sig, r in zip(signatures, rows, strict=True) if r and sig == dwo_id), 0)
    if not row or row > units:
        return None
    table = 16 + 12 * slots
    ids = struct.unpack_from(f"<{columns}I", index, table)
    offsets = struct.unpack_from(f"<{columns}I", index, table + 4 * columns * row)
    sizes = struct.unpack_from(f"<{columns}I", index,
                               table + 4 * columns * (units + 1) + 4 * columns * (row - 1))
    found: dict[str, bytes] = {}
    for ident, offset, size in zip(ids, offsets, sizes, strict=True):
        whole = section_bytes(data, names.get(ident, ""))
        if whole is not None:
            found[names[ident]] = whole[offset:offset + size]
    strings = section_bytes(data, ".debug_str.dwo")
    if strings is not None:
        found[".debug_str.dwo"] = strings
    return found


def _elf_file(sections: dict[str, bytes]) -> bytes:
    """A relocatable x86-64 ELF64 file holding these sections (and their names)."""
    names = b"\0" + b"".join(name.encode() + b"\0" for name in [*sections, ".shstrtab"])
    contents = [*sections.values(), names]
    header_size, entry = 64, 64
    body = b"".join(contents)
    shoff = header_size + len(body)
    headers = [bytes(entry)]
    offset, name_at = header_size, 1
    for i, (name, content) in enumerate(zip([*sections, ".shstrtab"], contents, strict=True)):
        kind = 3 if i == len(sections) else 1  # SHT_STRTAB, SHT_PROGBITS
        headers.append(struct.pack("<IIQQQQIIQQ", name_at, kind, 0, 0, offset, len(content),
                                   0, 0, 1, 0))
        offset += len(content)
        name_at += len(name) + 1
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, header_size, 0, 0,
                                 entry, len(headers), len(headers) - 1)
    return header + body + b"".join(headers)


@functools.cache
def debug_symbols(binary: str, dirs: tuple[str, ...] = ()) -> list[Symbol]:
    """The function symbols a separate debug file of the binary names (its
    full .symtab where the binary keeps only .dynsym, as libc); kept for the
    process's life, and between runs per build id (`_SYMBOLS_CACHE`)."""
    path = debug_file(binary, dirs)
    if path is None or path == binary:
        return []
    data = read_file(binary)
    ident = build_id(data) if data is not None else None
    file = cache_file(_SYMBOLS_CACHE.format(ident)) if ident else None
    try:
        stat = os.stat(path)
    except OSError:
        return []
    stamp = f"{os.path.realpath(path)} {stat.st_size} {stat.st_mtime_ns}"
    cached = _read_symbols(file, stamp) if file is not None else None
    if cached is not None:
        return cached
    debug = read_file(path)
    try:
        symbols = function_symbols(debug) if debug is not None else []
    except (ElfError, struct.error, ValueError):
        return []
    if file is not None:
        replace_file(file, "\n".join([stamp, *(f"{s.address:x} {s.size:x} {s.name}"
                                               for s in symbols)]).encode())
    return symbols


# The symbols of a binary's debug file: its path, size and mtime on the first
# line, then a line per symbol (hex address, hex size, name).
_SYMBOLS_CACHE = "debug-{}.symbols"


def _read_symbols(file: Path, stamp: str) -> list[Symbol] | None:
    """The symbols cached for the debug file `stamp` describes, or None."""
    try:
        lines = file.read_text().split("\n")
        if lines[0] != stamp:
            return None
        return [Symbol(name, int(address, 16), int(size, 16))
                for address, size, name in (line.split(" ", 2) for line in lines[1:])]
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def user_functions(machine: Machine, binary: str, dirs: tuple[str, ...]) -> list[Symbol]:
    """The function symbols of a user binary, with those only its separate
    debug file names (libc's static functions, with libc6-dbg)."""
    own = machine.function_symbols(binary) or []
    names = {s.name for s in own}
    return own + [s for s in debug_symbols(binary, dirs) if s.name not in names]


def function_address(binary: str, name: str, dirs: tuple[str, ...],
                     own: list[Symbol] | None = None) -> int | None:
    """The address of a function of a user binary: by the binary's own symbols
    (`own` where the caller has them), else by those of its separate debug
    file (read only then)."""
    symbols = own if own is not None else _own_symbols(binary)
    found = next((s.address for s in symbols if s.name == name), None)
    if found is not None:
        return found
    return next((s.address for s in debug_symbols(binary, dirs) if s.name == name), None)


def file_location(binary: str, name: str, offset: int) -> tuple[str, int] | None:
    """Where `name`+`offset` of a binary lies, as a stack's build_id mode
    gives a frame: the binary's build id and the offset in its file; None
    where it has no build id or the symbol is not found."""
    data = _binary_data(binary)
    ident = build_id(data) if data is not None else None
    start = function_address(binary, name, ()) if ident else None
    try:
        at = file_offset(data, start + offset) if data is not None and start is not None \
            else None
    except (struct.error, ValueError):
        return None
    return (ident, at) if ident and at is not None else None


@functools.cache
def _binary_data(binary: str) -> bytes | None:
    return read_file(binary)


@functools.cache
def _own_symbols(binary: str) -> list[Symbol]:
    data = read_file(binary)
    try:
        return function_symbols(data) if data is not None else []
    except (ElfError, struct.error, ValueError):
        return []
