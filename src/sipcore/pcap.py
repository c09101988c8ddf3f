"""SIP traces as pcap files, for Wireshark, tshark and sngrep -- and back.

A ``SIPEngineSIPTrace`` notification says who sent a SIP message to whom (addresses, ports),
when, and what it said, but not the packet around it.  :func:`write_pcap` synthesises that
packet -- an Ethernet frame (locally administered MAC addresses), an IPv4 or IPv6 header with
the trace's real addresses, and a UDP or TCP header with its real ports and valid checksums --
and writes one pcap record per message at the trace's time (microseconds).  Wireshark, tshark
and sngrep then show the call as SIP::

    from sipcore import Ladder, pcap
    with Ladder() as ladder:                  # Engine started with trace_sip=True
        ...                                   # register, call, MESSAGE
    ladder.save_pcap("call.pcap")             # or pcap.write_pcap("call.pcap", traces)

    $ tshark -r call.pcap -Y sip -T fields -e ip.src -e udp.srcport -e sip.Method -e sip.Status-Code

:func:`write_pcap` takes any mix of ``SIPEngineSIPTrace`` data: the keyword dicts a receiver
gets, :class:`~sipcore.signals.Notification` objects (``NotificationRecorder.all(
"SIPEngineSIPTrace")``), or a :class:`~sipcore.ladder.Ladder`.  A message seen twice in this
process (sent by one of its transports and received by another, as on loopback between two
accounts) is written once (its first copy: the sent one).  :class:`TraceWriter` writes the
trace to a file while it happens.

**Transport.**  The trace does not say it; it is read from the message's top ``Via``
(``SIP/2.0/UDP`` -> UDP; ``TCP``, ``TLS``, ``WS``... -> TCP).  A TCP flow gets consecutive
sequence numbers per direction and acknowledges the other direction; no handshake is
invented.  Messages traced over TLS are written as the plain text they carried (the trace
is taken inside the TLS layer), over TCP: Wireshark dissects TCP port 5061 as TLS by default
("Decode As... SIP" for that port); other ports are found as SIP by its heuristics.

:func:`read_pcap` reads such a file back -- and the captures of tcpdump or Wireshark (pcap with
Ethernet, raw IP, Linux cooked v1/v2 or loopback links, in pcap or pcapng files) -- as a list of
:class:`PacketRecord`, and ``Ladder.from_pcap(path)`` draws them.  TCP payloads are put
together per flow and cut into messages by ``Content-Length`` (a capture that lost segments
loses those messages); IP fragments are not reassembled; UDP datagrams that are not SIP
(RTP, STUN) are skipped.

Pure Python (``struct``), no dependency.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Union

__all__ = ["PacketRecord", "Pairs", "TraceWriter", "read_pcap", "records", "write_pcap"]

_UTC = datetime.timezone.utc
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=_UTC)

LINKTYPE_NULL = 0           # BSD loopback: 4-byte address family, host order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101          # the IP header first
LINKTYPE_LINUX_SLL = 113    # tcpdump -i any (v1)
LINKTYPE_LINUX_SLL2 = 276   # tcpdump -i any (v2)

_MAGIC_US = 0xA1B2C3D4
_MAGIC_NS = 0xA1B23C4D
_SNAPLEN = 262144


@dataclass
class PacketRecord:
    """One SIP message on the wire: when (``timestamp``, an aware datetime), from and to
    whom (IP and port), over ``transport`` ("udp" or "tcp"), and its text (``data``)."""

    timestamp: datetime.datetime
    source_ip: str
    source_port: int
    destination_ip: str
    destination_port: int
    data: str
    transport: str = "udp"

    @property
    def first_line(self) -> str:
        return self.data.split("\r\n", 1)[0]


# ---- from traces to records ------------------------------------------------------------------

_VIA = re.compile(r"^(?:via|v)[ \t]*:[ \t]*SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*([A-Za-z0-9-]+)",
                  re.IGNORECASE | re.MULTILINE)


def via_transport(text: str) -> str:
    """The transport a SIP message's top Via names, upper-case ("UDP", "TCP", "TLS"...;
    "UDP" without a Via)."""
    m = _VIA.search(text.split("\r\n\r\n", 1)[0])
    return "UDP" if m is None else m.group(1).upper()


def transport_of(text: str) -> str:
    """"udp" or "tcp": the transport a SIP message's top Via names (UDP without a Via), as a
    pcap holds it (TLS as the TCP it travels on, the messages in clear)."""
    return "udp" if via_transport(text) in ("UDP", "DTLS") else "tcp"


def _fields(item: Any) -> dict[str, Any]:
    """The SIPEngineSIPTrace data of ``item`` (a dict, a Notification, a namespace, a
    PacketRecord or a Ladder's TracedMessage) as a dict."""
    if isinstance(item, dict):
        return item
    data = getattr(item, "data", None)
    if getattr(item, "name", None) == "SIPEngineSIPTrace" and data is not None:
        return dict(vars(data))                             # a Notification
    if hasattr(item, "__dataclass_fields__"):
        return {k: getattr(item, k) for k in item.__dataclass_fields__}
    return dict(vars(item))


class Pairs:
    """Of a message traced both as sent and as received in this process (two of its
    transports talking on loopback), only the first copy: ``first(key, received)`` is False
    for the second.  A message traced twice in one direction (a retransmission) counts twice."""

    def __init__(self) -> None:
        # key -> [sent, received] copies not yet matched by one in the other direction
        self.unmatched: dict[Any, list[int]] = {}

    def first(self, key: Any, received: bool | None) -> bool:
        if received is None:                # (a capture: no direction known)
            return True
        counts = self.unmatched.setdefault(key, [0, 0])
        mine, other = (1, 0) if received else (0, 1)
        if counts[other]:
            counts[other] -= 1
            return False
        counts[mine] += 1
        return True


def _record(item: Any, pairs: Pairs) -> PacketRecord | None:
    """The PacketRecord of one trace item; None for the second copy of a message."""
    if isinstance(item, PacketRecord):
        return item
    d = _fields(item)
    if "source_ip" not in d or "data" not in d:
        raise ValueError(f"traces: not SIPEngineSIPTrace data: {item!r}")
    text = d["data"] if isinstance(d["data"], str) else bytes(d["data"]).decode("utf-8", "replace")
    key = (d["source_ip"], int(d["source_port"]), d["destination_ip"],
           int(d["destination_port"]), text)
    if not pairs.first(key, d.get("received")):
        return None
    ts = d.get("timestamp")
    if ts is None:
        ts = datetime.datetime.now(_UTC)
    elif ts.tzinfo is None:
        ts = ts.astimezone(_UTC)
    return PacketRecord(ts, *key[:4], text, d.get("transport") or transport_of(text))


def records(traces: Iterable[Any]) -> list[PacketRecord]:
    """:class:`PacketRecord` objects from trace data (see the module documentation), in
    order; of a message traced both as sent and as received in this process, the first."""
    if hasattr(traces, "packet_records"):                  # a Ladder
        return list(traces.packet_records())
    pairs = Pairs()
    return [r for r in (_record(item, pairs) for item in traces) if r is not None]


# ---- writing -----------------------------------------------------------------------------------

def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])


