"""Invitation between this process and a second sipcore process (python -m sipcore peer), over
UDP, TCP and TLS, on 127.0.0.1 and ::1: calls both ways, re-INVITE to hold and back from
each side, BYE from each side, CANCEL, 486, and disconnect(timeout=...) when the peer never
answers the BYE."""
import os
import signal
import time

import pytest

from conftest import host
from test_invitation_helpers import (make_sdp, auto_answer, incoming_calls, direction, seq,
                                     sdp_updates, wait_state)
from test_invitation_helpers import spec_checked  # noqa: F401 (autouse: spec transitions, no exceptions)
from sipcore import Credentials, Engine, Invitation, Route, SIPURI
from sipcore.peer import PeerProcess

TRANSPORTS = ["udp", "tcp", "tls"]


@pytest.fixture(params=["127.0.0.1", "::1"])
def ip(request):
    return request.param


def start_engine(engine_factory, tls_files, ip):
    return engine_factory(local_ip=ip, local_tls_port=0, tls_ca_file=tls_files["ca"],
                          tls_cert_file=tls_files["cert"], tls_privkey_file=tls_files["key"])


def peer_process(ip, tls_files, *extra):
    return PeerProcess("--ip", ip, "--user", "bob", "--tls-port", "0", "--tls-cert",
                       tls_files["cert"], "--tls-key", tls_files["key"], "--tls-ca",
                       tls_files["ca"], *extra)


def peer_states(peer, cid, until, timeout=10):
    out = []
    while True:
        ev = peer.expect("call_state", timeout=timeout, id=cid)
        out.append(ev["state"])
        if ev["state"] == until:
            return out


def my_port(e, transport):
    return {"udp": e.local_udp_port, "tcp": e.local_tcp_port, "tls": e.local_tls_port}[transport]


