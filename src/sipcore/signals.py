"""Every notification of the SIP core API, as a blinker signal.

A notification is sent as ``signal.send(sender, **data)``: ``sender`` is the object it is
about (the :class:`~sipcore.Engine` for engine-wide ones) and ``data`` holds exactly the
keyword data the spec lists, plus ``timestamp`` (a timezone-aware ``datetime``).  Receivers
run on the Engine's poll thread (``SIPEngineWillStart`` alone runs on the thread that calls
``Engine.start()``, before the poll thread exists).  An exception in a receiver is reported
as ``SIPEngineGotException`` and never stops the poll thread.

Connect to one notification::

    from sipcore import signals
    @signals.SIPEngineGotMessage.connect
    def on_message(sender, **data):
        print(data["from_uri"], data["body"])

Or observe every notification in one place (logging, ladders, tests)::

    signals.any_notification.connect(lambda sender, notification: print(notification))

or record them and wait for one: :class:`NotificationRecorder`.

Engine notifications and their data (each also has ``timestamp``):

``SIPEngineWillStart``            (none)
``SIPEngineDidStart``             (none)
``SIPEngineDidFail``              (none)
``SIPEngineWillEnd``              (none)
``SIPEngineDidEnd``               (none)
``SIPEngineLog``                  ``sender`` (str: the PJSIP module that logged), ``level``
                                  (int 1..5, 1 most critical), ``message`` (str).  Blinker
                                  passes the notification's sender (the Engine) as the
                                  receiver's first argument, so to receivers the module
                                  arrives as the keyword ``log_sender``; a Notification
                                  (recorder, ``any_notification``) has it as ``data.sender``
                                  exactly as the spec says, and ``data.log_sender`` too.
``SIPEngineSIPTrace``             ``received`` (bool), ``source_ip`` (str), ``source_port``
                                  (int), ``destination_ip`` (str), ``destination_port``
                                  (int), ``data`` (str: the message as on the wire)
``SIPEngineGotMessage``           ``to_uri``, ``from_uri`` (SIPURI), ``content_type`` (str,
                                  "type/subtype"), ``body`` (bytes)
``SIPEngineGotMessageResponse``   ``to_uri`` (the SIPURI given to send_message), ``code``
                                  (int), ``reason`` (str)
``SIPEngineGotException``         ``traceback`` (str)

Primitive notifications (sender: the primitive object):

``SIPRegistrationChangedState``   ``state``; ``code``, ``reason`` when a response caused it;
                                  ``contact_uri`` (str), ``expires`` (int),
                                  ``contact_uri_list`` (list of str) on success
``SIPPublicationChangedState``    ``state``; ``code``, ``reason`` when a response caused it
``SIPSubscriptionChangedState``   ``state``; ``code``, ``reason`` when a response caused it
``SIPSubscriptionGotNotify``      ``content_type`` (str "type/subtype"), ``body`` (bytes)
``SIPInvitationChangedState``     ``prev_state``, ``state`` (the Invitation's state names);
                                  when a received request caused it: ``method`` (str),
                                  ``request_uri`` (SIPURI or None); when a received response,
                                  a timeout or an error caused it: ``code`` (int), ``reason``
                                  (str); when a received message caused it: ``headers`` (dict
                                  name -> value as printed by PJSIP, repeated headers joined
                                  with ", "), ``body`` (str, or None without a body)
``SIPInvitationGotSDPUpdate``      ``succeeded`` (bool); ``local_sdp``, ``remote_sdp``
                                  (SDPSession) on success, ``error`` (str) on failure

(``SIPEngineDetectedNATType`` comes with NAT detection, a later feature.)
"""
from __future__ import annotations

import datetime
import threading
import time
import weakref
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable, Iterable

from blinker import NamedSignal, Signal
from blinker.base import ANY, ANY_ID

