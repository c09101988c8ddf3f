"""A conformance suite of our own (issue #14): malformed and edge-case requests and responses,
written from RFC 3261's ABNF and rules and RFC 4475's categories, sent as raw datagrams and
TCP streams to one Engine (started once for the module).  Each gets the answer the RFC gives
it, or is dropped where the RFC allows it; a valid one is delivered with every value intact.
SDP edge cases (RFC 4566/3264/4317) come in INVITEs: what PJMEDIA cannot carry as it is gets
488, everything else reaches the application unchanged.

The expected answers are the RFCs', cited per case; nothing here is read back from sipcore.
"""
from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from sipcore import (Credentials, Engine, Route, SIPURI, SDPSession, send_message, signals)

TRANSPORTS = ["udp", "tcp"]


# ---- the endpoint and a raw peer ----------------------------------------------------------------

class Endpoint:
    """The Engine under test, and what its application saw."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.messages: list[dict] = []
        self.invitations: list = []
        self.headers: dict[str, dict] = {}
        self.lock = threading.Lock()
        signals.SIPEngineGotMessage.connect(self.on_message, weak=False)
        signals.SIPInvitationChangedState.connect(self.on_invitation, weak=False)

    def close(self) -> None:
        signals.SIPEngineGotMessage.disconnect(self.on_message)
        signals.SIPInvitationChangedState.disconnect(self.on_invitation)

    def on_message(self, sender, **data):
        with self.lock:
            self.messages.append(data)

    def on_invitation(self, sender, **data):
        if data.get("state") == "INCOMING":
            with self.lock:
                self.invitations.append((sender.call_id, sender.get_offered_remote_sdp()))
                self.headers[sender.call_id] = data.get("headers")
            sender.disconnect(488)      # (not the point here: ends it)

    def port(self, transport: str) -> int:
        return getattr(self.engine, f"local_{transport}_port")

    def delivered(self, marker: str, timeout: float = 2.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [m for m in self.messages if marker in m["body"].decode("latin-1")
                         or any(marker in str(v) for v in m.values())]
            if found:
                return found
            time.sleep(0.01)
        return []

    def invitation_for(self, call_id: str, timeout: float = 3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for cid, sdp in self.invitations:
                    if cid == call_id:
                        return cid, sdp
            time.sleep(0.01)
        return None


@pytest.fixture(scope="module")
def ep():
    e = Engine()
    if e.is_running:
        e.stop()
    e.start(local_ip="127.0.0.1", log_level=0, local_udp_port=0, local_tcp_port=0,
            local_tls_port=None)
    endpoint = Endpoint(e)
    yield endpoint
    endpoint.close()
    e.stop()


_seq = iter(range(1, 1 << 30))


def build(method: str = "MESSAGE", *, transport: str = "udp", port: int = 0, me: int = 9,
          ruri: str | None = None, version: str = "SIP/2.0", cseq: str | None = None,
          extra: str = "", drop: tuple[str, ...] = (), ctype: str | None = "text/plain",
          body: bytes = b"hello", clen: int | None = None, call_id: str | None = None,
          to_tag: str = "") -> tuple[bytes, str]:
    """A request as RFC 3261 §7 and §8.1.1 build it (Via, Max-Forwards, From, To, Call-ID,
    CSeq, then ``extra`` lines, Content-Type, Content-Length, the body); ``drop``: header
    names left out.  Returns (bytes, Call-ID)."""
    n = next(_seq)
    call_id = call_id or f"conf{n}-{time.monotonic_ns()}@conformance"
    lines = [f"{method} {ruri or f'sip:bob@127.0.0.1:{port}'} {version}",
             f"Via: SIP/2.0/{transport.upper()} 127.0.0.1:{me};branch=z9hG4bKconf{n}x{time.monotonic_ns()}",
             "Max-Forwards: 70",
             f"From: <sip:eve@127.0.0.1>;tag=f{n}",
             f"To: <sip:bob@127.0.0.1>{';tag=' + to_tag if to_tag else ''}",
             f"Call-ID: {call_id}",
             f"CSeq: {cseq or f'1 {method}'}"]
    lines += [line for line in extra.split("\n") if line]
    if ctype is not None and body:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {len(body) if clen is None else clen}")
    lines = [line for line in lines if line.split(":")[0] not in drop]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body, call_id


class Peer:
    """A raw SIP peer on 127.0.0.1 over UDP or TCP: sends bytes, collects whole responses."""

    def __init__(self, transport: str, port: int):
        self.transport = transport
        self.port = port
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.me = self.sock.getsockname()[1]
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        if self.transport == "udp":
            self.sock.sendto(data, ("127.0.0.1", self.port))
        else:
            self.sock.sendall(data)

    def responses(self, wait: float = 1.0, until_final: bool = True) -> list[str]:
        """The responses received within ``wait`` s (to the first final one)."""
        out: list[str] = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65535)
            except (socket.timeout, BlockingIOError):
                break
            if not chunk:
                break
            if self.transport == "udp":
                out.append(chunk.decode("utf-8", "replace"))
            else:
                self.buffer += chunk
                while b"\r\n\r\n" in self.buffer:
                    head, _, rest = self.buffer.partition(b"\r\n\r\n")
                    m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
                    n = int(m.group(1)) if m else 0
                    if len(rest) < n:
                        break
                    out.append((head + b"\r\n\r\n" + rest[:n]).decode("utf-8", "replace"))
                    self.buffer = rest[n:]
            if until_final and any(code(r) >= 200 for r in out):
                break
        return out

    def exchange(self, data: bytes, wait: float = 1.0) -> list[str]:
        self.send(data)
        return self.responses(wait)


def code(response: str) -> int:
    return int(response.split(" ", 2)[1])


def final(responses: list[str]) -> str | None:
    finals = [r for r in responses if code(r) >= 200]
    return finals[0] if finals else None


def header(response: str, name: str) -> str | None:
    m = re.search(rf"(?im)^{re.escape(name)}\s*:\s*(.*)$", response.split("\r\n\r\n")[0])
    return m.group(1).strip() if m else None


@pytest.fixture(params=TRANSPORTS)
def peer(request, ep):
    p = Peer(request.param, ep.port(request.param))
    yield p
    p.close()


def send(peer: Peer, method: str = "MESSAGE", wait: float = 1.0, **kw) -> tuple[list[str], str]:
    data, call_id = build(method, transport=peer.transport, port=peer.port, me=peer.me, **kw)
    return peer.exchange(data, wait), call_id


# ---- invalid requests: 400 ----------------------------------------------------------------------

DUPLICATES = {   # RFC 3261 §7.3.1/§20: these appear once; RFC 4475 §3.1.2.19 (dup headers)
    "Call-ID": "Call-ID: second@conformance",
    "From": "From: <sip:mallory@127.0.0.1>;tag=other",
    "To": "To: <sip:carol@127.0.0.1>",
    "CSeq": "CSeq: 7 MESSAGE",
    "Max-Forwards": "Max-Forwards: 3",
    "Content-Length": "Content-Length: 5",
    "Content-Type": "Content-Type: text/html",
}


@pytest.mark.parametrize("name", list(DUPLICATES))
def test_duplicate_single_headers_get_400_and_are_not_delivered(ep, peer, name):
    responses, call_id = send(peer, extra=DUPLICATES[name], body=b"dup-" + name.encode())
    assert code(final(responses)) == 400, responses
    assert ep.delivered("dup-" + name, timeout=0.3) == []


def test_content_length_past_the_datagram_gets_400(ep):
    """RFC 3261 §18.3, RFC 4475 §3.1.2.11 (clerr): over UDP a Content-Length larger than the
    body the datagram carries is an error (400), never a truncated delivery."""
    p = Peer("udp", ep.port("udp"))
    try:
        data, _ = build(port=p.port, me=p.me, body=b"short-body", clen=50)
        assert code(final(p.exchange(data))) == 400
        assert ep.delivered("short-body", timeout=0.3) == []
    finally:
        p.close()


def test_bytes_past_content_length_in_a_datagram_are_discarded(ep):
    """RFC 3261 §18.3: "additional bytes in the transport packet beyond the end of the body
    MUST be discarded"."""
    p = Peer("udp", ep.port("udp"))
    try:
        data, call_id = build(port=p.port, me=p.me, body=b"kept-partTRAILING", clen=9)
        assert code(final(p.exchange(data))) == 200
        got = ep.delivered("kept-part")
        assert [m["body"] for m in got] == [b"kept-part"]
    finally:
        p.close()


