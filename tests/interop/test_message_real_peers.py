"""MESSAGE with real SIP components: kamailio (proxy with digest auth), baresip, sipsak."""
import pytest

from peers import sipsak
from peers.baresip import Baresip
from sipcore import Credentials, Route, SIPURI, send_message


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_sipcore_to_baresip_through_kamailio_with_digest_auth(kam, engine_factory, recorder, transport):
    e = engine_factory(trace_sip=True, local_tls_port=0, tls_ca_file=kam.ca_file)
    with Baresip("bob", "bpw", registrar=kam) as bob:
        bob.wait_registered(timeout=15)
        alice = Credentials(SIPURI("127.0.0.1", user="alice"), "apw")
        route = Route("127.0.0.1", kam.tls_port if transport == "tls" else kam.port, transport)
        send_message(alice, SIPURI("127.0.0.1", user="bob"), "text/plain",
                     f"hi bob via kamailio/{transport}", route)
        resp = recorder.wait_for("SIPEngineGotMessageResponse", timeout=20)
        assert (resp.data.code, resp.data.reason) == (200, "OK")
        frm, text = bob.wait_for_message(f"hi bob via kamailio/{transport}", timeout=15)
        assert "alice" in frm
        # the proxy challenged first, and sipcore answered with credentials
        sent = [n.data.data for n in recorder.all("SIPEngineSIPTrace") if not n.data.received]
        rcvd = [n.data.data for n in recorder.all("SIPEngineSIPTrace") if n.data.received]
        assert any(m.startswith("SIP/2.0 407") for m in rcvd)
        assert any(m.startswith("MESSAGE") and "Proxy-Authorization: Digest" in m for m in sent)
    assert e.is_running


def test_wrong_password_ends_with_the_challenge_code(kam, engine, recorder):
    alice = Credentials(SIPURI("127.0.0.1", user="alice"), "wrong")
    send_message(alice, SIPURI("127.0.0.1", user="bob"), "text/plain", "x",
                 Route("127.0.0.1", kam.port))
    resp = recorder.wait_for("SIPEngineGotMessageResponse", timeout=20)
    # kamailio's config answers a wrong digest with a new challenge (proxy_challenge): the
    # request ends with that 407 (RFC 3261 22.3: no retry with the same credentials)
    assert (resp.data.code, resp.data.reason) == (407, "Proxy Authentication Required")
    import time
    time.sleep(0.5)
    assert len(recorder.all("SIPEngineGotMessageResponse")) == 1


def test_unknown_user_gets_404_once(kam, engine, recorder):
    alice = Credentials(SIPURI("127.0.0.1", user="alice"), "apw")
    send_message(alice, SIPURI("127.0.0.1", user="nobody"), "text/plain", "x",
                 Route("127.0.0.1", kam.port))
    resp = recorder.wait_for("SIPEngineGotMessageResponse", timeout=20)
    assert (resp.data.code, resp.data.reason) == (404, "Not Found")   # kamailio's config
    import time
    time.sleep(0.5)
    assert len(recorder.all("SIPEngineGotMessageResponse")) == 1
    assert recorder.all("SIPEngineGotException") == []


def test_message_from_sipsak_received(engine, recorder):
    port = engine.local_udp_port
    r = sipsak.send_message(f"sip:alice@127.0.0.1:{port}", "hello from sipsak",
                            from_uri="sip:sipsak@127.0.0.1")
    assert r.ok, r.stdout + r.stderr
    n = recorder.wait_for("SIPEngineGotMessage", timeout=10)
    assert n.data.body == b"hello from sipsak"
    assert n.data.from_uri.user == "sipsak" and n.data.to_uri.user == "alice"
    assert n.data.content_type == "text/plain"


def test_message_from_baresip_received(engine, recorder):
    port = engine.local_udp_port
    target = f"sip:alice@127.0.0.1:{port}"
    with Baresip("carol", contacts=[target]) as carol:
        carol.send_message(target, "hello from baresip")
        n = recorder.wait_for("SIPEngineGotMessage", timeout=15)
        assert n.data.body == b"hello from baresip"
        assert n.data.from_uri.user == "carol"
        carol.wait_for_output(r"200 OK|OK", timeout=10)
