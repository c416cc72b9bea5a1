"""The event ring buffer, read from its mapped pages.

The kernel's BPF ring buffer maps as a consumer page (ours to write: how far
we have read), a producer page (how far the probes have written), and the data
pages, mapped twice in a row so that a record that wraps around the end reads
as one piece. Each record starts with an 8-byte header: its length, with a bit
for "still being written" and one for "discarded", then its page offset; the
next record starts at the following multiple of 8.

Records are handed to the session one at a time as bytes, except runs of
printf records of one site whose formatter takes many at once (`BatchPrintf`):
those are formatted with one unpack and written with one write per run.

A pass over the buffer (`poll`, `consume`) is bounded in time: under a flood
of events the buffer never empties, and the session must get control back to
see a stop request (Ctrl-C, SIGTERM, exit(), the -c command ending). The
consumer position is stored before a record is handled, so a record is never
read twice, and never skipped: a pass that ends leaves the rest for the next.
"""

from __future__ import annotations

import mmap
import select
import struct
import time
from collections.abc import Callable

from ptrace.runtime.printf import BatchPrintf

PASS_S = 0.1  # a pass takes records for at most this long, then returns
BATCH_RECORDS = 16384  # records formatted as one run, at most

_BUSY = 1 << 31  # the record is still being written
_DISCARD = 1 << 30  # the probe gave the record up: skip it
_RECORD_HEADER = 8
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class RingBuffer:
    def __init__(self, map_fd: int, size: int, handle: Callable[[bytes], None],
                 batches: dict[int, BatchPrintf] | None = None,
                 write: Callable[[str], None] | None = None):
        """`size` is the map's data size (a power of two). `batches` are the formatters
        of the sites taken in runs, by the record's first 8 bytes (its kind and
        site); `write` takes their text."""
        self._handle = handle
        self._batches = batches or {}
        self._write = write
        self._mask = size - 1
        page = mmap.PAGESIZE
        self._consumer = mmap.mmap(map_fd, page, mmap.MAP_SHARED,
                                   mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self._producer = mmap.mmap(map_fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ,
                                   offset=page)
        self._data = memoryview(self._producer)[page:]
        self._words = self._data.cast("I")
        self._dwords = self._data.cast("Q")
        self._cons: int = _U64.unpack_from(self._consumer, 0)[0]
        self._poller = select.epoll()
        self._poller.register(map_fd, select.EPOLLIN)
        self._open = True

    def poll(self, timeout_ms: int) -> bool:
        """Wait up to `timeout_ms` for records, then take them for at most a pass's
        time. Whether the pass was cut short (records may be waiting)."""
        if self._open and self._produced() == self._cons:
            self._poller.poll(timeout_ms / 1000)
        return self.consume(PASS_S)

    def consume(self, seconds: float = PASS_S) -> bool:
        """Take the records waiting, for at most `seconds`. Whether the pass was cut
        short (records may be waiting)."""
        if not self._open:
            return False
        deadline: float | None = None
        while True:
            produced = self._produced()
            if produced == self._cons:
                return False
            while self._cons < produced:
                if not self._take_next(produced):
                    return False  # a record still being written: the next pass has it
                now = time.monotonic()
                if deadline is None:
                    deadline = now + seconds
                elif now >= deadline:
                    return True

    def _take_next(self, produced: int) -> bool:
        """Handle the record (or run of records) at the consumer position; False if
        it is still being written."""
        at = self._cons & self._mask
        header = _U32.unpack_from(self._data, at)[0]
        if header & _BUSY:
            return False
        length = header & ~_DISCARD
        stride = (_RECORD_HEADER + length + 7) & ~7
        if header & _DISCARD:
            self._advance(stride)
            return True
        start = at + _RECORD_HEADER
        word = _U64.unpack_from(self._data, start)[0] if length >= 8 else 0
        batch = self._batches.get(word)
        if batch is not None and self._write is not None and batch.fits(length):
            count = self._run(at, stride, min((produced - self._cons) // stride,
                                               BATCH_RECORDS), length, word)
            self._advance(count * stride)
            self._write(batch.format(self._data, at, count, stride))
        else:
            record = bytes(self._data[start:start + length])
            self._advance(stride)
            self._handle(record)
        return True

    def _run(self, at: int, stride: int, most: int, length: int, word: int) -> int:
        """How many records from `at` on have this length and first word (the first
        one does): the run formatted at once. Records still being written or
        discarded differ in their length word, so they end a run."""

        def same(count: int) -> bool:
            lengths = self._words[at // 4:(at + count * stride) // 4:stride // 4]
            words = self._dwords[(at + _RECORD_HEADER) // 8:
                                 (at + _RECORD_HEADER + count * stride) // 8:stride // 8]
            return (lengths.tobytes() == _U32.pack(length) * count
                    and words.tobytes() == _U64.pack(word) * count)

        if same(most):
            return most
        low, high = 1, most  # same(low) holds, same(high) does not
        while high - low > 1:
            middle = (low + high) // 2
            if same(middle):
                low = middle
            else:
                high = middle
        return low

    def discard(self) -> int:
        """Drop every record waiting without handling it; how many there were."""
        dropped = 0
        if not self._open:
            return dropped
        produced = self._produced()
        while self._cons < produced:
            length = _U32.unpack_from(self._data, self._cons & self._mask)[0]
            if length & _BUSY:
                break
            if not length & _DISCARD:
                dropped += 1
            self._advance((_RECORD_HEADER + (length & ~_DISCARD) + 7) & ~7)
        return dropped

    def _produced(self) -> int:
        return int(_U64.unpack_from(self._producer, 0)[0])

    def _advance(self, size: int) -> None:
        self._cons += size
        _U64.pack_into(self._consumer, 0, self._cons)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._poller.close()
            for view in (self._words, self._dwords, self._data):
                view.release()
            self._producer.close()
            self._consumer.close()
