"""Semantic types of ptrace values, and their memory layout.

A value alone (a map key, a map value, a field of an event) occupies `size`
bytes: every integer, bool and pointer 8 (as an i64 in registers, sign- or
zero-extended), a string of size N its N bytes rounded up to 8. A tuple or a
record is laid out as C lays out a struct of its elements (as bpftrace 0.26
does): each element at its own width (`c_width`: an int8 one byte, a bool
one) and alignment (`c_align`), the whole rounded up to its largest
alignment (`c_size`, what sizeof gives), and to 8 where it is kept alone.
The runtime decodes with the same `size`, `offsets` and widths.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field


def align8(n: int) -> int:
    return (n + 7) & ~7


@dataclass(frozen=True, slots=True)
class Type:
    """A value's type: what it is to the checker, the lowering and the runtime."""

    @property
    def size(self) -> int:
        """Bytes this value occupies in a key, a map value or an event."""
        raise NotImplementedError

    @property
    def is_integer(self) -> bool:
        return False

    @property
    def in_register(self) -> bool:
        """Held as an i64 in codegen (integers, bools, pointers, formatted integers);
        otherwise a value lives in memory and codegen passes its address."""
        return self.is_integer


@dataclass(frozen=True, slots=True)
class Word(Type):
    """A value held in one 64-bit word: 8 bytes in keys, values and events, and
    an i64 in codegen."""

    @property
    def size(self) -> int:
        return 8

    @property
    def in_register(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Int(Word):
    """An integer of `bits` bits, signed or not."""

    bits: int = 64
    signed: bool = True

    @property
    def is_integer(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"{'' if self.signed else 'u'}int{self.bits}"


@dataclass(frozen=True, slots=True)
class Enum(Int):
    """An integer of a C enum type (`enum color`): it prints as the name of its
    enumerator (`BLUE`), or as the number where none has its value. It stays an
    enum through variables and maps; arithmetic on it gives a plain integer."""

    name: str = ""  # as C spells it: "enum color"
    enumerators: tuple[tuple[int, str], ...] = ()  # (value, name), as defined

    def symbol(self, value: int) -> str:
        """The name of the (first) enumerator with this value, else the number."""
        return next((name for v, name in self.enumerators if v == value), str(value))

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Bool(Word):
    """A bool: true or false, in a 64-bit word."""

    @property
    def is_integer(self) -> bool:
        return True

    def __str__(self) -> str:
        return "bool"


@dataclass(frozen=True, slots=True)
class Pointer(Word):
    """An address. `pointee` is a C type name when known (`char`, `struct file`);
    `btf_id` is the pointee's type in the kernel's BTF (0: not known)."""

    pointee: str = "void"
    btf_id: int = 0
    space: str = "kernel"  # where it points: "kernel" or "user" memory
    target: Type | None = None  # what `&$x` points to: the variable's type

    @property
    def is_integer(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"{self.pointee} *"


@dataclass(frozen=True, slots=True)
class Struct(Word):
    """A kernel struct or union, known by its address (`curtask->se` before `.vruntime`).

    Held as the address in codegen; its fields are read when they are used.
    """

    name: str  # "struct sched_entity"
    btf_id: int
    space: str = "kernel"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Stack(Type):
    """kstack/ustack: a stack id in a stack-trace map, and for user stacks the
    pid whose memory the addresses belong to (16 bytes)."""

    user: bool
    mode: str = "bpftrace"  # how it prints: bpftrace, perf or raw
    limit: int = 127  # frames kept

    @property
    def size(self) -> int:
        return 16

    def __str__(self) -> str:
        return "ustack" if self.user else "kstack"


@dataclass(frozen=True, slots=True)
class Str(Type):
    """A NUL-terminated string in a fixed buffer of `capacity` bytes.

    `trailer` is printed after a string read from memory (str()) that fills its
    buffer: the read may have cut it. It is not part of the type's identity.
    """

    capacity: int
    trailer: str = field(default="", compare=False)

    @property
    def size(self) -> int:
        return align8(self.capacity)

    def __str__(self) -> str:
        return f"string[{self.capacity}]"


@dataclass(frozen=True, slots=True)
class Array(Type):
    """A C array, `count` elements packed as C lays them out (`__u8 saddr[4]`
    takes 4 bytes, rounded up to 8 in keys and events): of integers, bools,
    pointers, structs held by value, strings (`char names[4][16]`) or arrays
    (`int y[2][2]`)."""

    element: Type
    count: int

    @property
    def element_size(self) -> int:
        return c_width(self.element)

    @property
    def c_size(self) -> int:
        return self.element_size * self.count

    @property
    def size(self) -> int:
        return align8(self.c_size)

    def __str__(self) -> str:
        return f"{self.element}[{self.count}]"


@dataclass(frozen=True, slots=True)
class Buf(Type):
    """Bytes from buf(): their length (8 bytes), then up to `capacity` bytes."""

    capacity: int

    @property
    def size(self) -> int:
        return 8 + align8(self.capacity)

    def __str__(self) -> str:
        return f"buffer[{self.capacity}]"


@dataclass(frozen=True, slots=True)
class Inet(Type):
    """An IP address from ntop() or pton(): the address family (8 bytes), then
    the address in network byte order (16 bytes; 4 used for AF_INET)."""

    @property
    def size(self) -> int:
        return 24

    def __str__(self) -> str:
        return "inet"


@dataclass(frozen=True, slots=True)
class Usym(Type):
    """usym(addr): a user-space address (8 bytes) and the pid whose memory it
    belongs to (8 bytes); printed as the symbol it falls in."""

    @property
    def size(self) -> int:
        return 16

    def __str__(self) -> str:
        return "usym"


@dataclass(frozen=True, slots=True)
class Tuple(Type):
    """Elements laid out as the members of a C struct."""

    elements: tuple[Type, ...]

    @property
    def c_size(self) -> int:
        return _layout(self.elements)[1]

    @property
    def size(self) -> int:
        return align8(self.c_size)

    @property
    def offsets(self) -> tuple[int, ...]:
        return _layout(self.elements)[0]

    def __str__(self) -> str:
        return "(" + ", ".join(str(e) for e in self.elements) + ")"


@dataclass(frozen=True, slots=True)
class Record(Type):
    """Named elements laid out as the members of a C struct, in their order."""

    names: tuple[str, ...]
    elements: tuple[Type, ...]

    @property
    def c_size(self) -> int:
        return _layout(self.elements)[1]

    @property
    def size(self) -> int:
        return align8(self.c_size)

    @property
    def offsets(self) -> tuple[int, ...]:
        return _layout(self.elements)[0]

    def field(self, name: str) -> Type:
        return self.elements[self.names.index(name)]

    def __str__(self) -> str:
        return "(" + ", ".join(f"{n}={e}" for n, e in zip(self.names, self.elements,
                                                           strict=True)) + ")"


@dataclass(frozen=True, slots=True)
class Member:
    """A member of a struct held by value: its type as C has it (an integer
    of its own width), where it is, and for a bitfield which bits."""

    name: str
    type: Type
    offset: int  # bytes from the start of the struct
    bit_shift: int = 0
    bit_size: int = 0  # 0: not a bitfield

    @property
    def width(self) -> int:
        """Bytes an integer member occupies (a bitfield: the bytes its bits span)."""
        if self.bit_size:
            return (self.bit_shift + self.bit_size + 7) // 8
        return c_width(self.type)


@dataclass(frozen=True, slots=True)
class StructValue(Type):
    """A C struct or union held by value (`@s = *p`, `(1, *p)`, `print(*p)`):
    its bytes as C lays them out, `c_size` of them (rounded up to 8 in keys,
    values and events). It prints as `{ .a = 1, .b = 2 }`."""

    name: str  # "struct foo"
    btf_id: int
    c_size: int
    members: tuple[Member, ...]

    @property
    def size(self) -> int:
        return align8(self.c_size)

    @property
    def align(self) -> int:
        """C's alignment of the struct: its most aligned member's, or 1 where a
        member or the size is not a multiple of it (a packed struct)."""
        aligns = [c_align(m.type) for m in self.members]
        align = max(aligns, default=1)
        if self.c_size % align or any(m.offset % a for m, a in zip(self.members, aligns,
                                                                     strict=True)
                                      if not m.bit_size):
            return 1
        return align

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.members)

    @property
    def elements(self) -> tuple[Type, ...]:
        return tuple(m.type for m in self.members)

    def __str__(self) -> str:
        return self.name


class FormatKind(enum.Enum):
    """How the runtime prints a Formatted value (runtime/values.py has one
    formatter per kind)."""

    STRERROR = "strerror"  # an error number, as its text
    STRFTIME = "strftime"  # nanoseconds since boot, as a local time in `fmt`
    KSYM = "ksym"  # a kernel address, as the function it is in
    MACADDR = "macaddr"  # six bytes, as 00:1A:2B:3C:4D:5E
    USERNAME = "username"  # a uid, as the user's name
    CGROUP_PATH = "cgroup_path"  # a cgroup id, as its paths (hierarchies matching `fmt`)
    SYSCALL_NAME = "syscall_name"  # a system call number, as the call's name
    SIGNAL_NAME = "signal_name"  # a signal number, as its name (SIGINT)


@dataclass(frozen=True, slots=True)
class Formatted(Word):
    """An integer shown through a formatter: strerror(e), strftime(fmt, ns).

    Stored as 8 bytes like any integer; printed (and given to %s) as text.
    """

    kind: FormatKind
    fmt: str = ""

    def __str__(self) -> str:
        return self.kind.value


@dataclass(frozen=True, slots=True)
class Void(Type):
    """The type of statements-as-expressions such as printf(): no value."""

    @property
    def size(self) -> int:
        return 0

    def __str__(self) -> str:
        return "void"


def c_width(tp: Type) -> int:
    """The bytes a value takes where C lays it out (a struct's member, an
    array's element): an integer its own width, a bool one byte."""
    if isinstance(tp, Int):
        return tp.bits // 8
    if isinstance(tp, Bool):
        return 1
    if isinstance(tp, Str):
        return tp.capacity
    if isinstance(tp, Array | StructValue | Tuple | Record):
        return tp.c_size
    return tp.size


def c_align(tp: Type) -> int:
    """What C aligns a value of this type to: an integer (a bool) to its width,
    a string to 1, an array as its elements, a struct, a tuple or a record as
    its most aligned member; everything else (pointers, stacks) to 8."""
    if isinstance(tp, Int | Bool):
        return c_width(tp)
    if isinstance(tp, Str):
        return 1
    if isinstance(tp, Array):
        return c_align(tp.element)
    if isinstance(tp, StructValue):
        return tp.align
    if isinstance(tp, Tuple | Record):
        return max((c_align(e) for e in tp.elements), default=1)
    return 8


@functools.cache
def _layout(elements: tuple[Type, ...]) -> tuple[tuple[int, ...], int]:
    """The offsets of a struct with these members, and its size (C's rules)."""
    offsets: list[int] = []
    offset = 0
    for e in elements:
        align = c_align(e)
        offset = -(-offset // align) * align
        offsets.append(offset)
        offset += c_width(e)
    align = max((c_align(e) for e in elements), default=1)
    return tuple(offsets), -(-offset // align) * align


# ---- aggregation values, kept in per-CPU maps ----------------------------------

@dataclass(frozen=True, slots=True)
class Aggregation(Type):
    """The value kind of a map written by an aggregation function."""

    @property
    def function(self) -> str:
        raise NotImplementedError

    @property
    def size(self) -> int:
        return 8


@dataclass(frozen=True, slots=True)
class Count(Aggregation):
    """count(): how many times it ran."""

    @property
    def function(self) -> str:
        return "count"


@dataclass(frozen=True, slots=True)
class Sum(Aggregation):
    """sum(): the total of the values."""

    signed: bool = True

    @property
    def function(self) -> str:
        return "sum"


@dataclass(frozen=True, slots=True)
class Min(Aggregation):
    """min(): the smallest value."""

    signed: bool = True

    @property
    def function(self) -> str:
        return "min"

    @property
    def size(self) -> int:
        return 16  # the value, and whether this CPU has one


@dataclass(frozen=True, slots=True)
class Max(Aggregation):
    """max(): the largest value."""

    signed: bool = True

    @property
    def function(self) -> str:
        return "max"

    @property
    def size(self) -> int:
        return 16


@dataclass(frozen=True, slots=True)
class Avg(Aggregation):
    """avg(): the count and total of the values, printed as their average."""

    signed: bool = True

    @property
    def function(self) -> str:
        return "avg"

    @property
    def size(self) -> int:
        return 16  # count, total


@dataclass(frozen=True, slots=True)
class Stats(Aggregation):
    """stats(): the count, average and total of the values."""

    signed: bool = True

    @property
    def function(self) -> str:
        return "stats"

    @property
    def size(self) -> int:
        return 16


@dataclass(frozen=True, slots=True)
class Hist(Aggregation):
    """Power-of-two buckets; `bits` splits each power of two into 2**bits buckets.

    Bucket numbers (shared by codegen and output): 0 holds negative values;
    1 + v holds each v below 2**(bits+1) exactly; above that, a value v with
    2**e <= v < 2**(e+1) goes to 1 + 2**(bits+1) + (e-bits-1) * 2**bits + j,
    where j = (v >> (e-bits)) & (2**bits - 1) is its step within the power.
    """

    bits: int = 0

    @property
    def function(self) -> str:
        return "hist"

    def bounds(self, bucket: int) -> tuple[int | None, int | None]:
        """[low, high) of a bucket; None for the open end of bucket 0 (negatives)."""
        if bucket == 0:
            return None, 0
        exact = 2 << self.bits
        if bucket - 1 < exact:
            return bucket - 1, bucket
        rest = bucket - 1 - exact
        power = rest // (1 << self.bits) + self.bits + 1
        step = 1 << (power - self.bits)
        low = (1 << power) + (rest % (1 << self.bits)) * step
        return low, low + step


@dataclass(frozen=True, slots=True)
class Lhist(Aggregation):
    """lhist(): a linear histogram from min to max in steps of step."""

    min: int = 0
    max: int = 0
    step: int = 1

    @property
    def function(self) -> str:
        return "lhist"

    @property
    def buckets(self) -> int:
        """Buckets between min and max; bucket 0 is below min, buckets + 1 at or above max."""
        return -(-(self.max - self.min) // self.step)

    def bounds(self, bucket: int) -> tuple[int | None, int | None]:
        """[low, high) of a bucket; None for an open end (below min, at or above max)."""
        if bucket == 0:
            return None, self.min
        if bucket > self.buckets:
            return self.max, None
        low = self.min + (bucket - 1) * self.step
        return low, min(low + self.step, self.max)


@dataclass(frozen=True, slots=True)
class TSeries(Aggregation):
    """tseries(n, interval, intervals[, agg]): the last `intervals` intervals of
    `interval` ns, each holding the last value recorded in it, or its avg, max,
    min or sum (`agg`).

    Each interval is an entry of its own: the key, then the slot (the epoch,
    time / interval, modulo `intervals`), holding three words: the value, a
    word the aggregation keeps (the time of the value, how many values, or
    whether there is one) and the epoch; an epoch of 0 marks a slot unused.
    """

    interval: int = 1
    intervals: int = 1
    agg: str = ""  # "" (the last value), "avg", "max", "min" or "sum"
    signed: bool = True

    @property
    def function(self) -> str:
        return "tseries"

    @property
    def size(self) -> int:
        return 24


def merge(a: Type, b: Type) -> Type | None:
    """The type holding values of both a and b, or None if they do not mix."""
    if a == b:
        return a
    if isinstance(a, Enum) or isinstance(b, Enum):  # an enum with other values: an integer
        a, b = (Int(x.bits, x.signed) if isinstance(x, Enum) else x for x in (a, b))
    if isinstance(a, Int) and isinstance(b, Int):
        # wide enough for both: 64 unsigned bits hold any unsigned value
        if (not a.signed and a.bits == 64) or (not b.signed and b.bits == 64):
            return UINT64
        if a.signed != b.signed:  # int8 and uint8 need int16 to hold both
            signed, unsigned = (a, b) if a.signed else (b, a)
            if unsigned.bits >= signed.bits:
                return Int(min(64, 2 * unsigned.bits), True)
            return signed
        return Int(max(a.bits, b.bits), a.signed or b.signed)
    if isinstance(a, Int | Pointer) and isinstance(b, Int | Pointer | Bool):
        return a
    if isinstance(a, Bool) and isinstance(b, Int | Pointer):
        return b
    if isinstance(a, Bool) and isinstance(b, Bool):
        return a
    if isinstance(a, Str) and isinstance(b, Str):
        # A read string copied into a larger buffer can no longer fill it.
        capacity = max(a.capacity, b.capacity)
        trailers = [s.trailer for s in (a, b) if s.capacity == capacity]
        return Str(capacity, max(trailers))
    if isinstance(a, Tuple) and isinstance(b, Tuple) and len(a.elements) == len(b.elements):
        merged = [merge(x, y) for x, y in zip(a.elements, b.elements, strict=True)]
        if any(m is None for m in merged):
            return None
        return Tuple(tuple(m for m in merged if m is not None))
    if isinstance(a, Record) and isinstance(b, Record) and sorted(a.names) == sorted(b.names):
        # Fields match by name, in any order; a's order is kept.
        fields = [merge(x, b.field(name)) for name, x in zip(a.names, a.elements, strict=True)]
        if any(m is None for m in fields):
            return None
        return Record(a.names, tuple(m for m in fields if m is not None))
    if isinstance(a, Array) and isinstance(b, Array) and a.count == b.count:
        # Elements of the same width mix (pointers to one struct known through
        # two type tables); wider ones would change the array's layout.
        element = merge(a.element, b.element)
        if element is None or c_width(element) != c_width(a.element):
            return None
        return Array(element, a.count)
    if isinstance(a, Aggregation) and type(a) is type(b):
        return a if a == b else None
    return None


INT64 = Int(64, True)
UINT64 = Int(64, False)
UINT32 = Int(32, False)
INT32 = Int(32, True)
BOOL = Bool()
VOID = Void()

# Named integer types a script may write in casts and declarations.
NAMED_TYPES: dict[str, Type] = {
    "bool": BOOL,
    "int8": Int(8, True), "int16": Int(16, True), "int32": INT32, "int64": INT64,
    "uint8": Int(8, False), "uint16": Int(16, False), "uint32": UINT32, "uint64": UINT64,
    "char": Int(8, True), "unsigned char": Int(8, False), "signed char": Int(8, True),
    "short": Int(16, True), "unsigned short": Int(16, False),
    "int": INT32, "unsigned int": UINT32, "unsigned": UINT32, "signed": INT32,
    "long": INT64, "unsigned long": UINT64, "long long": INT64,
    "unsigned long long": UINT64,
}


_C_INTEGER_WORDS = frozenset({"signed", "unsigned", "char", "short", "int", "long"})


def c_integer_name(words: list[str]) -> str:
    """An integer type as NAMED_TYPES spells it, from C's words in any order:
    `long unsigned int` is "unsigned long", `short int` "short", `signed` "int".
    Words that make no integer type (`void`, `short long`) are joined as written."""
    count = {w: words.count(w) for w in _C_INTEGER_WORDS}
    size = ("char" if count["char"] else "short" if count["short"]
            else " ".join(["long"] * count["long"]) or "int")
    if (not words or not set(words) <= _C_INTEGER_WORDS or count["signed"] + count["unsigned"] > 1
            or count["char"] + count["short"] + bool(count["long"]) > 1 or count["long"] > 2
            or count["int"] > 1 or (count["char"] and count["int"])):
        return " ".join(words)
    if count["unsigned"]:
        return f"unsigned {size}"
    return f"signed {size}" if size == "char" and count["signed"] else size
