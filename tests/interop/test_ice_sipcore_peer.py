"""ICE between two sipcore processes through a real INVITE (Invitation, direct on loopback):
this process and ``python -m sipcore peer`` (its media settings ``use_ice``,
``ice_stun_address``, ``ice_stun_port``; its ``ice`` events), coturn as the STUN server.

- ICE on both ends, this process calling and the peer calling: the offer and the answer carry
  ufrag, pwd and candidates across the SIP round trip, both ends report
  RTPTransportICENegotiationDidSucceed with the host pairs of the other side's SDP ports
  (RTP and RTCP on 127.0.0.1), ``ice_active`` is True during the call, and the tones cross
  both ways on the recordings, also after a re-INVITE (no second ICE result);
- the peer reports failed checks (an answer with a wrong ice-pwd) as an ``ice`` event;
- ``long``: ICE on both ends over ::1;
- ICE against a side without ICE, ICE offering and ICE answering: the answer has no ICE, no
  ICE result on either side, ``ice_active`` False, plain RTP with audio both ways.

Each side plays its tone and records (test_audio_sipcore_peer's PeerCall and levels).
"""
from __future__ import annotations

import time

import pytest

from sipcore import Credentials, Invitation, Route, SIPURI
from test_audio_sipcore_peer import ME, PEER, PeerCall, alice, assert_hears, peer  # noqa: F401
from test_invitation_helpers import incoming_calls, wait_state
from test_rtp_ice import ICE_EVENTS, ice_attributes
from sipcore.media import tones
from sipcore.peer import CallMedia

ICE_ATTRS = {"ice-ufrag", "ice-pwd", "candidate"}
SECONDS = 1.5       # of audio per call


def stun(coturn):
    return {"use_ice": True, "ice_stun_address": "127.0.0.1", "ice_stun_port": coturn.port}


def sdp_ports(sdp):
    """{component: ("127.0.0.1"-style address, port)} of an SDP's audio line: 1 the m= port at
    the c= address, 2 its a=rtcp (RFC 3605; with ICE not the RTP port + 1)."""
    m = sdp.media[0]
    address = (m.connection or sdp.connection).address
    rtcp = next(int(a.value.split()[0]) for a in m.attributes if a.name == "rtcp")
    return {1: (address, m.port), 2: (address, rtcp)}


def pairs(candidates):
    """{component: (address, port)} of chosen candidates (ICECandidate or the peer's dicts)."""
    out = {}
    for c in candidates:
        c = c if isinstance(c, dict) else c._asdict()
        assert c["type"] == "host", c                  # loopback: host candidates only
        out[c["component"]] = (c["address"], c["port"])
    return out


def assert_nominated(mine, peers, local_sdp, remote_sdp, address="127.0.0.1"):
    """This side's DidSucceed data and the peer's "ice" event name the same two pairs: each
    side's local ends at its own SDP's ports, its remote ends at the other side's."""
    here, there = sdp_ports(local_sdp), sdp_ports(remote_sdp)
    assert here[1][0] == there[1][0] == address
    assert pairs(mine.chosen_local_candidates) == here
    assert pairs(mine.chosen_remote_candidates) == there
    assert peers["succeeded"] is True and peers["ice_active"] is True, peers
    assert pairs(peers["chosen_local_candidates"]) == there
    assert pairs(peers["chosen_remote_candidates"]) == here


def result(event):
    """A peer "ice" event without its event name and call id: what media_stopped lists."""
    return {k: v for k, v in event.items() if k not in ("event", "id")}


def no_more_ice(peer, cid):
    """The ICE events the peer sent about ``cid`` that expect() has not consumed."""
    left = []
    while not peer.events.empty():
        ev = peer.events.get()
        if ev.get("event") == "ice" and ev.get("id") == cid:
            left.append(ev)
    return left


