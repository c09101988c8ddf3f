"""Subscription against a real notifier: sipp as the UAS of scripted SUBSCRIBE/NOTIFY
dialogs (RFC 6665), written per test to tmp_path, so each test chooses the notifier's
answers (202/200/4xx, Subscription-State, NOTIFY bodies) and sipp checks the subscriber's
side (it exits 0 only when every message it waited for came, in order).

Expected values come from the spec (section "Subscription": states mirror pjsip_evsub, the
last three copied from the NOTIFY's Subscription-State, an arbitrary string otherwise;
``code``/``reason`` only on a state change a response caused; no SIPSubscriptionGotNotify
for an empty NOTIFY; ``extra_headers`` on any outgoing SUBSCRIBE; ``contact_uri`` is the
Contact) and RFC 6665 / RFC 3261 (Timer F = 64*T1 = 32 s for an unanswered SUBSCRIBE).
"""
from __future__ import annotations

import socket
import time

import pytest

from peers import sipp
from sipcore import Credentials, InvalidStateError, Route, SIPURI, Subscription

PIDF = ('<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@127.0.0.1">'
        '<tuple id="t1"><status><basic>open</basic></status></tuple></presence>')
# sipp ends every line of a message it sends with CRLF, the body's last line too (and
# counts it in Content-Length): the body on the wire is PIDF + CRLF.
PIDF_ON_WIRE = (PIDF + "\r\n").encode()

# ---------------------------------------------------------------- sipp notifier scenarios

CONTACT = "Contact: <sip:notifier@[local_ip]:[local_port];transport=[transport]>"


def recv_subscribe(first: bool = False) -> str:
    """The first SUBSCRIBE of the dialog keeps the route set/Contact ([next_url]) and the
    subscriber's From (the To of our NOTIFYs)."""
    if first:
        return ('<recv request="SUBSCRIBE" rrs="true"><action>'
                '<ereg regexp=".*" search_in="hdr" header="From:" assign_to="subscriber"/>'
                '</action></recv>')
    return sipp.recv(request="SUBSCRIBE")


def respond(code: int, reason: str, expires: int | None = None, new_tag: bool = True) -> str:
    """A response to the last SUBSCRIBE; ``new_tag``: the initial one (it creates our tag)."""
    return sipp.respond(code, reason, new_tag=new_tag,
                        contact=CONTACT if 200 <= code < 300 else None,
                        headers=(f"Expires: {expires}",) if expires is not None else ())


