"""RTPTransport + AudioTransport end to end between two transports of one Engine on loopback
(real RTP through the media worker): SDP offer/answer with SDPSession in both scenarios of the
spec, audio per codec proven on the recordings (each side plays its own tone and must hear only
the other's), DTMF both ways, direction (hold), silence detection, SRTP forced / optional /
refused, and the RTP statistics.

Each stream is clocked by the Engine's audio bridge through sipcore's pairwise connections,
as a softphone wires one call: a WaveFile plays its tone into that stream alone
(``start(destination=...)``) and a RecordingWaveFile records what that stream alone decodes
(``start(source=...)``); both streams share one bridge and never hear each other there.
"""
from __future__ import annotations

import time

import pytest

from sipcore import (AudioTransport, InvalidStateError, PJSIPError, RecordingWaveFile,
                     RTPTransport, SDPSession, SIPCoreError, WaveFile, signals)
from sipcore.media import tones

TONE_A, TONE_B = 440, 1000      # what A plays, what B plays


@pytest.fixture
def engine(engine_factory):
    return engine_factory(local_tcp_port=None)


def session(media, address="127.0.0.1") -> SDPSession:
    return SDPSession(address, media=[media])


class Pair:
    """A (offerer) and B (answerer) negotiated as the spec's two scenarios describe."""

    def __init__(self, a_rtp=None, b_rtp=None, a_kw=None, b_kw=None, direction="sendrecv"):
        self.a_rtp = a_rtp or RTPTransport()
        self.b_rtp = b_rtp or RTPTransport()
        self.a_rtp.set_INIT()
        self.b_rtp.set_INIT()
        # scenario 1 (offerer): local media, set_LOCAL (may add SRTP), offer out
        self.a = AudioTransport(self.a_rtp, **(a_kw or {}))
        self.offer = session(self.a.get_local_media(is_offer=True, direction=direction))
        self.a_rtp.set_LOCAL(self.offer, 0)
        # scenario 2 (answerer): the stream starts with the offer; answer, set_ESTABLISHED
        self.b = AudioTransport(self.b_rtp, self.offer, 0, **(b_kw or {}))
        self.answer = session(self.b.get_local_media(is_offer=False))
        self.b_rtp.set_ESTABLISHED(self.answer, self.offer, 0)
        # back at the offerer: start() (its transport is LOCAL: set_ESTABLISHED is done too)
        self.a.start(self.offer, self.answer, 0)
        self.files = []         # the players and recorders (dropping one stops it)

    def clock(self, tmp_path, a_tone=None, b_tone=None):
        """Put both streams on the audio bridge, pairwise: each records what it hears into
        ``{a,b}-heard.wav`` (and plays its tone, if given, into itself alone); from then on
        they send (silence without a tone) every 20 ms."""
        for name, t, tone in (("a", self.a, a_tone), ("b", self.b, b_tone)):
            if tone:
                player = WaveFile(tones.write_tone(str(tmp_path / f"{name}.wav"), tone,
                                                   seconds=1.0, sample_rate=t._port_rate))
                player.start(loop_count=0, destination=t)
                self.files.append(player)
            recorder = RecordingWaveFile(str(tmp_path / f"{name}-heard.wav"))
            recorder.start(source=t)
            self.files.append(recorder)

    def play(self, tmp_path, seconds=3.0, a_tone=TONE_A, b_tone=TONE_B):
        """Each side plays its tone and records what it hears for ``seconds``."""
        self.clock(tmp_path, a_tone, b_tone)
        time.sleep(seconds)

    def stop(self):
        for f in self.files:     # the recordings are complete
            f.stop()
        self.a.stop()
        self.b.stop()


def heard(tmp_path, name, start=0.5, end=None):
    return tones.levels(str(tmp_path / f"{name}-heard.wav"), [TONE_A, TONE_B], start=start,
                        end=end)