def test_ice_on_both_ends_this_process_calling(alice, peer, recorder, tmp_path, coturn):
    c = PeerCall(peer, recorder, tmp_path, "ice", codecs=["PCMU"], ice=stun(coturn),
                 peer_ice=stun(coturn))
    assert ICE_ATTRS <= set(ice_attributes(c.offer.media[0]))
    local, remote = c.inv.get_active_local_sdp(), c.inv.get_active_remote_sdp()
    assert ICE_ATTRS <= set(ice_attributes(remote.media[0]))       # the answer, through SIP
    assert c.peer_media["use_ice"] is True
    # each side's transport asked coturn, and got its answer (else WAIT_STUN, STUN_FAILED)
    assert c.peer_media["ice_stun"] == ["127.0.0.1", coturn.port]
    assert (c.m.rtp.ice_stun_address, c.m.rtp.ice_stun_port) == ("127.0.0.1", coturn.port)
    assert sdp_ports(remote)[1][1] == c.peer_media["local_rtp_port"]
    mine = recorder.wait_for("RTPTransportICENegotiationDidSucceed", timeout=10,
                             sender=c.m.rtp).data
    theirs = peer.expect("ice", id=c.id)
    assert_nominated(mine, theirs, local, remote)
    time.sleep(1.0)
    assert c.m.rtp.ice_active is True
    assert (c.m.rtp.remote_rtp_address_received, c.m.rtp.remote_rtp_port_received) == \
        sdp_ports(remote)[1]
    # a re-INVITE (same candidates, ufrag and pwd: no ICE restart, RFC 8839 4.4.1.1.2) leaves
    # the nominated pairs carrying the audio, with no second ICE result
    c.inv.set_offered_local_sdp(c.m.reoffer(local, "sendrecv"))
    c.inv.send_reinvite()
    n = recorder.wait_for("SIPInvitationGotSDPUpdate", timeout=10, sender=c.inv,
                          where=lambda n: n.data.remote_sdp.version > remote.version)
    assert n.data.succeeded and ICE_ATTRS <= set(ice_attributes(n.data.remote_sdp.media[0]))
    t_re = time.time()
    time.sleep(1.0)
    assert c.m.rtp.ice_active is True
    c.hangup()
    assert c.peer_stopped["ice_active"] is True and c.peer_stopped["ice"] == [result(theirs)]
    assert_hears(c.heard("alice", end=t_re - c.m.record_started), PEER, ME)
    assert_hears(c.heard("peer", end=t_re - c.peer_media["t"]), ME, PEER)
    assert_hears(c.heard("alice", start=t_re - c.m.record_started + 0.2), PEER, ME)
    assert_hears(c.heard("peer", start=t_re - c.peer_media["t"] + 0.2), ME, PEER)
    assert len(recorder.all("RTPTransportICENegotiationDidSucceed")) == 1    # this side once
    assert not recorder.all("RTPTransportICENegotiationDidFail")
    assert no_more_ice(peer, c.id) == [] and peer.exceptions == []


def test_ice_on_both_ends_peer_calling(alice, peer, recorder, tmp_path, coturn):
    """The peer offers (ICE with STUN), this process answers in its Invitation receiver on the
    poll thread (ICE without STUN: no STUN answer to wait for there)."""
    answered = []

    def answer(inv):
        m = CallMedia(codecs=["PCMU"], tone=ME, record=str(tmp_path / "alice.wav"),
                      workdir=str(tmp_path), use_ice=True)
        inv.set_offered_local_sdp(m.answer(inv.get_offered_remote_sdp()))
        inv.accept_invite()
        answered.append((inv, m))

    to = f"sip:alice@127.0.0.1:{alice.local_udp_port}"
    media = {"codecs": ["PCMU"], "tone": PEER, "record": str(tmp_path / "peer-{id}.wav"),
             **stun(coturn)}
    with incoming_calls(answer):
        peer.command("call", id="o1", to=to, route=["127.0.0.1", alice.local_udp_port, "udp"],
                     media=media)
        started = peer.expect("media_started", id="o1")
    [(inv, m)] = answered
    offer, local = inv.get_active_remote_sdp(), inv.get_active_local_sdp()
    assert ICE_ATTRS <= set(ice_attributes(offer.media[0]))
    assert ICE_ATTRS <= set(ice_attributes(local.media[0]))
    assert started["use_ice"] is True and sdp_ports(offer)[1][1] == started["local_rtp_port"]
    assert started["ice_stun"] == ["127.0.0.1", coturn.port]
    mine = recorder.wait_for("RTPTransportICENegotiationDidSucceed", timeout=10,
                             sender=m.rtp).data
    theirs = peer.expect("ice", id="o1")
    assert_nominated(mine, theirs, local, offer)
    time.sleep(SECONDS)
    assert m.rtp.ice_active is True
    inv.disconnect()
    wait_state(recorder, inv, "DISCONNECTED")
    m.stop()
    stopped = peer.expect("media_stopped", id="o1")
    assert stopped["ice_active"] is True and stopped["ice"] == [result(theirs)]
    assert_hears(tones.levels(m.record_path, [ME, PEER], start=0.5), PEER, ME)
    assert_hears(tones.levels(stopped["record"], [ME, PEER], start=0.5), ME, PEER)
    assert not recorder.all("RTPTransportICENegotiationDidFail")
    assert peer.exceptions == []


