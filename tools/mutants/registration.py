"""Registration mutants (see tools/mutants.py for the format)."""
F = "src/sipcore/primitives/registration.py"
T = "tests/interop/test_registration.py"

MUTANTS = [
    dict(name="registration-queue-dropped",
         why="register()/unregister() during a transaction silently dropped instead of queued",
         file=F,
         old="    def _request(self, action: str) -> None:\n        self._wanted = action\n",
         new="    def _request(self, action: str) -> None:\n"
             "        if self._state in (REGISTERING, UNREGISTERING):\n            return\n"
             "        self._wanted = action\n",
         tests=[f"{T}::test_queued_calls_end_in_state_of_last_call",
                f"{T}::test_methods_from_many_threads"]),
]
