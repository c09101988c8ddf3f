"""Shared helpers of the Invitation interop tests."""
from __future__ import annotations

import contextlib

from sipcore import signals
from sipcore.sdp import SDPAttribute, SDPConnection, SDPMedia, SDPSession


def make_sdp(ip: str = "127.0.0.1", dir: str = "sendrecv", port: int = 40000) -> SDPSession:
    """An audio offer with PCMU/PCMA on some port (no RTP flows in these tests)."""
    kind = "IP6" if ":" in ip else "IP4"
    return SDPSession(ip, connection=SDPConnection(ip, address_type=kind), media=[
        SDPMedia("audio", port, "RTP/AVP", formats=["0", "8"],
                 attributes=[SDPAttribute("rtpmap", "0 PCMU/8000"),
                             SDPAttribute("rtpmap", "8 PCMA/8000"), SDPAttribute(dir, "")])])


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


@contextlib.contextmanager
def auto_answer(sdp: SDPSession, ring: bool = True):
    """Answer every incoming INVITE (180, then 200 with sdp) and every re-INVITE (200 with
    the mirror of the offered direction); yields the list of incoming Invitations."""
    got = []

    def on_state(sender, **d):
        if d["state"] == "INCOMING":
            got.append(sender)
            if ring:
                sender.respond_to_invite_provisionally(180)
            sender.set_offered_local_sdp(sdp)
            sender.accept_invite()
        elif d["state"] == "REINVITED":
            offer = sender.get_offered_remote_sdp()
            answer = sdp.copy()
            d2 = direction(offer) if offer is not None else "sendrecv"
            d2 = {"sendonly": "recvonly", "recvonly": "sendonly"}.get(d2, d2)
            answer.media[0].attributes = [a for a in answer.media[0].attributes
                                          if a.name not in ("sendrecv", "sendonly", "recvonly",
                                                            "inactive")] + [SDPAttribute(d2, "")]
            sender.set_offered_local_sdp(answer)
            sender.respond_to_reinvite(200)

    signals.SIPInvitationChangedState.connect(on_state)
    try:
        yield got
    finally:
        signals.SIPInvitationChangedState.disconnect(on_state)
