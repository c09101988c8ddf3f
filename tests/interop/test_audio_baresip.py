"""RTPTransport + AudioTransport against baresip 1.0.0 through a real INVITE (Invitation):
SDES-SRTP forced against ``mediaenc=srtp-mand`` (srtp_active, audio both ways on the
recordings), forced against a baresip without SRTP (the negotiation fails cleanly: baresip
answers 488, no stream runs), DTMF both ways (16 digits each way, once, in order).

baresip plays its ``ausine`` 440 Hz source and records what it decodes with ``sndfile``
(``*-dec.wav``); sipcore plays 1000 Hz into its stream and records what it hears (a WaveFile
and a RecordingWaveFile connected pairwise to the stream on the audio bridge).  The peers helper grows these options on
another branch; here a small subclass adds the two modules and the account parameter.
"""
from __future__ import annotations

import glob
import shutil
import time

import pytest

from peers.baresip import Baresip
from test_invitation_helpers import wait_state
from sipcore import (AudioTransport, Credentials, Invitation, RecordingWaveFile, RTPTransport,
                     Route, SDPSession, SIPURI, WaveFile, signals)
from sipcore.media import tones
from sipcore.peer import CallMedia

SIPCORE_TONE, BARESIP_TONE = 1000, 440


class MediaBaresip(Baresip):
    """baresip with SRTP, the sndfile recorder (into ``confdir``) and G.711 only."""

    def __init__(self, *args, mediaenc: str | None = None, **kw):
        if mediaenc:
            kw["extra_account_params"] = f"mediaenc={mediaenc}"
        kw.setdefault("auto_answer", True)
        super().__init__(*args, **kw)

    def _write_config(self):
        super()._write_config()
        cfg = self.confdir / "config"
        cfg.write_text(cfg.read_text() + "module\t\t\tsrtp.so\nmodule\t\t\tsndfile.so\n"
                       f"snd_path\t\t{self.confdir}\naudio_codecs\t\tPCMU\n")

    def recording(self) -> str:
        found = glob.glob(str(self.confdir / "*-dec.wav"))
        assert found, self.output()[-2000:]
        return found[0]

    def dtmf_received(self) -> str:
        self.command("listcalls")       # reads the events queued meanwhile
        return "".join(e.get("param", "") for e in self.events
                       if e.get("type") == "CALL_DTMF_START")


def call(bob: Baresip, rtp: RTPTransport, recorder):
    """sipcore offers (the offerer's scenario of RTPTransport and AudioTransport) to bob."""
    rtp.set_INIT()
    audio = AudioTransport(rtp, codecs=["PCMU"], enable_silence_detection=False)
    offer = SDPSession("127.0.0.1", media=[audio.get_local_media(is_offer=True)])
    rtp.set_LOCAL(offer, 0)
    inv = Invitation(Credentials(SIPURI("127.0.0.1", user="alice")),
                     SIPURI("127.0.0.1", user=bob.user, port=bob.sip_port),
                     Route("127.0.0.1", bob.sip_port))
    inv.set_offered_local_sdp(offer)
    inv.send_invite()
    return inv, audio


