"""Audio end to end between this process and a second sipcore process (``python -m sipcore
peer``), through real INVITEs and re-INVITEs (Invitation), proven on the recordings.

Each side plays its own tone into its call's stream (a WaveFile connected pairwise) and records
what its stream hears (a RecordingWaveFile connected pairwise); each recording must hold the
other side's tone at least 10 dB above its own (tones.py levels, dBFS).  Both sides wire their
call with ``sipcore.peer.CallMedia`` (RTPTransport + AudioTransport through the call's SDP:
this process offers, the peer answers).

- every codec both ends have (opus, speex at 8/16/32 kHz, G722, PCMU, PCMA, GSM) with SRTP
  off and forced: ``make test`` runs two (one with SRTP) in one peer process, the matrix is
  ``long``;
- DTMF: the 16 digits each way arrive exactly once, in order;
- hold: a re-INVITE to sendonly silences what the holding side hears (the other side stops
  sending), inactive silences both, sendrecv brings both back -- measured in time windows;
- SRTP forced against a peer without SRTP: 488, no stream; optional against a peer without
  SRTP: plain RTP, audio flows;
- the peer as the offerer, with its two calls in its own conference (``conference``
  command), ``stop_media`` and its error events.
"""
from __future__ import annotations

import time

import pytest

from test_invitation_helpers import wait_state
from sipcore import Credentials, Invitation, Route, SIPURI
from sipcore.media import tones
from sipcore.peer import CallMedia

ME, PEER = 440, 1000        # the tones: what this process plays, what the peer plays
DIGITS = "0123456789*#ABCD"


def only_rate(sdp, codec, rate):
    """The offer with only ``codec``'s formats at ``rate`` Hz (and telephone-event at it): a
    remote that has speex/8000 only, say."""
    m = sdp.media[0]
    rtpmap = {a.value.split()[0]: a.value.split()[1] for a in m.attributes if a.name == "rtpmap"}
    keep = [f for f in m.formats if rtpmap.get(f, "").lower().split("/")[:2] in
            ([codec.lower(), str(rate)], ["telephone-event", str(rate)])]
    assert any(not rtpmap[f].startswith("telephone") for f in keep), rtpmap
    m.formats = keep
    m.attributes = [a for a in m.attributes
                    if a.name not in ("rtpmap", "fmtp") or a.value.split()[0] in keep]
    return sdp


class PeerCall:
    """This process (alice) calls the peer (answering with ``peer.set_media(...)``'s
    settings) and plays ME; the peer plays PEER.  Both record.  ``ice``/``peer_ice``: the
    ICE settings (CallMedia's use_ice, ice_stun_address, ice_stun_port) of each side."""

    def __init__(self, peer, recorder, tmp_path, name, codecs=None, srtp="off",
                 peer_srtp=None, rate=None, expect_media=True, ice=None, peer_ice=None):
        self.peer, self.recorder = peer, recorder
        self.mine = str(tmp_path / f"{name}-alice-heard.wav")
        peer.set_media(codecs=codecs, srtp=peer_srtp or srtp, tone=PEER,
                       record=str(tmp_path / f"{name}-peer-heard-{{id}}.wav"), **(peer_ice or {}))
        self.m = CallMedia(codecs=codecs, srtp=srtp, tone=ME, record=self.mine,
                           workdir=str(tmp_path), **(ice or {}))
        offer = self.m.offer()
        if rate:
            offer = only_rate(offer, codecs[0], rate)
        self.offer = offer
        port = peer.ready["udp"]
        self.inv = Invitation(Credentials(SIPURI("127.0.0.1", user="alice")),
                              SIPURI("127.0.0.1", user="bob", port=port),
                              Route("127.0.0.1", port, "udp"))
        self.inv.set_offered_local_sdp(offer)
        self.inv.send_invite()
        self.id = peer.expect("call_state", state="INCOMING")["id"]
        if expect_media:
            self.established()

    def established(self):
        n = self.recorder.wait_for("SIPInvitationGotSDPUpdate", timeout=10, sender=self.inv)
        assert n.data.succeeded, n.data
        self.m.negotiated(n.data.local_sdp, n.data.remote_sdp)
        self.peer_media = self.peer.expect("media_started", id=self.id)
        self.started = time.time()

    def reinvite(self, direction):
        """A re-INVITE with ``direction``; returns when both sides applied the answer."""
        self.inv.set_offered_local_sdp(self.m.reoffer(self.inv.get_active_local_sdp(),
                                                      direction))
        self.inv.send_reinvite()
        n = self.recorder.wait_for("SIPInvitationGotSDPUpdate", timeout=10, sender=self.inv,
                                   where=lambda n: n.data.local_sdp.media[0].get_direction()
                                   == direction)
        assert n.data.succeeded, n.data
        self.m.negotiated(n.data.local_sdp, n.data.remote_sdp)
        assert self.m.audio.direction == direction
        return time.time()

    def hangup(self):
        self.inv.disconnect()
        wait_state(self.recorder, self.inv, "DISCONNECTED")
        self.ended = time.time()
        stats = self.m.audio.statistics
        self.m.stop()
        self.peer_stopped = self.peer.expect("media_stopped", id=self.id)
        return stats

    def heard(self, side, start=0.5, end=None):
        """Levels of ME and PEER in a recording ("alice" or "peer") between ``start`` and
        ``end`` seconds into it."""
        path = self.mine if side == "alice" else self.peer_stopped["record"]
        return tones.levels(path, [ME, PEER], start=start, end=end)


