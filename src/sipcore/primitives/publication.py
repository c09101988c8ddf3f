"""Publication: PUBLISH event state for an account (RFC 3903).

States: ``unpublished``, ``publishing``, ``published``, ``unpublishing``; queued like
Registration (the last call made during a transaction wins).  While published the object
refreshes before expiry with a body-less PUBLISH carrying the entity tag (SIP-If-Match);
``publish()`` while published replaces the content.  The refresh comes before the expiry the
server granted (the 2xx's Expires).  A 412 to a PUBLISH naming an entity tag (the server forgot
it) is answered by publishing the full content afresh, once.  After ``unpublished`` the PJSIP
publication is dropped, so a re-used object starts with no entity tag (the spec's known
bug, fixed).

The machine (the queue, the refresh timer, the rows) is shared with Registration:
``_refreshing.RefreshingPrimitive`` and ``_states.PUBLICATION``; this module says how a request
is made and what a response carries.
"""
from __future__ import annotations

from typing import Any

from .. import signals
from .._pj import check, ffi, lib
from ..credentials import Credentials
from ..route import Route
from ._base import (
    add_headers,
    check_body,
    check_content_type,
    check_credentials,
    check_expires,
    check_headers,
    check_route,
    recent,
    result_code_reason,
)
from ._refreshing import RefreshingPrimitive
from ._states import PUBLICATION

__all__ = ["Publication"]

UNPUBLISHED, PUBLISHING, PUBLISHED, UNPUBLISHING = (
    "unpublished", "publishing", "published", "unpublishing")


class Publication(RefreshingPrimitive):
    """``Publication(credentials, event, route, expires=300, extra_headers=None, timeout=None)``.

    Needs a running Engine.  ``publish(content_type, body)`` with content type as one
    "type/subtype" string (the spec's two arguments, joined as its note asks) and body as
    str (UTF-8) or bytes; ``unpublish()``.  ``expires`` may be changed at any time.
    ``timeout`` (seconds, an extension like send_message's; settable): a PUBLISH without a
    final response by then ends with 408 and ``unpublished``.  Notifications:
    ``SIPPublicationChangedState`` (see sipcore.signals).
    """

    _end_method = "unpublish"

    _table = PUBLICATION
    _states = (UNPUBLISHED, PUBLISHING, PUBLISHED, UNPUBLISHING)

    def __init__(self, credentials: Credentials, event: str, route: Route, expires: int = 300,
                 extra_headers: dict[str, str] | None = None, timeout: float | None = None):
        from .._options import check_event
        self._credentials = check_credentials(credentials)
        self.timeout = timeout
        self._event, _ = check_event(event, ["x/x"])
        self._route = check_route(route)
        self._expires = check_expires(expires)
        self._extra_headers = check_headers(extra_headers)
        self._state = UNPUBLISHED
        self._content: tuple[str, str, bytes] | None = None   # what is (being) published
        self._pubc = ffi.NULL
        self._tagged = False         # the PJSIP publication holds an entity tag (had a 2xx)
        self._conditional = False    # the PUBLISH in progress carries SIP-If-Match
        self._bind()
        self._call("__init__", self._ua.check_route, self._route)

    state = property(lambda self: self._state,
                     doc="unpublished, publishing, published or unpublishing")
    credentials = property(lambda self: self._credentials.copy(), doc="read-only")
    route = property(lambda self: self._route.copy(), doc="read-only")
    event = property(lambda self: self._event, doc="read-only")
    extra_headers = property(lambda self: dict(self._extra_headers), doc="read-only")

    def __repr__(self) -> str:
        return (f"<Publication {self._event} {self._credentials.uri._addr_spec()} "
                f"{self._state}{recent(self)}>")

    def publish(self, content_type: str, body: str | bytes) -> None:
        """Publish (or replace) the content; queued behind a PUBLISH in progress."""
        ctype, subtype = check_content_type(content_type)
        data = check_body(body)
        self._call("publish", self._request, "send", (ctype, subtype, data))

    def unpublish(self) -> None:
        """Remove the published content (Expires: 0); queued like publish()."""
        self._call("unpublish", self._request, "send_end")

    # -- poll thread --

    def _changed(self, **data: Any) -> None:
        signals.notify(signals.SIPPublicationChangedState, self, state=self._state, **data)

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

    def _create_request(self, event: str, payload: Any) -> Any:
        """``send``: the content given (``payload``) with its body; ``refresh``: body-less,
        with the entity tag; ``send_end``: Expires 0."""
        if event == "send":
            self._content = payload
        with_body = event == "send"
        self._ensure_pubc()
        tdata = ffi.new("pjsip_tx_data **")
        if event == "send_end":
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
            listener = self._listener(self._route)
            if listener != ffi.NULL or self._pins_udp(self._route):
                lib.sc_tdata_use_listener(tdata[0], listener)   # (NULL: the UDP of now)
        except BaseException:
            lib.pjsip_tx_data_dec_ref(tdata[0])
            raise
        self._conditional = self._tagged
        return tdata[0]

    def _send_request(self, tdata: Any) -> int:
        status: int = lib.pjsip_publishc_send(self._pubc, tdata)
        return status

    def _on_response(self, result: Any) -> None:
        code, reason = result_code_reason(result)
        if (code == 412 and self._state == PUBLISHING and self._conditional
                and self._content is not None):
            # RFC 3903 section 4.1: the entity tag is unknown; publish the state afresh (once:
            # that PUBLISH names no entity tag, so a 412 to it ends the attempt)
            self._drop_pubc()
            self._send("send", self._content, transition=False)
            return
        expiration = int(result.expiration)
        self._finished(code, reason, expiration if 0 < expiration < 2**31 else None)

    def _finished(self, code: int, reason: str, granted: int | None = None, **data: Any) -> None:
        if 200 <= code < 300 and self._state == PUBLISHING:
            self._tagged = True      # the PJSIP publication holds the entity tag now
        super()._finished(code, reason, granted, **data)

    def _ended(self) -> None:
        self._drop_pubc()        # fresh entity tag next time
        self._release_token()    # nothing in C refers to this object any more
        self._content = None
