"""Engine.detect_nat_type against a real STUN server (coturn on 127.0.0.1 + 127.0.0.2 with an
alternate port, tests/peers/coturn.py) and a black hole (a bound UDP socket that never
answers): exactly one SIPEngineDetectedNATType per call, with that call's user_data."""
from __future__ import annotations

import time

import pytest

from conftest import in_threads
from peers.coturn import BlackHole, Coturn
from sipcore import signals

NAT_TYPES = {"Open", "Full Cone", "Restricted", "Port Restricted", "Symmetric", "Symmetric UDP"}
#: PJNATH 2.12's STUN timeout: RTO 100 ms, 7 transmissions (6.3 s), then 1.6 s
STUN_TIMEOUT = 7.9
NAME = "SIPEngineDetectedNATType"


# coturn: the sipcore pytest plugin's fixture (a started Coturn in the test's own folder)


def _results(recorder):
    return [n.data for n in recorder.all(NAME)]


def _wait_count(recorder, count, timeout):
    deadline = time.monotonic() + timeout
    while len(recorder.all(NAME)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return _results(recorder)


def test_calls_in_flight_each_get_one_notification_with_their_user_data(engine, coturn,
                                                                        recorder):
    """A black-hole detection stays in flight while 20 detections with coturn, started from
    5 threads and from a receiver on the poll thread, each end with one success carrying
    its own user_data; the black hole then fails once, within the STUN timeout."""
    with BlackHole() as hole:
        hole_data = object()
        t0 = time.monotonic()
        engine.detect_nat_type(hole.host, hole.port, hole_data)
        from_receiver = {"unhashable": []}

        def again(sender, **data):       # runs on the poll thread
            if data["user_data"] == (0, 0):
                engine.detect_nat_type(coturn.host, coturn.port, user_data=from_receiver)
        signals.SIPEngineDetectedNATType.connect(again, weak=False)
        try:
            errors = in_threads(lambda i: [engine.detect_nat_type(
                coturn.host, coturn.port, user_data=(i, j)) for j in range(4)], count=5)
            assert errors == []
            results = _wait_count(recorder, 21, 10)
        finally:
            signals.SIPEngineDetectedNATType.disconnect(again)
        assert len(results) == 21
        assert all(r.user_data is not hole_data for r in results)     # still in flight
        expected = {(i, j) for i in range(5) for j in range(4)}
        assert sorted(r.user_data for r in results if r.user_data is not from_receiver) == \
            sorted(expected)
        assert [r.user_data for r in results].count(from_receiver) == 1
        for r in results:
            assert r.succeeded is True and r.nat_type in NAT_TYPES, vars(r)
            assert not hasattr(r, "error")

        n = recorder.wait_for(NAME, timeout=STUN_TIMEOUT + 4,
                              where=lambda n: n.data.user_data is hole_data)
        elapsed = time.monotonic() - t0
        assert STUN_TIMEOUT - 1 <= elapsed <= STUN_TIMEOUT + 2, elapsed
        assert n.data.succeeded is False and "no answer from the STUN server" in n.data.error
        assert not hasattr(n.data, "nat_type")
        assert n.sender is engine
        assert hole.received() >= 7          # test I's 7 transmissions at least
        time.sleep(1.0)                      # nothing more comes
        assert len(recorder.all(NAME)) == 22


def test_server_refusing_change_request_fails_once(engine, tmp_path, recorder):
    """coturn with one address and no alternate port answers CHANGE-REQUEST with 420: the
    detection fails with PJNATH's text, once."""
    with Coturn(workdir=tmp_path / "c1", change_request=False) as c:
        engine.detect_nat_type(c.host, c.port, user_data="one")
        n = recorder.wait_for(NAME, timeout=5)
        assert (n.data.succeeded, n.data.error, n.data.user_data) == \
            (False, "Unknown Attribute", "one")
        time.sleep(0.5)
        assert len(recorder.all(NAME)) == 1


def test_engine_stopped_before_the_answer_notifies_once_during_the_stop(engine_factory,
                                                                        coturn, recorder):
    """Engine.stop() with a detection in flight: one failure, sent between WillEnd and
    DidEnd; PJNATH's session is gone with the endpoint, so nothing comes later, and the next
    run detects again."""
    engine = engine_factory()
    with BlackHole() as hole:
        engine.detect_nat_type(hole.host, hole.port, user_data="pending")
        engine.stop()
        assert recorder.names_seen(NAME, "SIPEngineWillEnd", "SIPEngineDidEnd") == \
            ["SIPEngineWillEnd", NAME, "SIPEngineDidEnd"]
        d = recorder.all(NAME)[0].data
        assert (d.succeeded, d.user_data) == (False, "pending")
        assert "Engine stopped" in d.error
        t_stop = time.monotonic()

        engine = engine_factory()                    # the next run works
        engine.detect_nat_type(coturn.host, coturn.port, user_data="after")
        n = recorder.wait_for(NAME, timeout=5, where=lambda n: n.data.user_data == "after")
        assert n.data.succeeded is True
        # past the old detection's STUN timeout: it never reported a second time
        time.sleep(max(0.0, t_stop + STUN_TIMEOUT + 1 - time.monotonic()))
        assert [n.data.user_data for n in recorder.all(NAME)] == ["pending", "after"]
