"""SDPSession, SDPMedia, SDPConnection, SDPAttribute: an SDP body (RFC 4566) as Python values.

Build them in Python; read one with :meth:`SDPSession.parse` (PJMEDIA's parser and validator,
on the Engine's poll thread); ``str()`` gives the SDP text (printed in Python, in the same form
as ``pjmedia_sdp_print`` plus the ``i=`` lines PJMEDIA has no field for).  Every attribute can be
read and changed, and is validated when set (``TypeError``/``ValueError`` naming it) so that
``str()`` always gives SDP that PJMEDIA's parser reads back as an equal object.

They cross to and from PJMEDIA in one form only, the SDP flat form of ``sipcore.h`` (its codec:
``_flat`` / ``_from_flat``; ``sc_sdp_from_flat`` and ``sc_sdp_flat`` in C), on the poll thread
(see docs/sdp.md) -- except ``sc_sdp_validate_flat``, the check of
``Invitation.set_offered_local_sdp``, which builds its copy in a pool of its own and runs in
the calling thread.
"""
from __future__ import annotations

import bisect
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, overload

from .. import _flat as _fields
from .._pj import ffi, lib, strerror
from .._validate import check_choice, check_instance, check_int, unchecked_twin
from ..errors import EngineNotRunningError, SIPCoreError

__all__ = ["SDPSession", "SDPMedia", "SDPConnection", "SDPAttribute"]

_VT = TypeVar("_VT", bound="_Value")


def _no_engine(what: str, fn: Any, *args: Any) -> Any:
    raise EngineNotRunningError(what)


#: ``with_pool(what, fn, *args)``: ``fn(pool, *args)`` on the poll thread of the running
#: Engine with a temporary PJSIP pool, or EngineNotRunningError naming ``what``.  The UA
#: provides it (sipcore._ua sets it when imported), so that SDP values reach PJMEDIA without
#: importing the Engine or the UA.
with_pool: Callable[..., Any] = _no_engine

#: PJMEDIA's fixed array sizes (from the installed headers, through the compiler)
MAX_FORMATS = lib.PJMEDIA_MAX_SDP_FMT
MAX_ATTRIBUTES = lib.PJMEDIA_MAX_SDP_ATTR
MAX_MEDIA = lib.PJMEDIA_MAX_SDP_MEDIA
#: the largest SDP text parse() accepts, in bytes
MAX_SDP_LENGTH = 65536

