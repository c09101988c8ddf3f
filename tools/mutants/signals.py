"""Notification dispatch mutants (see tools/mutants.py for the format): src/sipcore/signals.py."""
F = "src/sipcore/signals.py"
T = "tests/unit/test_signals.py"

MUTANTS = [
    dict(name="signals-disconnect-keeps-cached-receivers",
         why="a disconnected receiver is still called (the cached receiver tuple not reset)",
         file=F,
         old="    with _cache_lock:\n        _changed(signal)\n        if sender is ANY and signal in _weak:",
         new="    with _cache_lock:\n        if sender is ANY and signal in _weak:",
         tests=[f"{T}::test_disconnecting_one_of_two_receivers_stops_only_that_one"]),
    dict(name="signals-failing-receiver-stops-the-rest",
         why="after a receiver raises, the receivers after it are not called",
         file=F,
         old="                except Exception:\n                    _receiver_failed(signal, data)\n"
             "            if any_notification.receivers:\n",
         new="                except Exception:\n                    _receiver_failed(signal, data)\n"
             "                    break\n"
             "            if any_notification.receivers:\n",
         tests=[f"{T}::test_a_failing_receiver_is_reported_and_does_not_stop_the_others"]),
    dict(name="signals-recorder-returns-a-notification-twice",
         why="NotificationRecorder.wait_for returns the same notification again (a wait proves "
             "nothing)",
         file=F,
         old="                        self._taken.add(i)\n                        return n\n",
         new="                        return n\n",
         tests=[f"{T}::test_recorder_wait_for_returns_each_notification_once_in_order"]),
    dict(name="signals-has-receivers-ignores-any-notification",
         why="has_receivers() forgets any_notification receivers: the Engine skips notifications "
             "(log, trace, MESSAGE) only a recorder listens to",
         file=F,
         old="    return bool(signal.receivers) or bool(any_notification.receivers)",
         new="    return bool(signal.receivers)",
         tests=[f"{T}::test_has_receivers_follows_connect_and_disconnect"]),
    # -- issue #11: the dispatch shortcut on blinker's public API, delivery in order, errors
    dict(name="signals-weak-receiver-kept-alive-by-the-cache",
         why="the kept receivers hold a weakly connected receiver strongly: it never dies and "
             "is still called after the application dropped it",
         file=F,
         old="                       if not any(_same(r, w) for w in weak))\n",
         new="                       if True)\n",
         tests=[f"{T}::test_a_weakly_connected_receiver_that_dies_is_not_called_and_others_still_are",
                f"{T}::test_a_receiver_connected_weakly_then_strongly_is_called_once_and_kept"]),
    dict(name="signals-disconnected-weak-receiver-still-called",
         why="a weakly connected receiver disconnected while it is alive is still called (our "
             "reference to it is kept)",
         file=F,
         old="                             if r() is not None and not _same(r(), receiver)]\n",
         new="                             if r() is not None]\n",
         tests=[f"{T}::test_disconnecting_one_of_two_receivers_stops_only_that_one"]),
    dict(name="signals-sender-specific-receivers-cached",
         why="a signal with sender-specific receivers is served from the kept answer for any "
             "sender: those receivers are never called",
         file=F,
         old="    if signal in _specific:\n",
         new="    if False:\n",
         tests=[f"{T}::test_sender_specific_receivers_get_only_their_senders_notifications"]),
    dict(name="signals-nested-notification-delivered-at-once",
         why="a notification sent by a receiver is delivered at once, before the current one "
             "has reached the other receivers (they see the states out of order)",
         file=F,
         old="    if delivery.busy:               # sent by a receiver",
         new="    if False:                       # sent by a receiver",
         tests=[f"{T}::test_a_notification_sent_by_a_receiver_comes_after_the_current_one_reached_everyone"]),
    dict(name="signals-delivery-shared-by-all-threads",
         why="one delivery state for every thread: a notification sent on another thread while "
             "the poll thread delivers is queued behind it, on the wrong thread",
         file=F,
         old="class _PerThread(threading.local):\n",
         new="class _PerThread:\n",
         tests=[f"{T}::test_delivery_is_per_thread"]),
    dict(name="signals-systemexit-leaves-the-queue",
         why="a receiver raising SystemExit leaves the notifications queued behind it undelivered "
             "(delivered out of order, or never)",
         file=F,
         old="        while queue:                # the queued ones are delivered all the same, in order\n"
             "            signal, sender, data = queue.popleft()\n"
             "            notify(signal, sender, **data)\n",
         new="",
         tests=[f"{T}::test_systemexit_in_a_receiver_delivers_the_queued_ones_then_goes_on"]),
    dict(name="signals-exception-not-logged",
         why="a receiver's exception nobody receives as SIPEngineGotException is not logged: lost",
         file=F,
         old="    if not SIPEngineGotException.receivers:\n        _log.error(",
         new="    if False:\n        _log.error(",
         tests=[f"{T}::test_a_receivers_exception_is_sent_and_logged_when_nobody_receives_it"]),
    dict(name="signals-failed-report-logged-without-what-it-reported",
         why="when a SIPEngineGotException receiver raises, the exception it was reporting is "
             "not logged: lost",
         file=F,
         old='"\\n%s", tb.rstrip(), str(data.get("traceback", "")).rstrip())',
         new='"\\n%s", tb.rstrip(), "")',
         tests=[f"{T}::test_an_exception_in_a_sipengine_got_exception_receiver_is_logged_with_both_tracebacks"]),
    dict(name="signals-timeout-names-nothing",
         why="wait_for's TimeoutError says only what was missing, not what came instead",
         file=F,
         old="                    raise TimeoutError(self._seen_text(\n"
             "                        f\"no {name} notification within {timeout} s\"))\n",
         new="                    raise TimeoutError(f\"no {name} notification within {timeout} s\")\n",
         tests=[f"{T}::test_wait_for_timeout_names_what_it_saw_and_the_exceptions"]),
    dict(name="signals-recorder-misses-exceptions-of-other-names",
         why="a recorder of some names does not see the receiver exceptions raised meanwhile",
         file=F,
         old='        if notification.name == "SIPEngineGotException":\n',
         new='        if notification.name == "SIPEngineGotException" and self.names is None:\n',
         tests=[f"{T}::test_wait_for_timeout_names_what_it_saw_and_the_exceptions"]),
]

