"""What the compiler needs to know about the machine, read-only.

Compiling touches no kernel state: tracepoint lists and formats come through
a `Machine`. `LiveMachine` reads tracefs; tests pass a `FixtureMachine` built
from format texts, so most of the compiler runs without root.
"""

from __future__ import annotations

import fnmatch
import functools
import glob
import os
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

from ptrace import archive

if TYPE_CHECKING:
    from ptrace.elf import Symbol
    from ptrace.types.btf import Btf
    from ptrace.usdt import UsdtProbe

TRACEFS_ROOTS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
# The syscall numbers of x86_64, from the kernel's UAPI header (Debian's
# linux-libc-dev). Syscalls newer than the header are simply not in the table.
UNISTD_X86_64 = (Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
                 Path("/usr/include/asm/unistd_64.h"))
# x86_64 syscalls newer than Debian 12's header (its last is 450), checked on
# Linux 6.18 by calling each number and seeing its tracepoint fire: without a
# number, a syscall wildcard attaches each of them as a tracepoint of its own,
# and detaching one costs the kernel tens of milliseconds.
NEWER_SYSCALLS_X86_64 = {
    "uretprobe": 335, "uprobe": 336, "cachestat": 451, "fchmodat2": 452, "futex_wake": 454,
    "futex_wait": 455, "futex_requeue": 456, "statmount": 457, "listmount": 458,
    "lsm_get_self_attr": 459, "lsm_set_self_attr": 460, "lsm_list_modules": 461, "mseal": 462,
    "setxattrat": 463, "getxattrat": 464, "listxattrat": 465, "removexattrat": 466,
    "open_tree_attr": 467, "file_getattr": 468, "file_setattr": 469,
}


# Records are NamedTuples, not dataclasses: `ptrace -l` need not import dataclasses.
class TracepointField(NamedTuple):
    """One field of a tracepoint's record, from its format file."""

    name: str
    ctype: str  # the C type as written, without the field name: "const char *", "char[16]"
    offset: int
    size: int
    signed: bool

    @property
    def is_data_loc(self) -> bool:
        return self.ctype.startswith("__data_loc")


class TracepointFormat(NamedTuple):
    category: str
    name: str
    fields: tuple[TracepointField, ...]  # without the common_* header fields

    def field(self, name: str) -> TracepointField | None:
        return next((f for f in self.fields if f.name == name), None)


class Machine(Protocol):
    def tracepoints(self) -> list[tuple[str, str]]:
        """Every (category, event) pair the kernel offers."""
        ...

    def tracepoint_format(self, category: str, event: str) -> TracepointFormat | None: ...

    def syscall_numbers(self) -> dict[str, int]:
        """Syscall name → number on this machine's architecture (x86_64), or empty."""
        ...

    def possible_cpus(self) -> int:
        """How many CPUs the machine may have: per-CPU values have a slot for each."""
        ...

    def resolve_binary(self, name: str) -> str | None:
        """A path as written, a program on PATH, or a library by name ("libc")."""
        ...

    def function_symbols(self, path: str) -> list[Symbol] | None:
        """The function symbols of a binary, or None if it cannot be read as ELF."""
        ...

    def binary_symbols(self, path: str) -> list[Symbol] | None:
        """The function and variable symbols of a binary (uaddr), or None if it
        cannot be read as ELF."""
        ...

    def usdt_probes(self, path: str) -> list[UsdtProbe] | None:
        """The USDT probe sites of a binary, or None if it cannot be read as ELF."""
        ...

    def process_binaries(self, pid: int) -> list[str] | None:
        """The executable of a running process, then the other files it has mapped
        executable (its libraries); None if there is no such process."""
        ...

    def btf(self) -> Btf | None:
        """The running kernel's types (BTF), or None where the kernel has none."""
        ...

    def kernel_symbol(self, name: str) -> int | None:
        """The address of a kernel symbol (/proc/kallsyms), or None."""
        ...

    def file_inode(self, path: str) -> int | None:
        """The inode number of a file or directory (a cgroup's id), or None."""
        ...

    def traceable_functions(self) -> list[tuple[str, str]] | None:
        """The kernel functions kprobes can attach to, as (module, function)
        (module "" for the kernel itself), or None where the list is unreadable."""
        ...

    def uprobe_multi(self) -> bool:
        """Whether the kernel attaches one program to many uprobes through one
        uprobe_multi link (Linux 6.6 and later)."""
        ...

    def kernel_modules(self) -> list[str]:
        """The kernel ("vmlinux") and its loaded modules, by the BTF each has."""
        ...

    def in_code(self, path: str, address: int) -> bool | None:
        """Whether a virtual address of a binary lies in its code (an
        executable segment); None if the file cannot be read as ELF."""
        ...


