"""skboutput()'s packets: read from their perf buffer, written to pcap files.

bpf_skb_output writes a sample to a perf event array (the one helper that
copies a packet's bytes out): a PACKET_HEADER (the call's site, the boot
clock, the packet's length, how many of its bytes follow), then the packet
from its start. libbpf's perf buffer reads the samples; each goes to its
site's file as a pcap record, from the site's offset on, timed by the wall
clock (boot clock plus the boot's wall time).

A file is made (or emptied) when the run starts, with the pcap header: link
type RAW (IP packets, no link header), as bpftrace writes them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
from typing import BinaryIO

from ptrace.runtime.errors import RuntimeFailure
from ptrace.runtime.libbcc import Libraries, PerfLostFn, PerfSampleFn, errno
from ptrace.runtime.values import boot_epoch_ns

from ptrace.program import PACKET_HEADER, SKB_OUTPUT_MAX

PCAP_HEADER = struct.Struct("<IHHiIII")  # magic, version, zone, accuracy, snap length, link
PCAP_RECORD = struct.Struct("<IIII")  # seconds, microseconds, bytes kept, bytes on the wire
PCAP_MAGIC = 0xA1B2C3D4  # microsecond timestamps
LINKTYPE_RAW = 101  # raw IPv4 or IPv6 packets
PAGES_PER_CPU = 64  # each CPU's perf buffer: 256 KiB


class PacketWriter:
    def __init__(self, libs: Libraries, map_fd: int, sites: tuple[tuple[str, int], ...]):
        """Make each site's file and open the perf buffer of the map's fd."""
        self._libs = libs
        self._sites: list[tuple[BinaryIO, int]] = []
        self.lost = 0
        self._failed: OSError | None = None  # a write that failed, in a callback
        self._dropping = False  # since a write failed
        self._files: dict[str, BinaryIO] = {}
        try:
            for path, offset in sites:
                if path not in self._files:
                    file = self._files[path] = open(path, "wb")  # noqa: SIM115 (for the run)
                    file.write(PCAP_HEADER.pack(PCAP_MAGIC, 2, 4, 0, 0, SKB_OUTPUT_MAX,
                                                LINKTYPE_RAW))
                self._sites.append((self._files[path], offset))
        except OSError as error:
            self._close_files()
            raise RuntimeFailure(f"cannot write skboutput()'s file {error.filename}: "
                                 f"{error.strerror}") from None
        self._epoch = boot_epoch_ns()
        # Kept as attributes: libbpf calls them as long as the buffer lives.
        self._on_sample = PerfSampleFn(self._sample)
        self._on_lost = PerfLostFn(self._lost)
        self._buffer = libs.libbpf.perf_buffer__new(map_fd, PAGES_PER_CPU, self._on_sample,
                                                    self._on_lost, None, None)
        if not self._buffer:
            self._close_files()
            raise RuntimeFailure(f"cannot open skboutput()'s perf buffer: "
                                 f"{os.strerror(errno())}")

    def consume(self) -> None:
        """Write the packets waiting in the buffer."""
        if self._buffer:
            self._libs.libbpf.perf_buffer__consume(self._buffer)
        error, self._failed = self._failed, None
        if error is not None:  # (later packets are dropped: the run stops)
            self._dropping = True
            raise RuntimeFailure(f"cannot write skboutput()'s file {error.filename}: "
                                 f"{error.strerror}")

    def close(self) -> None:
        """Write what is left, then close the buffer and the files."""
        try:
            if self._buffer:
                self.consume()
        finally:
            if self._buffer:
                self._libs.libbpf.perf_buffer__free(self._buffer)
                self._buffer = None
            self._close_files()

    def _close_files(self) -> None:
        for file in self._files.values():
            with contextlib.suppress(OSError):  # each packet was flushed as it was written
                file.close()

    def _sample(self, _ctx: object, _cpu: int, data: int, size: int) -> None:
        raw = ctypes.string_at(data, size)
        site, ns, wire, captured = PACKET_HEADER.unpack_from(raw)
        file, offset = self._sites[site]
        packet = raw[PACKET_HEADER.size + offset:PACKET_HEADER.size + captured]
        when = ns + self._epoch
        if self._failed is not None or self._dropping:
            return
        try:
            file.write(PCAP_RECORD.pack(when // 1_000_000_000, when % 1_000_000_000 // 1000,
                                        len(packet), max(wire - offset, len(packet))) + packet)
            file.flush()
        except OSError as error:  # raised by consume(): a callback cannot raise
            error.filename = file.name
            self._failed = error

    def _lost(self, _ctx: object, _cpu: int, count: int) -> None:
        self.lost += count
