"""Stacks and symbols: stack ids → frames → "symbol+offset" lines; ksym and usym.

Symbols come from bcc's symbol caches: one for the kernel, one per process
for user stacks (built while the process lives, kept for the run, so a
process that has exited by the time its stacks print still resolves if its
stacks were seen before). Printing a stack needs the stack-trace maps of the
run, so the session installs its reader with `use()`.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ptrace.runtime.libbcc import BccSymbol, Libraries, load_symbols

from ptrace.types import types as t

if TYPE_CHECKING:  # the DWARF reader is imported only with show_debug_info
    from ptrace.dwarf import SourceFrame

KERNEL = -1


@dataclass(frozen=True, slots=True)
class StackRef:
    """A kstack/ustack value as decoded: where it is, and how to print it."""

    stack_id: int
    pid: int
    type: t.Stack


@dataclass(frozen=True, slots=True)
class UserSymbol:
    """A usym() value as decoded: a user-space address of a process."""

    address: int
    pid: int


class Symbolizer:
    def __init__(self) -> None:
        self._lib: Any = None
        self._caches: dict[int, int | None] = {}

    def resolve(self, address: int, pid: int = KERNEL) -> tuple[str, int, str] | None:
        """(symbol, offset, module) for an address, or None."""
        cache = self._cache(pid)
        if not cache:
            return None
        symbol = BccSymbol()
        if self._lib.bcc_symcache_resolve(cache, address, ctypes.byref(symbol)) != 0 \
                or not symbol.name:
            return None
        module = ctypes.string_at(symbol.module).decode(errors="replace") if symbol.module \
            else ""
        return symbol.name.decode(errors="replace"), int(symbol.offset), module

    def remember(self, pid: int) -> None:
        """Build a process's symbol cache now, while it lives (it reads its mappings)."""
        self._cache(pid)

    def _cache(self, pid: int) -> int | None:
        if pid not in self._caches:
            if self._lib is None:
                self._lib = load_symbols()
            self._caches[pid] = self._lib.bcc_symcache_new(pid, None) or None
        return self._caches[pid]

    def close(self) -> None:
        for pid, cache in self._caches.items():
            if cache:
                self._lib.bcc_free_symcache(cache, pid)
        self._caches.clear()


# One symbolizer for the process: symbol caches are costly to build.
SYMBOLS = Symbolizer()


class StackReader:
    def __init__(self, libs: Libraries, map_fds: dict[int, int],
                 debug_dirs: tuple[str, ...] | None = None):
        self.libs = libs
        self.map_fds = map_fds  # frame limit → stack-trace map fd
        self.symbols = SYMBOLS
        # show_debug_info: user frames from debug information (found in these
        # directories first); None: symbols only.
        self.debug_dirs = debug_dirs

    def frames(self, ref: StackRef) -> list[int]:
        if ref.stack_id < 0 or ref.type.limit not in self.map_fds:
            return []
        key = ctypes.c_uint32(ref.stack_id)
        buf = (ctypes.c_uint64 * ref.type.limit)()
        if self.libs.bcc.bpf_lookup_elem(self.map_fds[ref.type.limit], ctypes.byref(key),
                                         buf) != 0:
            return []
        return [address for address in buf if address]

    def render(self, ref: StackRef) -> str:
        """The stack as bpftrace prints it: a newline, then a line per frame."""
        pid = ref.pid if ref.type.user else KERNEL
        lines = []
        for index, address in enumerate(self.frames(ref)):
            if ref.type.mode == "raw":
                lines.append(f"{address:x}")
                continue
            found = self.symbols.resolve(address, pid)
            if ref.type.mode == "build_id":
                from ptrace.debuginfo import file_location

                place = file_location(found[2], found[0], found[1]) if found and found[2] \
                    else None
                lines.append(f"{place[0]} 0x{place[1]:x}" if place else f"{address:x}")
                continue
            source = self.source(found, index) if ref.type.user and found else []
            if ref.type.mode == "perf":
                # bpftrace 0.26 names a user frame's file; a kernel frame has no suffix.
                lines.extend(f"\t{address:x} {f.function} (inlined)" for f in source[:-1])
                if found:
                    where = f"{found[0]}+{found[1]}" + (f" ({found[2]})" if ref.type.user
                                                        else "")
                else:
                    where = "[unknown]" if ref.type.user else unresolved(address)
                lines.append(f"\t{address:x} {where}")
            else:
                lines.extend(f"{' ' * 8}[inlined] {f.function}@{f.file}:{f.line}"
                             for f in source[:-1])
                at = f"@{source[-1].file}:{source[-1].line}" if source else ""
                lines.append(" " * 8 + (f"{found[0]}+{found[1]}{at}" if found
                                        else f"0x{address:x}"))
        return "\n" + "".join(line + "\n" for line in lines)

    def source(self, found: tuple[str, int, str], index: int) -> list[SourceFrame]:
        """With show_debug_info, where a user frame is in the source: the
        functions inlined there, then the frame's own function; a return
        address (every frame but the first) is looked up at the call before it."""
        name, offset, module = found
        if self.debug_dirs is None or not module:
            return []
        from ptrace import dwarf
        from ptrace.debuginfo import function_address

        start = function_address(module, name, self.debug_dirs)
        try:
            info = dwarf.debug_info(module, self.debug_dirs) if start is not None else None
        except dwarf.DwarfError:
            return []
        if info is None or start is None:
            return []
        return info.source_frames(start + offset - (1 if index else 0))

_current: StackReader | None = None


def use(reader: StackReader | None) -> None:
    """Install the run's reader (None at the end of the run)."""
    global _current
    _current = reader


def render(ref: StackRef) -> str:
    return _current.render(ref) if _current is not None else f"<stack {ref.stack_id}>"


def frames(ref: StackRef) -> list[int]:
    """The addresses of a stack's frames, innermost first (none outside a run)."""
    return _current.frames(ref) if _current is not None else []


def unresolved(address: int) -> str:
    """An address in no symbol, as bpftrace prints it (a C++ stream's pointer:
    `0x1234`, but `0` for 0)."""
    return f"0x{address:x}" if address else "0"


def ksym(address: int) -> str:
    """The kernel symbol an address belongs to (its hex form if none)."""
    found = SYMBOLS.resolve(address)
    return found[0] if found else unresolved(address)


def usym(value: UserSymbol) -> str:
    """The symbol a user-space address falls in, as bpftrace's usym() prints it
    (without the offset); its hex form if none (the process exited before its
    symbols were read, or the address is in no symbol)."""
    found = SYMBOLS.resolve(value.address, value.pid)
    return found[0] if found else unresolved(value.address)
