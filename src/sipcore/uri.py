"""SIPURI: a sip: or sips: URI, with an optional display name.

Build one in Python; parse one with :meth:`Engine.parse_sip_uri` (PJSIP's own parser).
``str()`` gives the properly escaped URI, in name-addr form (``"Display" <sip:...>``) when a
display name is set.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any, Mapping

from ._pj import ffi, lib, pj2str
from ._validate import check_bool, check_int, unchecked_twin
from .errors import SIPCoreError

__all__ = ["SIPURI"]

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_UNRESERVED = _ALNUM + "-_.!~*'()"
_USER_SAFE = set(_UNRESERVED + "&=+$,;?/")           # RFC 3261 user-unreserved
_PARAM_SAFE = set(_UNRESERVED + "[]/:&+$")           # param-unreserved
_HEADER_SAFE = set(_UNRESERVED + "[]/?:+$")          # hnv-unreserved
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$")


def _plain(chars: str) -> "re.Pattern[str]":
    return re.compile("^[" + re.escape(chars) + "]*$")


_PLAIN = {}  # id(safe set) -> pattern matching text that needs no escaping


def _escape(text: str, safe: set[str]) -> str:
    pat = _PLAIN.get(id(safe))
    if pat is None:
        pat = _PLAIN[id(safe)] = _plain("".join(sorted(safe)))
    if pat.match(text):          # the common case: nothing to escape
        return text
    out = []
    for ch in text:
        if ch in safe:
            out.append(ch)
        else:
            out.extend("%%%02X" % b for b in ch.encode("utf-8"))
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
        raise ValueError(f"host must be a host name or an IPv4/IPv6 address, not {host!r}") from None


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
    """

    _FIELDS = ("host", "user", "port", "display", "secure", "parameters", "headers")
    # _wire: the encoded forms for requests, cached (see _wire())
    __slots__ = _FIELDS + ("_wire_cache",)

    def __init__(self, host: str, user: str | None = None, port: int | None = None,
                 display: str | None = None, secure: bool = False,
                 parameters: Mapping[str, str | None] | None = None,
                 headers: Mapping[str, str] | None = None):
        self.host = host
        self.user = user
        self.port = port
        self.display = display
        self.secure = secure
        self.parameters = parameters
        self.headers = headers

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "host":
            value = _check_host(value)
        elif name == "user":
            _check_str("user", value)
        elif name == "display":
            _check_str("display", value, allow_empty=True)
            value = value or None   # an empty display name is no display name
        elif name == "port":
            value = check_int("port", value, 0, 65535, allow_none=True) or None
        elif name == "secure":
            check_bool("secure", value)
        elif name == "parameters":
            value = _check_mapping("parameters", value, allow_none_values=True)
        elif name == "headers":
            value = _check_mapping("headers", value, allow_none_values=False)
        elif name == "_wire_cache":
            value = None            # a cache, never taken from outside (e.g. from a pickle)
        object.__setattr__(self, name, value)
        object.__setattr__(self, "_wire_cache", None)

    # -- text ------------------------------------------------------------------------------

    def _addr_spec(self, headers: bool = True) -> str:
        parts = ["sips:" if self.secure else "sip:"]
        if self.user is not None:
            parts.append(_escape(self.user, _USER_SAFE) + "@")
        parts.append(f"[{self.host}]" if ":" in self.host else self.host)
        if self.port:
            parts.append(f":{self.port}")
        for k, v in self.parameters.items():
            parts.append(";" + _escape(k, _PARAM_SAFE))
            if v is not None:
                parts.append("=" + _escape(v, _PARAM_SAFE))
        if self.headers and headers:
            parts.append("?" + "&".join(_escape(k, _HEADER_SAFE) + "=" + _escape(v, _HEADER_SAFE)
                                        for k, v in self.headers.items()))
        return "".join(parts)

    def _name_addr(self, headers: bool = True, spec: str | None = None) -> str:
        """Always ``<...>``-bracketed: the form for From, To, Contact and Route headers.
        ``spec``: this URI's ``_addr_spec(headers)`` when the caller already has it."""
        if spec is None:
            spec = self._addr_spec(headers)
        if self.display is None:
            return f"<{spec}>"
        disp = self.display.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{disp}" <{spec}>'

    def _request_uri(self) -> str:
        """The URI as a Request-URI: no headers (RFC 3261 19.1.5)."""
        return self._addr_spec(headers=False)

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
        spec = self._addr_spec(headers=False)
        wire = (spec.encode(), self._name_addr(spec=spec).encode(), spec.lower())
        if not self.parameters and not self.headers:
            object.__setattr__(self, "_wire_cache", wire)
        return wire

    def __str__(self) -> str:
        return self._addr_spec() if self.display is None else self._name_addr()

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

    def _key(self) -> tuple:
        return (self.host.lower(), self.user, self.port, self.display, self.secure,
                tuple(sorted(self.parameters.items(), key=lambda kv: (kv[0], kv[1] or ""))),
                tuple(sorted(self.headers.items())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SIPURI):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # mutable

    def copy(self) -> "SIPURI":
        return _make(self.host, self.user, self.port, self.display, self.secure,
                     self.parameters, self.headers)

    def __copy__(self) -> "SIPURI":
        return self.copy()

    def __deepcopy__(self, memo: dict) -> "SIPURI":
        return self.copy()


_UncheckedSIPURI = unchecked_twin(SIPURI)


def _make(host: str, user: str | None, port: int | None, display: str | None, secure: bool,
          parameters: dict, headers: dict) -> SIPURI:
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


def from_pj(uri_ptr, trusted: bool = False) -> SIPURI | None:
    """A SIPURI from a ``pjsip_uri *`` (sip:/sips:, plain or name-addr), else None.

    ``trusted``: take PJSIP's values as they are (fast; for URIs of received messages)
    instead of validating them like user input (``parse_sip_uri``).  Poll thread only."""
    n = lib.sc_uri_pj_flat(uri_ptr, _URI_BUF, _URI_BUF_SIZE)
    if n >= 0:
        return from_flat(ffi.unpack(_URI_BUF, n), trusted)
    if n == -2:
        return None
    info = ffi.new("sc_uri_info_t *")      # what sc_uri_flat cannot carry: from_info reads
    lib.sc_uri_info(uri_ptr, info)         # it field by field
    return from_info(info, trusted)


_URI_BUF_SIZE = 2048
_URI_BUF = ffi.new("char[]", _URI_BUF_SIZE)


def from_info(info, trusted: bool = False) -> SIPURI:
    """A SIPURI from a filled ``sc_uri_info_t *`` (poll thread: a shared buffer)."""
    buf = _URI_BUF
    n = lib.sc_uri_flat(info, buf, _URI_BUF_SIZE)
    # one C call and one decode instead of a cffi access per field (glue.c, sc_uri_flat); the
    # struct is read field by field only for what it cannot flatten (a NUL byte or "\1")
    if n >= 0:
        return from_flat(ffi.unpack(buf, n), trusted)
    return _build(_unquote(_fields_of_struct(info, strict=not trusted)), trusted)


#: sc_uri_flat() bytes -> fields, normalized for _make(): the URIs of received messages
#: repeat (the same peers), so each is decoded once.  Bounded; values are never handed out
#: (dicts are copied).
_FLAT_CACHE: dict[bytes, tuple] = {}


def from_flat(flat: bytes, trusted: bool = False) -> SIPURI:
    """A SIPURI from the bytes sc_uri_flat() wrote (its length includes the last NUL)."""
    if not trusted:                        # user input (parse_sip_uri): strict, not cached
        return _build(_unquote(_fields_of_flat(flat[:-1], strict=True)), False)
    fields = _FLAT_CACHE.get(flat)
    if fields is None:
        fields = _normalized(_unquote(_fields_of_flat(flat[:-1])))
        if len(_FLAT_CACHE) >= 512:
            _FLAT_CACHE.clear()
        _FLAT_CACHE[flat] = fields
    return _make(*fields)


def _unquote(fields: tuple) -> tuple:
    # PJSIP drops the quotes of a quoted display name but keeps its quoted-pairs (\")
    display = fields[3]
    if "\\" in display:
        return fields[:3] + (re.sub(r"\\(.)", r"\1", display),) + fields[4:]
    return fields


def _normalized(fields: tuple) -> tuple:
    """Fields as SIPURI keeps them: an empty user or display name and port 0 are None."""
    host, user, port, display, secure, params, headers = fields
    return host, user or None, port or None, display or None, secure, params, headers


def _build(fields: tuple, trusted: bool) -> SIPURI:
    if trusted:
        return _make(*_normalized(fields))
    host, user, port, display, secure, params, headers = fields
    return SIPURI(host=host, user=user or None, port=port or None, display=display or None,
                  secure=secure, parameters=params, headers=headers)


def _once(pairs, what: str, strict: bool) -> dict:
    """A dict of (name, value) pairs.  A SIPURI holds each parameter and header once: a name
    given twice (``;ttl=;ttl=0``) is a ValueError when ``strict`` (user input, so nothing is
    silently dropped); in a received message the first occurrence is kept."""
    out: dict = {}
    for name, value in pairs:
        if name in out:
            if strict:
                raise ValueError(f"{what} {name!r} appears more than once")
            continue
        out[name] = value
    return out


def _fields_of_flat(data: bytes, strict: bool = False) -> tuple:
    """host, user, port, display, secure, parameters, headers of sc_uri_flat's buffer."""
    f = data.decode("utf-8", "replace").split("\0")
    end = 6 + 2 * int(f[5])
    params = _once(((f[i], None if f[i + 1] == "\1" else f[i + 1]) for i in range(6, end, 2)),
                   "parameter", strict)
    headers = _once(((f[i], f[i + 1]) for i in range(end, len(f) - 1, 2)), "header", strict)
    return f[2], f[1], int(f[3]), f[0], f[4] == "1", params, headers


def _fields_of_struct(info, strict: bool = False) -> tuple:
    """The same as _fields_of_flat, read from the ``sc_uri_info_t`` itself."""
    named: list[tuple[str, str | None]] = []
    for attr in ("user", "method", "transport", "maddr"):
        v = getattr(info, f"{attr}_param")
        if v.slen > 0:
            named.append((attr, pj2str(v)))
    if info.ttl_param >= 0:
        named.append(("ttl", str(info.ttl_param)))
    if info.lr_param:
        named.append(("lr", None))

    def walk(head) -> list[tuple[str, str | None]]:
        out = []
        p = head.next
        while p != head:
            out.append((pj2str(p.name), pj2str(p.value) if p.value.slen > 0 else None))
            p = p.next
        return out

    params = _once(named + walk(info.other_param), "parameter", strict)
    headers = _once(((k, v or "") for k, v in walk(info.header_param)), "header", strict)
    return (pj2str(info.host), pj2str(info.user), info.port, pj2str(info.display),
            bool(info.secure), params, headers)


MAX_URI_LENGTH = 8192


def parse_in_pool(pool, text: str) -> SIPURI:
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
        result = from_pj(uri)
    except (TypeError, ValueError) as exc:  # PJSIP accepts more than a SIPURI holds
        raise SIPCoreError(f"unsupported SIP URI {text!r}: {exc}") from None
    if result is None:
        raise SIPCoreError(f"not a sip: or sips: URI: {text!r}")
    return result
