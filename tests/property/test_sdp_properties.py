"""Hypothesis: SDPSession build -> str -> PJMEDIA parse round-trips; the parser never crashes."""
from hypothesis import HealthCheck, given, settings
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
    return SDPSession(draw(words), draw(st.none() | u32), draw(st.none() | u32), draw(words),
                      "IN", draw(addr_types), draw(st.just(" ") | texts), draw(st.none() | texts),
                      draw(connections), draw(u32), draw(u32),
                      draw(st.lists(attributes(session_attr_names), max_size=4)),
                      draw(st.lists(media(), max_size=4)))



@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sdp=sessions())
def test_build_str_parse_round_trip(running_engine, sdp):
    text = str(sdp)
    parsed = SDPSession.parse(text)
    assert parsed == sdp, text
    assert str(parsed) == text
    assert SDPSession.parse(text.encode("utf-8", "surrogateescape")) == sdp


LINES = ["v=0", "o=- 1 2 IN IP4 10.0.0.1", "o=- 1 2 IN IP6 ::1", "s=x", "s= ", "i=info",
         "c=IN IP4 10.0.0.1", "c=IN IP6 ::1/3", "t=0 0", "b=AS:64", "a=sendonly", "a=rtpmap:96 x/1",
         "a=x:", "m=audio 4000 RTP/AVP 0 96", "m=video 0/2 RTP/AVP x", "k=none", "", " ", "\t"]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    st.lists(st.sampled_from(LINES), max_size=14).map("\r\n".join),
    st.lists(st.one_of(st.sampled_from(LINES), st.text(st.sampled_from("vosictbamk= :/0123456789IPN\t\r\n"),
                                                       max_size=20)),
             max_size=12).flatmap(lambda ls: st.sampled_from(["\r\n", "\n", "\r"]).map(lambda nl: nl.join(ls))),
))
def test_parser_never_crashes(running_engine, text):
    try:
        result = SDPSession.parse(text)
    except SIPCoreError:
        return
    assert isinstance(result, SDPSession)
    # whatever PJMEDIA accepted must survive our own printing and PJMEDIA's re-parsing
    assert SDPSession.parse(str(result)) == result
