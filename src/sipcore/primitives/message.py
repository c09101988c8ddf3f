"""MESSAGE (RFC 3428): send_message() and incoming MESSAGE requests.

An outgoing MESSAGE lives in C from start to end (``sc_msg_send`` in glue_clients.c: the
request, its client transaction, the answer to a 401/407 with the digest credentials -- twice
when the server says the nonce was stale -- and the optional timeout); Python hears of it
once, through the ``sc_py_on_message_final`` trampoline, and turns that into the single
``SIPEngineGotMessageResponse`` of each accepted ``send_message`` call: for the final
response, a transaction timeout (408), a transport error (503, with the transport's error in
``reason``), the optional ``timeout`` (408) or the Engine stopping (408, reason "Engine
stopped").  Incoming MESSAGEs are answered 200 in C (glue.c) before ``on_incoming`` runs.
"""
from __future__ import annotations

from typing import Any

from .. import _ua, signals
from .._pj import check, ffi, handles, lib, pj2str, strerror
from ..credentials import Credentials
from ..errors import MessagePendingError
from ..route import Route
from ..uri import SIPURI, from_flat, from_info
from .._validate import HEADER_NAME, check_content_type, check_timeout

__all__ = ["send_message"]

#: "type/subtype" -> (type, subtype) as C strings, for content types already checked
_CONTENT_TYPES: dict[str, tuple[Any, Any]] = {}


def _content_type(content_type: Any) -> tuple[Any, Any]:
    """check_content_type(), as C strings, remembered for the next request with the same type."""
    parts = _CONTENT_TYPES.get(content_type) if type(content_type) is str else None
    if parts is None:
        ctype, subtype = check_content_type(content_type)
        parts = (_cstr(ctype.encode()), _cstr(subtype.encode()))
        if len(_CONTENT_TYPES) < 256:
            _CONTENT_TYPES[content_type] = parts
    return parts


#: bytes -> a ``char *`` cdata pointing into them, for sc_msg_request_t's fields: a struct
#: field takes no bytes, and ffi.from_buffer for every field cost a request more than the
#: rest of its Python side.  A request's strings mostly recur (a SIPURI, a Credentials and a
#: Route keep their encoded forms while unchanged), so they are converted once; not the body,
#: nor a password (not kept beyond its Credentials).  A bytes object ends with a NUL in
#: memory (CPython's bytes guarantee, which cffi itself relies on for ``char *`` arguments),
#: so C reads each one as a C string.  Emptied when full.
_CSTRS: dict[bytes, Any] = {}


def _cstr(value: bytes) -> Any:
    """The cdata for value, made and remembered on a miss of ``_CSTRS.get``."""
    if len(_CSTRS) >= 1024:
        _CSTRS.clear()
    c = _CSTRS[value] = ffi.from_buffer(value)
    return c


