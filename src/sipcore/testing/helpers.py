"""sipcore objects for tests: an account on a test's registrar, an SDP offer, auto-answer.

    alice = Account(kamailio, "alice", "apw")       # kamailio.account("alice") adds the user
    reg = alice.register(recorder)                   # waits for "registered" (fails fast)
    alice.message("bob", "hi")
    inv = alice.call("bob")                          # an Invitation with audio_sdp() offered
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .. import SIPURI, Credentials, Invitation, Registration, Route, send_message, signals
from ..sdp import SDPAttribute, SDPConnection, SDPMedia, SDPSession
from ..signals import NotificationRecorder

__all__ = ["Account", "audio_sdp", "auto_answer"]

_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


def audio_sdp(ip: str = "127.0.0.1", direction: str = "sendrecv", port: int = 40000) -> SDPSession:
    """An audio offer or answer: PCMU and PCMA on ``port`` of ``ip``, with ``direction``."""
    kind = "IP6" if ":" in ip else "IP4"
    return SDPSession(ip, connection=SDPConnection(ip, address_type=kind), media=[
        SDPMedia("audio", port, "RTP/AVP", formats=["0", "8"],
                 attributes=[SDPAttribute("rtpmap", "0 PCMU/8000"),
                             SDPAttribute("rtpmap", "8 PCMA/8000"), SDPAttribute(direction, "")])])


@contextlib.contextmanager
def auto_answer(sdp: SDPSession | None = None, ring: bool = True) -> Iterator[list[Invitation]]:
    """While inside, every new incoming Invitation is answered (180 unless ``ring`` is False,
    then 200 with ``sdp``, default :func:`audio_sdp`) and every re-INVITE 200 (with ``sdp`` in
    the mirror of the offered direction: sendonly -> recvonly ...), on the poll thread;
    yields the list of the incoming Invitations."""
    answer = sdp if sdp is not None else audio_sdp()
    got: list[Invitation] = []

    def on_state(sender: Any, **d: Any) -> None:
        if d["state"] == "INCOMING":
            got.append(sender)
            if ring:
                sender.respond_to_invite_provisionally(180)
            sender.set_offered_local_sdp(answer)
            sender.accept_invite()
        elif d["state"] == "REINVITED":
            offer = sender.get_offered_remote_sdp()
            offered = offer.media[0].get_direction() if offer is not None else "sendrecv"
            mirror = {"sendonly": "recvonly", "recvonly": "sendonly"}.get(offered, offered)
            again = answer.copy()
            again.media[0].attributes = [a for a in again.media[0].attributes if a.name not in
                                         _DIRECTIONS] + [SDPAttribute(mirror, "")]
            sender.set_offered_local_sdp(again)
            sender.respond_to_reinvite(200)

    signals.SIPInvitationChangedState.connect(on_state, weak=False)
    try:
        yield got
    finally:
        signals.SIPInvitationChangedState.disconnect(on_state)


class Account:
    """The user ``user`` (password ``password``) of a registrar/proxy ``server`` (a
    :class:`~sipcore.testing.kamailio.Kamailio`, or anything with ``host``, ``port``,
    ``tls_port`` and ``domain``), as sipcore objects: ``credentials``, ``uri`` (the AOR),
    ``route`` (to the server over ``transport``)."""

    def __init__(self, server: Any, user: str, password: str, transport: str = "udp"):
        self.server = server
        self.user = user
        self.password = password
        self.transport = transport
        self.uri = SIPURI(server.domain, user=user)
        self.credentials = Credentials(self.uri.copy(), password)
        port = server.tls_port if transport == "tls" else server.port
        self.route = Route(server.host, port, transport)

    def __repr__(self) -> str:
        return f"<Account {self.user}@{self.server.domain} via {self.route}>"

    def aor(self, user: str | Any) -> SIPURI:
        """``user`` (a name on the same server, an Account, or a SIPURI) as a SIPURI."""
        if isinstance(user, Account):
            return user.uri.copy()
        if isinstance(user, SIPURI):
            return user
        return SIPURI(self.server.domain, user=user)

    def register(self, recorder: NotificationRecorder | None = None, expires: int = 60,
                 timeout: float = 10.0, **kw: Any) -> Registration:
        """A Registration of this account, registered: waits for the ``registered`` state and
        fails fast (NotificationFailed) when it falls back to ``unregistered`` (a final
        error response, or no answer)."""
        reg = Registration(self.credentials, self.route, expires=expires, **kw)
        with contextlib.ExitStack() as stack:
            rec = recorder or stack.enter_context(NotificationRecorder(
                ["SIPRegistrationChangedState"], sender=reg))
            reg.register()
            rec.wait_for("SIPRegistrationChangedState", sender=reg, timeout=timeout,
                         where={"state": "registered"},
                         fail_on={"SIPRegistrationChangedState": {"state": "unregistered"}})
        return reg

    def message(self, to: str | Any, body: str | bytes, content_type: str = "text/plain",
                **kw: Any) -> None:
        """Send a MESSAGE to ``to`` (see :meth:`aor`) through the server."""
        send_message(self.credentials, self.aor(to), content_type, body, self.route, **kw)

    def call(self, to: str | Any, sdp: SDPSession | None = None, **kw: Any) -> Invitation:
        """An Invitation to ``to`` through the server, ``sdp`` (default :func:`audio_sdp`)
        offered and the INVITE sent."""
        inv = Invitation(self.credentials, self.aor(to), self.route, **kw)
        inv.set_offered_local_sdp(sdp if sdp is not None else audio_sdp())
        inv.send_invite()
        return inv
