"""Self-tests of the media peers: coturn as a STUN server (with the second address and
alternate port NAT-type detection needs), the black-hole STUN address, and baresip's media
options proven by a baresip <-> baresip call whose recordings are measured.

Run:  .venv/bin/python -m pytest -q tests/peers/test_peers_media.py
(imports ``sipcore.media.tones``, pure Python, for the measure).  A peer that is not installed
is a failure, never a skip.
"""
from __future__ import annotations

import socket
import time

import pytest

from .coturn import BlackHole, Coturn, stun_binding


# coturn: the sipcore pytest plugin's fixture (a started Coturn in the test's own folder)


def test_coturn_answers_binding_and_change_request(coturn):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    me = s.getsockname()
    try:
        # plain Binding: answered from the primary address, XOR-MAPPED-ADDRESS is us
        assert stun_binding(coturn.host, coturn.port, sock=s) == (me, (coturn.host, coturn.port))
        # CHANGE-REQUEST (what pj_stun_detect_nat_type sends): answered from the other
        # address and/or port -- needs the second listening address and alt port
        assert stun_binding(coturn.host, coturn.port, sock=s, change_ip=True,
                            change_port=True) == (me, (coturn.alt_host, coturn.alt_port))
        assert stun_binding(coturn.host, coturn.port, sock=s,
                            change_port=True) == (me, (coturn.host, coturn.alt_port))
    finally:
        s.close()


def test_coturn_stops_and_frees_its_ports(tmp_path):
    c = Coturn(workdir=tmp_path / "c")
    with c:
        pid = c.proc.pid
        assert stun_binding(c.host, c.port) is not None
    assert c.proc is None
    assert stun_binding(c.host, c.port, 0.3) is None
    with pytest.raises(ProcessLookupError):
        import os
        os.kill(pid, 0)


def test_black_hole_reads_and_never_answers():
    with BlackHole() as hole:
        t0 = time.monotonic()
        assert stun_binding(hole.host, hole.port, 0.5) is None
        assert time.monotonic() - t0 >= 0.5
        deadline = time.monotonic() + 2
        while hole.received() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hole.received() == 1


# ---------------------------------------------------------------- baresip media
from sipcore.media import tones  # noqa: E402

from .baresip import Baresip  # noqa: E402

TONE = {"alice": 700.0, "bob": 1300.0}
REFERENCE = (400.0, 1000.0, 2000.0)   # frequencies neither side plays


def _call_and_measure(tmp_path, codec, rate, expect_decoder, **media):
    """alice dials bob (auto-answer); each plays its tone from a WAV (aufile) and records what
    it hears (sndfile); alice sends DTMF.  Returns {name: (recording, levels)} and the digits
    bob received."""
    peers = {}
    for name in TONE:
        tones.write_tone(str(tmp_path / f"{name}.wav"), TONE[name], seconds=30,
                         sample_rate=rate)
    with Baresip("alice", audio_codecs=[codec], audio_file=tmp_path / "alice.wav",
                 record_dir=tmp_path / "alice-rec", sip_trace=False,
                 workdir=tmp_path / "alice", **media) as a, \
         Baresip("bob", audio_codecs=[codec], audio_file=tmp_path / "bob.wav",
                 record_dir=tmp_path / "bob-rec", auto_answer=True, sip_trace=False,
                 workdir=tmp_path / "bob", **media) as b:
        a.dial(b.contact_uri)
        a.wait_for_event("CALL_ESTABLISHED", 15)
        b.wait_for_event("CALL_ESTABLISHED", 15)
        time.sleep(1.0)
        n = len(b.events)
        a.send_dtmf("159#*D")
        digits = b.wait_for_dtmf("159#*D", 10, since=n)
        time.sleep(1.0)
        a.hangup()
        b.wait_for_event("CALL_CLOSED", 10)
        a.wait_for_event("CALL_CLOSED", 10)
        for peer in (a, b):
            assert peer.audio_decoders() == [expect_decoder]
            assert ("SRTP is Enabled" in peer.output()) == bool(media.get("mediaenc"))
        peers = {"alice": a.recordings(), "bob": b.recordings()}
    out = {}
    for name, recs in peers.items():
        assert len(recs) == 1, recs
        out[name] = (recs[0], tones.levels(str(recs[0]), [*TONE.values(), *REFERENCE],
                                           start=0.5))
    return out, digits


@pytest.mark.parametrize("codec,rate,decoder,mediaenc", [      # make test: SRTP PCMU
    pytest.param("PCMU", 8000, "PCMU/8000/1", None, marks=pytest.mark.long),
    pytest.param("G722", 16000, "G722/16000/1", None, marks=pytest.mark.long),
    ("PCMU", 8000, "PCMU/8000/1", "srtp-mand"),
    pytest.param("PCMA", 8000, "PCMA/8000/1", None, marks=pytest.mark.long),
    pytest.param("GSM", 8000, "GSM/8000/1", None, marks=pytest.mark.long),
    pytest.param("opus", 48000, "opus/48000/2", None, marks=pytest.mark.long),
])
def test_baresip_to_baresip_audio_and_dtmf(tmp_path, codec, rate, decoder, mediaenc):
    rec, digits = _call_and_measure(tmp_path, codec, rate, decoder, mediaenc=mediaenc)
    for me, other in (("alice", "bob"), ("bob", "alice")):
        path, lv = rec[me]
        heard = lv[TONE[other]]
        assert heard > -30, (me, path, lv)
        for f in (TONE[me], *REFERENCE):
            assert heard - lv[f] >= 10, (me, f, lv)
    assert digits == "159#*D"


def test_baresip_srtp_mandatory_refuses_plain_and_ice_offers_candidates(tmp_path):
    """``mediaenc="srtp-mand"`` answers a plain RTP offer with 488; ``ice=True`` puts ufrag,
    pwd and candidates in the offer (the call is refused before any connectivity check:
    baresip's ICE gathers every interface, not only loopback)."""
    with Baresip("alice", mediaenc="srtp-mand", auto_answer=True, workdir=tmp_path / "a") as a, \
         Baresip("bob", ice=True, workdir=tmp_path / "b") as b:
        b.dial(a.contact_uri)
        closed = b.wait_for_event("CALL_CLOSED", 10)
        assert closed["param"].startswith("488")
        assert not any(e["type"] == "CALL_ESTABLISHED" for e in a.events + b.events)
        offer = b.output()
        for line in ("a=ice-ufrag:", "a=ice-pwd:", "a=candidate:"):
            assert line in offer
