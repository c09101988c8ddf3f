"""asyncio: ``await`` sipcore's notifications and its long operations.

sipcore delivers every notification on its poll thread.  This module hands the ones an
``await`` waits for to the event loop that awaits (``loop.call_soon_threadsafe``; the poll
thread never waits for the loop), so coroutines, ``asyncio.run`` and Jupyter's own running
loop (top-level ``await`` in a cell) can use sipcore without threads of their own::

    import asyncio
    from sipcore import Credentials, Engine, Registration, Route, SIPURI, aio

    async def main():
        Engine().start(local_ip="127.0.0.1")
        reg = Registration(Credentials(SIPURI("127.0.0.1", user="alice"), "secret"),
                           Route("127.0.0.1", 5060))
        n = await aio.register(reg, timeout=10)          # registered, or OperationFailed
        print("registered for", n.data.expires, "s")
        code, reason = await aio.send_message(creds, bob, "text/plain", "hi", route)
        inv = Invitation(creds, bob, route)
        inv.set_offered_local_sdp(sdp)
        await aio.call(inv, timeout=30)                  # send_invite(), then CONFIRMED
        got = await aio.wait_for("SIPEngineGotMessage", timeout=30)
        await aio.hang_up(inv)                           # disconnect(), then DISCONNECTED
        await aio.unregister(reg)
        Engine().stop()

    asyncio.run(main())

**Waiting.**  :func:`wait_for` returns the next notification of a name (optionally from one
``sender`` and matching ``where``), ``timeout`` seconds at most (``TimeoutError``).  Give it
``action`` (a function) to run once the wait is in place, so an answer that comes at once is
not missed.  :func:`notifications` is an ``async with``/``async for`` stream of every
notification of some names.  The operations -- :func:`register`, :func:`unregister`,
:func:`send_message`, :func:`call` (``confirmed``), :func:`answer`, :func:`hang_up`
(``ended``), :func:`subscribe`, :func:`publish` -- start the request and wait for the state
that ends it; a state that means failure (``unregistered`` after ``registering``,
``DISCONNECTED`` before ``CONFIRMED``...) raises :class:`OperationFailed` carrying the
notification at once instead of waiting out the timeout.  :func:`state` waits for any state of
any primitive (returns at once when it holds already).

**Cancelling.**  A wait that is cancelled or times out disconnects its receiver at once; a
notification that arrives meanwhile is dropped, never delivered to a finished wait.  Cancelling
:func:`call` does not hang up: the Invitation is the caller's to end.

**Threads.**  The requests themselves are sipcore's ordinary blocking methods: called on the
loop's thread they return after a few microseconds (the poll thread runs them), so they are
called directly.  A receiver connected with blinker as usual still runs on the poll thread.

Inside Jupyter, ``await aio.register(reg)`` in a cell works as written: IPython runs the cell in
its running loop.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any, Callable

from . import signals
from .errors import SIPCoreError
from .signals import Notification

__all__ = ["OperationFailed", "wait_for", "notifications", "state", "register", "unregister",
           "send_message", "call", "answer", "hang_up", "subscribe", "unsubscribe",
           "publish", "unpublish"]


class OperationFailed(SIPCoreError):
    """A long operation ended in a state that means failure: ``notification`` is the
    notification that said so (its ``data.code``/``data.reason`` when a response did)."""

    def __init__(self, what: str, notification: Notification):
        self.notification = notification
        d = notification.data
        why = " ".join(str(x) for x in (getattr(d, "code", ""), getattr(d, "reason", ""))
                       if x != "")
        state = getattr(d, "state", None)
        super().__init__(f"{what} failed: {notification.name}"
                         + (f" state {state!r}" if state is not None else "")
                         + (f" ({why})" if why else ""))


class _Waiter:
    """A receiver of ``any_notification`` on the poll thread that hands matching
    notifications to ``deliver`` on the loop's thread, until closed."""

    def __init__(self, names: Iterable[str] | None, sender: Any,
                 where: Callable[[Notification], bool] | None,
                 deliver: Callable[[Notification], None]):
        self.names = None if names is None else frozenset(names)
        self.sender = sender
        self.where = where
        self.deliver = deliver
        self.loop = asyncio.get_running_loop()
        self.closed = False
        signals.any_notification.connect(self._on, weak=False)

    def _on(self, sender: Any, notification: Notification) -> None:     # poll thread
        if self.closed or (self.names is not None and notification.name not in self.names):
            return
        if self.sender is not None and sender is not self.sender:
            return
        if self.where is not None and not self.where(notification):
            return
        try:
            self.loop.call_soon_threadsafe(self._deliver, notification)
        except RuntimeError:            # the loop is closed: nobody waits any more
            self.close()

    def _deliver(self, notification: Notification) -> None:              # loop thread
        if not self.closed:
            self.deliver(notification)

    def close(self) -> None:
        self.closed = True
        signals.any_notification.disconnect(self._on)


