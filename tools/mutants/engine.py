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
         old='                ua.start_transport("tls", port, restore=lambda: ua.options.update(before))\n',
         new='                if port is not None:\n                    ua.start_transport("tls", port, restore=lambda: ua.options.update(before))\n',
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
    # -- issue #14: a failed port change, the stop that ends state on the servers
    dict(name="engine-port-change-stops-old-first",
         why="a port change stops the working transport before the new one is up: a busy "
             "port leaves none",
         file=U,
         old="        self._open_transport(kind, port)           # raises: the old one untouched\n"
             "        if old is not None:\n            self._close_transport(kind, old)\n",
         new="        if old is not None:\n            self.stop_transport(kind)\n"
             "        self._open_transport(kind, port)\n",
         tests=["tests/interop/test_transport_change.py::test_a_busy_port_leaves_the_old_transport_working[udp]",
                "tests/interop/test_transport_change.py::test_a_busy_port_leaves_the_old_transport_working[tcp]"]),
    dict(name="engine-tls-settings-not-restored",
         why="a TLS restart that fails keeps the failed settings in the Engine's options",
         file=E,
         old="            except BaseException:\n                ua.options.update(before)       # the settings of the listener that works\n                raise\n",
         new="            except BaseException:\n                raise\n",
         tests=["tests/interop/test_transport_change.py::test_a_busy_port_leaves_the_old_tls_listener"]),
    dict(name="engine-stop-does-not-wait-for-the-endings",
         why="stop() sends the un-REGISTERs but tears down without waiting for their answers",
         file=U,
         old="        deadline = time.monotonic() + STOP_ENDING_SECONDS\n",
         new="        deadline = time.monotonic()\n",
         tests=["tests/interop/test_stop_ends_state.py::test_stop_unregisters_unpublishes_and_unsubscribes"]),
    dict(name="engine-stop-could-not-end-silent",
         why="what stop() could not end is never named (no SIPEngineCouldNotEnd)",
         file=U,
         old="        if failed:\n            signals.notify(signals.SIPEngineCouldNotEnd",
         new="        if failed and False:\n            signals.notify(signals.SIPEngineCouldNotEnd",
         tests=["tests/interop/test_stop_ends_state.py::test_what_could_not_be_ended_is_named_within_the_bound"]),
]