def test_cseq_method_mismatch_gets_400(ep, peer):
    """RFC 3261 §8.1.1.5 (the CSeq method MUST match the request's); RFC 4475 §3.1.2.x."""
    responses, _ = send(peer, cseq="1 INVITE", body=b"mismatched-cseq")
    assert code(final(responses)) == 400
    assert ep.delivered("mismatched-cseq", timeout=0.3) == []


def test_a_retransmitted_invalid_request_gets_the_same_400(ep):
    """The 400 is sent by a server transaction: the retransmission is answered again."""
    p = Peer("udp", ep.port("udp"))
    try:
        data, _ = build(port=p.port, me=p.me, extra=DUPLICATES["Call-ID"])
        first = final(p.exchange(data))
        again = final(p.exchange(data))
        assert code(first) == code(again) == 400
        assert header(first, "To") == header(again, "To")      # the same response (its tag)
    finally:
        p.close()


# ---- requests with what the UAS does not support ------------------------------------------------

UNSUPPORTED = {   # (extra header, the answer, the header it must carry and its value)
    # RFC 3261 §8.2.2.3: 420 (Bad Extension) listing the extensions in Unsupported
    "Require": ("Require: nosuchextension", 420, "Unsupported", "nosuchextension"),
    # RFC 3261 §8.2.3: a body in an encoding not understood: 415 with Accept-Encoding
    "Content-Encoding": ("Content-Encoding: x-nosuch", 415, "Accept-Encoding", "identity"),
}


