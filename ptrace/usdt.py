"""USDT probes: a binary's `.note.stapsdt` notes and their argument specs.

A probe site compiled from <sys/sdt.h> leaves a note (owner "stapsdt",
type 3) whose descriptor holds three addresses — the site, `.stapsdt.base`
as linked, the probe's semaphore (0: none) — then "provider\\0name\\0args\\0".
If the binary was prelinked after the notes were written, `.stapsdt.base`
has moved and the other addresses move with it.

Each argument is `SIZE@OPERAND` in x86_64 AT&T syntax, a negative SIZE for
a signed value: `-4@%eax` (a register), `8@-16(%rbp)` or
`4@8(%rax,%rdx,4)` (memory at a register plus a displacement), `4@$5` (a
constant), `-4@counter(%rip)` or `8@16+table(%rip)` (memory at a symbol of
the binary: the assembler made the access relative to the instruction
pointer, but the note keeps the symbol), `4@counter` or `4@0x601040`
(memory at an absolute address). Reading them is pure: the compiler turns
them into reads of the probe's `struct pt_regs` and of the process's
memory. A symbol's address is known only in the running process (a PIE or
a library is loaded anywhere), so a probe keeps the link-time addresses of
the symbols its arguments name, and the program adds the load bias.
"""

from __future__ import annotations

import functools
import re
import struct
from dataclasses import dataclass

from ptrace.elf import ElfError, file_offset, notes, section_address, symbols
from ptrace.types.builtins import PT_REGS

NOTE_SECTION = ".note.stapsdt"
NOTE_OWNER = "stapsdt"
NT_STAPSDT = 3
BASE_SECTION = ".stapsdt.base"


def _register_names() -> dict[str, int]:
    """Every name of a register or of its low part (eax, ax, al; r8d, r8w, r8b),
    by its offset in `struct pt_regs`."""
    names: dict[str, int] = {}
    for reg in ("ax", "bx", "cx", "dx"):
        offset = PT_REGS[reg]
        names.update({"r" + reg: offset, "e" + reg: offset, reg: offset, reg[0] + "l": offset})
    for reg in ("si", "di", "bp", "sp"):
        offset = PT_REGS[reg]
        names.update({"r" + reg: offset, "e" + reg: offset, reg: offset, reg + "l": offset})
    for number in range(8, 16):
        offset = PT_REGS[f"r{number}"]
        names.update({f"r{number}{suffix}": offset for suffix in ("", "d", "w", "b")})
    return names


REGISTERS = _register_names()

# A displacement or address: numbers and at most one symbol, added or subtracted
# (`-16`, `counter`, `16+table`, `-4+table+8`).
_TERM = r"(?:0[xX][0-9a-fA-F]+|\d+|[A-Za-z_.][\w.]*)"
_EXPRESSION = rf"[-+]?{_TERM}(?:[-+]{_TERM})*"
_CONSTANT = re.compile(rf"\$({_EXPRESSION})")
_REGISTER = re.compile(r"%(\w+)")
_MEMORY = re.compile(rf"(?P<disp>{_EXPRESSION})?\((?:%(?P<base>\w+))?"
                     rf"(?:,%(?P<index>\w+)(?:,(?P<scale>[1248]))?)?\)")
_ABSOLUTE = re.compile(_EXPRESSION)
_SIGNED_TERM = re.compile(rf"([-+]?)({_TERM})")
INSTRUCTION_POINTERS = ("rip", "eip")


class UsdtError(ValueError):
    """An argument spec ptrace cannot read; the message says why."""


@dataclass(frozen=True, slots=True)
class UsdtProbe:
    """One probe site. A probe may have several sites (one note each)."""

    provider: str
    name: str
    address: int  # the site's virtual address
    offset: int  # where the site lies in the file: where the uprobe goes
    semaphore: int  # the semaphore's file offset (the uprobe's ref_ctr_offset), 0: none
    args: tuple[str, ...]  # argument specs, as written in the note
    # the virtual addresses of the symbols its arguments name (those the binary has)
    symbols: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class UsdtArg:
    """How to read one argument: a constant, a register, or memory at
    `symbol + displacement (+ register) (+ index * scale)`, of `size` bytes."""

    size: int  # 1, 2, 4 or 8 bytes
    signed: bool
    value: int = 0  # a constant's value; a memory operand's displacement
    register: int | None = None  # the pt_regs offset of the (base) register
    index: int | None = None  # the pt_regs offset of the index register
    scale: int = 1
    memory: bool = False  # read memory at the address, rather than the register itself
    symbol: str = ""  # a symbol of the binary whose address adds to `value`

    @property
    def is_constant(self) -> bool:
        """Known at compile time: a number, not an address in the process."""
        return not self.memory and self.register is None and not self.symbol


