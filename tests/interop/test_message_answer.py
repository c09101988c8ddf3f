"""An incoming MESSAGE answered with a code the application chose (Engine option
``message_answer="receiver"``: the SIPEngineGotMessage receiver calls ``respond(code)``); the
default ("auto") answers 200 in C before Python hears of it, as before."""
from __future__ import annotations

import time

import pytest

from sipcore import Engine, InvalidStateError, signals


def send(peer, engine, body):
    port = engine.local_udp_port
    peer.send(f"sip:alice@127.0.0.1:{port}", body, ("127.0.0.1", port, "udp"))
    return peer.expect("response", timeout=10)


@pytest.fixture
def answering():
    """A receiver answering "busy" 486 and "gone" 404; it keeps every respond it got."""
    kept = []

    def on_message(sender, **data):
        kept.append(data.get("respond"))
        body = data["body"]
        if body == b"busy":
            data["respond"](486)
        elif body == b"gone":
            data["respond"](480)
            data["respond"](404)            # the last call wins
        elif body == b"bad code":
            data["respond"](100)            # no final response: ValueError in the receiver

    signals.SIPEngineGotMessage.connect(on_message, weak=False)
    yield kept
    signals.SIPEngineGotMessage.disconnect(on_message)


def test_receiver_chooses_the_code(engine_factory, sipcore_peer, recorder, answering):
    engine = engine_factory(message_answer="receiver")
    assert engine.message_answer == "receiver"
    r = send(sipcore_peer, engine, "busy")
    assert (r["code"], r["reason"]) == (486, "Busy Here")
    assert send(sipcore_peer, engine, "gone")["code"] == 404
    assert send(sipcore_peer, engine, "hello")["code"] == 200       # no choice: 200
    got = recorder.all("SIPEngineGotMessage")
    assert [n.data.body for n in got] == [b"busy", b"gone", b"hello"]
    assert all(callable(n.data.respond) for n in got)
    # a code that is no final response: ValueError naming it, reported; the answer is 200
    assert send(sipcore_peer, engine, "bad code")["code"] == 200
    exc = recorder.wait_for("SIPEngineGotException", timeout=5)
    assert "ValueError" in exc.data.traceback and "code" in exc.data.traceback
    # respond() after the receivers returned: the MESSAGE was answered already
    with pytest.raises(InvalidStateError, match="answered already"):
        answering[0](500)
    # the requests on the wire were answered once each, with those codes (the trace of the
    # last answer may be notified a moment after the peer had it)
    def sent():
        return [n.data.data.split("\r\n", 1)[0] for n in recorder.all("SIPEngineSIPTrace")
                if not n.data.received and "MESSAGE" in n.data.data.split("CSeq:", 1)[1][:30]]
    deadline = time.monotonic() + 5
    while len(sent()) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)                     # (and no fifth answer)
    assert sent() == ["SIP/2.0 486 Busy Here", "SIP/2.0 404 Not Found", "SIP/2.0 200 OK",
                      "SIP/2.0 200 OK"]


def test_default_answers_200_before_python_and_no_respond(engine, sipcore_peer, recorder,
                                                          answering):
    assert engine.message_answer == "auto"
    assert send(sipcore_peer, engine, "busy")["code"] == 200     # the receiver cannot choose
    n = recorder.wait_for("SIPEngineGotMessage")
    assert not hasattr(n.data, "respond") and answering == [None]


def test_option_settable_while_running(engine, sipcore_peer, answering):
    assert send(sipcore_peer, engine, "busy")["code"] == 200
    Engine().message_answer = "receiver"
    assert send(sipcore_peer, engine, "busy")["code"] == 486
    Engine().message_answer = "auto"
    assert send(sipcore_peer, engine, "busy")["code"] == 200
    for bad, err in (("manual", ValueError), (1, TypeError)):
        with pytest.raises(err, match="message_answer"):
            Engine().message_answer = bad


def test_no_receiver_is_answered_200(engine_factory, sipcore_peer):
    engine = engine_factory(message_answer="receiver")
    assert send(sipcore_peer, engine, "busy")["code"] == 200
