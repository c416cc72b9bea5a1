"""Every C function the runtime calls, declared once with its types.

bcc's libraries come from Debian's `libbpfcc` (libbcc.so.0, libbcc_bpf.so.0)
and depend on libbpf.so.1, which provides the ring buffer, batch map reads
and BPF_PROG_TEST_RUN. The Python bindings of python3-bpfcc are not used:
several of their declarations are wrong for bcc 0.26.
"""

from __future__ import annotations

import ctypes
import functools
from ctypes import (
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_size_t,
    c_uint32,
    c_uint64,
    c_ulonglong,
    c_void_p,
)
from dataclasses import dataclass
from typing import Any


class LibraryMissing(RuntimeError):
    """bcc's or libbpf's shared library is not installed."""


class TestRunOpts(Structure):
    """libbpf's `struct bpf_test_run_opts`."""

    __test__ = False  # not a pytest test class
    _fields_ = [
        ("sz", c_size_t),
        ("data_in", c_void_p),
        ("data_out", c_void_p),
        ("data_size_in", c_uint32),
        ("data_size_out", c_uint32),
        ("ctx_in", c_void_p),
        ("ctx_out", c_void_p),
        ("ctx_size_in", c_uint32),
        ("ctx_size_out", c_uint32),
        ("retval", c_uint32),
        ("repeat", c_int),
        ("duration", c_uint32),
        ("flags", c_uint32),
        ("cpu", c_uint32),
        ("batch_size", c_uint32),
    ]


class ProgLoadOpts(Structure):
    """libbpf's `struct bpf_prog_load_opts`."""

    _fields_ = [
        ("sz", c_size_t),
        ("attempts", c_int),
        ("expected_attach_type", c_int),
        ("prog_btf_fd", c_uint32),
        ("prog_flags", c_uint32),
        ("prog_ifindex", c_uint32),
        ("kern_version", c_uint32),
        ("attach_btf_id", c_uint32),
        ("attach_prog_fd", c_uint32),
        ("attach_btf_obj_fd", c_uint32),
        ("fd_array", c_void_p),
        ("func_info", c_void_p),
        ("func_info_cnt", c_uint32),
        ("func_info_rec_size", c_uint32),
        ("line_info", c_void_p),
        ("line_info_cnt", c_uint32),
        ("line_info_rec_size", c_uint32),
        ("log_level", c_uint32),
        ("log_size", c_uint32),
        ("log_buf", c_char_p),
    ]


class BatchOpts(Structure):
    """libbpf's `struct bpf_map_batch_opts`."""

    _fields_ = [("sz", c_size_t), ("elem_flags", c_uint64), ("flags", c_uint64)]


# A perf buffer's callbacks: (ctx, cpu, data, size) for a sample, (ctx, cpu, count) for lost ones.
PerfSampleFn = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_void_p, c_uint32)
PerfLostFn = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_uint64)


@dataclass(frozen=True)
class Libraries:
    bcc: Any
    libbpf: Any


def _declare(lib: Any, name: str, restype: Any, argtypes: list[Any]) -> None:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes


