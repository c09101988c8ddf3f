"""Registration against kamailio (registrar, digest auth in sqlite), over UDP, TCP and TLS.
(A silent registrar's 408 is tested in test_publication.py, beside the Publication's, to wait
out timer F once.)"""
import time

import pytest

from conftest import calls_on_state, in_threads
from peers.kamailio import Kamailio
from sipcore import (Credentials, EngineNotRunningError, InvalidStateError, Registration,
                     Route, SIPURI, signals)

REG = "SIPRegistrationChangedState"


def creds(user="alice", password="apw"):
    return Credentials(SIPURI("127.0.0.1", user=user), password)


def states(rec, reg):
    return [n.data.state for n in rec.all("SIPRegistrationChangedState") if n.sender is reg]


def wait_state(rec, reg, state, timeout=15):
    return rec.wait_for("SIPRegistrationChangedState", timeout=timeout, sender=reg,
                        where=lambda n: n.data.state == state)


def wait_seq(rec, reg, expected, timeout=15):
    """Wait until ``reg`` has sent len(expected) state notifications, then compare them all
    (a state already reported cannot satisfy the wait); returns the notifications."""
    deadline = time.monotonic() + timeout
    while len(states(rec, reg)) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)                      # nothing more may follow at once
    assert states(rec, reg) == expected
    return [n for n in rec.all(REG) if n.sender is reg]


def header(msg, name):
    for line in msg.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def sent_registers(rec, authorized_only=True):
    """REGISTERs sent, once per CSeq (leaving out UDP retransmissions); ``authorized_only``:
    those past kamailio's 401 challenge."""
    by_cseq = {}
    for m in rec.all("SIPEngineSIPTrace"):
        msg = m.data.data
        if not m.data.received and msg.startswith("REGISTER "):
            if authorized_only and header(msg, "Authorization") is None:
                continue
            by_cseq.setdefault((header(msg, "Call-ID"), header(msg, "CSeq")), msg)
    return list(by_cseq.values())


@pytest.fixture(autouse=True)
def no_exceptions(recorder):
    yield
    assert not recorder.all("SIPEngineGotException"), recorder.all("SIPEngineGotException")


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
    # a refresh happens on its own before expiry (half-way: 2 s), registering -> registered
    start = time.monotonic()
    ns = wait_seq(recorder, reg, ["registering", "registered", "registering", "registered"],
                  timeout=10)
    assert 1.0 <= time.monotonic() - start <= 4.0
    assert ns[-1].data.code == 200 and ns[-1].data.expires == reg.expires_received == 4
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
    # every REGISTER asks for the expiry set, the refresh too (else the registrar's default)
    assert [header(r, "Expires") for r in sent_registers(recorder)] == ["4", "4", "0"]


def test_expires_change_used_on_next_refresh(kam, engine_factory, recorder):
    engine_factory(trace_sip=True)
    reg = Registration(creds(), Route("127.0.0.1", kam.port), expires=3)
    reg.register()
    n = wait_seq(recorder, reg, ["registering", "registered"])[-1]
    assert n.data.expires == reg.expires_received == 3
    reg.expires = 7
    assert reg.expires == 7
    n = wait_seq(recorder, reg, ["registering", "registered"] * 2, timeout=10)[-1]
    assert n.data.expires == reg.expires_received == 7
    assert [header(r, "Expires") for r in sent_registers(recorder)] == ["3", "7"]
    reg.unregister()
    wait_state(recorder, reg, "unregistered")


def test_wrong_password_unregistered_with_code(kam, engine, recorder):
    reg = Registration(creds(password="nope"), Route("127.0.0.1", kam.port))
    reg.register()
    # credentials the registrar rejects: it challenges again (RFC 3261 22.2), the 401 ends it
    n = wait_seq(recorder, reg, ["registering", "unregistered"])[-1]
    assert n.data.code == 401
    assert reg.expires_received is None


@pytest.mark.parametrize("change", ["password changed", "user removed"])
def test_failed_refresh_ends_unregistered_with_code(kam, engine_factory, recorder, change):
    """Between the REGISTER and its refresh the account's password changes (or the account
    goes): the refresh is answered 401 (RFC 3261 22.2) and the object ends unregistered with
    that code, and refreshes no more."""
    engine_factory(trace_sip=True)
    reg = Registration(creds(), Route("127.0.0.1", kam.port), expires=2)
    reg.register()
    wait_seq(recorder, reg, ["registering", "registered"])
    if change == "password changed":
        kam.add_user("alice", "changed")
    else:
        kam.remove_user("alice")
    ns = wait_seq(recorder, reg, ["registering", "registered", "registering", "unregistered"],
                  timeout=10)
    assert (ns[-1].data.code, ns[-1].data.reason) == (401, "Unauthorized")
    assert reg.state == "unregistered" and reg.expires_received is None
    count = len(sent_registers(recorder, authorized_only=False))
    time.sleep(2.5)                      # no further refresh
    assert len(sent_registers(recorder, authorized_only=False)) == count
    assert states(recorder, reg)[-1] == "unregistered"


