"""MESSAGE (RFC 3428): send_message() and incoming MESSAGE requests.

Each outgoing MESSAGE is a client transaction owned by a :class:`_PendingMessage`; the
transaction's final state (the ``sc_py_on_tsx_final`` trampoline) finds it through its
token.  Incoming MESSAGEs are answered 200 in C (glue.c) before ``on_incoming`` runs.  A 401/407 is answered once with the digest credentials (twice when the server says
the nonce was stale).  Exactly one ``SIPEngineGotMessageResponse`` is sent per accepted
``send_message`` call: for the final response, a transaction timeout (408), a transport
error (503, with the transport's error in ``reason``), the optional ``timeout`` (408) or the
Engine stopping (408, reason "Engine stopped").
"""
from __future__ import annotations

import re
from typing import Any

from .. import _ua, signals
from .._pj import check, ffi, handles, lib, pj2str, strerror
from ..credentials import Credentials
from ..errors import MessagePendingError, PJSIPError
from ..route import Route
from ..uri import SIPURI, from_info
from .. import engine as _engine

__all__ = ["send_message"]

_CONTENT_TYPE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


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
    if type(body) is str:
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
    if to_uri.headers:
        for name in to_uri.headers:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"to_uri.headers: {name!r} is not a header name")
    pm = _PendingMessage(credentials, to_uri, content_type, body, route, timeout)
    ua = _ua.current
    if ua is not None and ua.running and ua.on_poll_thread():
        pm.send()               # in a receiver: run at once
    else:
        _engine.Engine()._call("send_message", pm.send)


class _PendingMessage:
    """One MESSAGE from send() until its single notification.

    Everything it needs from the caller's (mutable) objects is turned into bytes here, once:
    later changes to them do not affect the request, and nothing is copied twice.
    """

    __slots__ = ("to_uri", "target", "from_", "to", "key", "route_hdr", "transport", "ctype",
                 "subtype", "body", "user", "password", "extra_headers", "timeout", "ua", "pool",
                 "tdata", "tsx", "auth", "token", "timer", "auth_tries", "done", "route")

    def __init__(self, credentials: Credentials, to_uri: SIPURI, content_type: str, body: bytes,
                 route: Route, timeout: float | None):
        self.to_uri = to_uri
        target = to_uri._request_uri()
        self.key = target.lower()
        self.target = target.encode()
        self.from_ = credentials.uri._name_addr().encode()
        self.to = to_uri._name_addr(spec=target).encode()
        self.extra_headers = [(k.encode(), v.encode()) for k, v in to_uri.headers.items()]
        self.route = route._snapshot()
        self.route_hdr = route.uri().encode()
        self.transport = route.transport
        ctype, subtype = content_type.split("/")
        self.ctype = ctype.encode()
        self.subtype = subtype.encode()
        self.body = body if type(body) is bytes else bytes(body)
        self.user = (credentials.uri.user or "").encode()
        self.password = credentials.password.encode() if credentials.password is not None else None
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
        ua = self.ua = _ua.current
        ua.check_route(self.route)
        if self.key in ua.pending_messages:
            raise MessagePendingError(self.to_uri)
        tdata = ffi.new("pjsip_tx_data **")
        check(lib.sc_request_create(ua.endpt, b"MESSAGE", self.target, self.from_, self.to,
                                    self.route_hdr, self.ctype, self.subtype, self.body,
                                    len(self.body), tdata), "creating the MESSAGE request")
        self.tdata = tdata[0]
        try:
            for name, value in self.extra_headers:
                check(lib.sc_tdata_add_header(self.tdata, name, value),
                      f"adding the {name.decode()} header from to_uri")
            if self.password is not None:
                self.pool = lib.pjsip_endpt_create_pool(ua.endpt, b"message", 512, 512)
                self.auth = lib.sc_auth_create(ua.endpt, self.pool, self.user, self.password)
                if self.auth == ffi.NULL:
                    raise PJSIPError("setting up digest authentication", -1, "failed")
        except BaseException:
            self._release()
            raise
        self.token = handles.new(self)
        ua.pending_messages[self.key] = self
        if self.timeout is not None:
            self.timer = ua.schedule(self.timeout, self._on_timeout)
        try:
            self._send_tsx(self.tdata)
        except PJSIPError:
            if self.done:       # the transaction already reported its final state
                return
            self._finish(None, None, notify=False)
            raise

    def _send_tsx(self, tdata) -> None:
        tsx = ffi.new("pjsip_transaction **")
        tsx[0] = ffi.NULL
        kind = self.transport
        listener = self.ua.transports[kind] if kind in ("tcp", "tls") else ffi.NULL
        status = lib.sc_tsx_send(tdata, listener, self.token, tsx)
        self.tsx = tsx[0]
        check(status, "sending the MESSAGE request")

    def on_tsx_final(self, tsx, rdata, code: int, reason: str, transport_err: int) -> None:
        """The transaction's final state (C reports it once and forgets the token)."""
        if self.done or tsx != self.tsx:
            return
        self.tsx = ffi.NULL
        if code in (401, 407) and self.auth != ffi.NULL and self.auth_tries < 2 and rdata != ffi.NULL:
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
        if transport_err and code in (408, 503):
            reason = f"{reason} ({strerror(transport_err)})"
        self._finish(code, reason)

    def _on_timeout(self) -> None:
        self.timer = None
        if self.done:
            return
        if self.tsx != ffi.NULL:
            tsx, self.tsx = self.tsx, ffi.NULL
            lib.sc_tsx_set_token(tsx, ffi.NULL)   # no report from C for this one
            lib.pjsip_tsx_terminate(tsx, 408)
        self._finish(408, "Request Timeout (no final response within the timeout)")

    def abandon(self) -> None:
        """The Engine is stopping: end the request and tell the application."""
        if self.done:
            return
        if self.tsx != ffi.NULL:
            tsx, self.tsx = self.tsx, ffi.NULL
            lib.sc_tsx_set_token(tsx, ffi.NULL)   # no report from C for this one
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

def on_incoming(ua, rdata) -> None:
    """A MESSAGE outside any dialog, already answered 200 by the glue (sc_on_rx_request)."""
    if not signals.has_receivers("SIPEngineGotMessage"):
        return
    info = ffi.new("sc_message_info_t *")
    lib.sc_message_info(rdata, info)
    if info.has_body:
        content_type = f"{pj2str(info.content_type)}/{pj2str(info.content_subtype)}"
        body = ffi.unpack(info.body, info.body_len) if info.body != ffi.NULL else b""
    else:
        content_type, body = None, b""
    signals.notify("SIPEngineGotMessage", ua.engine,
                   to_uri=from_info(ffi.addressof(info, "to_uri"), True) if info.to_ok else None,
                   from_uri=(from_info(ffi.addressof(info, "from_uri"), True) if info.from_ok
                             else None),
                   content_type=content_type, body=body)
