"""The event ring buffer, read through libbpf.

Records are handed to a Python callback as bytes. A pass over the buffer
(`poll`, `consume`) is bounded in time: under a flood of events the buffer
never empties, and the session must get control back to see a stop request
(Ctrl-C, SIGTERM, exit(), the -c command ending). A pass ends by returning
-1 from libbpf's sample callback after handling a record, which libbpf takes
as "stop here" with that record consumed: none is lost or read twice.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

from ptrace.runtime.errors import RuntimeFailure
from ptrace.runtime.libbcc import Libraries, RingBufferSampleFn

PASS_S = 0.1  # a pass takes records for at most this long, then returns


class RingBuffer:
    def __init__(self, libs: Libraries, map_fd: int, handle: Callable[[bytes], None]):
        self._libs = libs
        self._handle = handle
        self._error: BaseException | None = None
        self._pass_end: float | None = None  # set at a pass's first record
        self._pass_s = PASS_S
        self._cut = False  # the pass ended at its bound, with records maybe left

        def sample(_ctx: int | None, data: int | None, size: int) -> int:
            # An exception must not escape into C (ctypes would print and drop
            # it): keep it, stop this pass, and raise it from poll().
            try:
                self._handle(ctypes.string_at(data or 0, size))
            except BaseException as error:
                self._error = error
                return -1
            now = time.monotonic()
            if self._pass_end is None:
                self._pass_end = now + self._pass_s
            elif now >= self._pass_end:
                self._cut = True
                return -1
            return 0

        # Keep a reference: libbpf calls it for as long as the buffer lives.
        self._callback = RingBufferSampleFn(sample)
        ptr = libs.libbpf.ring_buffer__new(map_fd, self._callback, None, None)
        if not ptr:
            raise RuntimeFailure("cannot open the event ring buffer")
        self._rb: int | None = ptr

    def poll(self, timeout_ms: int) -> bool:
        """Wait up to `timeout_ms` for records, then take them for at most a pass's
        time. Whether the pass was cut short (records may be waiting)."""
        return self._pass(lambda rb: self._libs.libbpf.ring_buffer__poll(rb, timeout_ms),
                          PASS_S)

    def consume(self, seconds: float = PASS_S) -> bool:
        """Take the records waiting, for at most `seconds`. Whether the pass was cut
        short (records may be waiting)."""
        return self._pass(self._libs.libbpf.ring_buffer__consume, seconds)

    def discard(self) -> int:
        """Drop every record waiting without handling it; how many there were."""
        dropped = 0

        def count(_record: bytes) -> None:
            nonlocal dropped
            dropped += 1

        handle, self._handle = self._handle, count
        try:
            while self.consume():
                pass
        finally:
            self._handle = handle
        return dropped

    def _pass(self, run: Callable[[int], int], seconds: float) -> bool:
        if self._rb is None:
            return False
        self._pass_end, self._pass_s, self._cut = None, seconds, False
        run(self._rb)
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._cut

    def close(self) -> None:
        if self._rb is not None:
            self._libs.libbpf.ring_buffer__free(self._rb)
            self._rb = None
