"""The audio bridge, WaveFile and RecordingWaveFile, on the null clock (no sound card here).

Audio is proven on the recordings: tones generated with sipcore.media.tones, measured by
frequency (Goertzel, dBFS).  Where an AudioTransport is needed, a stand-in gives the bridge
what a started one gives it (``_port``, ``is_started``): a wav player port (what a remote
would send) or a wav writer port (what the bridge sends the remote).
"""
from __future__ import annotations

import gc
import math
import os
import struct
import threading
import time
import wave

import pytest

from sipcore import (Engine, EngineNotRunningError, InvalidStateError, RecordingWaveFile,
                     SIPCoreError, WaveFile, signals)
from sipcore import _ua
from sipcore._pj import ffi, lib
from sipcore.media import tones

OTHERS = [300, 1000, 2000, 3000]


class StandIn:
    """Stands in for a started AudioTransport on the bridge (see the module documentation)."""

    state = "started"

    def __init__(self, path: str, player: bool):
        ua = _ua.running("test")
        out = ffi.new("sc_fileport **")

        def make():
            st = lib.sc_fileport_create(ffi.addressof(ua.cp, "factory"), path.encode(),
                                        1 if player else 0, ua.bridge.clock_rate, 0, out)
            assert st == 0, st
        ua.call(make)
        self.ua, self.path, self._fp = ua, path, out[0]
        self._port = lib.sc_fileport_port(self._fp)
        self.is_started = True

    def stop(self):
        """As AudioTransport.stop(): leave the bridge, then destroy the port."""
        def end():
            if self.ua.bridge is not None:
                self.ua.bridge.detach(self)
            lib.sc_fileport_destroy(self._fp)
        if self._port is not None:
            self.ua.call(end)
            self._port, self.is_started = None, False


class NotStarted:
    _port = None
    is_started = False
    state = "INIT"


@pytest.fixture
def engine(engine_factory):
    return engine_factory(local_udp_port=0, local_tcp_port=None)


@pytest.fixture
def finished():
    got = []

    def receiver(sender, **data):
        got.append((sender, time.monotonic()))
    signals.WaveFileDidFinishPlaying.connect(receiver, weak=False)
    yield got
    signals.WaveFileDidFinishPlaying.disconnect(receiver)


def tone(tmp_path, name, freq, seconds=1.0, rate=16000, amplitude=0.5):
    return tones.write_tone(str(tmp_path / name), freq, seconds=seconds, sample_rate=rate,
                            amplitude=amplitude)


