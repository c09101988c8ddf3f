"""Notification dispatch (signals.notify and _Signal.receivers_list) -- no Engine needed.

notify() keeps the receivers connected for any sender in a tuple instead of asking blinker
each time; these tests hold it to blinker's own behaviour: sender-specific receivers, weak
receivers that die, connect/disconnect between notifications and inside a receiver.
"""
import gc

from sipcore import signals

SIG = signals.SIPEngineGotMessageResponse
NAME = "SIPEngineGotMessageResponse"


class Sender:
    pass


def _notify(sender, **data):
    signals.notify(NAME, sender, to_uri=None, code=200, reason="OK", **data)


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

    assert not signals.has_receivers(name)
    other.connect(r)
    assert signals.has_receivers(name)
    other.disconnect(r)
    assert not signals.has_receivers(name)
    with signals.NotificationRecorder():            # any_notification: every name has one
        assert signals.has_receivers(name)
    assert not signals.has_receivers(name)


def test_notify_builds_nothing_without_receivers_and_adds_a_utc_timestamp():
    import datetime
    assert signals.notify("SIPSubscriptionGotNotify", Sender(), body=b"") is None
    with signals.NotificationRecorder() as rec:
        before = datetime.datetime.now(datetime.timezone.utc)
        n = signals.notify(NAME, Sender(), to_uri=None, code=200, reason="OK")
        after = datetime.datetime.now(datetime.timezone.utc)
    assert n is rec.all()[0] and before <= n.data.timestamp <= after
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
