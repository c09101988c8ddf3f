"""Hypothesis-driven message fuzzing: valid requests (MESSAGE, OPTIONS, INVITE with SDP,
REGISTER, SUBSCRIBE, NOTIFY, BYE, CANCEL, ACK, an extension method) with random mutations --
byte flips, header lines duplicated or deleted, truncation, huge values, a lying
Content-Length, junk inserted -- sent as UDP datagrams and TCP streams to one Engine
started in this process.  After every example the Engine still answers a valid OPTIONS
over UDP with 200 (and over TCP every 25 examples and at the end), and no
SIPEngineGotException was signalled.  A crash kills the test run, which fails it.

Settings profiles: ``fuzz`` (200 examples: ``make test``) and ``fuzz-asan`` (10,000 examples:
``make asan`` sets ``SIPCORE_FUZZ_PROFILE=fuzz-asan``, under AddressSanitizer and
UndefinedBehaviorSanitizer, tools/asan.sh).  The figures are printed (``-s``).
``SIPCORE_FUZZ_TRACE=FILE`` appends every input to FILE before it is sent (a 4-byte length,
``u`` or ``t``, the bytes), for finding the one that took a process down."""
from __future__ import annotations

import collections
import os
import socket
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcore import signals
from test_conformance import Peer, build, code, ep, final  # noqa: F401  (ep: the fixture)

_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                      HealthCheck.data_too_large, HealthCheck.large_base_example])
settings.register_profile("fuzz", max_examples=200, **_COMMON)
settings.register_profile("fuzz-asan", max_examples=10_000, **_COMMON)
PROFILE = os.environ.get("SIPCORE_FUZZ_PROFILE", "fuzz")
TRACE = os.environ.get("SIPCORE_FUZZ_TRACE")

SDP = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       b"m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")
BASES = {  # method: (extra header lines, Content-Type, body)
    "MESSAGE": ("", "text/plain", b"hello fuzz"),
    "OPTIONS": ("Accept: application/sdp", None, b""),
    "INVITE": ("Contact: <sip:eve@127.0.0.1:9;transport=udp>\nSupported: timer, 100rel\n"
               "Session-Expires: 1800;refresher=uac", "application/sdp", SDP),
    "REGISTER": ("Contact: <sip:eve@127.0.0.1:9>;expires=60\nExpires: 60", None, b""),
    "SUBSCRIBE": ("Event: presence\nExpires: 60\nContact: <sip:eve@127.0.0.1:9>", None, b""),
    "NOTIFY": ("Event: presence\nSubscription-State: active;expires=60", "application/pidf+xml",
               b"<?xml version='1.0'?><presence entity='sip:eve@127.0.0.1'/>"),
    "BYE": ("", None, b""),
    "CANCEL": ("", None, b""),
    "ACK": ("", None, b""),
    "FOOBAR": ("Require: foo", None, b""),
}
FILLERS = [b"a", b"%", b"\x00", b";p=", b"<sip:", b",", b"\r\n", b" ", b"\"", b"9", b"\xff",
           b"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\n"]

# one mutation, as numbers only (positions are taken modulo the length at the time)
pos = st.integers(0, 1 << 20)
mutations = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(pos, st.integers(0, 255)), min_size=1,
                                        max_size=16)),
    st.tuples(st.just("dup"), pos, st.integers(1, 50)),
    st.tuples(st.just("delete"), pos),
    st.tuples(st.just("truncate"), pos),
    st.tuples(st.just("huge"), pos, st.sampled_from(FILLERS), st.integers(100, 70_000)),
    st.tuples(st.just("clen"), st.sampled_from([b"-1", b"0", b"1", b"99999999", b"4294967296",
                                                b"18446744073709551616", b"", b"x", b" 5 5"])),
    st.tuples(st.just("insert"), pos, st.binary(min_size=1, max_size=64)),
)