def _mac(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    """A locally administered unicast MAC address made from the IP address (stable per host)."""
    return b"\x02" + ip.packed[-5:].rjust(5, b"\0")


class _Flows:
    """TCP sequence numbers: the next one of each direction of each flow."""

    def __init__(self) -> None:
        self.next: dict[tuple[Any, ...], int] = {}

    def seq_ack(self, src: tuple[Any, ...], dst: tuple[Any, ...],
                length: int) -> tuple[int, int]:
        key, back = (src, dst), (dst, src)
        seq = self.next.setdefault(key, 1000 + 1000 * len(self.next))
        ack = self.next.setdefault(back, 1000 + 1000 * len(self.next))
        self.next[key] = (seq + length) & 0xFFFFFFFF
        return seq, ack


def _packet(r: PacketRecord, flows: _Flows, ip_id: int) -> bytes:
    """The Ethernet frame of one record."""
    payload = r.data.encode("utf-8")
    src, dst = _ip(r.source_ip), _ip(r.destination_ip)
    if src.version != dst.version:
        raise ValueError(f"a message from {r.source_ip} to {r.destination_ip}: the addresses "
                         "are not of one IP version")
    sport, dport = int(r.source_port), int(r.destination_port)
    if r.transport == "tcp":
        seq, ack = flows.seq_ack((src, sport), (dst, dport), len(payload))
        proto = 6
        l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x18, 65535, 0, 0)
    else:
        proto = 17
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    segment = l4 + payload
    if src.version == 4:
        pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, proto, len(segment))
    else:
        pseudo = src.packed + dst.packed + struct.pack("!IxxxB", len(segment), proto)
    csum = _checksum(pseudo + segment) or 0xFFFF
    at = 16 if proto == 6 else 6
    segment = segment[:at] + struct.pack("!H", csum) + segment[at + 2:]
    if src.version == 4:
        if 20 + len(segment) > 65535:
            raise ValueError(f"a message of {len(payload)} bytes does not fit an IPv4 packet")
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), ip_id & 0xFFFF,
                             0x4000, 64, proto, 0, src.packed, dst.packed)
        header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
        ethertype = 0x0800
    else:
        if len(segment) > 65535:
            raise ValueError(f"a message of {len(payload)} bytes does not fit an IPv6 packet")
        header = struct.pack("!IHBB16s16s", 6 << 28, len(segment), proto, 64,
                             src.packed, dst.packed)
        ethertype = 0x86DD
    return _mac(dst) + _mac(src) + struct.pack("!H", ethertype) + header + segment


