"""kamailio restarted during a registration (issue #14, item 4): the refresh recovers, and the
state notifications say what happened.

A Registration refreshes before its expiry (``refresh_delay``: half of it for short ones).
When the registrar is down at that moment, the refresh REGISTER is retransmitted (UDP: after
0.5, 1.5, 3.5 s ... RFC 3261 17.1.2.2) and reaches the registrar once it is back: the
notifications are ``registered`` -> ``registering`` (the refresh) -> ``registered`` (200), and
the binding (which the restarted kamailio had forgotten: usrloc in memory) is there again.
When the registrar stays away past the request's timeout, the refresh fails: ``registering``
-> ``unregistered`` with 408 (the spec's machine: a failed refresh is a failure, no retry of
its own); the application registers again when it wants to.  Over TCP the restart closes
the registration's connection, and the next refresh opens a new one.
"""
from __future__ import annotations

import time

import pytest

from sipcore import Registration

from faultkit import netns  # noqa: F401 (fixtures)


def _states(recorder, reg) -> list[tuple]:
    return [(n.data.state, getattr(n.data, "code", None))
            for n in recorder.all("SIPRegistrationChangedState") if n.sender is reg]


def _registered(recorder, reg, timeout: float) -> None:
    recorder.wait_for("SIPRegistrationChangedState", sender=reg, timeout=timeout,
                      where={"state": "registered"},
                      fail_on={"SIPRegistrationChangedState": {"state": "unregistered"}})


def test_restart_during_refresh_recovers(netns, kamailio_factory, engine_factory, recorder):
    k = kamailio_factory()
    engine_factory()
    alice = k.account("alice")
    reg = Registration(alice.credentials, alice.route, expires=6)   # refreshed after 3 s
    reg.register()
    _registered(recorder, reg, 10)
    k.stop()                                    # the registrar goes away ...
    assert not k.running
    assert len(_states(recorder, reg)) == 2, "the refresh came before kamailio was down"
    recorder.wait_for("SIPRegistrationChangedState", sender=reg, timeout=10,
                      where={"state": "registering"})      # ... the refresh goes out
    time.sleep(0.8)                             # its first retransmissions find nobody
    k.start()                                   # back on the same port, bindings forgotten
    t0 = time.monotonic()
    _registered(recorder, reg, 15)
    print(f"\nrefresh recovered {time.monotonic() - t0:.2f} s after the restart")
    assert _states(recorder, reg) == [("registering", None), ("registered", 200),
                                      ("registering", None), ("registered", 200)]
    assert k.contacts("alice"), "the refresh put the binding back"
    reg.unregister()
    recorder.wait_for("SIPRegistrationChangedState", sender=reg, timeout=10,
                      where={"state": "unregistered"})


def test_registrar_away_too_long_says_so(netns, kamailio_factory, engine_factory, recorder):
    k = kamailio_factory()
    engine_factory()
    alice = k.account("alice")
    reg = Registration(alice.credentials, alice.route, expires=6)   # refreshed after 3 s
    reg.timeout = 2.5
    reg.register()
    _registered(recorder, reg, 10)
    k.stop()
    assert len(_states(recorder, reg)) == 2, "the refresh came before kamailio was down"
    failed = recorder.wait_for("SIPRegistrationChangedState", sender=reg, timeout=15,
                               where={"state": "unregistered"})
    assert failed.data.code == 408, (failed.data.code, failed.data.reason)
    assert _states(recorder, reg) == [("registering", None), ("registered", 200),
                                      ("registering", None), ("unregistered", 408)]
    k.start()
    reg.register()                              # the application tries again: it works
    _registered(recorder, reg, 10)
    assert k.contacts("alice")
    reg.unregister()
    recorder.wait_for("SIPRegistrationChangedState", sender=reg, timeout=10,
                      where={"state": "unregistered"})


def test_restart_over_tcp_refresh_opens_a_new_connection(netns, kamailio_factory, engine_factory,
                                                         recorder):
    """Over TCP the restart closes the registration's connection: the next refresh goes over a
    new one and succeeds (registered again, the binding back)."""
    k = kamailio_factory()
    engine_factory()
    alice = k.account("alice", transport="tcp")
    reg = Registration(alice.credentials, alice.route, expires=6)   # refreshed after 3 s
    reg.register()
    _registered(recorder, reg, 10)
    k.restart()                                 # down and up again before the refresh
    assert len(_states(recorder, reg)) == 2, "the refresh came before kamailio was restarted"
    recorder.wait_for("SIPRegistrationChangedState", sender=reg, timeout=10,
                      where={"state": "registering"})
    _registered(recorder, reg, 10)
    assert _states(recorder, reg) == [("registering", None), ("registered", 200),
                                      ("registering", None), ("registered", 200)]
    assert k.contacts("alice")
    ports = {n.data.source_port for n in recorder.all("SIPEngineSIPTrace")
             if not n.data.received and n.data.data.startswith("REGISTER ")}
    assert len(ports) == 2, f"REGISTERs from {ports}: one connection before, one after"
    reg.unregister()
    recorder.wait_for("SIPRegistrationChangedState", sender=reg, timeout=10,
                      where={"state": "unregistered"})
