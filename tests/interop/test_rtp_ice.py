"""RTPTransport with ICE and a STUN candidate, against coturn's turnserver (the plugin's
``coturn`` fixture, STUN only) and a "black hole" (a bound UDP socket that never answers):
WAIT_STUN -> INIT with RTPTransportDidInitialize, WAIT_STUN -> STUN_FAILED with
RTPTransportDidFail(reason), misuse in those states.

ICE negotiation (set_LOCAL/set_ESTABLISHED with ICE): two ICE transports negotiate and carry
RTP.  It needs build_pjsip.py's netlink patch (docs/media.md): unpatched, pjnath waits for ever
on kernels that put NLMSG_DONE in the last datagram of a dump.
"""
from __future__ import annotations

import re
import time

import pytest
import test_audio_stream as tas

from peers.coturn import BlackHole
from sipcore import (AudioTransport, InvalidStateError, NotificationRecorder, RTPTransport,
                     SDPAttribute, SDPSession)


@pytest.fixture
def stun_server(coturn):
    """coturn's STUN port (the plugin's ``coturn`` fixture: sipcore.testing.coturn)."""
    return coturn.port


@pytest.fixture
def black_hole():
    with BlackHole() as hole:
        yield hole.port


@pytest.fixture
def engine(engine_factory):
    return engine_factory(local_tcp_port=None)


def test_stun_answer_initializes(engine, stun_server):
    with NotificationRecorder(["RTPTransportDidInitialize", "RTPTransportDidFail"]) as rec:
        t = RTPTransport(use_ice=True, ice_stun_address="127.0.0.1", ice_stun_port=stun_server)
        # WAIT_STUN until the answer, which on loopback may already be in (the black-hole test
        # below shows WAIT_STUN held while no answer comes)
        assert t.state in ("WAIT_STUN", "INIT")
        assert (t.use_ice, t.ice_stun_address, t.ice_stun_port) == (True, "127.0.0.1", stun_server)
        rec.wait_for("RTPTransportDidInitialize", timeout=10, sender=t)
        assert t.state == "INIT"
        time.sleep(0.3)
        assert len(rec.all("RTPTransportDidInitialize")) == 1    # once, though reported twice
        assert not rec.all("RTPTransportDidFail")
        assert t.local_rtp_address == "127.0.0.1" and t.local_rtp_port
        assert repr(t) == f"<RTPTransport 127.0.0.1:{t.local_rtp_port} INIT>"


def test_stun_black_hole_fails_with_a_reason(engine, black_hole):
    with NotificationRecorder(["RTPTransportDidInitialize", "RTPTransportDidFail"]) as rec:
        t = RTPTransport(use_ice=True, ice_stun_address="127.0.0.1", ice_stun_port=black_hole)
        assert t.state == "WAIT_STUN"   # for about 9.5 s: no answer comes
        # the sockets are bound, but the default candidate (the server-reflexive one) is not
        # known yet: no port, not pjmedia's placeholder 0.0.0.0:9 (RFC 8839 4.3.1)
        assert t.local_rtp_address == "127.0.0.1" and t.local_rtp_port is None
        assert repr(t) == "<RTPTransport 127.0.0.1:None WAIT_STUN>"
        offer = SDPSession("127.0.0.1",
                           media=[AudioTransport(RTPTransport()).get_local_media(True)])
        with pytest.raises(InvalidStateError, match="WAIT_STUN"):
            t.set_LOCAL(offer, 0)
        with pytest.raises(InvalidStateError, match="WAIT_STUN"):
            AudioTransport(t)
        t.set_INIT()                    # trigger 2: nothing happens yet
        assert t.state == "WAIT_STUN"
        n = rec.wait_for("RTPTransportDidFail", timeout=20, sender=t)
        assert t.state == "STUN_FAILED"
        assert "timed out" in n.data.reason.lower(), n.data.reason
        assert not rec.all("RTPTransportDidInitialize")
    with pytest.raises(InvalidStateError, match="STUN_FAILED"):
        t.set_INIT()                    # unusable, as the spec says


def test_ice_without_stun_is_initialized_at_once(engine):
    t = RTPTransport(use_ice=True)
    assert t.state == "INIT" and t.local_rtp_port