__all__ = ["NOTIFICATIONS", "Notification", "NotificationRecorder", "any_notification",
           "notify", "wait_for"]


class _Signal(NamedSignal):
    """A blinker signal that remembers who receives it from any sender.

    Every notification asks "who receives this from ``sender``?"; blinker answers with a
    generator that rebuilds a set each time.  This subclass keeps the receivers connected
    for any sender (the usual way) in a tuple, rebuilt after each ``connect`` or
    disconnection, and asks blinker only while some receiver of this signal is connected
    for a particular sender.  Everything else is blinker's.
    """

    def __init__(self, name: str, doc: str | None = None) -> None:
        super().__init__(name, doc)
        self._any: tuple | None = None     # entries connected for ANY sender, or None
        self._any_strong = False           # ... and none of them is a weak reference
        self._specific = False             # receivers connected for particular senders (or were)
        #: the receivers of every sender when that is simply ``_any`` (all strong, none
        #: sender-specific), else None: what notify() iterates without calling anything
        self._fast: tuple | None = None

    def connect(self, receiver: Any, sender: Any = ANY, weak: bool = True) -> Any:
        self._any = self._fast = None
        if sender is not ANY:
            self._specific = True
        return super().connect(receiver, sender, weak)

    def _disconnect(self, receiver_id: Any, sender_id: Any) -> None:
        self._any = self._fast = None
        super()._disconnect(receiver_id, sender_id)
        self._specific = any(bucket for sid, bucket in self._by_sender.items() if sid != ANY_ID)

    def receivers_list(self, sender: Any) -> tuple | list:
        """``list(self.receivers_for(sender))``: the live receivers for ``sender``."""
        if self._specific:
            return list(self.receivers_for(sender))    # sender-specific receivers: blinker
        entries = self._any
        if entries is None:
            receivers = self.receivers
            entries = self._any = tuple(receivers[rid] for rid in self._by_sender.get(ANY_ID, ())
                                        if rid in receivers)
            self._any_strong = not any(isinstance(r, weakref.ref) for r in entries)
            if self._any_strong:
                self._fast = entries
        if self._any_strong:
            return entries
        out = []
        for receiver in entries:
            if isinstance(receiver, weakref.ref):
                receiver = receiver()
                if receiver is None:        # died: blinker disconnects it (weakref callback)
                    continue
            out.append(receiver)
        return out


#: name -> documentation of its data; the single list of every notification.
NOTIFICATIONS: dict[str, str] = {
    "SIPEngineWillStart": "The Engine is about to start.",
    "SIPEngineDidStart": "The Engine has started.",
    "SIPEngineDidFail": "The Engine failed fatally: it could not start or is about to stop.",
    "SIPEngineWillEnd": "The Engine is about to stop because stop() was called.",
    "SIPEngineDidEnd": "The Engine was running and has stopped.",
    "SIPEngineLog": "A PJSIP log line: sender (PJSIP module), level (1-5), message.",
    "SIPEngineSIPTrace": "A SIP message on the wire: received, source_ip, source_port, "
                         "destination_ip, destination_port, data.",
    "SIPEngineGotMessage": "An incoming MESSAGE (answered 200): to_uri, from_uri, "
                           "content_type ('type/subtype'), body (bytes).",
    "SIPEngineGotMessageResponse": "The final response to send_message(): to_uri, code, reason.",
    "SIPEngineGotException": "An unexpected exception on the poll thread: traceback.",
    "SIPRegistrationChangedState": "A Registration changed state: state; code, reason on a "
                                   "response; contact_uri, expires, contact_uri_list on success.",
    "SIPPublicationChangedState": "A Publication changed state: state; code, reason on a response.",
    "SIPSubscriptionChangedState": "A Subscription changed state: state; code, reason on a response.",
    "SIPSubscriptionGotNotify": "A NOTIFY with a body for a Subscription: content_type "
                                "('type/subtype'), body (bytes).",
    "SIPInvitationChangedState": "An Invitation changed state: prev_state, state; method, "
                                 "request_uri (a request) or code, reason (a response, "
                                 "timeout or error); headers, body (a received message).",
    "SIPInvitationGotSDPUpdate": "An Invitation completed an SDP offer/answer: succeeded; "
                                 "local_sdp, remote_sdp on success, error on failure.",
}