def assert_hears(levels, tone, other):
    assert levels[tone] - levels[other] >= 10 and levels[tone] > -35, levels


def assert_silent(levels):
    assert max(levels.values()) < -50, levels


@pytest.fixture
def peer(sipcore_peer_factory):
    return sipcore_peer_factory("--answer", "auto")


@pytest.fixture
def alice(engine_factory):
    return engine_factory(local_tcp_port=None)


def audio_both_ways(peer, recorder, tmp_path, codec, rate, srtp, seconds=2.0):
    c = PeerCall(peer, recorder, tmp_path, f"{codec}{rate or ''}-{srtp}", codecs=[codec],
                 srtp=srtp, rate=rate)
    assert c.m.audio.codec.lower() == c.peer_media["codec"].lower() == codec.lower()
    if rate:
        assert c.m.audio.sample_rate == c.peer_media["sample_rate"] == rate
    forced = srtp == "forced"
    assert c.m.rtp.srtp_active is forced and c.peer_media["srtp_active"] is forced
    assert (c.inv.get_active_remote_sdp().media[0].transport == "RTP/SAVP") is forced
    time.sleep(seconds)
    stats = c.hangup()
    assert_hears(c.heard("alice"), PEER, ME)          # alice hears the peer, not herself
    assert_hears(c.heard("peer"), ME, PEER)
    assert stats["rx_packets"] > 40 and stats["tx_packets"] > 40 and stats["rx_lost"] == 0
    assert peer.exceptions == []


SHORT = [("G722", None, "forced"), ("speex", 8000, "off")]
MATRIX = [(c, r, s) for c, r in [("opus", None), ("speex", 8000), ("speex", 16000),
                                  ("speex", 32000), ("G722", None), ("PCMU", None),
                                  ("PCMA", None), ("GSM", None)]
          for s in ("off", "forced")]


def test_audio_both_ways_two_codecs(alice, peer, recorder, tmp_path):
    """The short form: two codecs, one with SRTP forced, one call each, one peer process."""
    for codec, rate, srtp in SHORT:
        audio_both_ways(peer, recorder, tmp_path, codec, rate, srtp)


@pytest.mark.long
def test_audio_both_ways_every_codec(alice, peer, recorder, tmp_path):
    for codec, rate, srtp in MATRIX:
        audio_both_ways(peer, recorder, tmp_path, codec, rate, srtp)


def test_dtmf_16_digits_each_way_once_in_order(alice, peer, recorder, tmp_path):
    c = PeerCall(peer, recorder, tmp_path, "dtmf", codecs=["PCMU"])
    got = []
    from sipcore import signals
    signals.RTPAudioTransportGotDTMF.connect(
        lambda s, **d: got.append(d["digit"]) if s is c.m.audio else None, weak=False)
    peer.command("dtmf", id=c.id, digits=DIGITS)        # peer -> alice, meanwhile
    for d in DIGITS:                                   # alice -> peer
        c.m.audio.send_dtmf(d)
    peer_got = "".join(peer.expect("dtmf", id=c.id, timeout=10)["digit"] for _ in DIGITS)
    deadline = time.monotonic() + 10
    while len(got) < len(DIGITS) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)                                     # a repeated digit would show now
    c.hangup()
    extra = []
    while not peer.events.empty():
        ev = peer.events.get()
        if ev.get("event") == "dtmf":
            extra.append(ev["digit"])
    assert peer_got == DIGITS and extra == []
    assert "".join(got) == DIGITS


