"""Changing a transport's port (issue #14): a change that fails leaves the working transport
as it was, and every primitive's first request after a change leaves through the new one."""
import socket

import pytest

from sipcore import Credentials, Registration, Route, SIPCoreError, SIPURI

from conftest import in_threads  # noqa: F401  (the fixtures' module)


def options_answer(port: int, tcp: bool) -> str:
    """The status line of the answer to a raw OPTIONS sent to 127.0.0.1:port."""
    kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.settimeout(5)
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        proto = "TCP" if tcp else "UDP"
        msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/{proto} 127.0.0.1:{me};branch=z9hG4bKtc{me}\r\n"
               "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\n"
               f"To: <sip:127.0.0.1:{port}>\r\nCall-ID: tc{me}@probe\r\nCSeq: 1 OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n").encode()
        if tcp:
            s.connect(("127.0.0.1", port))
            s.sendall(msg)
        else:
            s.sendto(msg, ("127.0.0.1", port))
        return s.recv(65535).decode().split("\r\n")[0]


@pytest.fixture
def busy():
    """A port taken on 127.0.0.1 for both UDP and TCP (listening)."""
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    t.listen()
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", port))
    yield port
    t.close()
    u.close()


@pytest.mark.parametrize("kind", ["udp", "tcp"])
def test_a_busy_port_leaves_the_old_transport_working(engine_factory, busy, kind):
    e = engine_factory(local_udp_port=0, local_tcp_port=0)
    old = getattr(e, f"local_{kind}_port")
    with pytest.raises(SIPCoreError, match="in use"):
        getattr(e, f"set_local_{kind}_port")(busy)
    assert getattr(e, f"local_{kind}_port") == old
    assert options_answer(old, kind == "tcp") == "SIP/2.0 200 OK"


def test_a_busy_port_leaves_the_old_tls_listener(engine_factory, busy, tls_files):
    e = engine_factory(local_udp_port=0, local_tcp_port=None, local_tls_port=0,
                       tls_cert_file=tls_files["cert"], tls_privkey_file=tls_files["key"],
                       tls_ca_file=tls_files["ca"])
    old, old_timeout = e.local_tls_port, e.tls_timeout
    with pytest.raises(SIPCoreError, match="in use"):
        e.set_tls_options(local_port=busy, cert_file=tls_files["cert"],
                          privkey_file=tls_files["key"], ca_file=tls_files["ca"],
                          timeout=old_timeout + 1234)
    assert e.local_tls_port == old
    with socket.create_connection(("127.0.0.1", old), timeout=5):
        pass                                   # still listening
    assert e.tls_timeout == old_timeout        # the settings of the one that works


def test_registration_right_after_a_udp_port_change(engine_factory, kam, recorder):
    """The first REGISTER after set_local_udp_port() leaves through the new transport (it
    got 503 for up to 32 s: PJSIP found the old, shut-down one first, kept by the finished
    transactions of a first registration)."""
    e = engine_factory(local_udp_port=0, local_tcp_port=None)
    route = Route("127.0.0.1", kam.port, "udp")
    first = Registration(Credentials(SIPURI("127.0.0.1", user="bob"), "bpw"), route, expires=60)
    first.register()
    recorder.wait_for("SIPRegistrationChangedState", timeout=10, sender=first,
                      where=lambda n: n.data.state == "registered")
    e.set_local_udp_port(0)
    reg = Registration(Credentials(SIPURI("127.0.0.1", user="alice"), "apw"), route, expires=60)
    reg.register()
    n = recorder.wait_for("SIPRegistrationChangedState", timeout=10, sender=reg,
                          where=lambda n: n.data.state in ("registered", "failed"))
    assert (n.data.state, getattr(n.data, "code", None)) == ("registered", 200)
    assert f":{e.local_udp_port}" in n.data.contact_uri
    reg.unregister()
    recorder.wait_for("SIPRegistrationChangedState", timeout=10, sender=reg,
                      where=lambda n: n.data.state == "unregistered")
