"""The queued, refreshing machine Registration and Publication share (its rows:
``_states.refreshing``).

The queue: a request (``send``: register()/publish(), ``send_end``: unregister()/unpublish(),
``refresh``: the timer) is kept in ``_wanted`` and the last one wins; it is sent when no
transaction is in progress, and one made while a final response is being handled is sent from
the poll loop right after it (see ``_defer_advance``).  A request the current state has no row
for is dropped (unregister() while unregistered: the spec sends it only "if the object is
registered").  After a 2xx that makes the object active the refresh timer is armed from the
expiry the server granted.  The subclasses say how a request is made and sent, what a response
carries, and what is dropped when the object is idle again.

``timeout`` (an extension, like send_message's): seconds each request may wait for its final
response; when none came by then, the request ends as if a ``408 Request Timeout`` had come (the
failure state: unregistered/unpublished), and a late answer is ignored (a failover to the next
address of the server's name is a request of its own, with its own timeout).  None: PJSIP's
transaction timeout (Timer F, 32 s).
"""
from __future__ import annotations

from typing import Any

from .. import _reprs
from .._pj import lib, strerror
from ._base import TIMEOUT_REASON, ClientPrimitive, check_expires, timeout_property
from ._states import Table


def refresh_delay(expires: int) -> float:
    return max(expires * 0.5, expires - 10.0) if expires > 0 else 0.0