def mutate(data: bytes, ops) -> bytes:
    for op, *args in ops:
        if not data:
            break
        head, sep, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        if op == "flip":
            buf = bytearray(data)
            for at, value in args[0]:
                buf[at % len(buf)] = value
            data = bytes(buf)
        elif op == "dup":          # a header line repeated (RFC 4475 3.1.2.19 and beyond)
            line = lines[1 + args[0] % max(1, len(lines) - 1)] if len(lines) > 1 else lines[0]
            at = 1 + args[0] % len(lines)
            lines[at:at] = [line] * args[1]
            data = b"\r\n".join(lines) + sep + body
        elif op == "delete" and len(lines) > 1:
            del lines[1 + args[0] % (len(lines) - 1)]
            data = b"\r\n".join(lines) + sep + body
        elif op == "truncate":
            data = data[:args[0] % len(data)]
        elif op == "huge":          # a huge value inside a line or the body
            at = args[0] % len(data)
            data = data[:at] + args[1] * (args[2] // len(args[1]) or 1) + data[at:]
        elif op == "clen":
            i = data.find(b"Content-Length: ")
            if i >= 0:
                j = data.find(b"\r\n", i)
                data = data[:i + 16] + args[0] + data[j:]
        elif op == "insert":
            at = args[0] % (len(data) + 1)
            data = data[:at] + args[1] + data[at:]
    return data


def _valid_options(peer: Peer) -> bool:
    data, call_id = build("OPTIONS", transport=peer.transport, port=peer.port, me=peer.me,
                          body=b"")
    deadline = time.monotonic() + 5
    peer.send(data)
    while time.monotonic() < deadline:     # (late answers to earlier examples may come first)
        for r in peer.responses(wait=deadline - time.monotonic()):
            if call_id in r and code(r) >= 200:
                return code(r) == 200
    return False


def _drain(sock: socket.socket) -> int:
    """The responses waiting on ``sock`` (read and dropped)."""
    n = 0
    sock.setblocking(False)
    try:
        while sock.recv(65535).startswith(b"SIP/2.0 "):
            n += 1
    except OSError:
        pass
    return n


def test_mutated_requests_over_udp_and_tcp_then_valid_requests_answered(ep):
    seen = collections.Counter()
    exceptions = []

    def on_exception(sender, **data):
        exceptions.append(data)

    signals.SIPEngineGotException.connect(on_exception, weak=False)
    udp_port, tcp_port = ep.port("udp"), ep.port("tcp")
    fuzz = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fuzz.bind(("127.0.0.1", 0))
    checker = Peer("udp", udp_port)
    started = time.monotonic()
    delivered = len(ep.messages)
    trace = open(TRACE, "ab") if TRACE else None

    @settings(settings.get_profile(PROFILE))
    @given(method=st.sampled_from(sorted(BASES)), transport=st.sampled_from(["udp", "tcp"]),
           ops=st.lists(mutations, min_size=1, max_size=3))
    def check(method, transport, ops):
        seen["examples"] += 1
        extra, ctype, body = BASES[method]
        me = fuzz.getsockname()[1]
        base, _ = build(method, transport=transport, me=me,
                        port=udp_port if transport == "udp" else tcp_port,
                        extra=extra, ctype=ctype, body=body)
        data = mutate(base, ops)
        seen[transport] += 1
        seen["bytes"] += len(data)
        if trace:
            trace.write(len(data).to_bytes(4, "big") + transport[:1].encode() + data)
            trace.flush()
        if transport == "udp":
            if len(data) > 65000:               # (no datagram that large)
                data = data[:65000]
            if data:
                fuzz.sendto(data, ("127.0.0.1", udp_port))
            seen["answered"] += _drain(fuzz)
        else:
            with socket.create_connection(("127.0.0.1", tcp_port), timeout=5) as c:
                try:
                    c.sendall(data)
                    c.shutdown(socket.SHUT_WR)
                    c.settimeout(0.05)
                    seen["answered"] += c.recv(65535).startswith(b"SIP/2.0 ")  # or none
                except OSError:
                    pass                        # (the Engine may close a garbage stream)
        assert _valid_options(checker), f"no 200 to a valid OPTIONS after {data[:300]!r}"
        if seen["examples"] % 25 == 0:
            tcp = Peer("tcp", tcp_port)
            try:
                assert _valid_options(tcp), "no 200 to a valid OPTIONS over TCP"
            finally:
                tcp.close()
        assert not exceptions, exceptions

    try:
        check()
        tcp = Peer("tcp", tcp_port)
        try:
            assert _valid_options(tcp)
        finally:
            tcp.close()
    finally:
        signals.SIPEngineGotException.disconnect(on_exception)
        fuzz.close()
        checker.close()
        if trace:
            trace.close()
    elapsed = time.monotonic() - started
    delivered = len(ep.messages) - delivered
    print(f"\nfuzz ({PROFILE}): {seen['examples']} examples ({seen['udp']} UDP, {seen['tcp']} TCP,"
          f" {seen['bytes']} bytes) in {elapsed:.1f} s; {seen['answered']} answered, {delivered}"
          f" MESSAGEs delivered; Engine alive: {ep.engine.is_running}")
    assert ep.engine.is_running and not exceptions
    assert seen["examples"] >= settings.get_profile(PROFILE).max_examples
    assert seen["udp"] > seen["examples"] // 4 and seen["tcp"] > seen["examples"] // 4
    # the mutated requests reached PJSIP's parser and the UAS (a fuzzer sending nowhere would
    # see no answer at all)
    assert seen["answered"] > 0


def _many_vias(method: str, peer: Peer, count: int) -> bytes:
    extra, ctype, body = BASES[method]
    data, _ = build(method, transport=peer.transport, port=peer.port, me=peer.me, extra=extra,
                    ctype=ctype, body=body)
    lines = data.split(b"\r\n")
    lines[8:8] = [lines[1]] * count           # the Via line again and again, after CSeq
    return b"\r\n".join(lines)


def test_a_request_whose_answer_is_too_large_to_send_is_survived(ep):
    """Found by the fuzzer (fuzz-asan profile): a NOTIFY outside a dialog with 85 Via headers
    (6.5 KB) is answered 481 by sipcore's UAS module; the response, carrying every Via (RFC
    3261 8.2.6.2), is larger than PJSIP's print buffer (PJSIP_MAX_PKT_LEN), so sending it
    fails after its transaction was made -- and the stateless fallback then aborted the
    process on PJSIP's assertion that a request with a transaction is not answered
    statelessly.  Now the request goes unanswered (a response that cannot be sent is not
    sent) and the Engine goes on answering."""
    for transport in ("udp", "tcp"):
        for method in ("NOTIFY", "REGISTER", "FOOBAR"):
            peer = Peer(transport, ep.port(transport))
            try:
                try:
                    peer.send(_many_vias(method, peer, 84))
                    peer.responses(wait=0.3)
                except OSError:
                    pass                          # (the Engine may close the connection)
            finally:
                peer.close()
            checker = Peer(transport, ep.port(transport))
            try:
                assert _valid_options(checker), (transport, method)
            finally:
                checker.close()
    assert ep.engine.is_running
