"""MESSAGE within one process (to itself) and against raw sockets on loopback."""
import socket
import threading
import time

import pytest

from conftest import in_threads, stop_behind_a_hand_off
from sipcore import (Credentials, MessagePendingError, Route, SIPURI, send_message, signals)


def _me(engine, user="alice"):
    return Credentials(SIPURI("127.0.0.1", user=user))


def test_message_to_itself(engine, recorder):
    port = engine.local_udp_port
    to = SIPURI("127.0.0.1", user="bob", port=port)
    send_message(_me(engine), to, "text/plain", "héllo", Route("127.0.0.1", port))
    got = recorder.wait_for("SIPEngineGotMessage", timeout=5)
    assert got.data.body == "héllo".encode()
    assert got.data.content_type == "text/plain"
    assert got.data.from_uri.user == "alice" and got.data.to_uri.user == "bob"
    resp = recorder.wait_for("SIPEngineGotMessageResponse", timeout=5)
    assert resp.data.to_uri is to and resp.data.code == 200 and resp.data.reason == "OK"


def test_binary_body_and_other_content_type(engine, recorder):
    port = engine.local_tcp_port
    body = bytes(range(256))
    send_message(_me(engine), SIPURI("127.0.0.1", user="bob", port=port), "application/octet-stream",
                 body, Route("127.0.0.1", port, "tcp"))
    got = recorder.wait_for("SIPEngineGotMessage", timeout=5)
    assert got.data.body == body and got.data.content_type == "application/octet-stream"
    assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=5).data.code == 200


def test_a_route_is_checked_again_when_its_transport_stops(engine, recorder):
    """The Engine remembers routes that passed its transport check (to skip it per request);
    stopping a transport must forget them, starting it again must let them through."""
    from sipcore import InvalidStateError
    me, route = _me(engine), Route("127.0.0.1", engine.local_tcp_port, "tcp")
    to = SIPURI("127.0.0.1", user="bob", port=engine.local_tcp_port)
    send_message(me, to, "text/plain", "1", route)
    assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=5).data.code == 200
    engine.set_local_tcp_port(None)
    with pytest.raises(InvalidStateError, match="TCP"):
        send_message(me, to, "text/plain", "2", route)
    engine.set_local_tcp_port(0)
    to.port = route.port = engine.local_tcp_port
    send_message(me, to, "text/plain", "3", route)
    assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=5).data.code == 200


def test_uris_with_nul_and_the_mark_cross_in_the_flat_buffer(engine, recorder):
    """A received URI with an escaped NUL (%00, unescaped by PJSIP's parser) or 0x01 (the URI
    flat form's "no value" mark) crosses in the incoming MESSAGE flat buffer like any other:
    the format escapes them (sipcore.h), there is no other way in."""
    port = engine.local_udp_port
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    sp = s.getsockname()[1]
    body = b"hello"
    s.sendto((f"MESSAGE sip:a%00b@127.0.0.1:{port} SIP/2.0\r\n"
              f"Via: SIP/2.0/UDP 127.0.0.1:{sp};branch=z9hG4bKnul1\r\n"
              f"From: <sip:x%00y@127.0.0.1:{sp};p=%01;q>;tag=1\r\n"
              f"To: <sip:a%00b@127.0.0.1:{port};x=%00%01?H=%01>\r\n"
              f"Call-ID: nul1@127.0.0.1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
              f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body,
             ("127.0.0.1", port))
    try:
        got = recorder.wait_for("SIPEngineGotMessage", timeout=5)
        assert s.recv(4096).startswith(b"SIP/2.0 200 OK")
    finally:
        s.close()
    assert got.data.to_uri.user == "a\x00b" and got.data.from_uri.user == "x\x00y"
    assert got.data.to_uri.parameters == {"x": "\x00\x01"} and got.data.to_uri.headers == {"H": "\x01"}
    assert got.data.from_uri.parameters == {"p": "\x01", "q": None}
    assert got.data.body == body and got.data.content_type == "text/plain"


def test_a_message_larger_than_the_uas_buffer_is_read_again_into_one_that_big(engine, recorder):
    """The glue writes an incoming MESSAGE into the UA's buffer (scratch); one that does not
    fit arrives with no buffer and the size it needs, and is written again into a buffer that
    big -- delivered whole, however small the buffer was (here 16 bytes: everything is larger;
    the packet limit, 4000 bytes, keeps a real one below the usual 16 KB)."""
    from sipcore import _ua
    ua = _ua.running("test")
    port = engine.local_udp_port
    body = bytes(range(256)) * 11                        # 2816 bytes
    to = SIPURI("127.0.0.1", user="big", port=port, parameters={"p": "v" * 200})
    for size, grown in ((16, True), (4096, False)):
        ua.call(ua.scratch.grow, size)
        send_message(_me(engine), to, "application/octet-stream", body, Route("127.0.0.1", port))
        got = recorder.wait_for("SIPEngineGotMessage", timeout=5)
        assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=5).data.code == 200
        assert got.data.body == body and got.data.to_uri.parameters == {"p": "v" * 200}
        assert got.data.from_uri.user == "alice"
        assert (ua.scratch.size != size) == grown and ua.scratch.size > len(body)
    assert recorder.all("SIPEngineGotException") == []


