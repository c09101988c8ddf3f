"""What every client primitive shares: argument checks, binding to the running UA, the token
C holds, the Engine-stop hook, and request helpers."""
from __future__ import annotations

import re
import threading
from typing import Any, Mapping

from .. import _ua as ua_mod
from .._pj import check, ffi, handles, lib, pj2str, strerror
from ..credentials import Credentials
from ..errors import EngineNotRunningError, InvalidStateError
from ..route import Route
from ..uri import _USER_SAFE, SIPURI, _escape

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CONTENT_TYPE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def check_credentials(value: Any) -> Credentials:
    if not isinstance(value, Credentials):
        raise TypeError(f"credentials must be a Credentials, not {type(value).__name__}")
    return value.copy()


def check_route(value: Any) -> Route:
    if not isinstance(value, Route):
        raise TypeError(f"route must be a Route, not {type(value).__name__}")
    return value.copy()


def check_sipuri(name: str, value: Any, allow_none: bool = False) -> SIPURI | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, SIPURI):
        raise TypeError(f"{name} must be a SIPURI{' or None' if allow_none else ''}, "
                        f"not {type(value).__name__}")
    return value.copy()


def check_expires(value: Any, name: str = "expires") -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int (seconds), not {type(value).__name__}")
    if not 1 <= value <= 2**31 - 1:
        raise ValueError(f"{name} must be in 1..2147483647 seconds, not {value}")
    return value


def check_headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"extra_headers must be a dict (or None), not {type(value).__name__}")
    out = {}
    for k, v in value.items():
        if not isinstance(k, str) or not _HEADER_NAME.match(k):
            raise ValueError(f"extra_headers: {k!r} is not a header name")
        if not isinstance(v, str):
            raise TypeError(f"extra_headers[{k!r}] must be a str, not {type(v).__name__}")
        if any(c in v for c in "\r\n\x00"):
            raise ValueError(f"extra_headers[{k!r}] must not contain CR, LF or NUL")
        out[k] = v
    return out


def check_content_type(value: Any) -> tuple[str, str]:
    if not isinstance(value, str):
        raise TypeError(f"content_type must be a 'type/subtype' str, not {type(value).__name__}")
    if not _CONTENT_TYPE.match(value):
        raise ValueError(f"content_type must be 'type/subtype', not {value!r}")
    t, s = value.split("/")
    return t, s


def check_body(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"body must be str or bytes, not {type(value).__name__}")


class ClientPrimitive:
    """Base of Registration, Publication and Subscription.

    The object belongs to the Engine run it was created in; its PJSIP state lives on the
    poll thread.  While C may call back about it, it is kept in ``_pj.handles`` under
    ``self._token`` (so dropping the last reference mid-transaction is safe), and it is
    in ``ua.primitives`` so that ``Engine.stop()`` ends it cleanly.
    """

    _what = "primitive"

    def _bind(self) -> None:
        self._ua = ua_mod.running(type(self).__name__)
        self._token = None
        self._lock = threading.RLock()

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        ua = self._ua
        if ua_mod.current is not ua or not ua.running:
            if ua.running or ua_mod.current is None:
                raise EngineNotRunningError(f"{type(self).__name__}.{what}()")
            raise InvalidStateError(f"{type(self).__name__}.{what}()",
                                    "belongs to an Engine run that has stopped")
        return ua.call(fn, *args)

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

    def _local_contact(self, user: str | None, transport: str | None) -> str:
        ua = self._ua
        kind = transport or "udp"
        ip = ua.options["local_ip"]
        host = f"[{ip}]" if ":" in ip else ip
        userpart = f"{_escape(user, _USER_SAFE)}@" if user else ""
        return f"<sip:{userpart}{host}:{ua.ports[kind]};transport={kind}>"

    def _listener(self, route: Route):
        kind = route.transport or "udp"
        return self._ua.transports[kind] if kind in ("tcp", "tls") else ffi.NULL


def add_headers(tdata, headers: dict[str, str]) -> None:
    for name, value in headers.items():
        check(lib.sc_tdata_add_header(tdata, name.encode(), value.encode()),
              f"adding the {name} header")


def result_code_reason(result) -> tuple[int, str]:
    """Code and reason of a client result; a PJSIP error without a response becomes 503/408."""
    code = result.code
    reason = pj2str(result.reason)
    if code <= 0:
        code = 503
        reason = f"Service Unavailable ({strerror(result.status)})"
    elif result.status != lib.PJ_SUCCESS and code in (408, 503):
        reason = f"{reason} ({strerror(result.status)})"
    return code, reason