@pytest.mark.parametrize("ice_side", ["offerer", "answerer"])
def test_ice_against_the_peer_without_ice_falls_back_to_plain_rtp(alice, peer, recorder,
                                                                  tmp_path, coturn, ice_side):
    """This process offers; ``ice_side`` says which side has ICE (with coturn's STUN)."""
    ice = stun(coturn)
    c = PeerCall(peer, recorder, tmp_path, f"plain-{ice_side}", codecs=["PCMA"],
                 ice=ice if ice_side == "offerer" else None,
                 peer_ice=ice if ice_side == "answerer" else {"use_ice": False})
    assert bool(ice_attributes(c.offer.media[0])) is (ice_side == "offerer")
    remote = c.inv.get_active_remote_sdp()
    assert not ice_attributes(remote.media[0])              # the answer has no ICE
    assert c.peer_media["use_ice"] is (ice_side == "answerer")
    time.sleep(SECONDS)
    assert c.m.rtp.ice_active is False
    assert (c.m.rtp.remote_rtp_address_received, c.m.rtp.remote_rtp_port_received) == \
        sdp_ports(remote)[1]                               # plain RTP from the SDP's address
    stats = c.hangup()
    assert c.peer_stopped["ice_active"] is False and c.peer_stopped["ice"] == []
    assert not [n for n in recorder.all() if n.name in ICE_EVENTS], recorder.all()
    assert no_more_ice(peer, c.id) == []
    assert_hears(c.heard("alice"), PEER, ME)
    assert_hears(c.heard("peer"), ME, PEER)
    assert stats["rx_packets"] > 40 and stats["tx_packets"] > 40
    assert peer.exceptions == []


def test_peer_reports_failed_ice_checks(alice, peer, recorder, tmp_path):
    """The peer offers ICE; this process answers with an ice-pwd that is not its own, so every
    check the peer (controlling) sends fails its MESSAGE-INTEGRITY here (RFC 8445 7.3: 401):
    the peer reports RTPTransportICENegotiationDidFail as an "ice" event, ``ice_active``
    False, and the call stays up."""
    from sipcore import SDPAttribute
    answered = []

    def answer(inv):
        m = CallMedia(codecs=["PCMU"], workdir=str(tmp_path), use_ice=True)
        sdp = m.answer(inv.get_offered_remote_sdp())
        line = sdp.media[0]
        line.attributes = [SDPAttribute("ice-pwd", "0" * 24) if a.name == "ice-pwd" else a
                           for a in line.attributes]
        inv.set_offered_local_sdp(sdp)
        inv.accept_invite()
        answered.append((inv, m))

    to = f"sip:alice@127.0.0.1:{alice.local_udp_port}"
    with incoming_calls(answer):
        peer.command("call", id="o1", to=to, route=["127.0.0.1", alice.local_udp_port, "udp"],
                     media={"codecs": ["PCMU"], "use_ice": True})
        peer.expect("media_started", id="o1")
    failed = peer.expect("ice", id="o1", timeout=20)
    assert failed["succeeded"] is False and failed["ice_active"] is False, failed
    assert "ice" in failed["reason"].lower() and "chosen_local_candidates" not in failed
    [(inv, m)] = answered
    wait_state(recorder, inv, "CONFIRMED")                      # the call is up regardless
    inv.disconnect()
    wait_state(recorder, inv, "DISCONNECTED")
    m.stop()
    stopped = peer.expect("media_stopped", id="o1")
    assert stopped["ice"] == [result(failed)] and stopped["ice_active"] is False
    assert peer.exceptions == []


@pytest.mark.long
def test_ice_on_both_ends_over_ipv6(engine_factory, sipcore_peer_factory, recorder, tmp_path):
    """The same on ::1 (host candidates only: coturn listens on IPv4)."""
    engine_factory(local_ip="::1", local_tcp_port=None)
    peer = sipcore_peer_factory("--answer", "auto", "--ip", "::1")
    peer.set_media(codecs=["PCMU"], tone=PEER, record=str(tmp_path / "peer-{id}.wav"),
                   use_ice=True)
    m = CallMedia(codecs=["PCMU"], tone=ME, record=str(tmp_path / "alice.wav"), use_ice=True)
    port = peer.ready["udp"]
    inv = Invitation(Credentials(SIPURI("::1", user="alice")),
                     SIPURI("::1", user="bob", port=port), Route("::1", port, "udp"))
    inv.set_offered_local_sdp(m.offer())
    inv.send_invite()
    n = recorder.wait_for("SIPInvitationGotSDPUpdate", timeout=10, sender=inv)
    assert n.data.succeeded, n.data
    m.negotiated(n.data.local_sdp, n.data.remote_sdp)
    mine = recorder.wait_for("RTPTransportICENegotiationDidSucceed", timeout=10,
                             sender=m.rtp).data
    theirs = peer.expect("ice")
    assert_nominated(mine, theirs, n.data.local_sdp, n.data.remote_sdp, address="::1")
    time.sleep(SECONDS)
    assert m.rtp.ice_active is True
    inv.disconnect()
    wait_state(recorder, inv, "DISCONNECTED")
    m.stop()
    stopped = peer.expect("media_stopped")
    assert stopped["ice_active"] is True
    assert_hears(tones.levels(m.record_path, [ME, PEER], start=0.5), PEER, ME)
    assert_hears(tones.levels(stopped["record"], [ME, PEER], start=0.5), ME, PEER)
    assert peer.exceptions == []
