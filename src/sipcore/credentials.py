"""Credentials: the account URI (also the From of requests) and its password."""
from __future__ import annotations

from typing import Any

from ._validate import check_instance, unchecked_twin
from .uri import SIPURI

__all__ = ["Credentials"]


class Credentials:
    """``Credentials(uri, password=None)``.

    ``uri`` is a :class:`SIPURI` naming the account; its user part is the digest user name.
    ``password`` (str or None when no authentication is expected) answers any realm's
    401/407 challenge.  Both attributes can be changed; they are validated when set.
    """

    __slots__ = ("uri", "password", "_wire_cache")
    _wire_cache: tuple[tuple[bytes, bytes, str], tuple[bytes, bytes, bytes | None]] | None

    def __init__(self, uri: SIPURI, password: str | None = None):
        self.uri = uri
        self.password = password

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "uri":
            check_instance("uri", value, SIPURI)
        if name == "password" and value is not None:
            if not isinstance(value, str):
                raise TypeError(f"password must be a str or None, not {type(value).__name__}")
            if "\x00" in value:
                raise ValueError("password must not contain NUL characters")
        if name == "_wire_cache":
            value = None            # a cache, never taken from outside (e.g. from a pickle)
        object.__setattr__(self, name, value)
        object.__setattr__(self, "_wire_cache", None)

    def _wire(self) -> tuple[bytes, bytes, bytes | None]:
        """(the From header's name-addr, the digest user name, the password or None), encoded
        for a request.  Kept while neither attribute is set and ``uri`` keeps its own encoded
        form (SIPURI._wire() returns the same tuple while the URI is unchanged)."""
        uri_wire = self.uri._wire()
        cached = self._wire_cache
        if cached is not None and cached[0] is uri_wire:
            return cached[1]
        uri = self.uri
        from_ = uri_wire[1] if not uri.headers else uri._name_addr().encode()
        password = self.password
        wire = (from_, (uri.user or "").encode(),
                password.encode() if password is not None else None)
        object.__setattr__(self, "_wire_cache", (uri_wire, wire))
        return wire

    def copy(self) -> Credentials:
        return self._snapshot()

    def _snapshot(self) -> Credentials:
        obj = _UncheckedCredentials()        # (see _validate: unchecked values)
        obj.uri = self.uri.copy()
        obj.password = self.password
        obj._wire_cache = None
        obj.__class__ = Credentials
        return obj

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return self.uri == other.uri and self.password == other.password

    # a mutable value: unhashable (mypy types object.__hash__ as a method, not None)
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Credentials({self.uri!r}, password={'***' if self.password else None})"


_UncheckedCredentials = unchecked_twin(Credentials)
