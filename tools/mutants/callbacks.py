"""Trampoline mutants (see tools/mutants.py for the format): src/sipcore/_callbacks.py."""
F = "src/sipcore/_callbacks.py"
T = "tests/unit/test_callbacks.py"

MUTANTS = [
    dict(name="callbacks-exception-not-reported",
         why="an exception in a trampoline is only printed by cffi, never sent as "
             "SIPEngineGotException",
         file=F,
         old="        ffi.def_extern(name=name, onerror=_report, **kwargs)(fn)\n",
         new="        ffi.def_extern(name=name, **kwargs)(fn)\n",
         tests=[f"{T}::test_an_exception_in_a_void_trampoline_is_reported_and_the_engine_goes_on"]),
    dict(name="callbacks-incoming-message-before-its-trace",
         why="the incoming MESSAGE's trampoline does not drain the C queue first: its SIP trace "
             "comes after SIPEngineGotMessage",
         file=F,
         old="                body_len: int) -> None:\n"
             "    if lib.sc_q_count:\n        _drain()\n    ua = _ua.current\n"
             "    if ua is not None and ua.running:\n        message.on_incoming(",
         new="                body_len: int) -> None:\n"
             "    ua = _ua.current\n"
             "    if ua is not None and ua.running:\n        message.on_incoming(",
         tests=[f"{T}::test_c_events_queued_before_a_callback_are_delivered_before_its_notifications"]),
    dict(name="callbacks-message-token-kept",
         why="the final report of a MESSAGE leaves its token (and the request) in the handle "
             "registry: every MESSAGE leaks",
         file=F,
         old="    pm = _pop(token, None)          # the request's last callback: its token goes too\n",
         new="    pm = _get(token)\n",
         tests=[f"{T}::test_a_message_gives_back_its_token"]),
]