@pytest.mark.parametrize("case", list(UNSUPPORTED))
def test_what_the_uas_does_not_support_gets_its_answer(ep, peer, case):
    extra, expected, name, value = UNSUPPORTED[case]
    marker = f"unsupported-{case}-{peer.transport}"
    responses, _ = send(peer, extra=extra, body=marker.encode())
    f = final(responses)
    assert code(f) == expected
    assert header(f, name) == value
    assert ep.delivered(marker, timeout=0.3) == []


# ---- silence never: the answers for methods nobody handles -----------------------------------

def test_options_gets_200_with_allow_accept_supported(ep, peer):
    """RFC 3261 §11.2: the answer to OPTIONS as to an INVITE, with Allow, Accept, Supported."""
    responses, _ = send(peer, "OPTIONS", body=b"")
    f = final(responses)
    assert code(f) == 200
    allow = {m.strip() for m in header(f, "Allow").split(",")}
    assert {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "MESSAGE"} <= allow
    assert "application/sdp" in header(f, "Accept")
    assert header(f, "Supported") is not None


@pytest.mark.parametrize("method", ["REGISTER", "SUBSCRIBE", "PUBLISH", "REFER"])
def test_known_methods_not_served_get_405_with_allow(ep, peer, method):
    """RFC 3261 §8.2.1: a method the UAS knows but does not serve here: 405 with Allow
    (which must then not list it)."""
    responses, _ = send(peer, method, extra="Event: presence", body=b"")
    f = final(responses)
    assert code(f) == 405
    allow = {m.strip() for m in header(f, "Allow").split(",")}
    assert "MESSAGE" in allow and method not in allow