_UINT32 = 2**32 - 1
_NTP_OFFSET = 2208988800
_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_WS_OR_CTL = re.compile(r"[\x00-\x20\x7f]")           # not allowed in non-ws-string fields
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+")  # PJMEDIA's token set (names, formats)
#: tokens joined by single spaces (_check's fast path for a formats list)
_TOKENS = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+(?: [A-Za-z0-9!#$%&'*+\-.^_`{|}~]+)*")
_NET_TYPES = ("IN",)                                    # what pjmedia_sdp_validate accepts
_ADDR_TYPES = ("IP4", "IP6")


# ---- validation ---------------------------------------------------------------------------

@overload
def _text(name: str, value: Any, *, allow_none: Literal[False] = False) -> str: ...
@overload
def _text(name: str, value: Any, *, allow_none: bool) -> str | None: ...
def _text(name: str, value: Any, *, allow_none: bool = False) -> str | None:
    """A str with no NUL/CR/LF that survives encoding to bytes and back unchanged."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str{' or None' if allow_none else ''}, "
                        f"not {type(value).__name__}")
    for ch, what in (("\x00", "NUL"), ("\r", "CR"), ("\n", "LF")):
        if ch in value:
            raise ValueError(f"{name} must not contain {what} characters: {value!r}")
    try:
        ok = value.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape") == value
    except UnicodeEncodeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} contains surrogate characters that are not undecodable "
                         f"bytes: {value!r}")
    return value


def _no_leading_ws(name: str, value: str) -> None:
    if value[:1] in (" ", "\t"):
        raise ValueError(f"{name} must not start with whitespace (PJMEDIA's parser drops it): "
                         f"{value!r}")


def _word(name: str, value: Any) -> str:
    """A non-empty string without whitespace or control characters (RFC 4566 non-ws-string)."""
    text = _text(name, value)
    if not text:
        raise ValueError(f"{name} must not be empty")
    if _WS_OR_CTL.search(text):
        raise ValueError(f"{name} must not contain whitespace or control characters: {text!r}")
    return text


def _token(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not _TOKEN.fullmatch(value):
        raise ValueError(f"{name} must be a non-empty token (letters, digits and "
                         f"!#$%&'*+-.^_`{{|}}~), not {value!r}")
    return value


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    return check_choice(name, value, choices, quote=True, why=" (what PJMEDIA supports)")


def _list(name: str, value: Any, kind: type, maximum: int, const: str,
          check: Callable[[str, Any], object] | None = None) -> list[Any]:
    """A fresh list of ``kind`` elements (None: []); at most ``maximum`` of them.  With
    ``check``, each element is checked by it instead (``kind`` is then not used)."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list (or None), not {type(value).__name__}")
    for i, item in enumerate(value):
        if check is not None:
            check(f"{name}[{i}]", item)
        elif not isinstance(item, kind):
            raise TypeError(f"{name}[{i}] must be an {kind.__name__}, not {type(item).__name__}")
    if len(value) > maximum:
        raise ValueError(f"{name} has {len(value)} elements; PJMEDIA allows at most {maximum} "
                         f"({const})")
    return list(value)


def _list_ok(value: Any, kind: type, maximum: int) -> bool:
    """The common case of _list's check, cheaply (every SDP crossing to PJMEDIA is checked):
    a list of at most ``maximum`` elements of exactly ``kind``.  False: let _list decide."""
    if type(value) is not list or len(value) > maximum:
        return False
    for item in value:
        if type(item) is not kind:
            return False
    return True


def _tokens_ok(value: Any) -> bool:
    """The common case of _formats' check: a list of str tokens, one regex match for all."""
    if type(value) is not list or not 0 < len(value) <= MAX_FORMATS:
        return False
    try:
        joined = " ".join(value)
    except TypeError:
        return False
    return joined.count(" ") == len(value) - 1 and _TOKENS.fullmatch(joined) is not None


def _connection(name: str, value: Any) -> SDPConnection | None:
    return check_instance(name, value, SDPConnection, "an", allow_none=True)


def _attributes(name: str, value: Any) -> list[SDPAttribute]:
    return _list(name, value, SDPAttribute, MAX_ATTRIBUTES, "PJMEDIA_MAX_SDP_ATTR")


def _info(name: str, value: Any) -> str | None:
    text = _text(name, value, allow_none=True)
    if not text:
        return None            # spec: None or "" means no i= line
    _no_leading_ws(name, text)
    return text


# ---- conversion helpers -------------------------------------------------------------------

def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _set_str(pool: Any, dest: Any, text: str) -> None:
    """Point the pj_str_t ``dest`` at a copy of ``text`` allocated in ``pool``."""
    data = _b(text)
    p = lib.pj_pool_alloc(pool, len(data) + 1)
    if p == ffi.NULL:
        raise MemoryError("cannot allocate a string")
    ffi.memmove(p, data + b"\0", len(data) + 1)
    dest.ptr = ffi.cast("char *", p)
    dest.slen = len(data)


def _make_trusted(cls: type, twin: Callable[[], Any]) -> staticmethod:  # type: ignore[type-arg]
    """``cls._trusted`` written out for its slots (plain stores into the unchecked twin, then
    ``__class__``): about half the cost of the generic loop, and received SDP makes dozens
    of these per call (see _Value._trusted)."""
    slots = cls.__dict__["__slots__"]
    src = (f"def _trusted({', '.join(slots)}):\n    o = U()\n"
           + "".join(f"    o.{name} = {name}\n" for name in slots)
           + "    o.__class__ = C\n    return o\n")
    namespace: dict[str, Any] = {"U": twin, "C": cls}
    exec(src, namespace)  # noqa: S102 - our own slot names, fixed at import
    return staticmethod(namespace["_trusted"])


class _Value:
    """Shared behaviour: validation in __setattr__, equality, deep copy, repr."""

    __slots__: tuple[str, ...] = ()
    _validators: ClassVar[dict[str, Callable[[str, Any], Any]]] = {}
    #: the unchecked twin (see _validate), for _trusted
    _unchecked: ClassVar[Callable[[], Any]]

    if TYPE_CHECKING:       # every value class has copy(), returning its own class
        def copy(self: _VT) -> _VT: ...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_twin_of" not in cls.__dict__:           # (not for the twin itself)
            cls._unchecked = unchecked_twin(cls)     # for _trusted
            # (setattr: mypy refuses an assignment over the classmethod)
            setattr(cls, "_trusted", _make_trusted(cls, cls._unchecked))  # noqa: B010

    def __setattr__(self, name: str, value: Any) -> None:
        check = self._validators.get(name)
        if check is None:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        object.__setattr__(self, name, check(name, value))

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, a) for a in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    # mutable: unhashable (mypy types object.__hash__ as a method, not None)
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{a}={getattr(self, a)!r}" for a in self.__slots__)
        return f"{type(self).__name__}({fields})"

    @classmethod
    def _trusted(cls: type[_VT], *values: Any) -> _VT:
        """An object from values that are already valid (a copy of one, or PJMEDIA's parse of
        an SDP), set in ``__slots__`` order without running the validators again.  The lists
        are still checked where it matters, when the object is printed or given to PJMEDIA
        (``_check``).  Built as _validate's unchecked values are.  Each value class has its
        own, written out for its slots (_make_trusted); this one is the reference."""
        obj: _VT = cls._unchecked()
        for name, value in zip(cls.__slots__, values):
            setattr(obj, name, value)
        obj.__class__ = cls
        return obj

    def _validate(self) -> None:
        """Run the validators over the current values, children included (TypeError or
        ValueError naming the attribute, as when it is set)."""
        for name in self.__slots__:
            value = getattr(self, name)
            setattr(self, name, value)
            for child in (value if isinstance(value, list) else (value,)):
                if isinstance(child, _Value):
                    child._validate()

    def __copy__(self: _VT) -> _VT:
        return self.copy()

    def __deepcopy__(self: _VT, memo: dict[int, Any]) -> _VT:
        return self.copy()


