"""Mutants of the testing tools (see tools/mutants.py for the format): the pytest plugin,
PeerProcess, the context managers of the primitives.  Each row: name, why, file, old, new,
tests."""
PLUGIN = "tests/plugin/test_plugin.py::"
ROWS = [
    ("testing-ladder-not-in-the-report", "a failed test's report gets no SIP ladder section",
     "src/sipcore/testing/plugin.py",
     "        report.sections.append((\"SIP ladder\", _render(ladder)))\n", "        pass\n",
     [PLUGIN + "test_a_failed_tests_report_shows_its_sip_ladder"]),
    ("testing-peer-process-without-our-path",
     "PeerProcess runs its child with the parent's environment as it is: a sipcore on sys.path "
     "but not installed is not found by `python -m sipcore`",
     "src/sipcore/peer.py", "        self.env = _child_env(env)\n", "        self.env = env\n",
     ["tests/plugin/test_peer_not_installed.py::test_peer_process_with_sipcore_on_sys_path_only"]),
    ("testing-with-block-does-not-end", "leaving `with Registration(...)` does not unregister",
     "src/sipcore/primitives/_base.py", "            getattr(self, self._end_method)()\n",
     "            pass\n",
     ["tests/interop/test_context_managers.py::"
      "test_registration_with_block_unregisters_and_a_second_unregister_is_nothing"]),
]
MUTANTS = [dict(name=name, why=why, file=file, old=old, new=new, tests=tests)
           for name, why, file, old, new, tests in ROWS]