def test_a_message_over_pjsips_packet_limit_ends_with_one_503(engine, recorder):
    for kind, port in (("udp", engine.local_udp_port), ("tcp", engine.local_tcp_port)):
        send_message(_me(engine), SIPURI("127.0.0.1", user=f"big-{kind}", port=port),
                     "application/octet-stream", b"x" * 10240, Route("127.0.0.1", port, kind))
        n = recorder.wait_for("SIPEngineGotMessageResponse", timeout=5)
        assert n.data.code == 503 and n.data.reason == "Message too long (PJSIP_EMSGTOOLONG)"
    time.sleep(0.2)
    assert recorder.all("SIPEngineGotMessage") == []
    assert len(recorder.all("SIPEngineGotMessageResponse")) == 2


def test_bad_arguments_name_the_argument(engine):
    me, to, route = _me(engine), SIPURI("127.0.0.1", user="x", port=1), Route("127.0.0.1", 1)
    cases = [
        ((None, to, "text/plain", "x", route), TypeError, "credentials"),
        ((me, "sip:x@127.0.0.1", "text/plain", "x", route), TypeError, "to_uri"),
        ((me, to, "text", "x", route), ValueError, "content_type"),
        ((me, to, "text/plain", 5, route), TypeError, "body"),
        ((me, to, "text/plain", "x", ("127.0.0.1", 1)), TypeError, "route"),
    ]
    for args, exc, word in cases:
        with pytest.raises(exc, match=word):
            send_message(*args)
    with pytest.raises(ValueError, match="timeout"):
        send_message(me, to, "text/plain", "x", route, timeout=0)


def _silent_udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def test_pending_message_to_same_uri_raises_dedicated_error(engine, recorder):
    silent = _silent_udp()
    try:
        port = silent.getsockname()[1]
        to = SIPURI("127.0.0.1", user="slow", port=port)
        send_message(_me(engine), to, "text/plain", "1", Route("127.0.0.1", port), timeout=1)
        with pytest.raises(MessagePendingError) as info:
            send_message(_me(engine), to.copy(), "text/plain", "2", Route("127.0.0.1", port))
        assert info.value.to_uri == to
        # another URI is fine meanwhile
        send_message(_me(engine), SIPURI("127.0.0.1", user="other", port=port), "text/plain", "3",
                     Route("127.0.0.1", port), timeout=1)
        resp = recorder.wait_for("SIPEngineGotMessageResponse", timeout=5, where=lambda n: n.data.to_uri is to)
        assert resp.data.code == 408
        # after the final response the URI is free again
        send_message(_me(engine), to, "text/plain", "4", Route("127.0.0.1", port), timeout=0.5)
        assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=5,
                                 where=lambda n: n.data.to_uri is to).data.code == 408
    finally:
        silent.close()


def test_timeout_gives_exactly_one_408(engine, recorder):
    silent = _silent_udp()
    try:
        port = silent.getsockname()[1]
        t0 = time.monotonic()
        send_message(_me(engine), SIPURI("127.0.0.1", user="x", port=port), "text/plain", "x",
                     Route("127.0.0.1", port), timeout=0.5)
        n = recorder.wait_for("SIPEngineGotMessageResponse", timeout=5)
        assert n.data.code == 408 and 0.4 < time.monotonic() - t0 < 3
        time.sleep(1.0)
        assert len(recorder.all("SIPEngineGotMessageResponse")) == 1
    finally:
        silent.close()


