"""Mutants of the testing tools (see tools/mutants.py for the format): the pytest plugin,
PeerProcess, the context managers of the primitives."""
PLUGIN = "tests/plugin/test_plugin.py"

MUTANTS = [
    dict(name="testing-ladder-not-in-the-report",
         why="a failed test's report gets no SIP ladder section",
         file="src/sipcore/testing/plugin.py",
         old="        report.sections.append((\"SIP ladder\", _render(ladder)))\n",
         new="        pass\n",
         tests=[f"{PLUGIN}::test_a_failed_tests_report_shows_its_sip_ladder"]),
    dict(name="testing-peer-process-without-our-path",
         why="PeerProcess runs its child with the parent's environment as it is: a sipcore on "
             "sys.path but not installed is not found by `python -m sipcore`",
         file="src/sipcore/peer.py",
         old="        self.env = _child_env(env)\n",
         new="        self.env = env\n",
         tests=["tests/plugin/test_peer_not_installed.py::test_peer_process_with_sipcore_on_sys_path_only"]),
    dict(name="testing-with-block-does-not-end",
         why="leaving `with Registration(...)` does not unregister",
         file="src/sipcore/primitives/_base.py",
         old="            getattr(self, self._end_method)()\n",
         new="            pass\n",
         tests=["tests/interop/test_context_managers.py::"
                "test_registration_with_block_unregisters_and_a_second_unregister_is_nothing"]),
]