def _check_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    if name not in signals.NOTIFICATIONS:
        raise ValueError(f"name: no notification {name!r} (see sipcore.signals.NOTIFICATIONS)")
    return name


async def wait_for(name: str, *, sender: Any = None,
                   where: Callable[[Notification], bool] | None = None,
                   fail_on: Callable[[Notification], bool] | None = None,
                   timeout: float | None = None,
                   action: Callable[[], Any] | None = None,
                   what: str | None = None) -> Notification:
    """The next notification ``name`` (from ``sender``, matching ``where``), as a
    :class:`~sipcore.signals.Notification`.

    ``action`` is called once the wait is in place.  A notification of the same name and
    sender for which ``fail_on`` is true raises :class:`OperationFailed` (``what`` names the
    operation in its message).  ``TimeoutError`` after ``timeout`` seconds (None: no limit).
    """
    _check_name(name)
    future: asyncio.Future[Notification] = asyncio.get_running_loop().create_future()

    def deliver(n: Notification) -> None:
        if future.done():
            return
        if fail_on is not None and fail_on(n):
            future.set_exception(OperationFailed(what or f"waiting for {name}", n))
        elif where is None or where(n):
            future.set_result(n)

    waiter = _Waiter([name], sender, None, deliver)
    try:
        if action is not None:
            action()
        return await asyncio.wait_for(future, timeout)
    finally:
        waiter.close()


class _Stream:
    """``async with notifications(...) as stream: async for n in stream: ...``"""

    def __init__(self, names: Iterable[str] | None, sender: Any,
                 where: Callable[[Notification], bool] | None):
        self.names = None if names is None else [_check_name(n) for n in names]
        self.sender = sender
        self.where = where
        self.queue: asyncio.Queue[Notification] = asyncio.Queue()
        self.waiter: _Waiter | None = None

    async def __aenter__(self) -> _Stream:
        self.waiter = _Waiter(self.names, self.sender, self.where, self.queue.put_nowait)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.waiter is not None:
            self.waiter.close()

    def __aiter__(self) -> AsyncIterator[Notification]:
        return self

    async def __anext__(self) -> Notification:
        if self.waiter is None:
            raise RuntimeError("use the stream inside 'async with notifications(...)'")
        if self.waiter.closed and self.queue.empty():
            raise StopAsyncIteration
        n: Notification = await self.queue.get()
        return n

    async def next(self, timeout: float | None = None) -> Notification:
        """The next notification, ``timeout`` seconds at most (``TimeoutError``)."""
        return await asyncio.wait_for(self.__anext__(), timeout)


def notifications(*names: str, sender: Any = None,
                  where: Callable[[Notification], bool] | None = None) -> _Stream:
    """Every notification of ``names`` (all when none is given), in order, from the moment
    the ``async with`` block is entered until it is left."""
    return _Stream(names or None, sender, where)


# ---- states of primitives ----------------------------------------------------------------------

_SIGNAL_OF = {"Registration": "SIPRegistrationChangedState",
              "Publication": "SIPPublicationChangedState",
              "Subscription": "SIPSubscriptionChangedState",
              "Invitation": "SIPInvitationChangedState"}


def _signal_name(obj: Any) -> str:
    for cls in type(obj).__mro__:
        if cls.__name__ in _SIGNAL_OF and cls.__module__.startswith("sipcore."):
            return _SIGNAL_OF[cls.__name__]
    raise TypeError("obj must be a Registration, Publication, Subscription or Invitation, "
                    f"not {type(obj).__name__}")


async def state(obj: Any, wanted: str | Iterable[str], *, fail_on: Iterable[str] = (),
                timeout: float | None = None, action: Callable[[], Any] | None = None,
                what: str | None = None) -> Notification | None:
    """Wait until ``obj`` (a Registration, Publication, Subscription or Invitation) is in one
    of the states ``wanted``: its notification, or None when it is there already (and no
    ``action`` is given).  A change to a state of ``fail_on`` raises :class:`OperationFailed`."""
    name = _signal_name(obj)
    wanted = {wanted} if isinstance(wanted, str) else set(wanted)
    failing = set(fail_on)
    if action is None and obj.state in wanted:
        return None
    return await wait_for(name, sender=obj, where=lambda n: n.data.state in wanted,
                          fail_on=lambda n: n.data.state in failing, timeout=timeout,
                          action=action,
                          what=what or f"{type(obj).__name__} to {'/'.join(sorted(wanted))}")


