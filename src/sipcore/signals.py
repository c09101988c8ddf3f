"""Every notification of the SIP core API, as a blinker signal.

The signals are made from one :class:`blinker.Namespace` (as Flask makes its own); the list
below, each signal with the data it carries, is the only list of them (docs/notifications.md
shows it as a table).  A notification is ``signal.send(sender, **data)`` to its receivers:
``sender`` is the object it is about (the :class:`~sipcore.Engine` for engine-wide ones) and
``data`` holds exactly the keyword data the spec lists, plus ``timestamp`` (a timezone-aware
``datetime`` in UTC, when it happened; for SIPEngineSIPTrace and SIPEngineLog taken in C as the
message crossed or the line was written, not when the poll thread delivered it).  Receivers
run on the Engine's poll thread (``SIPEngineWillStart`` alone runs on the thread that calls
``Engine.start()``, before the poll thread exists).

Connect to one notification::

    from sipcore import signals
    @signals.SIPEngineGotMessage.connect
    def on_message(sender, **data):
        print(data["from_uri"], data["body"])

blinker holds receivers *weakly* unless connected with ``weak=False``: a lambda or a function
defined inside another one is dropped as soon as nothing else refers to it (and is never
called).  Connect those with ``signal.connect(receiver, weak=False)``.

Observe every notification in one place (logging, ladders, tests)::

    signals.any_notification.connect(lambda sender, notification: print(notification),
                                     weak=False)

or record them and wait for one: :class:`NotificationRecorder`.

**In order.**  A notification sent while another is being delivered on the same thread (a
receiver called a method that notifies) is delivered after that one has reached every
receiver, so every receiver sees the notifications in the order they happened.

**Errors.**  An exception raised in a receiver does not stop the other receivers nor the poll
thread: it is sent as ``SIPEngineGotException`` (``traceback``; sender: the Engine, or None
when no Engine runs) and, when nothing receives that signal or its receiver raises too, logged
with its traceback to the ``sipcore`` logger (Python ``logging``).
"""
from __future__ import annotations

import datetime
import logging
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import MethodType, SimpleNamespace
from typing import Any, Callable, Union

from blinker import ANY, NamedSignal, Namespace

__all__ = ["NOTIFICATIONS", "Notification", "NotificationFailed", "NotificationRecorder",
           "any_notification",
           "has_receivers", "notify", "report_exception", "wait_for"]

_signals = Namespace()
_signal = _signals.signal

# ---- the notifications: name, then the data each carries (besides ``timestamp``) ----------

SIPEngineWillStart = _signal("SIPEngineWillStart", "The Engine is about to start.")
SIPEngineDidStart = _signal("SIPEngineDidStart", "The Engine has started.")
SIPEngineDidFail = _signal(
    "SIPEngineDidFail", "The Engine failed fatally: it could not start or is about to stop.")
SIPEngineWillEnd = _signal(
    "SIPEngineWillEnd", "The Engine is about to stop because stop() was called.")
SIPEngineDidEnd = _signal("SIPEngineDidEnd", "The Engine was running and has stopped.")
SIPEngineCouldNotEnd = _signal("SIPEngineCouldNotEnd", """Engine.stop() (or the interpreter's
    exit) sent the request that ends every registration, publication and subscription on its
    server (Expires: 0, all at once) and waited at most 2 s for the answers: these were not
    ended.  ``objects`` (list of the Registration, Publication and Subscription objects),
    ``reasons`` (list of str, in the same order: the failure's code and reason, or "no final
    response in time").  Sent after SIPEngineWillEnd, the 408 "Engine stopped" of MESSAGEs in
    flight and the objects' own state changes,
    before their final "engine stopped" states and SIPEngineDidEnd; not sent when all were
    ended.""")
SIPEngineLog = _signal("SIPEngineLog", """A PJSIP log line: ``log_sender`` (str: the PJSIP
    module that logged), ``level`` (int 1..5, 1 most critical), ``message`` (str).  The spec
    calls the module ``sender``, but blinker passes the notification's sender (the Engine) as
    the receiver's first argument; a Notification has it as ``data.sender`` too.""")
