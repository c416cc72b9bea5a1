"""What the debug information (DWARF) of a user binary says: a function's
parameters and their types, the addresses of a source line. Where it is:
`ptrace.debuginfo`; with `-gsplit-dwarf`, libdw finds the DWO files by the
names the binary's skeleton units record.

DWARF is read by elfutils' libdw through ctypes: reading libc's debug file
and resolving one function's parameters takes about 0.05 s, where pyelftools
takes 1 s (by address, through .debug_aranges) to 23 s (by name); see
docs/internals.md. This module is imported only where a uprobe's `args`, a
source line or `-lv uprobe:` asks for DWARF; libdw is loaded on first use.
What is read is kept per build id for the life of the process (one libdw
handle per file).
"""

from __future__ import annotations

import ctypes
import functools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ptrace.debuginfo import build_id, debug_file, package_file, package_unit, read_file

if TYPE_CHECKING:
    from ptrace.types.btf_writer import BtfWriter

# DWARF tags, attributes and base type encodings (DWARF 5, section 7)
TAG_ARRAY, TAG_ENUM, TAG_PARAMETER, TAG_MEMBER, TAG_POINTER = 0x01, 0x04, 0x05, 0x0D, 0x0F
TAG_REFERENCE, TAG_STRUCT, TAG_SUBROUTINE, TAG_TYPEDEF, TAG_UNION = 0x10, 0x13, 0x15, 0x16, 0x17
TAG_BASE, TAG_CONST, TAG_ENUMERATOR, TAG_SUBPROGRAM = 0x24, 0x26, 0x28, 0x2E
TAG_VOLATILE, TAG_RESTRICT, TAG_ATOMIC, TAG_CLASS, TAG_RVALUE_REF = 0x35, 0x37, 0x47, 0x02, 0x42
TAG_INLINED, TAG_BLOCK = 0x1D, 0x0B
_SCOPES = (TAG_SUBPROGRAM, TAG_INLINED, TAG_BLOCK)
AT_BIT_OFFSET, AT_BIT_SIZE, AT_CONST_VALUE, AT_MEMBER_LOCATION = 0x0C, 0x0D, 0x1C, 0x38
AT_DECLARATION, AT_ENCODING, AT_TYPE, AT_DATA_BIT_OFFSET = 0x3C, 0x3E, 0x49, 0x6B
AT_CALL_FILE, AT_CALL_LINE, AT_LOW_PC, AT_LINKAGE_NAME = 0x58, 0x59, 0x11, 0x6E
ATE_BOOLEAN, ATE_FLOAT, ATE_SIGNED, ATE_SIGNED_CHAR, ATE_UNSIGNED_CHAR = 2, 4, 5, 6, 8
UT_SKELETON = 4
_KIND_TAGS = {"struct": (TAG_STRUCT, TAG_CLASS), "union": (TAG_UNION,), "enum": (TAG_ENUM,)}
_QUALIFIERS = {TAG_CONST: "const", TAG_VOLATILE: "volatile", TAG_RESTRICT: "", TAG_ATOMIC: ""}


class DwarfError(Exception):
    """Debug information that cannot be read (libdw missing, a broken file)."""


class _Die(ctypes.Structure):
    _fields_ = [("addr", ctypes.c_void_p), ("cu", ctypes.c_void_p),
                ("abbrev", ctypes.c_void_p), ("padding", ctypes.c_long)]


class _Attribute(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint), ("form", ctypes.c_uint),
                ("valp", ctypes.c_void_p), ("cu", ctypes.c_void_p)]