# ---- SDPAttribute -------------------------------------------------------------------------

class SDPAttribute(_Value):
    """An ``a=`` line: ``name`` (a token) and ``value`` (text; "" for a flag like ``sendonly``)."""

    __slots__ = ("name", "value")
    name: str
    value: str
    _validators = {"name": _token, "value": _text}

    def __init__(self, name: str, value: str):
        self.name = name
        self.value = value

    def copy(self) -> SDPAttribute:
        return SDPAttribute._trusted(self.name, self.value)

    def __str__(self) -> str:
        return f"a={self.name}:{self.value}\r\n" if self.value else f"a={self.name}\r\n"

# ---- SDPConnection ------------------------------------------------------------------------

def _conn_address(name: str, value: Any) -> str:
    address = _word(name, value)
    if "/" in address:
        raise ValueError(f"{name} must not contain '/' (PJMEDIA drops a multicast TTL/count): "
                         f"{address!r}")
    return address


class SDPConnection(_Value):
    """A ``c=`` line: ``address``, ``net_type`` ("IN") and ``address_type`` ("IP4"/"IP6")."""

    __slots__ = ("address", "net_type", "address_type")
    address: str
    net_type: str
    address_type: str
    _validators = {"address": _conn_address,
                   "net_type": lambda n, v: _choice(n, v, _NET_TYPES),
                   "address_type": lambda n, v: _choice(n, v, _ADDR_TYPES)}

    def __init__(self, address: str, net_type: str = "IN", address_type: str = "IP4"):
        self.address = address
        self.net_type = net_type
        self.address_type = address_type

    def copy(self) -> SDPConnection:
        return SDPConnection._trusted(self.address, self.net_type, self.address_type)

    def __str__(self) -> str:
        return f"c={self.net_type} {self.address_type} {self.address}\r\n"

# ---- SDPMedia -----------------------------------------------------------------------------