SIPEngineSIPTrace = _signal("SIPEngineSIPTrace", """A SIP message on the wire: ``received``
    (bool), ``source_ip`` (str), ``source_port`` (int), ``destination_ip`` (str),
    ``destination_port`` (int), ``data`` (str: the message as on the wire).""")
SIPEngineGotMessage = _signal("SIPEngineGotMessage", """An incoming MESSAGE (answered 200):
    ``to_uri``, ``from_uri`` (SIPURI), ``content_type`` (str "type/subtype"), ``body``
    (bytes, as sent); when the Content-Type has parameters (a multipart body's
    ``boundary``, a ``charset``) also ``content_type_parameters`` (dict: names lower-cased,
    quotes removed).  With the Engine option ``message_answer="receiver"`` it is not
    answered yet and ``respond`` (a callable) is added: ``respond(code)`` (200-699) in a receiver
    chooses the final response (none: 200), sent when every receiver has returned.""")
SIPEngineGotMessageResponse = _signal("SIPEngineGotMessageResponse", """The final response to
    send_message(): ``to_uri`` (the SIPURI given to send_message), ``code`` (int), ``reason``
    (str).""")
SIPEngineGotException = _signal("SIPEngineGotException", """An unexpected exception, in a
    receiver or on the poll thread: ``traceback`` (str).""")
SIPRegistrationChangedState = _signal("SIPRegistrationChangedState", """A Registration
    changed state: ``state``; ``code``, ``reason`` when a response caused it; ``contact_uri``
    (str), ``expires`` (int), ``contact_uri_list`` (list of str) on success.""")
SIPPublicationChangedState = _signal("SIPPublicationChangedState", """A Publication changed
    state: ``state``; ``code``, ``reason`` when a response caused it.""")
SIPSubscriptionChangedState = _signal("SIPSubscriptionChangedState", """A Subscription
    changed state: ``state``; ``code``, ``reason`` when a response caused it.""")
SIPSubscriptionGotNotify = _signal("SIPSubscriptionGotNotify", """A NOTIFY with a body for a
    Subscription: ``content_type`` (str "type/subtype"), ``body`` (bytes).""")
SIPInvitationChangedState = _signal("SIPInvitationChangedState", """An Invitation changed
    state: ``prev_state``, ``state``; when a received request caused it: ``method`` (str),
    ``request_uri`` (SIPURI or None); when a received response, a timeout or an error caused
    it: ``code`` (int), ``reason`` (str); when a received message caused it: ``headers``
    (dict name -> value as received: folding undone, a compact name given in full, repeated
    headers joined with ", "), ``body`` (str, or None without a body).""")
SIPInvitationGotSDPUpdate = _signal("SIPInvitationGotSDPUpdate", """An Invitation completed an
    SDP offer/answer: ``succeeded`` (bool); ``local_sdp``, ``remote_sdp`` (SDPSession) on
    success, ``error`` (str) on failure.""")
# ---- m-bridge: wave files ----
WaveFileDidFinishPlaying = _signal("WaveFileDidFinishPlaying", """A WaveFile finished a run
    started by start(): it played loop_count times, stop() was called, or the Engine stopped.
    Exactly one per run; no data besides ``timestamp``.  Not sent when the WaveFile was
    garbage-collected while playing (spec).""")
# -- NAT type detection (m-peers) --
SIPEngineDetectedNATType = _signal("SIPEngineDetectedNATType", """The one result of a
    detect_nat_type() call: ``succeeded`` (bool), ``user_data`` (what the call was given);
    ``nat_type`` (str, PJNATH's name: "Open", "Full Cone", "Restricted", "Port Restricted",
    "Symmetric", "Symmetric UDP") on success, ``error`` (str) on failure -- also when the
    server never answered and when the Engine stopped first.""")
# -- media: RTPTransport, AudioTransport (m-stream) --
RTPTransportDidInitialize = _signal("RTPTransportDidInitialize", """An RTPTransport is
    initialized: sent by set_INIT() when ICE with a STUN server is not used, else when the
    STUN server has answered and ICE has its candidates (state WAIT_STUN -> INIT).  No data.""")
RTPTransportDidFail = _signal("RTPTransportDidFail", """An RTPTransport could not get its ICE
    candidates from the STUN server (state WAIT_STUN -> STUN_FAILED): ``reason`` (str).""")
