"""Create a CompiledProgram's maps and load its programs into the kernel.

Maps are referred to in the instructions by index (`ld_imm64` with
src_reg = BPF_PSEUDO_MAP_FD and imm = index); loading patches each index
into the fd of the map just created.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import struct
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field, replace

from ptrace.runtime.cpus import possible_cpus
from ptrace.runtime.errors import RuntimeFailure
from ptrace.runtime.libbcc import Libraries, ProgLoadOpts

from ptrace.bpf_abi import BPF_PSEUDO_MAP_FD, LD_IMM64, MapType, ProgType
from ptrace.probe_kinds import ProbeKind
from ptrace.program import BpfProgram, CompiledProgram, MapSpec

PARALLEL_CLOSE_MIN = 4
CLOSE_THREADS = 16
# What the verifier says when it cannot bound a loop.
UNBOUNDED_LOOP_SIGNS = ("infinite loop detected", "BPF program is too large",
                        "back-edge from insn", "jumps is too complex")


@dataclass
class Loaded:
    """File descriptors of a loaded program: close() releases all of them."""

    map_fds: list[int] = field(default_factory=list)
    prog_fds: list[int] = field(default_factory=list)
    btf_fds: list[int] = field(default_factory=list)  # the BTF of programs with callbacks

    def close(self) -> None:
        close_all(self.prog_fds)
        close_all(self.map_fds)
        close_all(self.btf_fds)


def close_all(fds: list[int]) -> None:
    """Close every fd in the list and empty it; one failing close stops none of the others.

    Closing an attached tracepoint's perf fd takes the kernel ~70 ms, so many
    are closed from several threads at once, which overlaps the waits.
    """
    def close(fd: int) -> None:
        with suppress(OSError):
            os.close(fd)

    if len(fds) > PARALLEL_CLOSE_MIN:
        from concurrent.futures import ThreadPoolExecutor  # (and logging: only for many fds)

        with ThreadPoolExecutor(max_workers=CLOSE_THREADS) as pool:
            list(pool.map(close, fds))
    else:
        for fd in fds:
            close(fd)
    fds.clear()


def load(libs: Libraries, program: CompiledProgram, verbose: bool = False,
         logs: list[str] | None = None) -> Loaded:
    """The program's maps created and its programs loaded; with `logs`, each
    program's verifier log (as the kernel accepted it) is added to it."""
    loaded = Loaded()
    try:
        _check_map_memory(program.maps)
        for spec in program.maps:
            fd = libs.bcc.bcc_create_map(int(spec.map_type), _object_name(spec.name).encode(),
                                         spec.key_size, spec.value_size,
                                         _entries(spec, possible_cpus()), 0)
            if fd < 0:
                raise RuntimeFailure(map_failure(spec, -fd))
            loaded.map_fds.append(fd)
            for key, value in spec.initial:
                if libs.bcc.bpf_update_elem(fd, key, value, 0) != 0:
                    raise RuntimeFailure(f"cannot fill map {spec.name}")
        for prog in program.programs:
            if prog.callbacks and not loaded.btf_fds:
                loaded.btf_fds.append(_load_function_btf(libs))
            loaded.prog_fds.append(_load_program(libs, prog, loaded.map_fds, verbose,
                                                 program.log_size, loaded.btf_fds,
                                                 program.license, logs))
    except BaseException:
        loaded.close()
        raise
    return loaded


def verifier_logs(libs: Libraries, program: CompiledProgram) -> list[str]:
    """-d verifier: each program's verifier log, program by program, as the
    kernel accepted it; everything loaded is closed again, nothing attached."""
    logs: list[str] = []
    load(libs, program, logs=logs).close()
    return logs


def reload_for_perf_event(libs: Libraries, loaded: Loaded, program: CompiledProgram,
                          index: int) -> int:
    """Load program `index` anew without its expected attach type (a
    uprobe_multi program, to be attached through perf events where the kernel
    refuses the multi link): its new fd, which replaces the old one."""
    prog = replace(program.programs[index], expected_attach_type=0)
    fd = _load_program(libs, prog, loaded.map_fds, False, program.log_size, loaded.btf_fds,
                       program.license)
    os.close(loaded.prog_fds[index])
    loaded.prog_fds[index] = fd
    return fd


