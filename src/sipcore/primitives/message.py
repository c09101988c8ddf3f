"""MESSAGE (RFC 3428): send_message() and incoming MESSAGE requests.

An outgoing MESSAGE lives in C from start to end (``sc_msg_send`` in glue_clients.c: the
request, its client transaction, the answer to a 401/407 with the digest credentials -- twice
when the server says the nonce was stale -- and the optional timeout); Python hears of it
once, through the ``sc_py_on_message_final`` trampoline, and turns that into the single
``SIPEngineGotMessageResponse`` of each accepted ``send_message`` call: for the final
response, a transaction timeout (408), a transport error (503, with the transport's error in
``reason``), the optional ``timeout`` (408) or the Engine stopping (408, reason "Engine
stopped").  Incoming MESSAGEs are answered 200 in C (glue.c) before ``on_incoming`` runs;
with the Engine option ``message_answer="receiver"`` after it, with the code a receiver chose
(``respond`` in the notification's data, see :class:`_Answer`).
"""
from __future__ import annotations

import re
from typing import Any

from .. import _flat, _ua, signals
from .._pj import check, ffi, handles, lib, strerror
from .._validate import HEADER_NAME, check_content_type, check_int, check_timeout
from ..credentials import Credentials
from ..errors import InvalidStateError, MessagePendingError
from ..route import Route
from ..uri import SIPURI, _make, fields_of_flat

__all__ = ["send_message"]

#: content types already checked (check_content_type is a pure function of the text)
_CONTENT_TYPES: set[str] = set()


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
    if type(content_type) is not str or content_type not in _CONTENT_TYPES:
        check_content_type(content_type)
        if len(_CONTENT_TYPES) < 256:
            _CONTENT_TYPES.add(content_type)
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
    headers = _extra_headers(to_uri.headers) if to_uri.headers else _NULL
    from_, user, password = credentials._wire()
    route_hdr, route_snapshot = route._wire()
    dest = (target, from_, to, route_hdr, content_type, user)    # an sc_msg_request_t's
    ua = _ua.current
    if ua is not None and ua.running and ua.on_poll_thread():
        # in a receiver: at once
        _PendingMessage(ua, to_uri, key, route_snapshot).send(dest, body, headers, password,
                                                              timeout_ms)
        return
    # Any other thread: checked and reserved here (their errors raised here, as on the poll
    # thread), then handed to the poll thread without waiting for it (docs/threads.md).
    ua = _ua.running("send_message")
    ua.check_route(route_snapshot, False)
    pm = _PendingMessage(ua, to_uri, key, route_snapshot)
    ua.post_or_fail(pm.send_posted, dest, body, headers, password, timeout_ms,
                    on_fail=pm.abandon, first=pm.reserve)


def _extra_headers(headers: dict[str, str]) -> bytes:
    """A URI's ?headers as a headers list (sipcore.h) for sc_msg_send."""
    for name in headers:
        if not HEADER_NAME.match(name):
            raise ValueError(f"to_uri.headers: {name!r} is not a header name")
    return _flat.headers_list(headers)


def _request(dest: tuple[Any, ...], requests: dict[tuple[Any, ...], tuple[Any, ...]]) -> Any:
    """The ``sc_msg_request_t *`` for ``dest`` (send_message's), made on a miss of
    ``requests`` (the UA's scratch): the same struct serves every request to one destination
    from one sender, so its C strings are converted once.  The entry keeps what it points to."""
    target, from_, to, route_hdr, content_type, user = dest
    type_, subtype = content_type.encode().split(b"/")
    strings = [ffi.from_buffer(b) for b in (target, from_, to, route_hdr, type_, subtype, user)]
    # any_transport: a Route naming a host without port or transport (RFC 3263: its NAPTR
    # records choose the transport); every other Route carries ";transport=" (Route.uri)
    any_transport = int(b";transport=" not in route_hdr)
    entry = (ffi.new("sc_msg_request_t *", strings + [any_transport]), strings)   # (fields' order)
    if len(requests) >= 256:
        requests.clear()
    requests[dest] = entry
    return entry


_sc_msg_send = lib.sc_msg_send      # (looked up once: the hot paths below run per message)
_NULL = ffi.NULL