def _formats(name: str, value: Any) -> list[str]:
    return _list(name, value, str, MAX_FORMATS, "PJMEDIA_MAX_SDP_FMT", check=_token)


class SDPMedia(_Value):
    """A media section: the ``m=`` line and its ``i=``, ``c=`` and ``a=`` lines."""

    __slots__ = ("media", "port", "transport", "port_count", "formats", "info", "connection",
                 "attributes")
    # as stored (the validators make None lists [] and an empty info None)
    media: str
    port: int
    transport: str
    port_count: int
    formats: list[str]
    info: str | None
    connection: SDPConnection | None
    attributes: list[SDPAttribute]
    _validators = {"media": _word,
                   "port": lambda n, v: check_int(n, v, 0, 65535),
                   "transport": _word,
                   "port_count": lambda n, v: check_int(n, v, 1, _UINT32),
                   "formats": _formats,
                   "info": _info,
                   "connection": _connection,
                   "attributes": _attributes}

    def __init__(self, media: str, port: int, transport: str, port_count: int = 1,
                 formats: list[str] | None = None, info: str | None = None,
                 connection: SDPConnection | None = None,
                 attributes: list[SDPAttribute] | None = None):
        self.media = media
        self.port = port
        self.transport = transport
        self.port_count = port_count
        self.formats = formats  # type: ignore[assignment]  # (None: [], see above)
        self.info = info
        self.connection = connection
        self.attributes = attributes  # type: ignore[assignment]

    def get_direction(self) -> str:
        """The first of sendrecv/sendonly/recvonly/inactive among the attributes; else sendrecv."""
        for attr in self.attributes:
            if attr.name in _DIRECTIONS:
                return attr.name
        return "sendrecv"

    def copy(self) -> SDPMedia:
        return SDPMedia._trusted(self.media, self.port, self.transport, self.port_count,
                                 list(self.formats), self.info,
                                 None if self.connection is None else self.connection.copy(),
                                 [a.copy() for a in self.attributes])

    def _check(self) -> None:
        """Re-validate the lists (they may have been changed in place since assignment)."""
        if (_tokens_ok(self.formats) and _list_ok(self.attributes, SDPAttribute, MAX_ATTRIBUTES)
                and (self.connection is None or type(self.connection) is SDPConnection)):
            return
        _formats("formats", self.formats)
        _attributes("attributes", self.attributes)
        _connection("connection", self.connection)

    def __str__(self) -> str:
        self._check()
        count = f"/{self.port_count}" if self.port_count > 1 else ""
        lines = [f"m={self.media} {self.port}{count} {self.transport}"
                 + "".join(" " + f for f in self.formats) + "\r\n"]
        if self.info:
            lines.append(f"i={self.info}\r\n")
        if self.connection is not None:
            lines.append(str(self.connection))
        lines.extend(str(a) for a in self.attributes)
        return "".join(lines)

# ---- SDPSession ---------------------------------------------------------------------------

def _ntp_now() -> int:
    return (int(time.time()) + _NTP_OFFSET) & _UINT32


def _origin_number(name: str, value: Any) -> int:
    return _ntp_now() if value is None else check_int(name, value, 0, _UINT32)


def _session_name(name: str, value: Any) -> str:
    text = _text(name, value)
    if not text:
        raise ValueError(f"{name} must not be empty (use \" \" for no name, as RFC 4566 says)")
    if text != " ":
        _no_leading_ws(name, text)
    return text


def _media_list(name: str, value: Any) -> list[SDPMedia]:
    return _list(name, value, SDPMedia, MAX_MEDIA, "PJMEDIA_MAX_SDP_MEDIA")


