"""Subscription: SUBSCRIBE to an event package of a URI and receive its NOTIFYs (RFC 6665,
RFC 3856 for presence).

The state mirrors PJSIP's ``pjsip_evsub``: ``NULL``, ``SENT``, ``ACCEPTED``, ``PENDING``,
``ACTIVE``, ``TERMINATED``, or the server's own Subscription-State text.  A new object is
``TERMINATED``.  Not queued: ``subscribe()`` is allowed only in ``TERMINATED`` (otherwise
``InvalidStateError`` names the state); ``unsubscribe()`` in ``TERMINATED`` does nothing.  PJSIP
refreshes an active subscription before it expires.  The rows: ``_states.SUBSCRIPTION`` (PJSIP's
evsub reports become events, :data:`_EVSUB_EVENTS`).
"""
from __future__ import annotations

from typing import Any

from .. import _reprs, signals
from .._pj import check, ffi, lib, pj2str
from ..credentials import Credentials
from ..errors import InvalidStateError, SIPCoreError
from ..route import Route
from ..uri import SIPURI
from ._base import (
    TIMEOUT_REASON,
    ClientPrimitive,
    check_credentials,
    check_expires,
    check_headers,
    check_route,
    check_sipuri,
    recent,
    timeout_property,
)
from ._states import OTHER, SUBSCRIPTION

__all__ = ["Subscription"]

TERMINATED = "TERMINATED"

#: PJSIP's evsub state -> the event that made it (UNKNOWN: a NOTIFY's Subscription-State text
#: none of the others; NULL is never reported)
_EVSUB_EVENTS = {
    lib.PJSIP_EVSUB_STATE_SENT: "send_subscribe",
    lib.PJSIP_EVSUB_STATE_ACCEPTED: "rx_2xx",
    lib.PJSIP_EVSUB_STATE_PENDING: "rx_notify_pending",
    lib.PJSIP_EVSUB_STATE_ACTIVE: "rx_notify_active",
    lib.PJSIP_EVSUB_STATE_UNKNOWN: "rx_notify_other",
    lib.PJSIP_EVSUB_STATE_TERMINATED: "ended",
}