def test_registrar_restart_registered_again_on_next_refresh(kam, engine, recorder):
    reg = Registration(creds(), Route("127.0.0.1", kam.port), expires=4)
    reg.register()
    wait_seq(recorder, reg, ["registering", "registered"])
    kam.restart()                    # forgets every binding (location is kept in memory)
    assert not kam.is_registered("alice")
    n = wait_seq(recorder, reg, ["registering", "registered"] * 2, timeout=10)[-1]
    assert n.data.code == 200
    assert kam.is_registered("alice")
    reg.unregister()
    wait_state(recorder, reg, "unregistered")


def test_spec_example_register_then_unregister(kam, engine, recorder):
    """The spec's own example of the queue: unregister() while registering unregisters once
    the REGISTER's final response is in."""
    reg = Registration(creds(), Route("127.0.0.1", kam.port), expires=60)
    reg.register()
    reg.unregister()
    ns = wait_seq(recorder, reg, ["registering", "registered", "unregistering", "unregistered"])
    assert [(n.data.code, n.data.reason) for n in ns[1::2]] == [(200, "OK"), (200, "OK")]
    assert ns[1].data.expires == 60 and ns[1].data.contact_uri
    assert not hasattr(ns[3].data, "expires")       # only on a successful registration
    assert not kam.is_registered("alice")


def test_queued_calls_end_in_state_of_last_call(kam, engine_factory, recorder):
    """Calls made during a transaction are queued, the last one wins (the module's documented
    reading of the spec's queue)."""
    engine_factory(trace_sip=True)
    reg = Registration(creds(), Route("127.0.0.1", kam.port), expires=60)
    with calls_on_state(signals.SIPRegistrationChangedState, reg, "registering",
                        reg.unregister, reg.register) as done:
        reg.register()                   # then, while registering: unregister(), register()
        wait_seq(recorder, reg, ["registering", "registered", "registering", "registered"])
    assert done and kam.is_registered("alice")   # the last call won: one more REGISTER
    with calls_on_state(signals.SIPRegistrationChangedState, reg, "unregistering",
                        reg.register, reg.unregister) as done:
        reg.unregister()                 # sent at once; while unregistering: register(), unregister()
        wait_seq(recorder, reg, ["registering", "registered", "registering", "registered",
                                 "unregistering", "unregistered"])
    assert done                          # the last call won: nothing after the un-REGISTER
    assert not kam.is_registered("alice")
    assert [header(r, "Expires") for r in sent_registers(recorder)] == ["60", "60", "0"]
    reg.register()                       # and usable again
    reg.register()                       # queued: registers once more
    wait_seq(recorder, reg, ["registering", "registered", "registering", "registered",
                             "unregistering", "unregistered"] + ["registering", "registered"] * 2)
    reg.unregister()
    wait_state(recorder, reg, "unregistered")


def test_register_while_registered_and_unregister_while_unregistered(kam, engine_factory,
                                                                     recorder):
    engine_factory(trace_sip=True)
    reg = Registration(creds(), Route("127.0.0.1", kam.port), expires=60)
    reg.unregister()                     # nothing to remove: no request, no notification
    time.sleep(0.3)
    assert states(recorder, reg) == [] and sent_registers(recorder, False) == []
    reg.register()
    wait_seq(recorder, reg, ["registering", "registered"])
    reg.register()                       # re-registers now, same Call-ID
    wait_seq(recorder, reg, ["registering", "registered"] * 2)
    sent = sent_registers(recorder)
    assert len(sent) == 2 and len({header(r, "Call-ID") for r in sent}) == 1
    reg.unregister()
    wait_seq(recorder, reg, ["registering", "registered"] * 2 + ["unregistering", "unregistered"])
    reg.unregister()
    time.sleep(0.3)
    assert len(states(recorder, reg)) == 6


