"""Hostile input: thousands of malformed and random datagrams and TCP streams at a sipcore
endpoint (a child process, so a crash is a test failure, not a dead test run); afterwards
a valid MESSAGE still gets its 200 and the process is alive.  The child forwards every
SIPEngineGotException it sees (PeerProcess.exceptions): there must be none.  A second test
aims at what random bytes rarely hit: URIs with escaped NUL or \x01 (which the flat formats
carry escaped) and Content-Type headers with non-UTF-8 bytes."""
import random
import socket
import time

from sipcore import Credentials, Route, SIPURI, send_message
from sipcore.peer import PeerProcess

VALID = (
    "MESSAGE sip:bob@127.0.0.1:{port} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{n}\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:eve@127.0.0.1>;tag={n}\r\nTo: <sip:bob@127.0.0.1>\r\n"
    "Call-ID: {n}@hostile\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n"
    "Content-Length: 5\r\n\r\nhello"
)


def mutate(rng: random.Random, text: bytes) -> bytes:
    data = bytearray(text)
    op = rng.randrange(6)
    if op == 0:    # flip bytes
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif op == 1:  # truncate
        del data[rng.randrange(len(data)):]
    elif op == 2:  # duplicate a slice many times (long headers)
        i = rng.randrange(len(data))
        data[i:i] = data[i:i + rng.randint(1, 40)] * rng.randint(2, 200)
    elif op == 3:  # lie about Content-Length
        data = bytearray(text.replace(b"Content-Length: 5", b"Content-Length: %d" % rng.choice(
            [-1, 0, 99999999, 2 ** 40, 4])))
    elif op == 4:  # delete a header line
        lines = data.split(b"\r\n")
        del lines[rng.randrange(1, 8)]
        data = bytearray(b"\r\n".join(lines))
    else:          # pure noise
        data = bytearray(rng.randbytes(rng.randint(0, 1400)))
    return bytes(data)


def test_hostile_datagrams_and_streams_then_valid_message(engine, recorder):
    rng = random.Random(20261127)
    with PeerProcess("--user", "bob", "--log-level", "0") as peer:
        udp_port, tcp_port = peer.ready["udp"], peer.ready["tcp"]
        sent = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for n in range(10_000):
                base = VALID.format(port=udp_port, n=n).encode()
                s.sendto(mutate(rng, base), ("127.0.0.1", udp_port))
                sent += 1
                if n % 100 == 0:
                    time.sleep(0.01)  # let the loopback buffer drain
        streams = 0
        for n in range(300):
            with socket.create_connection(("127.0.0.1", tcp_port), timeout=5) as c:
                payload = b"".join(mutate(rng, VALID.format(port=tcp_port, n=n).encode())
                                   for _ in range(rng.randint(1, 5)))
                if n % 10 == 0:
                    payload = rng.randbytes(rng.randint(1, 70000))
                try:
                    c.sendall(payload)
                except OSError:
                    pass  # the peer may close a connection that sent garbage
                streams += 1
        assert sent == 10_000 and streams == 300
        assert peer.proc.poll() is None, "the endpoint died under hostile input"
        # The input reached PJSIP's parser: the mutations that left a valid MESSAGE were
        # delivered (a broken test that sent nowhere would see none).
        time.sleep(1.0)
        delivered = 0
        while not peer.events.empty():
            ev = peer.events.get_nowait()
            delivered += ev.get("event") == "message" and "eve@" in ev.get("from_uri", "")
        assert delivered > 200, delivered

        port = peer.ready["udp"]
        send_message(Credentials(SIPURI("127.0.0.1", user="alice")),
                     SIPURI("127.0.0.1", user="bob", port=port), "text/plain", "still alive?",
                     Route("127.0.0.1", port))
        resp = recorder.wait_for("SIPEngineGotMessageResponse", timeout=20)
        assert (resp.data.code, resp.data.reason) == (200, "OK")
        assert peer.expect("message", timeout=20, body="still alive?")
        assert peer.proc.poll() is None
    # (stop() read the child's output to its end: every exception it reported is here)
    assert peer.exceptions == [], peer.exceptions[0]["traceback"]
    assert recorder.all("SIPEngineGotException") == []


