"""``timeout=`` on Registration and Publication (an extension like send_message's, README
deviations): a request without a final response by then ends with 408 and the failure state,
instead of PJSIP's 32 s; a late answer changes nothing."""
from __future__ import annotations

import time

import pytest

from sipcore import Credentials, Publication, Registration, Route, SIPURI
from sipcore.testing.coturn import BlackHole

PIDF = '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@127.0.0.1"/>'
REASON = "Request Timeout (no final response within the timeout)"


def creds():
    return Credentials(SIPURI("127.0.0.1", user="alice"), "pw")


@pytest.mark.parametrize("kind", ["registration", "publication"])
def test_no_answer_ends_with_408_at_the_timeout(engine, recorder, kind):
    with BlackHole() as hole:
        route = Route(hole.host, hole.port)
        if kind == "registration":
            obj, name = Registration(creds(), route, timeout=0.5), "SIPRegistrationChangedState"
            start, failed = obj.register, "unregistered"
        else:
            obj, name = Publication(creds(), "presence", route, timeout=0.5), \
                "SIPPublicationChangedState"
            start, failed = (lambda: obj.publish("application/pidf+xml", PIDF)), "unpublished"
        assert obj.timeout == 0.5
        t0 = time.monotonic()
        start()
        n = recorder.wait_for(name, sender=obj, where={"state": failed}, timeout=10)
        took = time.monotonic() - t0
        assert (n.data.code, n.data.reason) == (408, REASON)
        assert took < 5                           # not PJSIP's 32 s
        assert hole.received() >= 1               # the request was sent
        time.sleep(1.0)                           # PJSIP retransmits; nothing more is reported
        assert [m.data.state for m in recorder.all(name) if m.sender is obj] == [
            "registering" if kind == "registration" else "publishing", failed]


def test_unregister_without_answer_ends_with_408(kamailio, engine, recorder):
    """The ending request too: the registrar goes away, unregister() ends at the timeout."""
    alice = kamailio.account("alice")
    reg = Registration(alice.credentials, alice.route, expires=60)
    assert reg.timeout is None
    reg.register()
    recorder.wait_for("SIPRegistrationChangedState", sender=reg, where={"state": "registered"})
    kamailio.stop()
    reg.timeout = 0.4
    reg.unregister()
    n = recorder.wait_for("SIPRegistrationChangedState", sender=reg,
                          where={"state": "unregistered"}, timeout=10)
    assert (n.data.code, n.data.reason) == (408, REASON)
    assert [m.data.state for m in recorder.all("SIPRegistrationChangedState")
            if m.sender is reg] == ["registering", "registered", "unregistering", "unregistered"]


def test_timeout_argument_checked(engine):
    route = Route("127.0.0.1", 5999)
    for bad, err in ((0, ValueError), (-1, ValueError), (3601, ValueError), ("1", TypeError),
                     (True, TypeError)):
        with pytest.raises(err, match="timeout"):
            Registration(creds(), route, timeout=bad)
        with pytest.raises(err, match="timeout"):
            Publication(creds(), "presence", route, timeout=bad)
    reg = Registration(creds(), route, timeout=2)
    with pytest.raises(ValueError, match="timeout"):
        reg.timeout = float("nan")
    assert reg.timeout == 2.0
    reg.timeout = None
    assert reg.timeout is None


def test_subscribe_without_answer_ends_terminated_408(engine, recorder):
    from sipcore import Subscription
    with BlackHole() as hole:
        sub = Subscription(creds(), SIPURI("127.0.0.1", user="bob"), "presence",
                           Route(hole.host, hole.port), timeout=0.5)
        t0 = time.monotonic()
        sub.subscribe()
        n = recorder.wait_for("SIPSubscriptionChangedState", sender=sub,
                              where={"state": "TERMINATED"}, timeout=10)
        assert time.monotonic() - t0 < 5
        assert (n.data.code, n.data.reason) == (408, REASON)
        assert hole.received() >= 1
        time.sleep(1.0)
        assert [m.data.state for m in recorder.all("SIPSubscriptionChangedState")
                if m.sender is sub] == ["SENT", "TERMINATED"]
        sub.subscribe()                           # usable again: a new SUBSCRIBE
        recorder.wait_for("SIPSubscriptionChangedState", sender=sub, where={"state": "SENT"})
    with pytest.raises(ValueError, match="timeout"):
        Subscription(creds(), SIPURI("127.0.0.1", user="bob"), "presence",
                     Route("127.0.0.1", 5999), timeout=0)


def test_subscription_answered_in_time_is_not_ended_by_the_timeout(kamailio, engine,
                                                                    recorder):
    from sipcore import Subscription
    bob = kamailio.account("bob")
    sub = Subscription(bob.credentials, SIPURI(kamailio.domain, user="alice"), "presence",
                       bob.route, timeout=0.5)
    sub.subscribe()
    recorder.wait_for("SIPSubscriptionChangedState", sender=sub, where={"state": "ACTIVE"},
                      timeout=10)
    time.sleep(1.0)
    assert sub.state == "ACTIVE"
    sub.unsubscribe()
    n = recorder.wait_for("SIPSubscriptionChangedState", sender=sub,
                          where={"state": "TERMINATED"}, timeout=10)
    assert getattr(n.data, "code", None) != 408       # ended by the server, not the timeout