# sipcore extensions (the 2009 spec names no ICE negotiation result; these are its
# descendant's names, python-sipsimple's)
RTPTransportICENegotiationDidSucceed = _signal("RTPTransportICENegotiationDidSucceed", """An
    RTPTransport's ICE connectivity checks (started by set_ESTABLISHED with a remote SDP that
    has ICE) nominated a pair for every component; media now goes over them:
    ``chosen_local_candidates`` and ``chosen_remote_candidates`` (lists of
    sipcore.media.rtp.ICECandidate(component, type, address, port), one per component: 1 RTP,
    2 RTCP), ``duration`` (float, seconds since set_ESTABLISHED).  At most one per
    set_ESTABLISHED; none when the remote SDP has no ICE (plain RTP to its address).""")
RTPTransportICENegotiationDidFail = _signal("RTPTransportICENegotiationDidFail", """An
    RTPTransport's ICE connectivity checks failed (no pair works, or the remote's credentials
    are wrong): ``reason`` (str, PJNATH's), ``duration`` (float, seconds since
    set_ESTABLISHED).  The state stays ESTABLISHED; ``ice_active`` is False.""")
RTPAudioTransportGotDTMF = _signal("RTPAudioTransportGotDTMF", """An AudioTransport received
    an RFC 4733 DTMF digit from the remote party: ``digit`` (str of length one: 0-9, *, #,
    A-D), once per digit, in the order received.""")

#: name -> documentation of its data, from the list above
NOTIFICATIONS: dict[str, str] = {name: sig.__doc__ or "" for name, sig in _signals.items()}

#: Sent after every notification with ``notification=`` a :class:`Notification`.
any_notification = NamedSignal("any_notification",
                               "Every sipcore notification, as a Notification object.")


@dataclass(frozen=True)
class Notification:
    """One notification: ``name``, ``sender`` and ``data`` (attribute access, as in the spec)."""

    name: str
    sender: Any
    data: SimpleNamespace = field(default_factory=SimpleNamespace)

    def __getitem__(self, key: str) -> Any:
        return getattr(self.data, key)


# ---- who receives a signal: blinker's answer, kept while it cannot change ----------------
#
# blinker's receivers_for() is a generator that rebuilds a set at every send.  For a signal
# whose receivers are all connected for any sender (the usual case), the answer is the same
# for every sender until a receiver connects, disconnects or (a weak one) dies.  blinker
# announces the first two (receiver_connected / receiver_disconnected); a death is seen
# through a weak reference of ours, made when the receiver connects.  So the answer is kept:
# in _fast (a tuple notify() iterates without a call) when every receiver is strong, else in
# _mixed (the strong ones, and our references to the weak ones).  A signal with a
# sender-specific receiver is left to blinker.  Checked on blinker 1.9
# (tests/unit/test_signals.py pins the range; pyproject bounds it to match).

_Receiver = Callable[..., Any]
_Refs = tuple["weakref.ref[_Receiver]", ...]
_fast: dict[NamedSignal, tuple[_Receiver, ...]] = {}  # signal -> its receivers, all strong
# signal -> (strong receivers, refs to weak ones)
_mixed: dict[NamedSignal, tuple[tuple[_Receiver, ...], _Refs]] = {}
# signal -> our refs to its weak receivers
_weak: dict[NamedSignal, list[weakref.ref[_Receiver]]] = {}
_specific: set[NamedSignal] = set()          # signals with sender-specific receivers
_generation = 0                              # bumped at every change: a build that a change
_cache_lock = threading.RLock()              # overtook is not kept (RLock: weakref callbacks)
_NOBODY = object()                           # a sender nobody connects for