KERNEL_BTF_DIR = "/sys/kernel/btf"  # vmlinux, and a file per loaded module
# The kernel release that brought uprobe_multi links.
UPROBE_MULTI_SINCE = (6, 6)


def match_tracepoints(machine: Machine, category: str, event: str) -> list[tuple[str, str]]:
    """The tracepoints matching glob patterns for the category and event, sorted.
    A name without a pattern is looked up alone: listing the ~2,000 tracepoints
    costs milliseconds."""
    if not any(c in "*?[" for c in category + event):
        known = (category not in UNATTACHABLE_CATEGORIES
                 and machine.tracepoint_format(category, event) is not None)
        return [(category, event)] if known else []
    return sorted((c, e) for c, e in machine.tracepoints()
                  if fnmatch.fnmatchcase(c, category) and fnmatch.fnmatchcase(e, event))


_FIELD = re.compile(r"^\s*field:(?P<decl>[^;]*);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);"
                    r"\s*signed:(?P<signed>\d+);")
_DECL = re.compile(r"^(?P<type>.*?)\s*\b(?P<name>[A-Za-z_]\w*)\s*(?P<array>\[[^\]]*\])?$")


def parse_format(category: str, event: str, text: str) -> TracepointFormat:
    """Parse the text of a tracefs `format` file."""
    fields: list[TracepointField] = []
    for line in text.splitlines():
        m = _FIELD.match(line)
        if not m:
            continue
        decl = _DECL.match(m["decl"].strip())
        if not decl:
            continue
        name = decl["name"]
        if name.startswith("common_"):
            continue
        ctype = decl["type"].strip()
        if decl["array"]:
            ctype += decl["array"].replace(" ", "")
        fields.append(TracepointField(name, ctype, int(m["offset"]), int(m["size"]),
                                      m["signed"] == "1"))
    return TracepointFormat(category, event, tuple(fields))


def tracefs_root() -> Path | None:
    for root in TRACEFS_ROOTS:
        # os.path.isdir says False where Path.is_dir raises (tracefs is root-only).
        if os.path.isdir(root / "events"):
            return root
    return None


# Tracepoint categories whose events have a format but cannot be attached:
# ftrace's own events (function, print, …) have no `enable` file, and
# perf_event_open refuses them (EINVAL). They are neither listed nor expanded.
UNATTACHABLE_CATEGORIES = frozenset({"ftrace"})


