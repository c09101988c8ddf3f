"""Route: where a request goes first (the outbound proxy), and over which transport."""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from ._validate import check_int, unchecked_twin

#: a host name (RFC 3261 25.1 hostname: dot-separated labels of letters, digits and "-")
_HOSTNAME = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                       r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?\Z")

__all__ = ["Route"]

TRANSPORTS = ("udp", "tcp", "tls")


class Route:
    """``Route(address, port=None, transport=None)``.

    ``address`` is an IPv4 or IPv6 literal or a host name.  For an IP address ``port``
    defaults to 5061 for TLS and 5060 otherwise (the spec's default is always 5060; 5061 is
    the TLS port of RFC 3261) and ``transport`` None means UDP.  A host name is resolved as
    RFC 3263 says, through the Engine's ``nameservers``: with neither port nor transport its
    NAPTR records choose the transport, then SRV records the servers (no NAPTR: SRV for
    UDP, TCP, then TLS, the first found, then A); with a transport but no port, SRV records
    for that transport; with a port, A records (UDP unless a transport is given).  So for a
    name ``port`` stays None unless given.  ``transport`` is "udp", "tcp" or "tls" (any
    case; stored lower case) or None.
    The Route becomes a loose-routing ``Route:`` header of the request; over TLS to a name,
    the server's certificate is checked against that name (and it is sent as SNI).
    """

    _FIELDS = ("address", "port", "transport")
    __slots__ = _FIELDS + ("_wire_cache",)
    _wire_cache: tuple[bytes, Route] | None

    def __init__(self, address: str, port: int | None = None, transport: str | None = None):
        self.address = address
        self.transport = transport
        self.port = port

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "address":
            if not isinstance(value, str):
                raise TypeError("address must be a str (an IP address), "
                                f"not {type(value).__name__}")
            v = value[1:-1] if value.startswith("[") and value.endswith("]") else value
            try:
                value = str(ipaddress.ip_address(v))
            except ValueError:
                if v is value and len(value) <= 253 and _HOSTNAME.match(value):
                    value = value.rstrip(".")
                else:
                    raise ValueError("address must be an IPv4 or IPv6 address or a host name, "
                                     f"not {value!r}") from None
        elif name == "transport":
            if value is not None:
                if not isinstance(value, str):
                    raise TypeError(f"transport must be a str or None, not {type(value).__name__}")
                if value.lower() not in TRANSPORTS:
                    raise ValueError(f"transport must be one of udp, tcp, tls, not {value!r}")
                value = value.lower()
        elif name == "port":
            if value is None:
                if self.is_name:
                    object.__setattr__(self, name, None)   # resolved (RFC 3263)
                    object.__setattr__(self, "_wire_cache", None)
                    return
                value = 5061 if getattr(self, "transport", None) == "tls" else 5060
            check_int("port", value, 1, 65535)
        elif name == "_wire_cache":
            value = None            # a cache, never taken from outside (e.g. from a pickle)
        object.__setattr__(self, name, value)
        object.__setattr__(self, "_wire_cache", None)

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.address

    @property
    def is_name(self) -> bool:
        """True when ``address`` is a host name (resolved when a request is sent)."""
        a = self.address
        return ":" not in a and not a.replace(".", "").isdigit()

    def uri(self) -> str:
        """The Route header value, e.g. ``<sip:[::1]:5060;transport=tcp;lr>``; for a host
        name without port and transport ``<sip:example.com;lr>`` (resolution chooses)."""
        host = f"[{self.address}]" if self.is_ipv6 else self.address
        scheme = "sip"
        if self.port is None and self.transport is None:
            return f"<{scheme}:{host};lr>"
        port = "" if self.port is None else f":{self.port}"
        return f"<{scheme}:{host}{port};transport={self.transport or 'udp'};lr>"

    def copy(self) -> Route:
        return self._snapshot()

    def _snapshot(self) -> Route:
        obj = _UncheckedRoute()              # (see _validate: unchecked values)
        obj.address = self.address
        obj.port = self.port
        obj.transport = self.transport
        obj._wire_cache = None
        obj.__class__ = Route
        return obj

    def _wire(self) -> tuple[bytes, Route]:
        """(the Route header value encoded, a private snapshot), kept until an attribute
        is set: a request takes both without copying the route each time."""
        cached = self._wire_cache
        if cached is None:
            cached = (self.uri().encode(), self._snapshot())
            object.__setattr__(self, "_wire_cache", cached)
        return cached

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Route):
            return NotImplemented
        return ((self.address, self.port, self.transport)
                == (other.address, other.port, other.transport))

    # a mutable value: unhashable (mypy types object.__hash__ as a method, not None)
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Route({self.address!r}, {self.port}, {self.transport!r})"

    def __str__(self) -> str:
        return self.uri()


_UncheckedRoute = unchecked_twin(Route)