def _receivers(signal: NamedSignal, sender: Any) -> Iterable[_Receiver]:
    """The live receivers of ``signal`` for ``sender`` (notify, when _fast has none)."""
    if signal in _specific:
        return signal.receivers_for(sender)
    cached = _mixed.get(signal)
    if cached is None:
        with _cache_lock:
            generation = _generation
            refs = tuple(_weak.get(signal, ()))
        weak = [r() for r in refs]
        strong = tuple(r for r in signal.receivers_for(_NOBODY)
                       if not any(_same(r, w) for w in weak))
        cached = (strong, refs)
        with _cache_lock:
            if generation == _generation and refs:
                _mixed[signal] = cached
            elif generation == _generation:
                _fast[signal] = strong
    strong, refs = cached
    if not refs:
        return strong
    receivers = list(strong)
    for ref in refs:
        receiver = ref()
        if receiver is not None:
            receivers.append(receiver)
    return receivers


def _same(a: Any, b: Any) -> bool:
    """Whether blinker takes ``a`` and ``b`` for the same receiver (as its make_id does)."""
    if isinstance(a, MethodType) and isinstance(b, MethodType):
        return a.__self__ is b.__self__ and a.__func__ is b.__func__
    return a is b


#: called with the signal after each change of its receivers (a connect, a disconnect, a
#: weak receiver's death), on the thread that made it, under _cache_lock; must not raise.
#: (primitives/invitation.py keeps the glue told whether anyone receives its notifications.)
_change_hooks: list[Callable[[NamedSignal], None]] = []


def _changed(signal: NamedSignal) -> None:
    global _generation
    _generation += 1
    _fast.pop(signal, None)
    _mixed.pop(signal, None)
    for hook in _change_hooks:
        hook(signal)


def _on_connected(signal: NamedSignal, *, receiver: Any, sender: Any, weak: bool) -> None:
    with _cache_lock:
        _changed(signal)
        if sender is not ANY:
            _specific.add(signal)
        if weak:
            def died(ref: Any, signal: NamedSignal = signal) -> None:
                with _cache_lock:
                    refs = _weak.get(signal, [])
                    if any(r is ref for r in refs):
                        refs[:] = [r for r in refs if r is not ref]
                    _changed(signal)
            make = weakref.WeakMethod if isinstance(receiver, MethodType) else weakref.ref
            _weak.setdefault(signal, []).append(make(receiver, died))


def _on_disconnected(signal: NamedSignal, *, receiver: Any, sender: Any) -> None:
    with _cache_lock:
        _changed(signal)
        if sender is ANY and signal in _weak:
            _weak[signal] = [r for r in _weak[signal]
                             if r() is not None and not _same(r(), receiver)]
        if not signal.receivers:
            _specific.discard(signal)
            _weak.pop(signal, None)


for _sig in (*_signals.values(), any_notification):
    _sig.receiver_connected.connect(_on_connected, weak=False)
    _sig.receiver_disconnected.connect(_on_disconnected, weak=False)
del _sig


# ---- sending ------------------------------------------------------------------------------

class _Delivery:
    """One thread's delivery: whether a notification is being delivered (``busy``) and the
    ones its receivers sent meanwhile (``queue``), delivered next, oldest first."""

    __slots__ = ("busy", "queue")

    def __init__(self) -> None:
        self.busy = False
        self.queue: deque[tuple[NamedSignal, Any, dict[str, Any]]] = deque()


class _PerThread(threading.local):
    """Per thread: a notification sent on another thread (the Engine's start on the caller's
    thread, an application thread) is that thread's to deliver, at once and in its order."""

    def __init__(self) -> None:
        self.delivery = _Delivery()


_per_thread = _PerThread()


