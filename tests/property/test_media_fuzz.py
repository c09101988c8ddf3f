"""Hypothesis: RTPTransport (plain, SRTP, ICE) and AudioTransport methods in random order, from
two threads, with Engine.stop()/start() and gc.collect() interleaved (ICE checks and their
results run on the media worker meanwhile).  Nothing may crash (a use-after-free of a
stream or transport would), every misuse must be a SIPCoreError naming a state, and after each
example the Engine still makes a working pair."""
from __future__ import annotations

import gc
import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcore import (AudioTransport, Engine, InvalidStateError, PJSIPError, RTPTransport,
                     SDPSession, SIPCoreError)
from sipcore._pj import handles

OPS = ["new_rtp", "new_srtp", "new_ice", "set_INIT", "set_LOCAL", "set_ESTABLISHED", "new_audio",
       "answer", "start", "stop", "dtmf", "direction", "stats", "clock", "drop", "gc",
       "engine_restart", "read"]


class World:
    def __init__(self):
        self.rtps: list = []
        self.audios: list = []
        self.offers: list = []
        self.lock = threading.Lock()

    def pick(self, seq, i):
        with self.lock:
            return seq[i % len(seq)] if seq else None

    def add(self, seq, obj):
        with self.lock:
            seq.append(obj)
            del seq[:-6]        # keep a few: the rest is garbage


def run_op(w: World, op: str, i: int) -> None:
    e = Engine()
    rtp, audio, offer = w.pick(w.rtps, i), w.pick(w.audios, i), w.pick(w.offers, i)
    if op == "new_rtp":
        w.add(w.rtps, RTPTransport())
    elif op == "new_srtp":
        w.add(w.rtps, RTPTransport(use_srtp=True, srtp_forced=bool(i % 2)))
    elif op == "new_ice":       # ICE checks run on the media worker while the rest goes on
        w.add(w.rtps, RTPTransport(use_ice=True, use_srtp=bool(i % 2)))
    elif op == "set_INIT" and rtp:
        rtp.set_INIT()
    elif op == "set_LOCAL" and rtp and offer:
        local = offer.copy()
        rtp.set_LOCAL(local, 0)
        w.add(w.offers, local)  # with the transport's ICE candidates / crypto, if any
    elif op == "set_ESTABLISHED" and rtp and offer:
        rtp.set_ESTABLISHED(offer.copy(), offer.copy(), 0)
    elif op == "new_audio" and rtp:
        a = AudioTransport(rtp, codecs=["PCMU", "opus"][: 1 + i % 2])
        w.add(w.audios, a)
        w.add(w.offers, SDPSession("127.0.0.1", media=[a.get_local_media(True)]))
    elif op == "answer" and rtp and offer:
        w.add(w.audios, AudioTransport(rtp, offer, 0))
    elif op == "start" and audio and offer:
        audio.start(offer, offer, 0)
    elif op == "stop" and audio:
        audio.stop()
    elif op == "dtmf" and audio:
        audio.send_dtmf("0123456789*#ABCD"[i % 16])
    elif op == "direction" and audio:
        audio.update_direction(["sendrecv", "sendonly", "recvonly", "inactive"][i % 4])
    elif op == "stats" and audio:
        audio.statistics
    elif op == "clock" and audio:        # onto the audio bridge: the stream is clocked
        e.connect_audio_transport(audio)
    elif op == "drop":
        with w.lock:
            for seq in (w.rtps, w.audios):
                if seq:
                    seq.pop(i % len(seq))
    elif op == "gc":
        gc.collect()
    elif op == "engine_restart":
        e.stop()
        e.start(local_ip="127.0.0.1", log_level=0, local_tcp_port=None, local_tls_port=None)
    elif op == "read":
        for r in list(w.rtps):
            (r.state, r.local_rtp_port, r.remote_rtp_port_received, r.srtp_active,
             r.ice_active)
        for a in list(w.audios):
            (a.codec, a.direction, a.is_active, a.is_started)


def run_ops(w: World, ops, errors: list) -> None:
    for op, i in ops:
        try:
            run_op(w, op, i)
        except InvalidStateError as exc:    # a misuse: it names the state
            if not exc.state:
                errors.append(exc)
        except PJSIPError:      # PJMEDIA refused (e.g. a negotiation with no codec in common)
            pass
        except SIPCoreError as exc:
            if "rejected" not in str(exc) and "SRTP" not in str(exc):
                errors.append(exc)
        except BaseException as exc:    # anything else is a bug
            errors.append(exc)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 50)), min_size=5, max_size=30),
       st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 50)), max_size=15))
def test_random_media_calls_from_two_threads(engine_factory, ops, other_ops):
    e = Engine()
    if not e.is_running:
        engine_factory()
    w = World()
    errors: list = []
    other = threading.Thread(target=run_ops, args=(w, other_ops, errors))
    other.start()
    run_ops(w, ops, errors)
    other.join(60)
    assert not other.is_alive()
    assert errors == []
    del w
    gc.collect()
    if not e.is_running:
        engine_factory()
    # still working: a fresh pair negotiates and streams
    a = AudioTransport(RTPTransport())
    offer = SDPSession("127.0.0.1", media=[a.get_local_media(True)])
    a.transport.set_LOCAL(offer, 0)
    b = AudioTransport(RTPTransport(), offer, 0)
    answer = SDPSession("127.0.0.1", media=[b.get_local_media(False)])
    a.start(offer, answer, 0)
    assert a.is_active and b.is_active
    a.stop()
    b.stop()
    assert len(handles) < 200


def test_engine_stop_while_clocked_streams_run(engine_factory):
    """Engine.stop() with clocked streams and DTMF in flight frees everything, repeatedly."""
    for _ in range(3):
        engine_factory()
        pairs = []
        for _ in range(3):
            a = AudioTransport(RTPTransport())
            offer = SDPSession("127.0.0.1", media=[a.get_local_media(True)])
            a.transport.set_LOCAL(offer, 0)
            b = AudioTransport(RTPTransport(), offer, 0)
            a.start(offer, SDPSession("127.0.0.1", media=[b.get_local_media(False)]), 0)
            Engine().connect_audio_transport(a)     # clocked by the audio bridge
            Engine().connect_audio_transport(b)
            a.send_dtmf("5")
            pairs.append((a, b))
        Engine().stop()
        assert all(not a.is_active and not b.is_active for a, b in pairs)
