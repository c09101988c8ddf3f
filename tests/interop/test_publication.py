"""Publication (RFC 3903): the queue, publish() while publishing/published, the 412 re-publish,
extra_headers, runtime expires, and the failure codes -- against kamailio's presence server
(presence + presence_xml) and, where kamailio cannot be made to answer as needed, against a
scripted UDP server in this file (hand-written SIP on a raw socket)."""
import socket
import threading
import time

import pytest

from conftest import calls_on_state
from sipcore import (Credentials, InvalidStateError, Publication, Registration, Route, signals,
                     SIPURI)

PIDF = """<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@127.0.0.1">
  <tuple id="t1"><status><basic>open</basic></status><note>{note}</note></tuple>
</presence>"""
CT = "application/pidf+xml"
PUB = "SIPPublicationChangedState"


def creds(user="alice", password="apw"):
    return Credentials(SIPURI("127.0.0.1", user=user), password)



@pytest.fixture(autouse=True)
def no_exceptions(recorder):
    yield
    assert not recorder.all("SIPEngineGotException"), recorder.all("SIPEngineGotException")


def states(rec, obj, name=PUB):
    return [n.data.state for n in rec.all(name) if n.sender is obj]


def notes(rec, obj, name=PUB):
    return [n for n in rec.all(name) if n.sender is obj]


def wait_seq(rec, obj, expected, timeout=15, name=PUB):
    """Wait until ``obj`` has sent len(expected) state notifications, then compare them all
    (a state already reported cannot satisfy the wait)."""
    deadline = time.monotonic() + timeout
    while len(states(rec, obj, name)) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)                      # nothing more may follow at once
    assert states(rec, obj, name) == expected
    return notes(rec, obj, name)


def header(msg, name):
    for line in msg.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def body(msg):
    return msg.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in msg else ""


def sent_publishes(rec, authorized_only=True):
    """PUBLISH requests sipcore sent, once per CSeq (a UDP retransmission repeats one);
    ``authorized_only``: those kamailio accepted past its 407 challenge."""
    by_cseq = {}
    for m in rec.all("SIPEngineSIPTrace"):
        msg = m.data.data
        if not m.data.received and msg.startswith("PUBLISH "):
            if authorized_only and header(msg, "Proxy-Authorization") is None:
                continue
            by_cseq.setdefault((header(msg, "Call-ID"), header(msg, "CSeq")), msg)
    return list(by_cseq.values())


def received_responses(rec, method="PUBLISH"):
    """Final responses sipcore received, once each, leaving out the 407 challenges."""
    out, seen = [], set()
    for m in rec.all("SIPEngineSIPTrace"):
        msg = m.data.data
        if (m.data.received and msg.startswith("SIP/2.0 ") and " 407 " not in msg.split("\r\n")[0]
                and not msg.startswith("SIP/2.0 1") and header(msg, "CSeq").endswith(method)):
            key = (header(msg, "Call-ID"), header(msg, "CSeq"), msg.split("\r\n", 1)[0])
            if key not in seen:
                seen.add(key)
                out.append(msg)
    return out


def presentity(kam):
    return kam.sql("SELECT etag, body FROM presentity WHERE username='alice' AND event='presence'")


def text(b):
    return b.decode() if isinstance(b, bytes) else b


# ---------------------------------------------------------------- kamailio: queue

def test_publish_then_unpublish_at_once_is_queued(kam, engine, recorder):
    pub = Publication(creds(), "presence", Route("127.0.0.1", kam.port), expires=60)
    pub.publish(CT, PIDF.format(note="short-lived"))
    pub.unpublish()                       # made while publishing: done after the 200
    ns = wait_seq(recorder, pub, ["publishing", "published", "unpublishing", "unpublished"])
    assert [(n.data.code, n.data.reason) for n in ns if hasattr(n.data, "code")] == [
        (200, "OK"), (200, "OK")]
    assert presentity(kam) == []
    assert pub.state == "unpublished"


