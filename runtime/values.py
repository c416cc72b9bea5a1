"""Bytes written by BPF programs → Python values, by their ptrace type.

The layout is the one `ptrace.types.types` defines: 8 bytes per integer,
bool and pointer alone, strings in fixed buffers, tuples and records as C
lays out a struct of their elements.
"""

from __future__ import annotations

import functools
import os
import pwd
import signal
import time
from collections.abc import Callable
from typing import Any

from ptrace.runtime import stacks

from ptrace.types import types as t

Value = Any  # int | bool | str | tuple of Value


def decode(data: bytes | memoryview, offset: int, vtype: t.Type) -> Value:
    if isinstance(vtype, t.Int):
        raw = int.from_bytes(data[offset:offset + 8], "little", signed=vtype.signed)
        return raw
    if isinstance(vtype, t.Bool):
        return data[offset] != 0
    if isinstance(vtype, t.Pointer):
        return int.from_bytes(data[offset:offset + 8], "little")
    if isinstance(vtype, t.Formatted):
        return int.from_bytes(data[offset:offset + 8], "little", signed=True)
    if isinstance(vtype, t.Str):
        buffer = bytes(data[offset:offset + vtype.capacity])
        text = decode_str(buffer)
        if vtype.trailer and buffer.find(b"\0") in (-1, vtype.capacity - 1):  # it fills the buffer
            text += vtype.trailer
        return text
    if isinstance(vtype, t.Tuple | t.Record):
        return tuple(decode_c(data, offset + off, e)
                     for off, e in zip(vtype.offsets, vtype.elements, strict=True))
    if isinstance(vtype, t.StructValue):
        return tuple(decode_member(data, offset, m) for m in vtype.members)
    if isinstance(vtype, t.Array):
        size = vtype.element_size
        return tuple(decode_c(data, offset + i * size, vtype.element) for i in range(vtype.count))
    if isinstance(vtype, t.Buf):
        length = min(int.from_bytes(data[offset:offset + 8], "little"), vtype.capacity)
        return bytes(data[offset + 8:offset + 8 + length])
    if isinstance(vtype, t.Inet):
        family = int.from_bytes(data[offset:offset + 8], "little")
        return family, bytes(data[offset + 8:offset + 24])
    if isinstance(vtype, t.Usym):
        return stacks.UserSymbol(int.from_bytes(data[offset:offset + 8], "little"),
                                 int.from_bytes(data[offset + 8:offset + 16], "little"))
    if isinstance(vtype, t.Stack):
        stack_id = int.from_bytes(data[offset:offset + 8], "little", signed=True)
        pid = int.from_bytes(data[offset + 8:offset + 16], "little")
        return stacks.StackRef(stack_id, pid, vtype)
    raise AssertionError(f"cannot decode {vtype}")


def decode_member(data: bytes | memoryview, offset: int, member: t.Member) -> Value:
    """A member of a struct held by value: a bitfield by its bits, anything
    else as C lays it out."""
    if not member.bit_size:
        return decode_c(data, offset + member.offset, member.type)
    start = offset + member.offset
    raw = int.from_bytes(data[start:start + member.width], "little")
    raw = (raw >> member.bit_shift) & ((1 << member.bit_size) - 1)
    if isinstance(member.type, t.Int) and member.type.signed and raw >> (member.bit_size - 1):
        raw -= 1 << member.bit_size
    return raw


def decode_c(data: bytes | memoryview, offset: int, vtype: t.Type) -> Value:
    """A value laid out as C does (a struct's member, an array's element, a
    tuple's element): an integer or a bool of its own width, anything else as
    it is decoded alone."""
    if isinstance(vtype, t.Bool):
        return data[offset] != 0
    if isinstance(vtype, t.Int):
        width = vtype.bits // 8
        return int.from_bytes(data[offset:offset + width], "little", signed=vtype.signed)
    return decode(data, offset, vtype)


def decode_str(raw: bytes) -> str:
    end = raw.find(b"\0")
    if end >= 0:
        raw = raw[:end]
    # surrogateescape keeps bytes that are not UTF-8; output writes them back as they were.
    return raw.decode("utf-8", "surrogateescape")


def format_value(value: Value, vtype: t.Type) -> str:
    """A value's text form, as bpftrace prints it in maps and with %s."""
    if isinstance(vtype, t.Enum):
        return vtype.symbol(value)
    if isinstance(vtype, t.Bool):
        return "true" if value else "false"
    if isinstance(vtype, t.Pointer):
        return f"0x{value:x}"
    if isinstance(vtype, t.Formatted):
        return format_special(value, vtype)
    if isinstance(vtype, t.Stack):
        return stacks.render(value)
    if isinstance(vtype, t.Usym):
        return stacks.usym(value)
    if isinstance(vtype, t.Str):
        return str(value)
    if isinstance(vtype, t.Array):
        return "[" + ",".join(format_value(v, vtype.element) for v in value) + "]"
    if isinstance(vtype, t.Inet):
        return format_inet(*value)
    if isinstance(vtype, t.Buf):
        return escape_bytes(value)
    if isinstance(vtype, t.Tuple):
        return "(" + ", ".join(format_value(v, e)
                               for v, e in zip(value, vtype.elements, strict=True)) + ")"
    if isinstance(vtype, t.Record | t.StructValue):
        fields = ", ".join(f".{name} = {format_value(v, e)}"
                           for name, v, e in zip(vtype.names, value, vtype.elements,
                                                 strict=True))
        return "{ " + fields + " }"
    return str(value)


