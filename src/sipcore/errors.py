"""Exceptions raised by sipcore.

``SIPCoreError`` is the base of every error the core raises on purpose.  Bad arguments
raise the built-in ``TypeError``/``ValueError`` with a message naming the argument.
"""
from __future__ import annotations

from ._pjsip import (
    ffi as _ffi,  # (the compiled module: _pj imports this one)
    lib as _lib,
)

__all__ = ["SIPCoreError", "PJSIPError", "InvalidStateError", "EngineNotRunningError",
           "MessagePendingError"]


def strerror(status: int) -> str:
    """pjlib's text for a pj status."""
    buf = _ffi.new("char[]", 256)
    s = _lib.pj_strerror(status, buf, 256)
    if s.ptr == _ffi.NULL or s.slen <= 0:
        return ""
    text: str = _ffi.unpack(s.ptr, s.slen).decode("utf-8", "replace")
    return text


class SIPCoreError(Exception):
    """An error inside the SIP core."""


class PJSIPError(SIPCoreError):
    """A PJSIP function failed.

    ``status`` is the pj errno (an int), ``message`` pjlib's text for it, and
    ``operation`` what sipcore was doing.
    """

    def __init__(self, operation: str, status: int, message: str | None = None):
        if message is None:
            message = strerror(status)
        self.operation = operation
        self.status = status
        self.message = message
        super().__init__(f"{operation}: {message} (PJSIP status {status})")


class InvalidStateError(SIPCoreError):
    """A call that the object's present state forbids; ``state`` names that state."""

    def __init__(self, what: str, state: str):
        self.state = state
        super().__init__(f"{what} is not allowed in state {state!r}")


class EngineNotRunningError(InvalidStateError):
    """The Engine is not running (never started, or stopped)."""

    def __init__(self, what: str = "this call", state: str = "stopped"):
        super().__init__(what, state)
        self.args = (f"{what} needs a running Engine (the Engine is {state}); "
                     "call Engine().start()",)


class MessagePendingError(SIPCoreError):
    """A MESSAGE to this URI is still waiting for its final response.

    Spec note: "The exception thrown when the application tries to send a MESSAGE too fast
    should be customized", so that applications can queue and send the next one on
    ``SIPEngineGotMessageResponse``.  ``to_uri`` is the URI in question.
    """

    def __init__(self, to_uri: object) -> None:
        self.to_uri = to_uri
        super().__init__(f"a MESSAGE to {to_uri} is still pending; send the next one after "
                         "its SIPEngineGotMessageResponse")
