"""skboutput(): packets the probes see, written to pcap files, checked byte by
byte. The trigger sends UDP datagrams to 127.0.0.1; a BTF tracepoint on the
loopback device's transmit (net_dev_queue) sees each one's skb, whose data
starts with the 14-byte Ethernet header."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

PAYLOAD = b"ptrace-pcap-payload"
PCAP_HEADER = struct.Struct("<IHHiIII")
PCAP_RECORD = struct.Struct("<IIII")


def pcap_records(path: Path) -> tuple[tuple[int, ...], list[tuple[int, int, bytes]]]:
    """A pcap file's header fields and its records (bytes kept, on the wire, data)."""
    data = path.read_bytes()
    header = PCAP_HEADER.unpack_from(data)
    records, at = [], PCAP_HEADER.size
    while at < len(data):
        _, _, kept, wire = PCAP_RECORD.unpack_from(data, at)
        at += PCAP_RECORD.size
        records.append((kept, wire, data[at:at + kept]))
        at += kept
    return header, records


@pytest.mark.bpf
def test_skboutput_writes_each_packet_to_its_pcap_file(
        ptrace_exe: list[str], triggers: Path, tmp_path: Path) -> None:
    """From offset 14 (the IP packet, by `args`), and the first 14 bytes (the
    Ethernet header, by arg0 cast as the conformance suite does), to two files;
    each call returns 0."""
    ip_file, eth_file = tmp_path / "ip.pcap", tmp_path / "eth.pcap"
    program = (
        'rawtracepoint:net_dev_queue /comm == "ptt_dgram"/ { '
        f'@ip[skboutput("{ip_file}", args.skb, args.skb.len - 14, 14)] = count(); '
        f'@eth[skboutput("{eth_file}", (struct sk_buff *)arg0, 14, 0)] = count(); }}')
    result = subprocess.run([*ptrace_exe, "-c", f"{triggers / 'ptt_dgram'} 3 {PAYLOAD.decode()}",
                             "-e", program], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "@eth[0]: 3\n@ip[0]: 3"
    ip_packet = 20 + 8 + len(PAYLOAD)  # IPv4 header, UDP header, payload
    header, records = pcap_records(ip_file)
    assert header == (0xA1B2C3D4, 2, 4, 0, 0, 0xFFFFF, 101)  # link type RAW (IP)
    assert len(records) == 3
    for kept, wire, packet in records:
        assert (kept, wire) == (ip_packet, ip_packet)
        assert packet[0] == 0x45 and packet[9] == 17  # IPv4, UDP
        assert packet[12:20] == bytes([127, 0, 0, 1]) * 2
        assert packet.endswith(PAYLOAD)
    _, records = pcap_records(eth_file)
    assert [(kept, wire) for kept, wire, _ in records] == [(14, 14 + ip_packet)] * 3
    assert all(packet[12:14] == b"\x08\x00" for _, _, packet in records)  # IPv4 follows
