"""Notification dispatch (signals.notify) -- no Engine needed.

notify() keeps the receivers connected for any sender instead of asking blinker each time;
these tests hold it to blinker's own behaviour: sender-specific receivers, weak receivers
that die, connect/disconnect between notifications and inside a receiver.  Then: delivery
in order (per thread), receivers' exceptions (SIPEngineGotException, the "sipcore" logger)
and what NotificationRecorder.wait_for says when it times out.
"""
import gc
import logging
import threading
import time
from importlib.metadata import version

import pytest

from sipcore import signals

SIG = signals.SIPEngineGotMessageResponse
NAME = "SIPEngineGotMessageResponse"


class Sender:
    pass


def _notify(sender, **data):
    signals.notify(SIG, sender, to_uri=None, code=200, reason="OK", **data)


def test_receivers_get_the_data_with_a_timestamp_and_follow_connect_and_disconnect():
    a, got = Sender(), []

    def rx(sender, **data):
        got.append((sender, data))

    SIG.connect(rx)
    try:
        _notify(a)
        assert len(got) == 1 and got[0][0] is a
        assert set(got[0][1]) == {"to_uri", "code", "reason", "timestamp"}
        assert got[0][1]["timestamp"].tzinfo is not None
    finally:
        SIG.disconnect(rx)
    _notify(a)
    assert len(got) == 1                      # disconnected: the cached tuple was dropped
    SIG.connect(rx, weak=False)
    try:
        _notify(a)
        assert len(got) == 2
    finally:
        SIG.disconnect(rx)


def test_sender_specific_receivers_get_only_their_senders_notifications():
    a, b, seen = Sender(), Sender(), []

    def any_rx(sender, **data):
        seen.append(("any", sender))

    def a_rx(sender, **data):
        seen.append(("a", sender))

    SIG.connect(any_rx)
    SIG.connect(a_rx, sender=a)
    try:
        _notify(a)
        _notify(b)
    finally:
        SIG.disconnect(any_rx)
        SIG.disconnect(a_rx, sender=a)
    assert sorted(x for x, s in seen if s is a) == ["a", "any"]
    assert [x for x, s in seen if s is b] == ["any"]


def test_a_weakly_connected_receiver_that_dies_is_not_called_and_others_still_are():
    a, calls = Sender(), []

    class Listener:
        def __init__(self, tag):
            self.tag = tag

        def rx(self, sender, **data):
            calls.append(self.tag)

    one, two = Listener("one"), Listener("two")
    SIG.connect(one.rx)                       # weak (blinker's default): a WeakMethod
    SIG.connect(two.rx)
    _notify(a)
    assert sorted(calls) == ["one", "two"]
    del one
    gc.collect()
    calls.clear()
    _notify(a)
    assert calls == ["two"]
    del two
    gc.collect()
    calls.clear()
    _notify(a)
    assert calls == []
    assert not SIG.receivers                  # blinker cleaned up after both


def test_connecting_inside_a_receiver_takes_effect_from_the_next_notification():
    a, calls = Sender(), []

    def late(sender, **data):
        calls.append("late")

    def first(sender, **data):
        calls.append("first")
        SIG.connect(late, weak=False)

    SIG.connect(first, weak=False)
    try:
        _notify(a)
        assert calls == ["first"]
        calls.clear()
        _notify(a)
        assert sorted(calls) == ["first", "late"]
    finally:
        SIG.disconnect(first)
        SIG.disconnect(late)


def test_a_failing_receiver_is_reported_and_does_not_stop_the_others(monkeypatch):
    a, calls, reports = Sender(), [], []
    monkeypatch.setattr(signals, "_exception_reporter", reports.append)

    def bad(sender, **data):
        raise RuntimeError("receiver bug")

    def good(sender, **data):
        calls.append(1)

    SIG.connect(bad, weak=False)
    SIG.connect(good, weak=False)
    try:
        _notify(a)
    finally:
        SIG.disconnect(bad)
        SIG.disconnect(good)
    assert calls == [1]
    assert len(reports) == 1 and "RuntimeError: receiver bug" in reports[0]


def test_any_notification_sees_every_notification_once():
    a, seen = Sender(), []

    def watch(sender, notification):
        seen.append(notification)

    signals.any_notification.connect(watch)
    try:
        _notify(a)
    finally:
        signals.any_notification.disconnect(watch)
    assert len(seen) == 1
    assert seen[0].name == NAME and seen[0].sender is a and seen[0].data.code == 200