@pytest.mark.parametrize("method", ["FOO", "NEWMETHOD", "X-EXTENSION"])
def test_unknown_methods_get_501(ep, peer, method):
    """RFC 3261 §8.2.1: 501 (Not Implemented) for a method not recognised."""
    responses, _ = send(peer, method, body=b"")
    assert code(final(responses)) == 501


@pytest.mark.parametrize("method", ["BYE", "CANCEL", "INFO", "UPDATE", "PRACK", "NOTIFY"])
def test_requests_outside_any_dialog_get_481(ep, peer, method):
    """RFC 3261 §15.1.2 (BYE), §9.2 (CANCEL), §12.2.2: no dialog or transaction matches."""
    responses, _ = send(peer, method, extra="Event: presence", body=b"")
    assert code(final(responses)) == 481


def test_a_request_for_an_unknown_dialog_gets_481(ep, peer):
    """RFC 3261 §12.2.2: a To tag that matches no dialog."""
    responses, _ = send(peer, "INFO", to_tag="nosuchdialog", body=b"")
    assert code(final(responses)) == 481


def test_ack_is_never_answered(ep, peer):
    """RFC 3261 §17.2.3: ACK has no response."""
    responses, _ = send(peer, "ACK", body=b"", wait=0.5)
    assert responses == []


# ---- request lines PJSIP's parser refuses: 505 and 416 -----------------------------------------

LINES = {   # (Request-URI, SIP-Version, the answer)
    # RFC 3261 §21.5.7, RFC 4475 "badvers": a SIP-Version other than SIP/2.0
    "SIP/7.0": (None, "SIP/7.0", 505),
    "sip/3.1": (None, "sip/3.1", 505),
    # RFC 3261 §8.2.2.1, RFC 4475 "unkscm": a Request-URI scheme the UAS does not know
    "unkscm": ("unkscm:nobodyknowsthisscheme", "SIP/2.0", 416),
    "http": ("http://127.0.0.1/index.html", "SIP/2.0", 416),
}


@pytest.mark.parametrize("method", ["MESSAGE", "INVITE"])
@pytest.mark.parametrize("case", list(LINES))
def test_request_lines_the_parser_refuses_get_505_or_416(ep, peer, case, method):
    ruri, version, expected = LINES[case]
    marker = f"line-{case}-{method}-{peer.transport}-{next(_seq)}"
    responses, call_id = send(peer, method, ruri=ruri, version=version, body=marker.encode())
    f = final(responses)
    assert f is not None and code(f) == expected, responses
    assert header(f, "Call-ID") == call_id                 # the answer to that request
    assert ";tag=" in header(f, "To")                      # §8.2.6.2
    assert ep.delivered(marker, timeout=0.3) == []
    if method == "INVITE":
        assert ep.invitation_for(call_id, timeout=0.3) is None


def test_a_retransmitted_bad_version_gets_the_same_505(ep):
    """The rewritten request goes through a transaction: its retransmission is answered by
    that transaction, with the same To tag (RFC 3261 §17.2.3)."""
    p = Peer("udp", ep.port("udp"))
    try:
        data, _ = build(port=p.port, me=p.me, version="SIP/3.0")
        first, again = final(p.exchange(data)), final(p.exchange(data))
        assert code(first) == code(again) == 505
        assert header(first, "To") == header(again, "To")
    finally:
        p.close()


def test_bad_version_and_valid_request_on_one_tcp_stream(ep):
    """Over TCP the shifted request must not break the framing of what follows it: a 505
    for the first request, the second (valid) one delivered whole."""
    p = Peer("tcp", ep.port("tcp"))
    try:
        marker = f"after-505-{next(_seq)}"
        bad, _ = build(transport="tcp", port=p.port, me=p.me, version="SIP/3.0", body=b"x" * 50)
        good, _ = build(transport="tcp", port=p.port, me=p.me, body=marker.encode())
        p.send(bad + good)
        responses = p.responses(wait=2.0, until_final=False)
        assert sorted(code(r) for r in responses if code(r) >= 200) == [200, 505]
        assert [m["body"] for m in ep.delivered(marker)] == [marker.encode()]
    finally:
        p.close()


