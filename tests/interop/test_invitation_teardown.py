"""Invitation: disconnect() from CONNECTING, REINVITING and REINVITED, rejected re-INVITEs both
ways, two provisional responses (EARLY -> EARLY), an unanswered INVITE ended by the disconnect
timeout, and contact_uri.  Peers: a second sipcore process, sipp, this process calling itself.

Expected values come from sip-core-api.txt ("Invitation": triggers 4-16, disconnect(),
respond_to_reinvite()) and RFC 3261 (15.1.2: a pending re-INVITE answered 487 when the session
ends; 9.1: no CANCEL before a provisional response)."""
import time

from peers import sipp
from test_invitation_helpers import (call, changes, check_transitions, first_line, header,
                                     incoming_calls, make_sdp, no_exceptions, sdp_updates, seq,
                                     sip_trace, wait_state)
from test_invitation_helpers import spec_checked  # noqa: F401 (autouse: spec transitions, no exceptions)
from sipcore import SIPURI
from sipcore.peer import PeerProcess

IP = sipp.IP


def peer_process(*extra):
    return PeerProcess("--ip", IP, "--user", "bob", *extra)


def peer_states(peer, cid, until, timeout=10):
    """The peer's call_state events of call ``cid`` up to state ``until``: [(state, code, method)]."""
    out = []
    while True:
        ev = peer.expect("call_state", timeout=timeout, id=cid)
        out.append((ev["state"], ev["code"], ev["method"]))
        if ev["state"] == until:
            return out


def cseq_method(msg):
    return (header(msg, "CSeq") or "").split()[-1]


# ---- disconnect() in REINVITED, REINVITING, CONNECTING -------------------------------------

def test_disconnect_while_reinvited_answers_487_then_byes(engine_factory, recorder):
    """Trigger 14 from REINVITED: REINVITED -> DISCONNECTING -> DISCONNECTED (REINVITED ->
    CONFIRMED is trigger 13, respond_to_reinvite() only).  Wire: 487 to the pending
    re-INVITE (RFC 3261 15.1.2), then BYE; the peer sees its re-INVITE end with 487."""
    engine_factory(trace_sip=True)
    with peer_process("--answer", "auto") as peer:
        inv = call(peer.ready["udp"])
        wait_state(recorder, inv, "CONFIRMED")
        # (the peer may re-INVITE only once it has taken the ACK: CONFIRMED on its side too)
        peer.expect("call_state", id="in1", state="CONFIRMED")
        peer.command("reinvite", id="in1", direction="sendonly")
        wait_state(recorder, inv, "REINVITED")
        active = (inv.get_active_local_sdp(), inv.get_active_remote_sdp())
        mark = len(sip_trace(recorder, sent=True))
        inv.disconnect()
        n = wait_state(recorder, inv, "DISCONNECTED")
        assert n.data.prev_state == "DISCONNECTING" and n.data.code == 200
        assert seq(recorder, inv) == ["CALLING", "EARLY", "CONNECTING", "CONFIRMED", "REINVITED",
                                      "DISCONNECTING", "DISCONNECTED"]
        sent = sip_trace(recorder, sent=True)[mark:]
        assert [first_line(m).split()[0] + " " + cseq_method(m) for m in sent[:2]] == \
            ["SIP/2.0 INVITE", "BYE BYE"]
        assert first_line(sent[0]).startswith("SIP/2.0 487 ")
        assert peer_states(peer, "in1", "DISCONNECTED")[-3:] == [
            ("REINVITING", None, None), ("CONFIRMED", 487, None), ("DISCONNECTED", None, "BYE")]
        # the re-INVITE was not negotiated: the active SDP is the one before it
        assert (inv.get_active_local_sdp(), inv.get_active_remote_sdp()) == active
        assert len(sdp_updates(recorder, inv)) == 1
        check_transitions(recorder)
    no_exceptions(recorder)


