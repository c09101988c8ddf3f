"""Network faults for tests: a network namespace of the test's own, packet loss, delay, resets.

Needs root (CAP_NET_ADMIN / CAP_SYS_ADMIN), ``ip`` (iproute2), ``nft`` (nftables) and ``ss``.
Nothing outside the namespace is touched: the loss rules live in the namespace's own nftables
ruleset and every address is the namespace's loopback, so tests that run at the same time on
the machine's own 127.0.0.1 see none of it.

    with NetNS() as ns, ns.entered():        # this thread's new sockets are in the namespace
        k = Kamailio().start()              # a child started now runs in it too (127.0.0.1
        engine.start(local_ip="127.0.0.1")  # of the namespace); so do the Engine's sockets
        ns.loss(10, ports=[k.port])          # drop 10 % of the UDP packets to or from k.port
        with DelayRelay(("127.0.0.1", k.port), delay=0.2) as relay:
            ...                              # Route("127.0.0.1", relay.port): 200 ms each way
        ns.reset_tcp(k.port)                 # reset every TCP connection of that port (ss -K)
        ns.dropped()                         # packets the loss rules dropped so far

The kernel here has no ``netem`` qdisc, so delay comes from :class:`DelayRelay` (a UDP relay
that holds every datagram for ``delay`` seconds, both ways) and loss from an nftables rule
(``numgen random mod 100 < N drop``).  :meth:`NetNS.entered` switches only the calling thread
(``setns``); a thread it starts inherits the namespace, one started before does not.  The
namespace is deleted by ``close()`` (and ``__exit__``) whatever happened: processes still in it
(started by the test) are killed first.
"""
from __future__ import annotations

import contextlib
import ctypes
import heapq
import itertools
import json
import os
import selectors
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["NetNS", "DelayRelay", "netns_available"]