def call_peer(ip, port, transport=None):
    """alice calls bob at the peer with an SDP offer; the Invitation is in CALLING."""
    inv = Invitation(Credentials(SIPURI(ip, user="alice")), SIPURI(ip, user="bob", port=port),
                     Route(ip, port, transport))
    inv.set_offered_local_sdp(make_sdp(ip))
    inv.send_invite()
    return inv


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_call_peer_hold_resume_bye(ip, transport, tls_files, engine_factory, recorder):
    start_engine(engine_factory, tls_files, ip)
    with peer_process(ip, tls_files, "--answer", "auto") as peer:
        port = peer.ready[transport]
        inv = Invitation(Credentials(SIPURI(ip, user="alice")), SIPURI(ip, user="bob", port=port),
                         Route(ip, port, transport))
        assert inv.state == "NULL" and inv.call_id is None and inv.is_outgoing
        assert inv.get_offered_local_sdp() is None and inv.get_active_local_sdp() is None
        offer = make_sdp(ip)
        inv.set_offered_local_sdp(offer)
        assert inv.get_offered_local_sdp() == offer
        inv.send_invite(extra_headers={"X-Test": "call"})
        n = wait_state(recorder, inv, "CONFIRMED")
        assert seq(recorder, inv) == ["CALLING", "EARLY", "CONNECTING", "CONFIRMED"]
        early = [x for x in recorder.all("SIPInvitationChangedState") if x.sender is inv][1]
        assert (early.data.code, early.data.reason) == (180, "Ringing")
        connecting = [x for x in recorder.all("SIPInvitationChangedState") if x.sender is inv][2]
        assert connecting.data.code == 200 and "v=0" in connecting.data.body
        assert connecting.data.headers["Content-Type"] == "application/sdp"
        assert inv.transport == transport and inv.call_id
        assert inv.local_contact_uri.parameters.get("transport") == transport
        assert inv.remote_uri.user == "bob" and inv.local_uri.user == "alice"
        upd = sdp_updates(recorder, inv)
        assert len(upd) == 1 and upd[0].data.succeeded
        assert upd[0].data.remote_sdp.media[0].formats[0] == "0"
        assert inv.get_active_remote_sdp() == upd[0].data.remote_sdp
        assert inv.get_active_local_sdp().media[0].port == offer.media[0].port
        assert peer_states(peer, "in1", "CONFIRMED") == ["INCOMING", "EARLY", "CONNECTING", "CONFIRMED"]

        # hold: re-INVITE with sendonly; the peer answers recvonly
        inv.set_offered_local_sdp(make_sdp(ip, "sendonly"))
        inv.send_reinvite()
        n = wait_state(recorder, inv, "CONFIRMED")
        assert n.data.prev_state == "REINVITING" and n.data.code == 200
        assert direction(sdp_updates(recorder, inv)[-1].data.remote_sdp) == "recvonly"
        assert direction(inv.get_active_local_sdp()) == "sendonly"
        assert peer_states(peer, "in1", "CONFIRMED") == ["REINVITED", "CONFIRMED"]
        # and back
        inv.set_offered_local_sdp(make_sdp(ip, "sendrecv"))
        inv.send_reinvite()
        wait_state(recorder, inv, "CONFIRMED")
        assert direction(sdp_updates(recorder, inv)[-1].data.remote_sdp) == "sendrecv"
        assert len(sdp_updates(recorder, inv)) == 3

        inv.disconnect()
        n = wait_state(recorder, inv, "DISCONNECTED")
        assert n.data.prev_state == "DISCONNECTING" and n.data.code == 200
        assert seq(recorder, inv)[-4:] == ["REINVITING", "CONFIRMED", "DISCONNECTING", "DISCONNECTED"]
        ev = peer.expect("call_state", id="in1", state="DISCONNECTED")
        assert ev["method"] == "BYE"
        assert inv.call_id is None
        assert not [x for x in recorder.all("SIPEngineGotException")]
        # the active SDPs stay readable after DISCONNECTED, and after the Engine stopped
        last = sdp_updates(recorder, inv)[-1].data
        assert inv.get_active_remote_sdp() == last.remote_sdp
    Engine().stop()
    assert inv.get_active_local_sdp() == last.local_sdp
    assert inv.get_active_remote_sdp() == last.remote_sdp
    assert inv.get_active_local_sdp() is not inv.get_active_local_sdp()   # a new object each time


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_peer_calls_us_holds_and_hangs_up(ip, transport, tls_files, engine_factory, recorder):
    e = start_engine(engine_factory, tls_files, ip)
    with peer_process(ip, tls_files) as peer, auto_answer(make_sdp(ip, port=42000)):
        port = my_port(e, transport)
        peer.command("call", id="c1", to=f"sip:alice@{host(ip)}:{port};transport={transport}",
                     route=[ip, port, transport])
        n = recorder.wait_for("SIPInvitationChangedState", timeout=10,
                              where=lambda n: n.data.state == "INCOMING")
        inv = n.sender
        assert n.data.prev_state == "NULL" and n.data.method == "INVITE"
        assert n.data.request_uri.user == "alice" and "m=audio" in n.data.body
        assert n.data.headers["Call-ID"] == inv.call_id
        assert not inv.is_outgoing and inv.credentials is None and inv.route is None
        assert inv.caller_uri.user == "bob" and inv.remote_uri == inv.caller_uri
        assert inv.transport == transport
        wait_state(recorder, inv, "CONFIRMED")
        assert seq(recorder, inv) == ["INCOMING", "EARLY", "CONNECTING", "CONFIRMED"]
        assert peer_states(peer, "c1", "CONFIRMED") == ["CALLING", "EARLY", "CONNECTING", "CONFIRMED"]
        assert sdp_updates(recorder, inv)[0].data.local_sdp.media[0].port == 42000

        # the peer puts us on hold: REINVITED, answered by auto_answer with recvonly
        peer.command("reinvite", id="c1", direction="sendonly")
        n = wait_state(recorder, inv, "REINVITED")
        assert n.data.method == "INVITE" and "a=sendonly" in n.data.body
        wait_state(recorder, inv, "CONFIRMED")
        assert direction(sdp_updates(recorder, inv)[-1].data.local_sdp) == "recvonly"
        assert peer.expect("call_state", id="c1", state="CONFIRMED")["code"] == 200
        peer.command("reinvite", id="c1", direction="sendrecv")
        wait_state(recorder, inv, "REINVITED")
        wait_state(recorder, inv, "CONFIRMED")
        assert direction(sdp_updates(recorder, inv)[-1].data.local_sdp) == "sendrecv"

        peer.command("hangup", id="c1")
        n = wait_state(recorder, inv, "DISCONNECTED")
        assert n.data.prev_state == "CONFIRMED" and n.data.method == "BYE"
        assert peer.expect("call_state", id="c1", state="DISCONNECTED")["code"] == 200
        assert not [x for x in recorder.all("SIPEngineGotException")]