def wait_until(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def duration(path):
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def above_others(path, freq, start=0.0, end=None, others=OTHERS):
    lv = tones.levels(path, [freq] + [f for f in others if f != freq], start=start, end=end)
    return lv[freq] - max(v for f, v in lv.items() if f != freq), lv


# ---- the bridge ------------------------------------------------------------------------------

def test_the_bridge_runs_at_the_sample_rate_on_the_null_clock(engine_factory, tmp_path):
    for rate in (8, 16, 32):
        e = engine_factory(local_tcp_port=None, sample_rate=rate, auto_sound=rate != 16)
        ua = _ua.current
        assert ua.bridge.clock_rate == rate * 1000 and not ua.bridge.has_device
        rec = RecordingWaveFile(str(tmp_path / f"r{rate}.wav"))
        rec.start()
        time.sleep(0.4)
        rec.stop()
        with wave.open(rec.file_name) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (rate * 1000, 1, 2)
            # the null clock ticks in real time: 0.4 s of (silent) frames, give or take a tick
            assert 0.3 <= w.getnframes() / w.getframerate() <= 0.5
        e.stop()


def test_sound_devices_on_a_machine_without_any(engine):
    assert engine.playback_devices == [] and engine.recording_devices == []
    with pytest.raises(ValueError, match="playback_device.*'Speakers'"):
        engine.set_sound_devices("Speakers")
    with pytest.raises(ValueError, match="recording_device.*'Mic'"):
        engine.set_sound_devices(None, "Mic")
    with pytest.raises(TypeError, match="playback_device"):
        engine.set_sound_devices(3)
    with pytest.raises(ValueError, match="tail_length"):
        engine.set_sound_devices(tail_length=-1)
    assert engine.ec_tail_length == 50
    engine.set_sound_devices(None, None, tail_length=120)     # automatic: no device, null clock
    assert engine.ec_tail_length == 120 and not _ua.current.bridge.has_device
    engine.set_sound_devices()
    assert engine.ec_tail_length == 120


def test_sound_device_calls_need_a_running_engine():
    Engine().stop()
    for call in (lambda: Engine().playback_devices, lambda: Engine().set_sound_devices(),
                 lambda: Engine().connect_audio_transport(NotStarted())):
        with pytest.raises(EngineNotRunningError):
            call()


def test_a_sink_with_nothing_connected_still_gets_a_frame_every_tick(engine, tmp_path):
    """pjmedia_conf gives a port no source transmits to only NONE frames (a stream then sends
    no RTP, a writer writes nothing): the bridge's silence feed makes them audio frames."""
    sink = StandIn(str(tmp_path / "sink.wav"), player=False)
    ua = _ua.current
    slot = ua.call(ua.bridge.attach, sink, sink._port)
    assert (ua.bridge.silence_slot, slot) in ua.bridge.connections
    time.sleep(0.6)
    sink.stop()
    samples, rate = tones.read_wav(sink.path)
    assert 0.5 <= len(samples) / rate <= 0.7 and max(map(abs, samples)) == 0


def test_play_dtmf_plays_the_digit_on_the_sound_device_slot(engine, tmp_path):
    ua = _ua.current
    b = ua.bridge
    rec = StandIn(str(tmp_path / "dtmf.wav"), player=False)
    slot = ua.call(b.attach, rec, rec._port)
    # slot 0 output goes to the (absent) sound card; listen to the tone slot directly
    ua.call(b._link, b.tones_slot, slot, +1)
    time.sleep(0.1)
    ua.call(b.play_dtmf, "1")
    time.sleep(0.3)
    engine.playback_dtmf = False
    ua.call(b.play_dtmf, "9")                     # off: nothing
    time.sleep(0.3)
    with pytest.raises(ValueError, match="digit"):
        ua.call(b.play_dtmf, "x")
    rec.stop()
    one = tones.levels(rec.path, [697, 1209, 852, 1477], 0.05, 0.4)
    assert min(one[697], one[1209]) > max(one[852], one[1477]) + 20, one
    nine = tones.levels(rec.path, [852, 1477], 0.45)
    assert max(nine.values()) < -80, nine


# ---- WaveFile into the conference, recorded -----------------------------------------------

def test_a_wave_file_is_heard_by_a_conference_recording(engine, tmp_path, finished):
    rec = RecordingWaveFile(str(tmp_path / "rec.wav"))
    rec.start()
    assert rec.is_active and not rec.is_paused and rec.state == "recording"
    w = WaveFile(tone(tmp_path, "a.wav", 440, seconds=1.0))
    t0 = time.monotonic()
    w.start()
    assert w.is_active
    assert wait_until(lambda: finished, 3)
    assert [s for s, _ in finished] == [w] and not w.is_active
    assert 0.95 <= finished[0][1] - t0 <= 1.3
    rec.stop()
    assert not rec.is_active and rec.state == "stopped"
    margin, lv = above_others(rec.file_name, 440)
    assert margin >= 20, lv
    assert lv[440] > -12, lv                  # amplitude 0.5 (-6 dBFS) and a Hann window


def test_level_50_is_about_6_db_quieter_than_100_and_200_louder(engine, tmp_path, finished):
    path = tone(tmp_path, "a.wav", 440, seconds=0.6, amplitude=0.25)
    got = {}
    for level in (100, 50, 200):
        rec = RecordingWaveFile(str(tmp_path / f"r{level}.wav"))
        rec.start()
        w = WaveFile(path)          # kept: a WaveFile dropped while playing stops (spec)
        w.start(level=level)
        assert wait_until(lambda: len(finished) == len(got) + 1, 3)
        rec.stop()
        got[level] = tones.levels(rec.file_name, [440])[440]
    assert got[100] - got[50] == pytest.approx(6.0, abs=1.0), got
    assert got[200] - got[100] == pytest.approx(6.0, abs=1.0), got


def test_loops_with_pauses_finish_once_and_take_their_time(engine, tmp_path, finished):
    rec = RecordingWaveFile(str(tmp_path / "rec.wav"))
    rec.start()
    w = WaveFile(tone(tmp_path, "a.wav", 440, seconds=0.3))
    t0 = time.monotonic()
    w.start(loop_count=3, pause_time=0.4)
    time.sleep(0.5)                       # in the first pause
    assert w.is_active and not finished
    assert wait_until(lambda: finished, 4)
    took = finished[0][1] - t0
    assert took == pytest.approx(3 * 0.3 + 2 * 0.4, abs=0.2), took
    time.sleep(0.3)
    assert len(finished) == 1 and not w.is_active
    rec.stop()
    onset = tones.onset(rec.file_name, 440)
    # tone, pause, tone, pause, tone: the pauses are silent, the plays are not
    for k in range(3):
        a = onset + k * 0.7
        assert above_others(rec.file_name, 440, a + 0.05, a + 0.25)[0] >= 20
        if k < 2:
            assert tones.levels(rec.file_name, [440], a + 0.37, a + 0.63)[440] < -60
    # re-startable after it finished, again one notification
    w.start(loop_count=2)
    assert wait_until(lambda: len(finished) == 2, 3)
    time.sleep(0.2)
    assert len(finished) == 2


def test_loop_count_0_plays_until_stop_and_stop_notifies_once(engine, tmp_path, finished):
    w = WaveFile(tone(tmp_path, "a.wav", 440, seconds=0.2))
    w.start(loop_count=0)
    time.sleep(0.9)                          # 4 plays and more
    assert w.is_active and not finished
    w.stop()
    assert [s for s, _ in finished] == [w] and not w.is_active
    w.stop()                                 # not playing: nothing
    time.sleep(0.2)
    assert len(finished) == 1
    w.start(loop_count=0, pause_time=5)      # stopped in a pause
    time.sleep(0.4)
    w.stop()
    assert len(finished) == 2


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_a_law_and_u_law_files_play(engine, tmp_path, finished, law):
    samples, rate = tones.read_wav(tone(tmp_path, "pcm.wav", 700, seconds=0.6, rate=8000))
    path = str(tmp_path / f"{law}.wav")
    write_g711(path, samples, rate, law)
    rec = RecordingWaveFile(str(tmp_path / "rec.wav"))
    rec.start()
    w = WaveFile(path)
    w.start()
    assert wait_until(lambda: finished, 3)
    rec.stop()
    margin, lv = above_others(rec.file_name, 700)
    assert margin >= 20 and lv[700] > -15, lv


def test_a_paused_recording_is_that_much_shorter(engine, tmp_path):
    rec = RecordingWaveFile(str(tmp_path / "rec.wav"))
    w = WaveFile(tone(tmp_path, "a.wav", 440, seconds=5))
    w.start()
    rec.start()
    time.sleep(0.5)
    rec.pause()
    assert rec.is_paused and rec.is_active and rec.state == "paused"
    time.sleep(1.0)
    rec.resume()
    assert not rec.is_paused
    time.sleep(0.5)
    rec.stop()
    assert duration(rec.file_name) == pytest.approx(1.0, abs=0.12)
    margin, _ = above_others(rec.file_name, 440, 0.1)
    assert margin >= 20


# ---- pairwise connections (sipcore's extension) and the conference of transports -----------

def test_pairwise_players_and_recorders_each_hear_only_their_own(engine, tmp_path, finished):
    ta = StandIn(tone(tmp_path, "ta.wav", 440, seconds=3), player=True)     # remote A sends 440
    tb = StandIn(tone(tmp_path, "tb.wav", 1000, seconds=3), player=True)    # remote B sends 1000
    wa = StandIn(str(tmp_path / "to-a.wav"), player=False)                   # what A receives
    wb = StandIn(str(tmp_path / "to-b.wav"), player=False)
    ra, rb, conf = (RecordingWaveFile(str(tmp_path / n)) for n in ("ra.wav", "rb.wav", "rc.wav"))
    ra.start(source=ta)
    rb.start(source=tb)
    conf.start()
    pa = WaveFile(tone(tmp_path, "pa.wav", 500, seconds=3))
    pb = WaveFile(tone(tmp_path, "pb.wav", 1500, seconds=3))
    pa.start(destination=wa)
    pb.start(destination=wb)
    time.sleep(1.0)
    for r in (ra, rb, conf):
        r.stop()
    pa.stop()
    pb.stop()
    for t in (ta, tb, wa, wb):
        t.stop()
    every = [440, 1000, 500, 1500]
    for path, own in ((ra.file_name, 440), (rb.file_name, 1000), (wa.path, 500), (wb.path, 1500)):
        margin, lv = above_others(path, own, 0.1, others=every + [3000])
        assert margin >= 20, (path, lv)
    lv = tones.levels(conf.file_name, every)
    assert max(lv.values()) < -60, lv               # nothing pairwise leaks into the conference


def test_connect_audio_transport_makes_a_conference_and_disconnect_removes_one(
        engine, tmp_path):
    ta = StandIn(tone(tmp_path, "ta.wav", 440, seconds=4), player=True)
    tb = StandIn(tone(tmp_path, "tb.wav", 1000, seconds=4), player=True)
    out = StandIn(str(tmp_path / "out.wav"), player=False)
    for t in (ta, tb, out):
        engine.connect_audio_transport(t)
    engine.connect_audio_transport(ta)                       # again: nothing changes
    ua = _ua.current
    slots = {n: ua.bridge.slot(t) for n, t in (("a", ta), ("b", tb), ("out", out))}
    edges = ua.bridge.connections
    assert (slots["a"], slots["a"]) not in edges               # nobody hears itself
    assert {(slots["a"], slots["out"]), (slots["b"], slots["out"]), (slots["a"], slots["b"]),
            (slots["b"], slots["a"]), (slots["a"], 0), (0, slots["a"])} <= edges
    time.sleep(1.0)
    engine.disconnect_audio_transport(ta)
    engine.disconnect_audio_transport(ta)                    # not in it: nothing
    time.sleep(1.0)
    out.stop()
    ta.stop()
    tb.stop()
    before = tones.levels(out.path, [440, 1000, 3000], 0.1, 0.9)
    after = tones.levels(out.path, [440, 1000, 3000], 1.15, 1.9)
    assert before[440] > before[3000] + 20 and before[1000] > before[3000] + 20, before
    assert after[440] < -60 and after[1000] > after[3000] + 20, after
    assert ua.bridge.connections == set() or all(0 <= s < 4 for e in ua.bridge.connections
                                                 for s in e)


def test_a_stopped_transport_leaves_its_pairwise_recorder_with_silence(engine, tmp_path):
    ta = StandIn(tone(tmp_path, "ta.wav", 440, seconds=4), player=True)
    rec = RecordingWaveFile(str(tmp_path / "r.wav"))
    rec.start(source=ta)
    time.sleep(0.5)
    ta.stop()                                  # detach(): its connections go with it
    time.sleep(0.5)
    rec.stop()
    assert duration(rec.file_name) == pytest.approx(1.0, abs=0.12)   # silence fed meanwhile
    assert tones.levels(rec.file_name, [440], 0.1, 0.45)[440] > -15
    assert tones.levels(rec.file_name, [440], 0.6)[440] < -60


def test_not_started_transports_raise_naming_the_state(engine, tmp_path):
    with pytest.raises(InvalidStateError, match="INIT"):
        engine.connect_audio_transport(NotStarted())
    with pytest.raises(TypeError, match="transport"):
        engine.connect_audio_transport("a transport")
    with pytest.raises(InvalidStateError, match="INIT"):
        WaveFile(tone(tmp_path, "a.wav", 440)).start(destination=NotStarted())
    with pytest.raises(InvalidStateError, match="INIT"):
        RecordingWaveFile(str(tmp_path / "r.wav")).start(source=NotStarted())
    with pytest.raises(TypeError, match="destination"):
        WaveFile(tone(tmp_path, "a.wav", 440)).start(destination=3)
    with pytest.raises(TypeError, match="source"):
        RecordingWaveFile(str(tmp_path / "r.wav")).start(source="x")


# ---- errors ------------------------------------------------------------------------------

def test_bad_files_raise_clearly_and_the_engine_keeps_working(engine, tmp_path, finished):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        WaveFile(str(tmp_path / "nope.wav")).start()
    text = tmp_path / "text.wav"
    text.write_text("this is not a RIFF file at all, only some text\n" * 20)
    with pytest.raises(ValueError, match="file_name.*text.wav.*not a WAV file"):
        WaveFile(str(text)).start()
    stereo = str(tmp_path / "stereo.wav")
    with wave.open(stereo, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 16000)
    with pytest.raises(ValueError, match="stereo.wav"):
        WaveFile(stereo).start()
    with pytest.raises(FileNotFoundError, match="no such folder"):
        RecordingWaveFile(str(tmp_path / "no" / "such" / "r.wav")).start()
    w = WaveFile(str(text))
    with pytest.raises(ValueError):
        w.start()
    assert not w.is_active and not _ua.current.media_objects
    # still working: a tone plays and is recorded
    rec = RecordingWaveFile(str(tmp_path / "ok.wav"))
    rec.start()
    w = WaveFile(tone(tmp_path, "a.wav", 440, seconds=0.4))
    w.start()
    assert wait_until(lambda: finished, 3)
    rec.stop()
    assert above_others(rec.file_name, 440)[0] >= 20


@pytest.mark.parametrize("kwargs, error, word", [
    ({"level": -1}, ValueError, "level"), ({"level": 201}, ValueError, "level"),
    ({"level": 50.0}, TypeError, "level"), ({"level": True}, TypeError, "level"),
    ({"loop_count": -1}, ValueError, "loop_count"), ({"loop_count": "2"}, TypeError, "loop_count"),
    ({"pause_time": -0.5}, ValueError, "pause_time"), ({"pause_time": math.nan}, ValueError, "pause_time"),
    ({"pause_time": "1"}, TypeError, "pause_time"), ({"pause_time": math.inf}, ValueError, "pause_time"),
])
def test_wrong_arguments_name_themselves(tmp_path, kwargs, error, word):
    w = WaveFile(str(tmp_path / "a.wav"))       # checked before the Engine or the file
    with pytest.raises(error, match=word):
        w.start(**kwargs)


def test_file_name_is_checked_at_creation():
    with pytest.raises(TypeError, match="file_name"):
        WaveFile(b"a.wav")
    with pytest.raises(ValueError, match="file_name"):
        RecordingWaveFile("")
    assert WaveFile(os.path.join("x", "a.wav")).file_name == os.path.join("x", "a.wav")


def test_wrong_states_raise_naming_the_state(engine, tmp_path):
    w = WaveFile(tone(tmp_path, "a.wav", 440, seconds=2))
    w.start()
    with pytest.raises(InvalidStateError, match="'playing'"):
        w.start()
    w.stop()
    rec = RecordingWaveFile(str(tmp_path / "r.wav"))
    for call, state in ((rec.pause, "'new'"), (rec.resume, "'new'")):
        with pytest.raises(InvalidStateError, match=state):
            call()
    rec.start()
    with pytest.raises(InvalidStateError, match="'recording'"):
        rec.start()
    with pytest.raises(InvalidStateError, match="'recording'"):
        rec.resume()
    rec.pause()
    with pytest.raises(InvalidStateError, match="'paused'"):
        rec.pause()
    rec.stop()
    rec.stop()                                   # idempotent
    for call in (rec.start, rec.pause, rec.resume):
        with pytest.raises(InvalidStateError, match="'stopped'"):
            call()
    never = RecordingWaveFile(str(tmp_path / "n.wav"))
    never.stop()
    with pytest.raises(InvalidStateError, match="'stopped'"):
        never.start()


# ---- the Engine's lifecycle, garbage collection ---------------------------------------------

def test_created_before_start_and_alive_across_stop_and_start(engine_factory, tmp_path, finished):
    Engine().stop()
    w = WaveFile(tone(tmp_path, "a.wav", 440, seconds=5))
    rec = RecordingWaveFile(str(tmp_path / "r1.wav"))
    with pytest.raises(EngineNotRunningError):
        w.start()
    with pytest.raises(EngineNotRunningError):
        rec.start()
    assert rec.state == "new"
    e = engine_factory(local_tcp_port=None)
    w.start(loop_count=0)
    rec.start()
    time.sleep(0.5)
    e.stop()                                     # stops and cleans both up
    assert [s for s, _ in finished] == [w] and not w.is_active
    assert rec.state == "stopped" and not rec.is_active
    assert duration(rec.file_name) == pytest.approx(0.5, abs=0.15)   # complete and readable
    assert above_others(rec.file_name, 440, 0.1)[0] >= 20
    w.stop()
    rec.stop()
    with pytest.raises(EngineNotRunningError):
        w.start()
    e = engine_factory(local_tcp_port=None)
    with pytest.raises(InvalidStateError, match="'stopped'"):
        rec.start()                              # a recording, once stopped, stays stopped
    rec2 = RecordingWaveFile(str(tmp_path / "r2.wav"))
    rec2.start()
    w.start()                                    # works again after Engine.start()
    time.sleep(0.5)
    w.stop()
    rec2.stop()
    assert above_others(rec2.file_name, 440, 0.1, 0.45)[0] >= 20
    assert len(finished) == 2


def test_dropped_objects_stop_without_a_notification(engine, tmp_path, finished):
    ua = _ua.current
    w = WaveFile(tone(tmp_path, "a.wav", 440, seconds=5))
    w.start(loop_count=0)
    rec = RecordingWaveFile(str(tmp_path / "r.wav"))
    rec.start()
    time.sleep(0.3)
    assert len(ua.media_objects) == 2
    del w, rec
    gc.collect()
    assert wait_until(lambda: not ua.media_objects, 2)
    time.sleep(0.2)
    assert finished == []
    assert 0.2 <= duration(str(tmp_path / "r.wav")) <= 0.6        # completed by the close


def test_many_threads_start_and_stop_wave_files(engine, tmp_path, finished):
    path = tone(tmp_path, "a.wav", 440, seconds=0.2)
    files = [WaveFile(path) for _ in range(8)]
    errors = []

    def work(i):
        try:
            for _ in range(10):
                files[i].start(loop_count=0)
                files[i].stop()
        except BaseException as exc:
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(finished) == 80 and not _ua.current.media_objects


# ---- G.711 files (Python's wave module writes PCM only) -------------------------------------

def _ulaw(x: int) -> int:
    sign = 0x80 if x < 0 else 0
    x = min(abs(x), 32635) + 0x84
    exp = max(0, min(7, (x >> 7).bit_length() - 1))
    mant = (x >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


def _alaw(x: int) -> int:
    sign = 0x80 if x >= 0 else 0
    x = min(abs(x), 32767) >> 3
    if x < 32:
        code = x >> 1
    else:
        exp = x.bit_length() - 5
        code = (exp << 4) | ((x >> exp) & 0x0F)
    return (sign | code) ^ 0x55


def write_g711(path: str, samples, rate: int, law: str) -> None:
    enc = _alaw if law == "alaw" else _ulaw
    data = bytes(enc(s) for s in samples)
    tag = 6 if law == "alaw" else 7
    fmt = struct.pack("<HHIIHHH", tag, 1, rate, rate, 1, 8, 0)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"fact" + struct.pack("<II", 4, len(data)) + b"data" + struct.pack("<I", len(data)) + data
    with open(path, "wb") as fh:
        fh.write(b"RIFF" + struct.pack("<I", len(body)) + body)


# ---- more of the contract ------------------------------------------------------------------

@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_files_at_other_rates_are_resampled_by_the_bridge(engine, tmp_path, finished, rate):
    rec = RecordingWaveFile(str(tmp_path / "rec.wav"))
    rec.start()
    w = WaveFile(tone(tmp_path, "a.wav", 1200, seconds=0.5, rate=rate))
    w.start()
    assert wait_until(lambda: finished, 3)
    rec.stop()
    margin, lv = above_others(rec.file_name, 1200, others=[440, 2000, 3000])
    assert margin >= 20 and lv[1200] > -12, lv


def test_a_receiver_may_start_the_file_again(engine, tmp_path, finished):
    w = WaveFile(tone(tmp_path, "a.wav", 440, seconds=0.2))
    runs = []

    def again(sender, **data):
        if sender is w and len(runs) < 2:
            runs.append(1)
            w.start()                     # on the poll thread, inside the notification
    signals.WaveFileDidFinishPlaying.connect(again, weak=False)
    try:
        w.start()
        assert wait_until(lambda: len(finished) == 3, 3)
        time.sleep(0.3)
        assert len(finished) == 3 and not w.is_active
    finally:
        signals.WaveFileDidFinishPlaying.disconnect(again)


def test_detach_is_idempotent_and_attach_returns_the_same_slot(engine, tmp_path):
    ua = _ua.current
    t = StandIn(str(tmp_path / "t.wav"), player=False)
    slot = ua.call(ua.bridge.attach, t, t._port)
    assert ua.call(ua.bridge.attach, t, t._port) == slot
    ua.call(ua.bridge.detach, t)
    ua.call(ua.bridge.detach, t)
    ua.call(ua.bridge.detach, NotStarted())          # never attached: nothing
    assert ua.bridge.slot(t) is None and all(slot not in e for e in ua.bridge.connections)
    engine.disconnect_audio_transport(t)             # not connected: nothing
    ua.call(lib.sc_fileport_destroy, t._fp)


def test_the_bridge_is_made_at_its_first_use_only(engine_factory, tmp_path):
    """An Engine that plays no audio has no bridge (no clock thread, less idle memory); the
    first WaveFile makes it, from any thread, and the Engine's stop destroys it."""
    engine_factory()
    ua = _ua.current
    threads = len(os.listdir("/proc/self/task"))
    assert ua._bridge is None
    path = tones.write_tone(str(tmp_path / "t.wav"), 440, seconds=0.2, sample_rate=8000)
    w = WaveFile(path)
    w.start()
    assert ua._bridge is not None and len(os.listdir("/proc/self/task")) == threads + 1
    assert ua.bridge is ua._bridge
    w.stop()
