"""Hypothesis: SDPSession build -> str -> PJMEDIA parse round-trips over every field of the SDP
classes (sessions with and without a session-level c=); the parser never crashes, and what it
accepts survives printing and parsing again.  The round-trip tests count the examples that
reach the property and assert most do (>= 50%; printed with -s, and hypothesis event())."""
import collections
import random

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sipcore import SIPCoreError
from sipcore.sdp import SDPAttribute, SDPConnection, SDPMedia, SDPSession

TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`{|}~"
tokens = st.text(st.sampled_from(TOKEN_CHARS), min_size=1, max_size=10)
# non-ws-string: any printable character but space (includes non-ASCII)
words = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
                min_size=1, max_size=12)
# free text: anything printable, spaces inside, no leading whitespace
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda t: t[0] not in " \t")
u32 = st.integers(0, 2**32 - 1)
addr_types = st.sampled_from(["IP4", "IP6"])
# PJMEDIA moves a session-level direction into the media: not generated at session level
session_attr_names = tokens.filter(lambda n: n not in ("sendonly", "recvonly", "inactive"))


@st.composite
def attributes(draw, names=tokens):
    return SDPAttribute(draw(names), draw(st.one_of(st.just(""), st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"), max_size=20))))


connections = st.builds(SDPConnection, words.filter(lambda w: "/" not in w), st.just("IN"), addr_types)


@st.composite
def media(draw):
    # payload formats: static numbers or non-numeric tokens, so pjmedia_sdp_validate needs
    # no rtpmap; a dynamic one (96..127) comes with its rtpmap
    fmts = draw(st.lists(st.one_of(st.integers(0, 95).map(str),
                                   tokens.filter(lambda t: not t[0].isdigit())),
                         min_size=1, max_size=5))
    attrs = draw(st.lists(attributes(), max_size=4))
    if draw(st.booleans()):
        fmts.append("97")
        attrs.append(SDPAttribute("rtpmap", "97 opus/48000/2"))
    return SDPMedia(draw(words), draw(st.integers(0, 65535)), draw(words),
                    draw(st.integers(1, 2**32 - 1)), fmts, draw(st.none() | texts),
                    draw(st.none() | connections), attrs)


@st.composite
def sessions(draw):
    # RFC 4566 5.7: a c= line in the session, or in every media section; both happen here
    # (media-level c= lines also appear beside a session-level one)
    connection = draw(st.none() | connections)
    media_list = draw(st.lists(media(), max_size=4))
    if connection is None:
        for m in media_list:
            if m.connection is None:
                m.connection = draw(connections)
    return SDPSession(draw(words), draw(st.none() | u32), draw(st.none() | u32), draw(words),
                      "IN", draw(addr_types), draw(st.just(" ") | texts), draw(st.none() | texts),
                      connection, draw(u32), draw(u32),
                      draw(st.lists(attributes(session_attr_names), max_size=4)), media_list)


def _count_fields(seen, sdp):
    """Which optional parts of the classes an example exercised (for the share asserts)."""
    seen["session c="] += sdp.connection is not None
    seen["no session c="] += sdp.connection is None
    seen["session i="] += sdp.info is not None
    seen["session a="] += bool(sdp.attributes)
    seen["IP6 origin"] += sdp.address_type == "IP6"
    seen["media"] += bool(sdp.media)
    seen["media c="] += any(m.connection is not None for m in sdp.media)
    seen["media i="] += any(m.info is not None for m in sdp.media)
    seen["media a="] += any(m.attributes for m in sdp.media)
    seen["port_count > 1"] += any(m.port_count > 1 for m in sdp.media)


def test_build_str_parse_round_trip(running_engine, recorder):
    """Every field of SDPSession, SDPMedia, SDPConnection and SDPAttribute survives
    str() and PJMEDIA's parser, compared field by field."""
    seen = collections.Counter()

    @settings(max_examples=400, deadline=None)
    @given(sdp=sessions())
    def check(sdp):
        seen["examples"] += 1
        text = str(sdp)
        parsed = SDPSession.parse(text)
        assert _fields(parsed) == _fields(sdp), text
        assert parsed == sdp, text
        assert str(parsed) == text
        assert SDPSession.parse(text.encode("utf-8", "surrogateescape")) == sdp
        seen["round trip"] += 1
        _count_fields(seen, sdp)
        event("session c=" if sdp.connection is not None else "media-level c= only")

    check()
    assert recorder.all("SIPEngineGotException") == []
    print(f"\nSDP build/parse round trip: {dict(seen)}")
    assert seen["round trip"] == seen["examples"] >= 400
    for key in ("session c=", "no session c=", "session i=", "session a=", "IP6 origin", "media",
                "media c=", "media i=", "media a=", "port_count > 1"):
        assert seen[key] >= seen["examples"] // 5, (key, seen)


def _fields(value):
    """A value object's fields, nested ones expanded (so a failure names the field)."""
    if isinstance(value, list):
        return [_fields(v) for v in value]
    if isinstance(value, (SDPSession, SDPMedia, SDPConnection, SDPAttribute)):
        return {name: _fields(getattr(value, name)) for name in type(value).__slots__}
    return value


LINES = ["v=0", "o=- 1 2 IN IP4 10.0.0.1", "o=- 1 2 IN IP6 ::1", "s=x", "s= ", "i=info",
         "c=IN IP4 10.0.0.1", "c=IN IP6 ::1/3", "t=0 0", "b=AS:64", "a=sendonly", "a=rtpmap:96 x/1",
         "a=x:", "m=audio 4000 RTP/AVP 0 96", "m=video 0/2 RTP/AVP x", "k=none", "", " ", "\t"]


def _mutate_lines(text: str, rnd: random.Random) -> str:
    """A small line-level edit of a valid SDP: a line dropped, repeated, moved or garbled,
    or other line endings."""
    lines = text.split("\r\n")[:-1]
    op = rnd.randrange(5)
    i = rnd.randrange(len(lines))
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[rnd.randrange(len(lines))])
    elif op == 2:
        lines.insert(rnd.randrange(len(lines)), lines.pop(i))
    elif op == 3:
        j = rnd.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:j] + rnd.choice(" =/:\t0x") + lines[i][j:]
    else:
        return "".join(line + rnd.choice(["\n", "\r\n"]) for line in lines)
    return "\r\n".join(lines) + "\r\n"


@st.composite
def parser_inputs(draw):
    kind = draw(st.sampled_from(["valid"] * 6 + ["mutated"] * 2 + ["lines", "random"]))
    event(f"input: {kind}")
    if kind == "valid":
        return kind, str(draw(sessions()))
    if kind == "mutated":
        return kind, _mutate_lines(str(draw(sessions())), random.Random(draw(st.integers(0, 2**32))))
    if kind == "lines":
        return kind, draw(st.lists(st.one_of(st.sampled_from(LINES), st.text(
            st.sampled_from("vosictbamk= :/0123456789IPN\t\r\n"), max_size=20)), max_size=12).flatmap(
            lambda ls: st.sampled_from(["\r\n", "\n", "\r"]).map(lambda nl: nl.join(ls))))
    return kind, draw(st.one_of(st.text(max_size=300), st.binary(max_size=300)))


@pytest.mark.parametrize("examples", [500, pytest.param(5000, marks=pytest.mark.long)])
def test_parser_never_crashes(running_engine, recorder, examples):
    seen = collections.Counter()

    @settings(max_examples=examples, deadline=None)
    @given(case=parser_inputs())
    def check(case):
        kind, text = case
        seen["examples"] += 1
        try:
            result = SDPSession.parse(text)
        except SIPCoreError:
            assert kind != "valid", text          # what str() makes always parses
            event("rejected")
            return
        assert isinstance(result, SDPSession)
        # whatever PJMEDIA accepted must survive our own printing and PJMEDIA's re-parsing
        again = SDPSession.parse(str(result))
        assert again == result and str(again) == str(result)
        seen["round trip"] += 1
        event("reached the round trip")

    check()
    assert recorder.all("SIPEngineGotException") == []
    print(f"\nSDP parser: {seen['round trip']} of {seen['examples']} reached the round trip")
    assert seen["round trip"] >= seen["examples"] // 2, seen