def test_tcp_connection_refused_gives_503_with_reason(engine, recorder):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    send_message(_me(engine), SIPURI("127.0.0.1", user="x", port=port), "text/plain", "x",
                 Route("127.0.0.1", port, "tcp"))
    n = recorder.wait_for("SIPEngineGotMessageResponse", timeout=10)
    # RFC 3261 8.1.3.1: a transport failure is reported as if a 503 had been received
    assert n.data.code == 503 and "refused" in n.data.reason.lower()
    assert recorder.all("SIPEngineGotException") == []


def test_stop_with_pending_message_notifies_once(engine_factory, recorder):
    e = engine_factory()
    silent = _silent_udp()
    try:
        port = silent.getsockname()[1]
        send_message(_me(e), SIPURI("127.0.0.1", user="x", port=port), "text/plain", "x",
                     Route("127.0.0.1", port))
        e.stop()
        resps = recorder.all("SIPEngineGotMessageResponse")
        assert [(n.data.code, n.data.reason) for n in resps] == [(408, "Engine stopped")]
        names = recorder.names_seen("SIPEngineGotMessageResponse", "SIPEngineDidEnd")
        assert names == ["SIPEngineGotMessageResponse", "SIPEngineDidEnd"]
    finally:
        silent.close()


def test_trace_shows_both_directions_with_addresses(engine_factory, recorder):
    e = engine_factory(trace_sip=True)
    port = e.local_udp_port
    send_message(_me(e), SIPURI("127.0.0.1", user="bob", port=port), "text/plain", "t",
                 Route("127.0.0.1", port))
    recorder.wait_for("SIPEngineGotMessageResponse", timeout=5)
    traces = recorder.all("SIPEngineSIPTrace")
    kinds = [(n.data.received, n.data.data.split(" ", 1)[0]) for n in traces]
    assert kinds == [(False, "MESSAGE"), (True, "MESSAGE"), (False, "SIP/2.0"), (True, "SIP/2.0")]
    for n in traces:
        assert (n.data.source_ip, n.data.source_port) == ("127.0.0.1", port)
        assert (n.data.destination_ip, n.data.destination_port) == ("127.0.0.1", port)
        assert n.data.data.endswith("\r\n\r\n") or n.data.data.endswith("t")
    # the trace precedes the notification it caused
    names = recorder.names_seen("SIPEngineSIPTrace", "SIPEngineGotMessage")
    assert names.index("SIPEngineGotMessage") > 1
    e.trace_sip = False
    before = len(recorder.all("SIPEngineSIPTrace"))
    send_message(_me(e), SIPURI("127.0.0.1", user="bob", port=port), "text/plain", "t",
                 Route("127.0.0.1", port))
    recorder.wait_for("SIPEngineGotMessageResponse", timeout=5)
    assert len(recorder.all("SIPEngineSIPTrace")) == before


def test_trace_timestamps_are_when_the_message_crossed_not_when_it_was_delivered(
        engine_factory, recorder):
    """A trace's timestamp is taken in C as the message goes out or comes in, not when the
    poll thread gets round to notifying it: a receiver that holds up the poll thread for
    0.4 s on the received MESSAGE delays the notification of the 200 sent in the same
    poll (in C, right after it) but not its timestamp."""
    from sipcore import signals
    e = engine_factory(trace_sip=True)
    port = e.local_udp_port
    delivered = {}

    def on_trace(sender, **d):
        first = d["data"].split("\r\n", 1)[0]
        key = ("rx " if d["received"] else "tx ") + first.split(" ", 1)[0]
        delivered.setdefault(key, (d["timestamp"], time.time()))
        if key == "rx MESSAGE":
            time.sleep(0.4)

    signals.SIPEngineSIPTrace.connect(on_trace)
    try:
        send_message(_me(e), SIPURI("127.0.0.1", user="bob", port=port), "text/plain", "t",
                     Route("127.0.0.1", port))
        recorder.wait_for("SIPEngineGotMessageResponse", timeout=5)
    finally:
        signals.SIPEngineSIPTrace.disconnect(on_trace)
    rx_stamp, rx_seen = delivered["rx MESSAGE"]
    tx_stamp, tx_seen = delivered["tx SIP/2.0"]
    assert tx_seen - rx_seen >= 0.35                     # its notification was held up...
    gap = (tx_stamp - rx_stamp).total_seconds()
    assert 0 <= gap < 0.1, gap                           # ...its timestamp was not
    assert abs(rx_stamp.timestamp() - rx_seen) < 0.1     # and is wall-clock time (UTC)
    assert rx_stamp.tzinfo is not None