SIPEngineWillStart: Signal = _Signal("SIPEngineWillStart", NOTIFICATIONS["SIPEngineWillStart"])
SIPEngineDidStart: Signal = _Signal("SIPEngineDidStart", NOTIFICATIONS["SIPEngineDidStart"])
SIPEngineDidFail: Signal = _Signal("SIPEngineDidFail", NOTIFICATIONS["SIPEngineDidFail"])
SIPEngineWillEnd: Signal = _Signal("SIPEngineWillEnd", NOTIFICATIONS["SIPEngineWillEnd"])
SIPEngineDidEnd: Signal = _Signal("SIPEngineDidEnd", NOTIFICATIONS["SIPEngineDidEnd"])
SIPEngineLog: Signal = _Signal("SIPEngineLog", NOTIFICATIONS["SIPEngineLog"])
SIPEngineSIPTrace: Signal = _Signal("SIPEngineSIPTrace", NOTIFICATIONS["SIPEngineSIPTrace"])
SIPEngineGotMessage: Signal = _Signal("SIPEngineGotMessage", NOTIFICATIONS["SIPEngineGotMessage"])
SIPEngineGotMessageResponse: Signal = _Signal(
    "SIPEngineGotMessageResponse", NOTIFICATIONS["SIPEngineGotMessageResponse"])
SIPEngineGotException: Signal = _Signal(
    "SIPEngineGotException", NOTIFICATIONS["SIPEngineGotException"])

SIPRegistrationChangedState: Signal = _Signal(
    "SIPRegistrationChangedState", NOTIFICATIONS["SIPRegistrationChangedState"])
SIPPublicationChangedState: Signal = _Signal(
    "SIPPublicationChangedState", NOTIFICATIONS["SIPPublicationChangedState"])
SIPSubscriptionChangedState: Signal = _Signal(
    "SIPSubscriptionChangedState", NOTIFICATIONS["SIPSubscriptionChangedState"])
SIPSubscriptionGotNotify: Signal = _Signal(
    "SIPSubscriptionGotNotify", NOTIFICATIONS["SIPSubscriptionGotNotify"])
SIPInvitationChangedState: Signal = _Signal(
    "SIPInvitationChangedState", NOTIFICATIONS["SIPInvitationChangedState"])
SIPInvitationGotSDPUpdate: Signal = _Signal(
    "SIPInvitationGotSDPUpdate", NOTIFICATIONS["SIPInvitationGotSDPUpdate"])

#: name -> signal
_SIGNALS: dict[str, _Signal] = {name: globals()[name] for name in NOTIFICATIONS}

#: Sent after every notification with ``notification=`` a :class:`Notification`.
any_notification: _Signal = _Signal("any_notification",
                                    "Every sipcore notification, as a Notification object.")


@dataclass(frozen=True)
class Notification:
    """One notification: ``name``, ``sender`` and ``data`` (attribute access, as in the spec)."""

    name: str
    sender: Any
    data: SimpleNamespace = field(default_factory=SimpleNamespace)

    def __getitem__(self, key: str) -> Any:
        return getattr(self.data, key)


_exception_reporter: Callable[[str], None] | None = None