def read_probes(path: str) -> list[UsdtProbe]:
    """The USDT probe sites of a binary. Raises OSError, or ElfError if it is not ELF."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return probes_in(data)
    except (struct.error, IndexError, ValueError) as error:
        raise ElfError(f"malformed ELF file ({error})") from error


def probes_in(data: bytes) -> list[UsdtProbe]:
    base = section_address(data, BASE_SECTION)
    out: list[UsdtProbe] = []
    for owner, kind, desc in notes(data, NOTE_SECTION):
        if owner != NOTE_OWNER or kind != NT_STAPSDT:
            continue
        address, linked_base, semaphore, provider, name, args = parse_note(desc)
        if base is not None and linked_base:
            address += base - linked_base
            semaphore += base - linked_base if semaphore else 0
        offset = file_offset(data, address)
        if offset is None:
            raise ElfError(f"USDT probe {provider}:{name} is at 0x{address:x}, "
                           "outside the binary's loaded segments")
        semaphore_offset = file_offset(data, semaphore) if semaphore else 0
        out.append(UsdtProbe(provider, name, address, offset, semaphore_offset or 0, args,
                             _arg_symbols(data, args)))
    return out


def _arg_symbols(data: bytes, args: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """The addresses of the symbols named by argument specs (the binary's
    symbol table is read only when one names a symbol)."""
    named = set()
    for spec in args:
        try:
            named.add(parse_arg(spec).symbol)
        except UsdtError:
            continue  # reported where the argument is used
    named.discard("")
    if not named:
        return ()
    return tuple((s.name, s.address) for s in symbols(data) if s.name in named)


def parse_note(desc: bytes) -> tuple[int, int, int, str, str, tuple[str, ...]]:
    """A stapsdt note's descriptor → (pc, base, semaphore, provider, name, argument specs)."""
    pc, base, semaphore = struct.unpack_from("<QQQ", desc, 0)
    strings = desc[24:].split(b"\0")
    if len(strings) < 3:
        raise ElfError("truncated stapsdt note")
    provider, name, args = (s.decode(errors="replace") for s in strings[:3])
    return pc, base, semaphore, provider, name, tuple(args.split())


@functools.cache
def parse_arg(spec: str) -> UsdtArg:
    """One argument spec (`-4@%eax`, `8@-16(%rbp)`, `4@$5`, `-4@counter(%rip)`).
    Raises UsdtError."""
    size_text, at, operand = spec.rpartition("@")
    if not at:  # no size: a 64-bit value (old notes)
        size_text, operand = "8", spec
    try:
        size = int(size_text)
    except ValueError:
        raise UsdtError(f"'{spec}' has no size") from None
    if abs(size) not in (1, 2, 4, 8):
        raise UsdtError(f"'{spec}' has size {abs(size)}; sizes are 1, 2, 4 or 8")
    size, signed = abs(size), size < 0
    if m := _CONSTANT.fullmatch(operand):
        value, symbol = _expression(m[1], spec)
        return UsdtArg(size, signed, value if symbol else _fit(value, size, signed),
                       symbol=symbol)
    if m := _REGISTER.fullmatch(operand):
        return UsdtArg(size, signed, register=_register(m[1], spec))
    if m := _MEMORY.fullmatch(operand):
        value, symbol = _expression(m["disp"] or "0", spec)
        base = m["base"]
        if base in INSTRUCTION_POINTERS:
            if not symbol or m["index"]:
                raise UsdtError(f"'{spec}' is relative to the instruction pointer without "
                                "naming a symbol")
            base = None  # the assembler's rip-relative form of the symbol's address
        index = _register(m["index"], spec) if m["index"] else None
        return UsdtArg(size, signed, value, _register(base, spec) if base else None, index,
                       int(m["scale"] or "1"), memory=True, symbol=symbol)
    if _ABSOLUTE.fullmatch(operand):
        value, symbol = _expression(operand, spec)
        return UsdtArg(size, signed, value, memory=True, symbol=symbol)
    raise UsdtError(f"'{spec}' is not an x86_64 operand ptrace can read")


def _expression(text: str, spec: str) -> tuple[int, str]:
    """A displacement's numbers added up, and the symbol it names ("": none)."""
    value, symbol = 0, ""
    for sign, term in _SIGNED_TERM.findall(text):
        if term[0].isdigit():
            number = int(term, 16) if term[:2].lower() == "0x" else int(term)
            value += -number if sign == "-" else number
        elif symbol or sign == "-":
            raise UsdtError(f"'{spec}' is an address ptrace cannot compute "
                            "(more than one symbol, or a symbol subtracted)")
        else:
            symbol = term
    return value, symbol


def _register(name: str, spec: str) -> int:
    if name not in REGISTERS:
        raise UsdtError(f"'{spec}' uses the register %{name}, which ptrace does not read")
    return REGISTERS[name]


def _fit(value: int, size: int, signed: bool) -> int:
    """A constant as the argument's type holds it: `size` bytes, signed or not."""
    value &= (1 << size * 8) - 1
    if signed and value >> (size * 8 - 1):
        value -= 1 << size * 8
    return value