ICE_EVENTS = ["RTPTransportICENegotiationDidSucceed", "RTPTransportICENegotiationDidFail"]
ICE_CHAR = re.compile(r"[A-Za-z0-9+/]+")      # RFC 8839 ice-char


def ice_attributes(media):
    """{name: [values]} of the ICE attributes of one SDPMedia."""
    out = {}
    for attr in media.attributes:
        if attr.name in ("ice-ufrag", "ice-pwd", "candidate", "ice-lite", "ice-mismatch"):
            out.setdefault(attr.name, []).append(attr.value)
    return out


def test_offer_carries_ufrag_pwd_and_a_candidate_per_component(engine, stun_server):
    with NotificationRecorder(["RTPTransportDidInitialize"]) as rec:
        t = RTPTransport(use_ice=True, ice_stun_address="127.0.0.1", ice_stun_port=stun_server)
        rec.wait_for("RTPTransportDidInitialize", timeout=10, sender=t)
    t.set_INIT()
    audio = AudioTransport(t)
    offer = tas.session(audio.get_local_media(True))
    assert not ice_attributes(offer.media[0])       # set_LOCAL adds them
    t.set_LOCAL(offer, 0)
    m = offer.media[0]
    ice = ice_attributes(m)
    # RFC 8839 5.4: ice-ufrag 4-256 ice-chars, ice-pwd 22-256, one of each
    [ufrag], [pwd] = ice["ice-ufrag"], ice["ice-pwd"]
    assert ICE_CHAR.fullmatch(ufrag) and 4 <= len(ufrag) <= 256, ufrag
    assert ICE_CHAR.fullmatch(pwd) and 22 <= len(pwd) <= 256, pwd
    # RFC 8839 5.1: foundation component transport priority address port "typ" type
    rtcp_port = int(next(a.value for a in m.attributes if a.name == "rtcp").split()[0])
    host = {}
    for line in ice["candidate"]:
        foundation, comp, transport, prio, address, port, typ, kind, *_ = line.split()
        assert ICE_CHAR.fullmatch(foundation) and transport.upper() == "UDP" and typ == "typ"
        assert int(prio) & 0xff == 256 - int(comp)  # RFC 8445 5.1.2.1: (256 - component ID)
        if kind == "host":
            host[int(comp)] = (address, int(port))
    # the default destination (m= port, c= address, a=rtcp) is a candidate of each component
    assert host == {1: ("127.0.0.1", t.local_rtp_port), 2: ("127.0.0.1", rtcp_port)}
    assert m.port == t.local_rtp_port
    assert (m.connection or offer.connection).address == t.local_rtp_address


def test_ice_on_both_ends_nominates_a_pair_and_carries_audio(engine, stun_server, tmp_path):
    with NotificationRecorder(["RTPTransportDidInitialize", *ICE_EVENTS]) as rec:
        a_rtp = RTPTransport(use_ice=True, ice_stun_address="127.0.0.1", ice_stun_port=stun_server)
        rec.wait_for("RTPTransportDidInitialize", timeout=10, sender=a_rtp)
        b_rtp = RTPTransport(use_ice=True)
        kw = {"codecs": ["PCMU"], "enable_silence_detection": False}
        p = tas.Pair(a_rtp, b_rtp, a_kw=kw, b_kw=kw)
        for rtp in (a_rtp, b_rtp):
            assert {"ice-ufrag", "ice-pwd", "candidate"} <= set(ice_attributes(
                (p.offer if rtp is a_rtp else p.answer).media[0]))
        ok = {rtp: rec.wait_for("RTPTransportICENegotiationDidSucceed", timeout=10, sender=rtp)
              for rtp in (a_rtp, b_rtp)}
        p.play(tmp_path, seconds=2.0)
        received = a_rtp.remote_rtp_address_received, a_rtp.remote_rtp_port_received
        active = a_rtp.ice_active, b_rtp.ice_active
        p.stop()
    assert not rec.all("RTPTransportICENegotiationDidFail")
    assert active == (True, True)
    for rtp, other in ((a_rtp, b_rtp), (b_rtp, a_rtp)):
        data = ok[rtp].data
        local, remote = data.chosen_local_candidates, data.chosen_remote_candidates
        assert [c.component for c in local] == [c.component for c in remote] == [1, 2]
        assert (local[0].address, local[0].port) == ("127.0.0.1", rtp.local_rtp_port)
        assert (remote[0].address, remote[0].port) == ("127.0.0.1", other.local_rtp_port)
        assert {c.type for c in local + remote} == {"host"}
        assert 0 <= data.duration < 5
    # a hears b's tone, b a's, each from the nominated pair
    assert received == ("127.0.0.1", b_rtp.local_rtp_port)
    tas.assert_hears(tas.heard(tmp_path, "a"), tas.TONE_B, tas.TONE_A)
    tas.assert_hears(tas.heard(tmp_path, "b"), tas.TONE_A, tas.TONE_B)