def test_srtp_forced_against_srtp_mand_audio_and_dtmf_both_ways(engine_factory, recorder,
                                                                  tmp_path):
    engine_factory()
    with MediaBaresip("bob", mediaenc="srtp-mand") as bob:
        rtp = RTPTransport(use_srtp=True, srtp_forced=True)
        inv, audio = call(bob, rtp, recorder)
        wait_state(recorder, inv, "CONFIRMED", timeout=15)
        local, remote = inv.get_active_local_sdp(), inv.get_active_remote_sdp()
        assert remote.media[0].transport == "RTP/SAVP"
        audio.start(local, remote, 0)
        assert rtp.state == "ESTABLISHED" and rtp.srtp_active
        player = WaveFile(tones.write_tone(str(tmp_path / "sipcore.wav"), SIPCORE_TONE,
                                           seconds=1.0, sample_rate=16000))
        player.start(loop_count=0, destination=audio)
        mine = RecordingWaveFile(str(tmp_path / "sipcore-heard.wav"))
        mine.start(source=audio)
        time.sleep(2.5)

        digits = "0123456789*#ABCD"
        for d in digits:                        # sipcore -> baresip
            audio.send_dtmf(d)
        deadline = time.monotonic() + 15
        while len(bob.dtmf_received()) < len(digits) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        assert bob.dtmf_received() == digits

        got = []
        signals.RTPAudioTransportGotDTMF.connect(
            lambda s, **d: got.append(d["digit"]) if s is audio else None, weak=False)
        for d in digits:                        # baresip -> sipcore
            bob.command("sndcode", d)
            time.sleep(0.25)
        deadline = time.monotonic() + 10
        while len(got) < len(digits) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        assert "".join(got) == digits
        stats = audio.statistics
        assert rtp.remote_rtp_port_received == rtp.remote_rtp_port_sdp
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")
        player.stop()
        mine.stop()
        audio.stop()
        time.sleep(0.5)                         # baresip closes its recording
        theirs = str(tmp_path / "baresip-heard.wav")
        shutil.copy(bob.recording(), theirs)    # (its folder goes with it)
    assert stats["rx_packets"] > 100 and stats["tx_packets"] > 100 and stats["rx_lost"] == 0
    heard = tones.levels(str(tmp_path / "sipcore-heard.wav"), [BARESIP_TONE, SIPCORE_TONE],
                         start=0.5, end=2.5)
    assert heard[BARESIP_TONE] - heard[SIPCORE_TONE] >= 10 and heard[BARESIP_TONE] > -40, heard
    theirs = tones.levels(theirs, [SIPCORE_TONE, BARESIP_TONE], start=0.5, end=2.5)
    assert theirs[SIPCORE_TONE] - theirs[BARESIP_TONE] >= 10 and theirs[SIPCORE_TONE] > -40, theirs


def test_srtp_forced_against_baresip_without_srtp_fails_cleanly(engine_factory, recorder):
    engine_factory()
    with MediaBaresip("bob") as bob:
        rtp = RTPTransport(use_srtp=True, srtp_forced=True)
        inv, audio = call(bob, rtp, recorder)
        n = wait_state(recorder, inv, "DISCONNECTED", timeout=15)
        assert n.data.code == 488, n.data
        assert not audio.is_started and audio.statistics is None
        assert rtp.state == "LOCAL" and not rtp.srtp_active
        rtp.set_INIT()                          # re-usable
        assert rtp.state == "INIT"


def test_srtp_optional_against_baresip_without_srtp_is_plain_rtp(engine_factory, recorder,
                                                                   tmp_path):
    engine_factory()
    with MediaBaresip("bob") as bob:
        rtp = RTPTransport(use_srtp=True)
        inv, audio = call(bob, rtp, recorder)
        wait_state(recorder, inv, "CONFIRMED", timeout=15)
        audio.start(inv.get_active_local_sdp(), inv.get_active_remote_sdp(), 0)
        assert not rtp.srtp_active
        mine = RecordingWaveFile(str(tmp_path / "sipcore-heard.wav"))
        mine.start(source=audio)
        time.sleep(2.0)
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")
        mine.stop()
        audio.stop()
    heard = tones.levels(str(tmp_path / "sipcore-heard.wav"), [BARESIP_TONE, SIPCORE_TONE],
                         start=0.5)
    assert heard[BARESIP_TONE] - heard[SIPCORE_TONE] >= 10 and heard[BARESIP_TONE] > -40, heard


# ---- every codec both ends have, SRTP off and forced (sipcore.peer.CallMedia on our side) ----

BARESIP_CODECS = ["PCMU", "PCMA", "G722", "GSM", "opus"]


