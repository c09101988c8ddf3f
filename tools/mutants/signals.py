"""Notification dispatch mutants (see tools/mutants.py for the format): src/sipcore/signals.py."""
F = "src/sipcore/signals.py"
T = "tests/unit/test_signals.py"

MUTANTS = [
    dict(name="signals-disconnect-keeps-cached-receivers",
         why="a disconnected receiver is still called (the cached receiver tuple not reset)",
         file=F,
         old="    def _disconnect(self, receiver_id: Any, sender_id: Any) -> None:\n"
             "        self._any = self._fast = None\n",
         new="    def _disconnect(self, receiver_id: Any, sender_id: Any) -> None:\n",
         tests=[f"{T}::test_disconnecting_one_of_two_receivers_stops_only_that_one"]),
    dict(name="signals-failing-receiver-stops-the-rest",
         why="after a receiver raises, the receivers after it are not called",
         file=F,
         old="            except Exception:\n                _receiver_failed(sig)\n",
         new="            except Exception:\n                _receiver_failed(sig)\n                break\n",
         tests=[f"{T}::test_a_failing_receiver_is_reported_and_does_not_stop_the_others"]),
    dict(name="signals-recorder-returns-a-notification-twice",
         why="NotificationRecorder.wait_for returns the same notification again (a wait proves "
             "nothing)",
         file=F,
         old="                    self._taken.add(i)\n",
         new="",
         tests=[f"{T}::test_recorder_wait_for_returns_each_notification_once_in_order"]),
    dict(name="signals-has-receivers-ignores-any-notification",
         why="has_receivers() forgets any_notification receivers: the Engine skips notifications "
             "(log, trace, MESSAGE) only a recorder listens to",
         file=F,
         old="    return bool(_SIGNALS[name].receivers) or bool(any_notification.receivers)",
         new="    return bool(_SIGNALS[name].receivers)",
         tests=[f"{T}::test_has_receivers_follows_connect_and_disconnect"]),
]