# The kernel's preallocated hash maps: each entry is a struct htab_elem (40
# bytes on 64-bit machines) with the key and the value (a pointer to the
# per-CPU values in a per-CPU map) after it, one more entry for each CPU, and
# a 16-byte bucket for each entry rounded up to a power of two.
HTAB_ELEM = 40
HTAB_BUCKET = 16
HASH_TYPES = (MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
PERCPU_TYPES = (MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH)


def _entries(spec: MapSpec, ncpus: int) -> int:
    return ncpus if spec.per_cpu_entries else spec.max_entries


def map_memory(spec: MapSpec, ncpus: int) -> int:
    """About how many bytes of kernel memory creating the map takes at once
    (hash maps and arrays are allocated whole when they are created); 0 for
    the kinds that grow as they fill."""
    def round8(size: int) -> int:
        return (size + 7) & ~7

    value = round8(spec.value_size)
    percpu = value * ncpus if spec.map_type in PERCPU_TYPES else 0
    if spec.map_type in HASH_TYPES:
        entries = spec.max_entries + (ncpus if spec.map_type in (MapType.HASH,
                                                                 MapType.PERCPU_HASH) else 0)
        inline = 8 if percpu else value
        buckets = 1 << max(spec.max_entries - 1, 0).bit_length()
        return entries * (HTAB_ELEM + round8(spec.key_size) + inline + percpu) + \
            buckets * HTAB_BUCKET
    if spec.map_type in (MapType.ARRAY, MapType.PERCPU_ARRAY):
        return _entries(spec, ncpus) * (percpu or value)
    return 0


def available_memory() -> int | None:
    """MemAvailable of /proc/meminfo in bytes, or None where it cannot be read."""
    with suppress(OSError, ValueError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def _check_map_memory(specs: Iterable[MapSpec]) -> None:
    """Refuse, before creating any, maps that would take more memory than the
    machine has available: the kernel would allocate them one by one, taking
    gigabytes for seconds, before refusing one of them."""
    available = available_memory()
    if available is None:
        return
    ncpus = possible_cpus()
    total = 0
    for spec in specs:
        size = map_memory(spec, ncpus)
        total += size
        if total > available:
            before = "" if total == size else " with the maps before it"
            raise RuntimeFailure(_map_refusal(
                spec, f"it would take about {_size(total)} of kernel memory{before}, "
                      "more than the machine has available",
                "its size is more than memory allows"))


def _size(size: int) -> str:
    return f"{size / (1 << 30):.1f} GiB" if size >= 1 << 30 else f"{size >> 20} MiB"


# Keys or values larger than this hold strings: max_strlen sizes them.
LARGE_MAP_ELEMENT = 256


def map_failure(spec: MapSpec, error: int) -> str:
    """Why the kernel refused to create a map, where the script made it, and
    what to change."""
    if spec.name == ".scratch":
        return (f"cannot create the scratch map ({spec.value_size} bytes for each CPU): "
                f"{os.strerror(error)}\n  hint: the strings, tuples and map keys one probe "
                "holds at once need more memory than the kernel gives one map value: lower "
                "max_strlen, or keep fewer large values in one probe")
    if spec.name == ".events":
        return (f"cannot create the event ring buffer ({spec.max_entries} bytes): "
                f"{os.strerror(error)}\n  hint: lower perf_rb_pages")
    return _map_refusal(spec, os.strerror(error), "the kernel refused its size")


def _map_refusal(spec: MapSpec, why: str, verdict: str) -> str:
    """A user map that cannot be created: where the script made it, why, and what
    to change."""
    shape = (f"{spec.max_entries} entries of {spec.key_size}-byte keys and "
             f"{spec.value_size}-byte values")
    if spec.name.startswith("."):
        return f"cannot create map {spec.name} ({shape}): {why}"
    entries = "its declared size" if spec.declared else "max_map_keys"
    what = f"fewer entries (lower {entries})"
    if max(spec.key_size, spec.value_size) > LARGE_MAP_ELEMENT:
        what += ", or shorter strings in its keys and values (lower max_strlen)"
    where = f"{spec.location}: " if spec.location else ""
    return (f"{where}cannot create map {spec.name} ({shape}): {why}\n"
            f"  hint: {verdict}; give it {what}")


def patch_maps(insns: bytes, map_fds: list[int]) -> bytes:
    """Replace every map index in ld_imm64 instructions with the map's fd."""
    out = bytearray(insns)
    i = 0
    while i < len(out):
        if out[i] == LD_IMM64:
            if out[i + 1] >> 4 == BPF_PSEUDO_MAP_FD:
                (index,) = struct.unpack_from("<i", out, i + 4)
                struct.pack_into("<i", out, i + 4, map_fds[index])
            i += 16
        else:
            i += 8
    return bytes(out)


# BTF describing a program's functions, which the kernel needs (as func_info)
# to accept a callback: type 1 `long`, 2 `long (long ctx)`, 3 the program
# (global), 4 `long (long, long, long, long)`, 5 a callback (static).
_BTF_KIND_INT, _BTF_KIND_FUNC, _BTF_KIND_FUNC_PROTO = 1, 12, 13
_BTF_STRINGS = b"\0long\0ctx\0prog\0map\0key\0value\0callback\0"
_BTF_PROGRAM_FUNC, _BTF_CALLBACK_FUNC = 3, 5


def _btf_string(name: str) -> int:
    return _BTF_STRINGS.index(b"\0" + name.encode() + b"\0") + 1


def function_btf() -> bytes:
    def kind(k: int, vlen: int = 0) -> int:
        return k << 24 | vlen

    long_ = struct.pack("<IIII", _btf_string("long"), kind(_BTF_KIND_INT), 8, 1 << 24 | 64)
    prog_proto = struct.pack("<III", 0, kind(_BTF_KIND_FUNC_PROTO, 1), 1) + \
        struct.pack("<II", _btf_string("ctx"), 1)
    prog = struct.pack("<III", _btf_string("prog"), kind(_BTF_KIND_FUNC, 1), 2)
    params = ("map", "key", "value", "ctx")
    callback_proto = struct.pack("<III", 0, kind(_BTF_KIND_FUNC_PROTO, len(params)), 1) + \
        b"".join(struct.pack("<II", _btf_string(p), 1) for p in params)
    callback = struct.pack("<III", _btf_string("callback"), kind(_BTF_KIND_FUNC, 0), 4)
    types = long_ + prog_proto + prog + callback_proto + callback
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types),
                         len(_BTF_STRINGS))
    return header + types + _BTF_STRINGS


