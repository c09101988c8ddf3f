"""Invitation with real user agents: baresip behind kamailio (proxy with digest auth).

sipcore calls baresip (auto-answer) and baresip calls sipcore; hold (sendonly) and back from
each side; BYE from each side; CANCEL while ringing; 486."""
import pytest

from peers.baresip import Baresip
from test_invitation_helpers import (auto_answer, direction, incoming_calls, make_sdp, sdp_updates,
                                     seq, wait_state)
from test_invitation_helpers import spec_checked  # noqa: F401 (autouse: spec transitions, no exceptions)
from sipcore import Credentials, Invitation, Registration, Route, SIPURI


def alice(password="apw"):
    return Credentials(SIPURI("127.0.0.1", user="alice"), password)


def register_alice(kam, recorder):
    reg = Registration(alice(), Route("127.0.0.1", kam.port), expires=60)
    reg.register()
    recorder.wait_for("SIPRegistrationChangedState", timeout=15, sender=reg,
                      where=lambda n: n.data.state == "registered")
    return reg


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_sipcore_calls_baresip_with_auth_hold_resume_baresip_hangs_up(kam, engine_factory, recorder,
                                                                       transport, tls_files):
    # a server certificate too: kamailio opens its own TLS connection for the BYE
    engine_factory(trace_sip=True, local_tls_port=0, tls_ca_file=kam.ca_file,
                   tls_cert_file=tls_files["cert"], tls_privkey_file=tls_files["key"])
    with Baresip("bob", "bpw", registrar=kam, auto_answer=True) as bob:
        bob.wait_registered(timeout=15)
        route = Route("127.0.0.1", kam.tls_port if transport == "tls" else kam.port, transport)
        inv = Invitation(alice(), SIPURI("127.0.0.1", user="bob"), route)
        inv.set_offered_local_sdp(make_sdp())
        inv.send_invite()
        wait_state(recorder, inv, "CONFIRMED", timeout=20)
        # baresip's auto-answer sometimes sends its 200 before its 180
        early = ["EARLY"] if "EARLY" in seq(recorder, inv) else []
        assert seq(recorder, inv) == ["CALLING", *early, "CONNECTING", "CONFIRMED"]
        # the proxy challenged the INVITE and sipcore answered with the dialog's credentials
        sent = [n.data.data for n in recorder.all("SIPEngineSIPTrace") if not n.data.received]
        rcvd = [n.data.data for n in recorder.all("SIPEngineSIPTrace") if n.data.received]
        assert any(m.startswith("SIP/2.0 407") for m in rcvd)
        assert any(m.startswith("INVITE") and "Proxy-Authorization: Digest" in m for m in sent)
        upd = sdp_updates(recorder, inv)
        assert len(upd) == 1 and upd[0].data.succeeded
        assert upd[0].data.remote_sdp.media[0].formats[0] in ("0", "8")
        assert inv.transport == transport

        inv.set_offered_local_sdp(make_sdp(dir="sendonly"))
        inv.send_reinvite()
        n = wait_state(recorder, inv, "CONFIRMED")
        assert n.data.prev_state == "REINVITING" and n.data.code == 200
        assert direction(sdp_updates(recorder, inv)[-1].data.remote_sdp) == "recvonly"
        inv.set_offered_local_sdp(make_sdp(dir="sendrecv"))
        inv.send_reinvite()
        wait_state(recorder, inv, "CONFIRMED")
        assert direction(sdp_updates(recorder, inv)[-1].data.remote_sdp) == "sendrecv"

        bob.hangup()
        n = wait_state(recorder, inv, "DISCONNECTED")
        assert n.data.method == "BYE" and n.data.prev_state == "CONFIRMED"
        assert seq(recorder, inv) == ["CALLING", *early, "CONNECTING", "CONFIRMED", "REINVITING",
                                      "CONFIRMED", "REINVITING", "CONFIRMED", "DISCONNECTED"]
    assert not recorder.all("SIPEngineGotException")