# issue #13 (the testing tools): rows of name, why, file, old, new, tests
ISSUE13 = [
    ('signals-fail-on-ignored',
     'wait_for(fail_on=...) never looks at the failing notifications: a failed call waits out the whole timeout',
     'src/sipcore/signals.py',
     '                    if any(n.name == fname and fmatch(n) for fname, fmatch in failing):\n',
     '                    if False:\n',
     ['tests/unit/test_signals.py::test_wait_for_fail_on_fails_fast_naming_the_failure_and_what_arrived']),
    ('signals-fail-on-other-senders',
     'fail_on also fails on notifications of other senders than the awaited one',
     'src/sipcore/signals.py',
     '                    if i in self._taken or (sender is not None and n.sender is not sender):\n                        continue\n                    if n.name == name and match(n):\n',
     '                    if i in self._taken:\n                        continue\n                    if n.name == name and match(n) and (sender is None or n.sender is sender):\n',
     ['tests/unit/test_signals.py::test_wait_for_fail_on_fails_fast_naming_the_failure_and_what_arrived']),
]
MUTANTS += [dict(name=n, why=w, file=f, old=o, new=x, tests=t) for n, w, f, o, x, t in ISSUE13]

# issue #14 (floods): the change hooks tell the Invitation glue who listens
MUTANTS.append(dict(
    name="signals-change-hooks-not-called",
    why="a connect or disconnect is not announced to the change hooks: the glue keeps "
        "refusing INVITEs statelessly after a receiver of SIPInvitationChangedState connects",
    file="src/sipcore/signals.py",
    old="    for hook in _change_hooks:\n        hook(signal)\n",
    new="",
    tests=["tests/unit/test_invitation.py::test_a_receiver_connected_later_gets_the_invite"]))
