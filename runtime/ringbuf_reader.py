"""The event ring buffer, read through libbpf.

Records are handed to a Python callback as bytes. The callback's return
value is ignored by design: stopping early is the session's decision, made
between polls, so one slow consumer never loses a record.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from ptrace.runtime.errors import RuntimeFailure
from ptrace.runtime.libbcc import Libraries, RingBufferSampleFn


class RingBuffer:
    def __init__(self, libs: Libraries, map_fd: int, handle: Callable[[bytes], None]):
        self._libs = libs
        self._error: BaseException | None = None

        def sample(_ctx: int | None, data: int | None, size: int) -> int:
            # An exception must not escape into C (ctypes would print and drop
            # it): keep it, stop this poll, and raise it from poll().
            try:
                handle(ctypes.string_at(data or 0, size))
            except BaseException as error:
                self._error = error
                return -1
            return 0

        # Keep a reference: libbpf calls it for as long as the buffer lives.
        self._callback = RingBufferSampleFn(sample)
        ptr = libs.libbpf.ring_buffer__new(map_fd, self._callback, None, None)
        if not ptr:
            raise RuntimeFailure("cannot open the event ring buffer")
        self._rb: int | None = ptr

    def poll(self, timeout_ms: int) -> None:
        if self._rb is not None:
            self._libs.libbpf.ring_buffer__poll(self._rb, timeout_ms)
            self._raise()

    def consume(self) -> None:
        if self._rb is not None:
            self._libs.libbpf.ring_buffer__consume(self._rb)
            self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        if self._rb is not None:
            self._libs.libbpf.ring_buffer__free(self._rb)
            self._rb = None