class _PendingMessage:
    """One MESSAGE from send_message() until its single notification."""

    __slots__ = ("to_uri", "key", "route", "token", "msg", "done", "ua")

    def __init__(self, ua: Any, to_uri: SIPURI, key: str, route: Route):
        self.ua = ua
        self.to_uri = to_uri
        self.key = key              # the Request-URI lower-cased: one pending MESSAGE per key
        self.route = route          # a snapshot (Route._wire)
        self.token: int | None = None
        self.msg = ffi.NULL         # the C side (sc_msg_t *) while it runs
        self.done = False

    def reserve(self) -> None:
        """Take the key in the UA's pending MESSAGEs (any thread: one atomic dict call), or
        MessagePendingError."""
        if self.ua.pending_messages.setdefault(self.key, self) is not self:
            raise MessagePendingError(self.to_uri)

    # -- on the poll thread --

    def send(self, dest: tuple[Any, ...], body: bytes, headers: Any, password: bytes | None,
             timeout_ms: int) -> None:
        """send_message() in a receiver: every error raised to the caller."""
        self.ua.check_route(self.route)
        if self.ua.pending_messages.setdefault(self.key, self) is not self:
            raise MessagePendingError(self.to_uri)
        self._send(dest, body, headers, password, timeout_ms)

    def send_posted(self, dest: tuple[Any, ...], body: bytes, headers: Any,
                    password: bytes | None, timeout_ms: int) -> None:
        """send_message() from another thread, checked and reserved there (reserve): nobody
        waits, so what fails now is the request's one notification, 503 "Not sent: <error>"."""
        if self.done:               # abandoned already: the Engine is stopping
            return
        # (sent even when the Engine is stopping: it was accepted before the stop began, as a
        # call that waited would have been; the stop then answers it 408 "Engine stopped")
        try:
            self.ua.check_route(self.route)         # (again: a transport may have stopped)
            self._send(dest, body, headers, password, timeout_ms)
        except Exception as exc:    # noqa: BLE001 - reported as the request's outcome
            if not self.done:
                self._report(503, f"Not sent: {exc}")

    def _send(self, dest: tuple[Any, ...], body: bytes, headers: Any, password: bytes | None,
              timeout_ms: int) -> None:
        ua = self.ua
        kind = self.route.transport
        listener = ua.transports[kind] if kind == "tcp" or kind == "tls" else _NULL
        scratch = ua.scratch
        try:
            req = (scratch.requests.get(dest) or _request(dest, scratch.requests))[0]
            self.token = token = handles.new(self)
        except BaseException:
            self._forget()
            raise
        out = scratch.msg_out
        status = _sc_msg_send(ua.endpt, token, listener, req, body, len(body), headers,
                              _NULL if password is None else password, timeout_ms, out)
        if status:                  # not PJ_SUCCESS: nothing was sent, nothing will be reported
            self._forget()
            check(status, "sending the MESSAGE request")
        if not self.done:           # (a transport error may have been reported already)
            self.msg = out[0]

    def abandon(self) -> None:
        """The Engine is stopping: end the request and tell the application."""
        if self.done:
            return
        msg, self.msg = self.msg, ffi.NULL
        lib.sc_msg_cancel(msg)
        self._report(408, "Engine stopped")

    def _forget(self) -> None:
        self.done = True
        if self.ua.pending_messages.get(self.key) is self:
            del self.ua.pending_messages[self.key]
        if self.token is not None:
            handles.release(self.token)
            self.token = None

    def _report(self, code: int, reason: str) -> None:
        """The request's one notification."""
        self._forget()
        signals.notify(signals.SIPEngineGotMessageResponse, self.ua.engine, to_uri=self.to_uri,
                       code=code, reason=reason)

    def finished(self, code: int, reason: Any, reason_len: int, transport_err: int) -> None:
        """The one report of the request (sc_py_on_message_final): its final response, a
        timeout (408) or a transport error (503).  The C side is gone; so is the token (the
        trampoline took it back: this was its last use)."""
        self.msg = _NULL
        self.token = None                   # (taken back already: _forget has none to release)
        if self.done:
            return
        text = ffi.unpack(reason, reason_len).decode("utf-8", "replace") if reason_len > 0 else ""
        if transport_err and (code == 408 or code == 503):
            error = strerror(transport_err)
            if error not in text:           # (PJSIP may have put it there already)
                text = f"{text} ({error})"
        self._report(code, text)


# ---- incoming MESSAGE ------------------------------------------------------------------------