class LiveMachine:
    """Reads this machine's tracefs. Results are cached for the process."""

    @functools.cache  # noqa: B019 - one LiveMachine lives for the whole process
    def tracepoints(self) -> list[tuple[str, str]]:
        root = tracefs_root()
        if root is None:
            return []
        # available_events, `category:event` a line: one read, where listing the
        # events directory takes one per category (~100).
        with open(root / "available_events") as f:
            pairs = [line.rstrip("\n").partition(":") for line in f]
        return [(c, e) for c, _, e in pairs if e and c not in UNATTACHABLE_CATEGORIES]

    def tracepoint_format(self, category: str, event: str) -> TracepointFormat | None:
        root = tracefs_root()
        if root is None:
            return None
        try:
            text = (root / "events" / category / event / "format").read_text()
        except OSError:
            return None
        return parse_format(category, event, text)

    @functools.cache  # noqa: B019 - one LiveMachine lives for the whole process
    def syscall_numbers(self) -> dict[str, int]:
        if os.uname().machine != "x86_64":  # (platform.machine(), without importing it)
            return {}
        for path in UNISTD_X86_64:
            try:
                return {**NEWER_SYSCALLS_X86_64, **parse_unistd(path.read_text())}
            except OSError:
                continue
        return {}

    @functools.cache  # noqa: B019 - one LiveMachine lives for the whole process
    def possible_cpus(self) -> int:
        with open("/sys/devices/system/cpu/possible") as f:
            return len(cpu_list(f.read()))

    def resolve_binary(self, name: str) -> str | None:
        return find_binary(name)

    @functools.cache  # noqa: B019 - one LiveMachine lives for the whole process
    def function_symbols(self, path: str) -> list[Symbol] | None:
        return read_function_symbols(path)

    @functools.cache  # noqa: B019 - one LiveMachine lives for the whole process
    def binary_symbols(self, path: str) -> list[Symbol] | None:
        return read_binary_symbols(path)

    @functools.cache  # noqa: B019 - one LiveMachine lives for the whole process
    def usdt_probes(self, path: str) -> list[UsdtProbe] | None:
        return read_usdt_probes(path)

    def process_binaries(self, pid: int) -> list[str] | None:
        return process_binaries(pid)

    @functools.cache  # noqa: B019 - one LiveMachine lives for the whole process
    def btf(self) -> Btf | None:
        from ptrace.types.btf import VMLINUX, Btf, BtfError

        try:
            return Btf.load(VMLINUX)
        except (OSError, BtfError):
            return None

    def kernel_symbol(self, name: str) -> int | None:
        return kallsyms_address(name)

    def file_inode(self, path: str) -> int | None:
        return file_inode(path)

    def traceable_functions(self) -> list[tuple[str, str]] | None:
        root = tracefs_root()
        return read_traceable_functions(root / "available_filter_functions") if root else None

    def in_code(self, path: str, address: int) -> bool | None:
        return binary_in_code(path, address)

    def kernel_modules(self) -> list[str]:
        try:
            return sorted(os.listdir(KERNEL_BTF_DIR))
        except OSError:
            return ["vmlinux"]

    def uprobe_multi(self) -> bool:
        release = re.match(r"(\d+)\.(\d+)", os.uname().release)
        return release is not None and (int(release[1]), int(release[2])) >= UPROBE_MULTI_SINCE


def read_traceable_functions(path: Path) -> list[tuple[str, str]] | None:
    """available_filter_functions as (module, function): `vfs_read`, `f [mod]`."""
    try:
        text = path.read_text()
    except OSError:
        return None
    found = []
    for line in text.splitlines():
        name, _, module = line.partition(" ")
        found.append((module.strip().strip("[]"), name))
    return found


def kallsyms_address(name: str, path: str = "/proc/kallsyms") -> int | None:
    """A symbol's address in a kallsyms listing (`ffffffff81000000 T _stext`)."""
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2] == name:
                    return int(parts[0], 16) or None
    except OSError:
        return None
    return None


def file_inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return None


# Syscall tracepoints are named after the kernel function (SYSCALL_DEFINE),
# which differs from the UAPI name for a few syscalls: tracepoint → UAPI name.
TRACEPOINT_SYSCALL_NAMES = {"newstat": "stat", "newfstat": "fstat", "newlstat": "lstat",
                            "newuname": "uname", "sendfile64": "sendfile", "umount": "umount2"}


LIBRARY_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
                "/lib", "/usr/lib", "/usr/local/lib")