def test_baresip_calls_sipcore_holds_resumes_sipcore_hangs_up(kam, engine_factory, recorder):
    engine_factory(trace_sip=True)
    with Baresip("bob", "bpw", registrar=kam) as bob, auto_answer(make_sdp()) as calls:
        bob.wait_registered(timeout=15)
        reg = register_alice(kam, recorder)
        bob.dial("sip:alice@127.0.0.1")
        n = recorder.wait_for("SIPInvitationChangedState", timeout=15,
                              where=lambda n: n.data.state == "INCOMING")
        inv = n.sender
        assert n.data.method == "INVITE" and n.data.headers["Content-Type"] == "application/sdp"
        assert inv.caller_uri.user == "bob" and inv.callee_uri.user == "alice"
        wait_state(recorder, inv, "CONFIRMED")
        assert seq(recorder, inv) == ["INCOMING", "EARLY", "CONNECTING", "CONFIRMED"]
        bob.wait_for_output(r"Call established", timeout=10)

        bob.command("hold")
        n = wait_state(recorder, inv, "REINVITED")
        assert n.data.method == "INVITE" and "a=sendonly" in n.data.body
        wait_state(recorder, inv, "CONFIRMED")
        assert direction(sdp_updates(recorder, inv)[-1].data.local_sdp) == "recvonly"
        bob.command("resume")
        wait_state(recorder, inv, "REINVITED")
        wait_state(recorder, inv, "CONFIRMED")
        assert direction(sdp_updates(recorder, inv)[-1].data.local_sdp) == "sendrecv"

        inv.disconnect()
        n = wait_state(recorder, inv, "DISCONNECTED")
        assert n.data.code == 200 and n.data.prev_state == "DISCONNECTING"
        assert seq(recorder, inv) == ["INCOMING", "EARLY", "CONNECTING", "CONFIRMED", "REINVITED",
                                      "CONFIRMED", "REINVITED", "CONFIRMED", "DISCONNECTING",
                                      "DISCONNECTED"]
        assert len(calls) == 1
        reg.unregister()
    assert not recorder.all("SIPEngineGotException")


def test_cancel_while_baresip_rings(kam, engine, recorder):
    with Baresip("bob", "bpw", registrar=kam, auto_answer=False) as bob:
        bob.wait_registered(timeout=15)
        inv = Invitation(alice(), SIPURI("127.0.0.1", user="bob"), Route("127.0.0.1", kam.port))
        inv.set_offered_local_sdp(make_sdp())
        inv.send_invite()
        wait_state(recorder, inv, "EARLY", timeout=15)
        inv.disconnect()
        n = wait_state(recorder, inv, "DISCONNECTED")
        assert n.data.code == 487
        assert seq(recorder, inv) == ["CALLING", "EARLY", "DISCONNECTING", "DISCONNECTED"]


def test_sipcore_rejects_baresip_with_486(kam, engine, recorder):
    with incoming_calls(lambda inv: inv.disconnect(486)) as got, \
            Baresip("bob", "bpw", registrar=kam) as bob:
        bob.wait_registered(timeout=15)
        reg = register_alice(kam, recorder)
        mark = bob.mark()
        bob.dial("sip:alice@127.0.0.1")
        recorder.wait_for("SIPInvitationChangedState", timeout=15,
                          where=lambda n: n.data.state == "DISCONNECTED")
        assert seq(recorder, got[0]) == ["INCOMING", "DISCONNECTING", "DISCONNECTED"]
        bob.wait_for_output(r"486 Busy Here", timeout=10, since=mark)
        reg.unregister()


def test_wrong_password_ends_the_call_with_the_challenge(kam, engine, recorder):
    with Baresip("bob", "bpw", registrar=kam, auto_answer=True) as bob:
        bob.wait_registered(timeout=15)
        inv = Invitation(alice("wrong"), SIPURI("127.0.0.1", user="bob"), Route("127.0.0.1", kam.port))
        inv.set_offered_local_sdp(make_sdp())
        inv.send_invite()
        n = wait_state(recorder, inv, "DISCONNECTED", timeout=15)
        assert n.data.code in (401, 403, 407)
        assert seq(recorder, inv) == ["CALLING", "DISCONNECTED"]
