"""RFC 4028 session timers (issue #14, item 4: a peer that vanishes mid-call ends the call with a
reason).  The Engine options ``session_timer`` ("supported" by default, "required", "always",
"off"), ``session_expires`` (1800) and ``session_min_se`` (90) -- docs/invitation.md.

RFC 4028 puts the smallest interval at 90 s (Min-SE, section 4; pjsip asserts it), so a call
whose peer vanishes ends after about 1.2 to 1.5 times the interval: the long form
(``@pytest.mark.long``) waits for it, with a 90 s interval.  The short forms check what the
mechanism rests on: the headers on the wire both ways, a refresh from the peer (UPDATE and
re-INVITE) answered with the interval, and a 422 with our Min-SE for a too-short interval.
"""
from __future__ import annotations

import socket
import time
import uuid

import pytest

from sipcore import SIPURI, Route
from sipcore.testing.helpers import Account, audio_sdp, auto_answer

from faultkit import netns  # noqa: F401 (fixtures)


# ---- a raw UAC on UDP: the peer that refreshes ------------------------------------------

_SDP = ("v=0\r\no=raw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 40100 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")


class RawUAC:
    def __init__(self, port: int):
        self.target = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.lport = self.sock.getsockname()[1]
        self.call_id = uuid.uuid4().hex
        self.tag = uuid.uuid4().hex[:8]
        self.to_tag = ""
        self.cseq = 0

    def close(self) -> None:
        self.sock.close()

    def send(self, method: str, headers: str = "", body: str = "", cseq: int | None = None,
             branch: str | None = None) -> int:
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        to_tag = f";tag={self.to_tag}" if self.to_tag else ""
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        msg = (f"{method} sip:alice@127.0.0.1:{self.target[1]} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{self.lport};branch={branch or 'z9hG4bK' + uuid.uuid4().hex};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:raw@127.0.0.1>;tag={self.tag}\r\n"
               f"To: <sip:alice@127.0.0.1>{to_tag}\r\nCall-ID: {self.call_id}\r\n"
               f"CSeq: {cseq} {method}\r\nContact: <sip:raw@127.0.0.1:{self.lport}>\r\n"
               f"{headers}{ctype}Content-Length: {len(body)}\r\n\r\n{body}")
        self.sock.sendto(msg.encode(), self.target)
        return cseq

    def final(self, cseq: int, timeout: float = 10.0) -> str:
        """The final response to the request with ``cseq``; a 2xx to INVITE is ACKed."""
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65535).decode()
            code = int(data.split(" ", 2)[1]) if data.startswith("SIP/2.0") else 0
            if code >= 200 and f"CSeq: {cseq} " in data:
                if "INVITE" in header(data, "CSeq"):
                    to = header(data, "To")
                    if code < 300 and ";tag=" in to:
                        self.to_tag = to.split(";tag=")[1].split(";")[0]
                    self.send("ACK", cseq=cseq)
                return data


def header(msg: str, name: str) -> str:
    for line in msg.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return ""


def tags(value: str) -> set[str]:
    return {t.strip().lower() for t in value.split(",") if t.strip()}


# ---- the short forms ----------------------------------------------------------------------

def test_refresh_from_the_peer_is_answered(engine_factory, recorder):
    """A peer's refreshes (RFC 4028 section 7.4: UPDATE without a body, and re-INVITE) are
    answered 200 with the interval (Session-Expires; Require: timer), the call stays up."""
    engine = engine_factory()
    uac = RawUAC(engine.local_udp_port)
    timer = "Supported: timer\r\nSession-Expires: 90;refresher=uac\r\nMin-SE: 90\r\n"
    try:
        with auto_answer() as got:
            ok = uac.final(uac.send("INVITE", timer, _SDP))
            assert ok.startswith("SIP/2.0 200"), ok
            assert header(ok, "Session-Expires").replace(" ", "") == "90;refresher=uac", ok
            assert "timer" in tags(header(ok, "Require")), ok
            inv = got[0]
            recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=5,
                              where={"state": "CONFIRMED"})

            states = len(recorder.all("SIPInvitationChangedState"))
            update = uac.final(uac.send("UPDATE", timer))        # a refresh by UPDATE
            assert update.startswith("SIP/2.0 200"), update
            assert header(update, "Session-Expires").startswith("90"), update
            assert "timer" in tags(header(update, "Require")), update
            time.sleep(0.2)
            assert len(recorder.all("SIPInvitationChangedState")) == states, \
                "an UPDATE refresh is the core's business: no state change notified"

            again = uac.final(uac.send("INVITE", timer, _SDP))   # a refresh by re-INVITE
            assert again.startswith("SIP/2.0 200"), again
            assert header(again, "Session-Expires").startswith("90"), again
        recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=5,
                          where={"prev_state": "REINVITED", "state": "CONFIRMED"})
        bye = uac.final(uac.send("BYE"))
        assert bye.startswith("SIP/2.0 200"), bye
        recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=5,
                          where={"state": "DISCONNECTED"})
    finally:
        uac.close()


def test_too_short_interval_gets_422_with_min_se(engine_factory, recorder):
    """RFC 4028 section 8.1: a Session-Expires below our Min-SE is refused 422 with Min-SE;
    the application never sees that INVITE."""
    engine = engine_factory(session_min_se=120, session_expires=1800)
    assert engine.session_min_se == 120
    uac = RawUAC(engine.local_udp_port)
    try:
        r = uac.final(uac.send("INVITE", "Supported: timer\r\nSession-Expires: 100\r\n", _SDP))
        assert r.startswith("SIP/2.0 422"), r
        assert header(r, "Min-SE") == "120", r
    finally:
        uac.close()
    assert recorder.all("SIPInvitationChangedState") == []