def media_baresip(baresip_factory, tmp_path, srtp: str):
    """A baresip with every codec of the matrix, recording each call, SRTP required
    (``srtp-mand``) when ``srtp`` is "forced", without SRTP when "off"."""
    return baresip_factory("bob", audio_codecs=BARESIP_CODECS, sip_trace=False,
                           record_dir=tmp_path / f"bob-{srtp}",
                           mediaenc="srtp-mand" if srtp == "forced" else None)


def codec_call(bob, recorder, tmp_path, codec: str, srtp: str, seconds: float = 2.0):
    """sipcore offers only ``codec`` (SRTP ``srtp``) to bob and plays SIPCORE_TONE; each
    recording holds the other side's tone, not its own."""
    mine = str(tmp_path / f"{codec}-{srtp}-sipcore-heard.wav")
    m = CallMedia(codecs=[codec], srtp=srtp, tone=SIPCORE_TONE, record=mine,
                  workdir=str(tmp_path))
    before = len(bob.recordings())
    inv = Invitation(Credentials(SIPURI("127.0.0.1", user="alice")),
                     SIPURI("127.0.0.1", user=bob.user, port=bob.sip_port),
                     Route("127.0.0.1", bob.sip_port))
    inv.set_offered_local_sdp(m.offer())
    inv.send_invite()
    n = recorder.wait_for("SIPInvitationGotSDPUpdate", timeout=15, sender=inv)
    assert n.data.succeeded, n.data
    m.negotiated(n.data.local_sdp, n.data.remote_sdp)
    assert m.audio.codec.lower() == codec.lower()
    assert m.rtp.srtp_active is (srtp == "forced")
    assert (n.data.remote_sdp.media[0].transport == "RTP/SAVP") is (srtp == "forced")
    time.sleep(seconds)
    stats = m.audio.statistics
    inv.disconnect()
    wait_state(recorder, inv, "DISCONNECTED")
    m.stop()
    deadline = time.monotonic() + 5
    while len(bob.recordings()) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)                               # baresip closes its file
    theirs = str(bob.recordings()[-1])
    assert bob.audio_decoders()[-1].lower().startswith(codec.lower()), bob.audio_decoders()
    assert stats["rx_packets"] > 40 and stats["tx_packets"] > 40, stats
    heard = tones.levels(mine, [BARESIP_TONE, SIPCORE_TONE], start=0.5)
    assert heard[BARESIP_TONE] - heard[SIPCORE_TONE] >= 10 and heard[BARESIP_TONE] > -35, \
        (codec, srtp, heard)
    duration = len(tones.read_wav(theirs)[0]) / tones.read_wav(theirs)[1]
    got = tones.levels(theirs, [SIPCORE_TONE, BARESIP_TONE], start=0.5, end=duration - 0.2)
    assert got[SIPCORE_TONE] - got[BARESIP_TONE] >= 10 and got[SIPCORE_TONE] > -35, \
        (codec, srtp, got)


def test_codecs_short_form(engine_factory, baresip_factory, recorder, tmp_path):
    """``make test``'s form of the matrix: G722 and opus (baresip spells them G722/16000 and
    opus/48000/2), SRTP off, two calls to one baresip (PCMU with SRTP: the test above)."""
    engine_factory(local_tcp_port=None)
    bob = media_baresip(baresip_factory, tmp_path, "off")
    for codec in ("G722", "opus"):
        codec_call(bob, recorder, tmp_path, codec, "off")


@pytest.mark.long
@pytest.mark.parametrize("srtp", ["off", "forced"])
def test_every_codec(engine_factory, baresip_factory, recorder, tmp_path, srtp):
    engine_factory(local_tcp_port=None)
    bob = media_baresip(baresip_factory, tmp_path, srtp)
    for codec in BARESIP_CODECS:
        codec_call(bob, recorder, tmp_path, codec, srtp)