def test_disconnect_while_reinviting_byes(engine_factory, recorder):
    """Trigger 14 from REINVITING (the peer never answers the re-INVITE): REINVITING ->
    DISCONNECTING -> DISCONNECTED on the 200 to the BYE."""
    engine_factory(trace_sip=True)
    with peer_process("--answer", "auto", "--reinvite", "manual") as peer:
        inv = call(peer.ready["udp"])
        wait_state(recorder, inv, "CONFIRMED")
        inv.set_offered_local_sdp(make_sdp(dir="sendonly"))
        inv.send_reinvite()
        assert inv.state == "REINVITING"
        peer.expect("call_state", id="in1", state="REINVITED")
        inv.disconnect()
        n = wait_state(recorder, inv, "DISCONNECTED")
        assert n.data.prev_state == "DISCONNECTING" and n.data.code == 200
        assert seq(recorder, inv) == ["CALLING", "EARLY", "CONNECTING", "CONFIRMED", "REINVITING",
                                      "DISCONNECTING", "DISCONNECTED"]
        sent = [first_line(m).split()[0] for m in sip_trace(recorder, sent=True)]
        assert sent[-2:] == ["INVITE", "BYE"]
        ev = peer.expect("call_state", id="in1", state="DISCONNECTED")
        assert ev["method"] == "BYE"
        check_transitions(recorder)
    no_exceptions(recorder)


LATE_ACK_UAC = sipp.scenario(
    "INVITE, the 200 ACKed late, BYE from the callee answered",
    sipp.request("INVITE", 1, initial=True, body=sipp.sdp()),
    sipp.recv(response=100, optional=True),
    sipp.recv(response=200, rrs=True),
    sipp.pause(700),
    sipp.request("ACK", 1, retrans=None),
    sipp.recv_bye_send_200())


def test_disconnect_while_connecting_byes_after_the_ack(engine_factory, recorder, tmp_path):
    """Trigger 14 from CONNECTING: the callee accepts and at once disconnects, before the
    caller's ACK (sipp sends it 0.7 s late): CONNECTING -> DISCONNECTING -> DISCONNECTED on the
    200 to the BYE.  Wire: the BYE only after the ACK (RFC 3261 15: the callee 'MUST NOT send
    a BYE on a confirmed dialog until it has received an ACK for its 2xx response')."""
    e = engine_factory(trace_sip=True)

    def accept_and_hang_up(i):
        i.set_offered_local_sdp(make_sdp())
        i.accept_invite()
        assert i.state == "CONNECTING"       # the poll thread is here: no ACK can be in yet
        i.disconnect()

    with incoming_calls(accept_and_hang_up) as got:
        r = sipp.run_uac(tmp_path, LATE_ACK_UAC, e.local_udp_port, timeout=15)
        sipp.assert_ok(r, tmp_path)
        inv = got[0]
        d = wait_state(recorder, inv, "DISCONNECTED")
        assert d.data.prev_state == "DISCONNECTING" and d.data.code == 200
        assert seq(recorder, inv) == ["INCOMING", "CONNECTING", "DISCONNECTING", "DISCONNECTED"]
        ladder = [("<- " if n.data.received else "-> ") + first_line(n.data.data)
                  for n in recorder.all("SIPEngineSIPTrace")]
        ack = next(i for i, m in enumerate(ladder) if m.startswith("<- ACK "))
        bye = next(i for i, m in enumerate(ladder) if m.startswith("-> BYE "))
        assert ladder[0].startswith("<- INVITE ") and ack < bye, ladder
        check_transitions(recorder)
    no_exceptions(recorder)


# ---- rejected re-INVITEs ---------------------------------------------------------------------

def test_our_reinvite_rejected_488_returns_to_confirmed(engine, recorder):
    """Trigger 11 with a negative final response: REINVITING -> CONFIRMED carrying the code;
    nothing was negotiated, so the active SDP is the one before the re-INVITE."""
    with peer_process("--answer", "auto", "--reinvite", "manual") as peer:
        inv = call(peer.ready["udp"])
        wait_state(recorder, inv, "CONFIRMED")
        active = (inv.get_active_local_sdp(), inv.get_active_remote_sdp())
        inv.set_offered_local_sdp(make_sdp(dir="sendonly", port=41000))
        inv.send_reinvite()
        peer.expect("call_state", id="in1", state="REINVITED")
        peer.command("respond_reinvite", id="in1", code=488)
        n = wait_state(recorder, inv, "CONFIRMED")
        assert n.data.prev_state == "REINVITING"
        assert (n.data.code, n.data.reason) == (488, "Not Acceptable Here")
        assert seq(recorder, inv)[-3:] == ["CONFIRMED", "REINVITING", "CONFIRMED"]
        assert (inv.get_active_local_sdp(), inv.get_active_remote_sdp()) == active
        assert inv.get_active_local_sdp().media[0].port == 40000
        assert all(u.data.succeeded for u in sdp_updates(recorder, inv))
        inv.send_reinvite()                  # the call is usable: the active SDP again
        n = wait_state(recorder, inv, "REINVITING")
        peer.expect("call_state", id="in1", state="REINVITED")
        peer.command("respond_reinvite", id="in1", code=200)
        assert wait_state(recorder, inv, "CONFIRMED").data.code == 200
        assert inv.get_active_local_sdp().media[0].port == 40000
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")
        check_transitions(recorder)
    no_exceptions(recorder)