def test_publish_twice_at_once_second_content_ends_published(kam, engine_factory, recorder):
    engine_factory(trace_sip=True)
    pub = Publication(creds(), "presence", Route("127.0.0.1", kam.port), expires=60)
    pub.publish(CT, PIDF.format(note="first"))
    pub.publish(CT, PIDF.format(note="second"))          # queued behind the first PUBLISH
    wait_seq(recorder, pub, ["publishing", "published", "publishing", "published"])
    sent = sent_publishes(recorder)
    assert len(sent) == 2
    assert "first" in body(sent[0]) and header(sent[0], "SIP-If-Match") is None
    # the second modifies the state the first created: it names its entity tag (RFC 3903 4.4)
    etag1 = header(received_responses(recorder)[0], "SIP-ETag")
    assert "second" in body(sent[1]) and header(sent[1], "SIP-If-Match") == etag1
    rows = presentity(kam)
    assert len(rows) == 1 and "second" in text(rows[0][1]) and "first" not in text(rows[0][1])
    pub.unpublish()
    wait_seq(recorder, pub, ["publishing", "published", "publishing", "published",
                             "unpublishing", "unpublished"])
    assert presentity(kam) == []


def test_publish_while_published_replaces_content(kam, engine_factory, recorder):
    engine_factory(trace_sip=True)
    pub = Publication(creds(), "presence", Route("127.0.0.1", kam.port), expires=60)
    pub.publish(CT, PIDF.format(note="before"))
    wait_seq(recorder, pub, ["publishing", "published"])
    pub.publish(CT, PIDF.format(note="after"))
    ns = wait_seq(recorder, pub, ["publishing", "published", "publishing", "published"])
    assert ns[-1].data.code == 200
    sent = sent_publishes(recorder)
    assert len(sent) == 2 and "after" in body(sent[1])
    assert header(sent[1], "SIP-If-Match") == header(received_responses(recorder)[0], "SIP-ETag")
    rows = presentity(kam)
    assert len(rows) == 1 and "after" in text(rows[0][1])


def test_queued_calls_last_one_wins(kam, engine_factory, recorder):
    """publish(), then during the PUBLISH unpublish() and publish(new): the last call decides;
    from published, unpublish(), publish(), unpublish() ends unpublished."""
    engine_factory(trace_sip=True)
    pub = Publication(creds(), "presence", Route("127.0.0.1", kam.port), expires=60)
    with calls_on_state(signals.SIPPublicationChangedState, pub, "publishing", pub.unpublish,
                        lambda: pub.publish(CT, PIDF.format(note="three"))) as done:
        pub.publish(CT, PIDF.format(note="one"))   # while publishing: unpublish(), publish()
        wait_seq(recorder, pub, ["publishing", "published", "publishing", "published"])
    assert done and "three" in text(presentity(kam)[0][1])
    with calls_on_state(signals.SIPPublicationChangedState, pub, "unpublishing",
                        lambda: pub.publish(CT, PIDF.format(note="five")), pub.unpublish) as done:
        pub.unpublish()                  # while unpublishing: publish(), unpublish()
        wait_seq(recorder, pub, ["publishing", "published", "publishing", "published",
                                 "unpublishing", "unpublished"])
    assert done
    assert presentity(kam) == []
    assert not [p for p in sent_publishes(recorder) if "five" in p]


def test_unpublish_when_unpublished_does_nothing(kam, engine_factory, recorder):
    engine_factory(trace_sip=True)
    pub = Publication(creds(), "presence", Route("127.0.0.1", kam.port))
    pub.unpublish()
    time.sleep(0.5)
    assert states(recorder, pub) == [] and pub.state == "unpublished"
    assert sent_publishes(recorder, authorized_only=False) == []


# ---------------------------------------------------------------- kamailio: refresh, 412

def test_412_on_refresh_republishes_full_content(kam, engine_factory, recorder):
    engine_factory(trace_sip=True)
    pub = Publication(creds(), "presence", Route("127.0.0.1", kam.port), expires=4)
    pub.publish(CT, PIDF.format(note="kept"))
    wait_seq(recorder, pub, ["publishing", "published"])
    kam.sql("DELETE FROM presentity")     # the server forgets the entity tag
    # the refresh (after about 2 s) is answered 412; the object publishes the content afresh
    ns = wait_seq(recorder, pub, ["publishing", "published", "publishing", "published"],
                  timeout=10)
    assert ns[-1].data.code == 200
    sent = sent_publishes(recorder)
    responses = received_responses(recorder)
    assert [int(r.split(" ", 2)[1]) for r in responses] == [200, 412, 200]
    first, refresh, again = sent
    assert header(refresh, "SIP-If-Match") == header(responses[0], "SIP-ETag")
    assert body(refresh) == ""
    assert header(again, "SIP-If-Match") is None and "kept" in body(again)
    rows = presentity(kam)
    assert len(rows) == 1 and "kept" in text(rows[0][1])
    pub.unpublish()
    wait_seq(recorder, pub, ["publishing", "published", "publishing", "published",
                             "unpublishing", "unpublished"])


