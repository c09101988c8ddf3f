"""Notebook displays: readable reprs and well-formed, escaped _repr_html_ of SIPURI,
SDPSession, Registration and Invitation (state and recent transitions, with the codes that
caused them), NotificationRecorder, and the Ladder's SVG -- with kamailio and a second sipcore
process."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from test_invitation_helpers import make_sdp, wait_state
from sipcore import (Credentials, Invitation, NotificationRecorder, Registration, Route,
                     SIPURI)
from sipcore.ladder import Ladder
from sipcore.peer import PeerProcess

IP = "127.0.0.1"


def text_of(html: str) -> str:
    """The text of an HTML fragment, which must be well-formed (escaped) markup."""
    return " ".join(" ".join(ET.fromstring(f"<root>{html}</root>").itertext()).split())


def test_values():
    uri = SIPURI("example.com", user="alice", display='A & <B>', parameters={"transport": "tcp"})
    shown = text_of(uri._repr_html_())
    assert str(uri) in shown and "transport" in shown
    sdp = make_sdp()
    shown = text_of(sdp._repr_html_())
    assert "audio 40000 RTP/AVP 0 8" in shown and "a=rtpmap:0 PCMU/8000" in shown
    assert "m=audio 40000 RTP/AVP 0 8" in sdp._repr_html_()      # the text, a line each


def test_registration_and_invitation(kam, engine_factory, recorder):
    engine_factory(trace_sip=True)
    reg = Registration(Credentials(SIPURI(IP, user="alice"), "apw"), Route(IP, kam.port))
    assert repr(reg) == f"<Registration sip:alice@{IP} unregistered>"
    reg.register()
    recorder.wait_for("SIPRegistrationChangedState", sender=reg,
                      where=lambda n: n.data.state == "registered")
    assert repr(reg) == f"<Registration sip:alice@{IP} registered (unregistered -> " \
        "registering -> registered)>"
    shown = text_of(reg._repr_html_())
    assert "registering -> registered 200 OK" in shown and f"sip:alice@{IP}" in shown
    assert "apw" not in reg._repr_html_()                           # no password shown
    reg.unregister()
    recorder.wait_for("SIPRegistrationChangedState", sender=reg,
                      where=lambda n: n.data.state == "unregistered")

    with PeerProcess("--ip", IP, "--user", "bob", "--answer", "busy") as peer, Ladder() as ladder:
        port = peer.ready["udp"]
        inv = Invitation(Credentials(SIPURI(IP, user="alice")), SIPURI(IP, user="bob", port=port),
                         Route(IP, port))
        inv.set_offered_local_sdp(make_sdp())
        inv.send_invite()
        wait_state(recorder, inv, "DISCONNECTED")
    assert repr(inv).startswith(f"<Invitation to sip:bob@{IP}:{port} DISCONNECTED (NULL -> "
                                "CALLING")
    shown = text_of(inv._repr_html_())
    assert "-> DISCONNECTED 486 Busy Here" in shown and "CALLING" in shown

    # the recorder: how many, the last ones with states and codes
    r = repr(recorder)
    assert r.startswith(f"<NotificationRecorder recording, {len(recorder.notifications)} "
                        "notification(s); last: ... ")
    assert "SIPInvitationChangedState(" in r and "486 Busy Here" in r
    shown = text_of(recorder._repr_html_())
    assert "SIPRegistrationChangedState" in shown and "registering -> registered" not in shown
    assert "registered, 200 OK" in shown and "486 Busy Here" in shown

    # the ladder: INVITE, 100, 486, ACK between this process and the peer, as SVG
    svg = ladder._repr_svg_()
    root = ET.fromstring(svg)
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert [x for x in labels if x and x.split()[0] in ("INVITE", "ACK", "SIP/2.0")] == [
        f"INVITE sip:bob@{IP}:{port} SIP/2.0", "SIP/2.0 100 Trying", "SIP/2.0 486 Busy Here",
        f"ACK sip:bob@{IP}:{port} SIP/2.0"]
    assert "this process" in labels and f"{IP}:{port}" in labels
    assert ladder._repr_html_().count("<svg") == 1
    assert repr(ladder).startswith("<Ladder 4 messages between 2 endpoints>\n")


def test_recorder_stopped_and_empty():
    rec = NotificationRecorder()
    assert repr(rec) == "<NotificationRecorder stopped, 0 notification(s)>"
    assert text_of(rec._repr_html_()) == "<NotificationRecorder stopped, 0 notification(s)>"
