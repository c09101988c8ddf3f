"""Floods, short form (issue #14 item 5; the figures: benchmarks/flood.py).  A sipcore Engine
in a child process with no receiver of the Invitation signals (``sipcore peer --answer
none``) gets, one after the other, a raw INVITE flood (2,000/s for 1 s, from a separate
process), 100 idle TCP connections and a slow-drip TCP sender.  During each, a legitimate
MESSAGE from another address (a second sipcore process on 127.0.0.2) over UDP and over TCP
is answered 200; afterwards the target is alive, reported no exception, and holds no more
file descriptors than before (every connection closed by the flood was let go).  No timing
or memory targets here: those are the benchmark's."""
import os
import sys
import time

import pytest

from sipcore.peer import PeerProcess

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from peers import flood  # noqa: E402


@pytest.fixture(scope="module")
def target():
    with PeerProcess("--answer", "none") as peer:
        yield peer
    assert peer.exceptions == [], peer.exceptions[0]["traceback"]


@pytest.fixture(scope="module")
def client():
    with PeerProcess("--ip", "127.0.0.2", "--user", "legit") as peer:
        yield peer


def answered(client, target, n: int) -> None:
    """A MESSAGE from 127.0.0.2 over UDP and one over TCP each get a 200."""
    for transport in ("udp", "tcp"):
        port = target.ready[transport]
        to = f"sip:u{n}{transport}@127.0.0.1:{port};transport={transport}"
        client.send(to, f"legit {n}", ("127.0.0.1", port, transport))
        got = client.expect("response", timeout=10, to_uri=to)
        assert (got["code"], got["reason"]) == (200, "OK"), got
        assert target.expect("message", timeout=10, body=f"legit {n}")


def settled_fds(pid: int, at_most: int, wait: float = 10.0) -> int:
    end = time.monotonic() + wait
    while (n := flood.fd_count(pid)) > at_most and time.monotonic() < end:
        time.sleep(0.1)
    return n


def test_invite_flood(target, client):
    port = target.ready["udp"]
    with flood.Child("invite", port=port, rate=2000, seconds=1.0) as sender:
        time.sleep(0.5)
        answered(client, target, 1)
        result = sender.result(timeout=30)
    assert result["sent"] >= 1000
    # refused without a dialog: one 480 per INVITE, no 100 and no retransmitted 480
    assert set(result["responses"]) == {"480"}, result["responses"]
    assert result["responses"]["480"] <= result["sent"]
    assert target.proc.poll() is None


def test_idle_tcp_connections(target, client):
    pid, port = target.ready["pid"], target.ready["tcp"]
    flood.raise_fd_limit(100 + 256)
    before = flood.fd_count(pid)
    conns = flood.hold_tcp("127.0.0.1", port, 100)
    try:
        answered(client, target, 2)
        assert flood.fd_count(pid) >= before + 100     # the target accepted them all
    finally:
        flood.close_all(conns)
    assert settled_fds(pid, before) <= before
    answered(client, target, 3)
    assert target.proc.poll() is None


def test_slow_drip(target, client):
    pid, port = target.ready["pid"], target.ready["tcp"]
    before = flood.fd_count(pid)
    with flood.Child("drip", port=port, connections=5, seconds=1.5, interval=0.05) as drip:
        time.sleep(0.5)
        answered(client, target, 4)
        result = drip.result(timeout=30)
    assert result["sent_bytes"] > 5 * 20
    assert settled_fds(pid, before) <= before
    answered(client, target, 5)
    assert target.proc.poll() is None
