"""MESSAGE (RFC 3428): send_message() and incoming MESSAGE requests.

Each outgoing MESSAGE is a client transaction owned by a :class:`_PendingMessage`; the
transaction's state callback (the ``sc_py_on_tsx_state`` trampoline) finds it through its
token.  A 401/407 is answered once with the digest credentials (twice when the server says
the nonce was stale).  Exactly one ``SIPEngineGotMessageResponse`` is sent per accepted
``send_message`` call: for the final response, a transaction timeout (408), a transport
error (503, with the transport's error in ``reason``), the optional ``timeout`` (408) or the
Engine stopping (408, reason "Engine stopped").
"""
from __future__ import annotations

import re
from typing import Any

from .. import signals
from .._pj import check, ffi, handles, lib, pj2str, pjstr, strerror
from ..credentials import Credentials
from ..errors import MessagePendingError, PJSIPError
from ..route import Route
from ..uri import SIPURI, from_pj

__all__ = ["send_message"]

_CONTENT_TYPE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
TSX_COMPLETED = lib.PJSIP_TSX_STATE_COMPLETED


def send_message(credentials: Credentials, to_uri: SIPURI, content_type: str,
                 body: str | bytes, route: Route, timeout: float | None = None) -> None:
    """Send a MESSAGE request with ``body`` to ``to_uri`` through ``route``.

    ``content_type`` is one "type/subtype" string (the spec had two arguments; its own note
    asks for one).  ``body`` is str (sent as UTF-8) or bytes.  ``timeout`` (seconds, an
    extension) ends the request with 408 if no final response came by then; otherwise
    PJSIP's Timer F (32 s) does.  The final response arrives as
    ``SIPEngineGotMessageResponse(to_uri, code, reason)``.  Raises ``MessagePendingError``
    while an earlier MESSAGE to the same URI is unanswered.
    """
    if not isinstance(credentials, Credentials):
        raise TypeError(f"credentials must be a Credentials, not {type(credentials).__name__}")
    if not isinstance(to_uri, SIPURI):
        raise TypeError(f"to_uri must be a SIPURI, not {type(to_uri).__name__}")
    if not isinstance(content_type, str):
        raise TypeError(f"content_type must be a 'type/subtype' str, not {type(content_type).__name__}")
    if not _CONTENT_TYPE.match(content_type):
        raise ValueError(f"content_type must be 'type/subtype', not {content_type!r}")
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError(f"body must be str or bytes, not {type(body).__name__}")
    if not isinstance(route, Route):
        raise TypeError(f"route must be a Route, not {type(route).__name__}")
    if timeout is not None:
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
            raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
        if not 0 < timeout <= 3600:
            raise ValueError(f"timeout must be in (0, 3600] seconds, not {timeout}")
    for name in to_uri.headers:
        if not _HEADER_NAME.match(name):
            raise ValueError(f"to_uri.headers: {name!r} is not a header name")
    from ..engine import Engine
    pm = _PendingMessage(credentials.copy(), to_uri, content_type, bytes(body), route.copy(), timeout)
    Engine()._call("send_message", pm.send)


def _key(uri: SIPURI) -> str:
    return uri._request_uri().lower()


