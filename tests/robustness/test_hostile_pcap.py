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
    # pcapng: a section header, then an interface of each link type, then the bytes
    shb = b"\x0a\x0d\x0d\x0a" + struct.pack("<I", 28) + b"\x4d\x3c\x2b\x1a" + \
        struct.pack("<HHqI", 1, 0, -1, 28)
    for linktype in (1, 101):
        read(shb + struct.pack("<IIHHI", 1, 20, linktype, 0, 65535) + struct.pack("<I", 20) + blob)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=24, max_value=400), st.binary(min_size=1, max_size=8),
       st.integers(min_value=0, max_value=10_000))
def test_damaged_sample(at, junk, cut):
    good = sample()
    at = min(at, len(good))
    read(good[:at] + junk + good[at + len(junk):])      # bytes overwritten
    read(good[:max(24, len(good) - cut % len(good))])    # truncated


def sample_pcapng(tsresol: int | None = None) -> bytes:
    """sample()'s frames as pcapng (SHB, IDB with an optional if_tsresol, EPBs) -- the layout
    of RFC-draft pcapng as dumpcap writes it."""
    good = sample()
    linktype = struct.unpack("<I", good[20:24])[0]
    opts = b""
    if tsresol is not None:
        opts = struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HH", 0, 0)
    idb_body = struct.pack("<HHI", linktype, 0, 65535) + opts
    out = b"\x0a\x0d\x0d\x0a" + struct.pack("<I", 28) + b"\x4d\x3c\x2b\x1a" + \
        struct.pack("<HHqI", 1, 0, -1, 28)
    out += struct.pack("<II", 1, 12 + len(idb_body)) + idb_body + struct.pack("<I", 12 + len(idb_body))
    per_second = 10 ** (tsresol or 6)
    at = 24
    while at + 16 <= len(good):
        secs, usecs, incl, orig = struct.unpack("<IIII", good[at:at + 16])
        frame = good[at + 16:at + 16 + incl]
        at += 16 + incl
        ticks = secs * per_second + usecs * per_second // 1_000_000
        body = struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, incl, orig)
        body += frame + b"\0" * (-len(frame) % 4)
        out += struct.pack("<II", 6, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    return out


def test_pcapng_sample_reads_back_like_the_pcap():
    want = [(r.source_ip, r.transport, r.data, r.timestamp) for r in read_pcap(io.BytesIO(sample()))]
    for tsresol in (None, 9):                       # microseconds (default), nanoseconds
        got = read_pcap(io.BytesIO(sample_pcapng(tsresol)))
        assert [(r.source_ip, r.transport, r.data, r.timestamp) for r in got] == want


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.binary(min_size=1, max_size=8),
       st.integers(min_value=0, max_value=10_000))
def test_damaged_pcapng(at, junk, cut):
    good = sample_pcapng(9)
    at = min(at, len(good))
    read(good[:at] + junk + good[at + len(junk):])      # bytes overwritten
    read(good[:max(4, len(good) - cut % len(good))])     # truncated
