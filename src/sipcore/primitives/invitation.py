"""Invitation: an INVITE session (RFC 3261, offer/answer of RFC 3264), outgoing or incoming,
over PJSIP's ``pjsip_inv``.

States (the spec's names): ``NULL``, ``CALLING``, ``INCOMING``, ``EARLY``, ``CONNECTING``,
``CONFIRMED``, ``REINVITING``, ``REINVITED``, ``DISCONNECTING``, ``DISCONNECTED``.  The state
moves only by the rows ``(state, event) -> state`` of ``_states.INVITATION`` (``_fire``);
:data:`TRANSITIONS` is the set of (previous, new) pairs they make.  A method called in a state
that does not allow it raises ``InvalidStateError`` naming the state (:data:`METHOD_STATES`).

An incoming INVITE outside a dialog makes a new Invitation, announced by
``SIPInvitationChangedState`` (``prev_state="NULL"``, ``state="INCOMING"``); PJSIP has already
answered ``100 Trying``.  Nobody listening to that notification means the INVITE is answered
``480``.  After every completed offer/answer exchange ``SIPInvitationGotSDPUpdate`` is sent;
an ``UPDATE`` with an offer is answered at once with the current local SDP.

Media is not handled here: the SDP is data the application sets and reads.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

from .. import _flat, _reprs, signals
from .._pj import check, ffi, lib, pj2str, strerror
from .._validate import check_instance, check_int, check_timeout
from ..credentials import Credentials
from ..errors import InvalidStateError, PJSIPError, SIPCoreError
from ..route import Route
from ..sdp import (
    SDPSession,
    _flat as _sdp_flat,
    _flat_of_pj as _sdp_flat_of_pj,
    _from_flat as _sdp_from_flat,
    _pj_from_flat as _sdp_pj_from_flat,
)
from ..uri import SIPURI, from_pj
from ._base import (
    ClientPrimitive,
    add_headers,
    check_credentials,
    check_headers,
    check_route,
    check_sipuri,
    recent,
)
from ._states import INVITATION, STAY

__all__ = ["Invitation", "TRANSITIONS", "METHOD_STATES", "STATES"]

_R = TypeVar("_R")

NULL = "NULL"
CALLING = "CALLING"
INCOMING = "INCOMING"
EARLY = "EARLY"
CONNECTING = "CONNECTING"
CONFIRMED = "CONFIRMED"
REINVITING = "REINVITING"
REINVITED = "REINVITED"
DISCONNECTING = "DISCONNECTING"
DISCONNECTED = "DISCONNECTED"
STATES = (NULL, CALLING, INCOMING, EARLY, CONNECTING, CONFIRMED, REINVITING, REINVITED,
          DISCONNECTING, DISCONNECTED)

#: every (previous state, new state) an Invitation may go through (the spec's diagram, and the
#: documented NULL -> DISCONNECTED): made by the rows of ``_states.INVITATION``
TRANSITIONS = frozenset(INVITATION.pairs())
_ROWS = INVITATION.rows

#: the states each method may be called in
METHOD_STATES = {
    "send_invite": {NULL},
    "respond_to_invite_provisionally": {INCOMING, EARLY},
    "accept_invite": {INCOMING, EARLY},
    "disconnect": {NULL, CALLING, INCOMING, EARLY, CONNECTING, CONFIRMED, REINVITING, REINVITED},
    "send_reinvite": {CONFIRMED},
    "respond_to_reinvite": {REINVITED},
    "set_offered_local_sdp": {NULL, CALLING, INCOMING, EARLY, CONNECTING, CONFIRMED,
                              REINVITING, REINVITED},
}

#: PJSIP's state report -> the event it means, for an incoming [0] and an outgoing [1] session
_PJ_EVENTS = (
    {lib.PJSIP_INV_STATE_EARLY: "send_1xx", lib.PJSIP_INV_STATE_CONNECTING: "send_2xx",
     lib.PJSIP_INV_STATE_CONFIRMED: "ack"},
    {lib.PJSIP_INV_STATE_CALLING: "send_invite", lib.PJSIP_INV_STATE_EARLY: "rx_1xx",
     lib.PJSIP_INV_STATE_CONNECTING: "rx_2xx", lib.PJSIP_INV_STATE_CONFIRMED: "ack"},
)
_SDP_ACTIVE_LOCAL, _SDP_ACTIVE_REMOTE, _SDP_OFFERED_LOCAL, _SDP_OFFERED_REMOTE = range(4)


class Invitation(ClientPrimitive):
    """``Invitation(credentials, callee_uri, route, contact_uri=None)``: an outgoing session.

    Incoming sessions are made by the core (see the module documentation).  Needs a running
    Engine.  When the route is a name that resolved to several servers, a 503, 408 or
    transport error ending the initial INVITE while still CALLING sends the same INVITE, in a
    new session, to the next server, without notifying the first one's end (RFC 3263 4.3;
    docs/invitation.md).  Notifications: ``SIPInvitationChangedState`` and
    ``SIPInvitationGotSDPUpdate`` (see sipcore.signals).
    """

    _end_method = "disconnect"

    _credentials: Credentials | None    # (None for an incoming session)
    _route: Route | None

    def __init__(self, credentials: Credentials, callee_uri: SIPURI, route: Route,
                 contact_uri: SIPURI | None = None):
        self._credentials = creds = check_credentials(credentials)
        callee = check_sipuri("callee_uri", callee_uri)
        self._route = route_ = check_route(route)
        self._contact_arg = check_sipuri("contact_uri", contact_uri, allow_none=True)
        self._setup(True, creds.uri.copy(), callee, route_.transport or "udp")
        self._bind()
        ua = self._running_ua("__init__")
        ua.check_route(route_, ua.on_poll_thread())     # (a read: no hand-off)

    def _setup(self, outgoing: bool, caller: SIPURI | None, callee: SIPURI | None,
               transport: str) -> None:
        self._outgoing = outgoing
        self._caller_uri = caller
        self._callee_uri = callee
        self._transport = transport
        self._state = NULL
        self._inv = ffi.NULL
        self._call_id: str | None = None
        self._local_contact_uri: SIPURI | None = None
        self._offered_local: bytes | None = None   # set_offered_local_sdp's, in SDP flat form
        # the active SDPs (local, remote) in SDP flat form, made into SDPSession objects only
        # when asked for
        self._active_sdp: tuple[bytes, bytes] | None = None
        self._timer: int | None = None
        self._timed_out = False
        self._cancel_data: dict[str, Any] | None = None
        # RFC 3263 4.3 failover of the initial INVITE: its offer and headers, the INVITE sent
        # (a reference, for the resolved addresses; only while CALLING), the timer between two
        # servers
        self._invite_args: tuple[bytes | None, dict[str, str]] | None = None
        self._first: Any = None
        self._kick: int | None = None
        # True while a method sends its own final response to a received re-INVITE: the
        # transaction's end is then not a state change of its own (the method makes it)
        self._answering = False
        # send_invite()/disconnect() posted from another thread and not yet run (_post), and
        # whether one of them is the send_invite()
        self._posts = 0
        self._invite_posted = False

    @classmethod
    def _new_incoming(cls, ua: Any, inv: Any, rdata: Any, transport: str) -> Invitation:
        """On the poll thread: a new incoming INVITE (already answered 100 by the glue)."""
        self = object.__new__(cls)
        info = ffi.new("sc_rdata_info_t *")
        lib.sc_rdata_info(rdata, info)
        self._credentials = None
        self._route = None
        self._contact_arg = None
        scratch = ua.scratch
        self._setup(False, from_pj(info.from_uri, scratch, scratch.uris),
                    from_pj(info.to_uri, scratch, scratch.uris), transport)
        self._ua = ua
        self._token = None
        self._lock = threading.RLock()
        self._inv = inv
        lib.sc_inv_set_token(inv, self._hold())
        try:
            self._read_dialog()
            data = _message_data(rdata, scratch)
        except BaseException:
            lib.sc_inv_set_token(inv, 0)
            self._inv = ffi.NULL
            self._release_token()
            raise
        self._fire("rx_invite", **data)
        return self

    # -- attributes --

    @property
    def state(self) -> str:
        """The state (one of STATES); read-only.  Off the poll thread, once the calls this
        object handed over without waiting (send_invite, disconnect) have run."""
        self._flush()
        return self._state
    is_outgoing = property(lambda self: self._outgoing, doc="True when the INVITE was sent")
    credentials = property(lambda self: None if self._credentials is None
                           else self._credentials.copy(), doc="None for an incoming session")
    route = property(lambda self: None if self._route is None else self._route.copy(),
                     doc="None for an incoming session")
    caller_uri = property(lambda self: _copy(self._caller_uri), doc="read-only SIPURI")
    callee_uri = property(lambda self: _copy(self._callee_uri), doc="read-only SIPURI")
    local_uri = property(
        lambda self: _copy(self._caller_uri if self._outgoing else self._callee_uri))
    remote_uri = property(
        lambda self: _copy(self._callee_uri if self._outgoing else self._caller_uri))
    transport = property(lambda self: self._transport, doc='"udp", "tcp" or "tls"')
    @property
    def local_contact_uri(self) -> SIPURI | None:
        """The Contact sent to the remote party (SIPURI), None in NULL."""
        self._flush()
        return _copy(self._local_contact_uri)

    @property
    def call_id(self) -> str | None:
        """The Call-ID; None in the NULL and DISCONNECTED states."""
        state = self.state
        return None if state in (NULL, DISCONNECTED) else self._call_id

    def __repr__(self) -> str:
        way = "to" if self._outgoing else "from"
        peer = self.remote_uri
        return (f"<Invitation {way} {peer._addr_spec() if peer else '?'} "
                f"{self._state}{recent(self)}>")

    # -- SDP --

    def get_active_local_sdp(self) -> SDPSession | None:
        """The local SDP of the last completed offer/answer (a new object), or None."""
        return self._active_local

    def get_active_remote_sdp(self) -> SDPSession | None:
        """The remote SDP of the last completed offer/answer (a new object), or None."""
        return self._active_remote

    @property
    def _active_local(self) -> SDPSession | None:
        self._flush()
        active = self._active_sdp
        return None if active is None else _sdp_from_flat(active[0])

    @property
    def _active_remote(self) -> SDPSession | None:
        self._flush()
        active = self._active_sdp
        return None if active is None else _sdp_from_flat(active[1])

    @property
    def _active_local_flat(self) -> bytes | None:
        return None if self._active_sdp is None else self._active_sdp[0]

    def get_offered_local_sdp(self) -> SDPSession | None:
        """The local SDP proposed now (set with set_offered_local_sdp(), or sent as an offer or
        answer that is not yet negotiated), or None."""
        sdp: SDPSession | None = self._call("get_offered_local_sdp", self._get_sdp,
                                            _SDP_OFFERED_LOCAL)
        return sdp

    def get_offered_remote_sdp(self) -> SDPSession | None:
        """The SDP offer (or answer) received from the remote party and not yet negotiated."""
        sdp: SDPSession | None = self._call("get_offered_remote_sdp", self._get_sdp,
                                            _SDP_OFFERED_REMOTE)
        return sdp

    def set_offered_local_sdp(self, local_sdp: SDPSession) -> None:
        """The SDP to send next: the offer of send_invite()/send_reinvite(), or the answer of
        accept_invite()/respond_to_reinvite().

        Off the poll thread the state and the SDP are checked here (errors as on the poll
        thread) and the SDP is handed to the poll thread without waiting, ahead of any later
        call from this thread (docs/threads.md)."""
        check_instance("local_sdp", local_sdp, SDPSession, "an")
        sdp = _sdp_flat(local_sdp)
        ua = self._running_ua("set_offered_local_sdp")
        if ua.on_poll_thread():
            self._set_offered(sdp)
            return
        self._flush()                   # (the state those calls make)
        self._require("set_offered_local_sdp")
        _check_offer(sdp)
        ua.post_or_fail(self._set_offered_posted, sdp, on_fail=_nothing, first=_nothing)

    # -- methods --

    def send_invite(self, extra_headers: dict[str, str] | None = None) -> None:
        """Send the initial INVITE (outgoing session, state NULL) -> CALLING.

        Off the poll thread and without ``extra_headers`` the state and direction are
        checked here and the INVITE is sent by the poll thread without waiting for it
        (docs/threads.md): a failure of PJSIP's to send it is then the DISCONNECTED
        notification (503), not an exception.  With ``extra_headers`` (which PJSIP may refuse
        to parse: PJSIPError naming the header) the caller waits as for the other methods."""
        headers = check_headers(extra_headers)
        ua = self._running_ua("send_invite")
        if headers:
            self._call("send_invite", self._send_invite_checked, headers)
            return
        if ua.on_poll_thread():
            self._send_invite_checked(headers)
            return
        self._flush()

        def reserve() -> None:          # (under the hand-off's lock: one send_invite() wins)
            if self._invite_posted:
                raise InvalidStateError("Invitation.send_invite()", "CALLING (sent already)")
            self._require("send_invite")
            self._require_direction("send_invite", True)
            self._invite_posted = True
            self._posts += 1

        ua.post_or_fail(self._posted, self._send_invite, (headers,),
                        on_fail=self._posted_lost, first=reserve)

    def respond_to_invite_provisionally(self, response_code: int = 180,
                                        extra_headers: dict[str, str] | None = None) -> None:
        """Send a provisional response (101-199) to the incoming INVITE -> EARLY."""
        code = check_int("response_code", response_code, 101, 199)
        headers = check_headers(extra_headers)
        self._call("respond_to_invite_provisionally", self._respond_provisionally, code, headers)

    def accept_invite(self, extra_headers: dict[str, str] | None = None) -> None:
        """Send 200 OK with the offered local SDP to the incoming INVITE -> CONNECTING."""
        headers = check_headers(extra_headers)
        self._call("accept_invite", self._accept, headers)

    def disconnect(self, response_code: int = 603, extra_headers: dict[str, str] | None = None,
                   timeout: float | None = None) -> None:
        """End the session -> DISCONNECTING (then DISCONNECTED): CANCEL an unanswered outgoing
        INVITE, answer an unanswered incoming one with ``response_code`` (300-699), else BYE.
        ``timeout``: seconds to wait for the answer before DISCONNECTED anyway (None: PJSIP's
        transaction timeout).  In DISCONNECTING or DISCONNECTED it does nothing (a session
        the peer ended a moment ago is no error: a racy teardown does not fail)."""
        code = check_int("response_code", response_code, 300, 699)
        headers = check_headers(extra_headers)
        t = None if timeout is None else check_timeout(timeout, 86400)
        ua = self._running_ua("disconnect")
        if headers:
            self._call("disconnect", self._disconnect, code, headers, t)
            return
        if ua.on_poll_thread():
            self._disconnect(code, headers, t)
            return
        # Off the poll thread without extra headers: every state allows it (or makes it a
        # no-op), so nothing to check here; the poll thread ends the session without the
        # caller waiting for it (a failure of PJSIP's ends it with DISCONNECTED).

        def count() -> None:
            self._posts += 1

        ua.post_or_fail(self._posted, self._disconnect, (code, headers, t),
                        on_fail=self._posted_lost, first=count)

    def send_reinvite(self, extra_headers: dict[str, str] | None = None) -> None:
        """Send a re-INVITE with the offered local SDP (or the active one) -> REINVITING."""
        headers = check_headers(extra_headers)
        self._call("send_reinvite", self._send_reinvite, headers)

    def respond_to_reinvite(self, response_code: int = 200,
                            extra_headers: dict[str, str] | None = None) -> None:
        """Answer the received re-INVITE (100-699); a final response -> CONFIRMED.  A 2xx
        carries the offered local SDP (the active one when none was set)."""
        code = check_int("response_code", response_code, 100, 699)
        headers = check_headers(extra_headers)
        self._call("respond_to_reinvite", self._respond_reinvite, code, headers)

    # -- calls handed over without waiting (send_invite, disconnect off the poll thread) --

    def _flush(self) -> None:
        """Wait until this object's posted calls have run (the hand-off queue is in order: an
        empty call behind them); a no-op when none is pending, on the poll thread or once the
        Engine stopped."""
        if not self._posts:
            return
        ua = self._ua
        if not ua.on_poll_thread():
            try:
                ua.call(_nothing)
            except SIPCoreError:        # (stopping: the posted calls ran or were dropped)
                pass

    def _done_posting(self) -> None:
        with self._ua._posted_lock:
            self._posts -= 1

    def _posted(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        """On the poll thread: a call posted by send_invite()/disconnect().  Nobody waits for
        it, so what fails is told the way a failure of the session is: DISCONNECTED."""
        try:
            fn(*args)
        except InvalidStateError:
            pass        # the session moved on (ended) meanwhile: that was notified already
        except Exception as exc:  # noqa: BLE001 - the session's end tells the application
            if self._inv != ffi.NULL and self._state not in (NULL, DISCONNECTED):
                lib.sc_inv_terminate(self._inv, 503, 1)       # PJSIP reports DISCONNECTED
            elif self._state != DISCONNECTED:
                self._fail(exc)
        finally:
            self._done_posting()

    def _posted_lost(self) -> None:
        """The Engine stopped before a posted call ran: the session ends as at any stop."""
        self._done_posting()
        self._engine_stopping()

    # -- poll thread: methods --

    def _require(self, method: str) -> None:
        if self._state not in METHOD_STATES[method]:
            raise InvalidStateError(f"Invitation.{method}()", self._state)

    def _require_direction(self, method: str, outgoing: bool) -> None:
        if self._outgoing != outgoing:
            raise InvalidStateError(f"Invitation.{method}()",
                                    f"{self._state} "
                                    f"({'outgoing' if self._outgoing else 'incoming'} session)")

    def _set_offered(self, sdp: bytes) -> None:
        self._require("set_offered_local_sdp")
        _check_offer(sdp)
        self._offered_local = sdp

    def _set_offered_posted(self, sdp: bytes) -> None:
        """On the poll thread: set_offered_local_sdp() from another thread, checked there.
        In whatever state the session has reached meanwhile: as if it had run just before
        the change (an ended session never sends it)."""
        self._offered_local = sdp

    def _get_sdp(self, which: int) -> SDPSession | None:
        if which == _SDP_OFFERED_LOCAL and self._offered_local is not None:
            return _sdp_from_flat(self._offered_local)
        if self._inv == ffi.NULL:
            return None
        p = lib.sc_inv_sdp(self._inv, which)
        return None if p == ffi.NULL else _sdp_from_flat(_sdp_flat_of_pj(p, self._ua.scratch))

    def _with_pj_sdp(self, sdp: bytes | None, fn: Callable[[Any], _R]) -> _R:
        """Call fn(pjmedia_sdp_session * or NULL) with sdp (an SDP flat form) built in a
        temporary pool (PJSIP copies what it keeps)."""
        if sdp is None:
            return fn(ffi.NULL)
        pool = lib.pjsip_endpt_create_pool(self._ua.endpt, b"sc-sdp", 4096, 4096)
        if pool == ffi.NULL:
            raise SIPCoreError("out of memory")
        try:
            return fn(_sdp_pj_from_flat(pool, sdp))
        finally:
            lib.pjsip_endpt_release_pool(self._ua.endpt, pool)

    def _send(self, tdata: Any, headers: dict[str, str], what: str) -> None:
        try:
            add_headers(tdata, headers)
        except BaseException:
            lib.pjsip_tx_data_dec_ref(tdata)
            raise
        check(lib.sc_inv_send(self._inv, tdata), what)

    def _send_invite_checked(self, headers: dict[str, str]) -> None:
        if self._invite_posted:     # (another thread's, not yet run)
            raise InvalidStateError("Invitation.send_invite()", "CALLING (sent already)")
        self._send_invite(headers)

    def _send_invite(self, headers: dict[str, str]) -> None:
        self._require("send_invite")
        self._require_direction("send_invite", True)
        self._invite_args = (self._offered_local, headers)
        self._start_invite()
        if self._state == NULL:          # PJSIP has not reported it while sending
            self._fire("send_invite")

    def _start_invite(self, failover_from: Any = None) -> None:
        """A new INVITE session and its INVITE (the offer and headers of send_invite());
        ``failover_from``: the INVITE of the session it replaces, whose next resolved address
        it goes to."""
        ua = self._ua
        creds, route, callee = self._credentials, self._route, self._callee_uri
        assert creds is not None and route is not None and callee is not None  # (outgoing)
        assert self._invite_args is not None
        sdp, headers = self._invite_args
        ua.check_route(route)
        aor = creds.uri
        contact = (self._contact_arg._name_addr() if self._contact_arg is not None
                   else self._local_contact_for(aor.user, route.transport))
        password = creds.password
        out = ffi.new("pjsip_inv_session **")
        args = [aor._name_addr().encode(), contact.encode(), callee._name_addr().encode(),
                callee._request_uri().encode(), route.uri().encode()]
        token = self._hold()
        try:
            self._with_pj_sdp(sdp, lambda sdp: check(lib.sc_inv_create_uac(
                token, *args, self._listener(route), (aor.user or "").encode(),
                password.encode() if password is not None else ffi.NULL, sdp, out),
                "creating the INVITE session"))
        except BaseException:
            self._release_token()
            raise
        self._inv = out[0]
        if failover_from is None:
            self._offered_local = None
        self._read_dialog()
        tdata = ffi.new("pjsip_tx_data **")
        try:
            check(lib.sc_inv_invite(self._inv, tdata), "creating the INVITE")
            if failover_from is not None:
                lib.sc_tdata_failover(failover_from, tdata[0])
            self._drop_first()
            lib.pjsip_tx_data_add_ref(tdata[0])
            self._first = tdata[0]
            self._send(tdata[0], headers, "sending the INVITE")
        except BaseException as exc:
            self._fail(exc)
            raise

    def _can_failover(self, code: int) -> bool:
        """RFC 3263 4.3: the initial INVITE ended with a 503, a 408 or a transport error (PJSIP
        reports it as 503) before any dialog (CALLING: no 1xx with a To tag, no 2xx, no
        disconnect()), and the name resolved to another server not yet tried."""
        return (self._state == CALLING and code in (408, 503) and self._first is not None
                and bool(lib.sc_tdata_can_failover(self._first)))

    def _on_failover(self) -> None:
        """The same INVITE (offer, credentials, headers) in a new session (a new dialog: none
        was made) to the next server; the application is told nothing until it answers."""
        self._kick = None
        old, self._first = self._first, None
        try:
            self._start_invite(failover_from=old)
        except Exception as exc:       # (on a timer: nobody to raise to)
            if self._state != DISCONNECTED:
                self._fail(exc)
        finally:
            lib.pjsip_tx_data_dec_ref(old)

    def _respond_provisionally(self, code: int, headers: dict[str, str]) -> None:
        self._require("respond_to_invite_provisionally")
        self._require_direction("respond_to_invite_provisionally", False)
        tdata = ffi.new("pjsip_tx_data **")
        check(lib.sc_inv_answer(self._inv, code, ffi.NULL, tdata), f"creating the {code} response")
        self._send(tdata[0], headers, f"sending the {code} response")
        if self._state == INCOMING:      # PJSIP has not reported it while sending
            self._fire("send_1xx")

    def _accept(self, headers: dict[str, str]) -> None:
        self._require("accept_invite")
        self._require_direction("accept_invite", False)
        info = self._info()
        if (self._offered_local is None
                and info.neg_state in (-1, lib.PJMEDIA_SDP_NEG_STATE_REMOTE_OFFER)):
            raise SIPCoreError("Invitation.accept_invite(): no local SDP to answer with; call "
                               "set_offered_local_sdp() first")
        tdata = ffi.new("pjsip_tx_data **")
        self._with_pj_sdp(self._offered_local, lambda sdp: check(
            lib.sc_inv_answer(self._inv, 200, sdp, tdata), "creating the 200 response"))
        self._offered_local = None
        self._send(tdata[0], headers, "sending the 200 response")
        if self._state in (INCOMING, EARLY):    # PJSIP has not reported it while sending
            self._fire("send_2xx")

    def _disconnect(self, code: int, headers: dict[str, str], timeout: float | None) -> None:
        if self._state in (DISCONNECTING, DISCONNECTED):
            return      # ending or ended already: nothing to do (docs/invitation.md, deviations)
        self._require("disconnect")
        state = self._state
        if state == NULL:
            self._release()
            self._fire("disconnect")
            return
        if self._kick is not None:      # between two servers (failover): nothing on the wire
            self._release()
            self._fire("disconnect")
            self._fire("ended", code=487, reason="Request Terminated")
            return
        inv = self._inv
        if self._info().state == lib.PJSIP_INV_STATE_DISCONNECTED:
            # PJSIP ended it and is reporting that now (a receiver of a notification drained
            # before the report calls this): nothing to send, the report ends it -- and no
            # failover follows, the application having ended the call
            self._fire("disconnect")
            return
        if state == REINVITED:        # the pending re-INVITE first (RFC 3261 15.1.2)
            tdata = ffi.new("pjsip_tx_data **")
            if lib.sc_inv_answer(inv, 487, ffi.NULL, tdata) == lib.PJ_SUCCESS:
                self._answering = True    # REINVITED -> DISCONNECTING, not via CONFIRMED
                try:
                    lib.sc_inv_send(inv, tdata[0])
                finally:
                    self._answering = False
        if state in (INCOMING, EARLY) and not self._outgoing:
            end_code = code                   # a final response
        elif state in (CALLING, EARLY):
            end_code = 487                    # CANCEL
        else:
            end_code = 200                    # BYE (the code is only PJSIP's "cause")
        tdata = ffi.new("pjsip_tx_data **")
        check(lib.sc_inv_end(inv, end_code, tdata), "ending the session")
        self._fire("disconnect")
        if timeout is not None:
            self._timer = self._ua.schedule(timeout, self._on_disconnect_timeout)
        if tdata[0] != ffi.NULL:
            try:
                self._send(tdata[0], headers, "sending the request or response ending the session")
            except PJSIPError:
                if self._inv != ffi.NULL:
                    lib.sc_inv_terminate(self._inv, 503, 1)

    def _on_disconnect_timeout(self) -> None:
        self._timer = None
        if self._state == DISCONNECTING and self._inv != ffi.NULL:
            self._timed_out = True
            lib.sc_inv_terminate(self._inv, 408, 1)

    def _send_reinvite(self, headers: dict[str, str]) -> None:
        self._require("send_reinvite")
        sdp = self._offered_local or self._active_local_flat
        tdata = ffi.new("pjsip_tx_data **")
        self._with_pj_sdp(sdp, lambda p: check(lib.sc_inv_reinvite(self._inv, p, tdata),
                                               "creating the re-INVITE"))
        self._offered_local = None
        self._fire("send_reinvite")
        try:
            self._send(tdata[0], headers, "sending the re-INVITE")
        except BaseException:
            if self._state == REINVITING:
                self._fire("send_failed")
            raise

    def _respond_reinvite(self, code: int, headers: dict[str, str]) -> None:
        self._require("respond_to_reinvite")
        sdp = None
        if 200 <= code < 300:
            sdp = self._offered_local or self._active_local_flat
        tdata = ffi.new("pjsip_tx_data **")
        self._with_pj_sdp(sdp, lambda p: check(lib.sc_inv_answer(self._inv, code, p, tdata),
                                               f"creating the {code} response"))
        if 200 <= code < 300:
            self._offered_local = None
        self._answering = True
        try:
            self._send(tdata[0], headers, f"sending the {code} response")
        finally:
            self._answering = False
        if code >= 200 and self._state == REINVITED:
            self._fire("respond_reinvite_final")

    # -- poll thread: PJSIP events --

    def _on_event(self, inv: Any, ev: Any) -> None:
        kind = ev.kind
        if kind == lib.SC_INV_EV_STATE:
            self._on_pj_state(ev)
        elif kind == lib.SC_INV_EV_MEDIA:
            self._on_media_update(ev.status)
        elif kind == lib.SC_INV_EV_TSX:
            if ev.role == lib.PJSIP_ROLE_UAC and self._state == REINVITING:
                data = (_message_data(ev.rdata, self._ua.scratch) if ev.rdata != ffi.NULL
                        else {"code": ev.code, "reason": pj2str(ev.reason)})
                self._fire("rx_reinvite_final", **data)
            elif ev.role == lib.PJSIP_ROLE_UAS and self._state == REINVITED and not self._answering:
                data = self._cancel_data or {}       # e.g. 487 after a CANCEL of the re-INVITE
                self._cancel_data = None
                self._fire("reinvite_tsx_ended", **data)
        elif kind == lib.SC_INV_EV_REINVITE:
            if (self._state, "rx_reinvite") in _ROWS:
                self._fire("rx_reinvite", **_message_data(ev.rdata, self._ua.scratch))
            else:                                    # e.g. while DISCONNECTING
                tdata = ffi.new("pjsip_tx_data **")
                if lib.sc_inv_answer(inv, 491, ffi.NULL, tdata) == lib.PJ_SUCCESS:
                    lib.sc_inv_send(inv, tdata[0])
        elif kind == lib.SC_INV_EV_OFFER:
            self._answer_offer_now(inv)
        elif kind == lib.SC_INV_EV_CANCEL:
            self._cancel_data = _message_data(ev.rdata, self._ua.scratch)

    def _on_pj_state(self, ev: Any) -> None:
        if self._state == DISCONNECTED:
            return
        rdata = ev.rdata
        if ev.state == lib.PJSIP_INV_STATE_DISCONNECTED:
            data: dict[str, Any]
            if self._timed_out:
                data = {"code": 408, "reason": "Request Timeout (no answer to end the session)"}
            elif rdata != ffi.NULL:
                data = _message_data(rdata, self._ua.scratch)
            elif self._cancel_data is not None:
                data = self._cancel_data
            else:
                data = {"code": ev.code, "reason": pj2str(ev.reason)}
            if self._outgoing and self._can_failover(data.get("code", 0)):
                self._inv = ffi.NULL             # PJSIP destroys it after this report
                self._release_token()
                self._kick = self._ua.schedule(0, self._on_failover)    # (after that)
                return
            self._release()
            self._fire("timeout" if self._timed_out else "ended", **data)
            return
        if self._first is not None and ev.state > lib.PJSIP_INV_STATE_EARLY:
            # answered: the INVITE is not needed any more (until then the INVITE transaction
            # holds it anyway; the state, not this reference, says whether to fail over)
            self._drop_first()
        event = _PJ_EVENTS[self._outgoing].get(ev.state)
        if event is None or _ROWS.get((self._state, event)) == STAY:
            return                   # e.g. PJSIP's INCOMING (made before this object)
        self._fire(event, **(_message_data(rdata, self._ua.scratch) if rdata != ffi.NULL else {}))

    def _on_media_update(self, status: int) -> None:
        if status == lib.PJ_SUCCESS and self._inv != ffi.NULL:
            local = lib.sc_inv_sdp(self._inv, _SDP_ACTIVE_LOCAL)
            remote = lib.sc_inv_sdp(self._inv, _SDP_ACTIVE_REMOTE)
            if local != ffi.NULL and remote != ffi.NULL:
                scratch = self._ua.scratch
                self._active_sdp = (_sdp_flat_of_pj(local, scratch),
                                    _sdp_flat_of_pj(remote, scratch))
                if not signals.has_receivers(signals.SIPInvitationGotSDPUpdate):
                    return            # nobody listens: build no objects for nothing
                signals.notify(signals.SIPInvitationGotSDPUpdate, self, succeeded=True,
                        local_sdp=self._active_local, remote_sdp=self._active_remote)
                return
        signals.notify(signals.SIPInvitationGotSDPUpdate, self, succeeded=False,
                       error=strerror(status) if status != lib.PJ_SUCCESS else "no active SDP")

    def _answer_offer_now(self, inv: Any) -> None:
        """An offer outside a re-INVITE (an UPDATE, or an offer in a response): answer with
        the current local SDP (during set-up, the offered one if set)."""
        sdp = self._active_local_flat
        if self._state in (CALLING, EARLY, CONNECTING) and self._offered_local is not None:
            sdp = self._offered_local
            self._offered_local = None
        if sdp is None:
            return            # PJSIP answers 488
        self._with_pj_sdp(sdp, lambda p: lib.sc_inv_set_answer(inv, p))

    # -- helpers --

    def _fire(self, event: str, **data: Any) -> None:
        """Move by the row for ``event`` (none: TransitionError) and notify, unless the row
        says STAY."""
        prev = self._state
        state = _ROWS.get((prev, event))
        if state is None:                # (the rows' cache: a pair it lacks has no row at all)
            INVITATION.next(prev, event)     # raises TransitionError naming state and event
            return
        if state == STAY:
            return
        self._state = state
        _reprs.note(self, prev, state, data)
        signals.notify(signals.SIPInvitationChangedState, self, prev_state=prev, state=state,
                       **data)

    def _info(self) -> Any:
        info = ffi.new("sc_inv_info_t *")
        lib.sc_inv_info(self._inv, info)
        return info

    def _read_dialog(self) -> None:
        info = self._info()
        self._call_id = pj2str(info.call_id) or None
        if info.local_contact != ffi.NULL:
            scratch = self._ua.scratch
            self._local_contact_uri = from_pj(info.local_contact, scratch, scratch.uris)

    def _local_contact_for(self, user: str | None, transport: str | None) -> str:
        return ClientPrimitive._local_contact(self, user, transport)

    def _release(self) -> None:
        """The session is over (or abandoned): no more PJSIP object, timer or token."""
        self._inv = ffi.NULL
        if self._timer is not None:
            self._ua.cancel(self._timer)
            self._timer = None
        if self._kick is not None:
            self._ua.cancel(self._kick)
            self._kick = None
        self._drop_first()
        self._release_token()

    def _fail(self, exc: BaseException) -> None:
        """Sending the INVITE failed: end the session without a word to anyone."""
        if self._inv != ffi.NULL:
            inv = self._inv
            lib.sc_inv_set_token(inv, 0)
            lib.sc_inv_terminate(inv, 503, 0)
        self._release()
        if self._state != DISCONNECTED:
            status = getattr(exc, "status", None)
            self._fire("send_failed", code=503,
                       reason=f"Service Unavailable ({strerror(status) if status else exc})")

    def _engine_stopping(self) -> None:
        if self._inv != ffi.NULL:
            inv = self._inv
            self._inv = ffi.NULL
            lib.sc_inv_abandon(inv)
        self._release()
        if self._state != DISCONNECTED:
            self._fire("engine_stop", code=503, reason="Service Unavailable (Engine stopped)")


def _nothing() -> None:
    """Invitation._flush's empty call (and what set_offered_local_sdp's hand-off reserves,
    and does when the Engine stops first: nothing)."""


def _check_offer(sdp: bytes) -> None:
    """ValueError unless PJMEDIA's strict check accepts the SDP (flat form): its negotiator
    asserts (aborts the process) on a local SDP that check refuses, e.g. a stream without a
    connection (c=) at either level.  Any thread: sc_sdp_validate_flat builds it in a pool
    of its own."""
    status = lib.sc_sdp_validate_flat(sdp, len(sdp), 1)
    if status != lib.PJ_SUCCESS:
        raise ValueError(f"local_sdp is not an SDP PJMEDIA accepts: {strerror(status)}")


def _copy(value: SIPURI | None) -> SIPURI | None:
    return None if value is None else value.copy()


def _headers(rdata: Any, scratch: _flat.Scratch) -> dict[str, str]:
    """A received message's headers (sc_msg_headers: a headers list, in the UA's buffer)."""
    return _flat.headers_of(scratch.read(lib.sc_msg_headers, rdata) or b"")


def _message_data(rdata: Any, scratch: _flat.Scratch) -> dict[str, Any]:
    """The spec's data of a notification caused by a received message."""
    info = ffi.new("sc_rdata_info_t *")
    lib.sc_rdata_info(rdata, info)
    data: dict[str, Any] = {}
    if info.is_request:
        data["method"] = pj2str(info.method)
        data["request_uri"] = from_pj(info.request_uri, scratch, scratch.uris)
    else:
        data["code"] = info.status_code
        data["reason"] = pj2str(info.reason)
    data["headers"] = _headers(rdata, scratch)
    data["body"] = (ffi.unpack(info.body, info.body_len).decode("utf-8", "replace")
                    if info.has_body and info.body != ffi.NULL else None)
    return data


