"""Registration against kamailio (registrar, digest auth in sqlite), over UDP, TCP and TLS."""
import socket
import time

import pytest

from conftest import in_threads
from sipcore import (Credentials, EngineNotRunningError, InvalidStateError, Registration,
                     Route, SIPURI)


def creds(user="alice", password="apw"):
    return Credentials(SIPURI("127.0.0.1", user=user), password)


def states(rec, reg):
    return [n.data.state for n in rec.all("SIPRegistrationChangedState") if n.sender is reg]


def wait_state(rec, reg, state, timeout=15):
    return rec.wait_for("SIPRegistrationChangedState", timeout=timeout, sender=reg,
                        where=lambda n: n.data.state == state)


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_register_refresh_unregister(kam, engine_factory, recorder, transport):
    engine_factory(local_tls_port=0, tls_ca_file=kam.ca_file, trace_sip=True)
    port = kam.tls_port if transport == "tls" else kam.port
    reg = Registration(creds(), Route("127.0.0.1", port, transport), expires=4)
    assert reg.state == "unregistered"
    reg.register()
    n = wait_state(recorder, reg, "registered")
    assert n.data.code == 200 and n.data.reason == "OK"
    assert n.data.expires == reg.expires_received and 1 <= n.data.expires <= 4
    assert f"transport={transport}" in n.data.contact_uri
    assert any("alice@127.0.0.1" in c for c in n.data.contact_uri_list)
    assert kam.is_registered("alice")
    # a refresh happens on its own before expiry, seen as registering -> registered on the wire
    wait_state(recorder, reg, "registering", timeout=10)
    wait_state(recorder, reg, "registered", timeout=10)
    registers = [m.data.data for m in recorder.all("SIPEngineSIPTrace")
                 if not m.data.received and m.data.data.startswith("REGISTER ")]
    assert len([r for r in registers if "Authorization: Digest" in r]) >= 2
    call_ids = {line for r in registers for line in r.split("\r\n") if line.startswith("Call-ID:")}
    assert len(call_ids) == 1     # refreshes keep the Call-ID
    reg.unregister()
    n = wait_state(recorder, reg, "unregistered")
    assert n.data.code == 200
    assert states(recorder, reg) == ["registering", "registered", "registering", "registered",
                                     "unregistering", "unregistered"]
    assert not kam.is_registered("alice")


def test_expires_change_used_on_next_refresh(kam, engine, recorder):
    reg = Registration(creds(), Route("127.0.0.1", kam.port), expires=3)
    reg.register()
    wait_state(recorder, reg, "registered")
    reg.expires = 7
    wait_state(recorder, reg, "registering", timeout=10)
    n = wait_state(recorder, reg, "registered", timeout=10)
    assert n.data.expires == 7
    reg.unregister()
    wait_state(recorder, reg, "unregistered")


def test_wrong_password_unregistered_with_code(kam, engine, recorder):
    reg = Registration(creds(password="nope"), Route("127.0.0.1", kam.port))
    reg.register()
    n = wait_state(recorder, reg, "unregistered")
    assert n.data.code in (401, 403)
    assert states(recorder, reg) == ["registering", "unregistered"]


def test_no_server_gives_timeout_code(engine, recorder):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))  # a silent "registrar"
    try:
        reg = Registration(creds(), Route("127.0.0.1", s.getsockname()[1]))
        reg.register()
        n = wait_state(recorder, reg, "unregistered", timeout=45)
        assert n.data.code == 408
    finally:
        s.close()


def test_registrar_restart_registered_again_on_next_refresh(kam, engine, recorder):
    reg = Registration(creds(), Route("127.0.0.1", kam.port), expires=4)
    reg.register()
    wait_state(recorder, reg, "registered")
    kam.restart()                    # forgets every binding (location is kept in memory)
    assert not kam.is_registered("alice")
    wait_state(recorder, reg, "registering", timeout=10)
    n = wait_state(recorder, reg, "registered", timeout=10)
    assert n.data.code == 200
    assert kam.is_registered("alice")
    reg.unregister()
    wait_state(recorder, reg, "unregistered")