def test_user_agent_header_on_requests_and_responses(engine_factory, recorder):
    e = engine_factory(trace_sip=True, user_agent="UA-under-test/2")
    port = e.local_udp_port
    send_message(_me(e), SIPURI("127.0.0.1", user="bob", port=port), "text/plain", "t",
                 Route("127.0.0.1", port))
    recorder.wait_for("SIPEngineGotMessageResponse", timeout=5)
    sent = [n.data.data for n in recorder.all("SIPEngineSIPTrace") if not n.data.received]
    assert len(sent) == 2 and all("\r\nUser-Agent: UA-under-test/2\r\n" in m for m in sent)


def test_eight_threads_sending_at_once_each_response_exactly_once(engine, recorder):
    port = engine.local_udp_port
    per_thread = 40

    def worker(t):
        for i in range(per_thread):
            to = SIPURI("127.0.0.1", user=f"t{t}m{i}", port=port)
            send_message(_me(engine), to, "text/plain", f"{t}/{i}", Route("127.0.0.1", port))

    assert not in_threads(worker, timeout=60)
    deadline = time.monotonic() + 20
    while len(recorder.all("SIPEngineGotMessageResponse")) < 8 * per_thread and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    resps = recorder.all("SIPEngineGotMessageResponse")
    users = sorted(n.data.to_uri.user for n in resps)
    assert users == sorted(f"t{t}m{i}" for t in range(8) for i in range(per_thread))
    assert all(n.data.code == 200 for n in resps)
    assert len(recorder.all("SIPEngineGotMessage")) == 8 * per_thread


def test_receiver_on_poll_thread_can_send(engine, recorder):
    port = engine.local_udp_port
    replies = []

    def on_message(sender, **d):
        if d["body"] == b"ping":
            send_message(_me(engine, "bob"), SIPURI("127.0.0.1", user="alice2", port=port),
                         "text/plain", "pong", Route("127.0.0.1", port))
            replies.append(threading.current_thread().name)

    signals.SIPEngineGotMessage.connect(on_message)
    try:
        send_message(_me(engine), SIPURI("127.0.0.1", user="bob", port=port), "text/plain", "ping",
                     Route("127.0.0.1", port))
        recorder.wait_for("SIPEngineGotMessage", timeout=5, where=lambda n: n.data.body == b"pong")
    finally:
        signals.SIPEngineGotMessage.disconnect(on_message)
    assert replies == ["sipcore-poll"]


def test_call_ids_and_branches_differ_between_processes():
    """pjlib's GUIDs come from pj_rand(): each Engine start seeds it from the OS."""
    import subprocess
    import sys
    code = r'''
from sipcore import *
e = Engine(); e.start(local_ip="127.0.0.1", log_level=0, local_tls_port=None, trace_sip=True)
port = e.local_udp_port
with NotificationRecorder() as r:
    send_message(Credentials(SIPURI("127.0.0.1", user="a")), SIPURI("127.0.0.1", user="b", port=port),
                 "text/plain", "x", Route("127.0.0.1", port))
    r.wait_for("SIPEngineGotMessageResponse", timeout=5)
    msg = r.all("SIPEngineSIPTrace")[0].data.data
import re
print(re.search(r"Call-ID: (\S+)", msg).group(1), re.search(r"branch=(\S+)", msg).group(1))
e.stop()
'''
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=60).stdout for _ in range(2)]
    assert outs[0] and outs[1] and outs[0] != outs[1]


def test_udp_message_right_after_the_udp_transport_moved(engine_factory, recorder):
    """set_local_udp_port() while a finished transaction still holds the old UDP transport
    (Timer K/J): the next MESSAGE over UDP leaves from the new port and gets its 200 (it
    failed with 503 'Unsupported transport' until the old transport was destroyed)."""
    e = engine_factory(trace_sip=True)
    me = Credentials(SIPURI("127.0.0.1", user="alice"))
    old = e.local_udp_port
    send_message(me, SIPURI("127.0.0.1", user="bob", port=old), "text/plain", "1",
                 Route("127.0.0.1", old))
    assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=5).data.code == 200
    e.set_local_udp_port(0)
    new = e.local_udp_port
    assert new != old
    send_message(me, SIPURI("127.0.0.1", user="bob", port=new), "text/plain", "2",
                 Route("127.0.0.1", new))
    n = recorder.wait_for("SIPEngineGotMessageResponse", timeout=5)
    assert (n.data.code, n.data.reason) == (200, "OK")
    sent = [t.data for t in recorder.all("SIPEngineSIPTrace")
            if not t.data.received and t.data.data.startswith("MESSAGE ")]
    assert [t.source_port for t in sent] == [old, new]
    assert f"Via: SIP/2.0/UDP 127.0.0.1:{new};" in sent[1].data
    assert recorder.all("SIPEngineGotException") == []


