"""Hypothesis: SIPURI build -> str -> parse round-trips; the parser never crashes."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcore import SIPCoreError, SIPURI

_alnum = st.characters(min_codepoint=48, max_codepoint=122).filter(str.isalnum)
label = st.text(_alnum, min_size=1, max_size=10)
hostnames = st.lists(label, min_size=1, max_size=4).map(".".join).filter(
    lambda h: not h.replace(".", "").isdigit())
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.ip_addresses(v=6).map(str)
hosts = st.one_of(hostnames, ipv4, ipv6)
# any printable text (escaped by str(), unescaped by PJSIP); no NUL
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
tokens = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_."), min_size=1, max_size=8)
# names PJSIP keeps in their own fields, with values it reads back unchanged
special = {"transport", "user", "method", "ttl", "maddr", "lr"}
param_names = tokens.filter(lambda t: t.lower() not in special)
params = st.dictionaries(param_names, st.one_of(st.none(), tokens), max_size=3)
headers = st.dictionaries(st.sampled_from(["Subject", "X-Tag", "Priority"]), tokens, max_size=2)
displays = st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=10))


@st.composite
def sipuris(draw):
    return SIPURI(host=draw(hosts), user=draw(st.one_of(st.none(), texts)),
                  port=draw(st.one_of(st.none(), st.integers(1, 65535))),
                  display=draw(displays), secure=draw(st.booleans()),
                  parameters=draw(params), headers=draw(headers))



@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(uri=sipuris())
def test_build_str_parse_round_trip(running_engine, uri):
    parsed = running_engine.parse_sip_uri(str(uri))
    assert parsed == uri, (str(uri), parsed)
    assert str(parsed) == str(uri)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.sampled_from('sip:@;=?&<>"[]\\%/ .:0123456789abc\t\r\n'), max_size=80),
    st.binary(max_size=100).map(lambda b: "sip:" + b.decode("latin-1")),
))
def test_parser_never_crashes(running_engine, text):
    try:
        result = running_engine.parse_sip_uri(text)
    except SIPCoreError:
        return
    assert isinstance(result, SIPURI)
    # whatever PJSIP accepted must survive our own printing and re-parsing
    again = running_engine.parse_sip_uri(str(result))
    assert again == result