# ---- incoming INVITE ---------------------------------------------------------------------

def on_incoming(ua: Any, inv: Any, rdata: Any, transport: str) -> bool:
    """A new INVITE outside a dialog (sc_py_inv_incoming): True when an Invitation took it;
    False (answered 480) when nobody listens to SIPInvitationChangedState."""
    if not signals.has_receivers(signals.SIPInvitationChangedState):
        lib.sc_inv_set_wanted(0)    # (a weak receiver that died: told late, see below)
        return False
    Invitation._new_incoming(ua, inv, rdata, transport)
    return True


def _receivers_changed(signal: Any) -> None:
    """signals._change_hooks: tell the glue whether anyone receives SIPInvitationChangedState.
    While nobody does, a new INVITE is refused 480 in C, statelessly (glue_inv.c,
    sc_inv_set_wanted): no dialog, no transaction, no Python, so an INVITE flood costs no
    memory.  A weak receiver's death is seen here before blinker drops it (the glue keeps
    the full path, and on_incoming tells it)."""
    if signal is signals.SIPInvitationChangedState or signal is signals.any_notification:
        lib.sc_inv_set_wanted(1 if signals.has_receivers(signals.SIPInvitationChangedState)
                              else 0)


signals._change_hooks.append(_receivers_changed)
_receivers_changed(signals.SIPInvitationChangedState)