def notify(name: str, sender: Any, **data: Any) -> Notification | None:
    """Send notification ``name`` (adds ``timestamp``).  Receiver errors are reported."""
    sig = _SIGNALS[name]
    if not sig.receivers and not any_notification.receivers:
        return None                 # nobody listens: build nothing
    if "timestamp" not in data:
        data["timestamp"] = _now(_UTC)
    if sig.receivers:
        receivers = sig._fast
        for receiver in receivers if receivers is not None else sig.receivers_list(sender):
            try:
                receiver(sender, **data)
            except Exception:
                _receiver_failed(sig)
    if not any_notification.receivers:
        return None
    ns = dict(data)
    if "log_sender" in ns:  # SIPEngineLog: the spec's data name, see the module docstring
        ns["sender"] = ns["log_sender"]
    n = Notification(name, sender, SimpleNamespace(**ns))
    for receiver in any_notification.receivers_list(sender):
        try:
            receiver(sender, notification=n)
        except Exception:
            _receiver_failed(any_notification)
    return n


_now = datetime.datetime.now
_UTC = datetime.timezone.utc


def _receiver_failed(sig: Signal) -> None:
    """Report the exception a receiver of ``sig`` just raised (never raises itself)."""
    import traceback
    tb = traceback.format_exc()
    if sig is SIPEngineGotException or _exception_reporter is None:
        import sys
        sys.stderr.write("sipcore: exception in a notification receiver\n" + tb)
    else:
        _exception_reporter(tb)


def has_receivers(name: str) -> bool:
    return bool(_SIGNALS[name].receivers) or bool(any_notification.receivers)


class NotificationRecorder:
    """Record notifications (all, or only ``names``) and wait for them.

    Made for tests and notebooks: start recording *before* the action, then wait, so
    nothing is missed however fast the answer comes::

        with NotificationRecorder() as rec:
            send_message(creds, uri, "text/plain", "hi", route)
            n = rec.wait_for("SIPEngineGotMessageResponse", timeout=5)
            assert n.data.code == 200

    ``wait_for`` returns the first matching notification not yet returned by an earlier
    ``wait_for`` (each is returned once), or raises ``TimeoutError``.
    """

    def __init__(self, names: Iterable[str] | None = None, sender: Any = None):
        self.names = set(names) if names is not None else None
        self.sender = sender
        self.notifications: list[Notification] = []
        self._taken: set[int] = set()
        self._cond = threading.Condition()
        self._connected = False

    def _on(self, sender: Any, notification: Notification) -> None:
        if self.names is not None and notification.name not in self.names:
            return
        if self.sender is not None and sender is not self.sender:
            return
        with self._cond:
            self.notifications.append(notification)
            self._cond.notify_all()

    def start(self) -> "NotificationRecorder":
        if not self._connected:
            any_notification.connect(self._on, weak=False)
            self._connected = True
        return self

    def stop(self) -> None:
        if self._connected:
            any_notification.disconnect(self._on)
            self._connected = False

    def __enter__(self) -> "NotificationRecorder":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def names_seen(self, *names: str) -> list[str]:
        with self._cond:
            return [n.name for n in self.notifications if not names or n.name in names]

    def all(self, name: str | None = None) -> list[Notification]:
        with self._cond:
            return [n for n in self.notifications if name is None or n.name == name]

    def wait_for(self, name: str, timeout: float = 10.0, sender: Any = None,
                 where: Callable[[Notification], bool] | None = None) -> Notification:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, n in enumerate(self.notifications):
                    if i in self._taken or n.name != name:
                        continue
                    if sender is not None and n.sender is not sender:
                        continue
                    if where is not None and not where(n):
                        continue
                    self._taken.add(i)
                    return n
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {name} notification within {timeout} s "
                                       f"(recorded: {len(self.notifications)})")
                self._cond.wait(left)


def wait_for(name: str, action: Callable[[], Any] | None = None, timeout: float = 10.0,
             sender: Any = None, where: Callable[[Notification], bool] | None = None) -> Notification:
    """Run ``action`` (if given) and wait for the next notification ``name`` matching."""
    with NotificationRecorder([name]) as rec:
        if action is not None:
            action()
        return rec.wait_for(name, timeout=timeout, sender=sender, where=where)

