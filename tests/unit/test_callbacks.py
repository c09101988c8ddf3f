"""The trampolines (sipcore._callbacks): an exception in one never reaches C; it is sent as
SIPEngineGotException, C gets the declared default, and the Engine goes on."""
from __future__ import annotations

from sipcore import Credentials, Invitation, Route, SIPURI, send_message
from sipcore.primitives import invitation, message


def _boom(*args):
    raise RuntimeError("boom in a trampoline")


def _reported(recorder):
    got = recorder.wait_for("SIPEngineGotException", timeout=5)
    assert "RuntimeError: boom in a trampoline" in got.data.traceback
    assert "_callbacks.py" in got.data.traceback       # raised inside the trampoline


def test_an_exception_in_a_void_trampoline_is_reported_and_the_engine_goes_on(engine, recorder,
                                                                              monkeypatch):
    port = engine.local_udp_port
    me = Credentials(SIPURI("127.0.0.1", user="alice"))
    to = SIPURI("127.0.0.1", user="bob", port=port)
    monkeypatch.setattr(message, "on_incoming", _boom)
    send_message(me, to, "text/plain", "1", Route("127.0.0.1", port))
    _reported(recorder)
    assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=5).data.code == 200
    monkeypatch.undo()
    send_message(me, to, "text/plain", "2", Route("127.0.0.1", port))
    assert recorder.wait_for("SIPEngineGotMessage", timeout=5).data.body == b"2"


def test_an_exception_in_an_int_trampoline_gives_c_its_default(engine, recorder, monkeypatch):
    """sc_py_inv_incoming's default, 0, has the glue answer the INVITE 480."""
    port = engine.local_udp_port
    monkeypatch.setattr(invitation, "on_incoming", _boom)
    inv = Invitation(Credentials(SIPURI("127.0.0.1", user="alice")),
                     SIPURI("127.0.0.1", user="bob", port=port), Route("127.0.0.1", port))
    inv.send_invite()
    _reported(recorder)
    end = recorder.wait_for("SIPInvitationChangedState", timeout=10, sender=inv,
                            where=lambda n: n.data.state == "DISCONNECTED")
    assert end.data.code == 480


def test_c_events_queued_before_a_callback_are_delivered_before_its_notifications(engine,
                                                                                   recorder):
    """The SIP trace of a received MESSAGE comes before SIPEngineGotMessage (each trampoline
    lets the UA drain the C queue first)."""
    engine.trace_sip = True
    port = engine.local_udp_port
    send_message(Credentials(SIPURI("127.0.0.1", user="alice")),
                 SIPURI("127.0.0.1", user="bob", port=port), "text/plain", "t",
                 Route("127.0.0.1", port))
    recorder.wait_for("SIPEngineGotMessageResponse", timeout=5)
    names = [(n.name, n.data.data.split(" ", 1)[0] if n.name == "SIPEngineSIPTrace" and
              n.data.received else None) for n in recorder.notifications]
    assert names.index(("SIPEngineSIPTrace", "MESSAGE")) < names.index(("SIPEngineGotMessage", None))


def test_a_message_gives_back_its_token(engine, recorder):
    """The final report is the request's last callback: its trampoline takes the token back."""
    from sipcore._pj import handles
    port = engine.local_udp_port
    before = len(handles)
    send_message(Credentials(SIPURI("127.0.0.1", user="alice")),
                 SIPURI("127.0.0.1", user="bob", port=port), "text/plain", "t",
                 Route("127.0.0.1", port))
    assert recorder.wait_for("SIPEngineGotMessageResponse", timeout=5).data.code == 200
    assert len(handles) == before
