"""The poll thread's short spin after work (start option ``poll_spin_us``, glue.c sc_poll).

What it buys (no scheduler wake-up delay on back-to-back traffic) is a timing matter and is
shown by benchmarks/message_rate.py; here: that the option is validated, settable at run
time, that it really decides how long the poll thread stays on the CPU after traffic --
and never while idle -- and that a spin which finds its CPU shared moves the poll thread to
another CPU without changing its CPU mask (what that buys, both ends of a call spread over two
CPUs: benchmarks/call_rate.py --media, benchmarks/README.md ninth session).  The Engine runs
without ``trace_sip`` here (the pytest plugin's engines trace by default): a trace is a C event
that brings the poll loop back to Python.
"""
import os
import subprocess
import sys
import time

import pytest

from sipcore import Credentials, Engine, Route, SIPURI, _ua, send_message


def _poll_thread_cpu(engine) -> float:
    return time.clock_gettime(time.pthread_getcpuclockid(_ua.current.thread_id))


def _round_trip(engine, recorder, timeout=5) -> None:
    """One MESSAGE to itself, answered 200."""
    port = engine.local_udp_port
    send_message(Credentials(SIPURI("127.0.0.1", user="a")), SIPURI("127.0.0.1", user="b", port=port),
                 "text/plain", "x", Route("127.0.0.1", port))
    assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=timeout).data.code == 200


def _cpu_after_round_trip(engine, recorder, window=0.4) -> float:
    """Poll-thread CPU seconds used in ``window`` s from one MESSAGE round trip on."""
    start = _poll_thread_cpu(engine)
    _round_trip(engine, recorder)
    time.sleep(window)
    return _poll_thread_cpu(engine) - start


def test_option_is_validated_and_settable(engine_factory):
    assert Engine.default_start_options["poll_spin_us"] in (0, 500)
    with pytest.raises(TypeError, match="poll_spin_us"):
        engine_factory(poll_spin_us="100")
    with pytest.raises(ValueError, match="poll_spin_us"):
        engine_factory(poll_spin_us=-1)
    engine = engine_factory(poll_spin_us=7, trace_sip=False)
    assert engine.poll_spin_us == 7
    engine.poll_spin_us = 0
    assert engine.poll_spin_us == 0
    with pytest.raises(ValueError, match="poll_spin_us"):
        engine.poll_spin_us = 10001


def test_spin_is_what_keeps_the_poll_thread_busy_after_traffic(engine_factory, recorder):
    engine = engine_factory(poll_spin_us=0, trace_sip=False)
    _cpu_after_round_trip(engine, recorder)            # warm up (first use allocates)
    without = _cpu_after_round_trip(engine, recorder)
    engine.poll_spin_us = 10000                         # 10 ms after each turn with work
    with_spin = _cpu_after_round_trip(engine, recorder)
    # a round trip is a few turns with work, each followed by up to 10 ms of looking
    assert with_spin >= 0.009, (without, with_spin)
    assert without < 0.008, (without, with_spin)
    # and it stops: idle afterwards costs (almost) nothing
    idle_start = _poll_thread_cpu(engine)
    time.sleep(0.3)
    assert _poll_thread_cpu(engine) - idle_start < 0.005