class Subscription(ClientPrimitive):
    """``Subscription(credentials, to_uri, event, route, expires=300, contact_uri=None,
    extra_headers=None, timeout=None)``.

    ``timeout`` (seconds, an extension like send_message's; settable): the SUBSCRIBE of
    subscribe() or unsubscribe() without a final response by then ends the subscription
    (TERMINATED, 408).  PJSIP's own refreshes keep PJSIP's timeout.

    When the route is a name that resolved to several servers, a 503 or a timeout (PJSIP's
    or ``timeout``'s) of the first SUBSCRIBE sends it again to the next server, in a new
    dialog (RFC 3263 4.3); the state stays SENT until the last server tried answers.

    Needs a running Engine, and ``event`` registered with it (``events`` start option or
    ``Engine.add_event``), else ValueError.  Notifications: ``SIPSubscriptionChangedState``
    and ``SIPSubscriptionGotNotify`` (one per NOTIFY with a body; none for an empty body).
    """

    _end_method = "unsubscribe"
    timeout = timeout_property("Seconds the SUBSCRIBE of subscribe()/unsubscribe() may wait "
                               "for its final response (then: 408 and TERMINATED); None: "
                               "PJSIP's")

    def __init__(self, credentials: Credentials, to_uri: SIPURI, event: str, route: Route,
                 expires: int = 300,
                 contact_uri: SIPURI | None = None, extra_headers: dict[str, str] | None = None,
                 timeout: float | None = None):
        self.timeout = timeout
        self._credentials = check_credentials(credentials)
        self._to_uri = check_sipuri("to_uri", to_uri)
        if not isinstance(event, str):
            raise TypeError(f"event must be a str, not {type(event).__name__}")
        self._event = event
        self._route = check_route(route)
        self._expires = check_expires(expires)
        self._contact_arg = check_sipuri("contact_uri", contact_uri, allow_none=True)
        self._extra_headers = check_headers(extra_headers)
        self._state = TERMINATED
        self._sub = ffi.NULL
        self._first: Any = None  # the first SUBSCRIBE sent, kept for a failover (RFC 3263 4.3)
        self._kick: int | None = None   # the failover's timer
        self._bind()
        self._call("__init__", self._check)

    state = property(lambda self: self._state, doc="the pjsip_evsub state name")
    credentials = property(lambda self: self._credentials.copy(), doc="read-only")
    to_uri = property(lambda self: self._to_uri.copy(), doc="read-only")
    event = property(lambda self: self._event, doc="read-only")
    route = property(lambda self: self._route.copy(), doc="read-only")
    expires = property(lambda self: self._expires, doc="read-only: the requested expiry")
    extra_headers = property(lambda self: dict(self._extra_headers), doc="read-only")

    def __repr__(self) -> str:
        return (f"<Subscription {self._event} {self._to_uri._addr_spec()} "
                f"{self._state}{recent(self)}>")

    def subscribe(self) -> None:
        """Send the initial SUBSCRIBE (only in state TERMINATED)."""
        self._call("subscribe", self._subscribe)

    def unsubscribe(self) -> None:
        """Send SUBSCRIBE with Expires: 0; in state TERMINATED it does nothing (the spec says
        it "can be used when the object is not in the TERMINATED state" and no more: sipcore
        makes the other case a no-op, so that a racy teardown does not fail)."""
        self._call("unsubscribe", self._unsubscribe)

    # -- poll thread --

    def _check(self) -> None:
        if self._event not in self._ua.events:
            raise ValueError(f"event {self._event!r} is not registered with the Engine; "
                             "add it with Engine.add_event() or the events start option")
        self._ua.check_route(self._route)

    def _fire(self, event: str, text: str | None = None, **data: Any) -> None:
        """Move by the row for ``event``; ``text``: PJSIP's state name (the server's own text
        for OTHER).  A state repeated without a response code is not notified again."""
        state = SUBSCRIPTION.next(self._state, event)
        if state == OTHER:
            # (OTHER comes only from an evsub event, which passes PJSIP's text)
            state = text  # type: ignore[assignment]
        if state == self._state and not data:
            return
        _reprs.note(self, self._state, state, data)
        self._state = state
        signals.notify(signals.SIPSubscriptionChangedState, self, state=state, **data)

    def _subscribe(self) -> None:
        if self._state != TERMINATED:
            raise InvalidStateError("Subscription.subscribe()", self._state)
        self._start()
        self._fire("send_subscribe")

    def _start(self, failover_from: Any = None) -> None:
        """A new evsub and its first SUBSCRIBE; ``failover_from``: the first SUBSCRIBE of the
        evsub it replaces, whose next resolved address it goes to."""
        ua = self._ua
        aor = self._credentials.uri
        contact = (self._contact_arg._name_addr() if self._contact_arg is not None
                   else self._local_contact(aor.user, self._route.transport))
        keep = [c.encode() for c in (aor._name_addr(), contact, self._to_uri._name_addr())]
        sub = ffi.new("pjsip_evsub **")
        password = self._credentials.password
        check(lib.sc_evsub_create(
            ua.endpt, self._hold(), keep[0], keep[1], keep[2], self._event.encode(),
            self._route.uri().encode(), self._listener(self._route), (aor.user or "").encode(),
            password.encode() if password is not None else ffi.NULL, sub),
            "creating the subscription")
        self._sub = sub[0]
        try:
            # kept by the evsub: on this SUBSCRIBE, the refreshes PJSIP sends on its own
            # timer, and the unsubscribe
            for name, value in self._extra_headers.items():
                check(lib.sc_evsub_add_header(ua.endpt, self._sub, name.encode(),
                                              value.encode()), f"adding the {name} header")
            self._send(self._expires, first=True, failover_from=failover_from)
        except BaseException:
            self._abandon()
            raise

    def _unsubscribe(self) -> None:
        if self._state == TERMINATED:
            return      # ended already: nothing to do (the documented deviation, see above)
        if self._kick is not None:      # between two servers: nothing held on either
            self._abandon()
            self._fire("ended")
            return
        if self._sub == ffi.NULL:
            raise InvalidStateError("Subscription.unsubscribe()", self._state)
        self._send(0)

    def _send(self, expires: int, first: bool = False, failover_from: Any = None) -> None:
        tdata = ffi.new("pjsip_tx_data **")
        check(lib.pjsip_evsub_initiate(self._sub, ffi.NULL, expires, tdata),
              "creating the SUBSCRIBE")
        if failover_from is not None:
            lib.sc_tdata_failover(failover_from, tdata[0])
        if first:
            self._drop_first()
            lib.pjsip_tx_data_add_ref(tdata[0])
            self._first = tdata[0]
        check(lib.pjsip_evsub_send_request(self._sub, tdata[0]), "sending the SUBSCRIBE")
        self._arm_deadline()

    def _on_deadline(self) -> None:
        """``timeout`` passed without a final response: the next server of the name, else
        the subscription ends, 408."""
        self._deadline = None
        if self._state != TERMINATED:
            if self._can_failover(408):
                sub, self._sub = self._sub, ffi.NULL
                lib.sc_evsub_abandon(sub)
                self._release_token()
                self._kick = self._ua.schedule(0, self._on_failover)
                return
            self._abandon()
            self._fire("ended", code=408, reason=TIMEOUT_REASON)

    def _can_failover(self, code: int) -> bool:
        """RFC 3263 4.3: a 503 or a timeout of the first SUBSCRIBE (nothing accepted yet) from
        one of the servers a name resolved to, and another server is left."""
        return (self._state == "SENT" and code in (408, 503) and self._first is not None
                and bool(lib.sc_tdata_can_failover(self._first)))

    def _on_failover(self) -> None:
        """The same SUBSCRIBE, in a new evsub (a new dialog: none was made), to the next
        server; nothing is notified until the last server tried answers."""
        self._kick = None
        old, self._first = self._first, None
        try:
            self._start(failover_from=old)
        except SIPCoreError as exc:
            self._fire("ended", code=503, reason=str(exc))
        finally:
            lib.pjsip_tx_data_dec_ref(old)

    def _drop_first(self) -> None:
        if self._first is not None:
            lib.pjsip_tx_data_dec_ref(self._first)
            self._first = None

    def on_client(self, kind: int, result: Any) -> None:
        if kind == lib.SC_CLIENT_EVSUB_NOTIFY:
            self._on_notify(result)
            return
        state = pj2s(result.state_name)
        data: dict[str, Any] = {}
        if result.code >= 200:
            data = {"code": result.code, "reason": pj2str(result.reason)}
            self._cancel_deadline()      # the final response came
        if result.state == lib.PJSIP_EVSUB_STATE_TERMINATED:
            self._cancel_deadline()
            self._sub = ffi.NULL         # PJSIP destroys it after this callback
            self._release_token()
            if self._can_failover(result.code):
                self._kick = self._ua.schedule(0, self._on_failover)    # (after that)
                return
        if result.state != lib.PJSIP_EVSUB_STATE_SENT:
            self._drop_first()           # answered (or ended): no failover from here on
        self._fire(_EVSUB_EVENTS.get(result.state, "evsub_null"), state, **data)

    def _on_notify(self, result: Any) -> None:
        info = ffi.new("sc_rdata_info_t *")
        lib.sc_rdata_info(result.rdata, info)
        if info.has_body and info.body_len > 0:
            signals.notify(signals.SIPSubscriptionGotNotify, self,
                           content_type=f"{pj2str(info.content_type)}/{pj2str(info.content_subtype)}",
                           body=ffi.unpack(info.body, info.body_len))

    def _abandon(self) -> None:
        self._cancel_deadline()
        self._ua.cancel(self._kick)
        self._kick = None
        self._drop_first()
        if self._sub != ffi.NULL:
            sub, self._sub = self._sub, ffi.NULL
            lib.sc_evsub_abandon(sub)
        self._release_token()

    def _end_on_wire(self) -> bool:
        """Engine.stop(): SUBSCRIBE with Expires: 0 (the server ends it with a NOTIFY)."""
        if self._state in (TERMINATED, "NULL", "SENT") or self._sub == ffi.NULL:
            return False        # (not accepted yet: nothing held on the server)
        try:
            self._send(0)
        except SIPCoreError as exc:
            self._end_error = str(exc)
            return True
        return True

    def _end_pending(self) -> bool:
        return self._state != TERMINATED and not getattr(self, "_end_error", None)

    def _end_failure(self) -> str | None:
        if getattr(self, "_end_error", None):
            return self._end_error
        return None if self._state == TERMINATED else "no final response in time"

    def _engine_stopping(self) -> None:
        self._abandon()
        if self._state != TERMINATED:
            self._fire("engine_stop")


def pj2s(cstr: Any) -> str:
    return ffi.string(cstr).decode("utf-8", "replace") if cstr != ffi.NULL else "NULL"
