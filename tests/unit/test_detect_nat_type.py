"""Engine.detect_nat_type without a STUN server: argument checks (TypeError/ValueError naming
the argument), a stopped Engine, and the one notification of a detection the Engine's stop
cuts short.  With real servers: tests/interop/test_nat_type.py."""
from __future__ import annotations

import socket

import pytest

from sipcore import Engine
from sipcore.errors import EngineNotRunningError

NAME = "SIPEngineDetectedNATType"


@pytest.mark.parametrize("address,error,words", [
    (127, TypeError, "stun_server_address must be a str, not int"),
    (b"127.0.0.1", TypeError, "stun_server_address must be a str, not bytes"),
    (None, TypeError, "stun_server_address must be a str, not NoneType"),
    ("stun.example.com", ValueError, "stun_server_address must be an IPv4 or IPv6 address"),
    ("", ValueError, "stun_server_address must be an IPv4 or IPv6 address"),
    ("127.0.0.256", ValueError, "stun_server_address must be an IPv4 or IPv6 address"),
    ("127.0.0.1:3478", ValueError, "stun_server_address must be an IPv4 or IPv6 address"),
])
def test_address_is_checked(engine, recorder, address, error, words):
    with pytest.raises(error, match=words):
        engine.detect_nat_type(address)
    assert recorder.all(NAME) == []


@pytest.mark.parametrize("port,error,words", [
    ("3478", TypeError, "stun_server_port must be an int"),
    (3478.0, TypeError, "stun_server_port must be an int"),
    (True, TypeError, "stun_server_port must be an int"),
    (None, TypeError, "stun_server_port must be an int"),
    (0, ValueError, "stun_server_port must be in 1..65535"),
    (65536, ValueError, "stun_server_port must be in 1..65535"),
    (-1, ValueError, "stun_server_port must be in 1..65535"),
])
def test_port_is_checked(engine, recorder, port, error, words):
    with pytest.raises(error, match=words):
        engine.detect_nat_type("127.0.0.1", port)
    assert recorder.all(NAME) == []


def test_stopped_engine_raises_and_sends_nothing(recorder):
    e = Engine()
    if e.is_running:
        e.stop()
    with pytest.raises(EngineNotRunningError, match="detect_nat_type"):
        e.detect_nat_type("127.0.0.1", 3478)
    assert recorder.all(NAME) == []


def _closed_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_stop_cuts_detections_short_with_one_failure_each(engine_factory, recorder):
    """IPv4 and IPv6 literals (brackets allowed) start a detection; nothing answers on
    loopback, and the Engine stops long before PJNATH's STUN timeout: each call gets one
    failure, during the stop.  Then the Engine starts and stops again cleanly."""
    engine = engine_factory()
    port = _closed_udp_port()
    engine.detect_nat_type("127.0.0.1", port, user_data=1)
    engine.detect_nat_type("::1", port, user_data=2)
    engine.detect_nat_type("[::1]", port, user_data=3)
    engine.stop()
    got = [(n.data.user_data, n.data.succeeded, n.data.error) for n in recorder.all(NAME)]
    assert sorted(got) == [(u, False, "the Engine stopped before NAT type detection ended")
                           for u in (1, 2, 3)]
    engine_factory()
    engine.stop()
    assert len(recorder.all(NAME)) == 3


def test_called_while_the_engine_stops_raises_and_sends_nothing(engine_factory, recorder):
    """From a receiver of SIPEngineWillEnd (the poll thread, during the stop) no detection
    could report any more: the call raises EngineNotRunningError naming "stopping"."""
    from sipcore import signals
    engine = engine_factory()
    raised = []

    def on_will_end(sender, **data):
        try:
            engine.detect_nat_type("127.0.0.1", _closed_udp_port(), user_data="late")
        except EngineNotRunningError as exc:
            raised.append(str(exc))

    signals.SIPEngineWillEnd.connect(on_will_end, weak=False)
    try:
        engine.stop()
    finally:
        signals.SIPEngineWillEnd.disconnect(on_will_end)
    assert len(raised) == 1 and "stopping" in raised[0]
    assert recorder.all(NAME) == []
