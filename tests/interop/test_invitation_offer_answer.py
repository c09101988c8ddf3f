"""Invitation offer/answer beyond the happy path: failed negotiation (SIPInvitationGotSDPUpdate
with succeeded=False and error), a re-INVITE answered with an unusable SDP, and an INVITE
without SDP (offer in the 200, answer in the ACK) as caller and as callee.  Peers: sipp
scenarios and a second sipcore process.

Expected values: sip-core-api.txt (SIPInvitationGotSDPUpdate: 'succeeded', 'error' only if
negotiation failed, 'local_sdp'/'remote_sdp' only if it succeeded; get_active_*_sdp()) and
RFC 3264 (5, 6: the answer's formats are a subset of the offer's; an offer in a 2xx is
answered in the ACK, RFC 3261 13.2.1)."""
from peers import sipp
from test_invitation_helpers import (body, call, changes, check_transitions, header, make_sdp,
                                     no_exceptions, sdp_updates, seq, sip_trace, wait_state)
from test_invitation_helpers import spec_checked  # noqa: F401 (autouse: spec transitions, no exceptions)
from sipcore import Credentials, Invitation, Route, SIPURI, signals
from sipcore.peer import PeerProcess

IP = sipp.IP



def invite_answered_200(version: int, port: int, fmt: int, codec: str, new_tag: bool = True):
    """An INVITE (or re-INVITE) received, answered 200 with one codec, its ACK received."""
    return (sipp.recv(request="INVITE", crlf=True)
            + sipp.respond(200, "OK", new_tag=new_tag,
                           body=sipp.sdp(f"{port} RTP/AVP {fmt}", f"a=rtpmap:{fmt} {codec}/8000",
                                         version=version))
            + sipp.recv(request="ACK", crlf=True))


# the answer to the INVITE has only G.729, which the offer (PCMU, PCMA) does not have
NO_COMMON_CODEC_UAS = sipp.scenario(
    "answer without a common codec",
    invite_answered_200(version=1, port=6000, fmt=18, codec="G729"),
    sipp.recv_bye_send_200())
# the INVITE answered with PCMU; the re-INVITE answered with G.729 only
BAD_REINVITE_ANSWER_UAS = sipp.scenario(
    "re-INVITE answered without a common codec",
    invite_answered_200(version=1, port=6000, fmt=0, codec="PCMU"),
    invite_answered_200(version=2, port=6002, fmt=18, codec="G729", new_tag=False),
    sipp.recv_bye_send_200())


def assert_failed(update):
    """A failed negotiation's notification: succeeded False, an error text, no SDPs."""
    d = vars(update.data)
    assert d["succeeded"] is False
    assert isinstance(d["error"], str) and d["error"].strip(), d
    assert "local_sdp" not in d and "remote_sdp" not in d, d


def test_answer_without_a_common_codec_fails_the_negotiation(engine, recorder, tmp_path):
    """RFC 3264 6: an answer may only use formats of the offer.  sipp answers PCMU/PCMA with
    G.729 only: SIPInvitationGotSDPUpdate(succeeded=False, error=...); nothing becomes active;
    the call itself is set up (the application decides) and ends with our BYE."""
    with sipp.uas(tmp_path, NO_COMMON_CODEC_UAS, timeout=15) as peer:
        inv = call(peer.port)
        wait_state(recorder, inv, "CONFIRMED")
        upd = sdp_updates(recorder, inv)
        assert len(upd) == 1
        assert_failed(upd[0])
        assert inv.get_active_local_sdp() is None and inv.get_active_remote_sdp() is None
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")
        assert seq(recorder, inv) == ["CALLING", "CONNECTING", "CONFIRMED", "DISCONNECTING",
                                      "DISCONNECTED"]
        sipp.finish(peer, tmp_path)
    check_transitions(recorder)
    no_exceptions(recorder)


def test_reinvite_answered_without_a_common_codec_keeps_the_active_sdp(engine, recorder, tmp_path):
    """Our re-INVITE (port 41000) answered 200 with G.729 only: REINVITING -> CONFIRMED with
    code 200, SIPInvitationGotSDPUpdate(succeeded=False), and the SDPs negotiated before stay
    the active ones."""
    with sipp.uas(tmp_path, BAD_REINVITE_ANSWER_UAS, timeout=15) as peer:
        inv = call(peer.port)
        wait_state(recorder, inv, "CONFIRMED")
        first = sdp_updates(recorder, inv)
        assert [u.data.succeeded for u in first] == [True]
        assert first[0].data.remote_sdp.media[0].port == 6000
        active = (inv.get_active_local_sdp(), inv.get_active_remote_sdp())
        inv.set_offered_local_sdp(make_sdp(port=41000))
        inv.send_reinvite()
        n = wait_state(recorder, inv, "CONFIRMED")
        assert (n.data.prev_state, n.data.code) == ("REINVITING", 200)
        upd = sdp_updates(recorder, inv)
        assert len(upd) == 2
        assert_failed(upd[1])
        assert (inv.get_active_local_sdp(), inv.get_active_remote_sdp()) == active
        assert inv.get_active_local_sdp().media[0].port == 40000
        assert inv.get_active_remote_sdp().media[0].port == 6000
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")
        assert seq(recorder, inv) == ["CALLING", "CONNECTING", "CONFIRMED", "REINVITING",
                                      "CONFIRMED", "DISCONNECTING", "DISCONNECTED"]
        sipp.finish(peer, tmp_path)
    check_transitions(recorder)
    no_exceptions(recorder)


