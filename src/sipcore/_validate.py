"""Argument checks shared by the public API, and the one way to build values without them.

Every check raises ``TypeError`` (wrong type) or ``ValueError`` (wrong value) with a message
that names the argument; tests match on these messages, so they are kept word for word.
Checks that only one module needs stay in that module (SIPURI's strings, the SDP grammar,
the Engine options' strings).

This module imports nothing from sipcore: the value classes (``uri``, ``route``,
``credentials``, ``sdp``) use its generic checks, so the checks that name one of those classes
(``check_credentials``, ``check_route``, ``check_sipuri``: a private copy of a value of that
class) live with the primitives that take them (``primitives/_base.py``), which import the
classes; ``send_message`` keeps its own inline checks (see there).

Unchecked values.  A value built from data that is already valid (a copy, or what PJSIP or
PJMEDIA parsed) skips its class's checking ``__setattr__`` in one way only: an object of an
*unchecked twin* -- a class with the same ``__slots__`` and no ``__setattr__`` (see
:func:`unchecked_twin`) -- is filled with plain attribute stores, the fastest the
interpreter does, and then becomes an object of the real class by assigning ``__class__``,
which Python allows between classes of the same layout.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, overload

_T = TypeVar("_T")

HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
CONTENT_TYPE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def unchecked_twin(cls: type[_T]) -> Callable[[], _T]:
    """The unchecked twin of a ``__slots__`` class (see the module's docstring): fill an
    instance with plain stores, then set its ``__class__`` to ``cls``.  It has cls's bases
    (so that Python sees the same layout), plain ``object.__setattr__``, and ``_twin_of``."""
    slots = cls.__slots__  # type: ignore[attr-defined]  # (a __slots__ class, as said above)
    return type(f"_Unchecked{cls.__name__}", cls.__bases__,
                {"__slots__": slots, "__setattr__": object.__setattr__,
                 "__module__": cls.__module__, "_twin_of": cls})


# ---- generic ------------------------------------------------------------------------------

@overload
def check_int(name: str, value: Any, low: int, high: int, *,
              allow_none: Literal[False] = False, unit: str = "") -> int: ...
@overload
def check_int(name: str, value: Any, low: int, high: int, *, allow_none: bool,
              unit: str = "") -> int | None: ...
def check_int(name: str, value: Any, low: int, high: int, *, allow_none: bool = False,
              unit: str = "") -> int | None:
    """An int (not a bool) in low..high; ``unit`` (e.g. "seconds") is named in the messages."""
    if value is None and allow_none:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int{f' ({unit})' if unit else ''}"
                        f"{' or None' if allow_none else ''}, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in {low}..{high}{f' {unit}' if unit else ''}, "
                         f"not {value}")
    return value


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value


@overload
def check_instance(name: str, value: Any, kind: type[_T], article: str = "a",
                   allow_none: Literal[False] = False) -> _T: ...
@overload
def check_instance(name: str, value: Any, kind: type[_T], article: str = "a", *,
                   allow_none: bool) -> _T | None: ...
def check_instance(name: str, value: Any, kind: type[_T], article: str = "a",
                   allow_none: bool = False) -> _T | None:
    """value itself, if it is a ``kind`` (or None when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be {article} {kind.__name__}"
                        f"{' or None' if allow_none else ''}, not {type(value).__name__}")
    instance: _T = value
    return instance


def check_choice(name: str, value: Any, choices: tuple[str, ...], quote: bool = False,
                 why: str = "") -> str:
    """``value``, one of the strings ``choices`` (listed quoted when ``quote``; ``why`` is
    said after them in the error)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if value not in choices:
        shown = ", ".join(map(repr, choices) if quote else choices)
        raise ValueError(f"{name} must be one of {shown}{why}, not {value!r}")
    return value


def check_timeout(value: Any, high: int, kinds: str = "an int, a float") -> float:
    """A number of seconds in (0, high]; ``kinds`` names the accepted types in the message."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"timeout must be {kinds} or None, not {type(value).__name__}")
    if not 0 < value <= high:          # (a NaN fails this too)
        raise ValueError(f"timeout must be in (0, {high}] seconds, not {value}")
    return float(value)


# ---- request arguments --------------------------------------------------------------------

def check_expires(value: Any, name: str = "expires") -> int:
    return check_int(name, value, 1, 2**31 - 1, unit="seconds")


def check_headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"extra_headers must be a dict (or None), not {type(value).__name__}")
    out = {}
    for k, v in value.items():
        if not isinstance(k, str) or not HEADER_NAME.match(k):
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
    if not CONTENT_TYPE.match(value):
        raise ValueError(f"content_type must be 'type/subtype', not {value!r}")
    t, s = value.split("/")
    return t, s


def check_body(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"body must be str or bytes, not {type(value).__name__}")