def assert_hears(levels, tone, other, margin=10.0):
    assert levels[tone] - levels[other] >= margin, levels
    assert levels[tone] > -30, levels


CODECS = ["PCMU", "PCMA", "G722", "GSM", "opus", "speex"]


# make test: four cases, so that with the peer-process and baresip tests every codec (PCMU,
# PCMA, G722, GSM, opus, speex) is heard in make test (those are in
# test_audio_sipcore_peer.py / test_audio_baresip.py); the whole matrix: make test-long
SHORT = {("opus", True), ("GSM", False), ("PCMA", False), ("PCMU", True)}


@pytest.mark.parametrize("codec,srtp", [
    pytest.param(c, s, id=f"{c}-{'srtp' if s else 'rtp'}",
                 marks=() if (c, s) in SHORT else pytest.mark.long)
    for c in CODECS for s in (False, True)])
def test_audio_both_ways_on_the_recordings(engine, tmp_path, codec, srtp):
    kw = {"codecs": [codec], "enable_silence_detection": False}
    p = Pair(RTPTransport(use_srtp=srtp, srtp_forced=srtp), RTPTransport(use_srtp=srtp),
             a_kw=kw, b_kw=kw)
    assert p.a.codec.lower() == p.b.codec.lower() == codec.lower()
    assert p.a_rtp.srtp_active is srtp and p.b_rtp.srtp_active is srtp
    if srtp:
        assert p.offer.media[0].transport == "RTP/SAVP"
        assert any(a.name == "crypto" for a in p.offer.media[0].attributes)
        assert any(a.name == "crypto" for a in p.answer.media[0].attributes)
    p.play(tmp_path, seconds=2.5)
    stats = p.a.statistics, p.b.statistics
    p.stop()
    assert_hears(heard(tmp_path, "a"), TONE_B, TONE_A)      # A hears B's tone, not its own
    assert_hears(heard(tmp_path, "b"), TONE_A, TONE_B)
    for st in stats:
        assert st["tx_packets"] >= 100 and st["rx_packets"] >= 100, st
        assert st["rx_lost"] == 0, st


def test_codec_sample_rate_direction_and_addresses(engine, tmp_path):
    p = Pair(a_kw={"codecs": ["g722", "PCMU"]})       # case-insensitive, this order
    assert (p.a.codec, p.a.sample_rate, p.a.direction) == ("G722", 16000, "sendrecv")
    assert p.a.is_started and p.a.is_active and p.b.is_started and p.b.is_active
    assert p.a.codecs == ["G722", "PCMU"] and p.b.codecs is None
    formats = p.offer.media[0].formats
    rtpmap = {a.value.split()[0]: a.value.split()[1] for a in p.offer.media[0].attributes
              if a.name == "rtpmap"}
    assert [rtpmap.get(f, f).split("/")[0] for f in formats if "telephone" not in rtpmap.get(f, "")] \
        == ["G722", "PCMU"]
    assert p.a_rtp.state == p.b_rtp.state == "ESTABLISHED"
    assert p.a_rtp.remote_rtp_address_sdp == "127.0.0.1"
    assert p.a_rtp.remote_rtp_port_sdp == p.b_rtp.local_rtp_port
    assert p.b_rtp.remote_rtp_port_sdp == p.a_rtp.local_rtp_port
    assert p.a_rtp.remote_rtp_address_received is None     # nothing clocked yet: nothing sent
    p.clock(tmp_path)
    deadline = time.monotonic() + 5
    while p.b_rtp.remote_rtp_port_received is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert p.b_rtp.remote_rtp_address_received == "127.0.0.1"
    assert p.b_rtp.remote_rtp_port_received == p.a_rtp.local_rtp_port
    p.stop()
    assert p.a.is_started and not p.a.is_active and p.a._port is None
    assert p.a.statistics is None


