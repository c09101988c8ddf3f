"""Hypothesis: the flat formats of sipcore.h ("flat formats") -- the URI flat form, the incoming
MESSAGE flat buffer, the SDP flat form and the headers list -- each round-trip through their
one Python codec (encode, decode: the same value), and, where C writes or reads the format,
with C in the loop (PJSIP's parser and sc_uri_pj_flat, send_message to ourselves and
sc_message_flat, sc_sdp_from_flat/sc_sdp_flat/pjmedia_sdp_print, sc_msg_send's header list
and sc_msg_headers).  Every text may hold the bytes the formats escape (NUL, 0x01); the C
writers start from buffers smaller than their forms (they are grown as C asks).  Each test
counts the examples that reach the property and asserts they are most of them (>= 50%)."""
import collections
import re
import socket

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import pjmedia_parse, pjmedia_print, sdp_from_pjmedia
from sipcore import (Credentials, Invitation, NotificationRecorder, Route, SIPURI, _flat, _ua,
                     send_message)
from sipcore import sdp as sdp_module
from sipcore import uri as uri_module
from sipcore.primitives import message
from sipcore.sdp import SDPAttribute, SDPMedia, SDPSession
from test_sdp_properties import sessions
from test_uri_properties import SPECIAL, sipuris

SLOW = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# text with the escaped bytes (NUL, 0x01, and what looks like an escape) in most examples
_plain = st.text(st.characters(blacklist_categories=("Cs",)), max_size=5)
odd_texts = st.builds(lambda a, mid, b: a + mid + b, _plain,
                      st.sampled_from(["", "\x00", "\x01", "\x010", "\x00\x01", "\\\""]), _plain)
words = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10)
tokens = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"), min_size=1, max_size=8)


def _share(seen: collections.Counter, what: str) -> None:
    print(f"\n{what}: {dict(seen)}")
    assert seen["round trip"] >= seen["examples"] // 2 and seen["examples"] > 0, seen


def _odd(value: str) -> bool:
    return "\x00" in value or "\x01" in value


def _ua_call(fn, *args):
    """fn(*args) on the running Engine's poll thread."""
    ua = _ua.running("test")
    return ua.call(fn, *args)