def test_peer_reinvite_rejected_with_488_returns_to_confirmed(engine_factory, recorder):
    """Trigger 13 with a negative final response: respond_to_reinvite(488) -> CONFIRMED at
    once; the peer gets the 488; the active SDP is unchanged on both sides."""
    engine_factory(trace_sip=True)
    with peer_process("--answer", "auto") as peer, \
            incoming_calls(lambda i: None):
        inv = call(peer.ready["udp"])
        wait_state(recorder, inv, "CONFIRMED")
        active = (inv.get_active_local_sdp(), inv.get_active_remote_sdp())
        peer.expect("call_state", id="in1", state="CONFIRMED")     # (it has taken the ACK)
        peer.command("reinvite", id="in1", direction="sendonly")
        n = wait_state(recorder, inv, "REINVITED")
        assert n.data.method == "INVITE" and "a=sendonly" in n.data.body
        assert inv.get_offered_remote_sdp().media[0].get_direction() == "sendonly"
        inv.respond_to_reinvite(488)
        assert inv.state == "CONFIRMED"
        n = wait_state(recorder, inv, "CONFIRMED")
        assert n.data.prev_state == "REINVITED"
        assert [first_line(m) for m in sip_trace(recorder, sent=True)][-1] == \
            "SIP/2.0 488 Not Acceptable Here"
        peer.expect("call_state", id="in1", state="REINVITING")
        ev = peer.expect("call_state", id="in1")
        assert (ev["prev_state"], ev["state"], ev["code"]) == ("REINVITING", "CONFIRMED", 488)
        assert (inv.get_active_local_sdp(), inv.get_active_remote_sdp()) == active
        assert inv.get_offered_remote_sdp() is None
        assert len(sdp_updates(recorder, inv)) == 1
        # and the next re-INVITE of the peer is taken as usual
        peer.command("reinvite", id="in1", direction="sendrecv")
        wait_state(recorder, inv, "REINVITED")
        inv.set_offered_local_sdp(make_sdp(port=41000))
        inv.respond_to_reinvite(200)
        wait_state(recorder, inv, "CONFIRMED")
        assert peer.expect("call_state", id="in1", state="CONFIRMED")["code"] == 200
        assert inv.get_active_local_sdp().media[0].port == 41000     # the answer set
        assert [u.data.succeeded for u in sdp_updates(recorder, inv)] == [True, True]
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")
        assert seq(recorder, inv) == ["CALLING", "EARLY", "CONNECTING", "CONFIRMED", "REINVITED",
                                      "CONFIRMED", "REINVITED", "CONFIRMED", "DISCONNECTING",
                                      "DISCONNECTED"]
        check_transitions(recorder)
    no_exceptions(recorder)


# ---- EARLY -> EARLY --------------------------------------------------------------------------

def test_two_provisional_responses_early_to_early_both_ways(engine_factory, recorder):
    """Triggers 4 and 5 twice: 180 then 183 give EARLY, EARLY (the second notification's
    state is the same as the previous one), with the codes when received."""
    e = engine_factory(trace_sip=True)
    with peer_process() as peer:                       # the peer answers by command
        inv = call(peer.ready["udp"])
        peer.expect("call_state", id="in1", state="INCOMING")
        peer.command("ring", id="in1", code=180)
        wait_state(recorder, inv, "EARLY")
        peer.command("ring", id="in1", code=183)
        n = recorder.wait_for("SIPInvitationChangedState", sender=inv, timeout=5,
                              where=lambda n: n.data.prev_state == "EARLY")
        assert (n.data.state, n.data.code, n.data.reason) == ("EARLY", 183, "Session Progress")
        peer.command("accept", id="in1")
        wait_state(recorder, inv, "CONFIRMED")
        assert [(c.data.state, getattr(c.data, "code", None)) for c in changes(recorder, inv)] == [
            ("CALLING", None), ("EARLY", 180), ("EARLY", 183), ("CONNECTING", 200),
            ("CONFIRMED", None)]
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")

        # the other way: we send 180, then 183
        def ring_twice(i):
            i.respond_to_invite_provisionally(180)
            i.respond_to_invite_provisionally(183)
        with incoming_calls(ring_twice) as got:
            peer.command("call", id="c1", to=f"sip:alice@{IP}:{e.local_udp_port}",
                         route=[IP, e.local_udp_port, "udp"])
            assert peer_states(peer, "c1", "EARLY") == [("CALLING", None, None),
                                                        ("EARLY", 180, None)]
            ev = peer.expect("call_state", id="c1")
            assert (ev["prev_state"], ev["state"], ev["code"]) == ("EARLY", "EARLY", 183)
            mine = got[0]
            assert seq(recorder, mine) == ["INCOMING", "EARLY", "EARLY"]
            codes = [first_line(m) for m in sip_trace(recorder, sent=True)
                     if cseq_method(m) == "INVITE" and m.startswith("SIP/2.0 1")]
            assert codes[-2:] == ["SIP/2.0 180 Ringing", "SIP/2.0 183 Session Progress"]
            mine.set_offered_local_sdp(make_sdp())
            mine.accept_invite()
            wait_state(recorder, mine, "CONFIRMED")
            peer.command("hangup", id="c1")
            wait_state(recorder, mine, "DISCONNECTED")
            assert seq(recorder, mine) == ["INCOMING", "EARLY", "EARLY", "CONNECTING",
                                           "CONFIRMED", "DISCONNECTED"]
        check_transitions(recorder)
    no_exceptions(recorder)