_DIE = ctypes.POINTER(_Die)
_ATTR = ctypes.POINTER(_Attribute)
_U64 = ctypes.POINTER(ctypes.c_uint64)
_SIGNATURES = {
    "dwarf_begin": (ctypes.c_void_p, [ctypes.c_int, ctypes.c_int]),
    "dwarf_end": (ctypes.c_int, [ctypes.c_void_p]),
    "dwarf_addrdie": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_uint64, _DIE]),
    "dwarf_cu_info": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint16),
                                     ctypes.POINTER(ctypes.c_uint8), _DIE, _DIE, _U64,
                                     ctypes.POINTER(ctypes.c_uint8),
                                     ctypes.POINTER(ctypes.c_uint8)]),
    "dwarf_get_units": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p,
                                       ctypes.POINTER(ctypes.c_uint8), _DIE, _DIE]),
    "dwarf_hasattr": (ctypes.c_int, [_DIE, ctypes.c_uint]),
    "dwarf_child": (ctypes.c_int, [_DIE, _DIE]),
    "dwarf_siblingof": (ctypes.c_int, [_DIE, _DIE]),
    "dwarf_tag": (ctypes.c_int, [_DIE]),
    "dwarf_diename": (ctypes.c_char_p, [_DIE]),
    "dwarf_dieoffset": (ctypes.c_uint64, [_DIE]),
    "dwarf_lowpc": (ctypes.c_int, [_DIE, _U64]),
    "dwarf_attr_integrate": (_ATTR, [_DIE, ctypes.c_uint, _ATTR]),
    "dwarf_formref_die": (_DIE, [_ATTR, _DIE]),
    "dwarf_formstring": (ctypes.c_char_p, [_ATTR]),
    "dwarf_formudata": (ctypes.c_int, [_ATTR, _U64]),
    "dwarf_formsdata": (ctypes.c_int, [_ATTR, ctypes.POINTER(ctypes.c_int64)]),
    "dwarf_aggregate_size": (ctypes.c_int, [_DIE, _U64]),
    "dwarf_getsrc_file": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                         ctypes.c_int,
                                         ctypes.POINTER(ctypes.POINTER(ctypes.c_void_p)),
                                         ctypes.POINTER(ctypes.c_size_t)]),
    "dwarf_lineaddr": (ctypes.c_int, [ctypes.c_void_p, _U64]),
    "dwarf_lineno": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]),
    "dwarf_haspc": (ctypes.c_int, [_DIE, ctypes.c_uint64]),
    "dwarf_getsrc_die": (ctypes.c_void_p, [_DIE, ctypes.c_uint64]),
    "dwarf_linesrc": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]),
    "dwarf_getsrcfiles": (ctypes.c_int, [_DIE, ctypes.POINTER(ctypes.c_void_p),
                                         ctypes.POINTER(ctypes.c_size_t)]),
    "dwarf_filesrc": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                        ctypes.c_void_p]),
}


@functools.cache
def _libdw() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL("libdw.so.1")
    except OSError as e:
        raise DwarfError("reading debug information needs elfutils' libdw (libdw.so.1; "
                         "Debian's libdw1), which cannot be loaded") from e
    for name, (restype, argtypes) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    return lib


@dataclass(frozen=True, slots=True)
class Parameter:
    """A function parameter: its name, its C type as written (`struct Foo*`),
    its type's DWARF entry (for `TypeWriter`), and how the x86-64 calling
    convention passes it: `words` general registers (1, or 2 for 9 to 16
    bytes), or on the stack (`memory`: a struct over 16 bytes), or in a
    vector register (`vector`: a float)."""

    name: str
    ctype: str
    die: _Die | None
    words: int
    memory: bool = False
    vector: bool = False


def _parameter(die: _Die) -> Parameter:
    lib = _libdw()
    written = _type_of(die)
    resolved = written
    while resolved is not None and lib.dwarf_tag(resolved) in (TAG_TYPEDEF, *_QUALIFIERS):
        resolved = _type_of(resolved)
    size = _size(resolved) if resolved is not None else 8
    tag = lib.dwarf_tag(resolved) if resolved is not None else 0
    words = (size + 7) // 8
    return Parameter(_name(die), type_name(written), written, words,
                     memory=size > 16,
                     vector=resolved is not None and tag == TAG_BASE
                     and (_udata(resolved, AT_ENCODING) or 0) == ATE_FLOAT)


def _open(path: str) -> ctypes.c_void_p:
    """A libdw handle on a file's DWARF, open for the life of the process."""
    fd = os.open(path, os.O_RDONLY)
    dwarf = _libdw().dwarf_begin(fd, 0)  # DWARF_C_READ
    if not dwarf:
        os.close(fd)
        raise DwarfError(f"libdw cannot read the debug information in {path}")
    return ctypes.c_void_p(dwarf)