def _dtmf_one_way(sender, receiver, digits):
    got = []

    def on_dtmf(s, **data):
        if s is receiver:
            got.append(data["digit"])
    signals.RTPAudioTransportGotDTMF.connect(on_dtmf)
    try:
        for d in digits:
            sender.send_dtmf(d)
        deadline = time.monotonic() + 2 + 0.4 * len(digits)
        while len(got) < len(digits) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)     # and no more than once each
    finally:
        signals.RTPAudioTransportGotDTMF.disconnect(on_dtmf)
    return "".join(got)


def test_dtmf_all_sixteen_digits_each_way_once_in_order(engine, tmp_path):
    p = Pair(a_kw={"codecs": ["PCMU"]})
    p.clock(tmp_path)
    digits = "0123456789*#ABCD"
    assert _dtmf_one_way(p.a, p.b, digits) == digits
    assert _dtmf_one_way(p.b, p.a, digits[::-1]) == digits[::-1]
    p.stop()


def test_dtmf_wrong_digits_and_states(engine):
    p = Pair()
    for bad in ("E", "1 ", "", "12", "a", "#*"):
        with pytest.raises(ValueError, match="digit"):
            p.a.send_dtmf(bad)
    with pytest.raises(TypeError, match="digit"):
        p.a.send_dtmf(1)
    t = AudioTransport(RTPTransport())
    with pytest.raises(InvalidStateError, match="not started"):
        t.send_dtmf("1")
    p.stop()
    with pytest.raises(InvalidStateError, match="stopped"):
        p.a.send_dtmf("1")


@pytest.mark.parametrize("direction,a_hears_b,b_hears_a", [
    ("sendonly", False, True), ("recvonly", True, False), ("inactive", False, False)])
def test_update_direction_silences_and_sendrecv_restores(engine, tmp_path, direction,
                                                          a_hears_b, b_hears_a):
    p = Pair(a_kw={"codecs": ["PCMU"], "enable_silence_detection": False})
    p.a.update_direction(direction)
    assert p.a.direction == direction
    p.play(tmp_path, seconds=2.0)
    p.a.update_direction("sendrecv")
    time.sleep(1.5)
    p.stop()
    a = heard(tmp_path, "a", start=0.5, end=2.0)
    b = heard(tmp_path, "b", start=0.5, end=2.0)
    assert (a[TONE_B] > -30) is a_hears_b, a
    assert (b[TONE_A] > -30) is b_hears_a, b
    # back to sendrecv: both directions carry the tones again (the end of the recordings)
    assert_hears(heard(tmp_path, "a", start=2.6), TONE_B, TONE_A)
    assert_hears(heard(tmp_path, "b", start=2.6), TONE_A, TONE_B)


def test_update_direction_arguments(engine):
    p = Pair()
    with pytest.raises(ValueError, match="direction"):
        p.a.update_direction("hold")
    with pytest.raises(TypeError, match="direction"):
        p.a.update_direction(None)
    with pytest.raises(ValueError, match="direction"):
        p.a.get_local_media(True, "both")
    m = p.a.get_local_media(True, "sendonly")
    assert m.get_direction() == "sendonly"
    p.stop()


def test_silence_detection_sends_almost_nothing_on_silence(engine, tmp_path):
    counts = {}
    for vad in (True, False):
        p = Pair(a_kw={"codecs": ["PCMU"], "enable_silence_detection": vad})
        p.clock(tmp_path)           # plays silence
        time.sleep(1.0)             # pjmedia sends the first 600 ms whatever the VAD says
        first = p.a.statistics["tx_packets"]
        time.sleep(2.0)
        counts[vad] = p.a.statistics["tx_packets"] - first
        p.stop()
    assert counts[False] >= 90, counts           # 50 packets a second
    assert counts[True] <= 5, counts