def send_message(credentials: Credentials, to_uri: SIPURI, content_type: str,
                 body: str | bytes, route: Route, timeout: float | None = None) -> None:
    """Send a MESSAGE request with ``body`` to ``to_uri`` through ``route``.

    ``content_type`` is one "type/subtype" string (the spec had two arguments; its own note
    asks for one).  ``body`` is str (sent as UTF-8) or bytes.  ``timeout`` (seconds, an
    extension) ends the request with 408 if no final response came by then; otherwise
    PJSIP's Timer F (32 s) does.  The final response arrives as
    ``SIPEngineGotMessageResponse(to_uri, code, reason)``.  Raises ``MessagePendingError``
    while an earlier MESSAGE to the same URI is unanswered.  A request larger than PJSIP's
    packet limit (``PJSIP_MAX_PKT_LEN``, 4000 bytes encoded) ends with 503 "Message too long"
    (on any transport: the limit is pjproject's).
    """
    # The checks of the per-message arguments are written out here rather than called from
    # _validate (whose check_instance/check_body say the same): a call each would cost every
    # MESSAGE more than the checks themselves.
    if not isinstance(credentials, Credentials):
        raise TypeError(f"credentials must be a Credentials, not {type(credentials).__name__}")
    if not isinstance(to_uri, SIPURI):
        raise TypeError(f"to_uri must be a SIPURI, not {type(to_uri).__name__}")
    ctype = _content_type(content_type)
    if type(body) is str:
        body = body.encode()
    elif not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError(f"body must be str or bytes, not {type(body).__name__}")
    else:
        body = bytes(body)
    if not isinstance(route, Route):
        raise TypeError(f"route must be a Route, not {type(route).__name__}")
    timeout_ms = 0 if timeout is None else max(
        1, round(check_timeout(timeout, 3600, "a number of seconds") * 1000))
    # Everything the request needs from the caller's (mutable) objects, as bytes, now: later
    # changes to them do not affect it (SIPURI, Credentials and Route keep their encoded forms
    # while unchanged, so sending to one URI again and again encodes nothing).
    target, to, key = to_uri._wire()
    headers = _extra_headers(to_uri.headers) if to_uri.headers else ffi.NULL
    from_, user, password = credentials._wire()
    route_hdr, route_snapshot = route._wire()
    # an sc_msg_request_t, in the order of its fields (sipcore.h); the tuple keeps every
    # cdata it points to alive until the request is sent
    c = _CSTRS.get
    args = (c(target) or _cstr(target), c(from_) or _cstr(from_), c(to) or _cstr(to),
            c(route_hdr) or _cstr(route_hdr),
            headers if headers is _NULL else _from_buffer(headers), ctype[0], ctype[1],
            _from_buffer(body), len(body), c(user) or _cstr(user),
            _NULL if password is None else _from_buffer(password), timeout_ms)
    pm = _PendingMessage(to_uri, key, route_snapshot)
    ua = _ua.current
    if ua is not None and ua.running and ua.on_poll_thread():
        pm.send(args, ua)       # in a receiver, on the poll thread: run at once
    else:
        ua = _ua.running("send_message")
        ua.call(pm.send, args, ua)


def _extra_headers(headers: dict[str, str]) -> bytes:
    """A URI's ?headers as a headers list (sipcore.h) for sc_msg_request_t.headers."""
    for name in headers:
        if not HEADER_NAME.match(name):
            raise ValueError(f"to_uri.headers: {name!r} is not a header name")
    return b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in headers.items())


#: sc_msg_send's request and out-parameter (the C handle of the new request): one for all,
#: since every request is sent on the poll thread, which fills the one and reads the other
#: right around the call
_REQ = ffi.new("sc_msg_request_t *")
_OUT = ffi.new("sc_msg_t **")
_sc_msg_send = lib.sc_msg_send      # (looked up once: the hot paths below run per message)
_from_buffer = ffi.from_buffer
_NULL = ffi.NULL


class _PendingMessage:
    """One MESSAGE from send() until its single notification."""

    __slots__ = ("to_uri", "key", "route", "token", "msg", "done", "ua")

    def __init__(self, to_uri: SIPURI, key: str, route: Route):
        self.to_uri = to_uri
        self.key = key              # the Request-URI lower-cased: one pending MESSAGE per key
        self.route = route          # a snapshot (Route._wire)
        self.token = None
        self.msg = ffi.NULL         # the C side (sc_msg_t *) while it runs
        self.done = False

    # -- on the poll thread --

    def send(self, args: tuple, ua: Any) -> None:
        self.ua = ua
        route = self.route
        ua.check_route(route)
        pending = ua.pending_messages
        if self.key in pending:
            raise MessagePendingError(self.to_uri)
        kind = route.transport
        listener = ua.transports[kind] if kind == "tcp" or kind == "tls" else _NULL
        self.token = token = handles.new(self)
        pending[self.key] = self
        _REQ[0] = args
        status = _sc_msg_send(ua.endpt, token, listener, _REQ, _OUT)
        if status:                  # not PJ_SUCCESS: nothing was sent, nothing will be reported
            self._forget()
            check(status, "sending the MESSAGE request")
        if not self.done:           # (a transport error may have been reported already)
            self.msg = _OUT[0]

    def abandon(self) -> None:
        """The Engine is stopping: end the request and tell the application."""
        if self.done:
            return
        msg, self.msg = self.msg, ffi.NULL
        lib.sc_msg_cancel(msg)
        self._forget()
        signals.notify(signals.SIPEngineGotMessageResponse, self.ua.engine, to_uri=self.to_uri,
                       code=408, reason="Engine stopped")

    def _forget(self) -> None:
        self.done = True
        if self.ua.pending_messages.get(self.key) is self:
            del self.ua.pending_messages[self.key]
        if self.token is not None:
            handles.release(self.token)
            self.token = None


    def finished(self, code: int, reason: Any, reason_len: int, transport_err: int) -> None:
        """The one report of the request (sc_py_on_message_final): its final response, a
        timeout (408) or a transport error (503).  The C side is gone; so is the token (the
        trampoline took it back: this was its last use)."""
        self.msg = _NULL
        self.token = None                   # (taken back already: _forget has none to release)
        if self.done:
            return
        self._forget()
        text = ffi.unpack(reason, reason_len).decode("utf-8", "replace") if reason_len > 0 else ""
        if transport_err and (code == 408 or code == 503):
            error = strerror(transport_err)
            if error not in text:           # (PJSIP may have put it there already)
                text = f"{text} ({error})"
        signals.notify(signals.SIPEngineGotMessageResponse, self.ua.engine, to_uri=self.to_uri,
                       code=code, reason=text)


