"""Publication and Subscription against kamailio's presence server (presence + presence_xml)."""
import pytest

from sipcore import (Credentials, InvalidStateError, Publication, Route, SIPURI, Subscription)

PIDF = """<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@127.0.0.1">
  <tuple id="t1"><status><basic>{basic}</basic></status><note>{note}</note></tuple>
</presence>"""


def creds(user, password):
    return Credentials(SIPURI("127.0.0.1", user=user), password)



def wait_state(rec, obj, state, name, timeout=15):
    return rec.wait_for(name, timeout=timeout, sender=obj, where=lambda n: n.data.state == state)


def test_publish_subscribe_update_unpublish_unsubscribe(kam, engine, recorder):
    route = Route("127.0.0.1", kam.port)
    pub = Publication(creds("alice", "apw"), "presence", route, expires=60)
    pub.publish("application/pidf+xml", PIDF.format(basic="open", note="first"))
    n = wait_state(recorder, pub, "published", "SIPPublicationChangedState")
    assert n.data.code == 200

    sub = Subscription(creds("bob", "bpw"), SIPURI("127.0.0.1", user="alice"), "presence", route)
    assert sub.state == "TERMINATED"
    sub.subscribe()
    wait_state(recorder, sub, "ACTIVE", "SIPSubscriptionChangedState")
    got = recorder.wait_for("SIPSubscriptionGotNotify", sender=sub, timeout=15,
                            where=lambda n: b"first" in n.data.body)
    assert got.data.content_type == "application/pidf+xml"

    pub.publish("application/pidf+xml", PIDF.format(basic="open", note="second"))
    recorder.wait_for("SIPSubscriptionGotNotify", sender=sub, timeout=15,
                      where=lambda n: b"second" in n.data.body)
    assert [n.data.state for n in recorder.all("SIPPublicationChangedState")
            if n.sender is pub][-2:] == ["publishing", "published"]

    pub.unpublish()
    wait_state(recorder, pub, "unpublished", "SIPPublicationChangedState")
    with pytest.raises(InvalidStateError, match="ACTIVE"):
        sub.subscribe()
    sub.unsubscribe()
    n = wait_state(recorder, sub, "TERMINATED", "SIPSubscriptionChangedState")
    assert n.sender is sub
    sub.unsubscribe()                 # TERMINATED already: nothing (documented deviation)
    with sub:                         # leaving the block unsubscribes: nothing either
        pass
    assert sub.state == "TERMINATED"
    assert [n.data.state for n in recorder.all("SIPSubscriptionChangedState")
            if n.sender is sub][-1:] == ["TERMINATED"]


def test_republish_after_unpublish_uses_fresh_etag(kam, engine_factory, recorder):
    engine_factory(trace_sip=True)
    pub = Publication(creds("alice", "apw"), "presence", Route("127.0.0.1", kam.port))
    for note in ("one", "two"):
        pub.publish("application/pidf+xml", PIDF.format(basic="open", note=note))
        wait_state(recorder, pub, "published", "SIPPublicationChangedState")
        pub.unpublish()
        wait_state(recorder, pub, "unpublished", "SIPPublicationChangedState")
    # the requests the server accepted (each is first challenged with a 407), once each
    # (a UDP retransmission under load repeats a request with the same CSeq)
    by_cseq = {}
    for m in recorder.all("SIPEngineSIPTrace"):
        msg = m.data.data
        if not m.data.received and msg.startswith("PUBLISH") and "Proxy-Authorization:" in msg:
            cseq = next(line for line in msg.split("\r\n") if line.startswith("CSeq:"))
            by_cseq.setdefault(cseq, msg)
    sent = list(by_cseq.values())
    with_body = [p for p in sent if "<presence" in p]
    assert len(with_body) == 2
    # a PUBLISH that starts a publication carries no SIP-If-Match
    assert all("SIP-If-Match" not in p for p in with_body)
    unpublishes = [p for p in sent if "Expires: 0" in p]
    assert len(unpublishes) == 2 and all("SIP-If-Match" in p for p in unpublishes)


def test_publish_rejected_content_type(kam, engine, recorder):
    pub = Publication(creds("alice", "apw"), "presence", Route("127.0.0.1", kam.port))
    pub.publish("text/plain", "hi!")
    n = wait_state(recorder, pub, "unpublished", "SIPPublicationChangedState")
    # the spec: "Unsupported media type" (RFC 3261 21.4.13, RFC 3903 section 6 step 5)
    assert n.data.code == 415
    assert [m.data.state for m in recorder.all("SIPPublicationChangedState")
            if m.sender is pub] == ["publishing", "unpublished"]
    assert not recorder.all("SIPEngineGotException")


def test_subscription_needs_registered_event(kam, engine):
    with pytest.raises(ValueError, match="not registered"):
        Subscription(creds("bob", "bpw"), SIPURI("127.0.0.1", user="alice"), "x-unknown",
                     Route("127.0.0.1", kam.port))
    engine.add_event("x-unknown", ["application/x-unknown"])
    s = Subscription(creds("bob", "bpw"), SIPURI("127.0.0.1", user="alice"), "x-unknown",
                     Route("127.0.0.1", kam.port))
    assert s.state == "TERMINATED"