def test_srtp_forced_against_plain_answerer_fails_cleanly(engine):
    a_rtp, b_rtp = RTPTransport(use_srtp=True, srtp_forced=True), RTPTransport()
    a_rtp.set_INIT(), b_rtp.set_INIT()
    a = AudioTransport(a_rtp)
    offer = session(a.get_local_media(True))
    a_rtp.set_LOCAL(offer, 0)
    assert offer.media[0].transport == "RTP/SAVP"
    # a plain answerer has no RTP/SAVP: the stream is rejected, nothing runs
    with pytest.raises(SIPCoreError, match="rejected"):
        AudioTransport(b_rtp, offer, 0)
    # what it answers instead (port 0, RTP/AVP) fails the offerer's start() cleanly too
    rejected = session(AudioTransport(RTPTransport()).get_local_media(False))
    rejected.media[0].port = 0
    with pytest.raises(SIPCoreError):
        a.start(offer, rejected, 0)
    assert not a.is_started and a_rtp.state == "LOCAL" and not a_rtp.srtp_active
    a_rtp.set_INIT()
    assert a_rtp.state == "INIT"


def test_srtp_forced_answerer_refuses_a_plain_offer(engine):
    a_rtp, b_rtp = RTPTransport(), RTPTransport(use_srtp=True, srtp_forced=True)
    a_rtp.set_INIT(), b_rtp.set_INIT()
    a = AudioTransport(a_rtp)
    offer = session(a.get_local_media(True))
    a_rtp.set_LOCAL(offer, 0)
    with pytest.raises(SIPCoreError, match="SRTP"):
        AudioTransport(b_rtp, offer, 0)
    assert b_rtp.state == "INIT" and not b_rtp.srtp_active


def test_srtp_optional_against_plain_is_plain_rtp(engine, tmp_path):
    kw = {"codecs": ["PCMU"], "enable_silence_detection": False}
    for a_rtp, b_rtp in ((RTPTransport(use_srtp=True), RTPTransport()),
                         (RTPTransport(), RTPTransport(use_srtp=True))):
        p = Pair(a_rtp, b_rtp, a_kw=kw, b_kw=kw)
        assert p.answer.media[0].transport == "RTP/AVP"
        assert not any(a.name == "crypto" for a in p.answer.media[0].attributes)
        p.play(tmp_path, seconds=1.5)
        p.stop()
        assert not p.a_rtp.srtp_active and not p.b_rtp.srtp_active
        assert_hears(heard(tmp_path, "a"), TONE_B, TONE_A)
        assert_hears(heard(tmp_path, "b"), TONE_A, TONE_B)


def test_transport_reused_after_stop_and_set_init(engine, tmp_path):
    p = Pair(a_kw={"codecs": ["PCMU"], "enable_silence_detection": False},
             b_kw={"enable_silence_detection": False})
    port = p.a_rtp.local_rtp_port
    with pytest.raises(InvalidStateError, match="AudioTransport is using"):
        p.a_rtp.set_INIT()
    with pytest.raises(InvalidStateError, match="another started AudioTransport"):
        AudioTransport(p.a_rtp)
    p.stop()
    with pytest.raises(InvalidStateError, match="stopped"):
        p.a.start(p.offer, p.answer, 0)
    q = Pair(p.a_rtp, p.b_rtp, a_kw={"codecs": ["PCMA"], "enable_silence_detection": False},
             b_kw={"enable_silence_detection": False})
    assert q.a_rtp.local_rtp_port == port and q.a.codec == "PCMA"
    q.play(tmp_path, seconds=1.5)
    q.stop()
    assert_hears(heard(tmp_path, "b"), TONE_A, TONE_B)


def test_engine_stop_with_live_streams_reports_no_exception(engine_factory, recorder):
    """Engine.stop() ends what primitives hold on servers first; the media objects (in the
    UA's primitives too) hold nothing there and must not make that step fail."""
    e = engine_factory(local_tcp_port=None)
    p = Pair(a_kw={"codecs": ["PCMU"]})
    e.stop()
    assert not p.a.is_active and not p.b.is_active
    assert recorder.all("SIPEngineGotException") == [], \
        [n.data for n in recorder.all("SIPEngineGotException")]