def test_recorder_wait_for_returns_each_notification_once_in_order():
    """NotificationRecorder.wait_for: the first matching notification not returned before;
    a second wait for the same name needs a second notification (it times out otherwise)."""
    import pytest
    a, b = Sender(), Sender()
    with signals.NotificationRecorder([NAME]) as rec:
        _notify(a)
        _notify(b)
        _notify(a, extra=1)
        assert rec.wait_for(NAME, timeout=0.1, sender=b).sender is b
        first = rec.wait_for(NAME, timeout=0.1)
        assert first.sender is a and not hasattr(first.data, "extra")
        assert rec.wait_for(NAME, timeout=0.1, where=lambda n: n.sender is a).data.extra == 1
        with pytest.raises(TimeoutError):
            rec.wait_for(NAME, timeout=0.1)
        assert len(rec.all(NAME)) == 3 and rec.names_seen() == [NAME] * 3
    _notify(a)                               # stopped: records nothing more
    assert len(rec.all()) == 3


def test_has_receivers_follows_connect_and_disconnect():
    other = signals.SIPSubscriptionGotNotify           # nobody else listens to this one here
    name = "SIPSubscriptionGotNotify"

    def r(sender, **data):
        pass

    assert not signals.has_receivers(name) and not signals.has_receivers(other)
    other.connect(r)
    assert signals.has_receivers(name) and signals.has_receivers(other)
    other.disconnect(r)
    assert not signals.has_receivers(name)
    with signals.NotificationRecorder():            # any_notification: every name has one
        assert signals.has_receivers(name)
    assert not signals.has_receivers(name)


def test_notify_builds_nothing_without_receivers_and_adds_a_utc_timestamp(monkeypatch):
    import datetime
    monkeypatch.setattr(signals, "Notification", None)      # building one would raise
    signals.notify(signals.SIPSubscriptionGotNotify, Sender(), body=b"")
    monkeypatch.undo()
    with signals.NotificationRecorder() as rec:
        before = datetime.datetime.now(datetime.timezone.utc)
        signals.notify(SIG, Sender(), to_uri=None, code=200, reason="OK")
        after = datetime.datetime.now(datetime.timezone.utc)
    [n] = rec.all()
    assert before <= n.data.timestamp <= after
    assert n.data.timestamp.tzinfo is datetime.timezone.utc


def test_disconnecting_one_of_two_receivers_stops_only_that_one():
    """With another receiver still connected (so notify() does not stop early), a
    disconnected receiver -- strong or weak -- is not called again."""
    for weak in (False, True):
        a, got = Sender(), []

        def one(sender, **data):
            got.append("one")

        def two(sender, **data):
            got.append("two")

        SIG.connect(one, weak=weak)
        SIG.connect(two, weak=weak)
        try:
            _notify(a)
            SIG.disconnect(one)
            _notify(a)
        finally:
            SIG.disconnect(one)
            SIG.disconnect(two)
        assert sorted(got[:2]) == ["one", "two"] and got[2:] == ["two"], (weak, got)


def test_a_receiver_connected_weakly_then_strongly_is_called_once_and_kept():
    """blinker replaces the weak connection by the strong one: called once per notification,
    and alive while connected even when nothing else refers to it."""
    a, calls = Sender(), []

    class Listener:
        def rx(self, sender, **data):
            calls.append(1)

    listener = Listener()
    SIG.connect(listener.rx)
    SIG.connect(listener.rx, weak=False)
    try:
        del listener
        gc.collect()
        _notify(a)
        assert calls == [1]
    finally:
        for receiver in list(SIG.receivers_for(a)):
            SIG.disconnect(receiver)
    assert not SIG.receivers


def test_a_lambda_connected_weakly_is_dropped_at_once():
    """blinker's default (weak=True): the docs warn about it; nothing calls the lambda."""
    calls = []
    SIG.connect(lambda sender, **data: calls.append(1))
    gc.collect()
    _notify(Sender())
    assert calls == [] and not SIG.receivers


def test_the_dispatch_shortcut_was_measured_on_this_blinker():
    """notify() keeps blinker's answer (signals._receivers); it relies on blinker's public API
    only, and was checked on blinker 1.9: a new blinker needs this test run and the bound in
    pyproject.toml moved."""
    major, minor = (int(x) for x in version("blinker").split(".")[:2])
    assert (major, minor) == (1, 9)


def test_every_signal_is_in_the_one_list_and_in_the_docs():
    from pathlib import Path
    docs = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    names = {n for n in dir(signals) if n.startswith(("SIP", "WaveFile", "RTP"))}   # + media
    assert names == set(signals.NOTIFICATIONS)
    for name in names:
        sig = getattr(signals, name)
        assert sig.name == name and sig.__doc__ == signals.NOTIFICATIONS[name]
        assert f"| `{name}` |" in docs, name


