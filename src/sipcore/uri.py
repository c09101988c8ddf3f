"""SIPURI: a sip: or sips: URI, with an optional display name.

Build one in Python; parse one with :meth:`Engine.parse_sip_uri` (PJSIP's own parser).
``str()`` gives the properly escaped URI, in name-addr form (``"Display" <sip:...>``) when a
display name is set.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from . import _flat
from ._pj import ffi, lib
from ._validate import check_bool, check_int, unchecked_twin
from .errors import SIPCoreError

_V = TypeVar("_V")

__all__ = ["SIPURI"]

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_UNRESERVED = _ALNUM + "-_.!~*'()"
_USER_SAFE = set(_UNRESERVED + "&=+$,;?/")           # RFC 3261 user-unreserved
_PARAM_SAFE = set(_UNRESERVED + "[]/:&+$")           # param-unreserved
_HEADER_SAFE = set(_UNRESERVED + "[]/?:+$")          # hnv-unreserved
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*\.?$")


def _plain(chars: str) -> re.Pattern[str]:
    return re.compile("^[" + re.escape(chars) + "]*$")


# id(safe set) -> pattern matching text that needs no escaping
_PLAIN: dict[int, re.Pattern[str]] = {}


def _escape(text: str, safe: set[str], pj: bool = False) -> str:
    """text with every character outside ``safe`` escaped (``%XX`` of its UTF-8 bytes).

    ``pj``: the form for text that PJSIP parses and prints again (every URI of a request
    sipcore sends): PJSIP's parser decodes every escape, but its printer treats ``%`` as
    allowed in a user, parameter or URI header and writes a decoded ``%`` back as it is --
    ``a%2541`` would go out as ``a%41``, which the peer reads as ``aA``.  So a ``%`` in the
    value is escaped twice here (``%2525``): PJSIP decodes that to ``%25``, and prints that."""
    pat = _PLAIN.get(id(safe))
    if pat is None:
        pat = _PLAIN[id(safe)] = _plain("".join(sorted(safe)))
    if pat.match(text):          # the common case: nothing to escape
        return text
    out = []
    for ch in text:
        if ch in safe:
            out.append(ch)
        elif ch == "%" and pj:
            out.append("%2525")
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def _check_str(name: str, value: Any, allow_none: bool = True, allow_empty: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str{' or None' if allow_none else ''}, "
                        f"not {type(value).__name__}")
    if not value and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    if "\x00" in value:
        raise ValueError(f"{name} must not contain NUL characters")


def _check_host(host: Any) -> str:
    _check_str("host", host, allow_none=False)
    h = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(h)) if ":" in h else (
            h if _HOSTNAME.match(h) else str(ipaddress.IPv4Address(h)))
    except ValueError:
        raise ValueError("host must be a host name or an IPv4/IPv6 address, "
                         f"not {host!r}") from None


# RFC 3261 25.1 quoted-string (qdtext / quoted-pair), without the line folding and control
# characters a header value cannot carry as they are
_QUOTED = re.compile(r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\U0010ffff]|\\[\t\x20-\x7e])*"\Z')


def _check_quoted(name: str, value: str) -> None:
    """PJSIP prints a parameter value that starts with a double quote as it is
    (a quoted string: ``+sip.instance="<urn:...>"``), every other value escaped: one that
    starts with a quote but is not a whole quoted string would make a request no parser
    reads (it was sent, never answered, and timed out)."""
    if value.startswith('"') and not _QUOTED.match(value):
        raise ValueError(f"{name} starts with a double quote, so it is sent as it is: it must "
                         f'be a whole quoted string ("...", with \\" or \\\\ inside; '
                         f"RFC 3261 25.1), not {value!r}")


def _check_at(user: str | None, parameters: Mapping[str, str | None]) -> None:
    """A quoted parameter value (sent as it is) with an ``@`` in a URI without a user part:
    PJSIP's parser reads up to the first ``@`` (before a space or ``>``) as the user part, so
    no PJSIP peer -- sipcore itself included -- could read the request: it was sent and never
    answered.  Without the quotes the value is escaped (``%40``) and goes through."""
    if user is None:
        for k, v in parameters.items():
            if v is not None and v.startswith('"') and "@" in v:
                raise ValueError(f"parameters[{k!r}] is a quoted string with '@' in it, in a "
                                 f"URI without a user: PJSIP's parser would take the text up "
                                 f"to that '@' for the user part and drop the request; give "
                                 f"the URI a user, or the value without quotes (sent as %40)")


def _check_mapping(name: str, value: Any, allow_none_values: bool) -> dict[str, str | None]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict (or None), not {type(value).__name__}")
    out: dict[str, str | None] = {}
    for k, v in value.items():
        _check_str(f"{name} key", k, allow_none=False)
        if v is None and not allow_none_values:
            raise ValueError(f"{name}[{k!r}] must be a str")
        if v is not None:
            if isinstance(v, int) and not isinstance(v, bool):
                v = str(v)
            _check_str(f"{name}[{k!r}]", v, allow_none=False, allow_empty=True)
        out[k] = v
    return out


class SIPURI:
    """A SIP or SIPS URI.

    ``SIPURI(host, user=None, port=None, display=None, secure=False, parameters=None,
    headers=None)``: every attribute can be read and changed later, and is validated when
    set (``TypeError``/``ValueError`` naming it).  ``port`` 0 and None both mean "not set".
    ``parameters`` maps names to values (None for a flag such as ``lr``); ``headers`` maps
    header names to values.  Objects compare equal when all attributes are equal.

    ``user``, parameter and header names and values are the *values*, not their wire form:
    ``str()`` escapes what the part does not allow (RFC 3261 25.1), a ``%`` included, so
    ``user="a%41"`` goes out as ``a%2541`` and a peer's SIPURI reads ``"a%41"`` again; a
    received ``;name=value%41`` reads ``"valueA"`` (PJSIP's parser decodes every escape, and
    RFC 3261 19.1.4 makes ``%41`` and ``A`` the same URI).  One distinction is not kept: a
    reserved character the part allows unescaped (``;`` ``/`` ``?`` ``&`` ``=`` ``+`` ``$``
    ``,`` in a user) that a peer sent escaped is sent back unescaped, which 19.1.4 counts as
    a different URI.

    A parameter value that starts with ``"`` is a quoted string (``+sip.instance="<urn:...>"``)
    and goes out as it is, PJSIP's way: it must be a whole one (``"..."``, ``\\"`` and
    ``\\\\`` inside, no control characters), else ``ValueError`` naming the parameter -- a
    half one made a request no peer could parse.  (A peer's half one, ``;p=%22abc``, is
    escaped again where PJSIP echoes it, e.g. the To header of a response: a patch of
    sipcore's pjproject build, ``build_pjsip.py``.)  In a URI without a user a quoted value
    may not hold ``@`` (``ValueError``): PJSIP's parser would read the text up to it as the
    user part, and the request would be dropped unanswered.
    """

    _FIELDS = ("host", "user", "port", "display", "secure", "parameters", "headers")
    # _wire: the encoded forms for requests, cached (see _wire())
    __slots__ = _FIELDS + ("_wire_cache",)
    # as stored (__setattr__ checks and normalizes what is assigned: a Mapping or None
    # becomes a dict, port 0 None)
    host: str
    user: str | None
    port: int | None
    display: str | None
    secure: bool
    parameters: dict[str, str | None]
    headers: dict[str, str]
    _wire_cache: tuple[bytes, bytes, str] | None

    def __init__(self, host: str, user: str | None = None, port: int | None = None,
                 display: str | None = None, secure: bool = False,
                 parameters: Mapping[str, str | None] | None = None,
                 headers: Mapping[str, str] | None = None):
        self.host = host
        self.user = user
        self.port = port
        self.display = display
        self.secure = secure
        self.parameters = parameters  # type: ignore[assignment]  # (made a dict; see above)
        self.headers = headers  # type: ignore[assignment]

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "host":
            value = _check_host(value)
        elif name == "user":
            _check_str("user", value)
            _check_at(value, getattr(self, "parameters", None) or {})
        elif name == "display":
            _check_str("display", value, allow_empty=True)
            value = value or None   # an empty display name is no display name
        elif name == "port":
            value = check_int("port", value, 0, 65535, allow_none=True) or None
        elif name == "secure":
            check_bool("secure", value)
        elif name == "parameters":
            value = _check_mapping("parameters", value, allow_none_values=True)
            for k, v in value.items():  # (not headers: a request's are its header fields)
                if v is not None:
                    _check_quoted(f"parameters[{k!r}]", v)
            _check_at(getattr(self, "user", None), value)
        elif name == "headers":
            value = _check_mapping("headers", value, allow_none_values=False)
        elif name == "_wire_cache":
            value = None            # a cache, never taken from outside (e.g. from a pickle)
        object.__setattr__(self, name, value)
        object.__setattr__(self, "_wire_cache", None)

    # -- text ------------------------------------------------------------------------------

    def _addr_spec(self, headers: bool = True, pj: bool = False) -> str:
        """The URI's text; ``pj``: in the form for PJSIP's parser (see _escape)."""
        parts = ["sips:" if self.secure else "sip:"]
        if self.user is not None:
            parts.append(_escape(self.user, _USER_SAFE, pj) + "@")
        parts.append(f"[{self.host}]" if ":" in self.host else self.host)
        if self.port:
            parts.append(f":{self.port}")
        # (a quoted value: PJSIP decodes it once and sends it as it is, so no '%' doubling)
        for k, v in self.parameters.items():
            parts.append(";" + _escape(k, _PARAM_SAFE, pj))
            if v is not None:
                parts.append("=" + _escape(v, _PARAM_SAFE, pj and v[:1] != '"'))
        if self.headers and headers:
            parts.append("?" + "&".join(_escape(k, _HEADER_SAFE, pj) + "=" +
                                        _escape(v, _HEADER_SAFE, pj)
                                        for k, v in self.headers.items()))
        return "".join(parts)

    def _name_addr(self, headers: bool = True, spec: str | None = None, pj: bool = True) -> str:
        """Always ``<...>``-bracketed: the form for From, To, Contact and Route headers, for
        PJSIP's parser unless ``pj`` is False (see _escape).  ``spec``: this URI's
        ``_addr_spec(headers, pj)`` when the caller already has it."""
        if spec is None:
            spec = self._addr_spec(headers, pj)
        if self.display is None:
            return f"<{spec}>"
        disp = self.display.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{disp}" <{spec}>'

    def _request_uri(self) -> str:
        """The URI as a Request-URI: no headers (RFC 3261 19.1.5)."""
        return self._addr_spec(headers=False, pj=True)

    def _wire(self) -> tuple[bytes, bytes, str]:
        """(Request-URI encoded, the name-addr of that for From/To, the Request-URI lower-cased
        as a key) for a request.

        Sending to one URI again and again is the common case, so the result is kept until
        an attribute is set.  ``parameters`` and ``headers`` are dicts that can also change
        in place, unseen by ``__setattr__``: the cache is only made and used while both are
        empty."""
        cached = self._wire_cache
        if cached is not None and not self.parameters and not self.headers:
            return cached
        spec = self._addr_spec(headers=False, pj=True)
        wire = (spec.encode(), self._name_addr(spec=spec).encode(), spec.lower())
        if not self.parameters and not self.headers:
            object.__setattr__(self, "_wire_cache", wire)
        return wire

    def __str__(self) -> str:
        return self._addr_spec() if self.display is None else self._name_addr(pj=False)

    def __repr__(self) -> str:
        args = [f"{a}={getattr(self, a)!r}" for a in self._FIELDS
                if getattr(self, a) not in (None, False, {})]
        return f"SIPURI({', '.join(args)})"

    def _repr_html_(self) -> str:
        """Jupyter: the URI as sent, and its parts."""
        from . import _reprs
        return _reprs.titled(str(self), _reprs.table(
            (a, getattr(self, a)) for a in self._FIELDS if getattr(self, a) not in (None, {})))

    # -- comparison and copies ------------------------------------------------------------

    def _key(self) -> tuple[Any, ...]:
        return (self.host.lower(), self.user, self.port, self.display, self.secure,
                tuple(sorted(self.parameters.items(), key=lambda kv: (kv[0], kv[1] or ""))),
                tuple(sorted(self.headers.items())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SIPURI):
            return NotImplemented
        return self._key() == other._key()

    # mutable: unhashable (mypy types object.__hash__ as a method, not None)
    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> SIPURI:
        return _make(self.host, self.user, self.port, self.display, self.secure,
                     self.parameters, self.headers)

    def __copy__(self) -> SIPURI:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> SIPURI:
        return self.copy()


_UncheckedSIPURI = unchecked_twin(SIPURI)


def _make(host: str, user: str | None, port: int | None, display: str | None, secure: bool,
          parameters: Mapping[str, str | None] | None,
          headers: Mapping[str, str] | None) -> SIPURI:
    """A SIPURI from values already valid and normalized as SIPURI keeps them (user, port and
    display None when unset), skipping the checks (see _validate: unchecked values): a copy,
    or what PJSIP's parser found -- every received message's URIs.  The dicts are copied."""
    obj = _UncheckedSIPURI()
    obj.host = host
    obj.user = user
    obj.port = port
    obj.display = display
    obj.secure = secure
    obj.parameters = dict(parameters) if parameters else {}
    obj.headers = dict(headers) if headers else {}
    obj._wire_cache = None
    obj.__class__ = SIPURI
    return obj


def from_pj(uri_ptr: Any, buf: _flat.Buffer,
            uris: dict[bytes, tuple[Any, ...]] | None = None) -> SIPURI | None:
    """A SIPURI from a ``pjsip_uri *`` (sip:/sips:, plain or name-addr), else None, read
    through its URI flat form (``sc_uri_pj_flat``, in ``buf``).

    With ``uris`` (the UA's ``scratch.uris``: the URIs of received messages) PJSIP's values
    are taken as they are, and each flat form is decoded once; without, they are validated
    like user input (``parse_sip_uri``)."""
    flat = buf.read(_pj_flat, uri_ptr)
    if flat is None:
        return None
    if uris is None:
        return _checked(_fields_of_flat(flat, strict=True))
    return _make(*(uris.get(flat) or fields_of_flat(flat, uris)))


_pj_flat = lib.sc_uri_pj_flat


def fields_of_flat(flat: bytes, uris: dict[bytes, tuple[Any, ...]]) -> tuple[Any, ...]:
    """The fields of a URI flat form as _make() takes them (PJSIP's values, normalized),
    remembered in ``uris`` (bounded; the tuples are never handed out: _make copies the
    dicts)."""
    fields = _normalized(_fields_of_flat(flat))
    if len(uris) >= 512:
        uris.clear()
    uris[flat] = fields
    return fields


def _normalized(fields: tuple[Any, ...]) -> tuple[Any, ...]:
    """Fields as SIPURI keeps them: an empty user or display name and port 0 are None."""
    host, user, port, display, secure, params, headers = fields
    return host, user or None, port or None, display or None, secure, params, headers


def _checked(fields: tuple[Any, ...]) -> SIPURI:
    """A SIPURI from fields, validated as user input is."""
    host, user, port, display, secure, params, headers = fields
    return SIPURI(host=host, user=user or None, port=port or None, display=display or None,
                  secure=secure, parameters=params, headers=headers)


def _once(pairs: Iterable[tuple[str, _V]], what: str, strict: bool) -> dict[str, _V]:
    """A dict of (name, value) pairs.  A SIPURI holds each parameter and header once: a name
    given twice (``;ttl=;ttl=0``) is a ValueError when ``strict`` (user input, so nothing is
    silently dropped); in a received message the first occurrence is kept."""
    out: dict[str, _V] = {}
    for name, value in pairs:
        if name in out:
            if strict:
                raise ValueError(f"{what} {name!r} appears more than once")
            continue
        out[name] = value
    return out


def _fields_of_flat(data: bytes, strict: bool = False) -> tuple[Any, ...]:
    """The URI flat form's decoder (sipcore.h): host, user, port, display, secure,
    parameters, headers."""
    f = _flat.fields(data, "replace")
    u = _flat.unescape
    end = 6 + 2 * int(f[5])
    params = _once(((u(f[i]), None if f[i + 1] == _flat.MARK else u(f[i + 1]))
                    for i in range(6, end, 2)), "parameter", strict)
    headers = _once(((u(f[i]), u(f[i + 1])) for i in range(end, len(f), 2)), "header", strict)
    return u(f[2]), u(f[1]), int(f[3]), u(f[0]), f[4] == "1", params, headers


def _flat_of(host: str, user: str | None, port: int | None, display: str | None,
             secure: bool, parameters: Mapping[str, str | None],
             headers: Mapping[str, str]) -> bytes:
    """The URI flat form's encoder (what sc_uri_pj_flat writes; for the tests)."""
    e = _flat.escape
    values = [e(display or ""), e(user or ""), e(host), str(port or 0), "1" if secure else "0",
              str(len(parameters))]
    for name, value in parameters.items():
        values += (e(name), _flat.MARK if value is None else e(value))
    for name, value in headers.items():
        values += (e(name), e(value))
    return ("\0".join(values) + "\0").encode()


MAX_URI_LENGTH = 8192


def parse_in_pool(pool: Any, text: str) -> SIPURI:
    """PJSIP's URI parser over ``text``, in ``pool`` (Engine.parse_sip_uri: the UA's
    with_pool runs this on the poll thread)."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > MAX_URI_LENGTH:
        raise SIPCoreError(f"not a SIP URI: longer than {MAX_URI_LENGTH} bytes")
    if b"\x00" in data:
        raise SIPCoreError("not a SIP URI: contains a NUL character")
    buf = ffi.new("char[]", data)  # NUL-terminated, as PJSIP's scanner requires
    uri = lib.pjsip_parse_uri(pool, buf, len(data), lib.PJSIP_PARSE_URI_AS_NAMEADDR)
    if uri == ffi.NULL:
        raise SIPCoreError(f"not a SIP URI: {text!r}")
    try:
        result = from_pj(uri, _flat.Buffer(len(data) + 64))
    except (TypeError, ValueError) as exc:  # PJSIP accepts more than a SIPURI holds
        raise SIPCoreError(f"unsupported SIP URI {text!r}: {exc}") from None
    if result is None:
        raise SIPCoreError(f"not a sip: or sips: URI: {text!r}")
    return result