def test_extra_headers_on_every_publish_and_runtime_expires(kam, engine_factory, recorder):
    engine_factory(trace_sip=True)
    pub = Publication(creds(), "presence", Route("127.0.0.1", kam.port), expires=3,
                      extra_headers={"X-Test": "hello", "Priority": "urgent"})
    assert pub.expires == 3
    pub.publish(CT, PIDF.format(note="a"))
    wait_seq(recorder, pub, ["publishing", "published"])
    pub.expires = 6                        # used from the next refresh on
    wait_seq(recorder, pub, ["publishing", "published", "publishing", "published"], timeout=10)
    pub.publish(CT, PIDF.format(note="b"))
    pub.unpublish()
    wait_seq(recorder, pub, ["publishing", "published", "publishing", "published",
                             "publishing", "published", "unpublishing", "unpublished"])
    every = sent_publishes(recorder, authorized_only=False)
    assert len(every) == 8                 # 4 requests, each challenged once (407)
    assert all(header(p, "X-Test") == "hello" and header(p, "Priority") == "urgent"
               for p in every)
    accepted = sent_publishes(recorder)
    assert [header(p, "Expires") for p in accepted] == ["3", "6", "6", "0"]
    assert [bool(body(p)) for p in accepted] == [True, False, True, False]


# ---------------------------------------------------------------- kamailio: failure codes

def test_text_plain_rejected_415(kam, engine_factory, recorder):
    """The spec's own example: text/plain is no presence document -> 415 Unsupported Media
    Type (RFC 3903 section 6 step 5, RFC 3261 21.4.13)."""
    engine_factory(trace_sip=True)
    pub = Publication(creds(), "presence", Route("127.0.0.1", kam.port))
    pub.publish("text/plain", "hi!")
    ns = wait_seq(recorder, pub, ["publishing", "unpublished"])
    assert ns[-1].data.code == 415
    assert len(sent_publishes(recorder)) == 1      # no retry
    assert presentity(kam) == []


def test_unknown_event_rejected_489(kam, engine, recorder):
    """RFC 3903 section 6 step 2 / RFC 6665: an event package the server does not know -> 489."""
    pub = Publication(creds(), "x-unknown", Route("127.0.0.1", kam.port))
    pub.publish("application/x-unknown", "data")
    ns = wait_seq(recorder, pub, ["publishing", "unpublished"])
    assert ns[-1].data.code == 489


def test_wrong_password_407(kam, engine, recorder):
    """Credentials the proxy rejects: it challenges again (RFC 3261 22.3), the final 407 ends it."""
    pub = Publication(creds(password="wrong"), "presence", Route("127.0.0.1", kam.port))
    pub.publish(CT, PIDF.format(note="x"))
    ns = wait_seq(recorder, pub, ["publishing", "unpublished"])
    assert ns[-1].data.code == 407


# ---------------------------------------------------------------- Engine stop

def test_engine_stop_notifies_unpublished(kam, engine_factory, recorder):
    e = engine_factory()
    route = Route("127.0.0.1", kam.port)
    published = Publication(creds(), "presence", route)
    published.publish(CT, PIDF.format(note="x"))
    wait_seq(recorder, published, ["publishing", "published"])
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # a server that never answers
    silent.bind(("127.0.0.1", 0))
    in_flight = Publication(creds("bob", "bpw"), "presence",
                            Route("127.0.0.1", silent.getsockname()[1]))
    in_flight.publish(CT, PIDF.format(note="y"))     # stopped mid-transaction
    try:
        e.stop()        # (waits 2 s for the silent one, then gives up on it)
    finally:
        silent.close()
    n = recorder.wait_for("SIPEngineCouldNotEnd", timeout=1)
    assert n.data.objects == [in_flight]
    # ended on the server first (issue #14): the un-PUBLISH, answered
    assert states(recorder, published) == ["publishing", "published", "unpublishing",
                                           "unpublished"]
    assert kam.sql("SELECT count(*) FROM presentity")[0][0] == 0
    assert states(recorder, in_flight)[0] == "publishing"
    assert states(recorder, in_flight)[-1] == "unpublished"
    assert published.state == in_flight.state == "unpublished"
    with pytest.raises(InvalidStateError, match="stopped"):
        published.publish(CT, PIDF.format(note="z"))


