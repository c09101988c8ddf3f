"""Publication: PUBLISH event state for an account (RFC 3903).

States: ``unpublished``, ``publishing``, ``published``, ``unpublishing``; queued like
Registration (the last call made during a transaction wins).  While published the object
refreshes before expiry with a body-less PUBLISH carrying the entity tag (SIP-If-Match);
``publish()`` while published replaces the content.  The refresh comes before the expiry the
server granted (the 2xx's Expires).  A 412 to a PUBLISH naming an entity tag (the server forgot
it) is answered by publishing the full content afresh, once.  After ``unpublished`` the PJSIP
publication is dropped, so a re-used object starts with no entity tag (the spec's known
bug, fixed).
"""
from __future__ import annotations

from typing import Any

from .. import signals
from .._pj import check, ffi, lib, strerror
from ._base import (RefreshingPrimitive, add_headers, check_body, check_content_type,
                    check_credentials, check_expires, check_headers, check_route,
                    result_code_reason)
from .registration import refresh_delay

__all__ = ["Publication"]

UNPUBLISHED, PUBLISHING, PUBLISHED, UNPUBLISHING = (
    "unpublished", "publishing", "published", "unpublishing")

TRANSITIONS = {
    (UNPUBLISHED, "send"): PUBLISHING,
    (PUBLISHED, "send"): PUBLISHING,            # refresh or new content
    (PUBLISHED, "send_unpublish"): UNPUBLISHING,
    (PUBLISHING, "ok"): PUBLISHED,
    (PUBLISHING, "fail"): UNPUBLISHED,
    (UNPUBLISHING, "ok"): UNPUBLISHED,
    (UNPUBLISHING, "fail"): UNPUBLISHED,
}