def notify(signal: NamedSignal, sender: Any, **data: Any) -> None:
    """Send ``signal`` (adds ``timestamp``) to its receivers, then as a Notification to those
    of ``any_notification``; in order (see the module documentation).  A receiver's exception
    is reported (report_exception) and the other receivers are still called."""
    if not signal.receivers and not any_notification.receivers:
        return                      # nobody listens: build nothing
    if "timestamp" not in data:
        data["timestamp"] = _now(_UTC)
    delivery = _per_thread.delivery
    if delivery.busy:               # sent by a receiver: after the current one has reached all
        delivery.queue.append((signal, sender, data))
        return
    delivery.busy = True
    queue = delivery.queue
    try:
        while True:
            receivers = _fast.get(signal)       # (kept empty for a signal nobody receives)
            for receiver in receivers if receivers is not None else _receivers(signal, sender):
                try:
                    receiver(sender, **data)
                except Exception:
                    _receiver_failed(signal, data)
            if any_notification.receivers:
                ns = dict(data)
                if "log_sender" in ns:  # SIPEngineLog: the spec's data name (see its doc)
                    ns["sender"] = ns["log_sender"]
                n = Notification(signal.name, sender, SimpleNamespace(**ns))
                receivers = _fast.get(any_notification)
                for receiver in (receivers if receivers is not None
                                 else _receivers(any_notification, sender)):
                    try:
                        receiver(sender, notification=n)
                    except Exception:
                        _receiver_failed(signal, data)
            if not queue:
                break
            signal, sender, data = queue.popleft()
    except BaseException:           # (SystemExit, KeyboardInterrupt from a receiver)
        delivery.busy = False
        while queue:                # the queued ones are delivered all the same, in order
            signal, sender, data = queue.popleft()
            notify(signal, sender, **data)
        raise
    delivery.busy = False


_now = datetime.datetime.now
_UTC = datetime.timezone.utc


def has_receivers(signal: NamedSignal | str) -> bool:
    """Whether sending ``signal`` (or the signal of that name) would reach any receiver."""
    if signal.__class__ is str:
        signal = _signals[signal]
    # (narrowed by the __class__ test, which mypy does not follow; kept for its speed)
    return bool(signal.receivers) or bool(any_notification.receivers)  # type: ignore[union-attr]


# ---- errors ---------------------------------------------------------------------------------

_log = logging.getLogger("sipcore")

#: set by the running Engine: reports a traceback as its SIPEngineGotException
_exception_reporter: Callable[[str], None] | None = None


def report_exception(sender: Any, tb: str) -> None:
    """Send ``SIPEngineGotException`` (``traceback=tb``) from ``sender``; log ``tb`` to the
    ``sipcore`` logger when nothing receives that signal."""
    if not SIPEngineGotException.receivers:
        _log.error("sipcore: unexpected exception (nothing receives SIPEngineGotException)"
                   "\n%s", tb.rstrip())
    notify(SIPEngineGotException, sender, traceback=tb)


def _receiver_failed(signal: NamedSignal, data: dict[str, Any]) -> None:
    """A receiver of ``signal`` just raised: report it (this never raises)."""
    tb = traceback.format_exc()
    if signal is SIPEngineGotException:    # reporting failed: the log is what is left
        _log.error("sipcore: a receiver of SIPEngineGotException raised\n%s\nwhile reporting:"
                   "\n%s", tb.rstrip(), str(data.get("traceback", "")).rstrip())
        return
    reporter = _exception_reporter
    if reporter is not None:
        reporter(tb)
    else:
        report_exception(None, tb)


# ---- recording and waiting --------------------------------------------------------------------

#: a ``where``/``fail_on`` condition: a predicate, or data fields and the values they equal
Condition = Union[Callable[[Notification], bool], dict[str, Any]]
#: ``fail_on``: a name, a (name, condition) pair, {name: condition or None}, or a list of those
FailOn = Union[str, tuple[str, Any], dict[str, Any], Iterable[Union[str, tuple[str, Any]]]]


