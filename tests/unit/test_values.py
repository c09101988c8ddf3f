"""SIPURI, Credentials and Route as plain values (no Engine needed)."""
import copy

import pytest

from sipcore import Credentials, Route, SIPURI


def test_sipuri_str_forms():
    assert str(SIPURI("example.com")) == "sip:example.com"
    assert str(SIPURI("example.com", user="alice", port=5070)) == "sip:alice@example.com:5070"
    assert str(SIPURI("::1", user="bob", secure=True)) == "sips:bob@[::1]"
    u = SIPURI("10.0.0.1", user="a b", display='Al "x"', parameters={"transport": "tcp", "lr": None},
               headers={"Subject": "hi there"})
    assert str(u) == '"Al \\"x\\"" <sip:a%20b@10.0.0.1;transport=tcp;lr?Subject=hi%20there>'


def test_sipuri_equality_and_copy():
    a = SIPURI("example.com", user="alice", parameters={"x": "1"})
    b = a.copy()
    assert a == b and not (a != b) and a is not b
    b.parameters["x"] = "2"
    assert a != b and a.parameters["x"] == "1"
    assert copy.deepcopy(a) == a
    assert SIPURI("EXAMPLE.com") == SIPURI("example.com")  # host is case-insensitive
    assert SIPURI("example.com", port=0) == SIPURI("example.com")  # 0 means not set


@pytest.mark.parametrize("kwargs, exc, word", [
    ({"host": 5}, TypeError, "host"),
    ({"host": ""}, ValueError, "host"),
    ({"host": "bad host"}, ValueError, "host"),
    ({"host": "a.com", "port": 70000}, ValueError, "port"),
    ({"host": "a.com", "port": "5060"}, TypeError, "port"),
    ({"host": "a.com", "port": True}, TypeError, "port"),
    ({"host": "a.com", "user": 3}, TypeError, "user"),
    ({"host": "a.com", "secure": 1}, TypeError, "secure"),
    ({"host": "a.com", "parameters": [("a", "b")]}, TypeError, "parameters"),
    ({"host": "a.com", "headers": {"X": None}}, ValueError, "headers"),
    ({"host": "a.com", "display": "x\x00"}, ValueError, "display"),
])
def test_sipuri_rejects_bad_arguments_naming_them(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        SIPURI(**kwargs)


def test_sipuri_attributes_validated_on_assignment():
    u = SIPURI("example.com")
    u.port = 5080
    assert str(u) == "sip:example.com:5080"
    with pytest.raises(ValueError, match="port"):
        u.port = -1
    assert u.port == 5080


def test_credentials():
    c = Credentials(SIPURI("example.com", user="alice"), "pw")
    d = c.copy()
    assert c == d and d.uri is not c.uri
    with pytest.raises(TypeError, match="uri"):
        Credentials("sip:alice@example.com")
    with pytest.raises(TypeError, match="password"):
        Credentials(SIPURI("example.com"), 1234)
    assert "pw" not in repr(c)


def test_route_defaults_and_validation():
    assert Route("127.0.0.1").port == 5060
    assert Route("127.0.0.1", transport="TLS").port == 5061
    r = Route("::1", 5070, "TCP")
    assert r.transport == "tcp" and r.uri() == "<sip:[::1]:5070;transport=tcp;lr>"
    assert r.copy() == r
    with pytest.raises(ValueError, match="address"):
        Route("not a host")
    with pytest.raises(ValueError, match="transport"):
        Route("127.0.0.1", 5060, "sctp")
    with pytest.raises(ValueError, match="port"):
        Route("127.0.0.1", 0)
    with pytest.raises(TypeError, match="address"):
        Route(None)


def test_sipuri_escapes_what_its_part_does_not_allow():
    """RFC 3261 25.1: '@', ':' and space in a user part, ';' '=' in a parameter value and
    '&' '=' in a header value are escaped; the characters each part allows are not."""
    u = SIPURI("h.example", user="a@b:c d;e", parameters={"p": "x;y=z", "q": "[]/:&+$"},
               headers={"Subject": "a&b=c?d"})
    assert str(u) == ("sip:a%40b%3Ac%20d;e@h.example;p=x%3By%3Dz;q=[]/:&+$"
                      "?Subject=a%26b%3Dc?d")


def test_headers_list_joins_a_repeated_header():
    """The headers list (sipcore.h) of a message naming a header twice: one entry, the values
    joined with ", " in their order (RFC 3261 7.3.1); the codec's escapes are undone."""
    from sipcore import _flat
    data = b"Via\0a\0X-Y\0\x010\0Via\0b\0"
    assert _flat.headers_of(data) == {"Via": "a, b", "X-Y": "\0"}
    assert _flat.headers_of(b"") == {}
    assert _flat.headers_of(_flat.headers_list({"A": "1", "B": "\x01\x00"})) == {"A": "1", "B": "\x01\x00"}