def test_ack_with_a_bad_version_or_scheme_is_never_answered(ep, peer):
    for ruri, version in [(None, "SIP/3.0"), ("unkscm:x-ack-never-answered", "SIP/2.0")]:
        responses, _ = send(peer, "ACK", ruri=ruri, version=version, body=b"", wait=0.4)
        assert responses == []


def test_a_request_line_too_short_to_rewrite_stays_dropped_and_nothing_breaks(ep, peer):
    """'X a:b SIP/2.0' leaves no room for the rewrite PJSIP's parser needs: dropped, as before,
    and the next valid request is answered and delivered."""
    responses, _ = send(peer, "X", ruri="a:b", body=b"", wait=0.4)
    assert responses == []
    marker = f"after-short-{peer.transport}-{next(_seq)}"
    responses, _ = send(peer, body=marker.encode())
    assert code(final(responses)) == 200
    assert ep.delivered(marker) != []


# ---- dropped, where the RFC allows it ------------------------------------------------------------

def test_a_request_without_via_is_dropped(ep, peer):
    """Without a Via there is nowhere to send a response (RFC 3261 §18.2.2): dropped."""
    responses, _ = send(peer, drop=("Via",), body=b"no-via", wait=0.5)
    assert responses == []
    assert ep.delivered("no-via", timeout=0.2) == []


