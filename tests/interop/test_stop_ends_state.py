"""Engine.stop() ends on the servers what the Engine holds there (issue #14): the binding of
every registration, the published state, every subscription -- all at once, at most 2 s in
all -- and SIPEngineCouldNotEnd names what could not be ended."""
import time

from sipcore import (Credentials, Engine, Publication, Registration, Route, SIPURI,
                     Subscription)

PIDF = """<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@127.0.0.1">
  <tuple id="t1"><status><basic>open</basic></status></tuple>
</presence>"""


def creds(user, password):
    return Credentials(SIPURI("127.0.0.1", user=user), password)


def wait(rec, name, obj, state):
    return rec.wait_for(name, timeout=15, sender=obj, where=lambda n: n.data.state == state)


def sent(rec, start: str) -> list[str]:
    return [n.data.data for n in rec.all("SIPEngineSIPTrace")
            if not n.data.received and n.data.data.startswith(start)]


def test_stop_unregisters_unpublishes_and_unsubscribes(kam, engine_factory, recorder):
    engine_factory(trace_sip=True)
    route = Route("127.0.0.1", kam.port)
    regs = [Registration(creds(u, p), route, expires=300) for u, p in (("alice", "apw"),
                                                                        ("bob", "bpw"))]
    for reg in regs:
        reg.register()
    for reg in regs:
        wait(recorder, "SIPRegistrationChangedState", reg, "registered")
    pub = Publication(creds("alice", "apw"), "presence", route, expires=300)
    pub.publish("application/pidf+xml", PIDF)
    wait(recorder, "SIPPublicationChangedState", pub, "published")
    sub = Subscription(creds("bob", "bpw"), SIPURI("127.0.0.1", user="alice"), "presence",
                       route)
    sub.subscribe()
    wait(recorder, "SIPSubscriptionChangedState", sub, "ACTIVE")
    assert kam.contacts("alice") and kam.contacts("bob")
    assert kam.sql("SELECT count(*) FROM presentity")[0][0] == 1

    t0 = time.monotonic()
    Engine().stop()
    took = time.monotonic() - t0

    assert kam.contacts("alice") == [] and kam.contacts("bob") == []
    assert kam.sql("SELECT count(*) FROM presentity")[0][0] == 0
    assert any("Expires: 0" in m for m in sent(recorder, "SUBSCRIBE "))
    for reg in regs:
        states = [n.data.state for n in recorder.all("SIPRegistrationChangedState")
                  if n.sender is reg]
        assert states[-2:] == ["unregistering", "unregistered"]
    assert [n.data.state for n in recorder.all("SIPPublicationChangedState")
            if n.sender is pub][-2:] == ["unpublishing", "unpublished"]
    ended = [n for n in recorder.all("SIPSubscriptionChangedState") if n.sender is sub][-1]
    assert ended.data.state == "TERMINATED"
    assert recorder.all("SIPEngineCouldNotEnd") == []
    assert took < 2.5, took


def test_what_could_not_be_ended_is_named_within_the_bound(kam, engine_factory, recorder):
    """The registrar is gone when the Engine stops: the un-REGISTER gets no answer; stop()
    returns after about 2 s and SIPEngineCouldNotEnd names the registration."""
    engine_factory()
    reg = Registration(creds("alice", "apw"), Route("127.0.0.1", kam.port), expires=300)
    reg.register()
    wait(recorder, "SIPRegistrationChangedState", reg, "registered")
    kam.stop()
    t0 = time.monotonic()
    Engine().stop()
    took = time.monotonic() - t0
    n = recorder.wait_for("SIPEngineCouldNotEnd", timeout=1)
    assert n.data.objects == [reg]
    assert n.data.reasons == ["no final response in time"]
    assert 1.9 < took < 3.0, took
    names = [m.name for m in recorder.all()]
    assert names.index("SIPEngineCouldNotEnd") < names.index("SIPEngineDidEnd")
    # and its final state is still announced: the un-REGISTER sent, then the stop's end
    assert [n.data.state for n in recorder.all("SIPRegistrationChangedState")
            if n.sender is reg][-2:] == ["unregistering", "unregistered"]
    assert reg.state == "unregistered"
