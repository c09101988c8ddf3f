"""ICE mutants (see tools/mutants.py for the format): RTPTransport's ICE negotiation results in
src/sipcore/media/rtp.py.  Each row: name, why, old, new, tests."""
T = "tests/interop/test_rtp_ice.py::"
BOTH = T + "test_ice_on_both_ends_nominates_a_pair_and_carries_audio"
ROWS = [
    ("ice-result-never-notified",
     "set_ESTABLISHED does not note that ICE checks started: no negotiation result is sent",
     "            self._ice_started = time.monotonic()\n", "            pass\n", [BOTH]),
    ("ice-pairs-swapped",
     "the chosen local and remote candidates are given the wrong way round",
     "    return local, remote\n", "    return remote, local\n", [BOTH]),
    ("ice-failure-notified-as-success",
     "failed connectivity checks are reported as RTPTransportICENegotiationDidSucceed",
     "        if status == lib.PJ_SUCCESS:\n            local, remote = parse_pairs(text)\n",
     "        if True:\n            local, remote = parse_pairs(text)\n",
     [T + "test_ice_checks_failing_notify_did_fail_with_a_reason"]),
    ("ice-active-when-merely-requested",
     "ice_active says True whenever ICE was requested, also after failed checks or a fallback",
     '        return bool(self._info("ice_active"))\n', "        return self._use_ice\n",
     [T + "test_ice_against_a_peer_without_ice_falls_back_to_plain_rtp",
      T + "test_ice_checks_failing_notify_did_fail_with_a_reason"]),
]
MUTANTS = [dict(name=name, why=why, file="src/sipcore/media/rtp.py", old=old, new=new, tests=tests)
           for name, why, old, new, tests in ROWS]
