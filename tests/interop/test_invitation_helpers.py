"""Shared helpers of the Invitation interop tests."""
from __future__ import annotations

import contextlib

import pytest

from sipcore import Credentials, Invitation, Route, SIPURI, signals
from sipcore.sdp import SDPSession
from sipcore.testing.helpers import audio_sdp, auto_answer  # noqa: F401 (for the tests)


def make_sdp(ip: str = "127.0.0.1", dir: str = "sendrecv", port: int = 40000) -> SDPSession:
    """An audio offer with PCMU/PCMA on some port (no RTP flows in these tests)."""
    return audio_sdp(ip, dir, port)


def call(port: int, sdp: bool = True, ip: str = "127.0.0.1", **kw) -> Invitation:
    """alice calls bob at ip:port (that route), with make_sdp()'s offer unless ``sdp`` is
    False; ``kw`` go to Invitation."""
    inv = Invitation(Credentials(SIPURI(ip, user="alice")), SIPURI(ip, user="bob", port=port),
                     Route(ip, port), **kw)
    if sdp:
        inv.set_offered_local_sdp(make_sdp())
    inv.send_invite()
    return inv


def no_exceptions(rec) -> None:
    assert not rec.all("SIPEngineGotException"), [n.data for n in rec.all("SIPEngineGotException")]


def direction(sdp: SDPSession) -> str:
    return sdp.media[0].get_direction()


def seq(rec, inv) -> list[str]:
    return [n.data.state for n in rec.all("SIPInvitationChangedState") if n.sender is inv]


def sdp_updates(rec, inv) -> list:
    return [n for n in rec.all("SIPInvitationGotSDPUpdate") if n.sender is inv]


def wait_state(rec, inv, state: str, timeout: float = 10.0):
    return rec.wait_for("SIPInvitationChangedState", timeout=timeout, sender=inv,
                        where=lambda n: n.data.state == state)


@contextlib.contextmanager
def incoming_calls(action):
    """Record every new incoming Invitation, then apply ``action`` to it (say, a 180 or a
    486); yields the list.  Recorded first: the peer may see the action's effect before the
    receiver returns."""
    got = []

    def on_state(sender, **d):
        if d["state"] == "INCOMING":
            got.append(sender)
            action(sender)

    signals.SIPInvitationChangedState.connect(on_state)
    try:
        yield got
    finally:
        signals.SIPInvitationChangedState.disconnect(on_state)


# auto_answer(sdp, ring=True): sipcore.testing.helpers's (imported above): 180 then 200 to
# every incoming INVITE, 200 with the mirrored direction to every re-INVITE


# ---- the spec's state machine, written out from its text (not taken from sipcore) ----------
#
# sip-core-api.txt, "Invitation": "The state changes of this machine are triggered by the
# following" (16 numbered triggers).  Each row: (previous state, new state) -> trigger.
_LIVE = ("CALLING", "INCOMING", "EARLY", "CONNECTING", "CONFIRMED", "REINVITING", "REINVITED")
SPEC_TRANSITIONS: dict[tuple[str, str], str] = {
    ("NULL", "CALLING"): "2: send_invite() sent the initial INVITE",
    ("NULL", "INCOMING"): "3: a new incoming session",
    ("CALLING", "EARLY"): "4: a 1xx received",
    ("EARLY", "EARLY"): "4/5: another 1xx received or sent (the notification's state 'may be "
                        "the same as the previous state')",
    ("INCOMING", "EARLY"): "5: respond_to_invite_provisionally() sent a 1xx",
    ("CALLING", "CONNECTING"): "6: a 2xx received (no 1xx before)",
    ("EARLY", "CONNECTING"): "6/7/8: a 2xx received or sent",
    ("INCOMING", "CONNECTING"): "7: accept_invite() sent a 2xx",
    ("CONNECTING", "CONFIRMED"): "9: the ACK sent or received",
    ("CONFIRMED", "REINVITING"): "10: send_reinvite()",
    ("REINVITING", "CONFIRMED"): "11: the final response to our re-INVITE",
    ("CONFIRMED", "REINVITED"): "12: the remote party sent a re-INVITE",
    ("REINVITED", "CONFIRMED"): "13: respond_to_reinvite() with a final response",
    **{(s, "DISCONNECTING"): "14: disconnect()" for s in _LIVE},
    ("DISCONNECTING", "DISCONNECTED"): "15: the answer to the CANCEL/BYE/response (or timeout)",
    **{(s, "DISCONNECTED"): "16: a message from the remote party ended the session (or an "
                            "internal timeout or error: the notification's 'code')" for s in _LIVE},
    # sipcore's documented deviation (docs/invitation.md): disconnect() of an Invitation that
    # never sent anything, a send_invite() that failed, or Engine stop before send_invite()
    ("NULL", "DISCONNECTED"): "deviation: ended before anything was sent",
}


def changes(rec, inv=None) -> list:
    """The SIPInvitationChangedState notifications recorded (of one Invitation)."""
    return [n for n in rec.all("SIPInvitationChangedState") if inv is None or n.sender is inv]


def check_transitions(rec, require_end: bool = True) -> dict:
    """Every recorded SIPInvitationChangedState is a row of SPEC_TRANSITIONS, and per
    Invitation they chain: the first prev_state is NULL, each prev_state is the state of the
    notification before, nothing comes after DISCONNECTED (and with ``require_end`` each one
    ended there).  Returns {Invitation: [states]}.  Raises AssertionError naming the fault."""
    seen: dict = {}
    for n in changes(rec):
        pair = (n.data.prev_state, n.data.state)
        assert pair in SPEC_TRANSITIONS, f"{n.sender!r}: {pair} is not a transition of the spec"
        states = seen.setdefault(n.sender, [])
        before = states[-1] if states else "NULL"
        assert before != "DISCONNECTED", f"{n.sender!r}: {pair} after DISCONNECTED"
        assert n.data.prev_state == before, \
            f"{n.sender!r}: prev_state {n.data.prev_state} but the state before was {before} ({states})"
        states.append(n.data.state)
    if require_end:
        for inv, states in seen.items():
            assert states[-1] == "DISCONNECTED", f"{inv!r} ended in {states[-1]} ({states})"
    return seen


def sip_trace(rec, sent: bool | None = None) -> list[str]:
    """The SIP messages traced (Engine trace_sip=True), in order; sent only, received only
    or both."""
    return [n.data.data for n in rec.all("SIPEngineSIPTrace")
            if sent is None or n.data.received != sent]


def first_line(msg: str) -> str:
    return msg.split("\r\n", 1)[0]


def header(msg: str, name: str) -> str | None:
    """The value of the first header ``name`` (case-insensitive; compact forms not handled)."""
    head = msg.split("\r\n\r\n", 1)[0]
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def body(msg: str) -> str:
    return msg.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in msg else ""


@pytest.fixture(autouse=True)
def spec_checked(recorder):
    """Imported by a test module: after each of its tests, every Invitation transition it
    recorded is checked against the spec's table and chained, and no SIPEngineGotException."""
    yield
    check_transitions(recorder, require_end=False)
    exc = recorder.all("SIPEngineGotException")
    assert not exc, [n.data for n in exc]
