"""A three-party conference on this process's audio bridge with real streams: this process
(the host) calls a second sipcore process (``python -m sipcore peer``, plays 1000 Hz) and
baresip (plays its 440 Hz sine), connects both calls' AudioTransports to the bridge with
``Engine.connect_audio_transport`` and plays 1600 Hz into the conference (a WaveFile without a
destination).  Each remote's recording must hold the other two tones, each >= 10 dB above its
own; after ``disconnect_audio_transport`` of baresip's call, the peer still hears the host (and
no longer baresip) and baresip hears nothing: exactly one left."""
from __future__ import annotations

import time

from test_invitation_helpers import wait_state
from sipcore import Credentials, Engine, Invitation, Route, SIPURI, WaveFile
from sipcore.media import tones
from sipcore.peer import CallMedia

HOST, PEER, BARESIP = 1600, 1000, 440
ALL = [HOST, PEER, BARESIP]


def dial(recorder, port, user, tmp_path):
    """An Invitation to user@127.0.0.1:port with a CallMedia that joins the conference (no
    tone, no recording of its own); returns (inv, media) once the stream runs."""
    m = CallMedia(codecs=["PCMU"], conference=True, workdir=str(tmp_path))
    inv = Invitation(Credentials(SIPURI("127.0.0.1", user="host")),
                     SIPURI("127.0.0.1", user=user, port=port), Route("127.0.0.1", port))
    inv.set_offered_local_sdp(m.offer())
    inv.send_invite()
    n = recorder.wait_for("SIPInvitationGotSDPUpdate", timeout=15, sender=inv)
    assert n.data.succeeded, n.data
    m.negotiated(n.data.local_sdp, n.data.remote_sdp)
    return inv, m


def hears(levels, tones_heard, own):
    for t in tones_heard:
        assert levels[t] > -35 and levels[t] - levels[own] >= 10, (t, levels)


def test_three_party_conference_and_disconnect_one(engine_factory, sipcore_peer_factory,
                                                   baresip_factory, recorder, tmp_path):
    engine_factory(local_tcp_port=None)
    peer = sipcore_peer_factory("--answer", "auto")
    peer.set_media(codecs=["PCMU"], tone=PEER, record=str(tmp_path / "peer-{id}.wav"))
    carol = baresip_factory("carol", audio_codecs=["PCMU"], sip_trace=False,
                            record_dir=tmp_path / "carol")
    host_tone = WaveFile(tones.write_tone(str(tmp_path / "host.wav"), HOST, seconds=1.0,
                                          sample_rate=16000))
    host_tone.start(loop_count=0)                      # into the conference
    inv_p, m_p = dial(recorder, peer.ready["udp"], "bob", tmp_path)
    started = peer.expect("media_started", id=peer.expect("call_state", state="INCOMING")["id"])
    inv_c, m_c = dial(recorder, carol.sip_port, "carol", tmp_path)
    t_both = time.time()
    time.sleep(2.0)
    Engine().disconnect_audio_transport(m_c.audio)    # carol leaves, bob stays
    t_one = time.time()
    time.sleep(2.0)
    for inv in (inv_c, inv_p):
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")
    t_end = time.time()
    host_tone.stop()
    m_p.stop()
    m_c.stop()
    stopped = peer.expect("media_stopped", id=started["id"])
    deadline = time.monotonic() + 5
    while not carol.recordings() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)

    # the peer's recording: wall-clock windows from its start
    t0 = started["t"]
    bob_both = tones.levels(stopped["record"], ALL, start=t_both - t0 + 0.5, end=t_one - t0 - 0.1)
    bob_one = tones.levels(stopped["record"], ALL, start=t_one - t0 + 0.4, end=t_end - t0 - 0.2)
    hears(bob_both, [HOST, BARESIP], PEER)            # the other two, not itself
    hears(bob_one, [HOST], PEER)                      # still the host ...
    assert bob_one[BARESIP] < bob_one[HOST] - 20, bob_one   # ... carol no longer
    # carol's recording ends at the hang-up: windows counted back from its end
    path = str(carol.recordings()[-1])
    samples, rate = tones.read_wav(path)
    end = len(samples) / rate
    carol_both = tones.levels(path, ALL, start=max(0.5, end - (t_end - t_both) + 0.5),
                              end=end - (t_end - t_one) - 0.1)
    carol_alone = tones.levels(path, ALL, start=end - (t_end - t_one) + 0.4, end=end - 0.2)
    hears(carol_both, [HOST, PEER], BARESIP)
    assert max(carol_alone.values()) < -50, carol_alone    # out of the conference: nothing
    assert peer.exceptions == []