def test_caller_without_sdp_answers_the_offer_of_the_200_in_the_ack(engine_factory, recorder):
    """An INVITE without SDP: the callee (a sipcore peer) offers in its 200, we answer in the
    ACK with the SDP set while CALLING (set_offered_local_sdp: 'or as an SDP answer')."""
    engine_factory(trace_sip=True)
    with PeerProcess("--ip", IP, "--user", "bob", "--answer", "auto") as peer:
        port = peer.ready["udp"]
        inv = Invitation(Credentials(SIPURI(IP, user="alice")), SIPURI(IP, user="bob", port=port),
                         Route(IP, port))

        def on_state(sender, **d):           # on the poll thread, before any response
            if sender is inv and d["state"] == "CALLING":
                sender.set_offered_local_sdp(make_sdp(port=41000))

        signals.SIPInvitationChangedState.connect(on_state)
        try:
            inv.send_invite()
            recorder.wait_for("SIPInvitationChangedState", timeout=10, sender=inv,
                              where=lambda n: n.data.state in ("CONFIRMED", "DISCONNECTED"))
        finally:
            signals.SIPInvitationChangedState.disconnect(on_state)
        assert seq(recorder, inv) == ["CALLING", "EARLY", "CONNECTING", "CONFIRMED"]
        sent = sip_trace(recorder, sent=True)
        invite = next(m for m in sent if m.startswith("INVITE "))
        ack = next(m for m in sent if m.startswith("ACK "))
        assert body(invite) == "" and header(invite, "Content-Length") == "0"
        assert header(ack, "Content-Type") == "application/sdp"
        assert "m=audio 41000 RTP/AVP" in body(ack)
        connecting = changes(recorder, inv)[2]
        assert connecting.data.code == 200 and "m=audio 40000 RTP/AVP" in connecting.data.body
        upd = sdp_updates(recorder, inv)
        assert [u.data.succeeded for u in upd] == [True]
        assert upd[0].data.local_sdp.media[0].port == 41000
        assert upd[0].data.remote_sdp.media[0].port == 40000
        assert inv.get_active_local_sdp() == upd[0].data.local_sdp
        ev = peer.expect("sdp_update", id="in1")
        assert ev["succeeded"] and "m=audio 41000 RTP/AVP" in ev["remote_sdp"]
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")
        check_transitions(recorder)
    no_exceptions(recorder)


NO_SDP_UAC = sipp.scenario(
    "INVITE without SDP; the offer in the 200, the answer in the ACK",
    sipp.request("INVITE", 1, initial=True),
    sipp.recv(response=100, optional=True),
    sipp.recv(response=200, rrs=True, body_has="m=audio 42000 RTP/AVP 0 8"),
    sipp.request("ACK", 1, retrans=None, body=sipp.sdp("6010 RTP/AVP 8", "a=rtpmap:8 PCMA/8000")),
    sipp.pause(300),
    sipp.request("BYE", 2),
    sipp.recv(response=200))


def test_callee_of_an_invite_without_sdp_offers_in_the_200(engine, recorder, tmp_path):
    """sipp sends an INVITE without SDP: accept_invite() puts our offer in the 200 (sipp checks
    it), sipp answers PCMA in the ACK; one successful negotiation with sipp's answer."""
    got = []

    def on_state(sender, **d):
        if d["state"] == "INCOMING":
            got.append(sender)
            assert sender.get_offered_remote_sdp() is None
            sender.set_offered_local_sdp(make_sdp(port=42000))
            sender.accept_invite()

    signals.SIPInvitationChangedState.connect(on_state)
    try:
        r = sipp.run_uac(tmp_path, NO_SDP_UAC, engine.local_udp_port, timeout=15)
        sipp.assert_ok(r, tmp_path)
    finally:
        signals.SIPInvitationChangedState.disconnect(on_state)
    inv = got[0]
    wait_state(recorder, inv, "DISCONNECTED")
    assert seq(recorder, inv) == ["INCOMING", "CONNECTING", "CONFIRMED", "DISCONNECTED"]
    incoming, _, confirmed, _ = changes(recorder, inv)
    assert incoming.data.body is None
    assert confirmed.data.method == "ACK" and "m=audio 6010 RTP/AVP 8" in confirmed.data.body
    upd = sdp_updates(recorder, inv)
    assert [u.data.succeeded for u in upd] == [True]
    assert upd[0].data.local_sdp.media[0].port == 42000
    assert upd[0].data.remote_sdp.media[0].port == 6010
    assert upd[0].data.remote_sdp.media[0].formats == ["8"]
    assert inv.get_active_remote_sdp() == upd[0].data.remote_sdp
    check_transitions(recorder)
    no_exceptions(recorder)