@pytest.mark.parametrize("mode", ["supported", "off"])
def test_headers_of_an_outgoing_call(engine_factory, sipcore_peer_factory, recorder, mode):
    """Our INVITE asks for the interval (Session-Expires, Min-SE, Supported: timer) unless
    session_timer is "off"; with a peer that supports them, its 200 names the refresher."""
    peer = sipcore_peer_factory("--answer", "auto", "--user", "bob")
    engine = engine_factory(session_timer=mode, session_expires=150)
    assert (engine.session_timer, engine.session_expires) == (mode, 150)
    server = type("Direct", (), {"host": "127.0.0.1", "port": peer.ready["udp"],
                                 "tls_port": 0, "domain": "127.0.0.1"})()
    inv = Account(server, "alice", "unused").call(SIPURI("127.0.0.1", user="bob",
                                                         port=peer.ready["udp"]))
    recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=10,
                      where={"state": "CONFIRMED"},
                      fail_on={"SIPInvitationChangedState": {"state": "DISCONNECTED"}})
    traces = [n.data for n in recorder.all("SIPEngineSIPTrace")]
    invite = next(t.data for t in traces if not t.received and t.data.startswith("INVITE "))
    ok = next(t.data for t in traces if t.received and t.data.startswith("SIP/2.0 200")
              and "INVITE" in header(t.data, "CSeq"))
    if mode == "off":
        assert header(invite, "Session-Expires") == "" and "timer" not in tags(
            header(invite, "Supported")), invite
        assert header(ok, "Session-Expires") == "", ok
    else:
        assert header(invite, "Session-Expires") == "150", invite
        assert header(invite, "Min-SE") == "90", invite
        assert "timer" in tags(header(invite, "Supported")), invite
        assert header(ok, "Session-Expires").replace(" ", "") == "150;refresher=uac", ok
        assert "timer" in tags(header(ok, "Require")), ok
    inv.disconnect()
    recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=10,
                      where={"state": "DISCONNECTED"})


# ---- the long form: the peer vanishes -----------------------------------------------------

@pytest.mark.long
@pytest.mark.timeout(400)
@pytest.mark.parametrize("engine_is", ["caller", "callee"])
def test_vanished_peer_ends_the_call(netns, engine_factory, sipcore_peer_factory, recorder,
                                     engine_is):
    """Mid-call every packet to and from the peer is dropped (it vanished: no BYE, no ICMP).
    With a 90 s interval the call ends by itself: as refresher (the caller, refresher=uac),
    our refresh gets no answer (408 after Timer F) and we end the session; as the one
    refreshed, no refresh came by 90 - 30 s and we end it with a BYE (unanswered too: it
    gives up after Timer F).  DISCONNECTED with 408 either way, and a BYE on the wire."""
    peer = sipcore_peer_factory("--answer", "auto", "--user", "bob", "--session-expires", "90")
    engine = engine_factory(session_expires=90)
    with auto_answer() as got:
        if engine_is == "caller":
            server = type("Direct", (), {"host": "127.0.0.1", "port": peer.ready["udp"],
                                         "tls_port": 0, "domain": "127.0.0.1"})()
            inv = Account(server, "alice", "unused").call(
                SIPURI("127.0.0.1", user="bob", port=peer.ready["udp"]))
        else:
            peer.command("call", id="c1", to=f"sip:alice@127.0.0.1:{engine.local_udp_port}",
                         route=["127.0.0.1", engine.local_udp_port, "udp"])
            recorder.wait_for("SIPInvitationChangedState", timeout=10,
                              where={"state": "INCOMING"})
            inv = got[0]
        recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=10,
                          where={"state": "CONFIRMED"})
    t0 = time.monotonic()
    netns.loss(100, ports=[peer.ready["udp"]])
    end = recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=200,
                            where={"state": "DISCONNECTED"})
    took = time.monotonic() - t0
    print(f"\nvanished peer ({engine_is}): DISCONNECTED {end.data.code} "
          f"{end.data.reason!r} after {took:.1f} s")
    assert end.data.code == 408, (end.data.code, end.data.reason)
    # refresher: 45 s to the refresh + 32 s of Timer F; refreshed: 90 - 30 s + the BYE's 32 s
    assert 70 <= took <= 110, took
    # the BYE on the wire (as refresher PJSIP sends it right after DISCONNECTED)
    recorder.wait_for("SIPEngineSIPTrace", timeout=5,
                      where=lambda n: not n.data.received and n.data.data.startswith("BYE "))
    sent = [n.data.data.split(" ", 1)[0] for n in recorder.all("SIPEngineSIPTrace")
            if not n.data.received]
    if engine_is == "caller":
        assert "UPDATE" in sent, "no refresh was sent"


# ---- the options --------------------------------------------------------------------------

@pytest.mark.parametrize("options, error, words", [
    ({"session_timer": "sometimes"}, ValueError, "session_timer"),
    ({"session_timer": True}, TypeError, "session_timer"),
    ({"session_expires": 89}, ValueError, "session_expires"),
    ({"session_expires": "1800"}, TypeError, "session_expires"),
    ({"session_min_se": 60}, ValueError, "session_min_se"),
    ({"session_expires": 100, "session_min_se": 120}, ValueError, "session_expires"),
])
def test_session_options_are_checked(options, error, words):
    """RFC 4028 section 4: no interval below 90 s; Session-Expires not below our Min-SE."""
    from sipcore import Engine
    engine = Engine()
    assert not engine.is_running
    with pytest.raises(error, match=words):
        engine.start(**options)
    assert not engine.is_running
