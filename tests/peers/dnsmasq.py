"""A throw-away DNS server (Debian's dnsmasq) on a free loopback port, for the name tests.

Usage::

    from peers.dnsmasq import Dnsmasq

    with Dnsmasq(hosts={"sip1.test": "127.0.0.1"},
                 srv=[("_sip._udp.example.test", "sip1.test", 5070, 10, 100)],
                 naptr=[("example.test", 10, 50, "s", "SIP+D2U", "_sip._udp.example.test")]) as dns:
        engine.start(nameservers=[dns.nameserver], ...)      # "127.0.0.1:PORT"

It answers only from what it was given (``--no-resolv --no-hosts``, no upstream) and says
"no such name" for anything else under the domains in ``local`` (default: "test").
"""
from __future__ import annotations

import shutil
import socket
import struct
import time

from .ports import free_port
from .procs import ManagedPeer

__all__ = ["Dnsmasq", "dns_query"]


def _find() -> str:
    for p in (shutil.which("dnsmasq"), "/usr/sbin/dnsmasq"):
        if p and shutil.os.access(p, shutil.os.X_OK):
            return p
    raise RuntimeError("dnsmasq not found: run tools/system-deps.sh (Debian: dnsmasq-base)")


class Dnsmasq(ManagedPeer):
    """``hosts``: {name: ip} (A or AAAA records); ``srv``: (name, target, port, priority,
    weight) tuples; ``naptr``: (name, order, preference, flags, service, replacement)
    tuples (empty regexp)."""

    def __init__(self, *, hosts=None, srv=(), naptr=(), local=("test",), workdir=None):
        self.binary = _find()
        self.workdir = self.make_workdir(workdir, "dnsmasq-", "dnsmasq.log")
        self.port = free_port("both")
        self.host = "127.0.0.1"
        args = [self.binary, "--keep-in-foreground", "--log-facility=-", "--log-queries",
                "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
                "--bind-interfaces", f"--listen-address={self.host}", f"--port={self.port}",
                "--pid-file=", "--user=", "--local-ttl=1"]
        args += [f"--local=/{d}/" for d in local]
        for name, ip in (hosts or {}).items():
            args.append(f"--host-record={name},{ip}")
        for name, target, port, prio, weight in srv:
            args.append(f"--srv-host={name},{target},{port},{prio},{weight}")
        for name, order, pref, flags, service, replacement in naptr:
            args.append(f"--naptr-record={name},{order},{pref},{flags},{service},,{replacement}")
        self.cmd = args

    @property
    def nameserver(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "Dnsmasq":
        self.spawn(self.cmd, cwd=self.workdir)
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited: {self.output()}")
            if dns_query(self.host, self.port, "ready.probe.test", 1, timeout=0.2) is not None:
                return
            time.sleep(0.05)
        raise RuntimeError(f"dnsmasq did not answer within 10 s: {self.output()}")

    def stop(self) -> None:
        self.stop_process(5)

    def close(self) -> None:
        self.stop()
        if getattr(self, "_own_tmp", False):
            shutil.rmtree(self.workdir, ignore_errors=True)


def dns_query(host: str, port: int, name: str, qtype: int, timeout: float = 1.0) -> int | None:
    """Send one query; the answer's RCODE, or None when nothing answered in time."""
    q = struct.pack(">HHHHHH", 0x5C5C, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    q += struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, (host, port))
        try:
            data = s.recv(4096)
        except OSError:
            return None
    return data[3] & 0x0F if len(data) >= 4 else None
