"""BPF links that libbpf 1.1's bpf_link_create cannot ask for: uprobe_multi
(Linux 6.6), and a perf event's with a cookie, made with the bpf() system
call itself."""

from __future__ import annotations

import ctypes
import os
import struct

from ptrace.bpf_abi import AttachType

SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine)
BPF_LINK_CREATE = 28
BPF_PERF_EVENT = 41  # the attach type of a link to a perf event
BPF_F_UPROBE_MULTI_RETURN = 1  # uretprobes

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_char_p, ctypes.c_uint]


def uprobe_multi(prog_fd: int, path: str, offsets: list[int], retprobe: bool, pid: int) -> int:
    """A uprobe_multi link of the program to each file offset of `path`, the
    i-th with cookie i (in process `pid` only, when it is above 0): the link's
    fd. Raises OSError with the kernel's errno."""
    count = len(offsets)
    name = ctypes.create_string_buffer(os.fsencode(path))
    at = (ctypes.c_uint64 * count)(*offsets)
    cookies = (ctypes.c_uint64 * count)(*range(count))
    # union bpf_attr's link_create: prog_fd, target_fd, attach_type, flags,
    # then uprobe_multi: path, offsets, ref_ctr_offsets, cookies, cnt, flags, pid.
    attr = struct.pack("<IIIIQQQQIII4x", prog_fd, 0, AttachType.TRACE_UPROBE_MULTI, 0,
                       ctypes.addressof(name), ctypes.addressof(at), 0,
                       ctypes.addressof(cookies), count,
                       BPF_F_UPROBE_MULTI_RETURN if retprobe else 0, max(pid, 0))
    return _link_create(attr)


def perf_link(prog_fd: int, perf_fd: int, cookie: int) -> int:
    """A link of the program to a perf event (a uprobe), which gives the
    program `cookie` (bpf_get_attach_cookie): the link's fd."""
    # link_create: prog_fd, target_fd, attach_type, flags, then perf_event.bpf_cookie.
    return _link_create(struct.pack("<IIIIQ", prog_fd, perf_fd, BPF_PERF_EVENT, 0, cookie))


def _link_create(attr: bytes) -> int:
    """bpf(BPF_LINK_CREATE, attr): the link's fd. Raises OSError with the kernel's errno."""
    if SYS_BPF is None:
        raise OSError(38, os.strerror(38))
    buf = ctypes.create_string_buffer(attr, len(attr))
    fd = int(_syscall(SYS_BPF, BPF_LINK_CREATE, buf, len(attr)))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    os.set_inheritable(fd, False)
    return fd