ODD_USERS = ["a%00b", "%00", "x%01y", "nul%00%00", "%01", "u%00%01v"]
ODD_PARAMS = ["", ";x=%01", ";transport=%01", ";p=%00q", ";lr;y=%01"]
ODD_HEADERS = ["", "?Subject=%00", "?X=%01&Y=z"]
CONTENT_TYPES = [  # (sent, what the receiver reports: type/subtype only, parameters dropped)
    (b"text/plain", "text/plain"),
    (b'text/plain;charset="\xff\xfe\xe9"', "text/plain"),   # not UTF-8, in a quoted-string
    (b"text/pl%E9in", "text/pl%E9in"),                          # a token character, kept
    (b'application/x-odd;q="\xc3\x28"', "application/x-odd"),  # an invalid UTF-8 sequence
]


def test_escaped_uris_and_non_utf8_content_types_reach_the_peer(engine, recorder):
    """Odd but well-formed MESSAGEs over UDP and TCP, each answered 200 and delivered to the
    peer's application with the URIs (escapes undone, NUL kept), content type and body it
    was sent, and no exception in either process."""
    rng = random.Random(20261129)
    with PeerProcess("--user", "bob", "--log-level", "0") as peer:
        udp_port, tcp_port = peer.ready["udp"], peer.ready["tcp"]
        sent = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                socket.create_connection(("127.0.0.1", tcp_port), timeout=5) as t:
            u.bind(("127.0.0.1", 0))
            u.settimeout(5)
            t.settimeout(5)
            for n in range(120):
                tcp = n % 2 == 1
                port, proto = (tcp_port, "TCP") if tcp else (udp_port, "UDP")
                me = (t if tcp else u).getsockname()[1]
                user = rng.choice(ODD_USERS)
                frm = rng.choice(ODD_USERS)
                params, headers = rng.choice(ODD_PARAMS), rng.choice(ODD_HEADERS)
                ctype, ctype_seen = rng.choice(CONTENT_TYPES)
                body = f"odd {n} ".encode() + bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
                head = (f"MESSAGE sip:{user}@127.0.0.1:{port} SIP/2.0\r\n"
                        f"Via: SIP/2.0/{proto} 127.0.0.1:{me};branch=z9hG4bKodd{n}\r\n"
                        f"Max-Forwards: 70\r\nFrom: <sip:{frm}@127.0.0.1{params}{headers}>;tag=t{n}\r\n"
                        f"To: <sip:{user}@127.0.0.1:{port}>\r\nCall-ID: odd{n}@hostile\r\n"
                        f"CSeq: 1 MESSAGE\r\n").encode()
                data = (head + b"Content-Type: " + ctype + b"\r\n" +
                        f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                if tcp:
                    t.sendall(data)
                    answer = t.recv(4096)
                else:
                    u.sendto(data, ("127.0.0.1", port))
                    answer = u.recv(4096)
                assert answer.startswith(b"SIP/2.0 200 OK\r\n"), (data, answer)
                sent.append((n, user, frm, params, headers, ctype_seen, body))
        for n, user, frm, params, headers, ctype_seen, body in sent:
            ev = peer.expect("message", timeout=10)
            assert ev["body"] == body.decode("utf-8", "replace"), n
            assert ev["content_type"] == ctype_seen, n
            # str() escapes the NUL/\x01 PJSIP unescaped again: the text that was sent
            assert ev["to_uri"] == f"sip:{user}@127.0.0.1:{udp_port if n % 2 == 0 else tcp_port}", n
            assert ev["from_uri"].startswith(f"sip:{frm}@127.0.0.1"), (n, ev["from_uri"])
            for piece in filter(None, params.split(";")):
                name, _, value = piece.partition("=")
                assert (f";{name}={value}" if value else f";{name}") in ev["from_uri"], n
            assert ev["from_uri"].endswith(headers), (n, ev["from_uri"])
        assert peer.proc.poll() is None
    assert peer.exceptions == [], peer.exceptions[0]["traceback"]
    assert recorder.all("SIPEngineGotException") == []