_HEADER = struct.pack("<IHHiIII", _MAGIC_US, 2, 4, 0, 0, _SNAPLEN, LINKTYPE_ETHERNET)


def _frame_record(r: PacketRecord, flows: _Flows, number: int) -> bytes:
    """A pcap record: its header (time, lengths), then the frame."""
    frame = _packet(r, flows, number)
    delta = r.timestamp - _EPOCH
    secs = delta.days * 86400 + delta.seconds
    return struct.pack("<IIII", secs, delta.microseconds, len(frame), len(frame)) + frame


PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]


def write_pcap(file: PathOrFile, traces: Iterable[Any]) -> int:
    """Write ``traces`` (see the module documentation) to ``file`` (a path or a binary file)
    as a pcap file (Ethernet link, microsecond times); returns the number of packets."""
    recs = records(traces)
    flows = _Flows()
    blob = _HEADER + b"".join(_frame_record(r, flows, i + 1) for i, r in enumerate(recs))
    if isinstance(file, (str, os.PathLike)):
        with open(file, "wb") as f:
            f.write(blob)
    else:
        file.write(blob)
    return len(recs)


class TraceWriter:
    """Write every ``SIPEngineSIPTrace`` to a pcap file as it happens, while inside ``with``::

        with pcap.TraceWriter("live.pcap"):        # Engine started with trace_sip=True
            ...

    Each packet is written and flushed by the receiver on the poll thread (a few
    microseconds of file I/O per message, only while a writer is active), so the file is
    complete up to the last message at any moment (``tshark -r live.pcap`` or
    :func:`read_pcap` read every message so far).  ``count`` is the number of packets written.
    """

    def __init__(self, file: PathOrFile):
        self._own = isinstance(file, (str, os.PathLike))
        self._file: IO[bytes] = (open(file, "wb") if isinstance(file, (str, os.PathLike))
                                 else file)
        self._flows = _Flows()
        self._pairs = Pairs()
        self.count = 0
        self._file.write(_HEADER)
        self._file.flush()

    def _on_trace(self, sender: Any, **data: Any) -> None:
        r = _record(data, self._pairs)
        if r is not None:
            self.count += 1
            self._file.write(_frame_record(r, self._flows, self.count))
            self._file.flush()

    def __enter__(self) -> TraceWriter:
        from . import signals
        signals.SIPEngineSIPTrace.connect(self._on_trace, weak=False)
        return self

    def __exit__(self, *exc: Any) -> None:
        from . import signals
        signals.SIPEngineSIPTrace.disconnect(self._on_trace)
        if self._own:
            self._file.close()


