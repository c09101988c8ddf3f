"""Hypothesis: WaveFile / RecordingWaveFile methods in random order from two threads, with
Engine.stop(), Engine.start() and gc.collect() interleaved.  No crash (the process survives),
every misuse an InvalidStateError (a SIPCoreError) naming the state, and after each example
nothing is left on a bridge: every run closed, every token released."""
from __future__ import annotations

import gc
import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from sipcore import Engine, InvalidStateError, RecordingWaveFile, SIPCoreError, WaveFile, _ua
from sipcore import _pj
from sipcore.media import tones

OPS = ["w_start", "w_start_loop", "w_stop", "r_start", "r_pause", "r_resume", "r_stop",
       "new_w", "new_r", "engine_stop", "engine_start", "gc", "sleep"]


def _start_engine():
    try:
        Engine().start(local_ip="127.0.0.1", local_tcp_port=None, local_tls_port=None,
                       log_level=0)
    except InvalidStateError:
        pass                # the other thread started it first


class World:
    def __init__(self, folder):
        self.folder = folder
        self.tone = tones.write_tone(f"{folder}/t.wav", 440, seconds=0.15, sample_rate=8000)
        self.waves = [WaveFile(self.tone) for _ in range(2)]
        self.n = 0
        self.recs = [self.new_rec() for _ in range(2)]

    def new_rec(self):
        self.n += 1
        return RecordingWaveFile(f"{self.folder}/r{self.n}.wav")

    def do(self, op, i):
        w, r = self.waves[i % 2], self.recs[i % 2]
        if op == "w_start":
            w.start(level=50 + i * 10)
        elif op == "w_start_loop":
            w.start(loop_count=i % 3, pause_time=0.02 * i)
        elif op == "w_stop":
            w.stop()
        elif op == "r_start":
            r.start()
        elif op == "r_pause":
            r.pause()
        elif op == "r_resume":
            r.resume()
        elif op == "r_stop":
            r.stop()
        elif op == "new_w":
            self.waves[i % 2] = WaveFile(self.tone)       # the old one may still be playing
        elif op == "new_r":
            self.recs[i % 2] = self.new_rec()
        elif op == "engine_stop":
            Engine().stop()
        elif op == "engine_start":
            _start_engine()
        elif op == "gc":
            gc.collect()
        else:
            time.sleep(0.01 * i)


steps = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3)), min_size=4, max_size=24)


@settings(max_examples=40, deadline=None, database=None)
@given(a=steps, b=steps)
def test_random_order_from_two_threads(tmp_path_factory, a, b):
    world = World(str(tmp_path_factory.mktemp("wfz")))
    _start_engine()
    bad: list[BaseException] = []
    misuse = []

    def run(ops):
        for op, i in ops:
            try:
                world.do(op, i)
            except InvalidStateError as exc:
                # names the state: "... is not allowed in state 'x'" or "... (the Engine is x)"
                assert exc.state and exc.state in str(exc), exc
                misuse.append(exc.state)
            except SIPCoreError as exc:        # pragma: no cover - must not happen
                bad.append(exc)
            except BaseException as exc:       # pragma: no cover - must not happen
                bad.append(exc)

    threads = [threading.Thread(target=run, args=(ops,)) for ops in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert bad == [], bad
    ua = _ua.current
    if ua is not None and ua.running:
        for w in world.waves:
            w.stop()
        for r in world.recs:
            r.stop()
        gc.collect()
        deadline = time.monotonic() + 2
        while ua.media_objects and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not ua.media_objects
    Engine().stop()
    assert len(_pj.handles) == 0
    assert set(misuse) <= {"playing", "new", "recording", "paused", "stopped", "stopping"}, misuse