def find_binary(name: str) -> str | None:
    """Where `name` is: as written if it has a '/', else on PATH, else a library
    in the usual directories (`libc` → …/libc.so.6), else a library by the
    name the dynamic linker's cache gives it (its soname: `libc.so.6`)."""
    in_archive = archive.split(name)
    if in_archive is not None:  # its member is looked up by the uprobe's expander
        return name if os.path.isfile(in_archive[0]) else None
    if "/" in name:
        return name if os.path.isfile(name) else None
    import shutil  # (with bz2, lzma, …: only for a binary's name)

    found = shutil.which(name)
    if found:
        return found
    stem = name if name.startswith("lib") else "lib" + name
    for directory in LIBRARY_DIRS:
        # lib.so.N first: a plain lib.so is often a linker script, not ELF. The
        # name is not a pattern: `lib*` is no library.
        for path in (*sorted(glob.glob(f"{directory}/{glob.escape(stem)}.so.*")),
                     f"{directory}/{stem}.so"):
            if _is_elf(path):
                return path
    return ld_cache_path(name)


LD_CACHE = "/etc/ld.so.cache"
_LD_CACHE_MAGIC = b"glibc-ld.so.cache1.1"
_LD_CACHE_ENTRY = struct.Struct("<iIIIQ")  # flags, name, path, OS version, hwcap
_LD_CACHE_HEADER = 48  # magic, count, string table size, flags, extension offset, unused


def ld_cache_path(name: str, cache: str = LD_CACHE) -> str | None:
    """The path the dynamic linker's cache (ldconfig's, the format glibc has
    written since 2.32) gives the library `name`, if it is an ELF file."""
    try:
        with open(cache, "rb") as f:
            data = f.read()
    except OSError:
        return None
    start = data.find(_LD_CACHE_MAGIC)
    if start < 0:
        return None
    (count,) = struct.unpack_from("<I", data, start + len(_LD_CACHE_MAGIC))
    wanted = name.encode()
    for i in range(count):
        at = start + _LD_CACHE_HEADER + i * _LD_CACHE_ENTRY.size
        if at + _LD_CACHE_ENTRY.size > len(data):
            break
        _flags, key, value, _os, _hwcap = _LD_CACHE_ENTRY.unpack_from(data, at)
        if data[start + key:data.find(b"\0", start + key)] != wanted:
            continue
        path = os.fsdecode(data[start + value:data.find(b"\0", start + value)])
        if _is_elf(path):
            return path
    return None


def _is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


# The ELF reader is imported by the functions that read binaries: a run that
# reads none (a program from the compile cache, -l of tracepoints) skips it.

def binary_in_code(path: str, address: int) -> bool | None:
    """Whether an address of a binary is in an executable segment; None for a
    file that is not ELF."""
    from ptrace.elf import ElfError, in_code

    try:
        data = archive.read_binary(path)
        return in_code(data, address) if data[:4] == b"\x7fELF" else None
    except (OSError, ElfError, struct.error):
        return None


def read_function_symbols(path: str) -> list[Symbol] | None:
    from ptrace.elf import function_symbols

    return _read_symbols(path, function_symbols)


def read_binary_symbols(path: str) -> list[Symbol] | None:
    from ptrace.elf import symbols

    return _read_symbols(path, symbols)


def _read_symbols(path: str, parse: Callable[[bytes], list[Symbol]]) -> list[Symbol] | None:
    """What `parse` finds in a binary's symbol tables; None if it is not a readable ELF."""
    from ptrace.elf import ElfError

    try:
        return parse(archive.read_binary(path))
    except (OSError, ElfError, struct.error, ValueError):
        return None


