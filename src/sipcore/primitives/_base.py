"""What every client primitive shares: binding to the running UA, the token C holds, the
Engine-stop hook, request helpers, and the checks of the value arguments they take (the
generic checks are _validate's, re-exported)."""
from __future__ import annotations

import threading
from typing import Any, Literal, overload

from .. import _reprs, _ua as ua_mod
from .._pj import check, ffi, handles, lib, pj2str, strerror
from .._validate import (  # re-exported: the primitives take them from here
    check_body as check_body,
    check_content_type as check_content_type,
    check_expires as check_expires,
    check_headers as check_headers,
    check_instance as check_instance,
    check_timeout as check_timeout,
)
from ..credentials import Credentials
from ..errors import EngineNotRunningError, InvalidStateError
from ..route import Route
from ..uri import _USER_SAFE, SIPURI, _escape


def check_credentials(value: Any) -> Credentials:
    """A private copy of value, a Credentials."""
    return check_instance("credentials", value, Credentials).copy()


def check_route(value: Any) -> Route:
    """A private copy of value, a Route."""
    return check_instance("route", value, Route).copy()


@overload
def check_sipuri(name: str, value: Any, allow_none: Literal[False] = False) -> SIPURI: ...
@overload
def check_sipuri(name: str, value: Any, allow_none: bool) -> SIPURI | None: ...
def check_sipuri(name: str, value: Any, allow_none: bool = False) -> SIPURI | None:
    """A private copy of value, a SIPURI (or None when ``allow_none``)."""
    uri = check_instance(name, value, SIPURI, allow_none=allow_none)
    return None if uri is None else uri.copy()


#: the reason of the 408 a request's ``timeout`` ends it with (as send_message's)
TIMEOUT_REASON = "Request Timeout (no final response within the timeout)"


def timeout_property(doc: str) -> property:
    """A settable ``timeout``: seconds in (0, 3600] as send_message's, or None."""
    def get(self: ClientPrimitive) -> float | None:
        return self._timeout

    def set_(self: ClientPrimitive, value: float | None) -> None:
        self._timeout = None if value is None else check_timeout(value, 3600,
                                                                 "a number of seconds")
    return property(get, set_, doc=doc)


def recent(obj: Any) -> str:
    """`` (A -> B -> C)``: the recent transitions of a primitive, for its repr."""
    p = _reprs.path(obj)
    return f" ({p})" if p else ""