class NotificationRecorder:
    """Record notifications (all, or only ``names``) and wait for them.

    Made for tests and notebooks: start recording *before* the action, then wait, so
    nothing is missed however fast the answer comes::

        with NotificationRecorder() as rec:
            send_message(creds, uri, "text/plain", "hi", route)
            n = rec.wait_for("SIPEngineGotMessageResponse", timeout=5)
            assert n.data.code == 200

    ``wait_for`` returns the first matching notification not yet returned by an earlier
    ``wait_for`` (each is returned once), or raises ``TimeoutError`` naming what was
    recorded (states and codes too) and the exceptions reported meanwhile
    (``SIPEngineGotException``, recorded or not).

    ``fail_on`` makes it fail fast on a terminal state instead of waiting out the timeout::

        rec.wait_for("SIPInvitationChangedState", sender=inv, where={"state": "CONNECTED"},
                     fail_on={"SIPInvitationChangedState": {"state": "DISCONNECTED"}})

    raises :class:`NotificationFailed` (an ``AssertionError``) as soon as ``inv`` reports
    DISCONNECTED, with the same account of what arrived.  ``where`` and each ``fail_on``
    condition are a callable taking the :class:`Notification`, or a dict of data fields
    and the values they must equal (``{"state": "DISCONNECTED"}``, ``{"code": 486}``);
    ``fail_on`` is a name (any notification of that name), a ``(name, condition)`` pair, a
    dict ``{name: condition or None}``, or a list of names and pairs.  ``sender`` applies to
    both.  The notifications are looked at in the order they arrived, so a wanted one that
    came before a failing one is returned; a notification that failed a wait is not looked at
    again.
    """

    def __init__(self, names: Iterable[str] | None = None, sender: Any = None):
        self.names = set(names) if names is not None else None
        self.sender = sender
        self.notifications: list[Notification] = []
        self.exceptions: list[str] = []      # the traceback of each SIPEngineGotException
        self._taken: set[int] = set()
        self._cond = threading.Condition()
        self._connected = False

    def _on(self, sender: Any, notification: Notification) -> None:
        if notification.name == "SIPEngineGotException":
            with self._cond:
                self.exceptions.append(notification.data.traceback)
        if self.names is not None and notification.name not in self.names:
            return
        if self.sender is not None and sender is not self.sender:
            return
        with self._cond:
            self.notifications.append(notification)
            self._cond.notify_all()

    def start(self) -> NotificationRecorder:
        if not self._connected:
            any_notification.connect(self._on, weak=False)
            self._connected = True
        return self

    def stop(self) -> None:
        if self._connected:
            any_notification.disconnect(self._on)
            self._connected = False

    def __enter__(self) -> NotificationRecorder:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- reprs (notebooks): how many, and the last ones with their state and code --

    _SHOWN_HTML = 200   # notifications the HTML shows (the last ones)

    @staticmethod
    def _sender_text(sender: Any) -> str:
        text = repr(sender)
        return text if len(text) <= 60 else text[:59] + "\u2026"

    def __repr__(self) -> str:
        with self._cond:
            notes = list(self.notifications)
        state = "recording" if self._connected else "stopped"
        last = ", ".join(_summary(n) for n in notes[-5:])
        return (f"<NotificationRecorder {state}, {len(notes)} notification(s)"
                + (f", {len(self.exceptions)} exception(s)" if self.exceptions else "")
                + (f"; last: {'... ' if len(notes) > 5 else ''}{last}" if notes else "") + ">")

    def _repr_html_(self) -> str:
        """Jupyter: the last notifications as a table (time since the first, name, sender,
        state and code), then the last line of each exception reported."""
        import html
        with self._cond:
            notes = list(self.notifications)
            exceptions = list(self.exceptions)
        shown = notes[-self._SHOWN_HTML:]
        t0 = notes[0].data.timestamp if notes else None
        rows = "".join(
            "<tr>" + "".join(f"<td style='padding:1px 8px;text-align:left'>{html.escape(str(c))}"
                             "</td>" for c in (
                f"+{(n.data.timestamp - t0).total_seconds() * 1000:.1f} ms"
                if t0 is not None and hasattr(n.data, "timestamp") else "",
                n.name, self._sender_text(n.sender), _summary(n)[len(n.name):].strip("()")))
            + "</tr>" for n in shown)
        more = (f"<div>... {len(notes) - len(shown)} earlier not shown</div>"
                if len(notes) > len(shown) else "")
        errs = "".join(f"<div style='color:#c0392b'>exception: "
                       f"{html.escape(tb.strip().splitlines()[-1] if tb.strip() else '?')}</div>"
                       for tb in exceptions[-_SHOWN:])
        return (f"<div style='font-family:monospace;font-size:12px'><b>"
                f"{html.escape(repr(self).split(';')[0].rstrip('>') + '>')}</b>{more}"
                f"<table style='border-collapse:collapse'>{rows}</table>{errs}</div>")

    def names_seen(self, *names: str) -> list[str]:
        with self._cond:
            return [n.name for n in self.notifications if not names or n.name in names]

    def all(self, name: str | None = None) -> list[Notification]:
        with self._cond:
            return [n for n in self.notifications if name is None or n.name == name]

    def wait_for(self, name: str, timeout: float = 10.0, sender: Any = None,
                 where: Condition | None = None, fail_on: FailOn | None = None) -> Notification:
        match = _condition(where)
        failing = _fail_on(fail_on)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, n in enumerate(self.notifications):
                    if i in self._taken or (sender is not None and n.sender is not sender):
                        continue
                    if n.name == name and match(n):
                        self._taken.add(i)
                        return n
                    if any(n.name == fname and fmatch(n) for fname, fmatch in failing):
                        self._taken.add(i)
                        raise NotificationFailed(n, self._seen_text(
                            f"waiting for {name}, got {_summary(n)} (fail_on)"))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(self._seen_text(
                        f"no {name} notification within {timeout} s"))
                self._cond.wait(left)

    def _seen_text(self, head: str) -> str:
        """``head``, then what was recorded: the last notifications with their state and
        code, and the last line of each exception reported meanwhile."""
        seen = [_summary(n) for n in self.notifications[-_SHOWN:]]
        more = len(self.notifications) - len(seen)
        text = (f"{head}; recorded {len(self.notifications)}: "
                + (f"... {more} more, " if more else "") + (", ".join(seen) or "none"))
        if self.exceptions:
            last = [tb.strip().splitlines()[-1] if tb.strip() else "?" for tb in self.exceptions]
            text += (f"; {len(last)} exception(s) reported (SIPEngineGotException): "
                     + "; ".join(last[-_SHOWN:]))
        return text


