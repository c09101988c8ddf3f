"""The binding room: the cffi module, small conversions, and the token registry.

Objects that C may call back about are kept in :data:`handles` while C holds their token; a
token whose object is gone is ignored.  The callbacks themselves (the ``extern "Python"``
trampolines) are all in ``sipcore._callbacks``.
"""
from __future__ import annotations

from typing import Any

from ._pjsip import ffi, lib
from .errors import PJSIPError, strerror

__all__ = ["ffi", "lib", "pjstr", "pj2str", "pj2bytes", "strerror", "check", "Handles",
           "handles"]

PJSIP_VERSION = ffi.string(lib.pj_get_version()).decode()
BUILT_AGAINST = ffi.string(lib.SIPCORE_BUILT_AGAINST).decode()
if PJSIP_VERSION != BUILT_AGAINST:  # a different libpj*.so than the one compiled against
    raise ImportError(f"sipcore._pjsip was built against pjproject {BUILT_AGAINST} but "
                      f"loaded {PJSIP_VERSION}; reinstall sipcore")


def pjstr(value: bytes | str, keep: list[Any]) -> Any:
    """A ``pj_str_t`` pointing at a copy of value; the copy lives as long as ``keep``."""
    if isinstance(value, str):
        value = value.encode()
    buf = ffi.new("char[]", value)
    s = ffi.new("pj_str_t *")
    s.ptr = buf
    s.slen = len(value)
    keep.append(buf)
    keep.append(s)
    return s


def pj2bytes(s: Any) -> bytes:
    if s.ptr == ffi.NULL or s.slen <= 0:
        return b""
    data: bytes = ffi.unpack(s.ptr, s.slen)
    return data


def pj2str(s: Any) -> str:
    return pj2bytes(s).decode("utf-8", "replace")


def check(status: int, operation: str) -> None:
    if status != lib.PJ_SUCCESS:
        raise PJSIPError(operation, status)


class Handles:
    """Live Python objects that C holds a token for.

    A token is a small integer, never reused (``uintptr_t`` at the C boundary; C keeps it
    in PJSIP's ``void *`` user-data slots), not a ``new_handle`` pointer: a late callback
    with the token of an object already released finds nothing, instead of dereferencing a
    dead handle.  An integer crosses cffi without a cdata object either way.
    """

    def __init__(self) -> None:
        self._live: dict[Any, Any] = {}
        self._next = 1
        #: get(token) -> the object or None: the table's own ``get`` (every callback calls it)
        self.get = self._live.get
        #: pop(token, None): get() and release() in one, for a callback that is the token's last
        self.pop = self._live.pop


    def new(self, obj: Any) -> int:
        token = self._next
        self._next += 1
        self._live[token] = obj
        return token

    def release(self, token: int) -> None:
        self._live.pop(token, None)

    def clear(self) -> None:
        self._live.clear()

    def __len__(self) -> int:
        return len(self._live)


handles = Handles()