class Publication(RefreshingPrimitive):
    """``Publication(credentials, event, route, expires=300, extra_headers=None)``.

    Needs a running Engine.  ``publish(content_type, body)`` with content type as one
    "type/subtype" string (the spec's two arguments, joined as its note asks) and body as
    str (UTF-8) or bytes; ``unpublish()``.  ``expires`` may be changed at any time.
    Notifications: ``SIPPublicationChangedState`` (see sipcore.signals).
    """

    def __init__(self, credentials, event: str, route, expires: int = 300,
                 extra_headers: dict[str, str] | None = None):
        from .._options import check_event
        self._credentials = check_credentials(credentials)
        self._event, _ = check_event(event, ["x/x"])
        self._route = check_route(route)
        self._expires = check_expires(expires)
        self._extra_headers = check_headers(extra_headers)
        self._state = UNPUBLISHED
        self._wanted: tuple | None = None
        self._content: tuple[str, str, bytes] | None = None   # what is (being) published
        self._pubc = ffi.NULL
        self._timer = None
        self._attempt = self._answered = 0
        self._sending_body = False
        self._tagged = False         # the PJSIP publication holds an entity tag (had a 2xx)
        self._conditional = False    # the PUBLISH in progress carries SIP-If-Match
        self._bind()
        self._call("__init__", self._ua.check_route, self._route)

    state = property(lambda self: self._state, doc="unpublished, publishing, published or unpublishing")
    credentials = property(lambda self: self._credentials.copy(), doc="read-only")
    route = property(lambda self: self._route.copy(), doc="read-only")
    event = property(lambda self: self._event, doc="read-only")
    extra_headers = property(lambda self: dict(self._extra_headers), doc="read-only")

    def __repr__(self) -> str:
        return f"<Publication {self._event} {self._credentials.uri._addr_spec()} {self._state}>"

    def publish(self, content_type: str, body: str | bytes) -> None:
        """Publish (or replace) the content; queued behind a PUBLISH in progress."""
        ctype, subtype = check_content_type(content_type)
        data = check_body(body)
        self._call("publish", self._request, ("publish", ctype, subtype, data))

    def unpublish(self) -> None:
        """Remove the published content (Expires: 0); queued like publish()."""
        self._call("unpublish", self._request, ("unpublish",))

    # -- poll thread --

    def _set_state(self, event: str, **data: Any) -> None:
        self._state = TRANSITIONS[(self._state, event)]
        signals.notify(signals.SIPPublicationChangedState, self, state=self._state, **data)

    def _request(self, action: tuple) -> None:
        self._wanted = action
        self._advance()

    def _advance(self) -> None:
        if self._state in (PUBLISHING, UNPUBLISHING) or self._wanted is None:
            return
        if self._in_callback:
            self._defer_advance()   # PJSIP would refuse it inside its callback (PJ_EBUSY)
            return
        wanted, self._wanted = self._wanted, None
        if wanted[0] == "publish":
            self._content = wanted[1:]
            self._send("publish", with_body=True)
        elif wanted[0] == "unpublish" and self._state == PUBLISHED:
            self._send("unpublish")
        elif wanted[0] == "refresh" and self._state == PUBLISHED:
            self._send("publish", with_body=False)

    def _ensure_pubc(self) -> None:
        if self._pubc != ffi.NULL:
            return
        ua = self._ua
        aor = self._credentials.uri
        pubc = ffi.new("pjsip_publishc **")
        password = self._credentials.password
        check(lib.sc_publishc_create(
            ua.endpt, self._hold(), self._event.encode(), aor._name_addr().encode(),
            self._expires, self._route.uri().encode(), self._listener(self._route),
            (aor.user or "").encode(), password.encode() if password is not None else ffi.NULL,
            pubc), "creating the publication")
        self._pubc = pubc[0]
        self._tagged = False

    def _drop_pubc(self) -> None:
        if self._pubc != ffi.NULL:
            lib.pjsip_publishc_destroy(self._pubc)
            self._pubc = ffi.NULL

    def _send(self, what: str, with_body: bool = False) -> None:
        self._cancel_timer()
        self._cancel_kick()
        self._ensure_pubc()
        tdata = ffi.new("pjsip_tx_data **")
        if what == "unpublish":
            check(lib.pjsip_publishc_unpublish(self._pubc, tdata), "creating the un-PUBLISH")
        else:
            lib.pjsip_publishc_update_expires(self._pubc, self._expires)
            check(lib.pjsip_publishc_publish(self._pubc, 0, tdata), "creating the PUBLISH")
        try:
            if with_body and self._content is not None:
                ctype, subtype, body = self._content
                check(lib.sc_tdata_set_body(tdata[0], ctype.encode(), subtype.encode(), body,
                                            len(body)), "setting the PUBLISH body")
            add_headers(tdata[0], self._extra_headers)
            lib.sc_tdata_use_listener(tdata[0], self._listener(self._route))
        except BaseException:
            lib.pjsip_tx_data_dec_ref(tdata[0])
            raise
        self._attempt += 1
        attempt = self._attempt
        self._sending_body = with_body
        self._conditional = self._tagged
        if self._state != PUBLISHING:   # a 412 re-send stays in publishing
            self._set_state("send_unpublish" if what == "unpublish" else "send")
        status = lib.pjsip_publishc_send(self._pubc, tdata[0])
        if status != lib.PJ_SUCCESS and self._answered < attempt:
            self._answered = attempt
            self._finished(503, f"Service Unavailable ({strerror(status)})")

    def on_client(self, kind: int, result) -> None:
        if self._state not in (PUBLISHING, UNPUBLISHING) or self._answered >= self._attempt:
            return
        self._answered = self._attempt
        self._on_final_response(self._on_final, result)

    def _on_final(self, result) -> None:
        code, reason = result_code_reason(result)
        if (code == 412 and self._state == PUBLISHING and self._conditional
                and self._content is not None):
            # RFC 3903 section 4.1: the entity tag is unknown; publish the state afresh (once:
            # that PUBLISH names no entity tag, so a 412 to it ends the attempt)
            self._drop_pubc()
            self._send("publish", with_body=True)
            return
        self._finished(code, reason, int(result.expiration))

    def _finished(self, code: int, reason: str, expiration: int = 0) -> None:
        if 200 <= code < 300:
            self._set_state("ok", code=code, reason=reason)
            if self._state == PUBLISHED:
                self._tagged = True
                exp = expiration if 0 < expiration < 2**31 else self._expires
                self._timer = self._ua.schedule(refresh_delay(exp), self._on_refresh)
        else:
            self._set_state("fail", code=code, reason=reason)
        if self._state == UNPUBLISHED:
            self._drop_pubc()        # fresh entity tag next time
            self._release_token()    # nothing in C refers to this object any more
            self._content = None
        self._advance()

    def _on_refresh(self) -> None:
        self._timer = None
        if self._state == PUBLISHED and self._wanted is None:
            self._request(("refresh",))

    def _engine_stopping(self) -> None:
        self._cancel_timer()
        self._cancel_kick()
        self._drop_pubc()
        self._release_token()
        if self._state != UNPUBLISHED:
            self._state = UNPUBLISHED
            signals.notify(signals.SIPPublicationChangedState, self, state=UNPUBLISHED)
