"""Every PJSIP callback into Python: the ``extern "Python"`` trampolines of ``sipcore.h``.

Each trampoline finds its Python object -- by the token C holds (:data:`_pj.handles`), or the
running UA (:data:`_ua.current`) for callbacks about no object yet -- and hands over to it.
:func:`trampoline` does the common work: it registers the function with cffi so that an
exception never reaches C (it is reported as ``SIPEngineGotException`` and C gets the declared
default).  It adds no Python call of its own (cffi's ``onerror``, not a wrapper): the MESSAGE
trampolines, which run per message, make exactly one call, into ``message.py``; the others
may spend one more on a shared look-up (``_owner``).  Each trampoline first lets the UA
deliver the C events queued before it (log lines, SIP trace), so that they come before the
notifications it makes.

Imports: this module sits on top of what it hands over to::

    _callbacks -> _pj, _ua, primitives.message, primitives.invitation

and only the package (``sipcore/__init__.py``) imports it, so every trampoline is defined
before an Engine can start, and the core (``_ua``, ``engine``) imports no primitive.
"""
from __future__ import annotations

import sys
import traceback
from types import TracebackType
from typing import Any, Callable, TypeVar

from . import _ua
from ._pj import ffi, handles, lib
from .primitives import invitation, message

__all__ = ["trampoline"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _report(exc_type: type[BaseException] | None, exc: BaseException | None,
            tb: TracebackType | None) -> None:
    """cffi's onerror for every trampoline: the exception goes to the running UA (which
    sends ``SIPEngineGotException``), or to stderr without one; nothing reaches C."""
    try:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        ua = _ua.current
        if ua is not None:
            ua.report_exception(text)
        else:
            sys.stderr.write("sipcore: exception in a PJSIP callback\n" + text)
    except BaseException:  # never into C
        pass


def trampoline(name: str, default: Any = None) -> Callable[[_F], _F]:
    """Define the extern "Python" function ``name``; on an exception C gets ``default``."""

    def decorate(fn: _F) -> _F:
        kwargs = {} if default is None else {"error": default}
        ffi.def_extern(name=name, onerror=_report, **kwargs)(fn)
        return fn

    return decorate


def _drain() -> None:
    ua = _ua.current
    if ua is not None:
        ua.drain_c_events()


def _owner(token: int) -> Any:
    """The object C holds ``token`` for (None: released), the C queue drained first."""
    if lib.sc_q_count:
        _drain()
    return _get(token)


_get = handles.get
_pop = handles.pop


# ---- the core: timers ------------------------------------------------------------------------

@trampoline("sc_py_on_timer")
def _on_timer(heap: Any, entry: Any) -> None:
    if lib.sc_q_count:
        _drain()
    ua = _ua.current
    if ua is not None:
        ua.on_timer(lib.sc_timer_id(entry))


# ---- MESSAGE (hot: one call into message.py each) ---------------------------------------------

@trampoline("sc_py_on_message_final")
def _on_message_final(token: int, code: int, reason: Any, reason_len: int,
                      transport_err: int) -> None:
    if lib.sc_q_count:
        _drain()
    pm = _pop(token, None)          # the request's last callback: its token goes too
    if pm is not None:
        pm.finished(code, reason, reason_len, transport_err)


@trampoline("sc_py_on_message")
def _on_message(rdata: Any, flat: Any, used: int, to_len: int, from_len: int, ctype_len: int,
                body_len: int) -> None:
    if lib.sc_q_count:
        _drain()
    ua = _ua.current
    if ua is not None and ua.running:
        message.on_incoming(ua, rdata, flat, used, to_len, from_len, ctype_len, body_len)


# ---- Registration, Publication, Subscription -----------------------------------------------------

@trampoline("sc_py_on_client")
def _on_client(token: int, kind: int, result: Any) -> None:
    owner = _owner(token)
    if owner is not None:
        owner.on_client(kind, result)


# ---- Invitation ------------------------------------------------------------------------------

@trampoline("sc_py_inv_event")
def _on_inv_event(token: int, inv: Any, ev: Any) -> None:
    obj = _owner(token)
    if obj is not None:
        obj._on_event(inv, ev)


@trampoline("sc_py_inv_incoming", default=0)
def _on_inv_incoming(inv: Any, rdata: Any, transport: Any) -> int:
    if lib.sc_q_count:
        _drain()
    ua = _ua.current
    if ua is None or not ua.running or ua._stopping:
        return 0
    return 1 if invitation.on_incoming(ua, inv, rdata, ffi.string(transport).decode()) else 0
