"""Call-flow ladders from ``SIPEngineSIPTrace`` notifications or pcap files.

>>> ladder = Ladder(names={"127.0.0.1:5060": "proxy"})
>>> with ladder:              # records SIP traces while active (Engine trace_sip=True)
...     ...                   # do SIP things
>>> print(ladder.render())    # text; in Jupyter the ladder shows itself as SVG
>>> ladder.save_pcap("call.pcap")             # for Wireshark / tshark / sngrep
>>> Ladder.from_pcap("call.pcap")             # and back (or any SIP capture)

Each endpoint (ip:port) gets a column; each message an arrow labelled with its first line.
A message seen twice (sent by one transport of this process and received by another, as
between two accounts on loopback) is shown once; retransmissions are shown each time.

In a notebook a Ladder displays as an SVG drawing (``_repr_svg_``; ``_repr_html_`` wraps it
in a box that scrolls sideways rather than shrinking the text, so it stays readable however
narrow the page): one column per endpoint, arrows coloured by kind (requests blue, 1xx grey,
2xx green, 3xx-6xx red), the time since the first message on the left, and the whole message
as the tooltip of its arrow.  ``ladder.svg()`` is the same drawing as a string.
"""
from __future__ import annotations

import datetime
import html
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import pcap, signals


@dataclass
class TracedMessage:
    timestamp: Any
    source: str
    destination: str
    first_line: str
    data: str
    source_ip: str = ""
    source_port: int = 0
    destination_ip: str = ""
    destination_port: int = 0
    transport: str = "udp"


