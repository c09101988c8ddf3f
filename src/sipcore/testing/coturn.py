"""coturn (Debian's ``turnserver`` 4.6) as a throw-away STUN server on loopback, and a "black
hole" STUN address that never answers, for the media tests (ICE's STUN candidate, NAT-type
detection).

Usage::

    from sipcore.testing.coturn import Coturn, BlackHole

    with Coturn() as stun:                  # or in a fixture: yield stun
        stun.host, stun.port                # 127.0.0.1, a free UDP port
        stun.alt_host, stun.alt_port        # 127.0.0.2, another free UDP port
        stun_binding(stun.host, stun.port)  # -> ("127.0.0.1", <our port>)

    with BlackHole() as hole:               # a bound UDP socket that reads and never answers
        hole.host, hole.port
        hole.received()                     # how many datagrams arrived so far

NAT-type detection (RFC 3489 / 5780, ``pj_stun_detect_nat_type``) sends CHANGE-REQUEST: the
server must answer from its *other* address and port.  coturn does that only with a second
listening address and an alternate port; without them PJNATH reports "Unknown Attribute".
So coturn listens on 127.0.0.1 and 127.0.0.2 (all of 127/8 is loopback on Linux), each on
``port`` and ``alt_port``.  Only UDP, STUN only (no TURN relay, no TLS/DTLS, no CLI, no
config file: ``-n``).  A missing ``turnserver`` is an error, never a skip.
"""
from __future__ import annotations

import os
import random
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterable

from .ports import _handed_out, _lock
from .procs import ManagedPeer

__all__ = ["Coturn", "CoturnError", "BlackHole", "stun_binding", "free_udp_port_on"]

MAGIC = 0x2112A442
BINDING_REQUEST, BINDING_RESPONSE = 0x0001, 0x0101
ATTR_MAPPED, ATTR_XOR_MAPPED, ATTR_CHANGE_REQUEST = 0x0001, 0x0020, 0x0003


class CoturnError(RuntimeError):
    pass


