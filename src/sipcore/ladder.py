"""Call-flow ladders from ``SIPEngineSIPTrace`` notifications.

>>> ladder = Ladder(names={"127.0.0.1:5060": "proxy"})
>>> with ladder:              # records SIP traces while active (Engine trace_sip=True)
...     ...                   # do SIP things
>>> print(ladder.render())

Each endpoint (ip:port) gets a column; each message an arrow labelled with its first line.
Messages seen twice (sent by one sipcore and received by another in the same process, or
both sides of a loopback) are shown once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import signals


@dataclass
class TracedMessage:
    timestamp: Any
    source: str
    destination: str
    first_line: str
    data: str


def _addr(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class Ladder:
    def __init__(self, names: dict[str, str] | None = None, width: int = 30):
        self.names = dict(names or {})
        self.width = width
        self.messages: list[TracedMessage] = []
        self.local: set[str] = set()   # addresses of this process (from the trace direction)
        self._seen: set[tuple[str, str, str]] = set()

    def _on_trace(self, sender: Any, **data: Any) -> None:
        self.add(data)

    def add(self, data: Any) -> None:
        d = data if isinstance(data, dict) else vars(data)
        text = d["data"]
        src = _addr(d["source_ip"], d["source_port"])
        dst = _addr(d["destination_ip"], d["destination_port"])
        self.local.add(dst if d["received"] else src)
        key = (src, dst, text)
        if key in self._seen:
            return
        self._seen.add(key)
        self.messages.append(TracedMessage(d["timestamp"], src, dst,
                                           text.split("\r\n", 1)[0], text))

    def __enter__(self) -> "Ladder":
        signals.SIPEngineSIPTrace.connect(self._on_trace, weak=False)
        return self

    def __exit__(self, *exc: Any) -> None:
        signals.SIPEngineSIPTrace.disconnect(self._on_trace)

    def columns(self) -> list[str]:
        cols: list[str] = []
        for m in self.messages:
            for a in (m.source, m.destination):
                if a not in cols:
                    cols.append(a)
        return cols

    def render(self) -> str:
        cols = self.columns()
        if not cols:
            return "(no SIP messages traced)"
        longest = max(len(m.first_line) for m in self.messages)
        w = max(self.width, min(64, longest + 6))
        lines = ["".join(self.names.get(c, "this process" if c in self.local else c).center(w)
                         for c in cols),
                 "".join(c.center(w) if c in self.names or c in self.local else "".center(w)
                         for c in cols).rstrip()]
        lines = [ln for ln in lines if ln.strip()]
        bar = "".join("|".center(w) for _ in cols).rstrip()
        t0 = self.messages[0].timestamp
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
            dt = (m.timestamp - t0).total_seconds() * 1000 if t0 is not None else 0.0
            lines.append(bar)
            lines.append("".join(row).rstrip() + f"   +{dt:.1f} ms")
        lines.append(bar)
        return "\n".join(lines)