def process_binaries(pid: int, proc: str = "/proc") -> list[str] | None:
    """The files a process has mapped executable (`/proc/PID/maps`), its own
    executable first. A file the process sees at a path that is another file
    (or none) here, in another mount namespace, is named through the
    process's root: `/proc/PID/root/PATH`."""
    try:
        exe = os.readlink(f"{proc}/{pid}/exe")
        with open(f"{proc}/{pid}/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    paths = [exe]
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and "x" in fields[1] and fields[5].startswith("/") \
                and fields[5] not in paths and not fields[5].endswith(" (deleted)"):
            paths.append(fields[5])
    return [_seen_from_here(path, f"{proc}/{pid}/root{path}") for path in paths]


def _seen_from_here(path: str, theirs: str) -> str:
    """`path` where it is the same file as the process's `theirs`, else `theirs`."""
    try:
        other = os.stat(theirs)
    except OSError:
        return path  # the process is gone, or its root cannot be read
    try:
        mine = os.stat(path)
    except OSError:
        return theirs
    return path if (mine.st_dev, mine.st_ino) == (other.st_dev, other.st_ino) else theirs


def read_usdt_probes(path: str) -> list[UsdtProbe] | None:
    from ptrace.elf import ElfError
    from ptrace.usdt import read_probes  # its types are needed by usdt probes only

    try:
        return read_probes(path)
    except (OSError, ElfError):
        return None


def cpu_list(text: str) -> list[int]:
    """The CPUs of a sysfs list such as "0-3,6"."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        low, _, high = part.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def parse_unistd(text: str) -> dict[str, int]:
    """`#define __NR_openat 257` lines → {"openat": 257}, with tracepoint names added."""
    numbers = {m[1]: int(m[2]) for m in re.finditer(r"^#define __NR_(\w+)\s+(\d+)\s*$",
                                                    text, re.MULTILINE)}
    for tracepoint_name, uapi_name in TRACEPOINT_SYSCALL_NAMES.items():
        if uapi_name in numbers:
            numbers[tracepoint_name] = numbers[uapi_name]
    return numbers


class FixtureMachine:
    """A machine described by format texts, for tests: {(category, event): format text}."""

    def __init__(self, formats: dict[tuple[str, str], str], syscalls: dict[str, int] | None = None,
                 cpus: int = 4, kernel_types: Btf | None = None,
                 symbols: dict[str, int] | None = None,
                 traceable: list[tuple[str, str]] | None = None,
                 processes: dict[int, list[str]] | None = None,
                 uprobe_multi_links: bool = True, modules: list[str] | None = None):
        self.formats = formats
        self.syscalls = syscalls or {}
        self.cpus = cpus
        self.kernel_types = kernel_types
        self.symbols = symbols or {}  # kernel symbol → address
        self.traceable = traceable  # (module, function) kprobes reach
        self.processes = processes or {}  # pid → mapped binaries
        self.uprobe_multi_links = uprobe_multi_links
        self.modules = modules if modules is not None else ["vmlinux"]

    def tracepoints(self) -> list[tuple[str, str]]:
        return list(self.formats)

    def tracepoint_format(self, category: str, event: str) -> TracepointFormat | None:
        text = self.formats.get((category, event))
        return parse_format(category, event, text) if text is not None else None

    def syscall_numbers(self) -> dict[str, int]:
        return self.syscalls

    def possible_cpus(self) -> int:
        return self.cpus

    def resolve_binary(self, name: str) -> str | None:
        return find_binary(name)

    def function_symbols(self, path: str) -> list[Symbol] | None:
        return read_function_symbols(path)

    def binary_symbols(self, path: str) -> list[Symbol] | None:
        return read_binary_symbols(path)

    def usdt_probes(self, path: str) -> list[UsdtProbe] | None:
        return read_usdt_probes(path)

    def process_binaries(self, pid: int) -> list[str] | None:
        return self.processes.get(pid)

    def btf(self) -> Btf | None:
        return self.kernel_types

    def kernel_symbol(self, name: str) -> int | None:
        return self.symbols.get(name)

    def file_inode(self, path: str) -> int | None:
        return file_inode(path)

    def traceable_functions(self) -> list[tuple[str, str]] | None:
        return self.traceable

    def uprobe_multi(self) -> bool:
        return self.uprobe_multi_links

    def kernel_modules(self) -> list[str]:
        return self.modules

    def in_code(self, path: str, address: int) -> bool | None:
        return binary_in_code(path, address)