def test_back_to_back_traffic_stays_in_c_between_batches(engine_factory, recorder):
    """While every look finds work, sc_poll keeps polling in C instead of going back through
    the Python poll loop after each batch (UA.poll_rounds counts that loop's rounds): 1,000
    MESSAGEs to itself, 20 outstanding, all sent from the response receiver on the poll
    thread, take a handful of rounds (one per 64 turns at most), not one per batch."""
    engine = engine_factory(trace_sip=False)     # (the plugin's default traces: C events)
    port = engine.local_udp_port
    me, route = Credentials(SIPURI("127.0.0.1", user="a")), Route("127.0.0.1", port)
    uris = [SIPURI("127.0.0.1", user=f"u{i}", port=port) for i in range(20)]
    left, done, total = [1000], [0], 1000

    def on_response(sender, to_uri, code, **data):
        assert code == 200
        if to_uri.user == "kick":
            for uri in uris:
                left[0] -= 1
                send_message(me, uri, "text/plain", "x", route)
        else:
            done[0] += 1
            if left[0] > 0:
                left[0] -= 1
                send_message(me, to_uri, "text/plain", "x", route)

    from sipcore import signals
    signals.SIPEngineGotMessageResponse.connect(on_response)
    try:
        rounds = _ua.current.poll_rounds
        send_message(me, SIPURI("127.0.0.1", user="kick", port=port), "text/plain", "x", route)
        deadline = time.monotonic() + 30
        while done[0] < total and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)                                  # the poll loop is idle again
        assert done[0] == total
        assert _ua.current.poll_rounds - rounds <= 10, _ua.current.poll_rounds - rounds
    finally:
        signals.SIPEngineGotMessageResponse.disconnect(on_response)


# --- a spin that finds its CPU shared moves the poll thread (glue.c sc_move_off_cpu) ---------

def _round_trips(engine, recorder, seconds):
    """MESSAGE round trips to itself for ``seconds``: each one is followed by a spin."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        _round_trip(engine, recorder, timeout=10)


def _hogs(cpus):
    """One busy process pinned to each of ``cpus`` (what shares the poll thread's CPU)."""
    procs = []
    for cpu in cpus:
        p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        os.sched_setaffinity(p.pid, {cpu})
        procs.append(p)
    return procs


def _two_cpus():
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("the poll thread moves between CPUs: this machine lets it run on one")
    return set(allowed[:2])


def test_a_spin_on_a_shared_cpu_moves_the_poll_thread_and_keeps_its_cpu_mask(engine_factory,
                                                                             recorder):
    """Both CPUs the poll thread may use busy (a process pinned to each): every spin finds its
    CPU shared and moves the thread, at most once per 10 ms, and each move leaves the thread's
    CPU mask as it was.  (That a spin alone on its CPU does not move the thread is not asserted:
    on a machine running other tests, this test's own thread, which handles every response,
    may share the CPU -- CI saw 5 moves in 0.3 s that way.)"""
    from sipcore._pjsip import lib
    cpus = _two_cpus()
    engine = engine_factory(poll_spin_us=500, trace_sip=False)
    tid = _ua.current.thread.native_id
    os.sched_setaffinity(tid, cpus)
    _round_trips(engine, recorder, 0.2)              # warm up
    hogs = _hogs(cpus)
    try:
        before, start = lib.sc_spin_moves_count(), time.monotonic()
        _round_trips(engine, recorder, 0.5)
        moved = lib.sc_spin_moves_count() - before
        seconds = time.monotonic() - start
    finally:
        for p in hogs:
            p.kill()
            p.wait()
    assert 3 <= moved <= seconds / 0.010 + 1, (moved, seconds)
    assert os.sched_getaffinity(tid) == cpus


def test_a_poll_thread_pinned_to_one_cpu_is_never_moved(engine_factory, recorder):
    """An application that pins the poll thread to one CPU keeps it there: with that CPU busy
    the spin finds it shared, and still neither moves the thread nor touches its mask."""
    from sipcore._pjsip import lib
    cpu = min(_two_cpus())
    engine = engine_factory(poll_spin_us=500, trace_sip=False)
    tid = _ua.current.thread.native_id
    os.sched_setaffinity(tid, {cpu})
    hogs = _hogs([cpu])
    try:
        shared, moves = lib.sc_spin_shared_count(), lib.sc_spin_moves_count()
        _round_trips(engine, recorder, 0.5)
        assert lib.sc_spin_shared_count() > shared        # it did find the CPU shared
        assert lib.sc_spin_moves_count() == moves
        assert os.sched_getaffinity(tid) == {cpu}
        with open(f"/proc/self/task/{tid}/stat") as f:
            assert int(f.read().rsplit(")", 1)[1].split()[36]) == cpu
    finally:
        for p in hogs:
            p.kill()
            p.wait()