class SDPSession(_Value):
    """An SDP body: origin (``o=``), name, info, connection, time, attributes and media."""

    __slots__ = ("address", "id", "version", "user", "net_type", "address_type", "name", "info",
                 "connection", "start_time", "stop_time", "attributes", "media")
    # as stored (the validators make None lists [], a None id/version the NTP time and an
    # empty info None)
    address: str
    id: int
    version: int
    user: str
    net_type: str
    address_type: str
    name: str
    info: str | None
    connection: SDPConnection | None
    start_time: int
    stop_time: int
    attributes: list[SDPAttribute]
    media: list[SDPMedia]
    _validators = {"address": _word,
                   "id": _origin_number,
                   "version": _origin_number,
                   "user": _word,
                   "net_type": lambda n, v: _choice(n, v, _NET_TYPES),
                   "address_type": lambda n, v: _choice(n, v, _ADDR_TYPES),
                   "name": _session_name,
                   "info": _info,
                   "connection": _connection,
                   "start_time": lambda n, v: check_int(n, v, 0, _UINT32),
                   "stop_time": lambda n, v: check_int(n, v, 0, _UINT32),
                   "attributes": _attributes,
                   "media": _media_list}

    def __init__(self, address: str, id: int | None = None, version: int | None = None,
                 user: str = "-", net_type: str = "IN", address_type: str = "IP4",
                 name: str = " ", info: str | None = None,
                 connection: SDPConnection | None = None, start_time: int = 0,
                 stop_time: int = 0, attributes: list[SDPAttribute] | None = None,
                 media: list[SDPMedia] | None = None):
        self.address = address
        self.id = id  # type: ignore[assignment]  # (None: now, see above)
        self.version = version  # type: ignore[assignment]
        self.user = user
        self.net_type = net_type
        self.address_type = address_type
        self.name = name
        self.info = info
        self.connection = connection
        self.start_time = start_time
        self.stop_time = stop_time
        self.attributes = attributes  # type: ignore[assignment]  # (None: [], see above)
        self.media = media  # type: ignore[assignment]

    def copy(self) -> SDPSession:
        return SDPSession._trusted(self.address, self.id, self.version, self.user, self.net_type,
                                   self.address_type, self.name, self.info,
                                   None if self.connection is None else self.connection.copy(),
                                   self.start_time, self.stop_time,
                                   [a.copy() for a in self.attributes],
                                   [m.copy() for m in self.media])

    def _check(self) -> None:
        if not (_list_ok(self.attributes, SDPAttribute, MAX_ATTRIBUTES)
                and _list_ok(self.media, SDPMedia, MAX_MEDIA)
                and (self.connection is None or type(self.connection) is SDPConnection)):
            _attributes("attributes", self.attributes)
            _media_list("media", self.media)
            _connection("connection", self.connection)
        for m in self.media:
            m._check()

    # -- text ------------------------------------------------------------------------------

    def __str__(self) -> str:
        """The SDP text, lines ending in CRLF, in pjmedia_sdp_print's order (plus i= lines)."""
        self._check()
        lines = ["v=0\r\n",
                 f"o={self.user} {self.id} {self.version} {self.net_type} {self.address_type} "
                 f"{self.address}\r\n",
                 f"s={self.name}\r\n"]
        if self.info:
            lines.append(f"i={self.info}\r\n")
        if self.connection is not None:
            lines.append(str(self.connection))
        lines.append(f"t={self.start_time} {self.stop_time}\r\n")
        lines.extend(str(a) for a in self.attributes)
        lines.extend(str(m) for m in self.media)
        return "".join(lines)

    def _repr_html_(self) -> str:
        """Jupyter: one line per media stream, then the SDP text (or why it has none)."""
        from .. import _reprs
        streams = ", ".join(f"{m.media} {m.port} {m.transport} {' '.join(m.formats)}"
                            for m in self.media) or "no media"
        try:
            text = str(self).replace("\r\n", "\n")
        except (TypeError, ValueError) as exc:
            text = f"(not valid SDP: {exc})"
        return _reprs.pre(f"SDPSession {self.address}: {streams}", text)

    @classmethod
    def parse(cls, text: str | bytes) -> SDPSession:
        """Parse SDP text with PJMEDIA's parser and validator (needs a running Engine).

        Raises SIPCoreError (with PJMEDIA's error text) when the SDP is malformed or invalid,
        EngineNotRunningError when the Engine is not running.
        """
        if isinstance(text, str):
            try:
                data = text.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                data = text.encode("utf-8", "surrogatepass")
        elif isinstance(text, (bytes, bytearray, memoryview)):
            data = bytes(text)
        else:
            raise TypeError(f"text must be a str or bytes, not {type(text).__name__}")
        if len(data) > MAX_SDP_LENGTH:
            raise SIPCoreError(f"invalid SDP: longer than {MAX_SDP_LENGTH} bytes")
        if b"\x00" in data:
            raise SIPCoreError("invalid SDP: contains a NUL character")
        session: SDPSession = with_pool("SDPSession.parse", _parse_in_pool, data)
        return session