def test_bad_arguments(kam, engine):
    route = Route("127.0.0.1", kam.port)
    with pytest.raises(TypeError, match="credentials"):
        Publication("alice", "presence", route)
    with pytest.raises(ValueError, match="expires"):
        Publication(creds(), "presence", route, expires=0)
    pub = Publication(creds(), "presence", route)
    with pytest.raises(ValueError, match="content_type"):
        pub.publish("pidf", "x")
    with pytest.raises(TypeError, match="body"):
        pub.publish(CT, 42)
    with pytest.raises(TypeError, match="expires"):
        pub.expires = 1.5
    assert pub.state == "unpublished"


# ---------------------------------------------------------------- scripted server

class ScriptedServer:
    """A UDP SIP server on 127.0.0.1 that answers each new request as ``answer(req, i)`` says
    (i counts new requests from 0): (code, reason, {header: value}), or None to stay silent.
    A retransmission (same Via branch) gets the same answer again.  ``requests`` keeps the
    first copy of each request as text; ``datagrams`` counts everything received."""

    def __init__(self, answer):
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.requests, self.datagrams, self.times = [], 0, []
        self._answers = {}
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except OSError:
                continue
            self.datagrams += 1
            msg = data.decode("utf-8", "replace")
            if msg.startswith("SIP/2.0") or msg.startswith("ACK "):
                continue
            branch = header(msg, "Via").split("branch=")[1].split(";")[0]
            if branch not in self._answers:
                self.requests.append(msg)
                self.times.append(time.monotonic())
                self._answers[branch] = self._response(msg, self.answer(msg, len(self.requests) - 1))
            if self._answers[branch] is not None:
                self.sock.sendto(self._answers[branch], addr)

    @staticmethod
    def _response(req, answer):
        if answer is None:
            return None
        code, reason, extra = answer
        lines = [f"SIP/2.0 {code} {reason}"]
        for line in req.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
            name = line.split(":", 1)[0].strip().lower()
            if name in ("via", "from", "call-id", "cseq"):
                lines.append(line)
            elif name == "to":
                lines.append(line if ";tag=" in line else line + ";tag=srv1")
        lines += [f"{k}: {v}" for k, v in extra.items()]
        lines.append("Content-Length: 0")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def server():
    made = []

    def make(answer):
        made.append(ScriptedServer(answer))
        return made[-1]
    yield make
    for s in made:
        s.close()


def etag_server(expires="60"):
    """200 with a new entity tag for a PUBLISH with a body or a known tag; 412 otherwise."""
    tags = set()

    def answer(req, i):
        tag = header(req, "SIP-If-Match")
        if tag is not None and tag not in tags:
            return 412, "Conditional Request Failed", {}
        if header(req, "Expires") == "0":
            return 200, "OK", {"Expires": "0"}
        tags.add(f"tag{i}")
        return 200, "OK", {"SIP-ETag": f"tag{i}", "Expires": expires}
    return answer


def test_server_shortened_expires_used_for_refresh(engine, recorder, server):
    """The 200's Expires (2 s, asked for 60) sets the refresh time (RFC 3903 section 4.1)."""
    srv = server(etag_server(expires="2"))
    pub = Publication(creds(), "presence", Route("127.0.0.1", srv.port), expires=60)
    pub.publish(CT, PIDF.format(note="x"))
    wait_seq(recorder, pub, ["publishing", "published", "publishing", "published"], timeout=5)
    first, refresh = srv.requests[:2]
    assert header(first, "Expires") == "60"
    assert header(refresh, "SIP-If-Match") == "tag0" and body(refresh) == ""
    assert srv.times[1] - srv.times[0] < 2.0          # before the granted 2 s ran out
    pub.unpublish()
    wait_seq(recorder, pub, ["publishing", "published", "publishing", "published",
                             "unpublishing", "unpublished"], timeout=5)