def notify(cseq: int, state: str, body: str | None = None,
           content_type: str | None = "application/pidf+xml") -> str:
    """A NOTIFY in the dialog, then the 200 the subscriber must answer with.  Without
    ``body`` it is empty (Content-Length: 0), with ``content_type`` if given."""
    lines = ["NOTIFY [next_url] SIP/2.0",
             "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
             "From: <sip:alice@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]",
             "To:[$subscriber]", "Call-ID: [call_id]", f"CSeq: {cseq} NOTIFY", CONTACT,
             "Max-Forwards: 70", "Event: presence", f"Subscription-State: {state}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    if body is None:
        text = sipp.cdata(lines + ["Content-Length: 0"])
    else:
        text = sipp.cdata(lines + ["Content-Length: [len]"], [body])
    return f'<send retrans="500">{text}</send>' + sipp.recv(response=200)


def notifier(tmp_path, *steps: str, calls: int = 1, transport: str = "udp"):
    """sipp running ``steps`` as UAS on a free loopback port (``calls`` dialogs), over UDP
    or TCP (one connection); ``sipp.finish`` gives its verdict."""
    return sipp.uas(tmp_path, sipp.scenario("notifier", *steps), calls=calls,
                    transport=transport)


# ---------------------------------------------------------------- what sipcore reported

def changes(rec, sub) -> list:
    return [n for n in rec.all("SIPSubscriptionChangedState") if n.sender is sub]


def data(n) -> dict:
    d = dict(vars(n.data))
    assert d.pop("timestamp").tzinfo is not None
    return d


def reported(rec, sub) -> list[dict]:
    """Every SIPSubscriptionChangedState of ``sub``, in order, without the timestamp."""
    return [data(n) for n in changes(rec, sub)]


def assert_chained(rec, sub) -> None:
    """Each state change is one: it differs from the previous state, unless its data (a
    response's code) says why it was sent again."""
    prev = "TERMINATED"                     # a new Subscription is TERMINATED
    for d in reported(rec, sub):
        assert d["state"] != prev or "code" in d, reported(rec, sub)
        prev = d["state"]


def wait_state(rec, sub, state, timeout=10):
    return rec.wait_for("SIPSubscriptionChangedState", timeout=timeout, sender=sub,
                        where=lambda n: n.data.state == state)


def got_notify(rec, sub) -> list:
    return [n for n in rec.all("SIPSubscriptionGotNotify") if n.sender is sub]


def no_exceptions(rec) -> None:
    assert not rec.all("SIPEngineGotException"), rec.all("SIPEngineGotException")[0].data.traceback


def traced(rec, sent: bool, start: str) -> list[str]:
    return [n.data.data for n in rec.all("SIPEngineSIPTrace")
            if n.data.received is not sent and n.data.data.startswith(start)]


def headers(msg: str, name: str) -> list[str]:
    head = msg.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
    return [line.split(":", 1)[1].strip() for line in head
            if line.split(":", 1)[0].strip().lower() == name.lower()]


def unsubscribe_does_nothing(rec, sub) -> None:
    """unsubscribe() in TERMINATED: nothing sent, nothing notified (a documented deviation:
    the spec allows it outside TERMINATED and says no more)."""
    before = len(rec.all())
    sub.unsubscribe()
    assert sub.state == "TERMINATED" and len(rec.all()) == before


def header(msg: str, name: str) -> str:
    values = headers(msg, name)
    assert len(values) == 1, (name, msg)
    return values[0]


def body(msg: str) -> bytes:
    return msg.split("\r\n\r\n", 1)[1].encode()


def subscription(port: int, transport: str | None = None, **kw) -> Subscription:
    return Subscription(Credentials(SIPURI("127.0.0.1", user="bob")),
                        SIPURI("127.0.0.1", user="alice", port=port), "presence",
                        Route("127.0.0.1", port, transport), **kw)


def subscribe_through(recorder, tmp_path, *steps: str, state: str = "TERMINATED",
                      transport: str | None = None) -> Subscription:
    """A Subscription to a notifier running ``steps``: subscribed, until ``state``; then
    sipp's verdict (every message as scripted)."""
    with notifier(tmp_path, *steps, transport=transport or "udp") as peer:
        sub = subscription(peer.port, transport)
        sub.subscribe()
        wait_state(recorder, sub, state)
        sipp.finish(peer, tmp_path)
    return sub


# ---------------------------------------------------------------- tests

def test_states_sent_accepted_pending_active_then_notifier_terminates(engine_factory, recorder,
                                                                      tmp_path):
    """100, 202, NOTIFY pending (empty, with a Content-Type), NOTIFY active with a PIDF body,
    NOTIFY terminated;reason=noresource: SENT, ACCEPTED (202 Accepted), PENDING, ACTIVE,
    TERMINATED; one SIPSubscriptionGotNotify, for the body; a call the state forbids
    raises InvalidStateError naming that state."""
    engine_factory(trace_sip=True)
    trying = respond(100, "Trying", new_tag=False)
    with notifier(tmp_path, recv_subscribe(first=True), trying, sipp.pause(800),
                  respond(202, "Accepted", expires=60), sipp.pause(800),
                  notify(1, "pending;expires=60"), sipp.pause(800),
                  notify(2, "active;expires=60", body=PIDF), sipp.pause(200),
                  notify(3, "terminated;reason=noresource")) as peer:
        sub = subscription(peer.port)
        sub.subscribe()
        wait_state(recorder, sub, "SENT")
        # the 100 Trying is no state change; each state forbids subscribe(), naming itself
        for state in ("SENT", "ACCEPTED", "PENDING"):
            if state != "SENT":
                wait_state(recorder, sub, state)
            assert sub.state == state
            with pytest.raises(InvalidStateError, match=state):
                sub.subscribe()
        wait_state(recorder, sub, "TERMINATED")
        sipp.finish(peer, tmp_path)
    assert reported(recorder, sub) == [
        {"state": "SENT"},
        {"state": "ACCEPTED", "code": 202, "reason": "Accepted"},
        {"state": "PENDING"},             # NOTIFY-caused: no code/reason (spec)
        {"state": "ACTIVE"},
        {"state": "TERMINATED"},
    ]
    assert_chained(recorder, sub)
    assert sub.state == "TERMINATED"
    # the empty pending NOTIFY and the empty terminating one gave no GotNotify; the one with
    # the PIDF body gave exactly one, with the wire's Content-Type and body
    notifies = traced(recorder, sent=False, start="NOTIFY ")
    assert [header(m, "Subscription-State") for m in notifies] == [
        "pending;expires=60", "active;expires=60", "terminated;reason=noresource"]
    got = got_notify(recorder, sub)
    assert [(n.data.content_type, n.data.body) for n in got] == [
        ("application/pidf+xml", PIDF_ON_WIRE)]
    assert body(notifies[1]) == PIDF_ON_WIRE
    # it came while the subscription was live: after PENDING, before TERMINATED
    order = [n for n in recorder.all() if n.sender is sub]
    i_got = order.index(got[0])
    i_pending = next(i for i, n in enumerate(order) if n.name == "SIPSubscriptionChangedState"
                     and n.data.state == "PENDING")
    i_end = next(i for i, n in enumerate(order) if n.name == "SIPSubscriptionChangedState"
                 and n.data.state == "TERMINATED")
    assert i_pending < i_got < i_end
    # each NOTIFY was answered 200 (RFC 6665 4.1.3)
    oks = [m for m in traced(recorder, sent=True, start="SIP/2.0 200 ")
           if header(m, "CSeq").endswith("NOTIFY")]
    assert sorted(header(m, "CSeq") for m in oks) == ["1 NOTIFY", "2 NOTIFY", "3 NOTIFY"]
    sub.unsubscribe()       # ended by the notifier already: nothing (documented deviation)
    assert sub.state == "TERMINATED" and len(reported(recorder, sub)) == 5
    assert not [m for m in traced(recorder, sent=True, start="SUBSCRIBE ")
                if header(m, "Expires") == "0"]
    no_exceptions(recorder)


@pytest.mark.parametrize("reason", ["rejected", "timeout", "deactivated"])
def test_notifier_terminates_active_subscription(engine, recorder, tmp_path, reason):
    """A NOTIFY with Subscription-State: terminated;reason=... ends an ACTIVE subscription:
    TERMINATED, the change caused by a request (no code/reason); the terminating NOTIFY
    carries a body here, and gives its SIPSubscriptionGotNotify."""
    final_body = PIDF.replace("open", "closed")
    sub = subscribe_through(recorder, tmp_path, recv_subscribe(first=True),
                            respond(200, "OK", expires=60),
                            notify(1, "active;expires=60", body=PIDF), sipp.pause(300),
                            notify(2, f"terminated;reason={reason}", body=final_body))
    assert reported(recorder, sub) == [
        {"state": "SENT"},
        {"state": "ACCEPTED", "code": 200, "reason": "OK"},
        {"state": "ACTIVE"},
        {"state": "TERMINATED"},
    ]
    assert_chained(recorder, sub)
    assert [(n.data.content_type, n.data.body) for n in got_notify(recorder, sub)] == [
        ("application/pidf+xml", PIDF_ON_WIRE),
        ("application/pidf+xml", (final_body + "\r\n").encode())]
    unsubscribe_does_nothing(recorder, sub)
    no_exceptions(recorder)


def test_unknown_subscription_state_is_reported_as_its_text(engine, recorder, tmp_path):
    """Spec: the state is an arbitrary string when Subscription-State is not one of
    pending/active/terminated.  A NOTIFY without Content-Type nor body: no GotNotify."""
    sub = subscribe_through(recorder, tmp_path, recv_subscribe(first=True),
                            respond(202, "Accepted", expires=60),
                            notify(1, "x-Waiting;expires=60", content_type=None), sipp.pause(300),
                            notify(2, "active;expires=60", body=PIDF), sipp.pause(300),
                            notify(3, "terminated;reason=noresource", content_type=None))
    assert reported(recorder, sub) == [
        {"state": "SENT"},
        {"state": "ACCEPTED", "code": 202, "reason": "Accepted"},
        {"state": "x-Waiting"},
        {"state": "ACTIVE"},
        {"state": "TERMINATED"},
    ]
    assert_chained(recorder, sub)
    assert [n.data.body for n in got_notify(recorder, sub)] == [PIDF_ON_WIRE]
    no_exceptions(recorder)


@pytest.mark.parametrize("code,reason", [(489, "Bad Event"), (403, "Forbidden")])
def test_rejected_subscribe_terminates_with_exact_code(engine_factory, recorder, tmp_path,
                                                       code, reason):
    """A final 4xx to the SUBSCRIBE: SENT then TERMINATED with that code and reason; then
    subscribe() is allowed again (TERMINATED) and starts a new dialog; an Engine stop
    after that sends nothing more (the subscription already ended)."""
    e = engine_factory(trace_sip=True)
    with notifier(tmp_path, recv_subscribe(), respond(code, reason), calls=2) as peer:
        sub = subscription(peer.port)
        sub.subscribe()
        wait_state(recorder, sub, "TERMINATED")
        assert sub.state == "TERMINATED"
        unsubscribe_does_nothing(recorder, sub)
        sub.subscribe()
        wait_state(recorder, sub, "TERMINATED")
        sipp.finish(peer, tmp_path)
    once = [{"state": "SENT"}, {"state": "TERMINATED", "code": code, "reason": reason}]
    assert reported(recorder, sub) == once + once
    assert_chained(recorder, sub)
    assert not got_notify(recorder, sub)
    subscribes = traced(recorder, sent=True, start="SUBSCRIBE ")
    assert len(subscribes) == 2
    assert len({header(m, "Call-ID") for m in subscribes}) == 2
    no_exceptions(recorder)
    e.stop()
    assert len(changes(recorder, sub)) == 4 and sub.state == "TERMINATED"


def test_extra_headers_and_contact_uri_on_every_subscribe(engine_factory, recorder, tmp_path):
    """extra_headers on the initial SUBSCRIBE, on the refresh PJSIP sends by itself, and on
    the unsubscribe (spec: "added to any outgoing SUBSCRIBE request"); the contact_uri
    given is the Contact of each, and the notifier sends its NOTIFYs to it."""
    e = engine_factory(trace_sip=True)
    extra = {"X-Sub-Test": "one two", "X-Other": "3"}
    contact = SIPURI("127.0.0.1", user="watcher-x", port=e.local_udp_port,
                     parameters={"transport": "udp"})
    # the 202 grants 2 s: PJSIP refreshes then (expiry <= its 5 s margin); the 200 to the
    # refresh grants 60 s, so the only other SUBSCRIBE is our unsubscribe
    with notifier(tmp_path, recv_subscribe(first=True), respond(202, "Accepted", expires=2),
                  notify(1, "active;expires=2"),
                  recv_subscribe(), respond(200, "OK", expires=60, new_tag=False),
                  recv_subscribe(), respond(200, "OK", expires=0, new_tag=False),
                  notify(2, "terminated")) as peer:
        sub = subscription(peer.port, expires=30, contact_uri=contact, extra_headers=extra)
        assert sub.extra_headers == extra
        sub.subscribe()
        wait_state(recorder, sub, "ACTIVE")

        def refresh_answered(n):
            return (n.data.received and n.data.data.startswith("SIP/2.0 200 ")
                    and header(n.data.data, "CSeq").endswith("SUBSCRIBE")
                    and header(n.data.data, "Expires") == "60")
        recorder.wait_for("SIPEngineSIPTrace", timeout=8, where=refresh_answered)
        sub.unsubscribe()
        wait_state(recorder, sub, "TERMINATED")
        sipp.finish(peer, tmp_path)
    assert reported(recorder, sub) == [
        {"state": "SENT"},
        {"state": "ACCEPTED", "code": 202, "reason": "Accepted"},
        {"state": "ACTIVE"},
        {"state": "TERMINATED"},
    ]
    subscribes = traced(recorder, sent=True, start="SUBSCRIBE ")
    by_cseq = {}
    for m in subscribes:                      # a UDP retransmission repeats a CSeq
        by_cseq.setdefault(header(m, "CSeq"), m)
    initial, refresh, unsubscribe = by_cseq.values()
    assert header(initial, "Expires") == "30" and ";tag=" not in header(initial, "To")
    assert ";tag=" in header(refresh, "To") and int(header(refresh, "Expires")) > 0
    assert ";tag=" in header(unsubscribe, "To") and header(unsubscribe, "Expires") == "0"
    for m in (initial, refresh, unsubscribe):
        assert header(m, "X-Sub-Test") == "one two", m
        assert header(m, "X-Other") == "3", m
        assert header(m, "Contact") == f"<sip:watcher-x@127.0.0.1:{e.local_udp_port};transport=udp>"
    # the notifier took the Contact as the target of its NOTIFYs (RFC 6665 4.1.2 / 3261 12.1)
    assert [m.split(" ", 2)[1] for m in traced(recorder, sent=False, start="NOTIFY ")] == [
        f"sip:watcher-x@127.0.0.1:{e.local_udp_port};transport=udp"] * 2
    no_exceptions(recorder)


def test_contact_generated_without_contact_uri(engine_factory, recorder, tmp_path):
    """contact_uri=None: a Contact is generated: the credentials' user at the Engine's
    address and UDP port; no extra headers."""
    e = engine_factory(trace_sip=True)
    with notifier(tmp_path, recv_subscribe(), respond(489, "Bad Event")) as peer:
        sub = subscription(peer.port)
        assert sub.extra_headers == {}
        sub.subscribe()
        wait_state(recorder, sub, "TERMINATED")
        sipp.finish(peer, tmp_path)
    (m,) = traced(recorder, sent=True, start="SUBSCRIBE ")
    assert header(m, "Contact") == f"<sip:bob@127.0.0.1:{e.local_udp_port};transport=udp>"
    assert header(m, "Event") == "presence" and header(m, "Expires") == "300"
    assert not headers(m, "X-Sub-Test")
    no_exceptions(recorder)


def test_engine_stop_notifies_terminated(engine_factory, recorder, tmp_path):
    """Engine.stop() ends an ACTIVE subscription with one SIPSubscriptionChangedState
    (TERMINATED, not response-caused: no code), sent while the Engine stops."""
    e = engine_factory()
    sub = subscribe_through(recorder, tmp_path, recv_subscribe(first=True),
                            respond(202, "Accepted", expires=60),
                            notify(1, "active;expires=60", body=PIDF), state="ACTIVE")
    assert sub.state == "ACTIVE"
    e.stop()
    assert sub.state == "TERMINATED"
    assert reported(recorder, sub) == [
        {"state": "SENT"},
        {"state": "ACCEPTED", "code": 202, "reason": "Accepted"},
        {"state": "ACTIVE"},
        {"state": "TERMINATED"},
    ]
    assert_chained(recorder, sub)
    names = [(n.name, n.sender is sub) for n in recorder.all()
             if n.name in ("SIPEngineWillEnd", "SIPEngineDidEnd", "SIPSubscriptionChangedState")]
    assert names[-3:] == [("SIPEngineWillEnd", False), ("SIPSubscriptionChangedState", True),
                          ("SIPEngineDidEnd", False)]
    no_exceptions(recorder)


@pytest.mark.long        # 32 s of timer F; the short form: tests/unit/test_request_timeout.py
def test_silent_notifier_times_out_with_408(engine, recorder):
    """Nobody answers the SUBSCRIBE: after Timer F (64*T1 = 32 s, RFC 3261 17.1.2.2)
    SENT -> TERMINATED with 408 Request Timeout."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        sub = subscription(silent.getsockname()[1])
        t0 = time.monotonic()
        sub.subscribe()
        wait_state(recorder, sub, "TERMINATED", timeout=45)
        elapsed = time.monotonic() - t0
    finally:
        silent.close()
    assert 31 < elapsed < 40, elapsed
    assert reported(recorder, sub) == [
        {"state": "SENT"},
        {"state": "TERMINATED", "code": 408, "reason": "Request Timeout"},
    ]
    no_exceptions(recorder)


def test_unparsable_extra_header_raises_and_sends_nothing(engine_factory, recorder):
    """An extra header PJSIP cannot parse: subscribe() raises PJSIPError naming it, nothing
    is sent, no state change, and the object stays TERMINATED (usable again)."""
    from sipcore.errors import PJSIPError
    engine_factory(trace_sip=True)
    sub = subscription(9, extra_headers={"Contact": "<sip:broken@", "X-Fine": "1"})
    with pytest.raises(PJSIPError, match="Contact"):
        sub.subscribe()
    assert sub.state == "TERMINATED" and reported(recorder, sub) == []
    assert not traced(recorder, sent=True, start="SUBSCRIBE ")
    no_exceptions(recorder)


def test_refresh_rejected_with_481_terminates_with_code(engine, recorder, tmp_path):
    """The notifier answers the refresh PJSIP sends with 481 (RFC 6665 4.1.2.2: the
    subscription is gone): ACTIVE -> TERMINATED with 481 and its reason."""
    with notifier(tmp_path, recv_subscribe(first=True), respond(202, "Accepted", expires=2),
                  notify(1, "active;expires=2", body=PIDF),
                  recv_subscribe(),
                  respond(481, "Call/Transaction Does Not Exist", new_tag=False)) as peer:
        sub = subscription(peer.port, expires=30)
        sub.subscribe()
        wait_state(recorder, sub, "ACTIVE")
        wait_state(recorder, sub, "TERMINATED", timeout=8)
        sipp.finish(peer, tmp_path)
    assert reported(recorder, sub) == [
        {"state": "SENT"},
        {"state": "ACCEPTED", "code": 202, "reason": "Accepted"},
        {"state": "ACTIVE"},
        {"state": "TERMINATED", "code": 481, "reason": "Call/Transaction Does Not Exist"},
    ]
    assert_chained(recorder, sub)
    assert len(got_notify(recorder, sub)) == 1
    no_exceptions(recorder)


def test_unsubscribe_in_pending_ends_without_final_notify(engine_factory, recorder, tmp_path):
    """unsubscribe() in PENDING (allowed: not TERMINATED) sends SUBSCRIBE Expires: 0; the
    notifier answers 200 but never sends the terminating NOTIFY: the subscription still
    ends, TERMINATED without a code, in bounded time."""
    engine_factory(trace_sip=True)
    with notifier(tmp_path, recv_subscribe(first=True), respond(202, "Accepted", expires=60),
                  notify(1, "pending;expires=60"),
                  recv_subscribe(), respond(200, "OK", expires=0, new_tag=False)) as peer:
        sub = subscription(peer.port)
        sub.subscribe()
        wait_state(recorder, sub, "PENDING")
        t0 = time.monotonic()
        sub.unsubscribe()
        wait_state(recorder, sub, "TERMINATED", timeout=15)
        elapsed = time.monotonic() - t0
        sipp.finish(peer, tmp_path)
    assert elapsed < 10, elapsed
    assert reported(recorder, sub) == [
        {"state": "SENT"},
        {"state": "ACCEPTED", "code": 202, "reason": "Accepted"},
        {"state": "PENDING"},
        {"state": "TERMINATED"},
    ]
    last = traced(recorder, sent=True, start="SUBSCRIBE ")[-1]
    assert header(last, "Expires") == "0" and ";tag=" in header(last, "To")
    assert not got_notify(recorder, sub)
    no_exceptions(recorder)


def test_subscription_over_tcp(engine_factory, recorder, tmp_path):
    """Route over TCP: the SUBSCRIBE leaves over TCP with a ;transport=tcp Contact at the
    Engine's TCP port, and the notifier's NOTIFYs come back over TCP (RFC 3261 18)."""
    e = engine_factory(trace_sip=True)
    sub = subscribe_through(recorder, tmp_path, recv_subscribe(first=True),
                            respond(200, "OK", expires=60),
                            notify(1, "active;expires=60", body=PIDF), sipp.pause(200),
                            notify(2, "terminated;reason=noresource"), transport="tcp")
    assert reported(recorder, sub) == [
        {"state": "SENT"},
        {"state": "ACCEPTED", "code": 200, "reason": "OK"},
        {"state": "ACTIVE"},
        {"state": "TERMINATED"},
    ]
    (m,) = traced(recorder, sent=True, start="SUBSCRIBE ")
    assert header(m, "Via").startswith("SIP/2.0/TCP ")
    assert header(m, "Contact") == f"<sip:bob@127.0.0.1:{e.local_tcp_port};transport=tcp>"
    notifies = traced(recorder, sent=False, start="NOTIFY ")
    assert [header(n, "Via").split()[0] for n in notifies] == ["SIP/2.0/TCP"] * 2
    assert [n.data.body for n in got_notify(recorder, sub)] == [PIDF_ON_WIRE]
    no_exceptions(recorder)