def test_invalid_responses_are_dropped(ep):
    """RFC 3261 §18.1.2: a client discards a response it cannot use.  A 200 with two Call-ID
    headers to sipcore's MESSAGE is dropped; the proper 486 that follows is its answer."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(5)
    port = srv.getsockname()[1]
    done = []

    def on_response(sender, **data):
        done.append(data)

    signals.SIPEngineGotMessageResponse.connect(on_response, weak=False)
    try:
        send_message(Credentials(SIPURI("127.0.0.1", user="bob")),
                     SIPURI("127.0.0.1", user="x", port=port), "text/plain", "hi",
                     Route("127.0.0.1", port))
        request, addr = srv.recvfrom(65535)
        head = request.decode().split("\r\n\r\n")[0].split("\r\n")
        copy = [h for h in head[1:] if h.split(":")[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
        bad = ["SIP/2.0 200 OK"] + copy + ["Call-ID: other@x", "Content-Length: 0", "", ""]
        srv.sendto("\r\n".join(bad).encode(), addr)
        time.sleep(0.3)
        assert done == []
        good = ["SIP/2.0 486 Busy Here"] + copy + ["Content-Length: 0", "", ""]
        srv.sendto("\r\n".join(good).encode(), addr)
        deadline = time.monotonic() + 5
        while not done and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [d["code"] for d in done] == [486]
    finally:
        signals.SIPEngineGotMessageResponse.disconnect(on_response)
        srv.close()


# ---- valid requests: delivered with every value intact -----------------------------------------

MULTIPART = (b"--b0und\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
             b"--b0und\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\xff binary\r\n"
             b"--b0und--\r\n")


def test_multipart_message_delivered_as_sent(ep, peer):
    """RFC 3428 §7 / RFC 2046 §5.1: a multipart/mixed MESSAGE body with its boundary
    parameter; the application gets the body bytes and the parameters as sent."""
    body = MULTIPART.replace(b"first part", f"first part {peer.transport}".encode())
    responses, _ = send(peer, ctype='multipart/mixed;boundary="b0und";x-extra=Yes', body=body)
    assert code(final(responses)) == 200
    got = ep.delivered(f"first part {peer.transport}")
    assert len(got) == 1
    assert got[0]["body"] == body
    assert got[0]["content_type"] == "multipart/mixed"
    assert got[0]["content_type_parameters"] == {"boundary": "b0und", "x-extra": "Yes"}


def test_quoted_content_type_parameters_are_delivered_as_values(ep, peer):
    """RFC 3261 §25.1 / RFC 2045 §5.1: a parameter value may be a quoted-string (holding
    ";", spaces, escaped quotes); the application gets the value it stands for."""
    marker = f"quoted-params-{peer.transport}"
    responses, _ = send(peer, ctype='text/plain;CharSet="utf-8";x="a;b \\"c\\"";flag',
                        body=marker.encode())
    assert code(final(responses)) == 200
    got = ep.delivered(marker)
    assert [m["content_type"] for m in got] == ["text/plain"]
    assert got[0]["content_type_parameters"] == {"charset": "utf-8", "x": 'a;b "c"', "flag": ""}


def test_compact_forms_odd_whitespace_and_case_are_valid(ep, peer):
    """RFC 4475 §3.1.1.1-style: compact header names (§7.3.3), header names in any case,
    folded (LWS) values, spaces around the colon -- a valid request, delivered intact.
    (Not here: LWS folded inside a quoted display name, which PJSIP's parser refuses: such
    a request is dropped.)"""
    n = next(_seq)
    body = b"torture-" + str(n).encode()
    text = (f"MESSAGE sip:bob@127.0.0.1:{peer.port} SIP/2.0\r\n"
            f"v: SIP/2.0/{peer.transport.upper()} 127.0.0.1:{peer.me};branch=z9hG4bKtort{n}\r\n"
            "max-FORWARDS :   70\r\n"
            f"f: Eve <sip:eve@127.0.0.1>\r\n  ;tag=t{n}\r\n"
            "t: <sip:bob@127.0.0.1>\r\n"
            f"i: torture{n}@conformance\r\n"
            "cseq:\t1\r\n MESSAGE\r\n"
            "c: text/plain\r\n"
            f"l: {len(body)}\r\n\r\n").encode() + body
    assert code(final(peer.exchange(text))) == 200
    got = ep.delivered(body.decode())
    assert [m["body"] for m in got] == [body]
    assert got[0]["from_uri"].user == "eve"


def test_escaped_uris_are_delivered_with_their_values(ep, peer):
    """RFC 3261 §19.1.2: escaped characters in the user part stand for themselves."""
    n = next(_seq)
    body = b"escaped-" + str(n).encode()
    data, _ = build(transport=peer.transport, port=peer.port, me=peer.me, body=body,
                    ruri=f"sip:sip%3Abob%40example.com@127.0.0.1:{peer.port}")
    data = data.replace(b"From: <sip:eve@127.0.0.1>", b"From: <sip:e%20ve@127.0.0.1>")
    assert code(final(peer.exchange(data))) == 200
    got = ep.delivered(body.decode())
    assert got and got[0]["from_uri"].user == "e ve"


def test_content_length_absent_over_udp_means_the_rest_of_the_datagram(ep):
    """RFC 3261 §18.3 / §20.14: over UDP, without Content-Length the body is the rest."""
    p = Peer("udp", ep.port("udp"))
    try:
        data, _ = build(port=p.port, me=p.me, body=b"no-length-body", drop=("Content-Length",))
        assert code(final(p.exchange(data))) == 200
        assert [m["body"] for m in ep.delivered("no-length-body")] == [b"no-length-body"]
    finally:
        p.close()


def test_large_bodies_over_tcp(ep):
    """A body just under PJSIP's packet limit (PJSIP_MAX_PKT_LEN, 4000 bytes a message) is
    delivered whole over TCP; a 60 KB message is not delivered (RFC 3261 §21.5.14 would let
    it be answered 513; PJSIP drops it) and the endpoint keeps answering."""
    p = Peer("tcp", ep.port("tcp"))
    try:
        body = b"large:" + bytes(range(32, 127)) * 36
        data, _ = build(transport="tcp", port=p.port, me=p.me, body=body)
        assert len(data) < 4000
        assert code(final(p.exchange(data, wait=3))) == 200
        assert [m["body"] for m in ep.delivered("large:", timeout=3)] == [body]
        huge = b"huge:" + bytes(range(32, 127)) * 640
        data, _ = build(transport="tcp", port=p.port, me=p.me, body=huge)
        try:
            p.exchange(data, wait=1)
        except OSError:
            pass                                    # (the connection may be closed)
        assert ep.delivered("huge:", timeout=0.5) == []
    finally:
        p.close()
    p = Peer("tcp", ep.port("tcp"))
    try:
        data, _ = build("OPTIONS", transport="tcp", port=p.port, me=p.me, body=b"")
        assert code(final(p.exchange(data))) == 200
    finally:
        p.close()


# ---- the Request-URI's escaped user part in an INVITE --------------------------------------------

@pytest.mark.parametrize("user", ["sip%3Auser%40example.com", "a%20b", "x%25y"])
def test_invite_with_escaped_request_uri_user_gets_a_session(ep, peer, user):
    """RFC 3261 §19.1.2: a valid Request-URI; the INVITE is taken (it got 500 when the local
    Contact was built from the unescaped user), and the Contact carries the escaped form."""
    data, call_id = build("INVITE", transport=peer.transport, port=peer.port, me=peer.me,
                          ruri=f"sip:{user}@127.0.0.1:{peer.port}",
                          extra="Contact: <sip:eve@127.0.0.1:9>", ctype="application/sdp",
                          body=SDP_BASE.encode())
    responses = peer.exchange(data, wait=3)
    assert all(code(r) != 500 for r in responses), responses
    found = ep.invitation_for(call_id)
    assert found is not None, responses
    contact = header(final(responses) or responses[-1], "Contact")
    if contact is not None:
        assert f"sip:{user}@" in contact


def test_contact_parameters_and_escapes_reach_the_application(ep, peer):
    """The application reads a received Contact with all its parameters and escapes (RFC 3261
    §19.1.1/§19.1.2: ``lr`` and an escaped value are part of the URI), a compact header
    under its full name (§7.3.3) and a folded one as one line (§7.3.1)."""
    contact = "<sip:eve@127.0.0.1:9;lr;name=value%41>;p=v%41;q=0.5"
    data, call_id = build("INVITE", transport=peer.transport, port=peer.port, me=peer.me,
                          extra=f"m: {contact}\nSubject: first\n  second",
                          ctype="application/sdp", body=SDP_BASE.encode())
    peer.exchange(data, wait=3)
    assert ep.invitation_for(call_id) is not None
    headers = ep.headers[call_id]
    assert headers["Contact"] == contact
    assert headers["Subject"] == "first second"
    assert headers["Call-ID"] == call_id


# ---- SDP edge cases (INVITE offers) -------------------------------------------------------------

SDP_BASE = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio 4000 RTP/AVP 0\r\n")


def sdp_with(*, origin="1 1", media: list[str] | None = None, session_attrs=0) -> str:
    text = (f"v=0\r\no=- {origin} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            + "".join(f"a=x-s{i}:{i}\r\n" for i in range(session_attrs)))
    for m in media or ["m=audio 4000 RTP/AVP 0\r\n"]:
        text += m
    return text


def invite(peer: Peer, sdp: str) -> tuple[list[str], str]:
    data, call_id = build("INVITE", transport=peer.transport, port=peer.port, me=peer.me,
                          extra="Contact: <sip:eve@127.0.0.1:9>", ctype="application/sdp",
                          body=sdp.encode())
    return peer.exchange(data, wait=3), call_id


BEYOND = {  # what PJMEDIA's parser would change (its compile-time limits): 488
    "17 m-lines": sdp_with(media=[f"m=audio {4000 + 2 * i} RTP/AVP 0\r\n" for i in range(17)]),
    "20 m-lines": sdp_with(media=[f"m=audio {4000 + 2 * i} RTP/AVP 0\r\n" for i in range(20)]),
    "100 attributes": sdp_with(media=["m=audio 4000 RTP/AVP 0\r\n"
                                      + "".join(f"a=x-m{i}:{i}\r\n" for i in range(100))]),
    "100 session attributes": sdp_with(session_attrs=100),
    "port 70000": sdp_with(media=["m=audio 70000 RTP/AVP 0\r\n"]),
    "64-bit o= id": sdp_with(origin="4611731400430051336 2"),
    "64-bit o= version": sdp_with(origin="1 18446744073709551615"),
    "40 formats": sdp_with(media=["m=audio 4000 RTP/AVP " + " ".join(
        str(96 + i) for i in range(40)) + "\r\n"]),
    "5 b= lines": sdp_with(media=["m=audio 4000 RTP/AVP 0\r\n"
                                  + "".join(f"b=X-{i}:64\r\n" for i in range(5))]),
}


@pytest.mark.parametrize("case", list(BEYOND))
def test_sdp_pjmedia_would_cut_gets_488(ep, peer, case):
    """Never hand the application a different SDP than the peer sent: an offer PJMEDIA
    cannot hold is refused, 488 (Not Acceptable Here, RFC 3261 §21.4.26) with a Warning."""
    responses, call_id = invite(peer, BEYOND[case])
    f = final(responses)
    assert f is not None and code(f) == 488, responses
    assert header(f, "Warning").startswith("399 ")
    assert ep.invitation_for(call_id, timeout=0.3) is None


def media_lines(sdp: SDPSession) -> list[tuple]:
    return [(m.media, m.port, m.transport, list(m.formats)) for m in sdp.media]


def parsed(text: str) -> SDPSession:
    return SDPSession.parse(text)


WITHIN = {  # valid offers at the edges: delivered as sent
    "16 m-lines": sdp_with(media=[f"m=audio {4000 + 2 * i} RTP/AVP 0\r\n" for i in range(16)]),
    "zero port (RFC 3264 §5.1 / RFC 4317)": sdp_with(media=[
        "m=audio 4000 RTP/AVP 0\r\n", "m=video 0 RTP/AVP 31\r\n"]),
    "unknown media": sdp_with(media=["m=audio 4000 RTP/AVP 0\r\n",
                                     "m=x-holo 5000 RTP/AVP 99\r\na=rtpmap:99 x-holo/90000\r\n"]),
    "bad rtpmap": sdp_with(media=["m=audio 4000 RTP/AVP 0 98\r\na=rtpmap:98\r\n"]),
    "port 65535, 32-bit o=": sdp_with(origin="4294967295 4294967295",
                                      media=["m=audio 65534 RTP/AVP 0\r\n"]),
    "64 attributes, 32 formats": sdp_with(media=["m=audio 4000 RTP/AVP " + " ".join(
        str(96 + i) for i in range(32)) + "\r\n" + "".join(
        f"a=rtpmap:{96 + i} x{i}/8000\r\n" for i in range(32)) + "".join(
        f"a=fmtp:{96 + i} p={i}\r\n" for i in range(32))]),
}


@pytest.mark.parametrize("case", list(WITHIN))
def test_sdp_edge_cases_reach_the_application_intact(ep, peer, case):
    text = WITHIN[case]
    responses, call_id = invite(peer, text)
    found = ep.invitation_for(call_id)
    assert found is not None, responses
    _, offered = found
    sent = parsed(text)
    assert media_lines(offered) == media_lines(sent)
    assert (offered.id, offered.version) == (sent.id, sent.version)
    assert [[(a.name, a.value) for a in m.attributes] for m in offered.media] == \
        [[(a.name, a.value) for a in m.attributes] for m in sent.media]


def test_sdp_without_connection_line_is_refused(ep, peer):
    """RFC 4566 §5.7: c= in the session or in every m-section; without it the offer is not
    valid SDP: refused (400 by PJSIP's INVITE session layer), never delivered."""
    responses, call_id = invite(peer, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                                      "m=audio 4000 RTP/AVP 0\r\n")
    assert code(final(responses)) in (400, 488)
    assert ep.invitation_for(call_id, timeout=0.3) is None
