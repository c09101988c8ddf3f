"""Invitation without a remote user agent: arguments, states, the transition table, Engine
stop with live sessions, threads, and an INVITE nobody listens for (loopback sockets only)."""
import gc
import os
import socket
import sys
import time

import pytest

from conftest import in_threads, stop_behind_a_hand_off
from sipcore import (Credentials, EngineNotRunningError, InvalidStateError, Invitation,
                     PJSIPError, Route, SDPConnection, SDPMedia, SDPSession, SIPURI, signals)
from sipcore.primitives.invitation import METHOD_STATES, STATES, TRANSITIONS

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "interop"))
from test_invitation_helpers import SPEC_TRANSITIONS, check_transitions  # noqa: E402


def sdp():
    return SDPSession("127.0.0.1", connection=SDPConnection("127.0.0.1"),
                      media=[SDPMedia("audio", 40000, "RTP/AVP", formats=["0"])])


def creds():
    return Credentials(SIPURI("127.0.0.1", user="alice"), "pw")


@pytest.fixture
def silent():
    """A UDP socket that receives and never answers."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    yield s
    s.close()


def new_inv(port=5999):
    return Invitation(creds(), SIPURI("127.0.0.1", user="bob", port=port), Route("127.0.0.1", port))


def states(rec, inv):
    return [n.data.state for n in rec.all("SIPInvitationChangedState") if n.sender is inv]


def test_transition_table_is_the_specs():
    """TRANSITIONS is exactly the table written in this test suite from the spec's triggers
    (test_invitation_helpers.SPEC_TRANSITIONS): a row added or removed fails here."""
    assert set(TRANSITIONS) == set(SPEC_TRANSITIONS), (
        f"not in the spec: {sorted(set(TRANSITIONS) - set(SPEC_TRANSITIONS))}; "
        f"missing: {sorted(set(SPEC_TRANSITIONS) - set(TRANSITIONS))}")
    assert len(TRANSITIONS) == len(SPEC_TRANSITIONS) == 29
    assert set(STATES) == {s for pair in SPEC_TRANSITIONS for s in pair}
    assert not [t for t in TRANSITIONS if t[0] == "DISCONNECTED"]      # terminal
    # the spec's method descriptions: the states each may be called in (plus the documented
    # deviations: respond_to_invite_provisionally also in EARLY, disconnect also in NULL)
    assert METHOD_STATES["send_invite"] == {"NULL"}
    assert METHOD_STATES["respond_to_invite_provisionally"] == {"INCOMING", "EARLY"}
    assert METHOD_STATES["accept_invite"] == {"INCOMING", "EARLY"}
    assert METHOD_STATES["send_reinvite"] == {"CONFIRMED"}
    assert METHOD_STATES["respond_to_reinvite"] == {"REINVITED"}
    assert METHOD_STATES["disconnect"] == {"NULL", "CALLING", "INCOMING", "EARLY", "CONNECTING",
                                           "CONFIRMED", "REINVITING", "REINVITED"}
    for method, allowed in METHOD_STATES.items():
        assert allowed <= set(STATES), method
        assert "DISCONNECTED" not in allowed and "DISCONNECTING" not in allowed


def test_bad_arguments_name_the_argument(engine):
    with pytest.raises(TypeError, match="credentials"):
        Invitation("alice", SIPURI("127.0.0.1"), Route("127.0.0.1"))
    with pytest.raises(TypeError, match="callee_uri"):
        Invitation(creds(), "sip:bob@127.0.0.1", Route("127.0.0.1"))
    with pytest.raises(TypeError, match="route"):
        Invitation(creds(), SIPURI("127.0.0.1"), "127.0.0.1")
    with pytest.raises(TypeError, match="contact_uri"):
        Invitation(creds(), SIPURI("127.0.0.1"), Route("127.0.0.1"), contact_uri="x")
    with pytest.raises(InvalidStateError, match="TLS"):
        Invitation(creds(), SIPURI("127.0.0.1"), Route("127.0.0.1", 5061, "tls"))
    inv = new_inv()
    with pytest.raises(TypeError, match="local_sdp"):
        inv.set_offered_local_sdp("v=0")
    # a stream without a connection line at either level: PJMEDIA's negotiator would assert
    # (abort) on it at send_invite()/accept_invite(); refused when it is set instead
    with pytest.raises(ValueError, match="local_sdp.*connection"):
        inv.set_offered_local_sdp(SDPSession("127.0.0.1", media=[
            SDPMedia("audio", 40000, "RTP/AVP", formats=["0"])]))
    assert inv.get_offered_local_sdp() is None
    with pytest.raises(TypeError, match="response_code"):
        inv.respond_to_invite_provisionally("180")
    with pytest.raises(ValueError, match="response_code"):
        inv.respond_to_invite_provisionally(200)
    with pytest.raises(ValueError, match="response_code"):
        inv.disconnect(200)
    with pytest.raises(ValueError, match="response_code"):
        inv.respond_to_reinvite(99)
    with pytest.raises(ValueError, match="timeout"):
        inv.disconnect(timeout=0)
    with pytest.raises(TypeError, match="timeout"):
        inv.disconnect(timeout="1")
    with pytest.raises(ValueError, match="extra_headers"):
        inv.send_invite(extra_headers={"Bad Name": "x"})
    with pytest.raises(ValueError, match="extra_headers"):
        inv.send_invite(extra_headers={"X-A": "a\r\nB: b"})
    assert inv.state == "NULL"


def test_wrong_state_names_the_state(engine, recorder):
    inv = new_inv()
    for call in (inv.accept_invite, inv.send_reinvite, inv.respond_to_reinvite,
                 inv.respond_to_invite_provisionally):
        with pytest.raises(InvalidStateError, match="NULL"):
            call()
    assert inv.get_offered_remote_sdp() is None and inv.get_active_remote_sdp() is None
    assert inv.caller_uri.user == "alice" and inv.callee_uri.user == "bob"
    assert inv.local_uri == inv.caller_uri and inv.remote_uri == inv.callee_uri
    assert inv.credentials.password == "pw" and inv.route == Route("127.0.0.1", 5999)
    assert inv.transport == "udp" and inv.local_contact_uri is None and inv.call_id is None
    inv.disconnect()                           # nothing was sent: straight to DISCONNECTED
    assert inv.state == "DISCONNECTED"
    assert states(recorder, inv) == ["DISCONNECTED"]
    for call in (inv.send_invite, lambda: inv.set_offered_local_sdp(sdp())):
        with pytest.raises(InvalidStateError, match="DISCONNECTED"):
            call()
    inv.disconnect()                           # ended already: nothing (documented deviation)
    inv.disconnect(extra_headers={"X-Why": "again"})    # (the path that waits): nothing either
    from sipcore import _ua
    raised = []

    def in_a_receiver():                       # on the poll thread, as from a receiver
        try:
            inv.disconnect()
        except InvalidStateError as exc:
            raised.append(exc)

    _ua.current.call(in_a_receiver)
    assert raised == []
    with inv:                                  # leaving the block disconnects: nothing either
        pass
    assert inv.state == "DISCONNECTED" and states(recorder, inv) == ["DISCONNECTED"]
    with pytest.raises(ValueError, match="response_code"):
        inv.disconnect(200)                    # the arguments are still checked


def test_an_invite_that_cannot_be_built_fails_cleanly(engine, recorder, silent):
    """An extra header PJSIP cannot parse: PJSIPError naming it, the session ends (the C
    session forgets the Invitation's token first) and nothing is sent."""
    for headers in ({"Route": "<<<garbage"}, {"Max-Forwards": "abc"}):
        inv = new_inv(silent.getsockname()[1])
        inv.set_offered_local_sdp(sdp())
        with pytest.raises(PJSIPError, match=next(iter(headers))):
            inv.send_invite(extra_headers=headers)
        assert inv.state == "DISCONNECTED"
    silent.settimeout(0.3)
    with pytest.raises(socket.timeout):
        silent.recv(4096)
    recorder.wait_for("SIPInvitationChangedState", timeout=1)   # reported as usual
    assert not [n for n in recorder.all("SIPEngineGotException")]


def test_calling_then_cancel_before_any_response_with_timeout(engine, recorder, silent):
    inv = new_inv(silent.getsockname()[1])
    inv.set_offered_local_sdp(sdp())
    inv.send_invite(extra_headers={"X-Test": "yes"})
    data, _ = silent.recvfrom(65536)
    assert data.startswith(b"INVITE sip:bob@127.0.0.1") and b"\r\nX-Test: yes\r\n" in data
    assert b"m=audio 40000 RTP/AVP 0" in data
    assert inv.state == "CALLING" and inv.call_id and inv.local_contact_uri.user == "alice"
    assert inv.get_offered_local_sdp().media[0].port == 40000   # sent, not negotiated
    with pytest.raises(InvalidStateError, match="CALLING"):
        inv.send_invite()
    t0 = time.monotonic()
    inv.disconnect(timeout=0.5)        # no 1xx yet: the CANCEL waits; the timeout ends it
    assert inv.state == "DISCONNECTING"
    n = recorder.wait_for("SIPInvitationChangedState", timeout=5, sender=inv,
                          where=lambda n: n.data.state == "DISCONNECTED")
    assert 0.45 <= time.monotonic() - t0 <= 3.0
    assert n.data.code == 408 and n.data.prev_state == "DISCONNECTING"
    assert states(recorder, inv) == ["CALLING", "DISCONNECTING", "DISCONNECTED"]
    assert inv.call_id is None
    # RFC 3261 9.1: no CANCEL before a provisional response; only INVITE retransmissions
    silent.settimeout(0.6)
    got = []
    try:
        while True:
            got.append(silent.recv(65536).split(b" ", 1)[0])
    except socket.timeout:
        pass
    assert set(got) <= {b"INVITE"}, got
    check_transitions(recorder)
    assert not recorder.all("SIPEngineGotException")


def test_engine_stop_ends_live_invitations_and_restart_works(engine_factory, recorder, silent):
    e = engine_factory()
    inv = new_inv(silent.getsockname()[1])
    inv.set_offered_local_sdp(sdp())
    inv.send_invite()
    dropped = new_inv(silent.getsockname()[1])
    dropped.set_offered_local_sdp(sdp())
    dropped.send_invite()
    del dropped
    gc.collect()
    e.stop()
    assert inv.state == "DISCONNECTED"
    assert states(recorder, inv) == ["CALLING", "DISCONNECTED"]
    e2 = engine_factory()
    with pytest.raises(InvalidStateError):
        inv.set_offered_local_sdp(sdp())
    inv2 = new_inv(silent.getsockname()[1])
    inv2.set_offered_local_sdp(sdp())
    inv2.send_invite()
    assert inv2.state == "CALLING"
    e2.stop()
    with pytest.raises(EngineNotRunningError):
        new_inv()
    stopped = [n for n in recorder.all("SIPInvitationChangedState")
               if n.data.state == "DISCONNECTED" and n.sender is inv][0]
    assert (stopped.data.code, stopped.data.prev_state) == (503, "CALLING")
    check_transitions(recorder)
    assert not recorder.all("SIPEngineGotException")


def test_calls_from_many_threads(engine, recorder, silent):
    port = silent.getsockname()[1]
    invs = []

    def worker(_):
        inv = new_inv(port)
        inv.set_offered_local_sdp(sdp())
        inv.send_invite()
        invs.append(inv)

    assert not in_threads(worker, timeout=10) and len(invs) == 8
    assert len({i.call_id for i in invs}) == 8
    for inv in invs:
        inv.disconnect(timeout=0.2)
    for inv in invs:
        recorder.wait_for("SIPInvitationChangedState", timeout=5, sender=inv,
                          where=lambda n: n.data.state == "DISCONNECTED")


def test_invite_nobody_listens_for_is_answered_480(engine):
    assert not signals.has_receivers("SIPInvitationChangedState")
    port = engine.local_udp_port
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    me = s.getsockname()[1]
    body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
    msg = (f"INVITE sip:alice@127.0.0.1:{port} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-unit-1;rport\r\n"
           f"From: <sip:raw@127.0.0.1:{me}>;tag=raw1\r\nTo: <sip:alice@127.0.0.1:{port}>\r\n"
           f"Call-ID: unit-480@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:raw@127.0.0.1:{me}>\r\n"
           f"Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}")
    try:
        s.sendto(msg.encode(), ("127.0.0.1", port))
        codes = []
        while not codes or codes[-1] < 200:
            data, _ = s.recvfrom(65536)
            codes.append(int(data.split(b" ", 2)[1]))
        assert codes[-1] == 480
    finally:
        s.close()


def _raw_invite(s, port: int, n: int) -> bytes:
    me = s.getsockname()[1]
    body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
    return (f"INVITE sip:alice@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-st-{n}\r\n"
            f"From: <sip:raw@127.0.0.1:{me}>;tag=st{n}\r\nTo: <sip:alice@127.0.0.1:{port}>\r\n"
            f"Call-ID: stateless-{n}@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:raw@127.0.0.1:{me}>\r\nMax-Forwards: 70\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()


def _answers(s, wait: float, n: int) -> list[bytes]:
    """Every answer to INVITE number ``n`` that ``s`` receives within ``wait`` seconds."""
    out = []
    end = time.monotonic() + wait
    while (left := end - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        if f"Call-ID: stateless-{n}@".encode() in data:
            out.append(data)
    return out


def _codes(s, wait: float, n: int) -> list[bytes]:
    return [a.split(b" ", 2)[1] for a in _answers(s, wait, n)]


def test_invite_nobody_listens_for_is_refused_statelessly(engine, silent):
    """With no receiver of SIPInvitationChangedState, an INVITE is refused as a stateless UAS
    does (RFC 3261 §8.2.7): one 480 with a To tag, no 100 Trying, and no retransmission of
    the 480 although no ACK comes (a stateful INVITE server retransmits it after T1, 500 ms:
    §17.2.1).  A retransmitted INVITE gets the same 480 again (same To tag)."""
    assert not signals.has_receivers("SIPInvitationChangedState")
    port = engine.local_udp_port
    invite = _raw_invite(silent, port, 1)
    silent.sendto(invite, ("127.0.0.1", port))
    got = _answers(silent, 1.3, 1)
    assert [a.split(b" ", 2)[1] for a in got] == [b"480"], got
    tag = got[0].split(b"\r\nTo: ", 1)[1].split(b"\r\n", 1)[0]
    assert b";tag=" in tag
    silent.sendto(invite, ("127.0.0.1", port))                   # the caller's Timer A
    again = _answers(silent, 0.5, 1)
    assert [a.split(b"\r\nTo: ", 1)[1].split(b"\r\n", 1)[0] for a in again] == [tag]


def test_a_receiver_connected_later_gets_the_invite(engine, silent):
    """The stateless refusal follows the receivers: connected -> the INVITE is answered 100
    and becomes an INCOMING Invitation; disconnected -> refused statelessly again; a weak
    receiver that died -> refused (480) too."""
    port = engine.local_udp_port
    seen = []

    def receiver(sender, **data):
        if data["state"] == "INCOMING":
            seen.append(sender)
            sender.disconnect(480)

    signals.SIPInvitationChangedState.connect(receiver)
    try:
        silent.sendto(_raw_invite(silent, port, 2), ("127.0.0.1", port))
        codes = _codes(silent, 1.0, 2)
        assert codes[0] == b"100" and b"480" in codes and len(seen) == 1
    finally:
        signals.SIPInvitationChangedState.disconnect(receiver)
    silent.sendto(_raw_invite(silent, port, 3), ("127.0.0.1", port))
    assert _codes(silent, 1.0, 3) == [b"480"]

    def weak(sender, **data):
        seen.append(sender)
    signals.SIPInvitationChangedState.connect(weak)
    del weak
    gc.collect()
    for n in (4, 5):
        silent.sendto(_raw_invite(silent, port, n), ("127.0.0.1", port))
        codes = _codes(silent, 0.3, n)
        assert codes and codes[-1] == b"480", (n, codes)
    assert len(seen) == 1
    silent.sendto(_raw_invite(silent, port, 6), ("127.0.0.1", port))
    assert _codes(silent, 1.0, 6) == [b"480"]


# ---- send_invite()/disconnect() off the poll thread: handed over without waiting ----------

def _held_in_its_reservation(inv):
    """The first call of ``inv._require`` (send_invite()'s check in the calling thread, made
    under the hand-off queue's lock) waits there until ``go`` is set: (inside, go)."""
    import threading
    inside, go, real, calls = threading.Event(), threading.Event(), inv._require, []

    def slow_require(method):
        calls.append(method)
        if len(calls) == 1:
            inside.set()
            go.wait(10)
        real(method)

    inv._require = slow_require
    return inside, go


def _send_invite_noting(inv, outcome):
    try:
        inv.send_invite()
        outcome.append("accepted")
    except Exception as exc:  # noqa: BLE001 - noted for the test
        outcome.append(exc)


def test_one_of_two_threads_sending_the_same_invite_wins(engine, recorder, silent):
    """send_invite() from several threads at once on one Invitation: exactly one is accepted,
    the others raise InvalidStateError (checked and reserved in the calling thread), and one
    INVITE goes out; the state read right after the call is already CALLING."""
    inv = new_inv(silent.getsockname()[1])
    inv.set_offered_local_sdp(sdp())
    outcome = []

    def send(i):
        try:
            inv.send_invite()
            outcome.append(("ok", inv.state))
        except InvalidStateError:
            outcome.append(("refused", None))

    assert in_threads(send, 8) == []
    assert sorted(outcome)[-1] == ("refused", None)
    assert [o for o in outcome if o[0] == "ok"] == [("ok", "CALLING")]
    data, _ = silent.recvfrom(65536)
    assert data.startswith(b"INVITE ")
    silent.settimeout(0.3)
    with pytest.raises(socket.timeout):      # (the retransmission comes after 0.5 s)
        silent.recv(65536)
    inv.disconnect()
    assert inv.state in ("DISCONNECTING", "DISCONNECTED")


def test_a_send_invite_that_a_stop_overtakes_ends_disconnected(engine_factory, recorder, silent):
    """A send_invite() off the poll thread accepted just as the Engine stopped (the poll
    thread had closed its queue behind it): no exception, and the session ends like any at a
    stop, NULL -> DISCONNECTED 503, before SIPEngineDidEnd."""
    import threading
    from sipcore import _ua
    e = engine_factory()
    ua = _ua.current
    inv = new_inv(silent.getsockname()[1])
    inside, go = _held_in_its_reservation(inv)
    outcome = []
    sender = threading.Thread(target=_send_invite_noting, args=(inv, outcome))
    sender.start()
    assert inside.wait(5)
    stop_behind_a_hand_off(e.stop, ua, go, sender)
    assert outcome == ["accepted"]
    changes = [n for n in recorder.all("SIPInvitationChangedState") if n.sender is inv]
    assert [(n.data.prev_state, n.data.state, n.data.code) for n in changes] == [
        ("NULL", "DISCONNECTED", 503)]
    names = [n.name for n in recorder.all()]
    assert names.index("SIPInvitationChangedState") < names.index("SIPEngineDidEnd")
    assert inv._posts == 0


def test_send_invite_racing_in_two_threads_is_accepted_once(engine, recorder, silent):
    """Two threads call send_invite() of one Invitation at the same moment, both having seen
    no call of the other's yet: the reservation under the hand-off's lock lets one through,
    the other gets InvalidStateError."""
    import threading
    from sipcore import _ua
    ua = _ua.current
    inv = new_inv(silent.getsockname()[1])
    inv.set_offered_local_sdp(sdp())
    hold = threading.Event()
    ua.post(hold.wait, 10)              # the poll thread runs nothing else meanwhile
    inside, go = _held_in_its_reservation(inv)     # (the first caller only)
    outcome = []
    try:
        first = threading.Thread(target=_send_invite_noting, args=(inv, outcome))
        first.start()
        assert inside.wait(5)
        second = threading.Thread(target=_send_invite_noting, args=(inv, outcome))
        second.start()                  # past its own checks, it waits for the lock
        time.sleep(0.2)
        go.set()
        first.join(5)
        second.join(5)
    finally:
        go.set()
        hold.set()
    assert outcome.count("accepted") == 1 and len(outcome) == 2
    assert [type(o) for o in outcome if o != "accepted"] == [InvalidStateError]
    assert silent.recvfrom(65536)[0].startswith(b"INVITE ")
    assert inv.state == "CALLING"
    inv.disconnect()


def test_set_offered_local_sdp_off_the_poll_thread_does_not_wait(engine, recorder, silent):
    """Off the poll thread set_offered_local_sdp() checks the state and the SDP in the calling
    thread (its errors are raised there, as before) and hands the SDP over without waiting:
    it returns while the poll thread is busy, and the send_invite() after it sends that SDP
    (the hand-offs run in order).  A later set waits for the posted send_invite() first, so
    it sees the state that call made and is the offered SDP read right after."""
    import threading
    from sipcore import _ua
    ua = _ua.current
    inv = new_inv(silent.getsockname()[1])
    offer = sdp()
    offer.media[0].port = 40002
    bad = SDPSession("127.0.0.1", media=[SDPMedia("audio", 40000, "RTP/AVP", formats=["0"])])
    hold = threading.Event()
    ua.post(hold.wait, 10)              # the poll thread runs nothing else meanwhile
    outcome = []

    def app():
        try:
            inv.set_offered_local_sdp(offer)
            outcome.append("set")
            try:
                inv.set_offered_local_sdp(bad)
            except ValueError as exc:
                outcome.append(exc)
            inv.send_invite()
            outcome.append("sent")
        except Exception as exc:  # noqa: BLE001 - noted for the test
            outcome.append(exc)

    worker = threading.Thread(target=app)
    try:
        worker.start()
        worker.join(5)
        held = not hold.is_set()
        done = list(outcome)
    finally:
        hold.set()
    worker.join(5)
    assert held and not worker.is_alive()
    assert done[0] == "set" and done[2] == "sent", done
    assert isinstance(done[1], ValueError) and "connection" in str(done[1])
    data, _ = silent.recvfrom(65536)
    assert data.startswith(b"INVITE ") and b"m=audio 40002 RTP/AVP 0" in data
    assert inv.state == "CALLING"
    again = sdp()
    again.media[0].port = 40004
    inv.set_offered_local_sdp(again)                 # (CALLING allows it)
    assert inv.get_offered_local_sdp().media[0].port == 40004
    hold = threading.Event()
    ua.post(hold.wait, 10)
    inv.disconnect()                                # posted behind the held poll thread
    threading.Timer(0.3, hold.set).start()
    try:
        with pytest.raises(InvalidStateError, match="DISCONNECT"):
            inv.set_offered_local_sdp(again)        # the state the posted disconnect made
    finally:
        hold.set()