def test_cancel_while_ringing_both_ways(tls_files, engine_factory, recorder):
    ip = "127.0.0.1"
    e = start_engine(engine_factory, tls_files, ip)
    with peer_process(ip, tls_files, "--answer", "ring") as peer:
        port = peer.ready["udp"]
        inv = call_peer(ip, port)
        wait_state(recorder, inv, "EARLY")
        inv.disconnect()
        n = wait_state(recorder, inv, "DISCONNECTED")
        assert n.data.code == 487
        assert seq(recorder, inv) == ["CALLING", "EARLY", "DISCONNECTING", "DISCONNECTED"]
        ev = peer.expect("call_state", id="in1", state="DISCONNECTED")
        assert ev["method"] == "CANCEL"
    # the other way: the peer cancels while we ring
    with peer_process(ip, tls_files) as peer, \
            incoming_calls(lambda inv: inv.respond_to_invite_provisionally(180)) as ringing:
        peer.command("call", id="c1", to=f"sip:alice@{ip}:{e.local_udp_port}",
                     route=[ip, e.local_udp_port, "udp"])
        peer.expect("call_state", id="c1", state="EARLY")
        peer.command("hangup", id="c1")
        inv = ringing[0]
        n = wait_state(recorder, inv, "DISCONNECTED")
        assert n.data.method == "CANCEL"
        assert seq(recorder, inv) == ["INCOMING", "EARLY", "DISCONNECTED"]
        assert peer.expect("call_state", id="c1", state="DISCONNECTED")["code"] == 487


def test_reject_with_486_both_ways(tls_files, engine_factory, recorder):
    ip = "127.0.0.1"
    e = start_engine(engine_factory, tls_files, ip)
    with peer_process(ip, tls_files, "--answer", "busy") as peer:
        port = peer.ready["udp"]
        inv = call_peer(ip, port)
        n = wait_state(recorder, inv, "DISCONNECTED")
        assert (n.data.code, n.data.reason) == (486, "Busy Here")
        assert seq(recorder, inv) == ["CALLING", "DISCONNECTED"]
        assert inv.get_active_local_sdp() is None
    with peer_process(ip, tls_files) as peer, \
            incoming_calls(lambda inv: inv.disconnect(486)) as got:
        peer.command("call", id="c1", to=f"sip:alice@{ip}:{e.local_udp_port}",
                     route=[ip, e.local_udp_port, "udp"])
        assert peer.expect("call_state", id="c1", state="DISCONNECTED")["code"] == 486
        wait_state(recorder, got[0], "DISCONNECTED")
        assert seq(recorder, got[0]) == ["INCOMING", "DISCONNECTING", "DISCONNECTED"]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_disconnect_timeout_when_bye_is_never_answered(transport, tls_files, engine_factory, recorder):
    ip = "127.0.0.1"
    start_engine(engine_factory, tls_files, ip)
    with peer_process(ip, tls_files, "--answer", "auto") as peer:
        port = peer.ready[transport]
        inv = call_peer(ip, port, transport)
        wait_state(recorder, inv, "CONFIRMED")
        pid = peer.ready["pid"]
        os.kill(pid, signal.SIGSTOP)          # the peer is alive but answers nothing
        try:
            t0 = time.monotonic()
            inv.disconnect(timeout=1.5)
            assert inv.state == "DISCONNECTING"
            n = wait_state(recorder, inv, "DISCONNECTED", timeout=10)
            elapsed = time.monotonic() - t0
            assert 1.3 <= elapsed <= 6.0, elapsed   # honoured, with room for a loaded machine
            assert n.data.code == 408 and n.data.prev_state == "DISCONNECTING"
        finally:
            os.kill(pid, signal.SIGCONT)


def test_engine_stop_with_a_confirmed_call_sends_bye(tls_files, engine_factory, recorder):
    ip = "127.0.0.1"
    e = start_engine(engine_factory, tls_files, ip)
    with peer_process(ip, tls_files, "--answer", "auto") as peer:
        port = peer.ready["udp"]
        inv = call_peer(ip, port)
        wait_state(recorder, inv, "CONFIRMED")
        e.stop()
        assert inv.state == "DISCONNECTED"
        assert seq(recorder, inv)[-1] == "DISCONNECTED"
        assert peer.expect("call_state", id="in1", state="DISCONNECTED")["method"] == "BYE"
