"""ICE mutants (see tools/mutants.py for the format): RTPTransport's ICE negotiation results in
src/sipcore/media/rtp.py, and the second sipcore process's ICE (src/sipcore/peer.py).  Each
row: name, why, old, new, tests."""
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
ROWS += [
    ("ice-wait-stun-port-is-placeholder",
     "local_rtp_port in WAIT_STUN is pjmedia's placeholder 9 (the default candidate unknown)",
     '        return None if self._state in (INVALID, WAIT_STUN) else self._info("local_port")\n',
     '        return None if self._state == INVALID else self._info("local_port")\n',
     [T + "test_stun_black_hole_fails_with_a_reason"]),
    ("ice-repr-port-kept-from-wait-stun",
     "the port in repr() stays None after the STUN answer (it is read once, in WAIT_STUN)",
     "            self._local_port = self.local_rtp_port      # the default candidate's, now known\n",
     "            pass\n", [T + "test_stun_answer_initializes"]),
]
P = "tests/interop/test_ice_sipcore_peer.py::"
PEER_ROWS = [       # the second sipcore process (src/sipcore/peer.py)
    ("ice-peer-setting-ignored", "the peer's use_ice media setting does not reach its RTPTransport",
     '                      use_ice=settings.get("use_ice", False),\n',
     "                      use_ice=False,\n", [P + "test_ice_on_both_ends_this_process_calling"]),
    ("ice-peer-result-not-reported", "the peer sends no ice event for an ICE result",
     '                self.emit(event="ice", id=cid, **ev)\n', "                pass\n",
     [P + "test_ice_on_both_ends_peer_calling"]),
    ("ice-peer-failure-reported-as-success",
     "the peer's ice event says succeeded for RTPTransportICENegotiationDidFail",
     '                ev: dict[str, Any] = {"succeeded": "reason" not in d,\n',
     '                ev: dict[str, Any] = {"succeeded": True,\n',
     [P + "test_peer_reports_failed_ice_checks"]),
    ("ice-peer-waits-for-stun-on-the-poll-thread",
     "--answer auto answers an ICE+STUN call on the poll thread, which then cannot deliver the "
     "STUN answer it waits for (the call is refused after 15 s)",
     "                        threading.Thread(target=self.auto_answer, args=(cid, sender, "
     "settings),\n                                         daemon=True).start()\n",
     "                        self.auto_answer(cid, sender, settings)\n",
     [P + "test_ice_on_both_ends_this_process_calling"]),
]
MUTANTS = [dict(name=name, why=why, file="src/sipcore/media/rtp.py", old=old, new=new, tests=tests)
           for name, why, old, new, tests in ROWS]
MUTANTS += [dict(name=name, why=why, file="src/sipcore/peer.py", old=old, new=new, tests=tests)
            for name, why, old, new, tests in PEER_ROWS]