def test_hold_with_reinvite_silences_and_resumes(alice, peer, recorder, tmp_path):
    c = PeerCall(peer, recorder, tmp_path, "hold", codecs=["PCMU"])
    t0 = c.m.record_started
    time.sleep(1.5)
    marks = [("sendrecv", t0)]
    sent = {}                   # RTP packets alice sent in each phase
    for direction in ("sendonly", "inactive", "sendrecv"):
        marks.append((direction, c.reinvite(direction)))
        ev = peer.expect("direction", id=c.id)
        assert ev["direction"] == {"sendonly": "recvonly"}.get(direction, direction)
        before = c.m.audio.statistics["tx_packets"]
        time.sleep(1.5)
        sent[direction] = c.m.audio.statistics["tx_packets"] - before
    c.hangup()
    assert sent["sendonly"] > 50 and sent["sendrecv"] > 50 and sent["inactive"] <= 2, sent
    ends = [t for _, t in marks[1:]] + [c.ended]
    for (direction, start), end in zip(marks, ends):
        a = c.heard("alice", start - t0 + 0.4, end - t0 - 0.1)
        p = c.heard("peer", start - c.peer_media["t"] + 0.4, end - c.peer_media["t"] - 0.1)
        if direction == "sendrecv":
            assert_hears(a, PEER, ME), direction
            assert_hears(p, ME, PEER), direction
        elif direction == "sendonly":                  # alice holds: she no longer hears
            assert_silent(a)
            assert_hears(p, ME, PEER)                   # the peer (recvonly) still hears her
        else:
            assert_silent(a)
            assert_silent(p)


def test_srtp_forced_against_peer_without_srtp_is_488(alice, peer, recorder, tmp_path):
    c = PeerCall(peer, recorder, tmp_path, "forced", codecs=["PCMU"], srtp="forced",
                 peer_srtp="off", expect_media=False)
    n = wait_state(recorder, c.inv, "DISCONNECTED")
    assert n.data.code == 488, n.data
    assert "rejected" in peer.expect("media_failed", id=c.id)["error"]   # no stream there
    assert not c.m.audio.is_started and c.m.audio.statistics is None
    assert not c.m.rtp.srtp_active
    # and the other way: the peer forces, this process has no SRTP
    assert peer.set_media(codecs=["PCMU"], srtp="forced", tone=PEER)["srtp"] == "forced"
    m = CallMedia(codecs=["PCMU"])
    port = peer.ready["udp"]
    offer = m.offer()
    inv = Invitation(Credentials(SIPURI("127.0.0.1", user="alice")),
                     SIPURI("127.0.0.1", user="bob", port=port), Route("127.0.0.1", port, "udp"))
    inv.set_offered_local_sdp(offer)
    inv.send_invite()
    cid = peer.expect("call_state", state="INCOMING")["id"]
    assert "SRTP" in peer.expect("media_failed", id=cid)["error"]
    assert wait_state(recorder, inv, "DISCONNECTED").data.code == 488
    assert not m.audio.is_started
    m.stop()


def test_srtp_optional_against_peer_without_srtp_is_plain_rtp(alice, peer, recorder,
                                                              tmp_path):
    c = PeerCall(peer, recorder, tmp_path, "optional", codecs=["PCMA"], srtp="optional",
                 peer_srtp="off")
    assert any(a.name == "crypto" for a in c.offer.media[0].attributes)   # offered
    assert c.offer.media[0].transport == "RTP/AVP"
    assert not c.m.rtp.srtp_active and c.peer_media["srtp_active"] is False
    time.sleep(1.5)
    c.hangup()
    assert_hears(c.heard("alice"), PEER, ME)
    assert_hears(c.heard("peer"), ME, PEER)


THIRD = 1600