def _python_round_trip(what: str, values, encode, decode, odd=None,
                       examples: int = 300) -> collections.Counter:
    """decode(encode(value)) == value over ``values``' examples (every other one through
    ``odd(value, n)`` first); counts the forms holding an escape, and the URI flat form's
    "no value" mark (0x01 alone in a field)."""
    seen = collections.Counter()

    @settings(max_examples=examples, deadline=None)
    @given(value=values)
    def check(value):
        seen["examples"] += 1
        if odd is not None and seen["examples"] % 2:
            value = odd(value, seen["examples"] // 2)
        data = encode(value)
        assert decode(data) == value
        seen["round trip"] += 1
        seen["escaped byte"] += re.search(rb"\x01[01]", data) is not None
        seen["no-value mark"] += b"\x01\x00" in data
        event("escaped byte" if re.search(rb"\x01[01]", data) else "plain")

    check()
    _share(seen, what)
    return seen


# ---- URI flat form ---------------------------------------------------------------------------

@st.composite
def uri_fields(draw):
    """What the URI flat form's decoder returns: host, user, port, display, secure,
    parameters (None: no value), headers -- any text."""
    return (draw(words), draw(odd_texts), draw(st.integers(0, 65535)), draw(odd_texts),
            draw(st.booleans()),
            draw(st.dictionaries(odd_texts, st.none() | odd_texts, max_size=4)),
            draw(st.dictionaries(odd_texts, odd_texts, max_size=3)))


def test_uri_flat_form_python_round_trip():
    seen = _python_round_trip("URI flat form, Python", uri_fields(),
                              lambda fields: uri_module._flat_of(*fields),
                              lambda data: uri_module._fields_of_flat(data, strict=True),
                              examples=400)
    assert seen["escaped byte"] >= seen["examples"] // 4 and seen["no-value mark"] > 50


_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _odd_uri(u: SIPURI, n: int) -> SIPURI:
    """u as a received message may hold it: with NUL, 0x01 or what looks like an escape added
    to its user, parameter and header values (``%00``, ``%01`` on the wire: SIPURI's own checks
    refuse a NUL, PJSIP's values are taken as they are).  ``n`` picks the bytes.  (Not a hex
    digit first: the suffix tests the bytes the flat formats escape; valid escapes in values
    are added where a test wants them, see _with_escapes.)"""
    odd = ("\x00", "\x01", "\x010", "z\x00\x01")[n % 4]
    # (not after a quoted string: a received one ends at its closing quote)
    params = {k: (v if v is None or k in SPECIAL or v.startswith('"') else v + odd)
              for k, v in u.parameters.items()}
    return uri_module._make(u.host, (u.user or "") + odd, u.port, u.display, u.secure, params,
                            {k: v + odd for k, v in u.headers.items()})


def _with_escapes(u: SIPURI, n: int) -> SIPURI:
    """u with what reads as a valid escape (``%41``, ``%00``, ``%25``) in its user and a
    parameter value: characters of the value like any other, sent as ``%2541`` etc."""
    esc = ("%41", "%00", "%25", "a%2F")[n % 4]
    params = dict(u.parameters)
    params["esc"] = esc + "v"
    return uri_module._make(u.host, (u.user or "") + esc, u.port, u.display, u.secure, params,
                            u.headers)


def _pjsip_order(u: SIPURI) -> SIPURI:
    """u with its parameters in the order PJSIP keeps them (sipcore.h, URI flat form)."""
    params = {k: u.parameters[k] for k in ("user", "method", "transport", "maddr", "ttl", "lr")
              if k in u.parameters}
    params.update(u.parameters)
    return uri_module._make(u.host, u.user, u.port, u.display, u.secure, params, u.headers)


def test_uri_flat_form_written_by_c(running_engine):
    """SIPURI -> text -> PJSIP's parser -> sc_uri_pj_flat (into a buffer of 8 bytes first) ->
    decoded == the SIPURI; and the bytes C wrote are the Python encoder's, byte for byte."""
    from sipcore._pj import ffi, lib
    seen = collections.Counter()

    def through_c(pool, text):
        data = ffi.new("char[]", text.encode())      # (PJSIP's URI points into it)
        ptr = lib.pjsip_parse_uri(pool, data, len(data) - 1, lib.PJSIP_PARSE_URI_AS_NAMEADDR)
        assert ptr != ffi.NULL, text
        flat = _flat.Buffer(8).read(lib.sc_uri_pj_flat, ptr)
        return flat, uri_module.from_pj(ptr, _flat.Buffer(8), {})

    @settings(max_examples=300, **SLOW)
    @given(u=sipuris())
    def check(u):
        seen["examples"] += 1
        if seen["examples"] % 2:
            u = _odd_uri(u, seen["examples"] // 2)
        flat, trusted = sdp_module.with_pool("test", through_c, str(u))
        fields = uri_module._fields_of_flat(flat)
        assert uri_module._make(*uri_module._normalized(fields)) == u
        assert trusted == u
        o = _pjsip_order(u)
        assert flat == uri_module._flat_of(o.host, o.user, o.port, o.display, o.secure,
                                           o.parameters, o.headers)
        seen["round trip"] += 1
        seen["escaped byte"] += b"\x01" in flat
        seen["grown"] += len(flat) > 8

    check()
    _share(seen, "URI flat form, C")
    assert seen["escaped byte"] >= seen["examples"] // 4


# ---- incoming MESSAGE flat buffer ------------------------------------------------------------

def _flat_of(u: SIPURI | None) -> bytes | None:
    return None if u is None else uri_module._flat_of(u.host, u.user, u.port, u.display,
                                                      u.secure, u.parameters, u.headers)


content_types = st.tuples(tokens, tokens).map("/".join)


def test_message_flat_buffer_python_round_trip():
    seen = collections.Counter()

    @settings(max_examples=300, deadline=None)
    @given(to=st.none() | sipuris(), frm=st.none() | sipuris(),
           ctype=st.none() | content_types, body=st.binary(max_size=200))
    def check(to, frm, ctype, body):
        seen["examples"] += 1
        if seen["examples"] % 2:
            to, frm = (None if u is None else _odd_uri(u, seen["examples"]) for u in (to, frm))
        data, *lens = message.encode(_flat_of(to), _flat_of(frm), ctype, body)
        uris: dict = {}
        for _ in range(2):                        # decoded, then from the cache
            got = message.decode(data, *lens, uris)
            assert got == (to, frm, ctype, body if ctype is not None else b"")
        seen["round trip"] += 1
        seen["no URI"] += to is None or frm is None
        seen["no body"] += ctype is None

    check()
    _share(seen, "incoming MESSAGE flat buffer, Python")


def test_message_flat_buffer_written_by_c(running_engine):
    """send_message to ourselves: the To URI (any SIPURI but what PJSIP does not print in a
    To header), content type and body -> PJSIP's parser -> sc_message_flat (into a 16-byte
    buffer in half the examples: written again once grown) -> decode == what was sent."""
    seen = collections.Counter()
    port = running_engine.local_udp_port
    me = Credentials(SIPURI("127.0.0.1", user="flat", display="Flat \\ Form"))
    ua = _ua.running("test")

    @settings(max_examples=120, **SLOW)
    @given(to=sipuris(), ctype=content_types, body=st.binary(max_size=1500))
    def check(to, ctype, body):
        seen["examples"] += 1
        if seen["examples"] % 4 == 1:
            to = _with_escapes(to, seen["examples"] // 4)
        seen["valid escape"] += bool(_ESCAPE.search(to.user or "") or
                                     any(_ESCAPE.search(v or "") for v in to.parameters.values()))
        small = seen["examples"] % 2 == 0
        if seen["examples"] % 3:
            to = _odd_uri(to, seen["examples"])
        # (PJSIP prints no port, method, transport, ttl, maddr or lr in a To header)
        to = uri_module._make(to.host, to.user, None, to.display, to.secure,
                              {k: v for k, v in to.parameters.items() if k not in SPECIAL[1:]},
                              {})
        if small:
            _ua_call(ua.scratch.grow, 16)
        with NotificationRecorder() as rec:
            send_message(me, to, ctype, body, Route("127.0.0.1", port))
            got = rec.wait_for("SIPEngineGotMessage", timeout=5)
            # (its own response: one MESSAGE per Request-URI may be pending, and the next
            # example may send to the same one)
            assert rec.wait_for("SIPEngineGotMessageResponse", timeout=5,
                                where={"to_uri": to}).data.code == 200
        assert (got.data.to_uri, got.data.from_uri) == (to, me.uri)
        assert (got.data.content_type, got.data.body) == (ctype, body)
        seen["round trip"] += 1
        seen["grown"] += small and ua.scratch.size > 16
        seen["escaped byte"] += _odd(to.user or "") or any(
            _odd(v or "") for v in to.parameters.values())

    check()
    assert running_engine.is_running
    _share(seen, "incoming MESSAGE flat buffer, C")
    assert seen["grown"] == seen["examples"] // 2
    assert seen["escaped byte"] >= seen["examples"] // 2
    assert seen["valid escape"] >= seen["examples"] // 4


# ---- SDP flat form ---------------------------------------------------------------------------

def _odd_session(s: SDPSession, n: int) -> SDPSession:
    """s with NUL, 0x01 or what looks like an escape in its attribute values, as an SDP from a
    peer may hold them (the value classes' own checks refuse a NUL).  ``n`` picks the bytes."""
    odd = ("\x00", "\x01", "\x010", "a\x00\x01")[n % 4]
    s.attributes = [SDPAttribute._trusted(a.name, a.value + odd) for a in s.attributes]
    s.attributes.append(SDPAttribute._trusted("odd", odd))
    return s


def _without_info(s: SDPSession) -> SDPSession:
    s = s.copy()
    s.info = None
    for m in s.media:
        m.info = None
    return s


def test_sdp_flat_form_python_round_trip():
    seen = _python_round_trip("SDP flat form, Python", sessions(), sdp_module._flat,
                              sdp_module._from_flat, odd=_odd_session)
    assert seen["escaped byte"] >= seen["examples"] // 4


def test_sdp_flat_form_through_c(running_engine):
    """SDPSession -> flat -> sc_sdp_from_flat -> sc_sdp_flat (from an 8-byte buffer) gives the
    same bytes (but the i= texts, which PJMEDIA does not keep); and, for the sessions PJMEDIA's
    printer can write (no NUL), -> pjmedia_sdp_print == str() of it -> SDPSession.parse ==
    the session."""
    seen = collections.Counter()

    def through_c(pool, s):
        ptr = sdp_module._pj_from_flat(pool, sdp_module._flat(s))
        return sdp_module._flat_of_pj(ptr, _flat.Buffer(8)), pjmedia_print(pool, ptr)

    @settings(max_examples=300, **SLOW)
    @given(s=sessions())
    def check(s):
        seen["examples"] += 1
        if seen["examples"] % 2:
            s = _odd_session(s, seen["examples"] // 2)
        bare = _without_info(s)
        flat, printed = sdp_module.with_pool("test", through_c, s)
        assert flat == sdp_module._flat(bare)
        assert sdp_module._from_flat(flat) == bare
        if not any("\x00" in a.value for a in s.attributes):
            assert printed == str(bare)
            if not any("\x01" in a.value for a in s.attributes):
                assert SDPSession.parse(printed) == bare
                seen["parsed again"] += 1
        seen["round trip"] += 1

    check()
    _share(seen, "SDP flat form, C")
    assert seen["parsed again"] >= seen["examples"] // 4


def test_sdp_flat_form_reader_refuses_a_truncated_or_overlong_buffer(running_engine):
    """sc_sdp_from_flat reads exactly one whole SDP flat form: anything else (cut short, more
    after it, a count that does not match, a broken escape) is refused (NULL)."""
    from sipcore._pj import ffi, lib
    flat = sdp_module._flat(SDPSession("192.0.2.1", media=[
        SDPMedia("audio", 4000, "RTP/AVP", formats=["0"])]))
    bad = (flat[:-1], flat[:len(flat) // 2], flat + b"x\0",
           flat.replace(b"\x001\x00", b"\x009999\x00"), b"", b"\0",
           flat.replace(b"RTP/AVP", b"RTP\x01AVP"), flat.replace(b"RTP/AVP", b"RTP/AVP\x01"))
    results = sdp_module.with_pool("test", lambda pool: [
        lib.sc_sdp_from_flat(pool, data, len(data)) == ffi.NULL for data in (flat,) + bad])
    assert results == [False] + [True] * len(bad)


PEERS_SDP = (
    ("v=0\r\no=- 3913467382 3913467383 IN IP6 2001:db8::10\r\ns=pjmedia\r\nb=AS:117\r\n"
     "t=0 0\r\na=X-nat:0\r\nm=audio 4000 RTP/AVP 96 0 101\r\nc=IN IP6 2001:db8::10\r\n"
     "a=rtcp:4001 IN IP6 2001:db8::10\r\na=sendonly\r\na=rtpmap:96 opus/48000/2\r\n"
     "a=fmtp:96 useinbandfec=1\r\na=rtpmap:101 telephone-event/8000\r\n"),
    ("v=0\no=- 1795473924 2102406417 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\n"
     "t=0 0\nm=audio 10000 RTP/AVP 0 101\ni=voice\na=rtpmap:0 PCMU/8000\n"
     "a=ssrc:2394582812 cname:sip:alice@127.0.0.1\na=rtcp-rsize\nm=video 0 RTP/AVP 97\n"
     "a=rtpmap:97 H264/90000\n"),
    "v=0\r\no=- 1 2 IN IP4 h\r\ns=\r\nb=AS:1\r\nt=0 0\r\na=sendonly\r\n"
    "m=audio 0/3 RTP/AVP\r\nb=TIAS:1\r\na=x:\r\na=y: z\r\nm=video 9 RTP/AVP 97\r\n"
    "c=IN IP6 ::1\r\n",
)


def test_sdp_flat_form_of_peers_sdp(running_engine):
    """What pjsua and baresip send (and odd forms: no name, a port count, empty attribute
    values), parsed by PJMEDIA and read through sc_sdp_flat: the object prints as PJMEDIA
    prints the struct (but b= lines, which the classes do not hold), and goes back into PJMEDIA
    and out again unchanged."""
    def run(pool, text):
        first = sdp_from_pjmedia(pjmedia_parse(pool, text))
        ptr = sdp_module._pj_from_flat(pool, sdp_module._flat(first))
        lines = pjmedia_print(pool, pjmedia_parse(pool, text)).split("\r\n")
        return first, sdp_from_pjmedia(ptr), "\r\n".join(x for x in lines if x[:2] != "b=")

    for text in PEERS_SDP:
        first, again, printed = sdp_module.with_pool("test", run, text)
        assert again == first, text
        assert str(first) == printed.replace("\r\ns=\r\n", "\r\ns= \r\n"), text  # RFC 4566's "s= "


# ---- headers list ----------------------------------------------------------------------------

def test_headers_list_python_round_trip():
    seen = _python_round_trip("headers list, Python", st.dictionaries(words, odd_texts, max_size=5),
                              _flat.headers_list, _flat.headers_of)
    assert seen["escaped byte"] >= seen["examples"] // 5


header_names = tokens.map(lambda t: "X-" + t)
header_values = st.text(st.sampled_from("\x01ab ;=é") | st.characters(
    blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).map(str.strip).filter(bool)


def test_headers_list_read_by_c(running_engine):
    """A SIPURI's ?headers -> headers list -> sc_msg_send's reader -> the request on the wire
    (a socket that answers 200): each header a line of its own, its value as given."""
    seen = collections.Counter()
    me = Credentials(SIPURI("127.0.0.1", user="flat"))

    @settings(max_examples=100, **SLOW)
    @given(headers=st.dictionaries(header_names, header_values, min_size=1, max_size=4))
    def check(headers):
        seen["examples"] += 1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer, NotificationRecorder() as rec:
            peer.bind(("127.0.0.1", 0))
            peer.settimeout(5)
            port = peer.getsockname()[1]
            send_message(me, SIPURI("127.0.0.1", user="h", port=port, headers=headers),
                         "text/plain", "x", Route("127.0.0.1", port))
            data, addr = peer.recvfrom(65536)
            head = data.split(b"\r\n\r\n")[0].decode().split("\r\n")
            lines = {x.split(":", 1)[0]: x.split(":", 1)[1].strip() for x in head[1:]}
            peer.sendto(_answer_200(head), addr)
            assert rec.wait_for("SIPEngineGotMessageResponse", timeout=5).data.code == 200
        assert {k: lines.get(k) for k in headers} == headers
        seen["round trip"] += 1

    check()
    _share(seen, "headers list, read by C")


def _answer_200(head: list[str]) -> bytes:
    keep = [x for x in head[1:] if x.split(":")[0].lower() in ("via", "from", "to", "call-id",
                                                               "cseq")]
    return ("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()


def test_headers_list_written_by_c(running_engine):
    """An INVITE to ourselves with extra headers -> PJSIP's parser -> sc_msg_headers (into a
    16-byte buffer first) -> the INCOMING notification's headers: each as sent."""
    seen = collections.Counter()
    port = running_engine.local_udp_port
    me = Credentials(SIPURI("127.0.0.1", user="caller"))
    ua = _ua.running("test")

    @settings(max_examples=60, **SLOW)
    @given(headers=st.dictionaries(header_names, header_values, min_size=1, max_size=4))
    def check(headers):
        seen["examples"] += 1
        _ua_call(ua.scratch.grow, 16)
        with NotificationRecorder() as rec:
            out = Invitation(me, SIPURI("127.0.0.1", user="callee", port=port),
                             Route("127.0.0.1", port))
            out.send_invite(extra_headers=headers)
            n = rec.wait_for("SIPInvitationChangedState", timeout=5,
                             where=lambda n: n.data.state == "INCOMING")
            n.sender.disconnect(603)
            rec.wait_for("SIPInvitationChangedState", timeout=10,
                         where=lambda n: n.sender is out and n.data.state == "DISCONNECTED")
        assert {k: n.data.headers.get(k) for k in headers} == headers
        seen["round trip"] += 1
        seen["grown"] += ua.scratch.size > 16

    check()
    _share(seen, "headers list, written by C")
    assert seen["grown"] == seen["examples"]