def test_subscription_rejected_ends_terminated_with_code(kam, engine, recorder):
    sub = Subscription(creds("bob", "wrong"), SIPURI("127.0.0.1", user="alice"), "presence",
                       Route("127.0.0.1", kam.port))
    sub.subscribe()
    n = wait_state(recorder, sub, "TERMINATED", "SIPSubscriptionChangedState")
    assert n.data.code in (401, 403, 407)


def test_engine_stop_ends_subscription_and_publication(kam, engine_factory, recorder):
    e = engine_factory()
    route = Route("127.0.0.1", kam.port)
    pub = Publication(creds("alice", "apw"), "presence", route)
    pub.publish("application/pidf+xml", PIDF.format(basic="open", note="x"))
    wait_state(recorder, pub, "published", "SIPPublicationChangedState")
    sub = Subscription(creds("bob", "bpw"), SIPURI("127.0.0.1", user="alice"), "presence", route)
    sub.subscribe()
    wait_state(recorder, sub, "ACTIVE", "SIPSubscriptionChangedState")
    e.stop()
    assert sub.state == "TERMINATED" and pub.state == "unpublished"


def test_publication_refresh_uses_entity_tag(kam, engine_factory, recorder):
    engine_factory(trace_sip=True)
    pub = Publication(creds("alice", "apw"), "presence", Route("127.0.0.1", kam.port), expires=4)
    pub.publish("application/pidf+xml", PIDF.format(basic="open", note="refreshed"))
    wait_state(recorder, pub, "published", "SIPPublicationChangedState")
    # the refresh (after about 2 s) goes publishing -> published again: wait for the 4th
    # notification (waiting for "publishing" would return the first one at once)
    import time
    deadline = time.monotonic() + 10
    seq = []
    while len(seq) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
        seq = [m.data.state for m in recorder.all("SIPPublicationChangedState") if m.sender is pub]
    assert seq == ["publishing", "published", "publishing", "published"]
    accepted = [m.data.data for m in recorder.all("SIPEngineSIPTrace")
                if not m.data.received and m.data.data.startswith("PUBLISH")
                and "Proxy-Authorization:" in m.data.data]
    refreshes = [p for p in accepted if "<presence" not in p]
    assert refreshes, "no body-less refresh PUBLISH was sent"
    assert all("SIP-If-Match:" in p for p in refreshes)
    # the entity tag sent is the one the server gave in its last 200
    etags = [line.split(":", 1)[1].strip() for m in recorder.all("SIPEngineSIPTrace")
             if m.data.received and m.data.data.startswith("SIP/2.0 200")
             for line in m.data.data.split("\r\n") if line.lower().startswith("sip-etag:")]
    sent = [line.split(":", 1)[1].strip() for p in refreshes for line in p.split("\r\n")
            if line.startswith("SIP-If-Match:")]
    assert sent[0] in etags
    pub.unpublish()
    wait_state(recorder, pub, "unpublished", "SIPPublicationChangedState")
    assert not recorder.all("SIPEngineGotException")


def test_subscription_refresh_and_notifies_with_body_only(kam, engine_factory, recorder):
    engine_factory(trace_sip=True)
    route = Route("127.0.0.1", kam.port)
    pub = Publication(creds("alice", "apw"), "presence", route)
    pub.publish("application/pidf+xml", PIDF.format(basic="open", note="watched"))
    wait_state(recorder, pub, "published", "SIPPublicationChangedState")
    sub = Subscription(creds("bob", "bpw"), SIPURI("127.0.0.1", user="alice"), "presence", route,
                       expires=6)
    sub.subscribe()
    wait_state(recorder, sub, "ACTIVE", "SIPSubscriptionChangedState")
    import time
    time.sleep(8)                     # PJSIP refreshes before the 6 s run out
    subscribes = [m.data.data for m in recorder.all("SIPEngineSIPTrace")
                  if not m.data.received and m.data.data.startswith("SUBSCRIBE")]

    def header(msg, name):
        return next((line.split(":", 1)[1].strip() for line in msg.split("\r\n")
                     if line.lower().startswith(name.lower() + ":")), "")

    # a refresh is a SUBSCRIBE inside the dialog (To has the server's tag), not expiring it
    refreshes = [m for m in subscribes if ";tag=" in header(m, "To") and header(m, "Expires") != "0"]
    assert refreshes, "no refreshing SUBSCRIBE"
    assert len({header(m, "Call-ID") for m in subscribes}) == 1
    assert sub.state == "ACTIVE"
    sub.unsubscribe()
    wait_state(recorder, sub, "TERMINATED", "SIPSubscriptionChangedState")
    notifies = [m.data.data for m in recorder.all("SIPEngineSIPTrace")
                if m.data.received and m.data.data.startswith("NOTIFY")]
    with_body = [n for n in notifies if n.split("\r\n\r\n", 1)[1].strip()]
    got = [n for n in recorder.all("SIPSubscriptionGotNotify") if n.sender is sub]
    assert len(notifies) >= 2
    assert len(got) == len(with_body)
    pub.unpublish()
    wait_state(recorder, pub, "unpublished", "SIPPublicationChangedState")
