"""10 % packet loss and 200 ms delay (issue #14, item 4): a registration, MESSAGEs and a call
(INVITE/407/INVITE/180/200/ACK ... BYE/200) still complete through retransmissions, and every
MESSAGE the application sent ends in exactly one final notification.

The set-up, all on the loopback of a namespace of the test's own::

    Engine (alice) --UDP--> DelayRelay (200 ms each way) --UDP--> kamailio <--UDP--> sipcore peer
                          |___________ 10 % of every packet to or from kamailio dropped _______|

kamailio stores the REGISTER's source (the relay) as the binding's address (use_received
"all"), so what it delivers to alice goes back through the relay too; its transaction timer
is RFC 3261's 32 s (fr_timer), so it keeps retransmitting as long as the Engine does.  In-
dialog requests follow kamailio's Record-Route (its own address: lossy, not delayed).

Figures (retransmissions the Engine sent and received, packets dropped, seconds to complete)
are printed: ``pytest -s tests/faults/test_loss_delay.py``.
"""
from __future__ import annotations

import time

import pytest

from sipcore import SIPURI, Route
from sipcore.testing.helpers import Account

from faultkit import netns, relay_factory, wait_until, wire  # noqa: F401 (fixtures)


pytestmark = pytest.mark.timeout(600)


def _scenario(netns, relay_factory, kamailio_factory, sipcore_peer_factory, engine_factory, wire,
              recorder,
              loss: int, delay: float, messages: int, calls: int) -> dict:
    k = kamailio_factory(use_received="all", fr_timer_ms=32000)
    relay = relay_factory((k.host, k.port), delay=delay)
    engine_factory(trace_sip=True)
    peer_proc = sipcore_peer_factory("--answer", "auto", "--user", "bob")
    alice = k.account("alice")
    alice.route = Route("127.0.0.1", relay.port, "udp")
    netns.loss(loss, ports=[k.port])
    figures: dict = {"loss %": loss, "delay s": delay}

    # -- the registration
    t0 = time.monotonic()
    reg = alice.register(recorder, expires=300, timeout=60)
    figures["register s"] = round(time.monotonic() - t0, 2)

    # -- MESSAGEs: to the peer (one per recipient at a time, as the spec says: so each to
    #    a user of its own, all at once), and to alice herself (delivered back through the
    #    relay), one after the other
    peer_port = peer_proc.ready["udp"]
    peer_uri = f"127.0.0.1:{peer_port}"
    bodies = [f"msg {i}" for i in range(messages)]
    t0 = time.monotonic()
    for i, body in enumerate(bodies):
        alice.message(SIPURI("127.0.0.1", user=f"user{i}", port=peer_port), body)
    wait_until(lambda: len(recorder.all("SIPEngineGotMessageResponse")) >= messages, 120,
               f"{messages} MESSAGE responses")
    own = [f"own {i}" for i in range(2)]
    for body in own:
        alice.message("alice", body)
        recorder.wait_for("SIPEngineGotMessage", timeout=60,
                          where=lambda n, body=body: n.data.body == body.encode())
        wait_until(lambda: len(recorder.all("SIPEngineGotMessageResponse")) >=
                   messages + 1 + own.index(body), 60, f"the response to {body!r}")
    figures["messages s"] = round(time.monotonic() - t0, 2)
    time.sleep(1.0)    # a duplicate would come now (a retransmission answered twice)
    finals = recorder.all("SIPEngineGotMessageResponse")
    sent = messages + len(own)
    assert len(finals) == sent, f"{sent} sent, {len(finals)} final notifications"
    assert sorted(str(n.data.to_uri) for n in finals) == sorted(
        [f"sip:user{i}@{peer_uri}" for i in range(messages)] + ["sip:alice@127.0.0.1"] * 2)
    assert [n.data.code for n in finals] == [200] * sent, [
        (n.data.code, n.data.reason) for n in finals]
    delivered = []
    while True:
        try:
            delivered.append(peer_proc.expect("message", timeout=0.1)["body"])
        except TimeoutError:
            break
    assert sorted(delivered) == sorted(bodies), "each MESSAGE delivered exactly once"
    got = [n.data.body.decode() for n in recorder.all("SIPEngineGotMessage")]
    assert got == own, "alice's own MESSAGEs delivered exactly once, in order"

    # -- calls to the sipcore peer through kamailio (407, then the authenticated INVITE)
    t0 = time.monotonic()
    for c in range(calls):
        inv = alice.call(SIPURI("127.0.0.1", user="bob", port=peer_port))
        recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=60,
                          where={"state": "CONFIRMED"},
                          fail_on={"SIPInvitationChangedState": {"state": "DISCONNECTED"}})
        peer_proc.expect("call_state", timeout=60, state="CONFIRMED")
        inv.disconnect()
        end = recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=60,
                                where={"state": "DISCONNECTED"})
        assert end.data.code == 200, (end.data.code, end.data.reason)   # the BYE's 200
        peer_proc.expect("call_state", timeout=60, state="DISCONNECTED")
    figures["calls s"] = round(time.monotonic() - t0, 2)

    reg.unregister()
    recorder.wait_for("SIPRegistrationChangedState", sender=reg, timeout=60,
                      where={"state": "unregistered"})
    figures["dropped packets"] = netns.dropped()
    figures["engine retransmitted"] = wire.retransmitted
    figures["engine received again"] = wire.received_again
    figures["relayed up/down"] = f"{relay.forwarded['up']}/{relay.forwarded['down']}"
    print("\nfaults figures:", ", ".join(f"{k}={v}" for k, v in figures.items()))
    assert peer_proc.exceptions == [] and recorder.exceptions == []
    return figures


def test_loss_and_delay_short(netns, relay_factory, kamailio_factory, sipcore_peer_factory,
                              engine_factory, wire, recorder):
    """The short form: 10 % loss, 200 ms delay; a registration, 8 MESSAGEs and one call."""
    f = _scenario(netns, relay_factory, kamailio_factory, sipcore_peer_factory, engine_factory,
                  wire, recorder,
                  loss=10, delay=0.2, messages=6, calls=1)
    assert f["dropped packets"] > 0, "the loss rule dropped nothing: the test tested nothing"


@pytest.mark.long
@pytest.mark.parametrize("loss", [10, 20])
def test_loss_and_delay_long(netns, relay_factory, kamailio_factory, sipcore_peer_factory,
                             engine_factory, wire, recorder, loss):
    """The long form: 10 % and 20 % loss, 200 ms delay; 200 MESSAGEs and 5 calls."""
    f = _scenario(netns, relay_factory, kamailio_factory, sipcore_peer_factory, engine_factory,
                  wire, recorder,
                  loss=loss, delay=0.2, messages=200, calls=5)
    assert f["dropped packets"] > 0 and f["engine retransmitted"] > 0