def _addr(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class Ladder:
    def __init__(self, names: dict[str, str] | None = None, width: int = 30):
        self.names = dict(names or {})
        self.width = width
        self.messages: list[TracedMessage] = []
        self.local: set[str] = set()   # addresses of this process (from the trace direction)
        self._pairs = pcap.Pairs()     # a message sent and received by this process: once

    # ---- recording ------------------------------------------------------------------------

    def _on_trace(self, sender: Any, **data: Any) -> None:
        self.add(data)

    def add(self, data: Any) -> None:
        """Add one SIPEngineSIPTrace's data (a dict, a Notification, a namespace) or a
        :class:`~sipcore.pcap.PacketRecord`."""
        d = data if isinstance(data, dict) else pcap._fields(data)
        text = d["data"]
        src = _addr(d["source_ip"], d["source_port"])
        dst = _addr(d["destination_ip"], d["destination_port"])
        received = d.get("received")
        if received is not None:
            self.local.add(dst if received else src)
        if not self._pairs.first((src, dst, text), received):
            return                              # the other copy of a message shown already
        self.messages.append(TracedMessage(
            d.get("timestamp"), src, dst, text.split("\r\n", 1)[0], text,
            d["source_ip"], int(d["source_port"]), d["destination_ip"],
            int(d["destination_port"]), d.get("transport") or pcap.transport_of(text)))

    def start(self) -> Ladder:
        """Record SIP traces from now on (``with ladder:`` does it too; a notebook, whose
        cells cannot share a ``with``, calls start() and stop())."""
        signals.SIPEngineSIPTrace.connect(self._on_trace, weak=False)
        return self

    def stop(self) -> None:
        signals.SIPEngineSIPTrace.disconnect(self._on_trace)

    def __enter__(self) -> Ladder:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- pcap -----------------------------------------------------------------------------

    @classmethod
    def from_records(cls, records: Iterable[Any], names: dict[str, str] | None = None) -> Ladder:
        """A ladder of trace data or :class:`~sipcore.pcap.PacketRecord` objects."""
        ladder = cls(names)
        for r in records:
            ladder.add(r)
        return ladder

    @classmethod
    def from_pcap(cls, file: Any, names: dict[str, str] | None = None) -> Ladder:
        """The ladder of the SIP messages in a pcap file (see :func:`sipcore.pcap.read_pcap`)."""
        return cls.from_records(pcap.read_pcap(file), names)

    def packet_records(self) -> list[pcap.PacketRecord]:
        """The messages as :class:`~sipcore.pcap.PacketRecord` objects."""
        now = datetime.datetime.now(datetime.timezone.utc)
        return [pcap.PacketRecord(m.timestamp or now, m.source_ip, m.source_port,
                                  m.destination_ip, m.destination_port, m.data, m.transport)
                for m in self.messages]

    def save_pcap(self, file: Any) -> int:
        """Write the messages as a pcap file (see :func:`sipcore.pcap.write_pcap`); returns
        the number of packets."""
        return pcap.write_pcap(file, self.packet_records())

    # ---- drawing --------------------------------------------------------------------------

    def columns(self) -> list[str]:
        cols: list[str] = []
        for m in self.messages:
            for a in (m.source, m.destination):
                if a not in cols:
                    cols.append(a)
        return cols

    def _title(self, col: str) -> str:
        return self.names.get(col, "this process" if col in self.local else col)

    def _ms(self, m: TracedMessage) -> float:
        t0 = self.messages[0].timestamp
        if t0 is None or m.timestamp is None:
            return 0.0
        return float((m.timestamp - t0).total_seconds()) * 1000

    def render(self) -> str:
        """The ladder as text (one column of ``width`` or more characters per endpoint)."""
        cols = self.columns()
        if not cols:
            return "(no SIP messages traced)"
        longest = max(len(m.first_line) for m in self.messages)
        w = max(self.width, min(64, longest + 6))
        lines = ["".join(self._title(c).center(w) for c in cols),
                 "".join(c.center(w) if c in self.names or c in self.local else "".center(w)
                         for c in cols).rstrip()]
        lines = [ln for ln in lines if ln.strip()]
        bar = "".join("|".center(w) for _ in cols).rstrip()
        for m in self.messages:
            i, j = cols.index(m.source), cols.index(m.destination)
            lo, hi = min(i, j), max(i, j)
            row = list("".join("|".center(w) for _ in cols))
            start = lo * w + w // 2
            end = hi * w + w // 2
            if i == j:
                label = f"{m.first_line} (to itself)"
                lines.append(bar)
                lines.append("".join(row).rstrip() + "  " + label)
                continue
            for k in range(start + 1, end):
                row[k] = "-"
            if j > i:
                row[end - 1] = ">"
            else:
                row[start + 1] = "<"
            label = m.first_line[: max(0, end - start - 4)]
            mid = start + 2 + max(0, (end - start - 3 - len(label)) // 2)
            row[mid:mid + len(label)] = list(label)
            lines.append(bar)
            lines.append("".join(row).rstrip() + f"   +{self._ms(m):.1f} ms")
        lines.append(bar)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return (f"<Ladder {len(self.messages)} messages between {len(self.columns())} "
                f"endpoints>\n{self.render()}")

    def svg(self) -> str:
        """The ladder as an SVG document (see the module documentation)."""
        cols = self.columns()
        font, cw = 12, 7.3                      # monospace: px per character (approx.)
        if not cols:
            return (f'<svg xmlns="http://www.w3.org/2000/svg" width="260" height="30">'
                    f'<text x="10" y="20" font-family="monospace" font-size="{font}">'
                    f'(no SIP messages traced)</text></svg>')
        labels = [m.first_line if len(m.first_line) <= 60 else m.first_line[:59] + "\u2026"
                  for m in self.messages]
        heads = [self._title(c) for c in cols]
        gap = max(170.0, max(len(s) for s in labels) * cw + 40,
                  max(len(s) for s in heads + cols) * cw + 20)
        left, top, row = 96.0, 54.0, 30.0
        width = left + gap * len(cols)
        height = top + row * (len(self.messages) + 1)
        x = [left + gap * (k + 0.5) for k in range(len(cols))]
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
               f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
               f'font-family="monospace" font-size="{font}">',
               "<defs>" + "".join(
                   f'<marker id="arrow{c[1:]}" viewBox="0 0 10 10" refX="10" refY="5" '
                   f'markerWidth="8" markerHeight="8" orient="auto">'
                   f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{c}"/></marker>'
                   for c in _COLORS) + "</defs>",
               f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>']
        for k, c in enumerate(cols):
            e = html.escape
            out.append(f'<text x="{x[k]:.1f}" y="16" text-anchor="middle" font-weight="bold">'
                       f'{e(heads[k])}</text>')
            if heads[k] != c:
                out.append(f'<text x="{x[k]:.1f}" y="32" text-anchor="middle" fill="#555">'
                           f'{e(c)}</text>')
            out.append(f'<line x1="{x[k]:.1f}" y1="{top - 14:.0f}" x2="{x[k]:.1f}" '
                       f'y2="{height - 6:.0f}" stroke="#999" stroke-dasharray="4 3"/>')
        for n, (m, label) in enumerate(zip(self.messages, labels)):
            y = top + row * (n + 0.8)
            i, j = cols.index(m.source), cols.index(m.destination)
            color = _color(m.first_line)
            tip = html.escape(f"{m.source} -> {m.destination} ({m.transport.upper()})\n{m.data}")
            out.append(f'<g><title>{tip}</title>')
            ms = self._ms(m)
            when = f"+{ms:.1f} ms" if ms < 10000 else f"+{ms / 1000:.3f} s"
            out.append(f'<text x="6" y="{y + 4:.1f}" fill="#555">{when}</text>')
            if i == j:
                path = (f"M {x[i]:.1f} {y - 8:.1f} h 30 v 14 h -30")
                out.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="1.5" '
                           f'marker-end="url(#arrow{color[1:]})"/>')
                out.append(f'<text x="{x[i] + 36:.1f}" y="{y + 2:.1f}" fill="{color}">'
                           f'{html.escape(label)}</text>')
            else:
                out.append(f'<line x1="{x[i]:.1f}" y1="{y:.1f}" x2="{x[j]:.1f}" y2="{y:.1f}" '
                           f'stroke="{color}" stroke-width="1.5" '
                           f'marker-end="url(#arrow{color[1:]})"/>')
                # on a white box, so that a lifeline it crosses does not cut the text
                mid, half = (x[i] + x[j]) / 2, len(label) * cw / 2 + 3
                out.append(f'<rect x="{mid - half:.1f}" y="{y - 17:.1f}" width="{2 * half:.1f}" '
                           f'height="15" fill="white"/>')
                out.append(f'<text x="{mid:.1f}" y="{y - 5:.1f}" '
                           f'text-anchor="middle" fill="{color}">{html.escape(label)}</text>')
            out.append('</g>')
        out.append('</svg>')
        return "\n".join(out)

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_html_(self) -> str:
        return ('<div style="overflow-x:auto; max-width:100%"><div style="width:max-content">'
                f'{self.svg()}</div></div>')


_COLORS = ("#1f5fbf", "#777777", "#1a7f37", "#c0392b")     # request, 1xx, 2xx, 3xx-6xx


def _color(first_line: str) -> str:
    if not first_line.startswith("SIP/2.0 "):
        return _COLORS[0]
    return {"1": _COLORS[1], "2": _COLORS[2]}.get(first_line[8:9], _COLORS[3])