def test_registrar_shortened_expires_used_for_refresh(engine, recorder, tmp_path):
    """The registrar grants 3 s of the 60 asked (max_expires): expires/expires_received say 3
    and the refresh comes before those 3 s run out."""
    with Kamailio(workdir=tmp_path / "short", max_expires=3) as k:
        k.add_user("alice", "apw")
        reg = Registration(creds(), Route("127.0.0.1", k.port), expires=60)
        reg.register()
        n = wait_seq(recorder, reg, ["registering", "registered"])[-1]
        assert n.data.expires == reg.expires_received == 3
        granted = time.monotonic()
        wait_seq(recorder, reg, ["registering", "registered"] * 2, timeout=5)
        assert time.monotonic() - granted < 3.0
        assert k.is_registered("alice")
        reg.unregister()
        wait_state(recorder, reg, "unregistered")


def test_contact_uri_list_has_every_binding(kam, engine, recorder):
    port = engine.local_udp_port
    one = Registration(creds(), Route("127.0.0.1", kam.port),
                       contact_uri=SIPURI("127.0.0.1", user="alice-one", port=port))
    two = Registration(creds(), Route("127.0.0.1", kam.port),
                       contact_uri=SIPURI("127.0.0.1", user="alice-two", port=port))
    one.register()
    n1 = wait_seq(recorder, one, ["registering", "registered"])[-1]
    two.register()
    n2 = wait_seq(recorder, two, ["registering", "registered"])[-1]
    assert len(n1.data.contact_uri_list) == 1 and "alice-one@" in n1.data.contact_uri_list[0]
    assert sorted(c.split("sip:")[1].split("@")[0] for c in n2.data.contact_uri_list) == [
        "alice-one", "alice-two"]
    for r in (one, two):
        r.unregister()
        wait_state(recorder, r, "unregistered")


def test_extra_headers_and_given_contact(kam, engine_factory, recorder):
    """extra_headers go on every REGISTER: the first, its challenged repeat, the refresh and
    the un-REGISTER."""
    e = engine_factory(trace_sip=True)
    contact = SIPURI("127.0.0.1", user="alice-phone", port=e.local_udp_port)
    reg = Registration(creds(), Route("127.0.0.1", kam.port), contact_uri=contact, expires=2,
                       extra_headers={"X-Test": "hello"})
    reg.register()
    n = wait_seq(recorder, reg, ["registering", "registered"])[-1]
    assert "alice-phone@127.0.0.1" in n.data.contact_uri
    wait_seq(recorder, reg, ["registering", "registered"] * 2, timeout=5)
    reg.unregister()
    wait_seq(recorder, reg, ["registering", "registered"] * 2 + ["unregistering", "unregistered"])
    sent = sent_registers(recorder, authorized_only=False)
    assert [header(r, "Expires") for r in sent_registers(recorder)] == ["2", "2", "0"]
    assert len(sent) >= 4 and all(header(r, "X-Test") == "hello" for r in sent)
    assert all("alice-phone@127.0.0.1" in header(r, "Contact") for r in sent)


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
    # ended on the registrar first (issue #14), the dropped one's REGISTER too once answered
    assert states(recorder, reg) == ["registering", "registered", "unregistering",
                                     "unregistered"]
    assert kam.contacts("alice") == [] and kam.contacts("bob") == []
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


def test_calls_from_a_notification_receiver(kam, engine, recorder):
    """register()/unregister() made by a receiver of SIPRegistrationChangedState (on the poll
    thread, inside PJSIP's callback) are carried out like any other call, after the current
    notification has reached every receiver: until then the object is in the state notified."""
    from sipcore import signals
    reg = Registration(creds(), Route("127.0.0.1", kam.port), expires=60)
    seen, told_and_found = [], []

    def check(sender, notification):             # after every receiver of the signal
        if sender is reg:
            told_and_found.append((notification.data.state, reg.state))

    def on_state(sender, **data):
        if sender is not reg:
            return
        seen.append(data["state"])
        if seen == ["registering", "registered"]:
            reg.register()
        elif seen == ["registering", "registered", "registering", "registered"]:
            reg.unregister()

    signals.SIPRegistrationChangedState.connect(on_state)
    signals.any_notification.connect(check, weak=False)
    try:
        reg.register()
        ns = wait_seq(recorder, reg, ["registering", "registered"] * 2
                      + ["unregistering", "unregistered"])
    finally:
        signals.SIPRegistrationChangedState.disconnect(on_state)
        signals.any_notification.disconnect(check)
    assert all(told == found for told, found in told_and_found), told_and_found
    assert [n.data.code for n in ns[1::2]] == [200, 200, 200]
    assert not kam.is_registered("alice")