# ---- incoming MESSAGE ------------------------------------------------------------------------

def on_incoming(ua: Any, rdata: Any, flat: Any, used: int, to_len: int, from_len: int,
                ctype_len: int, body_len: int) -> None:
    """A MESSAGE outside any dialog (sc_py_on_message, with the running UA), already answered
    200 by the glue (sc_on_rx_request), which also flattened it (sc_message_flat: To, From,
    content type and body in one buffer, ``used`` bytes, -1 when it could not; a URI length of
    -2: not a sip:/sips: URI).  The buffer is the poll thread's and is copied first.  URIs
    seen before are not decoded again (uri.from_flat)."""
    if not signals.has_receivers(signals.SIPEngineGotMessage):
        return
    if used < 0:
        _on_incoming_slow(ua, rdata)
        return
    data = ffi.unpack(flat, used)
    to_uri = from_flat(data[:to_len], True) if to_len >= 0 else None
    pos = max(to_len, 0)
    from_uri = from_flat(data[pos:pos + from_len], True) if from_len >= 0 else None
    pos += max(from_len, 0)
    if ctype_len >= 0:
        raw = data[pos:pos + ctype_len]
        content_type = _CONTENT_TYPE_TEXT.get(raw) or raw.decode("utf-8", "replace")
        body = data[pos + ctype_len:pos + ctype_len + body_len]
    else:
        content_type, body = None, b""
    signals.notify(signals.SIPEngineGotMessage, ua.engine, to_uri=to_uri, from_uri=from_uri,
                   content_type=content_type, body=body)


#: the usual content types' text, so that they are not decoded again for every message
_CONTENT_TYPE_TEXT = {t.encode(): t for t in (
    "text/plain", "text/html", "application/im-iscomposing+xml", "message/cpim",
    "application/json", "application/xml")}


def _on_incoming_slow(ua, rdata) -> None:
    """on_incoming when sc_message_flat cannot serve: URIs it cannot flatten (a NUL byte),
    or URIs, content type and body together larger than its buffer."""
    info = ffi.new("sc_message_info_t *")
    lib.sc_message_info(rdata, info)
    if info.has_body:
        content_type = f"{pj2str(info.content_type)}/{pj2str(info.content_subtype)}"
        body = ffi.unpack(info.body, info.body_len) if info.body != ffi.NULL else b""
    else:
        content_type, body = None, b""
    signals.notify(signals.SIPEngineGotMessage, ua.engine,
                   to_uri=from_info(ffi.addressof(info, "to_uri"), True) if info.to_ok else None,
                   from_uri=(from_info(ffi.addressof(info, "from_uri"), True) if info.from_ok
                             else None),
                   content_type=content_type, body=body)