class NotificationFailed(AssertionError):
    """A :meth:`NotificationRecorder.wait_for` saw a notification it was told to fail on
    (``fail_on``): ``notification`` is that one; the message lists what was recorded."""

    def __init__(self, notification: Notification, text: str):
        super().__init__(text)
        self.notification = notification


def _condition(cond: Any) -> Callable[[Notification], bool]:
    """A ``where``/``fail_on`` condition as a predicate: None (always), a callable, or a dict
    of data fields and the values they must equal."""
    if cond is None:
        return lambda n: True
    if isinstance(cond, dict):
        items = tuple(cond.items())
        missing = object()
        return lambda n: all(getattr(n.data, k, missing) == v for k, v in items)
    if callable(cond):
        return cond  # type: ignore[no-any-return]  # (callable(Any) does not narrow)
    raise TypeError(f"a condition must be a callable or a dict of data fields, not {cond!r}")


def _fail_on(spec: Any) -> list[tuple[str, Callable[[Notification], bool]]]:
    if spec is None:
        return []
    if isinstance(spec, str):
        spec = [spec]
    elif isinstance(spec, tuple):
        spec = [spec]
    elif isinstance(spec, dict):
        spec = list(spec.items())
    out = []
    for item in spec:
        fname, cond = (item, None) if isinstance(item, str) else item
        if not isinstance(fname, str) or fname not in NOTIFICATIONS:
            raise ValueError(f"fail_on: {fname!r} is not a notification name")
        out.append((fname, _condition(cond)))
    return out


_SHOWN = 20     # notifications and exceptions a timeout names (the last ones)


def _summary(n: Notification) -> str:
    """``name`` with its state (``prev_state -> state``) and ``code reason`` when it has any."""
    d = n.data
    parts = []
    if hasattr(d, "state"):
        parts.append(f"{d.prev_state} -> {d.state}" if hasattr(d, "prev_state") else str(d.state))
    if hasattr(d, "code"):
        parts.append(f"{d.code} {getattr(d, 'reason', '')}".rstrip())
    return f"{n.name}({', '.join(parts)})" if parts else n.name


def wait_for(name: str, action: Callable[[], Any] | None = None, timeout: float = 10.0,
             sender: Any = None, where: Condition | None = None,
             fail_on: FailOn | None = None) -> Notification:
    """Run ``action`` (if given) and wait for the next notification ``name`` matching
    (``fail_on`` as in :meth:`NotificationRecorder.wait_for`)."""
    names = [name] + [fname for fname, _ in _fail_on(fail_on)]
    with NotificationRecorder(names) as rec:
        if action is not None:
            action()
        return rec.wait_for(name, timeout=timeout, sender=sender, where=where, fail_on=fail_on)
