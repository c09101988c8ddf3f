"""_validate: the shared argument checks keep their exact messages, send_message's inline
copies say the same, and unchecked values are real objects of their class."""
import pytest

from sipcore import Credentials, Route, SIPURI, send_message
from sipcore import _validate as v
from sipcore.primitives import _base as b
from sipcore.sdp import SDPAttribute, SDPConnection


def _message(exc_type, fn, *args, **kwargs) -> str:
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_messages_name_the_argument_word_for_word():
    assert _message(TypeError, v.check_expires, "1") == "expires must be an int (seconds), not str"
    assert _message(ValueError, v.check_expires, 0) == \
        "expires must be in 1..2147483647 seconds, not 0"
    assert _message(TypeError, v.check_int, "port", True, 0, 9, allow_none=True) == \
        "port must be an int or None, not bool"
    assert _message(ValueError, v.check_int, "response_code", 99, 100, 699) == \
        "response_code must be in 100..699, not 99"
    assert _message(TypeError, b.check_credentials, None) == \
        "credentials must be a Credentials, not NoneType"
    assert _message(TypeError, b.check_route, 1) == "route must be a Route, not int"
    assert _message(TypeError, b.check_sipuri, "contact_uri", "x", allow_none=True) == \
        "contact_uri must be a SIPURI or None, not str"
    assert _message(TypeError, v.check_timeout, "1", 86400) == \
        "timeout must be an int, a float or None, not str"
    assert _message(ValueError, v.check_timeout, float("nan"), 86400) == \
        "timeout must be in (0, 86400] seconds, not nan"
    assert _message(TypeError, v.check_bool, "secure", 1) == "secure must be a bool, not int"
    assert _message(ValueError, v.check_content_type, "text") == \
        "content_type must be 'type/subtype', not 'text'"
    assert _message(TypeError, v.check_body, 1) == "body must be str or bytes, not int"
    assert _message(ValueError, v.check_headers, {"a b": "x"}) == \
        "extra_headers: 'a b' is not a header name"


def test_send_message_inline_checks_say_what_validate_says():
    uri = SIPURI("example.com", user="a")
    cred, route = Credentials(uri), Route("127.0.0.1")
    assert _message(TypeError, send_message, None, uri, "text/plain", "x", route) == \
        _message(TypeError, b.check_credentials, None)
    assert _message(TypeError, send_message, cred, uri, "text/plain", "x", 5) == \
        _message(TypeError, b.check_route, 5)
    assert _message(TypeError, send_message, cred, uri, "text/plain", 1, route) == \
        _message(TypeError, v.check_body, 1)
    assert _message(TypeError, send_message, cred, "x", "text/plain", "x", route) == \
        "to_uri must be a SIPURI, not str"


def test_unchecked_values_are_their_class_and_check_later_sets():
    route = Route("::1", transport="tls").copy()
    assert type(route) is Route and route == Route("::1", transport="tls")
    with pytest.raises(ValueError, match="port"):
        route.port = 0
    cred = Credentials(SIPURI("h", user="u"), "pw").copy()
    assert type(cred) is Credentials and cred.password == "pw"
    with pytest.raises(TypeError, match="uri must be a SIPURI"):
        cred.uri = "sip:h"
    attr = SDPAttribute("rtpmap", "0 PCMU/8000").copy()
    assert type(attr) is SDPAttribute and attr == SDPAttribute("rtpmap", "0 PCMU/8000")
    conn = SDPConnection._trusted("10.0.0.1", "IN", "IP4")
    assert type(conn) is SDPConnection
    with pytest.raises(ValueError, match="address_type"):
        conn.address_type = "IP5"