class ClientPrimitive:
    """Base of Registration, Publication and Subscription.

    The object belongs to the Engine run it was created in; its PJSIP state lives on the
    poll thread.  While C may call back about it, it is kept in ``_pj.handles`` under
    ``self._token`` (so dropping the last reference mid-transaction is safe), and it is
    in ``ua.primitives`` so that ``Engine.stop()`` ends it cleanly.
    """

    _what = "primitive"
    _end_method = ""        # what leaving a ``with`` block calls (the subclass's end)
    _timeout: float | None = None   # seconds a request may wait for its final response
    _deadline: int | None = None   # the timer of that wait (fires the subclass's _on_deadline)
    _first: Any = None   # a first request sent (a reference), kept for RFC 3263 4.3 failover
    _ua: ua_mod.UA
    _token: int | None
    _lock: threading.RLock

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        """Leaving ``with Registration(...) as reg:`` unregisters (Publication: unpublishes,
        Subscription: unsubscribes, Invitation: disconnects); nothing when the object has
        ended already or its Engine run is over (the Engine ended everything then).  It does
        not wait for the answer: the notifications follow as usual."""
        try:
            getattr(self, self._end_method)()
        except InvalidStateError:
            ua = self._ua
            if ua_mod.current is ua and ua.running:
                raise

    def _bind(self) -> None:
        self._ua = ua_mod.running(type(self).__name__)
        self._token = None
        self._lock = threading.RLock()

    _html_fields = ("state", "credentials", "route", "expires", "contact_uri", "event",
                    "to_uri", "caller_uri", "callee_uri", "transport", "call_id")

    def _repr_html_(self) -> str:
        """Jupyter: the repr, the main attributes, and the recent transitions (time, from,
        to, the code or method that caused each)."""
        fields = []
        for name in self._html_fields:
            try:
                value = getattr(self, name)
            except Exception:
                continue
            if value is not None:
                fields.append((name, value.uri if name == "credentials" else value))
        return _reprs.primitive_html(self, fields)

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        return self._running_ua(what).call(fn, *args)

    def _running_ua(self, what: str) -> ua_mod.UA:
        """The object's UA, if it is the running one; else the error naming ``what``."""
        ua = self._ua
        if ua_mod.current is not ua or not ua.running:
            if ua.running or ua_mod.current is None:
                raise EngineNotRunningError(f"{type(self).__name__}.{what}()")
            raise InvalidStateError(f"{type(self).__name__}.{what}()",
                                    "belongs to an Engine run that has stopped")
        return ua

    # -- poll thread --

    def _hold(self) -> Any:
        if self._token is None:
            self._token = handles.new(self)
            self._ua.primitives.add(self)
        return self._token

    def _release_token(self) -> None:
        if self._token is not None:
            handles.release(self._token)
            self._token = None
        self._ua.primitives.discard(self)

    def _engine_stopping(self) -> None:  # overridden
        self._release_token()

    def _drop_first(self) -> None:
        """Let the first request kept for a failover go (Subscription, Invitation)."""
        if self._first is not None:
            lib.pjsip_tx_data_dec_ref(self._first)
            self._first = None

    def _arm_deadline(self) -> None:
        """A request was sent: with a ``timeout``, ``_on_deadline`` runs when it passes."""
        self._cancel_deadline()
        if self._timeout is not None:
            self._deadline = self._ua.schedule(self._timeout, self._on_deadline)

    def _cancel_deadline(self) -> None:
        self._ua.cancel(self._deadline)
        self._deadline = None

    def _on_deadline(self) -> None:  # overridden by the primitives with a timeout
        self._deadline = None

    # Engine.stop() ends on the server what a primitive holds there before it tears down:
    # _end_on_wire() sends the request that ends it (True: one was sent or queued), the UA
    # polls while _end_pending() and at most STOP_ENDING_SECONDS, then asks
    # _end_failure() why it was not ended (None: it was).  A primitive that holds nothing on
    # a server keeps these defaults.

    def _end_on_wire(self) -> bool:
        return False

    def _end_pending(self) -> bool:
        return False

    def _end_failure(self) -> str | None:
        return None

    def _local_contact(self, user: str | None, transport: str | None) -> str:
        ua = self._ua
        kind = transport or "udp"
        ip = ua.options["local_ip"]
        host = f"[{ip}]" if ":" in ip else ip
        userpart = f"{_escape(user, _USER_SAFE)}@" if user else ""
        return f"<sip:{userpart}{host}:{ua.ports[kind]};transport={kind}>"

    @staticmethod
    def _pins_udp(route: Route) -> bool:
        """The route says UDP (an address, or a name with a port or transport): its requests
        leave through the current UDP transport.  Not for a name alone, whose NAPTR records
        choose the transport (RFC 3263; the Route header then names none)."""
        return ";transport=udp" in route.uri()

    def _listener(self, route: Route) -> Any:
        kind = route.transport or "udp"
        return self._ua.transports[kind] if kind in ("tcp", "tls") else ffi.NULL


def add_headers(tdata: Any, headers: dict[str, str]) -> None:
    for name, value in headers.items():
        check(lib.sc_tdata_add_header(tdata, name.encode(), value.encode()),
              f"adding the {name} header")


def result_code_reason(result: Any) -> tuple[int, str]:
    """Code and reason of a client result; a PJSIP error without a response becomes 503/408."""
    code = result.code
    reason = pj2str(result.reason)
    if code <= 0:
        code = 503
        reason = f"Service Unavailable ({strerror(result.status)})"
    elif result.status != lib.PJ_SUCCESS and code in (408, 503):
        reason = f"{reason} ({strerror(result.status)})"
    return code, reason