def format_key(value: Value, ktype: t.Type) -> str:
    """A map key inside `@name[…]`: a tuple key loses its outer parentheses."""
    text = format_value(value, ktype)
    if isinstance(ktype, t.Tuple):
        return text[1:-1]
    return text


def sort_key(value: Value) -> Any:
    """Orders keys: numbers numerically, strings as text, tuples field by field."""
    if isinstance(value, tuple):
        return tuple(sort_key(v) for v in value)
    if isinstance(value, bool | int):
        return (0, int(value), "")
    if isinstance(value, stacks.StackRef):
        return (0, value.stack_id, "")
    if isinstance(value, stacks.UserSymbol):
        return (0, value.address, "")
    return (1, 0, str(value))


def escape_bytes(data: bytes) -> str:
    """A buffer as %r prints it: printable ASCII as is, other bytes as \\xNN."""
    return "".join(chr(b) if 0x20 <= b <= 0x7E else f"\\x{b:02x}" for b in data)


def format_inet(family: int, address: bytes) -> str:
    """An address from ntop(): dotted for AF_INET, RFC 5952 text for AF_INET6."""
    import socket  # (with selectors, …: only where a script prints an address)

    if family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, address[:16])
    return socket.inet_ntop(socket.AF_INET, address[:4])


def format_special(value: int, vtype: t.Formatted) -> str:
    """A Formatted value's text, by its kind's formatter."""
    formatter = _FORMATTERS.get(vtype.kind)
    if formatter is None:
        raise AssertionError(f"no formatter for {vtype.kind}")
    return formatter(value, vtype.fmt)


def _local_time(value: int, fmt: str) -> str:
    """Nanoseconds since boot as a local time in a strftime format (%f: microseconds)."""
    seconds, nanos = divmod(value + boot_epoch_ns(), 10**9)
    return time.strftime(fmt.replace("%f", f"{nanos // 1000:06d}"), time.localtime(seconds))


def _cgroup_path(value: int, pattern: str) -> str:
    from ptrace.runtime.cgroups import CGROUPS  # only when a script names cgroups

    return CGROUPS.describe(value & 0xFFFFFFFFFFFFFFFF, pattern)


@functools.cache
def user_name(uid: int) -> str:
    """The login name of a uid, or the number where there is none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return str(uid)


# One formatter per kind: (the value, the type's fmt) → text.
_FORMATTERS: dict[t.FormatKind, Callable[[int, str], str]] = {
    t.FormatKind.STRERROR: lambda value, _: os.strerror(abs(value)),
    t.FormatKind.STRFTIME: _local_time,
    t.FormatKind.KSYM: lambda value, _: stacks.ksym(value & 0xFFFFFFFFFFFFFFFF),
    t.FormatKind.MACADDR: lambda value, _: ":".join(
        f"{b:02X}" for b in (value & 0xFFFFFFFFFFFF).to_bytes(6, "little")),
    t.FormatKind.USERNAME: lambda value, _: user_name(value),
    t.FormatKind.CGROUP_PATH: _cgroup_path,
    t.FormatKind.SYSCALL_NAME: lambda value, _: syscall_name(value),
    t.FormatKind.SIGNAL_NAME: lambda value, _: signal_name(value),
}


def boot_epoch_ns() -> int:
    """The wall-clock time of the boot clock's zero (what nsecs counts from)."""
    return time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def syscall_name(number: int) -> str:
    """A system call's name by its number on this machine, or the number."""
    return _syscall_names().get(number, str(number))


@functools.cache
def _syscall_names() -> dict[int, str]:
    from ptrace.machine import LiveMachine

    return {nr: name for name, nr in LiveMachine().syscall_numbers().items()}


SIGNAL_NUMBERS = range(65)  # what signal_name() describes: 0 to SIGRTMAX


def signal_name(number: int) -> str:
    """A signal's description as strsignal(3) gives it and bpftrace 0.26 prints
    it ("Interrupt" for 2, "Unknown signal 0"); "N/A" outside 0 to 64."""
    if number not in SIGNAL_NUMBERS:
        return "N/A"
    try:
        text = signal.strsignal(number)
    except ValueError:
        text = None
    return text or f"Unknown signal {number}"