async def _end(obj: Any, idle: str, method: Callable[[], Any], timeout: float | None,
               what: str | None = None) -> Notification | None:
    """Call ``method`` and wait for the ``idle`` state; None at once when ``obj`` is idle."""
    if obj.state == idle:
        return None
    return await state(obj, idle, timeout=timeout, action=method,
                       what=what or f"{getattr(method, '__name__', 'ending')}()")


async def register(registration: Any, *, timeout: float | None = None) -> Notification | None:
    """``registration.register()``, then wait for ``registered`` (its notification: ``code``,
    ``expires``, ``contact_uri_list``); ``unregistered`` raises :class:`OperationFailed`."""
    return await state(registration, "registered", fail_on=["unregistered"], timeout=timeout,
                       action=registration.register, what="register()")


async def unregister(registration: Any, *, timeout: float | None = None) -> Notification | None:
    """``registration.unregister()``, then wait for ``unregistered``."""
    return await _end(registration, "unregistered", registration.unregister, timeout)


async def publish(publication: Any, content_type: str, body: str | bytes, *,
                  timeout: float | None = None) -> Notification | None:
    """``publication.publish(content_type, body)``, then wait for ``published``;
    ``unpublished`` raises :class:`OperationFailed`."""
    return await state(publication, "published", fail_on=["unpublished"], timeout=timeout,
                       action=lambda: publication.publish(content_type, body),
                       what="publish()")


async def unpublish(publication: Any, *, timeout: float | None = None) -> Notification | None:
    """``publication.unpublish()``, then wait for ``unpublished``."""
    return await _end(publication, "unpublished", publication.unpublish, timeout)


async def subscribe(subscription: Any, *, timeout: float | None = None) -> Notification | None:
    """``subscription.subscribe()``, then wait for ``ACCEPTED``, ``PENDING`` or ``ACTIVE``
    (the server took it); ``TERMINATED`` raises :class:`OperationFailed`."""
    return await state(subscription, ["ACCEPTED", "PENDING", "ACTIVE"],
                       fail_on=["TERMINATED"], timeout=timeout, action=subscription.subscribe,
                       what="subscribe()")


async def unsubscribe(subscription: Any, *, timeout: float | None = None) -> Notification | None:
    """``subscription.unsubscribe()``, then wait for ``TERMINATED``."""
    return await _end(subscription, "TERMINATED", subscription.unsubscribe, timeout)


async def call(invitation: Any, *, timeout: float | None = None,
               extra_headers: dict[str, str] | None = None) -> Notification | None:
    """``invitation.send_invite()``, then wait for ``CONFIRMED`` (the call is up: 200 sent
    and ACKed); ``DISCONNECTED`` first (a 4xx-6xx, a timeout) raises :class:`OperationFailed`
    with its ``code`` and ``reason``."""
    return await state(invitation, "CONFIRMED", fail_on=["DISCONNECTED"], timeout=timeout,
                       action=lambda: invitation.send_invite(extra_headers),
                       what="the call")


async def answer(invitation: Any, *, timeout: float | None = None,
                 extra_headers: dict[str, str] | None = None) -> Notification | None:
    """``invitation.accept_invite()`` (an incoming call), then wait for ``CONFIRMED``."""
    return await state(invitation, "CONFIRMED", fail_on=["DISCONNECTED"], timeout=timeout,
                       action=lambda: invitation.accept_invite(extra_headers),
                       what="answering the call")


async def hang_up(invitation: Any, *, timeout: float | None = None,
                  **kwargs: Any) -> Notification | None:
    """``invitation.disconnect(...)``, then wait for ``DISCONNECTED``; returns at once when
    the call has ended already."""
    return await _end(invitation, "DISCONNECTED", lambda: invitation.disconnect(**kwargs),
                      timeout, "disconnect()")


async def send_message(credentials: Any, to_uri: Any, content_type: str, body: str | bytes,
                       route: Any, *, timeout: float | None = None) -> tuple[int, str]:
    """``sipcore.send_message(...)``, then wait for its final response: ``(code, reason)``.
    ``timeout`` is also the request's own (a 408 when nothing answered by then), so the
    response always comes; no exception for a 4xx-6xx: the code is the answer."""
    from .primitives.message import send_message as send

    n = await wait_for("SIPEngineGotMessageResponse",
                       where=lambda n: n.data.to_uri == to_uri,
                       action=lambda: send(credentials, to_uri, content_type, body, route,
                                           timeout=timeout),
                       timeout=None if timeout is None else timeout + 5)
    return n.data.code, n.data.reason