@functools.cache
def load() -> Libraries:
    """Load and declare the libraries (once per process)."""
    try:
        bcc = ctypes.CDLL("libbcc_bpf.so.0", use_errno=True)
        libbpf = ctypes.CDLL("libbpf.so.1", use_errno=True)
    except OSError as error:
        raise LibraryMissing(f"bcc's libraries are not installed ({error}); "
                             "install the Debian package libbpfcc") from error
    _declare(bcc, "bcc_create_map", c_int, [c_int, c_char_p, c_int, c_int, c_int, c_int])
    _declare(bcc, "bpf_attach_tracepoint", c_int, [c_int, c_char_p, c_char_p])
    _declare(bcc, "bpf_attach_raw_tracepoint", c_int, [c_int, c_char_p])
    _declare(bcc, "bpf_attach_kfunc", c_int, [c_int])
    # int bpf_attach_uprobe(int progfd, enum bpf_probe_attach_type, const char *ev_name,
    #     const char *binary_path, uint64_t offset, pid_t pid, uint32_t ref_ctr_offset)
    _declare(bcc, "bpf_attach_uprobe", c_int, [c_int, c_int, c_char_p, c_char_p, c_uint64,
                                               c_int, c_uint32])
    _declare(bcc, "bpf_detach_uprobe", c_int, [c_char_p])
    # int bpf_attach_kprobe(int progfd, enum bpf_probe_attach_type, const char *ev_name,
    #     const char *fn_name, uint64_t fn_offset, int maxactive)
    _declare(bcc, "bpf_attach_kprobe", c_int, [c_int, c_int, c_char_p, c_char_p, c_uint64, c_int])
    _declare(bcc, "bpf_update_elem", c_int, [c_int, c_void_p, c_void_p, c_ulonglong])
    _declare(bcc, "bpf_lookup_elem", c_int, [c_int, c_void_p, c_void_p])
    _declare(bcc, "bpf_delete_elem", c_int, [c_int, c_void_p])
    _declare(bcc, "bpf_get_next_key", c_int, [c_int, c_void_p, c_void_p])
    # Programs are loaded with libbpf's low-level call, which prints nothing
    # (bcc_prog_load prints the verifier log itself) and takes prog_flags and
    # attach types; the log comes back to us to show in our own words.
    _declare(libbpf, "bpf_prog_load", c_int, [c_int, c_char_p, c_char_p, c_void_p, c_size_t,
                                              POINTER(ProgLoadOpts)])
    # int bpf_btf_load(const void *btf_data, size_t btf_size, struct bpf_btf_load_opts *)
    _declare(libbpf, "bpf_btf_load", c_int, [c_char_p, c_size_t, c_void_p])
    # int bpf_link_create(int prog_fd, int target_fd, enum bpf_attach_type,
    #     const struct bpf_link_create_opts *); int bpf_iter_create(int link_fd)
    _declare(libbpf, "bpf_link_create", c_int, [c_int, c_int, c_int, c_void_p])
    _declare(libbpf, "bpf_iter_create", c_int, [c_int])
    # struct perf_buffer *perf_buffer__new(int map_fd, size_t page_cnt, perf_buffer_sample_fn,
    #     perf_buffer_lost_fn, void *ctx, const struct perf_buffer_opts *)
    _declare(libbpf, "perf_buffer__new", c_void_p, [c_int, c_size_t, PerfSampleFn, PerfLostFn,
                                                    c_void_p, c_void_p])
    _declare(libbpf, "perf_buffer__consume", c_int, [c_void_p])
    _declare(libbpf, "perf_buffer__free", None, [c_void_p])
    # int bpf_obj_pin(int fd, const char *pathname)
    _declare(libbpf, "bpf_obj_pin", c_int, [c_int, c_char_p])
    _declare(libbpf, "libbpf_set_print", c_void_p, [c_void_p])
    libbpf.libbpf_set_print(None)
    _declare(libbpf, "bpf_prog_test_run_opts", c_int, [c_int, POINTER(TestRunOpts)])
    _declare(libbpf, "bpf_map_lookup_batch", c_int, [c_int, c_void_p, c_void_p, c_void_p,
                                                     c_void_p, POINTER(c_uint32),
                                                     POINTER(BatchOpts)])
    return Libraries(bcc, libbpf)


class BccSymbol(Structure):
    """bcc's `struct bcc_symbol`."""

    # module stays a raw pointer: bcc_resolve_symname's copy must be freed with
    # bcc_procutils_free (a c_char_p field would hand Python a copy instead).
    _fields_ = [("name", c_char_p), ("demangle_name", c_char_p), ("module", c_void_p),
                ("offset", c_uint64)]


@functools.cache
def load_symbols() -> Any:
    """libbcc.so.0: symbol resolution (and USDT). It links LLVM 14 and takes
    ~90 ms to load, so it is loaded only by runs that need it."""
    try:
        lib = ctypes.CDLL("libbcc.so.0", use_errno=True)
    except OSError as error:
        raise LibraryMissing(f"bcc's library is not installed ({error}); "
                             "install the Debian package libbpfcc") from error
    _declare(lib, "bcc_resolve_symname", c_int, [c_char_p, c_char_p, c_uint64, c_int, c_void_p,
                                                 POINTER(BccSymbol)])
    _declare(lib, "bcc_procutils_free", None, [c_void_p])
    _declare(lib, "bcc_symcache_new", c_void_p, [c_int, c_void_p])
    _declare(lib, "bcc_free_symcache", None, [c_void_p, c_int])
    _declare(lib, "bcc_symcache_resolve", c_int, [c_void_p, c_uint64, POINTER(BccSymbol)])
    _declare(lib, "bcc_symcache_resolve_no_demangle", c_int, [c_void_p, c_uint64,
                                                             POINTER(BccSymbol)])
    return lib


def errno() -> int:
    return ctypes.get_errno()