def _load_function_btf(libs: Libraries) -> int:
    data = function_btf()
    fd: int = libs.libbpf.bpf_btf_load(data, len(data), None)
    if fd < 0:
        raise RuntimeFailure(f"cannot load the BTF of callback functions: {os.strerror(-fd)}")
    return fd


def _load_program(libs: Libraries, prog: BpfProgram, map_fds: list[int], verbose: bool,
                  log_size: int, btf_fds: list[int], license: str,
                  logs: list[str] | None = None) -> int:
    insns = patch_maps(prog.insns, map_fds)
    buf = ctypes.create_string_buffer(insns, len(insns))
    name = _object_name(prog.name).encode()
    records = [(0, _BTF_PROGRAM_FUNC), *((off, _BTF_CALLBACK_FUNC) for off in prog.callbacks)]
    func_info = (ctypes.c_uint32 * (2 * len(records)))(*(v for r in records for v in r))

    def attempt(log: ctypes.Array[ctypes.c_char] | None) -> int:
        # -d verifier's log is the full one, each instruction as the verifier follows it
        level = (2 if logs is not None else 1) if log else 0
        opts = ProgLoadOpts(sz=ctypes.sizeof(ProgLoadOpts), log_level=level,
                            log_size=len(log) if log else 0,
                            log_buf=ctypes.cast(log, ctypes.c_char_p) if log else None,
                            expected_attach_type=prog.expected_attach_type,
                            attach_btf_id=prog.attach_btf_id)
        if prog.callbacks:
            opts.prog_btf_fd = btf_fds[0]
            opts.func_info = ctypes.cast(func_info, ctypes.c_void_p)
            opts.func_info_cnt = len(records)
            opts.func_info_rec_size = 8
        fd: int = libs.libbpf.bpf_prog_load(int(prog.prog_type), name, license.encode(), buf,
                                            len(insns) // 8, ctypes.byref(opts))
        return fd

    if logs is None:
        fd = attempt(None)
        if fd >= 0:
            return fd
    log = ctypes.create_string_buffer(log_size)
    fd = attempt(log)  # (again,) to get the verifier's reasons
    if fd >= 0:
        if logs is not None:
            logs.append(f"{prog.attach.probe}:\n{log.value.decode(errors='replace').strip()}")
        return fd
    if fd == -errno.ENOSPC and logs is not None:
        raise RuntimeFailure(f"{prog.location}: the verifier's log of {prog.attach.probe} is "
                             f"longer than log_size ({log_size} bytes): raise it, as in "
                             "PTRACE_LOG_SIZE=16777216")
    if fd == -errno.EPERM and prog.prog_type == ProgType.TRACING:
        what = {ProbeKind.ITER: "BPF iterator", ProbeKind.RAWTRACEPOINT: "BTF tracepoint"}.get(
            prog.attach.kind, "fentry/fexit")
        raise RuntimeFailure(f"{prog.location}: cannot load {prog.attach.probe}: this kernel "
                             f"refuses {what} programs (loading a BPF tracing program "
                             "fails with EPERM)")
    text = log.value.decode(errors="replace").strip()
    if prog.loops and any(sign in text for sign in UNBOUNDED_LOOP_SIGNS):
        raise RuntimeFailure(f"{prog.loops[0]}: the kernel's verifier could not prove that "
                             "this loop ends\n  hint: bound it with a counter, as in "
                             "for ($i : 0..100), or use unroll(n)")
    reason = os.strerror(-fd) if fd < 0 else "unknown error"
    detail = text if verbose else "\n".join(text.splitlines()[-12:])
    raise RuntimeFailure(f"{prog.location}: the kernel's verifier rejected the program for "
                         f"{prog.attach.probe} ({reason})" + (f":\n{detail}" if detail else ""))


def _object_name(name: str) -> str:
    """Kernel object names: up to 15 characters of [A-Za-z0-9_.]."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", name.replace("@", "m_", 1))[:15]
