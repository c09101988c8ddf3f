"""Engine mutants (see tools/mutants.py for the format): src/sipcore/engine.py, _ua.py."""
E = "src/sipcore/engine.py"
U = "src/sipcore/_ua.py"
T = "tests/unit/test_engine.py"

MUTANTS = [
    dict(name="engine-log-level-not-applied",
         why="setting log_level at run time changes the attribute but not PJSIP's level",
         file=E,
         old="            lib.pj_log_set_level(value)\n",
         new="",
         tests=[f"{T}::test_log_level_filters_sipenginelog_and_changes_at_run_time"]),
    dict(name="engine-tls-not-stopped-by-none",
         why="set_tls_options(local_port=None) leaves the TLS transport running (spec: stops it)",
         file=E,
         old='            ua.start_transport("tls", port)\n',
         new='            if port is not None:\n                ua.start_transport("tls", port)\n',
         tests=[f"{T}::test_set_tls_options_without_local_port_stops_tls"]),
    dict(name="engine-codecs-sorted",
         why="the codecs list is stored sorted instead of in the order given (spec: preferred order)",
         file=U,
         old='        self.options["codecs"] = chosen\n',
         new='        self.options["codecs"] = sorted(chosen, key=str.lower)\n',
         tests=[f"{T}::test_codecs", f"{T}::test_codecs_start_option_keeps_order_and_case"]),
    dict(name="engine-didstart-failure-hangs-start",
         why="a receiver of SIPEngineDidStart raising SystemExit leaves start() waiting for ever",
         file=U,
         old='            try:\n                signals.notify(signals.SIPEngineDidStart, self.engine)\n'
             '            finally:\n',
         new='            if True:\n                signals.notify(signals.SIPEngineDidStart, self.engine)\n'
             '            if True:\n',
         tests=[f"{T}::test_fatal_error_on_the_poll_thread_sends_didfail_then_didend"]),
    dict(name="engine-no-didfail-when-start-fails",
         why="a start that fails (port taken) sends no SIPEngineDidFail",
         file=U,
         old='            self._teardown()\n            signals.notify(signals.SIPEngineDidFail, self.engine)\n'
             '            self._ready.set()\n',
         new='            self._teardown()\n            self._ready.set()\n',
         tests=[f"{T}::test_start_on_a_taken_port_sends_willstart_then_didfail"]),
]