def test_the_data_each_signal_names_is_in_its_row_of_the_docs():
    """Every data key a signal's doc names (``key``) is named in its row of
    docs/notifications.md (the keys seen on real traffic are checked against the rows too:
    tests/interop/test_docs_examples.py)."""
    import re
    from pathlib import Path
    docs = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \|(.*)\|\s*$", docs, re.M)}
    not_keys = {"timestamp", "charset"}     # charset: a Content-Type parameter, as an example
    missing = [f"{name}.{key}" for name, doc in signals.NOTIFICATIONS.items()
               for key in set(re.findall(r"``(\w+)``", doc)) - not_keys
               if not re.search(rf"`(data\.)?{key}`", rows[name])]
    assert missing == []


# ---- in order ---------------------------------------------------------------------------------

OTHER = signals.SIPSubscriptionGotNotify     # sent from receivers in the tests below


def _blocks(seen):
    """The records of one notification's two SIG receivers as one set (their order is
    blinker's), the others as they are."""
    out, i = [], 0
    while i < len(seen):
        if seen[i][0] in ("a", "b"):
            out.append(set(seen[i:i + 2]))
            i += 2
        else:
            out.append(seen[i])
            i += 1
    return out


def test_a_notification_sent_by_a_receiver_comes_after_the_current_one_reached_everyone():
    a, seen = Sender(), []

    def rx_a(sender, **data):
        seen.append(("a", data["code"]))
        if data["code"] == 200:
            signals.notify(OTHER, sender, content_type="x/y", body=b"1")
            signals.notify(SIG, sender, to_uri=None, code=180, reason="")
            signals.notify(OTHER, sender, content_type="x/y", body=b"2")

    def rx_b(sender, **data):
        seen.append(("b", data["code"]))

    def other(sender, **data):
        seen.append(("other", data["body"]))
        if data["body"] == b"1":
            signals.notify(SIG, sender, to_uri=None, code=100, reason="")

    def watch(sender, notification):
        seen.append(("any", notification.name))

    SIG.connect(rx_a, weak=False)
    SIG.connect(rx_b, weak=False)
    OTHER.connect(other, weak=False)
    signals.any_notification.connect(watch, weak=False)
    try:
        _notify(a)
    finally:
        SIG.disconnect(rx_a)
        SIG.disconnect(rx_b)
        OTHER.disconnect(other)
        signals.any_notification.disconnect(watch)
    other_name = "SIPSubscriptionGotNotify"
    assert _blocks(seen) == [
        {("a", 200), ("b", 200)}, ("any", NAME),
        ("other", b"1"), ("any", other_name),           # sent first by rx_a: delivered first
        {("a", 180), ("b", 180)}, ("any", NAME),
        ("other", b"2"), ("any", other_name),
        {("a", 100), ("b", 100)}, ("any", NAME),        # sent by `other`, after rx_a's three
    ]


def test_delivery_is_per_thread():
    """While the poll thread is inside a receiver, a notification sent on another thread is
    delivered on that thread at once (not queued behind the poll thread's)."""
    inside, released, got = threading.Event(), threading.Event(), []

    def rx(sender, **data):
        got.append((data["code"], threading.current_thread().name))
        if data["code"] == 1:
            inside.set()
            released.wait(5)

    def other_thread():
        inside.wait(5)
        signals.notify(SIG, Sender(), to_uri=None, code=2, reason="")
        released.set()

    SIG.connect(rx, weak=False)
    try:
        t = threading.Thread(target=other_thread, name="other")
        t.start()
        signals.notify(SIG, Sender(), to_uri=None, code=1, reason="")
        t.join(5)
    finally:
        SIG.disconnect(rx)
    assert got == [(1, threading.current_thread().name), (2, "other")]


def test_systemexit_in_a_receiver_delivers_the_queued_ones_then_goes_on():
    a, seen = Sender(), []

    def rx(sender, **data):
        seen.append(data["code"])
        if data["code"] == 1:
            signals.notify(SIG, sender, to_uri=None, code=2, reason="")
            signals.notify(SIG, sender, to_uri=None, code=3, reason="")
            raise SystemExit("bye")

    SIG.connect(rx, weak=False)
    try:
        with pytest.raises(SystemExit):
            signals.notify(SIG, a, to_uri=None, code=1, reason="")
        assert seen == [1, 2, 3]
        signals.notify(SIG, a, to_uri=None, code=4, reason="")   # delivery goes on
        assert seen == [1, 2, 3, 4]
    finally:
        SIG.disconnect(rx)


