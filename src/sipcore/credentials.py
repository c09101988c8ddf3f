"""Credentials: the account URI (also the From of requests) and its password."""
from __future__ import annotations

from typing import Any

from .uri import SIPURI

__all__ = ["Credentials"]


class Credentials:
    """``Credentials(uri, password=None)``.

    ``uri`` is a :class:`SIPURI` naming the account; its user part is the digest user name.
    ``password`` (str or None when no authentication is expected) answers any realm's
    401/407 challenge.  Both attributes can be changed; they are validated when set.
    """

    __slots__ = ("uri", "password")

    def __init__(self, uri: SIPURI, password: str | None = None):
        self.uri = uri
        self.password = password

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "uri" and not isinstance(value, SIPURI):
            raise TypeError(f"uri must be a SIPURI, not {type(value).__name__}")
        if name == "password" and value is not None:
            if not isinstance(value, str):
                raise TypeError(f"password must be a str or None, not {type(value).__name__}")
            if "\x00" in value:
                raise ValueError("password must not contain NUL characters")
        object.__setattr__(self, name, value)

    def copy(self) -> "Credentials":
        return self._snapshot()

    def _snapshot(self) -> "Credentials":
        obj = object.__new__(Credentials)
        object.__setattr__(obj, "uri", self.uri.copy())
        object.__setattr__(obj, "password", self.password)
        return obj

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return self.uri == other.uri and self.password == other.password

    __hash__ = None

    def __repr__(self) -> str:
        return f"Credentials({self.uri!r}, password={'***' if self.password else None})"
