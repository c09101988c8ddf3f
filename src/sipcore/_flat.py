"""The flat formats of ``sipcore.h`` ("flat formats"): what they share, the headers list's
codec, and the buffers the C writers fill.

A *field* is its bytes and a NUL; inside a field the bytes 0x00 and 0x01 are written
0x01 '0' and 0x01 '1', so that any text crosses and a NUL always ends a field.  The codecs of
the other forms live with the values they make: the URI flat form in ``uri``, the SDP flat form
in ``sdp``, the incoming MESSAGE flat buffer in ``primitives/message.py``.

The C writers return the size of the whole form and write it only into a buffer that big:
:meth:`Buffer.read` calls again, once, with a buffer grown to that size.  The UA owns one
:class:`Scratch` (its buffer, and the caches of the poll thread's flat-form work); code on the
poll thread reaches it through the UA it has (``ua.scratch``).
"""
from __future__ import annotations

from typing import Any, Callable

from ._pj import ffi, lib
from .errors import SIPCoreError

#: the URI flat form's value field for a parameter without value
MARK = "\x01"


def fields(data: bytes, errors: str) -> list[str]:
    """The fields of ``data`` (which ends with a field's NUL), decoded as UTF-8, their escapes
    kept (see :func:`unescape`): the URI flat form must see its MARK before they are undone."""
    f = data.decode("utf-8", errors).split("\0")
    f.pop()
    return f


def unescape(field: str) -> str:
    if "\x01" not in field:
        return field
    return field.replace("\x010", "\0").replace("\x011", "\x01")


def escape(field: str) -> str:
    if "\0" not in field and "\x01" not in field:
        return field
    return field.replace("\x01", "\x011").replace("\0", "\x010")


def split(data: bytes, errors: str = "strict") -> list[str]:
    """The fields of ``data``, decoded, escapes undone."""
    f = fields(data, errors)
    return [unescape(x) for x in f] if b"\x01" in data else f


def join(values: list[str], errors: str = "strict") -> bytes:
    """``values`` as fields (UTF-8)."""
    text = "\0".join(values)
    if "\x01" in text or text.count("\0") != len(values) - 1:
        text = "\0".join([escape(v) for v in values])
    return (text + "\0").encode("utf-8", errors)


# ---- headers list ---------------------------------------------------------------------------

def headers_list(headers: dict[str, str]) -> bytes:
    """``headers`` as a headers list (for ``sc_msg_send``: its final NUL, in memory after the
    bytes object's end, is the empty name that ends the list)."""
    return join([part for item in headers.items() for part in item])


def headers_of(data: bytes) -> dict[str, str]:
    """A headers list as a dict, the values of a header given more than once joined with
    ", " in their order (RFC 3261 7.3.1)."""
    parts = split(data, "replace")
    names, values = parts[0::2], parts[1::2]
    out = dict(zip(names, values))
    if len(out) < len(names):                     # a repeated header: values joined
        out = {}
        for name, value in zip(names, values):
            out[name] = f"{out[name]}, {value}" if name in out else value
    return out


# ---- buffers --------------------------------------------------------------------------------

class Buffer:
    """A buffer for the C writers of the flat forms, grown to what they say they need."""

    __slots__ = ("buf", "size")

    def __init__(self, size: int) -> None:
        self.buf = ffi.new("char[]", size)
        self.size = size

    def grow(self, size: int) -> Any:
        """A new buffer of ``size`` bytes (the old contents are gone); returns it."""
        self.buf = ffi.new("char[]", size)
        self.size = size
        return self.buf

    def read(self, write: Callable[..., int], *args: Any) -> bytes | None:
        """``write(*args, buf, size)``'s form as bytes (None when it returns < 0): called
        again with a buffer that big when it did not fit."""
        n = write(*args, self.buf, self.size)
        if n > self.size:
            n = write(*args, self.grow(n), n)
            if n > self.size:
                raise SIPCoreError(f"{getattr(write, '__name__', 'a flat form')} changed size")
        return None if n < 0 else ffi.unpack(self.buf, n)


class Scratch(Buffer):
    """The UA's buffer and caches for the flat forms (poll thread), made with the UA and
    dropped with it: its buffer is the one the glue writes incoming MESSAGEs into (lent with
    ``sc_message_buffer`` by :meth:`lend`, taken back by :meth:`release`).

    ``uris``: URI flat form -> a SIPURI's fields (uri.from_pj, message.decode): the URIs of
    received messages repeat, so each is decoded once.  ``requests``: a MESSAGE's destination
    -> its ``sc_msg_request_t`` (primitives/message.py).  ``msg_out``: sc_msg_send's
    out-parameter; ``lens``: sc_message_flat's.  Each cache is emptied when full.
    """

    __slots__ = ("uris", "requests", "msg_out", "lens", "lent")

    SIZE = 16384

    def __init__(self) -> None:
        super().__init__(self.SIZE)
        self.uris: dict[bytes, tuple[Any, ...]] = {}
        self.requests: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self.msg_out = ffi.new("sc_msg_t **")
        self.lens = ffi.new("int[4]")
        self.lent = False

    def grow(self, size: int) -> Any:
        buf = super().grow(size)
        if self.lent:
            lib.sc_message_buffer(buf, size)
        return buf

    def lend(self) -> None:
        """Let the glue write incoming MESSAGEs into the buffer (poll thread)."""
        self.lent = True
        lib.sc_message_buffer(self.buf, self.size)

    def release(self) -> None:
        """The glue has the buffer no more; the caches are emptied (teardown)."""
        if self.lent:
            self.lent = False
            lib.sc_message_buffer(ffi.NULL, 0)
        self.uris.clear()
        self.requests.clear()