# ---- the SDP flat form (sipcore.h): how SDP crosses to and from PJMEDIA ----------------------

def _flat(session: SDPSession) -> bytes:
    """The SDP flat form's encoder: ``session`` validated (``_check``) and written for
    ``sc_sdp_from_flat`` (which builds PJMEDIA's struct in one call).  The i= texts are
    included (C skips them) so that _from_flat gives back an equal object."""
    session._check()
    p = [session.user, str(session.id), str(session.version), session.net_type,
         session.address_type, session.address, session.name, session.info or ""]
    _flat_conn(p, session.connection)
    p += (str(session.start_time), str(session.stop_time), str(len(session.attributes)))
    for a in session.attributes:
        p += (a.name, a.value)
    p.append(str(len(session.media)))
    for m in session.media:
        p += (m.media, str(m.port), str(m.port_count), m.transport, m.info or "",
              str(len(m.formats)))
        p += m.formats
        _flat_conn(p, m.connection)
        p.append(str(len(m.attributes)))
        for a in m.attributes:
            p += (a.name, a.value)
    return _fields.join(p, "surrogateescape")


def _flat_conn(p: list[str], c: SDPConnection | None) -> None:
    if c is None:
        p.append("")
    else:
        p += ("c", c.net_type, c.address_type, c.address)


def _from_flat(flat: bytes, info: list[str | None] | None = None) -> SDPSession:
    """The SDP flat form's decoder: a new SDPSession, its values taken as they are (from
    _flat: they were valid; from sc_sdp_flat: PJMEDIA's, which an SDP a peer sent may have
    beyond what the validators allow -- reported, not lost to a ValueError).

    ``info``: the session's and each media's i= text instead of the form's (PJMEDIA keeps
    none: _parse_in_pool finds them in the text)."""
    f = iter(_fields.split(flat, "surrogateescape"))
    nx = f.__next__
    sinfo: str | None
    minfo: str | None
    user, oid, version, net_type, addr_type, addr, name, sinfo = (nx() for _ in range(8))
    conn = _conn_from_flat(nx)
    start, stop = int(nx()), int(nx())
    attrs = [SDPAttribute._trusted(nx(), nx()) for _ in range(int(nx()))]
    media: list[SDPMedia] = []
    for i in range(int(nx())):
        mtype, port, count, transport, minfo = nx(), int(nx()), int(nx()), nx(), nx()
        formats = [nx() for _ in range(int(nx()))]
        mconn = _conn_from_flat(nx)
        mattrs = [SDPAttribute._trusted(nx(), nx()) for _ in range(int(nx()))]
        if info is not None:
            minfo = info[1 + i]
        media.append(SDPMedia._trusted(mtype, port, transport, count, formats, minfo or None,
                                       mconn, mattrs))
    if info is not None:
        sinfo = info[0]
    # PJMEDIA's parser strips the space of RFC 4566's "s= " (no name): give it back
    return SDPSession._trusted(addr, int(oid), int(version), user, net_type, addr_type,
                               name or " ", sinfo or None, conn, start, stop, attrs, media)


def _conn_from_flat(nx: Callable[[], str]) -> SDPConnection | None:
    if not nx():
        return None
    net_type, addr_type, addr = nx(), nx(), nx()
    return SDPConnection._trusted(addr, net_type, addr_type)


def _pj_from_flat(pool: Any, flat: bytes) -> Any:
    """A ``pjmedia_sdp_session *`` in ``pool`` from an SDP flat form (sc_sdp_from_flat)."""
    p = lib.sc_sdp_from_flat(pool, flat, len(flat))
    if p == ffi.NULL:            # (_flat writes no form it refuses: out of memory)
        raise SIPCoreError("building PJMEDIA's SDP from its flat form failed")
    return p