@pytest.mark.parametrize("ice_side", ["offerer", "answerer"])
def test_ice_against_a_peer_without_ice_falls_back_to_plain_rtp(engine, tmp_path, ice_side):
    with NotificationRecorder(ICE_EVENTS) as rec:
        ice_rtp = RTPTransport(use_ice=True)
        plain_rtp = RTPTransport()
        kw = {"codecs": ["PCMA"], "enable_silence_detection": False}
        if ice_side == "offerer":
            p = tas.Pair(ice_rtp, plain_rtp, a_kw=kw, b_kw=kw)
            assert "candidate" in ice_attributes(p.offer.media[0])
        else:
            p = tas.Pair(plain_rtp, ice_rtp, a_kw=kw, b_kw=kw)
        # the answer has no ICE: an answerer without ICE, or ICE answering an offer without it
        assert not ice_attributes(p.answer.media[0])
        p.play(tmp_path, seconds=2.0)
        stats = p.a.statistics, p.b.statistics
        active = ice_rtp.ice_active
        p.stop()
        time.sleep(0.2)
    assert not [n for n in rec.all() if n.sender is ice_rtp], rec.all()    # no ICE ran
    assert active is False
    tas.assert_hears(tas.heard(tmp_path, "a"), tas.TONE_B, tas.TONE_A)
    tas.assert_hears(tas.heard(tmp_path, "b"), tas.TONE_A, tas.TONE_B)
    assert all(st["rx_packets"] >= 50 for st in stats), stats


def test_ice_checks_failing_notify_did_fail_with_a_reason(engine):
    """The answer's ice-pwd is not the answerer's: every check the offerer sends fails its
    MESSAGE-INTEGRITY there (RFC 8445 7.3: 401), so the offerer's checklist fails."""
    with NotificationRecorder(ICE_EVENTS) as rec:
        a, b = RTPTransport(use_ice=True), RTPTransport(use_ice=True)
        a.set_INIT(), b.set_INIT()
        audio = AudioTransport(a)
        offer = tas.session(audio.get_local_media(True))
        a.set_LOCAL(offer, 0)
        peer = AudioTransport(b, offer, 0)
        answer = tas.session(peer.get_local_media(False))
        b.set_ESTABLISHED(answer, offer, 0)
        wrong = answer.copy()
        m = wrong.media[0]
        m.attributes = [SDPAttribute("ice-pwd", "0" * 24) if x.name == "ice-pwd" else x
                        for x in m.attributes]
        audio.start(offer, wrong, 0)
        n = rec.wait_for("RTPTransportICENegotiationDidFail", timeout=15, sender=a)
        assert "ice" in n.data.reason.lower() and n.data.duration >= 0, n.data.reason
        assert a.state == "ESTABLISHED" and a.ice_active is False
        assert all(x.sender is not a for x in rec.all("RTPTransportICENegotiationDidSucceed"))
        audio.stop(), peer.stop()


def test_ice_transport_negotiates_again_after_set_init(engine):
    a, b = RTPTransport(use_ice=True), RTPTransport(use_ice=True)
    for round_ in range(2):
        with NotificationRecorder(ICE_EVENTS) as rec:
            p = tas.Pair(a, b)
            for rtp in (a, b):
                rec.wait_for("RTPTransportICENegotiationDidSucceed", timeout=10, sender=rtp)
            p.stop()
            a.set_INIT(), b.set_INIT()
            time.sleep(0.2)
        assert len(rec.all()) == 2, (round_, rec.all())