class RefreshingPrimitive(ClientPrimitive):
    """Registration and Publication: a settable ``expires``, the queue and one refresh timer."""

    _table: Table                # the subclass's rows, in its state names
    _state: str
    _expires: int
    _states: tuple[str, str, str, str]   # its (idle, sending, active, ending)
    _timer: Any = None           # the refresh timer
    _kick: Any = None            # timer sending a queued request right after a final response
    _in_callback = False         # handling a final response (see _defer_advance)
    _wanted: tuple[str, Any] | None = None   # (event, payload) queued: the last call wins
    _attempt = 0                 # requests sent
    _answered = 0                # of them, answered (a late or duplicate answer is ignored)
    _sent_event: str | None = None      # the event of the request in progress
    _end_result: tuple[int, str] | None = None   # Engine.stop(): the removal's final answer
    _was_active = False          # a 2xx made it active since it was last idle
    _sent: Any = None            # (event, payload, pjsip_tx_data * we hold) of the last request

    timeout = timeout_property("Seconds a request may wait for its final response (then: "
                               "408); None: PJSIP's")

    @property
    def expires(self) -> int:
        """Seconds to ask for; may be changed at any time: the next request uses it."""
        return self._expires

    @expires.setter
    def expires(self, value: int) -> None:
        self._expires = check_expires(value)

    # -- the machine --

    def _fire(self, event: str, **data: Any) -> None:
        prev, self._state = self._state, self._table.next(self._state, event)
        _reprs.note(self, prev, self._state, data)
        self._changed(**data)

    def _request(self, event: str, payload: Any = None) -> None:
        self._wanted = (event, payload)
        self._advance()

    def _advance(self) -> None:
        idle, sending, active, ending = self._states
        if self._state in (sending, ending) or self._wanted is None:
            return  # queued until the final response
        if self._in_callback:
            self._defer_advance()   # queued during the transaction or made by a receiver
            return
        (event, payload), self._wanted = self._wanted, None
        if self._table.allows(self._state, event):
            self._send(event, payload)

    def _defer_advance(self) -> None:
        """Send the queued request from the poll loop right after the final response being
        handled: every receiver then sees that response's state change before the next one
        is notified, and PJSIP (which counts a publication busy until its callback returns)
        accepts the request."""
        if self._kick is None:
            self._kick = self._ua.schedule(0, self._on_kick)

    def _on_kick(self) -> None:
        self._kick = None
        self._advance()

    def _cancel_kick(self) -> None:
        self._ua.cancel(self._kick)
        self._kick = None

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._ua.cancel(self._timer)
            self._timer = None

    def _send(self, event: str, payload: Any, transition: bool = True,
              failover_from: Any = None) -> None:
        """Make and send the request; ``transition=False``: a re-send within the transaction;
        ``failover_from``: the request it replaces, whose next resolved address it goes to."""
        self._cancel_timer()
        self._cancel_kick()
        self._cancel_deadline()
        tdata = self._create_request(event, payload)
        self._sent_event = event
        if failover_from is not None:
            lib.sc_tdata_failover(failover_from, tdata)
        self._drop_sent()
        lib.pjsip_tx_data_add_ref(tdata)          # kept for a failover (RFC 3263 4.3)
        self._sent = (event, payload, tdata)
        self._attempt += 1
        attempt = self._attempt
        if transition:
            self._fire(event)
        status = self._send_request(tdata)
        if status != lib.PJ_SUCCESS and self._answered < attempt:
            # PJSIP may not call back when sending fails at once
            self._answered = attempt
            self._finished(503, f"Service Unavailable ({strerror(status)})")
        elif self._answered < attempt:
            self._arm_deadline()

    def _on_deadline(self) -> None:
        """``timeout`` passed without a final response: the request ends with 408."""
        self._deadline = None
        _, sending, _, ending = self._states
        if self._state in (sending, ending) and self._answered < self._attempt:
            self._answered = self._attempt
            self._finished(408, TIMEOUT_REASON)

    def on_client(self, kind: int, result: Any) -> None:
        _, sending, _, ending = self._states
        if self._state not in (sending, ending) or self._answered >= self._attempt:
            return  # late or duplicate
        self._answered = self._attempt
        self._cancel_deadline()
        self._in_callback = True
        try:
            if not self._failover(result):
                self._on_response(result)
        finally:
            self._in_callback = False

    def _failover(self, result: Any) -> bool:
        """RFC 3263 4.3: a 503 or a timeout (or a transport error: no response) from one of the
        servers a name resolved to sends the same request to the next one (from the poll loop:
        PJSIP counts the client busy until this callback returns); nothing is notified until
        the last server tried answers."""
        sent = self._sent
        if sent is None or not (result.code in (408, 503) or result.code <= 0):
            return False
        if not lib.sc_tdata_can_failover(sent[2]):
            return False
        self._kick = self._ua.schedule(0, self._on_failover)
        return True

    def _on_failover(self) -> None:
        self._kick = None
        event, payload, old = self._sent
        lib.pjsip_tx_data_add_ref(old)            # (_send lets self._sent go)
        try:
            self._send(event, payload, transition=False, failover_from=old)
        finally:
            lib.pjsip_tx_data_dec_ref(old)

    def _drop_sent(self) -> None:
        if self._sent is not None:
            lib.pjsip_tx_data_dec_ref(self._sent[2])
            self._sent = None

    def _finished(self, code: int, reason: str, granted: int | None = None,
                  **data: Any) -> None:
        """The final response (or a failure to send): ``granted`` is the expiry the server
        granted, ``data`` what a success notifies besides code and reason."""
        idle, _, active, _ = self._states
        if self._sent_event == "send_end":
            self._end_result = (code, reason)
        if 200 <= code < 300:
            self._fire("ok", code=code, reason=reason, **data)
            self._was_active = self._state == active
            if self._state == active:
                self._timer = self._ua.schedule(refresh_delay(granted or self._expires),
                                                self._on_refresh)
        else:
            self._fire("fail", code=code, reason=reason)
        if self._state == idle:
            self._was_active = False
            self._drop_sent()
            self._ended()
        self._advance()

    def _on_refresh(self) -> None:
        self._timer = None
        if self._state == self._states[2] and self._wanted is None:
            self._request("refresh")

    def _end_on_wire(self) -> bool:
        """Engine.stop(): unregister()/unpublish() (queued behind a request in progress).
        Not when nothing can be on the server: idle, or the first request still waiting for
        its name to resolve (it never left)."""
        idle, sending, _, _ = self._states
        if self._state == idle:
            return False
        if (self._state == sending and not self._was_active and self._sent is not None
                and not lib.sc_tdata_resolved(self._sent[2])):
            return False
        self._cancel_timer()
        self._end_result = None
        self._request("send_end")
        return True

    def _end_pending(self) -> bool:
        return self._state != self._states[0]

    def _end_failure(self) -> str | None:
        if self._state != self._states[0]:
            return "no final response in time"
        if self._end_result is not None and not 200 <= self._end_result[0] < 300:
            return f"{self._end_result[0]} {self._end_result[1]}"
        return None

    def _engine_stopping(self) -> None:
        self._cancel_timer()
        self._cancel_kick()
        self._cancel_deadline()
        self._drop_sent()
        self._ended()
        if self._state != self._table.initial:
            self._fire("engine_stop")

    # -- the subclass's part --

    def _changed(self, **data: Any) -> None:
        raise NotImplementedError   # notify the new state

    def _create_request(self, event: str, payload: Any) -> Any:
        raise NotImplementedError   # the pjsip_tx_data * of the request for the event

    def _send_request(self, tdata: Any) -> int:
        raise NotImplementedError   # send it: the status

    def _on_response(self, result: Any) -> None:
        raise NotImplementedError   # read the final response, then _finished()

    def _ended(self) -> None:
        raise NotImplementedError   # idle again: drop the PJSIP object, release the token
