"""Fixtures and helpers of the fault tests (a module, not a conftest.py: a second conftest
would shadow tests/conftest.py, which other tests import as ``conftest``; each test module
imports the fixtures it uses from here).

Faults (issue #14, item 4): every test here runs in a network namespace it creates
(sipcore.testing.netns), with kamailio, sipcore peers and the Engine on that namespace's
loopback; loss is an nftables rule in it, delay a relay, resets ``ss -K``.  The namespace is
deleted after the test whatever happened.  A machine without root/ip/nft/ss fails these tests
(a missing peer is a failure, never a skip)."""
from __future__ import annotations

import collections
import time
from typing import Any, Callable, Iterator

import pytest

from sipcore import signals
from sipcore.testing.netns import DelayRelay, NetNS, netns_available


@pytest.fixture
def netns() -> Iterator[NetNS]:
    """A new namespace; the test (its thread, what it starts) runs inside it."""
    missing = netns_available()
    if missing:
        pytest.fail(f"the fault tests need a network namespace of their own: {missing}")
    with NetNS() as ns, ns.entered():
        yield ns


@pytest.fixture
def relay_factory(netns: NetNS) -> Iterator[Callable[..., DelayRelay]]:
    """``relay_factory((host, port), delay=0.2)``: a started DelayRelay in the namespace."""
    made: list[DelayRelay] = []

    def make(upstream: tuple[str, int], delay: float = 0.2) -> DelayRelay:
        r = DelayRelay(upstream, delay).start()
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


class Wire:
    """What the Engine sent and received (SIPEngineSIPTrace, trace_sip=True): retransmissions
    are the datagrams sent (or received) again byte for byte."""

    def __init__(self) -> None:
        self.sent: collections.Counter = collections.Counter()
        self.received: collections.Counter = collections.Counter()
        signals.SIPEngineSIPTrace.connect(self._on_trace, weak=False)

    def _on_trace(self, sender: Any, **d: Any) -> None:
        (self.received if d["received"] else self.sent)[d["data"]] += 1

    def close(self) -> None:
        signals.SIPEngineSIPTrace.disconnect(self._on_trace)

    @staticmethod
    def _again(c: collections.Counter) -> int:
        return sum(n - 1 for n in c.values())

    @property
    def retransmitted(self) -> int:
        """Messages this Engine sent again (its retransmissions)."""
        return self._again(self.sent)

    @property
    def received_again(self) -> int:
        """Messages the Engine received again (the other side's retransmissions)."""
        return self._again(self.received)

    def first_lines(self, sent: bool = True) -> list[str]:
        c = self.sent if sent else self.received
        return [data.split("\r\n", 1)[0] for data in c.elements()]


@pytest.fixture
def wire() -> Iterator[Wire]:
    w = Wire()
    yield w
    w.close()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` until true; the seconds it took (AssertionError naming ``what``)."""
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - t0
