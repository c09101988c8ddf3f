"""Mutants of issue #14's faults part (see tools/mutants.py for the format): the network fault
tools (sipcore.testing.netns) and the session timer options.  Each row: name, why, file, old,
new, tests.  (The C side of session timers, glue_inv.c, is not mutated: mutants change Python
only; its behaviour is held by the same tests.)"""
NETNS = "src/sipcore/testing/netns.py"
T_NETNS = "tests/faults/test_netns.py::"
T_ST = "tests/faults/test_session_timer.py::"
ROWS = [
    ("faults-loss-on-the-way-out",
     "the loss rule drops on the output hook: the sender's sendto fails with EPERM (a SIP "
     "stack sees a transport error, not a loss)",
     NETNS, "type filter hook input priority 0; ", "type filter hook output priority 0; ",
     [T_NETNS + "test_loss_drops_silently_and_counts"]),
    ("faults-thread-left-in-the-namespace",
     "entered() does not switch the thread back: the rest of the session runs in a deleted "
     "namespace", NETNS, "            finally:\n                _setns(old)\n",
     "            finally:\n                pass\n",
     [T_NETNS + "test_namespace_entered_left_and_deleted_whatever_happens"]),
    ("faults-namespace-processes-left",
     "close() deletes the namespace without stopping what runs in it",
     NETNS, "                    os.kill(pid, sig)\n", "                    pass\n",
     [T_NETNS + "test_namespace_entered_left_and_deleted_whatever_happens"]),
    ("faults-relay-without-delay", "the relay forwards at once",
     NETNS, "                due = time.monotonic() + self.delay\n",
     "                due = time.monotonic()\n",
     [T_NETNS + "test_relay_delays_both_ways"]),
    ("faults-session-timer-mode-ignored",
     "the session_timer option does not reach the glue: timers always 'supported'",
     "src/sipcore/_ua.py", 'lib.sc_inv_set_timer(_options.SESSION_TIMERS.index(o["session_timer"]),',
     "lib.sc_inv_set_timer(1,",
     [T_ST + "test_headers_of_an_outgoing_call[off]"]),
    ("faults-session-expires-ignored",
     "session_expires does not reach the glue (RFC 4028's 1800 s always)",
     "src/sipcore/_ua.py", '                             o["session_expires"], o["session_min_se"])',
     '                             1800, o["session_min_se"])',
     [T_ST + "test_headers_of_an_outgoing_call[supported]"]),
    ("faults-session-min-se-ignored",
     "session_min_se does not reach the glue: a too-short interval is accepted",
     "src/sipcore/_ua.py", '                             o["session_expires"], o["session_min_se"])',
     '                             o["session_expires"], 90)',
     [T_ST + "test_too_short_interval_gets_422_with_min_se"]),
    ("faults-session-expires-below-min-se",
     "session_expires below session_min_se accepted",
     "src/sipcore/_options.py", "    if expires < min_se:\n", "    if False:\n",
     [T_ST + "test_session_options_are_checked"]),
]
MUTANTS = [dict(name=name, why=why, file=file, old=old, new=new, tests=tests)
           for name, why, file, old, new, tests in ROWS]
