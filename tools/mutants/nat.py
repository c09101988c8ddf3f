"""NAT type detection mutants (see tools/mutants.py for the format): Engine.detect_nat_type
and its _NATDetection in src/sipcore/engine.py."""
E = "src/sipcore/engine.py"
U = "tests/unit/test_detect_nat_type.py"
I = "tests/interop/test_nat_type.py"

MUTANTS = [
    dict(name="nat-no-answer-reported-as-success",
         why="a STUN server that never answers is reported as succeeded with the type 'Blocked'",
         file=E,
         old="        elif value == lib.PJ_STUN_NAT_TYPE_BLOCKED:\n",
         new="        elif False:\n",
         tests=[f"{I}::test_calls_in_flight_each_get_one_notification_with_their_user_data"]),
    dict(name="nat-engine-stop-not-reported",
         why="a detection still running when the Engine stops never gets its notification",
         file=E,
         old="        ua.primitives.add(self)\n",
         new="",
         tests=[f"{U}::test_stop_cuts_detections_short_with_one_failure_each"]),
    dict(name="nat-user-data-lost",
         why="the notification does not carry the user_data of its call",
         file=E,
         old="signals.notify(signals.SIPEngineDetectedNATType, self.engine, user_data=self.user_data,",
         new="signals.notify(signals.SIPEngineDetectedNATType, self.engine, user_data=None,",
         tests=[f"{U}::test_stop_cuts_detections_short_with_one_failure_each"]),
    dict(name="nat-error-text-dropped",
         why="a failed detection reports no reason (PJNATH's error text is lost)",
         file=E,
         old="            self._finish(succeeded=False, error=text)\n",
         new='            self._finish(succeeded=False, error="failed")\n',
         tests=[f"{I}::test_server_refusing_change_request_fails_once"]),
    dict(name="nat-started-while-stopping",
         why="a detection started during the stop (a WillEnd receiver) is accepted and cut short",
         file=E,
         old="        if ua._stopping:    # a receiver during the stop: no result could be sent any more\n"
             '            raise EngineNotRunningError("detect_nat_type", "stopping")\n',
         new="",
         tests=[f"{U}::test_called_while_the_engine_stops_raises_and_sends_nothing"]),
    dict(name="nat-port-not-checked",
         why="stun_server_port 0 or above 65535 is passed on instead of raising ValueError",
         file=E,
         old='        port = check_int("stun_server_port", stun_server_port, 1, 65535)\n',
         new='        port = check_int("stun_server_port", stun_server_port, -2**31, 2**31)\n',
         tests=[f"{U}::test_port_is_checked"]),
]