def test_412_to_an_unconditional_publish_fails_without_loop(engine, recorder, server):
    """A server answering 412 to every PUBLISH: the object must end unpublished with 412, not
    re-publish for ever (RFC 3903 4.1: 412 answers a request naming an unknown entity tag)."""
    srv = server(lambda req, i: (412, "Conditional Request Failed", {}))
    pub = Publication(creds(), "presence", Route("127.0.0.1", srv.port))
    pub.publish(CT, PIDF.format(note="x"))
    ns = wait_seq(recorder, pub, ["publishing", "unpublished"], timeout=5)
    assert ns[-1].data.code == 412
    time.sleep(0.5)
    assert len(srv.requests) == 1


def test_412_to_unpublish_ends_unpublished(engine, recorder, server):
    """The server no longer has the state an un-PUBLISH removes: it is gone either way, and the
    content is not published again."""
    def answer(req, i):
        if header(req, "Expires") == "0":
            return 412, "Conditional Request Failed", {}
        return 200, "OK", {"SIP-ETag": "t1", "Expires": "60"}
    srv = server(answer)
    pub = Publication(creds(), "presence", Route("127.0.0.1", srv.port))
    pub.publish(CT, PIDF.format(note="x"))
    wait_seq(recorder, pub, ["publishing", "published"], timeout=5)
    pub.unpublish()
    ns = wait_seq(recorder, pub, ["publishing", "published", "unpublishing", "unpublished"],
                  timeout=5)
    assert ns[-1].data.code == 412
    assert len(srv.requests) == 2 and header(srv.requests[1], "SIP-If-Match") == "t1"


@pytest.mark.long        # 32 s of timer F; the short form: tests/unit/test_request_timeout.py
def test_silent_server_408_for_publish_and_register(engine, recorder, server):
    """Nobody answers: the client transaction times out after timer F = 64*T1 = 32 s (RFC 3261
    17.1.2.2) and the object reports 408 -- Publication and Registration side by side."""
    pub_srv, reg_srv = server(lambda req, i: None), server(lambda req, i: None)
    pub = Publication(creds(), "presence", Route("127.0.0.1", pub_srv.port))
    reg = Registration(creds(), Route("127.0.0.1", reg_srv.port))
    start = time.monotonic()
    pub.publish(CT, PIDF.format(note="x"))
    reg.register()
    ns = wait_seq(recorder, pub, ["publishing", "unpublished"], timeout=40)
    assert ns[-1].data.code == 408
    assert 30 <= time.monotonic() - start <= 36
    rs = wait_seq(recorder, reg, ["registering", "unregistered"], timeout=5,
                  name="SIPRegistrationChangedState")
    assert rs[-1].data.code == 408
    # one request each, retransmitted (timer E: 0.5, 1, 2, 4, 4, ... s) until timer F
    assert len(pub_srv.requests) == 1 and len(reg_srv.requests) == 1
    assert pub_srv.datagrams >= 9 and reg_srv.datagrams >= 9


def test_calls_from_a_notification_receiver(kam, engine, recorder):
    """publish()/unpublish() made by a receiver of SIPPublicationChangedState (on the poll
    thread, inside PJSIP's callback) are carried out like any other call."""
    from sipcore import signals
    pub = Publication(creds(), "presence", Route("127.0.0.1", kam.port), expires=60)
    seen = []

    def on_state(sender, **data):
        if sender is not pub:
            return
        seen.append(data["state"])
        if seen == ["publishing", "published"]:
            pub.publish(CT, PIDF.format(note="from the receiver"))
        elif seen == ["publishing", "published", "publishing", "published"]:
            pub.unpublish()

    signals.SIPPublicationChangedState.connect(on_state)
    try:
        pub.publish(CT, PIDF.format(note="first"))
        ns = wait_seq(recorder, pub, ["publishing", "published"] * 2
                      + ["unpublishing", "unpublished"])
    finally:
        signals.SIPPublicationChangedState.disconnect(on_state)
    assert [n.data.code for n in ns[1::2]] == [200, 200, 200]
    assert presentity(kam) == []