def _answer(request: bytes, code: int = 200, reason: str = "OK") -> bytes:
    """A response to a request read off a socket: its Via, From, To, Call-ID and CSeq."""
    head = request.split(b"\r\n\r\n", 1)[0].decode()
    keep = [line for line in head.split("\r\n")[1:]
            if line.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")]
    return (f"SIP/2.0 {code} {reason}\r\n" + "\r\n".join(keep) +
            "\r\nContent-Length: 0\r\n\r\n").encode()


def test_headers_of_to_uri_go_into_the_request(engine, recorder):
    """RFC 3261 19.1.5: the headers of a URI become headers of the request made from it,
    and are not part of the Request-URI; the To header carries no headers either."""
    peer = _silent_udp()
    peer.settimeout(5)
    try:
        port = peer.getsockname()[1]
        to = SIPURI("127.0.0.1", user="bob", port=port,
                    headers={"Subject": "lunch at noon", "X-Ticket": "T-42", "Priority": "urgent"})
        send_message(_me(engine), to, "text/plain", "hi", Route("127.0.0.1", port))
        data, addr = peer.recvfrom(65536)
        head = data.split(b"\r\n\r\n", 1)[0].decode()
        lines = head.split("\r\n")
        assert lines[0] == f"MESSAGE sip:bob@127.0.0.1:{port} SIP/2.0"
        assert "Subject: lunch at noon" in lines and "X-Ticket: T-42" in lines
        assert "Priority: urgent" in lines
        to_line = [line for line in lines if line.lower().startswith(("to:", "t:"))]
        assert len(to_line) == 1 and "?" not in to_line[0] and "Subject" not in to_line[0]
        peer.sendto(_answer(data), addr)
        n = recorder.wait_for("SIPEngineGotMessageResponse", timeout=5)
        assert (n.data.code, n.data.reason, n.data.to_uri) == (200, "OK", to)
    finally:
        peer.close()
    assert recorder.all("SIPEngineGotException") == []


def test_a_header_name_in_to_uri_that_is_no_header_name_is_refused(engine, recorder):
    to = SIPURI("127.0.0.1", user="bob", port=9, headers={"Bad Name": "x"})
    with pytest.raises(ValueError, match="Bad Name"):
        send_message(_me(engine), to, "text/plain", "hi", Route("127.0.0.1", 9))
    time.sleep(0.2)
    assert recorder.all("SIPEngineGotMessageResponse") == []


@pytest.mark.parametrize("user", ["bob", "b%00b"])       # (a NUL: escaped in the flat form)
def test_an_empty_message_keeps_its_content_type(engine, recorder, user):
    """A MESSAGE with a Content-Type header and Content-Length: 0 has no body in PJSIP; its
    content type is still what the header says (spec: content_type of SIPEngineGotMessage
    is the Content-Type header's)."""
    port = engine.local_udp_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        sp = s.getsockname()[1]
        s.sendto((f"MESSAGE sip:{user}@127.0.0.1:{port} SIP/2.0\r\n"
                  f"Via: SIP/2.0/UDP 127.0.0.1:{sp};branch=z9hG4bKempty{len(user)}\r\n"
                  f"From: <sip:alice@127.0.0.1:{sp}>;tag=1\r\nTo: <sip:{user}@127.0.0.1>\r\n"
                  f"Call-ID: empty{len(user)}@127.0.0.1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
                  f"Content-Type: application/im-iscomposing+xml\r\nContent-Length: 0\r\n\r\n").encode(),
                 ("127.0.0.1", port))
        got = recorder.wait_for("SIPEngineGotMessage", timeout=5)
        assert s.recv(4096).startswith(b"SIP/2.0 200 OK")
    assert (got.data.content_type, got.data.body) == ("application/im-iscomposing+xml", b"")
    assert got.data.to_uri.user == user.replace("%00", "\x00")
    # and the same for an empty MESSAGE sent by send_message (it names its Content-Type)
    send_message(_me(engine), SIPURI("127.0.0.1", user="x", port=port), "text/plain", "",
                 Route("127.0.0.1", port))
    got = recorder.wait_for("SIPEngineGotMessage", timeout=5)
    assert (got.data.content_type, got.data.body) == ("text/plain", b"")
    assert recorder.all("SIPEngineGotException") == []


# ---- send_message off the poll thread: checked and reserved there, sent without waiting ----

def test_a_send_that_a_stop_overtakes_is_answered_engine_stopped(recorder):
    """A call off the poll thread that was accepted just as the Engine stopped -- the poll
    thread had already closed its queue behind it -- still gets its one notification (408
    "Engine stopped"), before SIPEngineDidEnd; the caller sees no exception."""
    from sipcore import Engine, _ua
    from sipcore.primitives import message
    engine = Engine()
    if engine.is_running:
        engine.stop()
    engine.start(local_ip="127.0.0.1", log_level=0, local_tls_port=None)
    ua = _ua.current
    inside, go, outcome = threading.Event(), threading.Event(), []
    real_reserve = message._PendingMessage.reserve

    def slow_reserve(pm):            # runs under the queue's lock, after the state check
        inside.set()
        go.wait(10)
        real_reserve(pm)

    port = engine.local_udp_port
    to = SIPURI("127.0.0.1", user="late", port=port)

    def send():
        try:
            send_message(_me(engine), to, "text/plain", "late", Route("127.0.0.1", port))
            outcome.append("accepted")
        except Exception as exc:  # noqa: BLE001
            outcome.append(exc)

    message._PendingMessage.reserve = slow_reserve
    try:
        sender = threading.Thread(target=send)
        sender.start()
        assert inside.wait(5)
        stop_behind_a_hand_off(engine.stop, ua, go, sender)
    finally:
        message._PendingMessage.reserve = real_reserve
        go.set()
    assert outcome == ["accepted"]
    answers = recorder.all("SIPEngineGotMessageResponse")
    assert [(n.data.to_uri, n.data.code, n.data.reason) for n in answers] == [
        (to, 408, "Engine stopped")]
    names = [n.name for n in recorder.all()]
    assert names.index("SIPEngineGotMessageResponse") < names.index("SIPEngineDidEnd")
    assert ua.pending_messages == {}


def test_a_send_failing_on_the_poll_thread_is_its_one_503(engine, recorder):
    """The request is checked in the calling thread (TCP is on), but by the poll thread's
    turn TCP has been stopped: nobody waits for the call any more, so the failure is the
    request's one SIPEngineGotMessageResponse, 503 "Not sent: ...", and the URI is free."""
    from sipcore import _ua
    ua = _ua.current
    release = threading.Event()
    ua.post(release.wait, 10)                       # holds the poll thread
    tcp_port = engine.local_tcp_port
    stopper = threading.Thread(target=engine.set_local_tcp_port, args=(None,))
    stopper.start()                                 # queued first: TCP stops first
    deadline = time.monotonic() + 5
    while len(ua._posted) < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    to = SIPURI("127.0.0.1", user="bob", port=tcp_port)
    route = Route("127.0.0.1", tcp_port, "tcp")
    send_message(_me(engine), to, "text/plain", "1", route)     # accepted: TCP is on
    release.set()
    stopper.join(5)
    resp = recorder.wait_for("SIPEngineGotMessageResponse", timeout=5)
    assert resp.data.to_uri is to and resp.data.code == 503
    assert resp.data.reason.startswith("Not sent: ") and "TCP" in resp.data.reason
    assert ua.pending_messages == {}
    time.sleep(0.2)
    assert len(recorder.all("SIPEngineGotMessageResponse")) == 1
    assert recorder.all("SIPEngineGotException") == []


def test_calls_posted_meanwhile_wait_for_the_next_poll_round(engine):
    """The poll thread runs only the calls queued when its round began: a call posted while
    it runs them (here by one of them) waits for the next round, so application threads
    that post without waiting (send_message) cannot keep it from polling the network."""
    from sipcore import _ua
    ua = _ua.current
    rounds, done = [], threading.Event()

    def second():
        rounds.append(ua.poll_rounds)
        done.set()

    def first():
        rounds.append(ua.poll_rounds)
        ua.post(second)

    ua.post(first)
    assert done.wait(5)
    assert rounds[1] > rounds[0], rounds