# ---- a receiver's exception ---------------------------------------------------------------------

def _raise(sender, **data):
    raise RuntimeError("receiver bug")


def _notify_to_a_failing_receiver(caplog):
    """Notify SIG with `_raise` connected; the records of the "sipcore" logger meanwhile."""
    SIG.connect(_raise, weak=False)
    try:
        with caplog.at_level(logging.ERROR, logger="sipcore"):
            _notify(Sender())
    finally:
        SIG.disconnect(_raise)
    return [r for r in caplog.records if r.name == "sipcore"]


def test_a_receivers_exception_is_sent_and_logged_when_nobody_receives_it(caplog):
    with signals.NotificationRecorder([NAME]) as rec:
        [record] = _notify_to_a_failing_receiver(caplog)
    assert len(rec.exceptions) == 1 and "RuntimeError: receiver bug" in rec.exceptions[0]
    assert record.levelno == logging.ERROR
    text = record.getMessage()
    assert "Traceback (most recent call last)" in text and "RuntimeError: receiver bug" in text


def test_a_receivers_exception_goes_to_sipengine_got_exception_receivers_not_the_log(caplog):
    got = []

    def on_exception(sender, **data):
        got.append((sender, data["traceback"]))

    signals.SIPEngineGotException.connect(on_exception, weak=False)
    try:
        assert _notify_to_a_failing_receiver(caplog) == []
    finally:
        signals.SIPEngineGotException.disconnect(on_exception)
    assert len(got) == 1 and got[0][0] is None       # no Engine running: sender None
    assert "RuntimeError: receiver bug" in got[0][1]


def test_an_exception_in_a_sipengine_got_exception_receiver_is_logged_with_both_tracebacks(caplog):
    def on_exception(sender, **data):
        raise ValueError("handler bug")

    def watch(sender, notification):                 # raises for every notification
        raise KeyError("watcher bug")

    signals.SIPEngineGotException.connect(on_exception, weak=False)
    signals.any_notification.connect(watch, weak=False)
    try:
        records = _notify_to_a_failing_receiver(caplog)     # (and no endless loop of reports)
    finally:
        signals.SIPEngineGotException.disconnect(on_exception)
        signals.any_notification.disconnect(watch)
    # two reports (the RuntimeError; the watcher's KeyError on SIG), each failing in both
    # receivers: four log records, each with the failure and what it was reporting
    texts = [r.getMessage() for r in records]
    assert len(texts) == 4 and all("while reporting" in t for t in texts)
    assert any("ValueError: handler bug" in t and "RuntimeError: receiver bug" in t
               for t in texts)
    assert any("ValueError: handler bug" in t and "KeyError: 'watcher bug'" in t for t in texts)


def test_wait_for_timeout_names_what_it_saw_and_the_exceptions():
    a = Sender()
    sub = signals.SIPSubscriptionChangedState
    with signals.NotificationRecorder([NAME, sub.name]) as rec:
        signals.notify(sub, a, state="SENT")
        signals.notify(sub, a, state="TERMINATED", code=404, reason="Not Found")
        _notify(a)
        SIG.connect(_raise, weak=False)
        try:
            _notify(a)
        finally:
            SIG.disconnect(_raise)
        with pytest.raises(TimeoutError) as info:
            rec.wait_for("SIPInvitationChangedState", timeout=0.05)
    text = str(info.value)
    assert "no SIPInvitationChangedState notification within 0.05 s" in text
    assert ("SIPSubscriptionChangedState(SENT), SIPSubscriptionChangedState(TERMINATED, 404 "
            "Not Found), SIPEngineGotMessageResponse(200 OK)") in text
    assert "1 exception(s) reported" in text and "RuntimeError: receiver bug" in text


def test_with_the_engine_running_a_receivers_exception_comes_from_the_engine(engine_factory,
                                                                             caplog):
    """The typo a new user makes: a receiver that raises.  It arrives as SIPEngineGotException
    from the Engine, is logged (nothing receives that signal here), and the Engine runs on."""
    def on_start(sender, **data):
        undefined_name                                  # noqa: F821 -- the typo

    signals.SIPEngineDidStart.connect(on_start, weak=False)
    try:
        with signals.NotificationRecorder(["SIPEngineDidStart", "SIPEngineGotException"]) as rec, \
                caplog.at_level(logging.ERROR, logger="sipcore"):
            engine = engine_factory()
            rec.wait_for("SIPEngineDidStart", timeout=5)
            assert rec.wait_for("SIPEngineGotException", timeout=5).sender is engine
            with pytest.raises(TimeoutError) as info:
                rec.wait_for("SIPEngineDidEnd", timeout=0.05)
            assert engine.is_running
    finally:
        signals.SIPEngineDidStart.disconnect(on_start)
    assert "NameError: name 'undefined_name' is not defined" in str(info.value)
    [text] = [r.getMessage() for r in caplog.records if r.name == "sipcore"]
    assert "in on_start" in text and "NameError" in text