def test_peer_offers_and_bridges_its_two_calls(alice, peer, recorder, tmp_path):
    """The peer as the offerer (its ``call`` with media), its ``conference`` command, its
    ``stop_media`` and its errors: the peer calls this process twice with both calls in its
    conference and no tone of its own; this process answers each (the spec's answerer
    scenario, CallMedia.answer) playing 440 Hz into call 1 and 1600 Hz into call 2.  Through
    the peer's bridge each call hears the other's tone; once call 2 leaves the peer's
    conference, call 1 hears nothing and so does call 2."""
    from test_invitation_helpers import incoming_calls
    answered = []

    def answer(inv):
        n = len(answered)
        m = CallMedia(codecs=["PCMU"], tone=[ME, THIRD][n],
                      record=str(tmp_path / f"alice-{n}.wav"), workdir=str(tmp_path))
        inv.set_offered_local_sdp(m.answer(inv.get_offered_remote_sdp()))
        inv.accept_invite()
        answered.append((inv, m))

    to = f"sip:alice@127.0.0.1:{alice.local_udp_port}"
    media = {"codecs": ["PCMU"], "conference": True}
    with incoming_calls(answer):
        for cid in ("o1", "o2"):
            peer.command("call", id=cid, to=to, route=["127.0.0.1", alice.local_udp_port, "udp"],
                         media=media)
            started = peer.expect("media_started", id=cid)      # the offerer's start()
            assert started["codec"] == "PCMU" and started["record"] is None
    t_both = time.time()
    time.sleep(1.5)
    peer.command("conference", id="o2", join=False)
    peer.command("stop_media", id="nothing")                    # no such call: an error
    assert "stop_media: no call with id 'nothing'" in peer.expect("error")["error"]
    time.sleep(0.3)
    t_out = time.time()
    time.sleep(1.5)
    peer.command("stop_media", id="o1")
    assert peer.expect("media_stopped", id="o1")["stats"]["tx_packets"] > 100
    peer.command("dtmf", id="o1", digits="1")                   # its media are gone
    assert "no media" in peer.expect("error")["error"]
    peer.command("media", bogus=1)                              # refused, settings kept
    assert "bogus" in peer.expect("media_settings")["error"]
    peer.command("dtmf", id="o9", digits="1")
    with pytest.raises(TimeoutError, match="reported meanwhile: ValueError: dtmf: no call"):
        peer.expect("dtmf", timeout=0.5)                        # the skipped error is named
    for cid in ("o1", "o2"):
        peer.command("hangup", id=cid)
    for inv, m in answered:
        wait_state(recorder, inv, "DISCONNECTED")
        m.stop()
    (inv1, m1), (inv2, m2) = answered
    one = tones.levels(m1.record_path, [ME, THIRD], start=t_both - m1.record_started + 0.5,
                       end=t_out - m1.record_started - 0.4)
    two = tones.levels(m2.record_path, [ME, THIRD], start=t_both - m2.record_started + 0.5,
                       end=t_out - m2.record_started - 0.4)
    assert_hears(one, THIRD, ME)           # call 1 hears call 2 through the peer's bridge
    assert_hears(two, ME, THIRD)
    for m in (m1, m2):
        assert_silent(tones.levels(m.record_path, [ME, THIRD], start=t_out - m.record_started
                                   + 0.3, end=t_out - m.record_started + 1.4))
    assert peer.exceptions == []


@pytest.mark.parametrize("bad, kind, named", [
    ({"sprt": "forced"}, ValueError, "unknown media settings ['sprt']"),
    ({"srtp": "mandatory"}, ValueError, "srtp must be one of off, optional, forced"),
    ({"codecs": ["PCMX"]}, ValueError, "'PCMX' is not an available codec"),
    ({"codecs": "PCMU"}, TypeError, "codecs must be a list"),
    ({"tone": "loud"}, TypeError, "tone must be a number"),
    ({"tone": 8000}, ValueError, "tone must be above 0 and below 8000 Hz"),
    ({"record": "/tmp/{call}.wav"}, ValueError, "record:"),
    ({"conference": "yes"}, TypeError, "conference must be a bool"),
    ({"use_ice": 1}, TypeError, "use_ice must be a bool"),
    ({"ice_stun_address": "stun.example"}, ValueError, "ice_stun_address must be an IPv4"),
    ({"ice_stun_port": 0}, ValueError, "ice_stun_port must be in 1..65535"),
    ({"play": "/nonexistent/x.wav"}, ValueError, "play: no such file"),
    ({"audio": False, "tone": 440}, ValueError, "audio false takes no other media setting"),
])
def test_bad_media_settings_are_refused_when_set_and_change_nothing(peer, bad, kind, named):
    """A typo or a bad value in set_media() is told by set_media() itself, at once, naming the
    setting (it used to wait 10 s for an answer that never came, or pass unchecked to fail the
    first call); the peer keeps the settings it had."""
    good = {"codecs": ["PCMU"], "tone": PEER}
    assert peer.set_media(**good) == good
    t0 = time.monotonic()
    with pytest.raises(kind) as info:
        peer.set_media(**bad)
    assert named in str(info.value)
    assert time.monotonic() - t0 < 5
    peer.command("media", **bad)                       # the child's own answer, raw
    ev = peer.expect("media_settings")
    assert ev["settings"] == good and ev["error"].startswith(kind.__name__ + ": ")
    assert peer.exceptions == []