# ---- reading -----------------------------------------------------------------------------------

def _frames(blob: bytes) -> Iterator[tuple[datetime.datetime, int, bytes]]:
    if blob[:4] == b"\x0a\x0d\x0d\x0a":
        yield from _pcapng_frames(blob)
        return
    if len(blob) < 24:
        raise ValueError("not a pcap file: shorter than its header")
    for endian in ("<", ">"):
        magic = struct.unpack(endian + "I", blob[:4])[0]
        if magic in (_MAGIC_US, _MAGIC_NS):
            break
    else:
        raise ValueError("not a pcap or pcapng file (unknown magic number)")
    linktype = struct.unpack(endian + "I", blob[20:24])[0] & 0x0FFFFFFF
    scale = 1 if magic == _MAGIC_US else 1000
    at = 24
    while at + 16 <= len(blob):
        secs, frac, incl, _orig = struct.unpack(endian + "IIII", blob[at:at + 16])
        frame = blob[at + 16:at + 16 + incl]
        at += 16 + incl
        ts = _EPOCH + datetime.timedelta(seconds=secs, microseconds=frac // scale)
        yield ts, linktype, frame


def _pcapng_frames(blob: bytes) -> Iterator[tuple[datetime.datetime, int, bytes]]:
    """The packets of a pcapng file (what Wireshark, tshark and dumpcap write by default):
    Section Header, Interface Description (link type, if_tsresol), Enhanced and Simple
    Packet blocks; other blocks are skipped.  A Simple Packet has no time: it gets the
    previous packet's."""
    endian, at = "<", 0
    interfaces: list[tuple[int, int]] = []          # (link type, ticks per second)
    last = _EPOCH
    while at + 12 <= len(blob):
        kind = struct.unpack(endian + "I", blob[at:at + 4])[0]
        if blob[at:at + 4] == b"\x0a\x0d\x0d\x0a":     # a section: its own byte order
            magic = blob[at + 8:at + 12]
            endian = "<" if magic == b"\x4d\x3c\x2b\x1a" else ">"
            if magic not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                raise ValueError("not a pcapng file (bad byte-order magic)")
            interfaces = []
            kind = 0x0A0D0D0A
        length = struct.unpack(endian + "I", blob[at + 4:at + 8])[0]
        if length < 12 or at + length > len(blob):
            break                                   # cut short: what came before stands
        body = blob[at + 8:at + length - 4]
        if kind == 1 and len(body) >= 8:            # Interface Description Block
            linktype = struct.unpack(endian + "H", body[:2])[0]
            interfaces.append((linktype, _pcapng_tsresol(body[8:], endian)))
        elif kind == 6 and len(body) >= 20:         # Enhanced Packet Block
            iface, hi, lo, incl, _orig = struct.unpack(endian + "IIIII", body[:20])
            if iface < len(interfaces):
                linktype, per_second = interfaces[iface]
                ticks = (hi << 32) | lo
                try:
                    last = _EPOCH + datetime.timedelta(
                        seconds=ticks // per_second,
                        microseconds=(ticks % per_second) * 1_000_000 // per_second)
                except OverflowError:
                    raise ValueError(f"pcapng: a packet time out of range ({ticks} ticks "
                                     f"of 1/{per_second} s)") from None
                yield last, linktype, body[20:20 + incl]
        elif kind == 3 and len(body) >= 4 and interfaces:   # Simple Packet Block
            yield last, interfaces[0][0], body[4:]
        at += length


def _pcapng_tsresol(options: bytes, endian: str) -> int:
    """Ticks per second from an interface's if_tsresol option (default: microseconds)."""
    at = 0
    while at + 4 <= len(options):
        code, size = struct.unpack(endian + "HH", options[at:at + 4])
        if code == 0:
            break
        if code == 9 and size >= 1:
            v = options[at + 4]
            return 1 << (v & 0x7F) if v & 0x80 else int(10 ** v)
        at += 4 + ((size + 3) & ~3)
    return 1_000_000


def _ip_packet(linktype: int, frame: bytes) -> bytes | None:
    """The IP packet inside a frame of that link type (None: not IP)."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype, at = struct.unpack("!H", frame[12:14])[0], 14
        while ethertype in (0x8100, 0x88A8) and len(frame) >= at + 4:   # VLAN tags
            ethertype, at = struct.unpack("!H", frame[at + 2:at + 4])[0], at + 4
        return frame[at:] if ethertype in (0x0800, 0x86DD) else None
    if linktype == LINKTYPE_RAW:
        return frame
    if linktype == LINKTYPE_LINUX_SLL:
        return frame[16:] if frame[14:16] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == LINKTYPE_LINUX_SLL2:
        return frame[20:] if frame[0:2] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == LINKTYPE_NULL:
        return frame[4:]
    return None


def _transport_segment(packet: bytes) -> tuple[str, str, int, bytes] | None:
    """(source ip, destination ip, protocol, L4 segment) of an IP packet."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 20:
        ihl = (packet[0] & 0x0F) * 4
        total = struct.unpack("!H", packet[2:4])[0]
        frag = struct.unpack("!H", packet[6:8])[0]
        if frag & 0x1FFF or frag & 0x2000:          # a fragment: not reassembled
            return None
        return (str(ipaddress.IPv4Address(packet[12:16])),
                str(ipaddress.IPv4Address(packet[16:20])), packet[9], packet[ihl:total])
    if version == 6 and len(packet) >= 40:
        length, proto = struct.unpack("!HB", packet[4:7])
        at, end = 40, 40 + length
        while proto in (0, 43, 60) and len(packet) >= at + 8:   # hop-by-hop, routing, dest
            proto, ext = packet[at], (packet[at + 1] + 1) * 8
            at += ext
        return (str(ipaddress.IPv6Address(packet[8:24])),
                str(ipaddress.IPv6Address(packet[24:40])), proto, packet[at:end])
    return None


_SIP_START = re.compile(rb"^(?:SIP/2\.0 \d{3} |[A-Z]+ \S+ SIP/2\.0\r?\n)")
_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)",
                             re.IGNORECASE | re.MULTILINE)


