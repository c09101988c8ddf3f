"""The fault tools themselves (sipcore.testing.netns): the namespace is the test's own and is
always deleted, the loss rule drops silently (the sender's send succeeds), the relay delays
both ways, a reset aborts a connection."""
from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from sipcore.testing.netns import DelayRelay, NetNS

from faultkit import netns  # noqa: F401 (fixtures)


def _ns_id() -> str:
    return os.readlink("/proc/thread-self/ns/net")


def _names() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def test_namespace_entered_left_and_deleted_whatever_happens():
    outside = _ns_id()
    ns = NetNS()
    with pytest.raises(RuntimeError, match="boom"):
        with ns, ns.entered():
            assert _ns_id() != outside
            child = subprocess.Popen(["sleep", "60"])       # started inside: runs inside
            assert child.pid in ns.pids()
            raise RuntimeError("boom")                      # the test fails ...
    assert _ns_id() == outside                              # ... the thread is back,
    assert ns.name not in _names()                          # the namespace gone,
    assert child.wait(timeout=5) is not None                # what ran in it stopped


def test_loss_drops_silently_and_counts(netns):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    port = rx.getsockname()[1]
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    netns.loss(100, ports=[port])
    for _ in range(20):
        assert tx.sendto(b"x", ("127.0.0.1", port)) == 1    # no EPERM: a loss, not an error
    rx.settimeout(0.2)
    with pytest.raises(socket.timeout):
        rx.recv(10)
    assert netns.dropped() == 20
    netns.clear_loss()
    tx.sendto(b"y", ("127.0.0.1", port))
    assert rx.recv(10) == b"y"
    rx.close()
    tx.close()


def test_relay_delays_both_ways(netns):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(5)
    server.settimeout(5)
    with DelayRelay(server.getsockname(), delay=0.2) as relay:
        t0 = time.monotonic()
        client.sendto(b"ping", (relay.host, relay.port))
        data, via = server.recvfrom(100)
        up = time.monotonic() - t0
        server.sendto(b"pong", via)                         # back to the client's relay socket
        assert client.recv(100) == b"pong"
        total = time.monotonic() - t0
    assert data == b"ping" and 0.19 <= up and 0.39 <= total < 1.5, (up, total)
    assert relay.forwarded == {"up": 1, "down": 1}
    server.close()
    client.close()


def test_reset_tcp_aborts_both_ends(netns):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    c = socket.create_connection(("127.0.0.1", port))
    s, _ = listener.accept()
    assert netns.reset_tcp(port) == 1
    with pytest.raises(OSError):
        s.settimeout(2)
        s.recv(10)
    for sock in (c, s, listener):
        sock.close()