class _PendingMessage:
    """One MESSAGE from send() until its single notification."""

    def __init__(self, credentials: Credentials, to_uri: SIPURI, content_type: str, body: bytes,
                 route: Route, timeout: float | None):
        self.credentials = credentials
        self.to_uri = to_uri
        self.content_type = content_type
        self.body = body
        self.route = route
        self.timeout = timeout
        self.ua: Any = None
        self.pool = ffi.NULL
        self.tdata = ffi.NULL      # our reference to the request, for re-sending with auth
        self.tsx = ffi.NULL
        self.auth = ffi.NULL
        self.token = None
        self.timer = None
        self.auth_tries = 0
        self.done = False

    # -- on the poll thread --

    def send(self) -> None:
        from .. import _ua
        ua = self.ua = _ua.current
        ua.check_route(self.route)
        key = _key(self.to_uri)
        if key in ua.pending_messages:
            raise MessagePendingError(self.to_uri)
        keep: list = []
        method = ffi.new("pjsip_method *")
        method.id = lib.PJSIP_OTHER_METHOD
        method.name = pjstr("MESSAGE", keep)[0]
        tdata = ffi.new("pjsip_tx_data **")
        check(lib.pjsip_endpt_create_request(
            ua.endpt, method, pjstr(self.to_uri._request_uri(), keep),
            pjstr(self.credentials.uri._name_addr(), keep),
            pjstr(SIPURI(self.to_uri.host, self.to_uri.user, self.to_uri.port, self.to_uri.display,
                         self.to_uri.secure, self.to_uri.parameters)._name_addr(), keep),
            ffi.NULL, ffi.NULL, -1, ffi.NULL, tdata), "creating the MESSAGE request")
        self.tdata = tdata[0]
        try:
            check(lib.sc_tdata_add_header(self.tdata, b"Route", self.route.uri().encode()),
                  "adding the Route header")
            for name, value in self.to_uri.headers.items():
                check(lib.sc_tdata_add_header(self.tdata, name.encode(), value.encode()),
                      f"adding the {name} header from to_uri")
            ctype, subtype = self.content_type.split("/")
            check(lib.sc_tdata_set_body(self.tdata, ctype.encode(), subtype.encode(),
                                        self.body, len(self.body)), "setting the body")
            self.pool = lib.pjsip_endpt_create_pool(ua.endpt, b"message", 1024, 1024)
            if self.credentials.password is not None:
                self.auth = lib.sc_auth_create(ua.endpt, self.pool,
                                               (self.credentials.uri.user or "").encode(),
                                               self.credentials.password.encode())
                if self.auth == ffi.NULL:
                    raise PJSIPError("setting up digest authentication", -1, "failed")
        except BaseException:
            self._release()
            raise
        self.token = handles.new(self)
        ua.pending_messages[key] = self
        self.key = key
        if self.timeout is not None:
            self.timer = ua.schedule(self.pool, self.timeout, self._on_timeout)
        try:
            self._send_tsx(self.tdata)
        except PJSIPError:
            if self.done:       # the transaction already reported its final state
                return
            self._finish(None, None, notify=False)
            raise

    def _send_tsx(self, tdata) -> None:
        tsx = ffi.new("pjsip_transaction **")
        check(lib.pjsip_tsx_create_uac(lib.sc_app_module(), tdata, tsx),
              "creating the MESSAGE transaction")
        self.tsx = tsx[0]
        lib.sc_tsx_set_token(self.tsx, self.token)
        if self.route.transport in ("tcp", "tls"):
            lib.sc_tsx_use_listener(self.tsx, self.ua.transports[self.route.transport])
        lib.pjsip_tx_data_add_ref(tdata)   # consumed by a successful send; ours stays
        status = lib.pjsip_tsx_send_msg(self.tsx, ffi.NULL)
        if status != lib.PJ_SUCCESS:
            lib.pjsip_tx_data_dec_ref(tdata)
            check(status, "sending the MESSAGE request")

    def on_tsx_state(self, tsx, event) -> None:
        if self.done or tsx != self.tsx:
            return
        info = ffi.new("sc_tsx_info_t *")
        lib.sc_tsx_info(tsx, info)
        if info.state < TSX_COMPLETED or info.status_code < 200:
            return
        lib.sc_tsx_set_token(tsx, ffi.NULL)   # nothing more from this transaction
        self.tsx = ffi.NULL
        code = info.status_code
        reason = pj2str(info.status_text)
        if code in (401, 407) and self.auth != ffi.NULL and self.auth_tries < 2:
            rdata = lib.sc_event_rdata(event)
            if rdata != ffi.NULL:
                new = ffi.new("pjsip_tx_data **")
                if lib.pjsip_auth_clt_reinit_req(self.auth, rdata, self.tdata, new) == lib.PJ_SUCCESS:
                    self.auth_tries += 1
                    lib.pjsip_tx_data_dec_ref(self.tdata)
                    self.tdata = new[0]
                    try:
                        self._send_tsx(self.tdata)
                        return
                    except PJSIPError as exc:
                        if self.done:
                            return
                        code, reason = 503, f"Service Unavailable ({exc.message})"
        if info.transport_err and code in (408, 503):
            reason = f"{reason} ({strerror(info.transport_err)})"
        self._finish(code, reason)

    def _on_timeout(self) -> None:
        self.timer = None
        if self.done:
            return
        if self.tsx != ffi.NULL:
            tsx, self.tsx = self.tsx, ffi.NULL
            lib.sc_tsx_set_token(tsx, ffi.NULL)
            lib.pjsip_tsx_terminate(tsx, 408)
        self._finish(408, "Request Timeout (no final response within the timeout)")

    def abandon(self) -> None:
        """The Engine is stopping: end the request and tell the application."""
        if self.done:
            return
        if self.tsx != ffi.NULL:
            tsx, self.tsx = self.tsx, ffi.NULL
            lib.sc_tsx_set_token(tsx, ffi.NULL)
            lib.pjsip_tsx_terminate(tsx, 408)
        self._finish(408, "Engine stopped")

    def _finish(self, code: int | None, reason: str | None, notify: bool = True) -> None:
        if self.done:
            return
        self.done = True
        ua = self.ua
        if ua.pending_messages.get(self.key) is self:
            del ua.pending_messages[self.key]
        self._release()
        if notify:
            signals.notify("SIPEngineGotMessageResponse", ua.engine, to_uri=self.to_uri,
                           code=code, reason=reason)

    def _release(self) -> None:
        ua = self.ua
        if self.timer is not None:
            ua.cancel(self.timer)
            self.timer = None
        if self.token is not None:
            handles.release(self.token)
            self.token = None
        if self.tdata != ffi.NULL:
            lib.pjsip_tx_data_dec_ref(self.tdata)
            self.tdata = ffi.NULL
        if self.pool != ffi.NULL and ua.endpt != ffi.NULL:
            lib.pjsip_endpt_release_pool(ua.endpt, self.pool)
            self.pool = ffi.NULL


# ---- incoming MESSAGE ------------------------------------------------------------------------

def _on_incoming(ua, rdata, info) -> bool:
    lib.pjsip_endpt_respond(ua.endpt, ffi.NULL, rdata, 200, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL)
    if info.has_body:
        content_type = f"{pj2str(info.content_type)}/{pj2str(info.content_subtype)}"
        body = ffi.unpack(info.body, info.body_len) if info.body != ffi.NULL else b""
    else:
        content_type, body = None, b""
    signals.notify("SIPEngineGotMessage", ua.engine, to_uri=from_pj(info.to_uri),
                   from_uri=from_pj(info.from_uri), content_type=content_type, body=body)
    return True


def install(ua) -> None:
    ua.request_handlers["MESSAGE"] = lambda rdata, info: _on_incoming(ua, rdata, info)