def _split_stream(buf: bytes) -> tuple[list[bytes], bytes]:
    """Complete SIP messages at the start of a TCP byte stream, and what is left."""
    out: list[bytes] = []
    while True:
        buf = buf.lstrip(b"\r\n")                   # keep-alive CRLFs
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        m = _CONTENT_LENGTH.search(buf[:end + 2])
        total = end + 4 + (int(m.group(1)) if m else 0)
        if len(buf) < total:
            return out, buf
        out.append(buf[:total])
        buf = buf[total:]


def read_pcap(file: PathOrFile) -> list[PacketRecord]:
    """The SIP messages of a pcap file (a path or a binary file), in capture order."""
    if isinstance(file, (str, os.PathLike)):
        with open(file, "rb") as f:
            blob = f.read()
    else:
        blob = file.read()
    out: list[PacketRecord] = []
    streams: dict[tuple[str, int, str, int], bytearray] = {}
    for ts, linktype, frame in _frames(blob):
        packet = _ip_packet(linktype, frame)
        seg = _transport_segment(packet) if packet is not None else None
        if seg is None:
            continue
        src, dst, proto, l4 = seg
        if proto == 17 and len(l4) >= 8:
            sport, dport = struct.unpack("!HH", l4[:4])
            payload = l4[8:]
            if _SIP_START.match(payload):
                out.append(PacketRecord(ts, src, sport, dst, dport,
                                        payload.decode("utf-8", "replace"), "udp"))
        elif proto == 6 and len(l4) >= 20:
            sport, dport = struct.unpack("!HH", l4[:4])
            payload = l4[(l4[12] >> 4) * 4:]
            if not payload:
                continue
            key = (src, sport, dst, dport)
            buf = streams.setdefault(key, bytearray())
            if not buf and not _SIP_START.match(payload.lstrip(b"\r\n")):
                continue                            # not SIP (or the middle of a message)
            buf += payload
            messages, rest = _split_stream(bytes(buf))
            streams[key] = bytearray(rest)
            for m in messages:
                out.append(PacketRecord(ts, src, sport, dst, dport,
                                        m.decode("utf-8", "replace"), "tcp"))
    return out