def _udp_free(host: str, port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_udp_port_on(hosts: Iterable[str], count: int = 1) -> list[int]:
    """``count`` distinct UDP ports free on every address of ``hosts`` (loopback addresses),
    never handed out before in this process (shares ``ports.py``'s memory)."""
    rng = random.Random()
    out: list[int] = []
    with _lock:
        for _ in range(4000):
            p = rng.randrange(20000, 32000)
            if p in _handed_out or p in out:
                continue
            if all(_udp_free(h, p) for h in hosts):
                _handed_out.add(p)
                out.append(p)
                if len(out) == count:
                    return out
    raise CoturnError(f"no {count} free UDP ports on {hosts}")


def _binding_request(change_ip: bool = False, change_port: bool = False) -> tuple[bytes, bytes]:
    txid = os.urandom(12)
    attrs = b""
    if change_ip or change_port:
        flags = (4 if change_ip else 0) | (2 if change_port else 0)
        attrs = struct.pack("!HHI", ATTR_CHANGE_REQUEST, 4, flags)
    return struct.pack("!HHI", BINDING_REQUEST, len(attrs), MAGIC) + txid + attrs, txid


def _mapped_address(msg: bytes) -> tuple[str, int] | None:
    pos = 20
    found = None
    while pos + 4 <= len(msg):
        atype, alen = struct.unpack_from("!HH", msg, pos)
        val = msg[pos + 4:pos + 4 + alen]
        if atype in (ATTR_MAPPED, ATTR_XOR_MAPPED) and len(val) >= 8 and val[1] == 1:
            port, = struct.unpack_from("!H", val, 2)
            addr = val[4:8]
            if atype == ATTR_XOR_MAPPED:
                port ^= MAGIC >> 16
                addr = bytes(a ^ b for a, b in zip(addr, struct.pack("!I", MAGIC)))
                return socket.inet_ntoa(addr), port
            found = (socket.inet_ntoa(addr), port)
        pos += 4 + alen + (-alen % 4)
    return found


def stun_binding(host: str, port: int, timeout: float = 1.0, change_ip: bool = False,
                 change_port: bool = False, sock: socket.socket | None = None
                 ) -> tuple[tuple[str, int] | None, tuple[str, int]] | None:
    """Send one STUN Binding request over UDP (optionally with CHANGE-REQUEST).

    Returns ``(mapped_address, answered_from)`` — ``mapped_address`` is ``(ip, port)`` as the
    server saw us, ``answered_from`` the ``(ip, port)`` the answer came from — or None when no
    success response arrived within ``timeout``."""
    own = sock is None
    s = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if own:
            s.bind(("127.0.0.1", 0))
        req, txid = _binding_request(change_ip, change_port)
        s.sendto(req, (host, port))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data, src = s.recvfrom(2048)
            except socket.timeout:
                return None
            if len(data) >= 20 and data[8:20] == txid:
                mtype, = struct.unpack_from("!H", data, 0)
                if mtype != BINDING_RESPONSE:
                    return None
                return _mapped_address(data), src
    finally:
        if own:
            s.close()


class Coturn(ManagedPeer):
    """coturn as a STUN-only server on 127.0.0.1 and 127.0.0.2 (see the module docstring).

    Args:
      workdir        directory for the log, pid file and SQLite DB (default: a new tmp dir,
                     removed on close)
      start_timeout  seconds to wait until it answers a Binding request
      verbose        pass ``-V`` (log every STUN message)
      change_request False: listen on 127.0.0.1 only, without an alternate port -- a
                     server that refuses CHANGE-REQUEST (NAT-type detection then fails)
    Attributes:
      host, port          primary STUN address (what clients are given)
      alt_host, alt_port  the other address and port (CHANGE-REQUEST answers come from them)
      address             "host:port"
      log                 the log file (stdout+stderr)
    """

    host = "127.0.0.1"
    alt_host = "127.0.0.2"

    def __init__(self, *, workdir: str | os.PathLike[str] | None = None,
                 start_timeout: float = 10.0, verbose: bool = False,
                 change_request: bool = True):
        self.binary = shutil.which("turnserver") or "/usr/bin/turnserver"
        self.start_timeout = start_timeout
        self.verbose = verbose
        self.change_request = change_request
        self.workdir = self.make_workdir(workdir, "coturn-", "turnserver.log")
        self.port, self.alt_port = free_udp_port_on((self.host, self.alt_host), 2)
        self.proc: subprocess.Popen[bytes] | None = None
        self._logfh = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [self.binary, "-n", "--listening-ip", self.host]
        if self.change_request:
            cmd += ["--listening-ip", self.alt_host,
                    "--alt-listening-port", str(self.alt_port)]
        else:
            cmd += ["--no-rfc5780"]
        cmd += ["--listening-port", str(self.port),
               "--stun-only", "--no-cli", "--no-tls", "--no-dtls", "--no-tcp",
               "--no-software-attribute",
               "--log-file", "stdout", "--simple-log",
               "--pidfile", str(self.workdir / "turnserver.pid"),
               "--db", str(self.workdir / "turndb")]
        if self.verbose:
            cmd.append("-V")
        return cmd

    def start(self) -> Coturn:
        if self.running:
            return self
        if not os.access(self.binary, os.X_OK):
            raise CoturnError(f"{self.binary} not found: coturn is not installed "
                              "(tools/system-deps.sh installs it)")
        self.spawn(self.command(), self.workdir)
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        targets = [(self.host, self.port)]
        if self.change_request:
            targets.append((self.alt_host, self.alt_port))
        while True:
            proc = self.proc
            assert proc is not None     # (spawn() started it)
            if proc.poll() is not None:
                raise CoturnError(f"turnserver exited ({proc.returncode}):\n"
                                  + self.output()[-3000:])
            if all(stun_binding(h, p, 0.2) for h, p in targets):
                return
            if time.monotonic() > deadline:
                raise CoturnError(f"turnserver does not answer STUN on {targets} within "
                                  f"{self.start_timeout}s:\n" + self.output()[-3000:])

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_process(timeout)

    def close(self) -> None:
        self.stop()
        if self._own_tmp:
            shutil.rmtree(self.workdir, ignore_errors=True)


class BlackHole:
    """A UDP socket bound on loopback that reads every datagram and never answers: a STUN
    server address whose requests time out.  ``received()`` counts what arrived (so a test can
    show requests were sent to it).  Context manager; ``close()`` unbinds."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, 0))
        self.port = self._sock.getsockname()[1]
        self._count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="stun-black-hole", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _drain(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                self._sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self._count += 1

    def received(self) -> int:
        return self._count

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def __enter__(self) -> BlackHole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