class DebugInfo:
    """One file's DWARF, open through libdw for the life of the process. With
    -gsplit-dwarf, the split units are in .dwo files, which libdw finds, or in
    the binary's DWARF package (`package`, BINARY.dwp), which this reads."""

    def __init__(self, path: str, package: str | None = None) -> None:
        self.path = path
        self._dwarf = _open(path)
        self._package = package
        self._package_units: dict[int, _Die | None] = {}

    def function(self, address: int, name: str = "") -> _Die | None:
        """The subprogram whose code starts at `address` (a symbol's value); in
        a unit of a DWARF package, whose addresses are in the binary, the
        subprogram defined under the symbol's `name`."""
        lib = _libdw()
        cu = _Die()
        if not lib.dwarf_addrdie(self._dwarf, address, ctypes.byref(cu)):
            return None
        for unit in self._units(cu):
            for die in _children(unit):
                if lib.dwarf_tag(die) != TAG_SUBPROGRAM:
                    continue
                low = ctypes.c_uint64()
                if lib.dwarf_lowpc(die, ctypes.byref(low)) == 0:
                    if low.value == address:
                        return die
                elif name and lib.dwarf_hasattr(die, AT_LOW_PC) and \
                        name in (_name(die), _string(die, AT_LINKAGE_NAME)):
                    return die
        return None

    def parameters(self, address: int, name: str = "") -> list[Parameter] | None:
        """The parameters of the function at `address` (named `name`), or None
        where the debug information does not describe a function there."""
        lib = _libdw()
        function = self.function(address, name)
        if function is None:
            return None
        return [_parameter(die) for die in _children(function)
                if lib.dwarf_tag(die) == TAG_PARAMETER]

    def find_type(self, name: str) -> _Die | None:
        """The definition of `struct x`, `union x` or `enum x` at the top of a
        compilation unit (the first unit having one)."""
        lib = _libdw()
        kind, _, bare = name.partition(" ")
        tags = _KIND_TAGS.get(kind, ())
        unit = ctypes.c_void_p()
        while True:
            cu = _Die()
            if lib.dwarf_get_units(self._dwarf, unit, ctypes.byref(unit), None, None,
                                   ctypes.byref(cu), None) != 0:
                return None
            for die in _children(self._units(cu)[0]):
                if lib.dwarf_tag(die) in tags and _name(die) == bare and \
                        not lib.dwarf_hasattr(die, AT_DECLARATION):
                    return die

    def source_frames(self, address: int) -> list[SourceFrame]:
        """The source of the code at `address`, innermost first: a frame for each
        inlined function the address is in, then the function it was inlined
        into; each at its file and line. Empty where the address has no line."""
        lib = _libdw()
        cu = _Die()
        if not lib.dwarf_addrdie(self._dwarf, address, ctypes.byref(cu)):
            return []
        unit = self._units(cu)[0]
        line = lib.dwarf_getsrc_die(ctypes.byref(cu), address)
        number = ctypes.c_int()
        if not line or lib.dwarf_lineno(line, ctypes.byref(number)) != 0:
            return []
        file = (lib.dwarf_linesrc(line, None, None) or b"").decode(errors="replace")
        at = (file, number.value)
        frames: list[SourceFrame] = []
        for scope in reversed(_scopes(unit, address)):
            if lib.dwarf_tag(scope) == TAG_SUBPROGRAM:
                frames.append(SourceFrame(_name(scope), *at, inlined=False))
                break
            frames.append(SourceFrame(_name(scope), *at, inlined=True))
            at = (_source_file(unit, _udata(scope, AT_CALL_FILE) or 0),
                  _udata(scope, AT_CALL_LINE) or 0)
        return frames or [SourceFrame("", *at, inlined=False)]

    def _units(self, cu: _Die) -> list[_Die]:
        """A compilation unit's entry, and first under a skeleton unit
        (-gsplit-dwarf) the split unit's, which holds its functions: from its
        .dwo file (libdw finds it) or from the binary's DWARF package."""
        unit_type = ctypes.c_uint8()
        sub = _Die()
        ident = ctypes.c_uint64()
        if _libdw().dwarf_cu_info(cu.cu, None, ctypes.byref(unit_type), None,
                                  ctypes.byref(sub), ctypes.byref(ident), None, None) != 0 \
                or unit_type.value != UT_SKELETON:
            return [cu]
        split = sub if sub.addr else self._package_unit(ident.value)
        return [split, cu] if split is not None else [cu]

    def _package_unit(self, dwo_id: int) -> _Die | None:
        """The split unit `dwo_id` of the binary's DWARF package, if it has one."""
        if dwo_id not in self._package_units:
            path = package_unit(self._package, dwo_id) if self._package else None
            self._package_units[dwo_id] = _first_unit(_open(path)) if path else None
        return self._package_units[dwo_id]

    def line_addresses(self, file: str, line: int) -> list[int]:
        """The addresses where code of a source line starts (`file` matched by
        its last path components), lowest first."""
        lib = _libdw()
        lines = ctypes.POINTER(ctypes.c_void_p)()
        count = ctypes.c_size_t()
        if lib.dwarf_getsrc_file(self._dwarf, file.encode(), line, 0, ctypes.byref(lines),
                                 ctypes.byref(count)) != 0:
            return []
        found: set[int] = set()
        for i in range(count.value):
            address, number = ctypes.c_uint64(), ctypes.c_int()
            if lib.dwarf_lineno(lines[i], ctypes.byref(number)) == 0 and number.value == line \
                    and lib.dwarf_lineaddr(lines[i], ctypes.byref(address)) == 0:
                found.add(address.value)
        return sorted(found)


