"""Floods for a SIP endpoint on loopback (stdlib only): raw INVITE datagrams at a fixed rate,
idle TCP connections, slow-drip TCP senders.  Used by ``benchmarks/flood.py`` (the figures)
and ``tests/robustness/test_flood.py`` (the short form).

The INVITE flood and the drip run in a child process of their own (``python flood.py invite
...`` / ``python flood.py drip ...``: a separate process, as an attacker is, so the sender's
CPU is not the measured process's), started by :class:`Child`, which prints one JSON line
when done::

    python tests/peers/flood.py invite --port P --rate 10000 --seconds 10
        {"sent": N, "seconds": S, "responses": {"100": n, "480": n, ...}}
    python tests/peers/flood.py drip --port P --connections 50 --seconds 10 --interval 0.1
        {"connections": N, "sent_bytes": N, "closed_by_peer": N, "seconds": S}

Every INVITE is a new transaction and a new dialog (its own Call-ID, From tag and branch),
with a 2-line SDP offer; it names a UDP socket of the sender in its Via, which reads
(and counts) the responses and never sends ACK.  A drip connection sends one byte of a
MESSAGE every ``interval`` seconds; its header block never ends (an ``X-Drip`` header
grows past what a SIP stack buffers: ``PJSIP_MAX_PKT_LEN``, 4000 bytes, takes 40 s per
connection at 0.1 s per byte).

:func:`hold_tcp` opens idle TCP connections in the calling process (raise the fd limit
first: :func:`raise_fd_limit`).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import select
import socket
import subprocess
import sys
import time

INVITE = (
    "INVITE sip:bob@{host}:{port} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP {host}:{sport};branch=z9hG4bK-fl{tag}-{n}\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:flood@{host}>;tag=fl{n}\r\n"
    "To: <sip:bob@{host}>\r\n"
    "Call-ID: {tag}-{n}@flood\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:flood@{host}:{sport}>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: {length}\r\n\r\n{sdp}"
)
SDP = ("v=0\r\no=- {n} 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
DRIP = (
    "MESSAGE sip:bob@{host}:{port} SIP/2.0\r\n"
    "Via: SIP/2.0/TCP {host}:9;branch=z9hG4bK-drip{n}\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:drip@{host}>;tag=d{n}\r\nTo: <sip:bob@{host}>\r\n"
    "Call-ID: {n}@drip\r\nCSeq: 1 MESSAGE\r\nX-Drip: "
)


def invite(host: str, port: int, sport: int, n: int, tag: str = "0") -> bytes:
    """INVITE number ``n`` to ``host:port`` with a Via naming ``host:sport``."""
    sdp = SDP.format(n=n, host=host)
    return INVITE.format(host=host, port=port, sport=sport, n=n, tag=tag, sdp=sdp,
                         length=len(sdp)).encode()


def raise_fd_limit(need: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE to at least ``need`` (up to the hard limit);
    its children inherit it.  Returns the soft limit now set."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


def hold_tcp(host: str, port: int, count: int, timeout: float = 10.0) -> list[socket.socket]:
    """``count`` TCP connections to ``host:port``, connected and idle (nothing sent)."""
    conns = []
    try:
        for _ in range(count):
            conns.append(socket.create_connection((host, port), timeout=timeout))
    except BaseException:
        close_all(conns)
        raise
    return conns


def close_all(conns: list[socket.socket]) -> None:
    for c in conns:
        try:
            c.close()
        except OSError:
            pass
    conns.clear()


def fd_count(pid: int) -> int:
    """How many file descriptors process ``pid`` holds open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


# ---- the child processes ------------------------------------------------------------------

def _flood_invites(host: str, port: int, rate: float, seconds: float) -> dict:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    rx.bind((host, 0))
    sport = rx.getsockname()[1]
    tag = "%x" % (os.getpid() ^ int(time.time()))
    responses: dict[str, int] = {}

    def drain() -> None:
        while True:
            try:
                data = rx.recv(65535, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:       # ICMP errors from an earlier send
                continue
            code = data[8:11].decode("ascii", "replace")
            responses[code] = responses.get(code, 0) + 1

    sent = 0
    start = time.monotonic()
    while True:
        now = time.monotonic() - start
        if now >= seconds:
            break
        due = int(now * rate) + 1
        while sent < due:
            try:
                rx.sendto(invite(host, port, sport, sent, tag), (host, port))
            except OSError:
                pass
            sent += 1
        drain()
        time.sleep(0.0005)
    elapsed = time.monotonic() - start
    end = time.monotonic() + 1.0      # the answers still on their way
    while time.monotonic() < end:
        select.select([rx], [], [], 0.05)
        drain()
    rx.close()
    return {"sent": sent, "seconds": round(elapsed, 3), "responses": responses}


def _drip(host: str, port: int, connections: int, seconds: float, interval: float) -> dict:
    conns = []
    for n in range(connections):
        c = socket.create_connection((host, port), timeout=5)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conns.append((c, DRIP.format(host=host, port=port, n=n).encode()))
    sent_bytes = 0
    closed = set()
    pos = 0
    start = time.monotonic()
    next_round = start
    while time.monotonic() - start < seconds:
        for i, (c, head) in enumerate(conns):
            if i in closed:
                continue
            byte = head[pos:pos + 1] if pos < len(head) else b"a"
            try:
                c.send(byte)
                sent_bytes += 1
            except OSError:
                closed.add(i)
        pos += 1
        next_round += interval
        time.sleep(max(0.0, next_round - time.monotonic()))
    elapsed = time.monotonic() - start
    for c, _ in conns:
        c.close()
    return {"connections": connections, "sent_bytes": sent_bytes,
            "closed_by_peer": len(closed), "seconds": round(elapsed, 3)}


class Child:
    """``python flood.py MODE ...`` as a child process: ``with Child("invite", port=...) as
    c: ...; c.result()`` (the JSON line it printed at its end)."""

    def __init__(self, mode: str, **options: object):
        args = [sys.executable, os.path.abspath(__file__), mode]
        for key, value in options.items():
            args += ["--" + key.replace("_", "-"), str(value)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)

    def result(self, timeout: float = 120.0) -> dict:
        out, err = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0:
            raise RuntimeError(f"flood child failed ({self.proc.returncode}): {err[-2000:]}")
        return json.loads(out.strip().splitlines()[-1])

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["invite", "drip"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=10000.0, help="invite: INVITEs per second")
    ap.add_argument("--connections", type=int, default=50, help="drip: connections")
    ap.add_argument("--interval", type=float, default=0.1,
                    help="drip: seconds between two bytes on a connection")
    args = ap.parse_args(argv)
    if args.mode == "invite":
        out = _flood_invites(args.host, args.port, args.rate, args.seconds)
    else:
        raise_fd_limit(args.connections + 64)
        out = _drip(args.host, args.port, args.connections, args.seconds, args.interval)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
