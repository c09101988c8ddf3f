"""read_pcap on damaged and hostile files: a list of messages or ValueError, nothing else
(truncated records, short frames, bad IP header lengths, lying Content-Length)."""
from __future__ import annotations

import datetime
import io
import struct

from hypothesis import given, settings, strategies as st

from sipcore.pcap import PacketRecord, read_pcap, write_pcap

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
MSG = ("MESSAGE sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
       "Content-Length: 2\r\n\r\nhi")


def sample() -> bytes:
    f = io.BytesIO()
    write_pcap(f, [PacketRecord(T0, "127.0.0.1", 5070, "127.0.0.1", 5060, MSG, "tcp"),
                   PacketRecord(T0, "::1", 5070, "::1", 5060, MSG.replace("TCP", "UDP"))])
    return f.getvalue()


def read(blob: bytes):
    try:
        return read_pcap(io.BytesIO(blob))
    except ValueError:
        return None


def test_sample_reads_back():
    got = read_pcap(io.BytesIO(sample()))
    assert [(r.source_ip, r.transport, r.data, r.timestamp) for r in got] == [
        ("127.0.0.1", "tcp", MSG, T0), ("::1", "udp", MSG.replace("TCP", "UDP"), T0)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes(blob):
    read(blob)
    read(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + blob)   # Ethernet
    read(struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101) + blob)  # raw IP


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=24, max_value=400), st.binary(min_size=1, max_size=8),
       st.integers(min_value=0, max_value=10_000))
def test_damaged_sample(at, junk, cut):
    good = sample()
    at = min(at, len(good))
    read(good[:at] + junk + good[at + len(junk):])      # bytes overwritten
    read(good[:max(24, len(good) - cut % len(good))])    # truncated
