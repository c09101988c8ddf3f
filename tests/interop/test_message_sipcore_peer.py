"""MESSAGE between this process and a second sipcore process, over UDP, TCP and TLS, on
127.0.0.1 and ::1; and TLS server verification."""
import pytest

from conftest import host
from sipcore import Credentials, Route, SIPURI, send_message
from sipcore.peer import PeerProcess

TRANSPORTS = ["udp", "tcp", "tls"]


@pytest.fixture(params=["127.0.0.1", "::1"])
def ip(request):
    return request.param


@pytest.fixture
def peer(ip, tls_files, engine_factory):
    engine_factory(local_ip=ip, local_tls_port=0, tls_ca_file=tls_files["ca"], trace_sip=True,
                   tls_cert_file=tls_files["cert"], tls_privkey_file=tls_files["key"])
    with PeerProcess("--ip", ip, "--user", "bob", "--tls-port", "0", "--tls-cert", tls_files["cert"],
                     "--tls-key", tls_files["key"], "--tls-ca", tls_files["ca"]) as p:
        yield p


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_message_both_ways(ip, peer, transport, recorder):
    from sipcore import Engine
    e = Engine()
    port = peer.ready[transport]
    to = SIPURI(ip, user="bob", port=port)
    send_message(Credentials(SIPURI(ip, user="alice")), to, "text/plain",
                 f"to bob over {transport}", Route(ip, port, transport))
    resp = recorder.wait_for("SIPEngineGotMessageResponse", timeout=10)
    assert (resp.data.code, resp.data.reason) == (200, "OK")
    got = peer.expect("message", timeout=10)
    assert got["body"] == f"to bob over {transport}"
    # the trace shows the request going to the peer and its answer coming from it
    traces = [n.data for n in recorder.all("SIPEngineSIPTrace")]
    req = [t for t in traces if not t.received and t.data.startswith("MESSAGE sip:bob@")]
    ok = [t for t in traces if t.received and t.data.startswith("SIP/2.0 200")]
    # (a UDP retransmission under load would repeat the same request, byte for byte)
    assert req and len({t.data for t in req}) == 1 and ok
    assert (req[0].destination_ip, req[0].destination_port) == (ip, port)
    assert (ok[0].source_ip, ok[0].source_port) == (ip, port)
    assert req[0].source_ip == ip and ok[0].destination_port == req[0].source_port
    assert got["from_uri"].startswith("sip:alice@")

    # and the other way: the peer sends to this process
    my_port = {"udp": e.local_udp_port, "tcp": e.local_tcp_port, "tls": e.local_tls_port}[transport]
    peer.send(f"sip:alice@{host(ip)}:{my_port}", f"to alice over {transport}", (ip, my_port, transport))
    n = recorder.wait_for("SIPEngineGotMessage", timeout=10)
    assert n.data.body == f"to alice over {transport}".encode()
    # the peer runs with --user bob: its Credentials (the From URI) are sip:bob@<ip>
    assert (n.data.from_uri.user, n.data.from_uri.host) == ("bob", ip)
    # RFC 3261 19.1.1 Table 1: no port in a To header URI (PJSIP leaves it out)
    assert n.data.to_uri == SIPURI(ip, user="alice")
    assert recorder.all("SIPEngineGotException") == [] and peer.exceptions == []
    assert peer.expect("response", timeout=10)["code"] == 200


def test_tls_verification_refuses_unknown_ca_then_accepts_with_ca(tls_files, engine_factory, recorder):
    # The default: verify the server against the system CA store, which does not know our CA.
    e = engine_factory(local_tls_port=0)
    assert e.tls_verify_server is True
    with PeerProcess("--tls-port", "0", "--tls-cert", tls_files["cert"], "--tls-key", tls_files["key"]) as peer:
        port = peer.ready["tls"]
        to = SIPURI("127.0.0.1", user="bob", port=port)
        send_message(Credentials(SIPURI("127.0.0.1", user="alice")), to, "text/plain", "x",
                     Route("127.0.0.1", port, "tls"))
        resp = recorder.wait_for("SIPEngineGotMessageResponse", timeout=15)
        assert resp.data.code == 503
        assert "certificate" in resp.data.reason.lower() or "verif" in resp.data.reason.lower()
        with pytest.raises(TimeoutError):
            peer.expect("message", timeout=1)

        e.set_tls_options(local_port=0, ca_file=tls_files["ca"], verify_server=True)
        assert e.tls_ca_file == tls_files["ca"]
        send_message(Credentials(SIPURI("127.0.0.1", user="alice")), to, "text/plain", "y",
                     Route("127.0.0.1", port, "tls"))
        resp = recorder.wait_for("SIPEngineGotMessageResponse", timeout=15)
        assert (resp.data.code, resp.data.reason) == (200, "OK")
        assert peer.expect("message", timeout=10)["body"] == "y"