def _flat_of_pj(sdp: Any, buf: _fields.Buffer) -> bytes:
    """The SDP flat form of a ``pjmedia_sdp_session *`` (sc_sdp_flat, in ``buf``, a
    _flat.Buffer): what an Invitation keeps of an SDP, made into an object when asked for."""
    return buf.read(_sdp_flat, sdp)  # type: ignore[return-value]  # (sc_sdp_flat: never < 0)


_sdp_flat = lib.sc_sdp_flat


# ---- parsing on the poll thread -----------------------------------------------------------

_LINE = re.compile(rb"[^\r\n]+")


def _scan_lines(data: bytes, buf: Any, sdp: Any) -> list[str | None]:
    """What PJMEDIA's parser skips: the i= lines (per section) and the counts past its maxima.

    Sections are told apart by where PJMEDIA's own m= fields point into ``buf``.
    """
    base = int(ffi.cast("intptr_t", buf))
    starts = [int(ffi.cast("intptr_t", sdp.media[i].desc.media.ptr)) - base
              for i in range(sdp.media_count)]
    info: list[str | None] = [None] * (1 + sdp.media_count)
    attrs = [0] * (1 + sdp.media_count)
    m_lines = 0
    for mt in _LINE.finditer(data):
        line = mt.group()
        kind = line[:2]
        section = bisect.bisect_left(starts, mt.start())  # 0: session, i: media i-1
        if kind == b"m=":
            m_lines += 1
            if m_lines > MAX_MEDIA:
                raise SIPCoreError(f"invalid SDP: more than {MAX_MEDIA} media sections "
                                   "(PJMEDIA_MAX_SDP_MEDIA)")
            if len([t for t in line[2:].split(b" ") if t]) - 3 > MAX_FORMATS:
                raise SIPCoreError(f"invalid SDP: more than {MAX_FORMATS} formats in an m= "
                                   "line (PJMEDIA_MAX_SDP_FMT)")
        elif kind == b"a=":
            attrs[section] += 1
            if attrs[section] > MAX_ATTRIBUTES:
                raise SIPCoreError(f"invalid SDP: more than {MAX_ATTRIBUTES} attributes in a "
                                   "section (PJMEDIA_MAX_SDP_ATTR)")
        elif kind == b"i=" and info[section] is None:
            value = line[2:].lstrip(b" \t").decode("utf-8", "surrogateescape")
            info[section] = value or None
    return info


def _parse_in_pool(pool: Any, data: bytes) -> SDPSession:
    buf = ffi.new("char[]", data)  # NUL-terminated, as PJMEDIA's scanner requires
    out = ffi.new("pjmedia_sdp_session **")
    status = lib.pjmedia_sdp_parse(pool, buf, len(data), out)
    if status != lib.PJ_SUCCESS or out[0] == ffi.NULL:
        raise SIPCoreError(f"invalid SDP: {strerror(status)} (PJMEDIA status {status})")
    sdp = out[0]
    info = _scan_lines(data, buf, sdp)
    if not sdp.name.slen and sdp.name.ptr != ffi.NULL:
        _set_str(pool, sdp.name, " ")   # "s= ": see _from_flat
    # non-strict, as pjsip-ua checks received SDP: a disabled (port 0) stream needs no c=
    status = lib.pjmedia_sdp_validate2(sdp, 0)
    if status != lib.PJ_SUCCESS:
        raise SIPCoreError(f"invalid SDP: {strerror(status)} (PJMEDIA status {status})")
    try:
        result = _from_flat(_flat_of_pj(sdp, _fields.Buffer(len(data) + 256)), info)
        result._validate()       # parse() holds text to what these classes can build
    except (TypeError, ValueError) as exc:  # PJMEDIA accepts more than these classes hold
        raise SIPCoreError(f"unsupported SDP: {exc}") from None
    # PJMEDIA moves only the first session-level sendonly/recvonly/inactive into the media;
    # drop any further ones too, so that parsing what str() prints gives the same object
    result.attributes = [a for a in result.attributes if a.name not in _DIRECTIONS[1:]]
    return result
