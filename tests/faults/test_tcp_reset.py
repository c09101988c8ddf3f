"""A TCP connection reset in the middle of a dialog (issue #14, item 4).

What sipcore does, as RFC 3261 asks and as mature stacks (PJSUA, Kamailio, baresip) do: a
dialog is not bound to a connection.  Its next request goes to the remote target (or route
set) with the transport the dialog uses, and a new connection is opened when none is up
(§18.1.1; §18: "a connection ... can be closed at any time").  So after a reset the call goes
on and ends normally: our BYE on a new connection, answered 200; or the peer's BYE, which
comes in on a new connection to our Contact's TCP port.

The reset: ``ss -K`` on every connection of the peer's TCP port (both sides see RST/abort),
inside the test's own network namespace.
"""
from __future__ import annotations

import pytest

from sipcore import SIPURI, Route
from sipcore.testing.helpers import Account

from faultkit import netns  # noqa: F401 (fixtures)


@pytest.mark.parametrize("who_hangs_up", ["engine", "peer"])
def test_dialog_survives_tcp_reset(netns, sipcore_peer_factory, engine_factory, recorder,
                                   who_hangs_up):
    peer = sipcore_peer_factory("--answer", "auto", "--user", "bob")
    engine_factory()
    tcp = peer.ready["tcp"]
    server = type("Direct", (), {"host": "127.0.0.1", "port": tcp, "tls_port": tcp,
                                 "domain": "127.0.0.1"})()
    alice = Account(server, "alice", "unused", transport="tcp")
    inv = alice.call(SIPURI("127.0.0.1", user="bob", port=tcp, parameters={"transport": "tcp"}))
    recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=10,
                      where={"state": "CONFIRMED"},
                      fail_on={"SIPInvitationChangedState": {"state": "DISCONNECTED"}})
    peer.expect("call_state", timeout=10, state="CONFIRMED")
    assert alice.route == Route("127.0.0.1", tcp, "tcp")

    aborted = netns.reset_tcp(tcp)
    assert aborted >= 1, "no TCP connection to reset: the call did not use TCP"

    if who_hangs_up == "engine":
        inv.disconnect()
        end = recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=10,
                                where={"state": "DISCONNECTED"})
        assert end.data.code == 200, (end.data.code, end.data.reason)   # BYE answered
        peer.expect("call_state", timeout=10, state="DISCONNECTED", method="BYE")
    else:
        peer.command("hangup", id="in1")
        end = recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=10,
                                where={"state": "DISCONNECTED"})
        assert end.data.method == "BYE", end.data
        bye = peer.expect("call_state", timeout=10, state="DISCONNECTED")
        assert bye["code"] == 200, bye                       # our 200 to its BYE reached it
    # the INVITE's connection was reset: the BYE went over another one
    traces = [n.data for n in recorder.all("SIPEngineSIPTrace")]
    invite = next(t for t in traces if not t.received and t.data.startswith("INVITE "))
    bye = next(t for t in traces if t.data.startswith("BYE "))
    local_port = bye.destination_port if bye.received else bye.source_port
    assert local_port != invite.source_port, "the BYE used the reset connection"
    assert recorder.exceptions == [] and peer.exceptions == []
