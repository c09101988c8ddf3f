"""NAT type detection mutants (see tools/mutants.py for the format): Engine.detect_nat_type
and its _NATDetection in src/sipcore/engine.py.  Each row: name, why, old, new, tests."""
UNIT = "tests/unit/test_detect_nat_type.py::"
INTEROP = "tests/interop/test_nat_type.py::"
STOPPING = ("        if ua._stopping:    # a receiver during the stop: no result could be sent"
            ' any more\n            raise EngineNotRunningError("detect_nat_type", "stopping")\n')
NOTIFY = "signals.notify(signals.SIPEngineDetectedNATType, self.engine, user_data="
ROWS = [
    ("nat-no-answer-reported-as-success",
     "a STUN server that never answers is reported as succeeded with the type 'Blocked'",
     "        elif value == lib.PJ_STUN_NAT_TYPE_BLOCKED:\n", "        elif False:\n",
     [INTEROP + "test_calls_in_flight_each_get_one_notification_with_their_user_data"]),
    ("nat-engine-stop-not-reported",
     "a detection still running when the Engine stops never gets its notification",
     "        ua.primitives.add(self)\n", "",
     [UNIT + "test_stop_cuts_detections_short_with_one_failure_each"]),
    ("nat-user-data-lost", "the notification does not carry the user_data of its call",
     NOTIFY + "self.user_data,", NOTIFY + "None,",
     [UNIT + "test_stop_cuts_detections_short_with_one_failure_each"]),
    ("nat-error-text-dropped", "a failed detection reports no reason (PJNATH's text is lost)",
     "            self._finish(succeeded=False, error=text)\n",
     '            self._finish(succeeded=False, error="failed")\n',
     [INTEROP + "test_server_refusing_change_request_fails_once"]),
    ("nat-started-while-stopping",
     "a detection started during the stop (a WillEnd receiver) is accepted and cut short",
     STOPPING, "", [UNIT + "test_called_while_the_engine_stops_raises_and_sends_nothing"]),
    ("nat-port-not-checked", "stun_server_port 0 or above 65535 is passed on, no ValueError",
     '"stun_server_port", stun_server_port, 1, 65535)',
     '"stun_server_port", stun_server_port, -2**31, 2**31)', [UNIT + "test_port_is_checked"]),
]
MUTANTS = [dict(name=name, why=why, file="src/sipcore/engine.py", old=old, new=new, tests=tests)
           for name, why, old, new, tests in ROWS]