def test_wait_for_fail_on_fails_fast_naming_the_failure_and_what_arrived():
    """fail_on: a notification it names (with its condition, from the awaited sender) ends the
    wait at once with NotificationFailed (an AssertionError), not a TimeoutError after the
    timeout; the message names it, what was recorded and the receivers' exceptions."""
    import threading
    inv = signals.SIPInvitationChangedState
    a, b = Sender(), Sender()
    with signals.NotificationRecorder() as rec:
        signals.notify(inv, b, state="DISCONNECTED", prev_state="CALLING", code=486,
                       reason="Busy Here")                   # another sender: ignored
        signals.notify(inv, a, state="CALLING", prev_state="NULL")
        SIG.connect(_raise, weak=False)
        try:
            _notify(a)
        finally:
            SIG.disconnect(_raise)
        later = threading.Timer(0.2, signals.notify, (inv, a), dict(
            state="DISCONNECTED", prev_state="CALLING", code=404, reason="Not Found"))
        later.start()
        t0 = time.monotonic()
        with pytest.raises(signals.NotificationFailed) as info:
            rec.wait_for(inv.name, sender=a, where={"state": "CONFIRMED"}, timeout=15,
                         fail_on={inv.name: {"state": "DISCONNECTED"}})
        assert time.monotonic() - t0 < 10                    # not the 15 s timeout
        later.join()
    assert isinstance(info.value, AssertionError)
    assert info.value.notification.sender is a and info.value.notification.data.code == 404
    text = str(info.value)
    assert text.startswith("waiting for SIPInvitationChangedState, got SIPInvitationChangedState"
                           "(CALLING -> DISCONNECTED, 404 Not Found) (fail_on)")
    assert "SIPInvitationChangedState(NULL -> CALLING)" in text
    assert "SIPInvitationChangedState(CALLING -> DISCONNECTED, 486 Busy Here)" in text
    assert "1 exception(s) reported" in text and "RuntimeError: receiver bug" in text


def test_wait_for_fail_on_forms_and_order():
    """A wanted notification that came before a failing one is returned; the failing one then
    fails the next wait once (it is not looked at again); fail_on as a name, a pair with a
    callable, a list; an unknown name is a ValueError, a bad condition a TypeError."""
    a = Sender()
    reg = signals.SIPRegistrationChangedState
    with signals.NotificationRecorder() as rec:
        signals.notify(reg, a, state="registered", code=200, reason="OK")
        signals.notify(signals.SIPEngineDidFail, a, reason="Forbidden")
        ok = rec.wait_for(reg.name, sender=a, where={"state": "registered"}, timeout=1,
                          fail_on="SIPEngineDidFail")
        assert ok.data.code == 200
        with pytest.raises(signals.NotificationFailed, match="got SIPEngineDidFail"):
            rec.wait_for(reg.name, sender=a, timeout=1, fail_on=["SIPEngineDidFail"])
        with pytest.raises(TimeoutError):
            rec.wait_for(reg.name, sender=a, timeout=0.05, fail_on="SIPEngineDidFail")
        signals.notify(reg, a, state="unregistered", code=500, reason="Server Error")
        with pytest.raises(signals.NotificationFailed, match="unregistered, 500 Server Error"):
            rec.wait_for(reg.name, sender=a, where={"state": "registered"}, timeout=1,
                         fail_on=(reg.name, lambda n: n.data.code >= 300))
        with pytest.raises(ValueError, match="SIPNoSuchThing"):
            rec.wait_for(reg.name, timeout=0.01, fail_on="SIPNoSuchThing")
        with pytest.raises(TypeError, match="condition"):
            rec.wait_for(reg.name, timeout=0.01, where=42)


def test_module_wait_for_records_the_fail_on_names_too():
    """signals.wait_for(name, action, fail_on=...) records the fail_on notifications as well
    (its recorder is limited to the names it needs)."""
    a = Sender()
    with pytest.raises(signals.NotificationFailed):
        signals.wait_for("SIPRegistrationChangedState", timeout=5, fail_on="SIPEngineDidFail",
                         action=lambda: signals.notify(signals.SIPEngineDidFail, a,
                                                       reason="no transport"))