def test_queued_calls_end_in_state_of_last_call(kam, engine, recorder):
    reg = Registration(creds(), Route("127.0.0.1", kam.port), expires=60)
    reg.register()
    reg.unregister()
    reg.register()
    wait_state(recorder, reg, "registered")
    time.sleep(1.0)
    assert reg.state == "registered" and kam.is_registered("alice")
    reg.unregister()
    reg.register()
    reg.unregister()
    wait_state(recorder, reg, "unregistered")
    time.sleep(1.0)
    assert reg.state == "unregistered" and not kam.is_registered("alice")
    seq = states(recorder, reg)
    assert seq[-1] == "unregistered" and "registered" in seq


def test_extra_headers_and_given_contact(kam, engine_factory, recorder):
    e = engine_factory(trace_sip=True)
    contact = SIPURI("127.0.0.1", user="alice-phone", port=e.local_udp_port)
    reg = Registration(creds(), Route("127.0.0.1", kam.port), contact_uri=contact,
                       extra_headers={"X-Test": "hello"})
    reg.register()
    n = wait_state(recorder, reg, "registered")
    assert "alice-phone@127.0.0.1" in n.data.contact_uri
    sent = [m.data.data for m in recorder.all("SIPEngineSIPTrace")
            if not m.data.received and m.data.data.startswith("REGISTER")]
    assert all("\r\nX-Test: hello\r\n" in r for r in sent)
    reg.unregister()
    wait_state(recorder, reg, "unregistered")


def test_bad_arguments_and_engine_state(kam, engine_factory):
    e = engine_factory(local_tcp_port=None)
    with pytest.raises(TypeError, match="credentials"):
        Registration("alice", Route("127.0.0.1", kam.port))
    with pytest.raises(TypeError, match="route"):
        Registration(creds(), "127.0.0.1")
    with pytest.raises(ValueError, match="expires"):
        Registration(creds(), Route("127.0.0.1", kam.port), expires=0)
    with pytest.raises(ValueError, match="extra_headers"):
        Registration(creds(), Route("127.0.0.1", kam.port), extra_headers={"Bad Name": "x"})
    with pytest.raises(InvalidStateError, match="TCP transport disabled"):
        Registration(creds(), Route("127.0.0.1", kam.port, "tcp"))
    reg = Registration(creds(), Route("127.0.0.1", kam.port))
    with pytest.raises(TypeError, match="expires"):
        reg.expires = "60"
    e.stop()
    with pytest.raises(EngineNotRunningError):
        Registration(creds(), Route("127.0.0.1", kam.port))
    with pytest.raises(EngineNotRunningError):
        reg.register()


def test_engine_stop_while_registered_and_object_dropped_mid_transaction(kam, engine_factory, recorder):
    e = engine_factory()
    reg = Registration(creds(), Route("127.0.0.1", kam.port))
    reg.register()
    wait_state(recorder, reg, "registered")
    dropped = Registration(creds("bob", "bpw"), Route("127.0.0.1", kam.port))
    dropped.register()
    del dropped                                   # mid-transaction
    import gc
    gc.collect()
    e.stop()
    assert reg.state == "unregistered"
    assert states(recorder, reg)[-1] == "unregistered"
    e2 = engine_factory()                          # the process is fine, a new run works
    with pytest.raises(InvalidStateError, match="stopped"):
        reg.register()
    reg2 = Registration(creds(), Route("127.0.0.1", kam.port))
    reg2.register()
    wait_state(recorder, reg2, "registered")
    assert e2.is_running


def test_methods_from_many_threads(kam, engine, recorder):
    regs = [Registration(creds(), Route("127.0.0.1", kam.port), expires=60) for _ in range(1)]
    reg = regs[0]

    def worker(i):
        for _ in range(20):
            (reg.register if i % 2 else reg.unregister)()

    assert not in_threads(worker)
    reg.register()                       # the last call decides
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and reg.state != "registered":
        time.sleep(0.05)
    time.sleep(1.0)
    assert reg.state == "registered" and kam.is_registered("alice")
    reg.unregister()
    wait_state(recorder, reg, "unregistered")