# ---- an INVITE that is never answered --------------------------------------------------------

RING_FOREVER_UAS = sipp.scenario(
    "180, then nothing: no final response, no answer to the CANCEL",
    sipp.recv(request="INVITE"),
    sipp.respond(180, "Ringing"),
    sipp.recv(request="CANCEL"),
    sipp.pause(3000))


def test_unanswered_invite_ends_408_at_the_disconnect_timeout(engine_factory, recorder, tmp_path):
    """A peer that rings and then answers nothing, not even the CANCEL: disconnect(timeout=1)
    ends it with code 408 after about 1 s (spec, disconnect(): 'how many seconds to wait for
    the remote party to reply before changing the state to DISCONNECTED')."""
    engine_factory(trace_sip=True)
    with sipp.uas(tmp_path, RING_FOREVER_UAS, timeout=15) as peer:
        inv = call(peer.port)
        n = wait_state(recorder, inv, "EARLY")
        assert n.data.code == 180
        t0 = time.monotonic()
        inv.disconnect(timeout=1.0)
        assert inv.state == "DISCONNECTING"
        n = wait_state(recorder, inv, "DISCONNECTED", timeout=5)
        took = time.monotonic() - t0
        assert 0.9 <= took <= 4.0, took
        assert n.data.prev_state == "DISCONNECTING" and n.data.code == 408
        assert seq(recorder, inv) == ["CALLING", "EARLY", "DISCONNECTING", "DISCONNECTED"]
        assert "CANCEL" in [first_line(m).split()[0] for m in sip_trace(recorder, sent=True)]
        assert inv.call_id is None
        sipp.finish(peer, tmp_path)
    check_transitions(recorder)
    no_exceptions(recorder)


# ---- contact_uri -----------------------------------------------------------------------------

def test_contact_uri_is_sent_and_used_by_the_peer(engine_factory, recorder):
    """__init__(contact_uri=...): 'The Contact URI to include in the INVITE request'; it is
    local_contact_uri, and the callee's in-dialog BYE goes to it (this process calls itself,
    the callee side sees the INVITE's Contact)."""
    e = engine_factory(trace_sip=True)
    port = e.local_udp_port
    contact = SIPURI(IP, user="alice-desk", port=port, parameters={"transport": "udp"})
    with incoming_calls(lambda i: (i.set_offered_local_sdp(make_sdp(port=42000)),
                                   i.accept_invite())) as got:
        inv = call(port, contact_uri=contact)
        wait_state(recorder, inv, "CONFIRMED")
        assert inv.local_contact_uri == contact
        invite = [m for m in sip_trace(recorder, sent=True) if m.startswith("INVITE ")][0]
        assert header(invite, "Contact") == f"<sip:alice-desk@{IP}:{port};transport=udp>"
        callee = got[0]
        incoming = changes(recorder, callee)[0]
        assert incoming.data.headers["Contact"] == f"<sip:alice-desk@{IP}:{port};transport=udp>"
        wait_state(recorder, callee, "CONFIRMED")
        callee.disconnect()
        n = wait_state(recorder, inv, "DISCONNECTED")
        assert n.data.method == "BYE" and n.data.request_uri == contact
        wait_state(recorder, callee, "DISCONNECTED")
    check_transitions(recorder)
    no_exceptions(recorder)