_CLONE_NEWNET = 0x40000000
_TABLE = "sipcore_faults"
_counter = itertools.count(1)
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _run(*cmd: str, input: str | None = None) -> str:
    r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def netns_available() -> str | None:
    """None when this process can make namespaces and loss rules; else what is missing."""
    if os.geteuid() != 0:
        return "not root"
    for tool in ("ip", "nft", "ss"):
        if not any(os.access(os.path.join(d, tool), os.X_OK)
                   for d in os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/sbin"]):
            return f"no {tool!r} (tools/system-deps.sh installs it)"
    return None


class NetNS:
    """A new network namespace with only its loopback up (``name``: unique per process)."""

    def __init__(self, prefix: str = "sipcore-t"):
        self.name = f"{prefix}{os.getpid()}-{next(_counter)}"
        self.created = False

    # ---- life ---------------------------------------------------------------------------

    def create(self) -> NetNS:
        _run("ip", "netns", "add", self.name)
        self.created = True
        try:
            _run("ip", "-n", self.name, "link", "set", "lo", "up")
            self.nft(f"add table inet {_TABLE}\n"
                     f"add chain inet {_TABLE} loss {{ type filter hook input priority 0; "
                     f"policy accept; }}\n")
        except BaseException:
            self.close()
            raise
        return self

    def pids(self) -> list[int]:
        """Processes whose network namespace this is (started by the test: children
        started in it), not this process."""
        try:
            out = _run("ip", "netns", "pids", self.name)
        except RuntimeError:
            return []
        return [int(p) for p in out.split() if p.isdigit() and int(p) != os.getpid()]

    def close(self) -> None:
        """Kill what still runs in the namespace, then delete it (idempotent)."""
        if not self.created:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left = self.pids()
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 3
            while left and time.monotonic() < deadline:
                time.sleep(0.05)
                left = self.pids()
            if not left:
                break
        with contextlib.suppress(RuntimeError):
            _run("ip", "netns", "del", self.name)
        self.created = False

    def __enter__(self) -> NetNS:
        return self.create()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def entered(self) -> Iterator[NetNS]:
        """The calling thread in the namespace while inside (its new sockets, the threads
        and processes it starts); back in its own namespace after, whatever happened."""
        old = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            new = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
            try:
                _setns(new)
            finally:
                os.close(new)
            try:
                yield self
            finally:
                _setns(old)
        finally:
            os.close(old)

    # ---- faults -------------------------------------------------------------------------

    def exec(self, *cmd: str, input: str | None = None) -> str:
        """Run ``cmd`` in the namespace (``ip netns exec``); its output."""
        return _run("ip", "netns", "exec", self.name, *cmd, input=input)

    def nft(self, script: str) -> str:
        return self.exec("nft", "-f", "-", input=script)

    def loss(self, percent: int, ports: list[int], proto: str = "udp") -> None:
        """Drop ``percent`` % of the ``proto`` packets to or from each of ``ports``, at random
        (each packet on its own: ``numgen random mod 100 < percent``).  They are dropped on
        the way in (the input hook): dropped on the way out, the sender's ``sendto`` would
        fail with EPERM, which a SIP stack takes for a transport error, not a loss."""
        if not 0 <= percent <= 100:
            raise ValueError(f"percent must be 0..100, not {percent!r}")
        if proto not in ("udp", "tcp"):
            raise ValueError(f"proto must be 'udp' or 'tcp', not {proto!r}")
        chance = "" if percent == 100 else f"numgen random mod 100 < {int(percent)} "
        rules = "".join(
            f"add rule inet {_TABLE} loss {proto} {way} {int(p)} {chance}counter drop\n"
            for p in ports for way in ("dport", "sport"))
        self.nft(rules)

    def clear_loss(self) -> None:
        """Remove every loss rule (the counters go with them)."""
        self.nft(f"flush chain inet {_TABLE} loss\n")

    def dropped(self) -> int:
        """Packets the loss rules dropped so far."""
        data = json.loads(self.exec("nft", "-j", "list", "chain", "inet", _TABLE, "loss"))
        total = 0
        for item in data.get("nftables", []):
            for expr in item.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    total += int(expr["counter"].get("packets", 0))
        return total

    def reset_tcp(self, port: int) -> int:
        """Abort every TCP connection with ``port`` at either end (``ss -K``: both sides see
        the connection reset); how many were aborted."""
        out = self.exec("ss", "-K", "-t", "-n", f"( sport = :{int(port)} or dport = :{int(port)} )")
        return sum(1 for line in out.splitlines() if line.startswith("ESTAB"))


class DelayRelay:
    """A UDP relay on 127.0.0.1 (of the namespace it is made in) to ``upstream``: every
    datagram is held ``delay`` seconds, both ways, order kept.

    Each client address gets an upstream socket of its own, so the server sees one source per
    client and its answers (and requests to that source, e.g. a registrar's delivery to the
    address a REGISTER came from) go back to that client.  ``forwarded`` counts datagrams
    relayed (``up``: client -> server, ``down``)."""

    def __init__(self, upstream: tuple[str, int], delay: float = 0.2, host: str = "127.0.0.1"):
        self.upstream = upstream
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host, self.port = self.sock.getsockname()
        self.forwarded = {"up": 0, "down": 0}
        self._clients: dict[tuple[str, int], socket.socket] = {}
        self._owner: dict[socket.socket, tuple[str, int]] = {}
        # (due, sequence, socket to send on, datagram, destination, "up" or "down")
        self._queue: list[tuple[float, int, socket.socket, bytes, tuple[str, int], str]] = []
        self._seq = itertools.count()
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.sock, selectors.EVENT_READ)
        self._stop = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._wake_r, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._loop, name="sipcore-delay-relay", daemon=True)

    def start(self) -> DelayRelay:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread.is_alive():
            self._thread.join(5)
        for s in [self.sock, self._wake_r, self._wake_w, *self._clients.values()]:
            s.close()

    def __enter__(self) -> DelayRelay:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _upstream_of(self, client: tuple[str, int]) -> socket.socket:
        s = self._clients.get(client)
        if s is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((self.host, 0))
            self._clients[client] = s
            self._owner[s] = client
            self._sel.register(s, selectors.EVENT_READ)
        return s

    def _loop(self) -> None:
        while not self._stop:
            timeout = None
            if self._queue:
                timeout = max(0.0, self._queue[0][0] - time.monotonic())
            for key, _ in self._sel.select(timeout):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                if s is self._wake_r:
                    s.recv(64)
                    continue
                try:
                    data, addr = s.recvfrom(65535)
                except OSError:
                    continue
                due = time.monotonic() + self.delay
                if s is self.sock:         # from a client: out through its upstream socket
                    item = (due, next(self._seq), self._upstream_of(addr), data,
                            self.upstream, "up")
                else:                      # from the server: back to that socket's client
                    item = (due, next(self._seq), self.sock, data, self._owner[s], "down")
                heapq.heappush(self._queue, item)
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, out, data, to, way = heapq.heappop(self._queue)
                with contextlib.suppress(OSError):
                    out.sendto(data, to)
                    self.forwarded[way] += 1