def on_incoming(ua: Any, rdata: Any, flat: Any, used: int, to_len: int, from_len: int,
                ctype_len: int, body_len: int) -> None:
    """A MESSAGE outside any dialog (sc_py_on_message, with the running UA), already answered
    200 by the glue (sc_on_rx_request) unless ``message_answer`` is "receiver".  The glue
    wrote it in the incoming MESSAGE flat form (sipcore.h) into the UA's scratch buffer:
    ``used`` bytes at ``flat``, copied first.  NULL when it did not fit: then again, into a
    buffer that big."""
    if not signals.has_receivers(signals.SIPEngineGotMessage):
        return
    scratch = ua.scratch
    if not flat:
        lens = scratch.lens
        flat = scratch.grow(used)
        used = lib.sc_message_flat(rdata, flat, used, lens)
        to_len, from_len, ctype_len, body_len = lens
    to_uri, from_uri, content_type, body = decode(ffi.unpack(flat, used), to_len, from_len,
                                                  ctype_len, body_len, scratch.uris)
    if content_type is not None and ";" in content_type:
        # (only then: one more key in every notification's dicts cost 2k instructions)
        content_type, params = split_content_type(content_type)
        extra = {"content_type_parameters": params}
    else:
        extra = None
    if ua.options["message_answer"] != "receiver":
        if extra is None:
            signals.notify(signals.SIPEngineGotMessage, ua.engine, to_uri=to_uri,
                           from_uri=from_uri, content_type=content_type, body=body)
        else:
            signals.notify(signals.SIPEngineGotMessage, ua.engine, to_uri=to_uri,
                           from_uri=from_uri, content_type=content_type, body=body, **extra)
        return
    answer = _Answer()
    try:
        signals.notify(signals.SIPEngineGotMessage, ua.engine, to_uri=to_uri, from_uri=from_uri,
                       content_type=content_type, body=body, respond=answer.respond,
                       **(extra or {}))
    finally:
        answer.open = False
    lib.sc_message_answer_code(answer.code)


class _Answer:
    """The answer to one incoming MESSAGE with ``message_answer="receiver"``: its
    SIPEngineGotMessage carries ``respond(code)``, which a receiver calls (during its call, on
    the poll thread) to choose the final response's code (200-699; the last call wins; none:
    200).  The glue sends it once every receiver has returned."""

    __slots__ = ("code", "open")

    def __init__(self) -> None:
        self.code = 200
        self.open = True

    def respond(self, code: int) -> None:
        code = check_int("code", code, 200, 699)
        if not self.open:
            raise InvalidStateError("respond() of an incoming MESSAGE", "answered already "
                                    "(call it from the SIPEngineGotMessage receiver)")
        self.code = code


#: one ";name[=value]" of a Content-Type (a quoted-string may hold ";")
_PARAM = re.compile(r';\s*([^=;\s]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;]*))?')


def split_content_type(text: str) -> tuple[str, dict[str, str]]:
    """``"type/subtype;name=value;..."`` (the flat buffer's content type) -> ("type/subtype",
    {name: value}): names lower-cased (RFC 3261 §7.3.1: case-insensitive), a quoted value's
    quotes and backslash escapes undone, a parameter without a value -> ""."""
    head, sep, rest = text.partition(";")
    params: dict[str, str] = {}
    for m in _PARAM.finditer(sep + rest):
        name, value = m.group(1), (m.group(2) or "").strip()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name.lower()] = value
    return head.strip(), params


def decode(data: bytes, to_len: int, from_len: int, ctype_len: int, body_len: int,
           uris: dict[bytes, tuple[Any, ...]]
           ) -> tuple[SIPURI | None, SIPURI | None, str | None, bytes]:
    """The incoming MESSAGE flat buffer's decoder (sipcore.h): (to_uri, from_uri,
    content_type, body) as SIPEngineGotMessage gives them.  ``uris``: the UA's cache of
    decoded URIs (uri.fields_of_flat)."""
    pos = max(to_len, 0)
    flat = data[:pos]
    to_uri = None if to_len < 0 else _make(*(uris.get(flat) or fields_of_flat(flat, uris)))
    end = pos + max(from_len, 0)
    flat = data[pos:end]
    from_uri = None if from_len < 0 else _make(*(uris.get(flat) or fields_of_flat(flat, uris)))
    if ctype_len < 0:
        return to_uri, from_uri, None, b""
    raw = data[end:end + ctype_len]
    return (to_uri, from_uri, _CONTENT_TYPE_TEXT.get(raw) or raw.decode("utf-8", "replace"),
            data[end + ctype_len:end + ctype_len + body_len])


def encode(to: bytes | None, from_: bytes | None, content_type: str | None,
           body: bytes) -> tuple[bytes, int, int, int, int]:
    """The incoming MESSAGE flat buffer's encoder (what sc_message_flat writes; for the
    tests): (data, to_len, from_len, ctype_len, body_len).  ``to``/``from_``: URI flat forms,
    None for a URI that is not sip:/sips:; ``content_type`` None: no body."""
    ctype = b"" if content_type is None else content_type.encode()
    data = (to or b"") + (from_ or b"") + ctype + (body if content_type is not None else b"")
    return (data, -1 if to is None else len(to), -1 if from_ is None else len(from_),
            -1 if content_type is None else len(ctype),
            -1 if content_type is None else len(body))


#: the usual content types' text, so that they are not decoded again for every message
_CONTENT_TYPE_TEXT = {t.encode(): t for t in (
    "text/plain", "text/html", "application/im-iscomposing+xml", "message/cpim",
    "application/json", "application/xml")}
