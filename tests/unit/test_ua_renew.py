"""Giving memory back when idle: PJSIP's UA layer is renewed only when no dialog exists, and
calls work before, across and after a renewal (one Engine calling itself over TCP, where
Timer J/K are 0 so an ended call's dialog is gone at once)."""
import time

from sipcore import (Credentials, Invitation, Route, SDPConnection, SDPMedia, SDPSession,
                     SIPURI, send_message, signals)
from sipcore import _ua


def sdp(port):
    return SDPSession("127.0.0.1", connection=SDPConnection("127.0.0.1"),
                      media=[SDPMedia("audio", port, "RTP/AVP", formats=["0"])])


class AutoAnswer:
    """Answers every incoming INVITE 200 with an SDP, from the receiver."""

    def __init__(self):
        self.incoming = []

    def __call__(self, sender, prev_state, state, **data):
        if state == "INCOMING":
            self.incoming.append(sender)
            sender.set_offered_local_sdp(sdp(50000))
            sender.accept_invite()


def wait_state(rec, inv, state, timeout=10):
    return rec.wait_for("SIPInvitationChangedState", timeout=timeout, sender=inv,
                        where=lambda n: n.data.state == state)


def call(engine, rec):
    port = engine.local_tcp_port
    inv = Invitation(Credentials(SIPURI("127.0.0.1", user="alice")),
                     SIPURI("127.0.0.1", user="bob", port=port), Route("127.0.0.1", port, "tcp"))
    inv.set_offered_local_sdp(sdp(40000))
    inv.send_invite()
    wait_state(rec, inv, "CONFIRMED")
    return inv


def wait_for_renewals(n, timeout=10.0):
    deadline = time.monotonic() + timeout
    while _ua.current.ua_renewals < n and time.monotonic() < deadline:
        time.sleep(0.1)
    return _ua.current.ua_renewals


def test_ua_layer_is_renewed_when_idle_without_dialogs_and_calls_go_on(engine_factory, recorder):
    engine = engine_factory(local_tcp_port=0)
    answer = AutoAnswer()
    signals.SIPInvitationChangedState.connect(answer)
    try:
        inv = call(engine, recorder)
        # a dialog exists (the call is up): idle time alone must not renew the UA layer
        before = _ua.current.ua_renewals
        time.sleep(_ua.TRIM_IDLE_SECONDS + 1.0)
        assert _ua.current.ua_renewals == before
        assert inv.state == "CONFIRMED" and answer.incoming[-1].state == "CONFIRMED"
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")
        # the call is over and its dialogs are gone (TCP: no Timer J/K): renewed once idle
        assert wait_for_renewals(before + 1) == before + 1
        # calls in both directions and a MESSAGE work in the new UA layer
        inv2 = call(engine, recorder)
        assert inv2.get_active_remote_sdp().media[0].port == 50000
        assert len(answer.incoming) == 2
        wait_state(recorder, answer.incoming[-1], "CONFIRMED")
        answer.incoming[-1].disconnect()       # hung up by the callee this time
        n = wait_state(recorder, inv2, "DISCONNECTED")
        assert n.data.method == "BYE"
        with recorder:
            send_message(Credentials(SIPURI("127.0.0.1", user="alice")),
                         SIPURI("127.0.0.1", user="bob", port=engine.local_tcp_port),
                         "text/plain", "after renewal",
                         Route("127.0.0.1", engine.local_tcp_port, "tcp"))
            assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=10).data.code == 200
        assert wait_for_renewals(before + 2) == before + 2
    finally:
        signals.SIPInvitationChangedState.disconnect(answer)
    assert not recorder.all("SIPEngineGotException")