class TypeWriter:
    """Writes the types DWARF entries describe as BTF, each entry once."""

    def __init__(self, writer: BtfWriter) -> None:
        self.writer = writer
        self._written: dict[int, int] = {}

    def write(self, die: _Die | None) -> int:
        """The BTF id of the type a DWARF entry describes (0 for void), written
        with every type it refers to."""
        if die is None:
            return 0
        key = _libdw().dwarf_dieoffset(die)
        written = self._written.get(key)
        if written is None:
            written = self._write(die, key)
        return written

    def _write(self, die: _Die, key: int) -> int:
        lib, writer = _libdw(), self.writer
        tag = lib.dwarf_tag(die)
        name = _name(die)
        if tag in (TAG_STRUCT, TAG_UNION, TAG_CLASS, TAG_ENUM) or \
                (tag == TAG_BASE and _opaque(die)):
            written = self._written[key] = writer.reserve()  # a struct may point to itself
            if tag == TAG_ENUM:
                values = [(_name(e), _sdata(e, AT_CONST_VALUE)) for e in _children(die)
                          if lib.dwarf_tag(e) == TAG_ENUMERATOR]
                writer.enum(written, name, _size(die) or 4, any(v < 0 for _, v in values),
                            values)
            else:  # a float is an opaque struct of its size: ptrace has no floats
                members = [self._member(m) for m in _children(die)
                           if lib.dwarf_tag(m) == TAG_MEMBER]
                writer.composite(written, tag == TAG_UNION, name, _size(die), members)
            return written
        target = _type_of(die)
        if tag == TAG_BASE:
            encoding = _udata(die, AT_ENCODING) or 0
            written = writer.int_(name, _size(die), encoding in (ATE_SIGNED, ATE_SIGNED_CHAR),
                                  char=encoding in (ATE_SIGNED_CHAR, ATE_UNSIGNED_CHAR),
                                  boolean=encoding == ATE_BOOLEAN)
        elif tag in (TAG_POINTER, TAG_REFERENCE, TAG_RVALUE_REF):
            written = writer.pointer(self.write(target))
        elif tag == TAG_ARRAY:
            each = _size(target) if target is not None else 0
            written = writer.array(self.write(target), _size(die) // each if each else 0)
        elif tag == TAG_TYPEDEF:
            written = writer.typedef(name, self.write(target))
        elif tag == TAG_SUBROUTINE:
            written = 0  # a function: what a function pointer points to is void here
        else:  # const, volatile, restrict, atomic: the type under them
            written = self.write(target)
        self._written[key] = written
        return written

    def _member(self, die: _Die) -> tuple[str, int, int, int]:
        """(name, type, bit offset, bitfield size) of a struct member."""
        bits = _udata(die, AT_BIT_SIZE) or 0
        offset = _udata(die, AT_DATA_BIT_OFFSET)
        if offset is None:
            offset = (_udata(die, AT_MEMBER_LOCATION) or 0) * 8
            legacy = _udata(die, AT_BIT_OFFSET)  # DWARF 2-4: from the unit's top bit
            if bits and legacy is not None:
                offset += _size(_type_of(die)) * 8 - legacy - bits
        return _name(die), self.write(_type_of(die)), offset, bits


def _opaque(die: _Die) -> bool:
    """A base type ptrace cannot read as an integer (a float, a long double)."""
    return (_udata(die, AT_ENCODING) or 0) == ATE_FLOAT or _size(die) not in (1, 2, 4, 8, 16)


def type_name(die: _Die | None) -> str:
    """A type as bpftrace writes it in listings: `int`, `const char*`, `struct Foo*`."""
    if die is None:
        return "void"
    lib = _libdw()
    tag = lib.dwarf_tag(die)
    if tag in (TAG_POINTER, TAG_REFERENCE, TAG_RVALUE_REF):
        return type_name(_type_of(die)) + "*"
    if tag in _QUALIFIERS:
        inner = type_name(_type_of(die))
        return f"{_QUALIFIERS[tag]} {inner}" if _QUALIFIERS[tag] else inner
    if tag == TAG_ARRAY:
        target = _type_of(die)
        each = _size(target) if target is not None else 0
        return f"{type_name(target)}[{_size(die) // each if each else ''}]"
    if tag == TAG_SUBROUTINE:
        return "void (*)()"
    prefix = {TAG_STRUCT: "struct ", TAG_UNION: "union ", TAG_ENUM: "enum ",
              TAG_CLASS: "class "}.get(tag, "")
    return prefix + (_name(die) or "(anonymous)")


@dataclass(frozen=True, slots=True)
class SourceFrame:
    """A function at a source line; `inlined` where its code was inlined into
    the next frame's."""

    function: str
    file: str
    line: int
    inlined: bool


def _scopes(unit: _Die, address: int) -> list[_Die]:
    """The functions, inlined functions and blocks that hold `address`,
    outermost first."""
    lib = _libdw()
    found: list[_Die] = []
    current = unit
    while True:
        inner = next((c for c in _children(current) if lib.dwarf_tag(c) in _SCOPES
                      and lib.dwarf_haspc(c, address) == 1), None)
        if inner is None:
            return [s for s in found if lib.dwarf_tag(s) != TAG_BLOCK]
        found.append(inner)
        current = inner


def _source_file(unit: _Die, index: int) -> str:
    """The name of a unit's source file by its index (an inlined call's file)."""
    lib = _libdw()
    files = ctypes.c_void_p()
    count = ctypes.c_size_t()
    if lib.dwarf_getsrcfiles(ctypes.byref(unit), ctypes.byref(files), ctypes.byref(count)) \
            != 0 or index >= count.value:
        return ""
    return (lib.dwarf_filesrc(files, index, None, None) or b"").decode(errors="replace")




def _first_unit(dwarf: ctypes.c_void_p) -> _Die | None:
    """The entry of the first unit of a file's DWARF (a split unit's file has one)."""
    unit = ctypes.c_void_p()
    cu = _Die()
    if _libdw().dwarf_get_units(dwarf, None, ctypes.byref(unit), None, None, ctypes.byref(cu),
                                None) != 0:
        return None
    return cu


def _children(die: _Die) -> list[_Die]:
    lib = _libdw()
    out: list[_Die] = []
    child = _Die()
    status = lib.dwarf_child(die, ctypes.byref(child))
    while status == 0:
        out.append(child)
        following = _Die()
        status = lib.dwarf_siblingof(child, ctypes.byref(following))
        child = following
    return out


def _name(die: _Die) -> str:
    name = _libdw().dwarf_diename(die)
    return name.decode(errors="replace") if name else ""


def _string(die: _Die, name: int) -> str:
    lib = _libdw()
    attr = _Attribute()
    if not lib.dwarf_attr_integrate(die, name, ctypes.byref(attr)):
        return ""
    text = lib.dwarf_formstring(ctypes.byref(attr))
    return text.decode(errors="replace") if text else ""


def _type_of(die: _Die) -> _Die | None:
    lib = _libdw()
    attr = _Attribute()
    target = _Die()
    if not lib.dwarf_attr_integrate(die, AT_TYPE, ctypes.byref(attr)) or \
            not lib.dwarf_formref_die(ctypes.byref(attr), ctypes.byref(target)):
        return None
    return target


def _udata(die: _Die, name: int) -> int | None:
    lib = _libdw()
    attr = _Attribute()
    value = ctypes.c_uint64()
    if not lib.dwarf_attr_integrate(die, name, ctypes.byref(attr)) or \
            lib.dwarf_formudata(ctypes.byref(attr), ctypes.byref(value)) != 0:
        return None
    return value.value


def _sdata(die: _Die, name: int) -> int:
    lib = _libdw()
    attr = _Attribute()
    value = ctypes.c_int64()
    if not lib.dwarf_attr_integrate(die, name, ctypes.byref(attr)) or \
            lib.dwarf_formsdata(ctypes.byref(attr), ctypes.byref(value)) != 0:
        return 0
    return value.value


def _size(die: _Die | None) -> int:
    size = ctypes.c_uint64()
    if die is None or _libdw().dwarf_aggregate_size(die, ctypes.byref(size)) != 0:
        return 0
    return size.value


# ---- per build id -------------------------------------------------------------------------

_OPEN: dict[str, DebugInfo] = {}


def debug_info(binary: str, dirs: tuple[str, ...] = ()) -> DebugInfo | None:
    """The DWARF of a binary (see `debug_file`), opened once per build id (per
    path where there is none); None where it has none. Raises DwarfError."""
    path = debug_file(binary, dirs)
    if path is None:
        return None
    data = read_file(binary)
    key = (build_id(data) if data is not None else None) or os.path.realpath(path)
    info = _OPEN.get(key)
    if info is None:
        info = _OPEN[key] = DebugInfo(path, package_file(binary, dirs))
    return info
