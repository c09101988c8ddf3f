"""Registration: REGISTER for an account at its registrar (RFC 3261 section 10).

States: ``unregistered``, ``registering``, ``registered``, ``unregistering``.  The state
machine is queued: ``register()`` or ``unregister()`` during a transaction takes effect after
its final response (the last call wins), sent right after every receiver has seen that
response's notification.  While registered the object refreshes on its own
before the registration expires (half-way for short expiries, 10 s ahead otherwise),
passing through ``registering`` again, using the current ``expires``.  A failed REGISTER
(including a refresh) ends in ``unregistered`` with the response's code.

The machine (the queue, the refresh timer, the rows) is shared with Publication:
``_refreshing.RefreshingPrimitive`` and ``_states.REGISTRATION``; this module says how a request
is made and what a response carries.
"""
from __future__ import annotations

from typing import Any

from .. import signals
from .._pj import check, ffi, lib
from ..credentials import Credentials
from ..route import Route
from ..uri import SIPURI
from ._base import (
    add_headers,
    check_credentials,
    check_expires,
    check_headers,
    check_route,
    check_sipuri,
    recent,
    result_code_reason,
)
from ._refreshing import RefreshingPrimitive
from ._states import REGISTRATION

__all__ = ["Registration"]

UNREGISTERED, REGISTERING, REGISTERED, UNREGISTERING = (
    "unregistered", "registering", "registered", "unregistering")


class Registration(RefreshingPrimitive):
    """``Registration(credentials, route, expires=300, contact_uri=None, extra_headers=None,
    timeout=None)``.

    Needs a running Engine.  ``credentials.uri`` is the account (From/To); the registrar
    is its host.  ``contact_uri`` (a SIPURI) defaults to this endpoint's address on the
    route's transport.  ``expires`` may be changed at any time: the next REGISTER uses it.
    ``timeout`` (seconds, an extension like send_message's; settable): a REGISTER without a
    final response by then ends with 408 and ``unregistered``.
    Notifications: ``SIPRegistrationChangedState`` (see sipcore.signals).
    """

    _end_method = "unregister"

    _table = REGISTRATION
    _states = (UNREGISTERED, REGISTERING, REGISTERED, UNREGISTERING)

    def __init__(self, credentials: Credentials, route: Route, expires: int = 300,
                 contact_uri: SIPURI | None = None,
                 extra_headers: dict[str, str] | None = None, timeout: float | None = None):
        self._credentials = check_credentials(credentials)
        self.timeout = timeout
        self._route = check_route(route)
        self._expires = check_expires(expires)
        contact = check_sipuri("contact_uri", contact_uri, allow_none=True)
        self._extra_headers = check_headers(extra_headers)
        self._state = UNREGISTERED
        self.expires_received: int | None = None
        self._regc = ffi.NULL
        self._bind()
        self._call("__init__", self._create, contact)

    # -- attributes --

    state = property(lambda self: self._state,
                     doc="unregistered, registering, registered or unregistering")
    credentials = property(lambda self: self._credentials.copy(), doc="read-only")
    route = property(lambda self: self._route.copy(), doc="read-only")
    extra_headers = property(lambda self: dict(self._extra_headers), doc="read-only")
    contact_uri = property(lambda self: self._contact, doc="the Contact registered (str)")

    def __repr__(self) -> str:
        return f"<Registration {self._credentials.uri._addr_spec()} {self._state}{recent(self)}>"

    # -- methods --

    def register(self) -> None:
        """Register (or re-register now); queued behind a REGISTER in progress."""
        self._call("register", self._request, "send")

    def unregister(self) -> None:
        """Remove the binding (Expires: 0); queued behind a REGISTER in progress."""
        self._call("unregister", self._request, "send_end")

    # -- poll thread --

    def _create(self, contact: SIPURI | None) -> None:
        self._ua.check_route(self._route)
        aor = self._credentials.uri
        self._contact = (contact._name_addr() if contact is not None
                         else self._local_contact(aor.user, self._route.transport))

    def _ensure_regc(self) -> None:
        """The PJSIP registration exists from the first REGISTER until unregistered."""
        if self._regc != ffi.NULL:
            return
        ua = self._ua
        aor = self._credentials.uri
        registrar = SIPURI(aor.host, port=aor.port, secure=aor.secure)._addr_spec()
        regc = ffi.new("pjsip_regc **")
        password = self._credentials.password
        check(lib.sc_regc_create(
            ua.endpt, self._hold(), registrar.encode(), aor._name_addr().encode(),
            self._contact.encode(), self._expires, self._route.uri().encode(),
            self._listener(self._route), (aor.user or "").encode(),
            password.encode() if password is not None else ffi.NULL, regc),
            "creating the registration")
        self._regc = regc[0]

    def _changed(self, **data: Any) -> None:
        signals.notify(signals.SIPRegistrationChangedState, self, state=self._state, **data)

    def _create_request(self, event: str, payload: Any) -> Any:
        self._ensure_regc()
        if self._pins_udp(self._route):
            lib.sc_regc_use_udp(self._regc)     # the UDP transport of now (a port may change)
        tdata = ffi.new("pjsip_tx_data **")
        if event == "send_end":
            check(lib.pjsip_regc_unregister(self._regc, tdata), "creating the un-REGISTER")
        else:
            lib.pjsip_regc_update_expires(self._regc, self._expires)
            check(lib.pjsip_regc_register(self._regc, 0, tdata), "creating the REGISTER")
            lib.sc_tdata_set_expires(tdata[0], self._expires)   # every REGISTER says it
        try:
            add_headers(tdata[0], self._extra_headers)
        except BaseException:
            lib.pjsip_tx_data_dec_ref(tdata[0])
            raise
        return tdata[0]

    def _send_request(self, tdata: Any) -> int:
        status: int = lib.pjsip_regc_send(self._regc, tdata)
        return status

    def _on_response(self, result: Any) -> None:
        code, reason = result_code_reason(result)
        if 200 <= code < 300 and self._state == REGISTERING:
            buf = ffi.new("char[]", 1024)
            contacts = []
            for i in range(result.contact_cnt):
                n = lib.sc_contact_uri(result.contacts, i, buf, 1024)
                if n:
                    contacts.append(ffi.string(buf, n).decode("utf-8", "replace"))
            self.expires_received = (int(result.expiration) if result.expiration < 2**31
                                     else self._expires)
            self._finished(code, reason, self.expires_received, contact_uri=self._contact,
                           expires=self.expires_received, contact_uri_list=contacts)
        else:
            self._finished(code, reason)

    def _finished(self, code: int, reason: str, granted: int | None = None, **data: Any) -> None:
        if self._state != REGISTERING or not 200 <= code < 300:
            self.expires_received = None    # only a registration has an expiry
        super()._finished(code, reason, granted, **data)

    def _drop_regc(self) -> None:
        if self._regc != ffi.NULL:
            lib.pjsip_regc_destroy(self._regc)
            self._regc = ffi.NULL
        self._release_token()

    _ended = _drop_regc
