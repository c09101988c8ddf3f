"""Invitation mutants (see tools/mutants.py for the format).

The first seven are issue #10's (rewritten as exact text substitutions of today's code); the
rest are plausible refactoring bugs chosen for this area."""
F = "src/sipcore/primitives/invitation.py"
UNIT = "tests/unit/test_invitation.py"
FUZZ = "tests/property/test_invitation_fuzz.py"
TD = "tests/interop/test_invitation_teardown.py"
OA = "tests/interop/test_invitation_offer_answer.py"
PEER = "tests/interop/test_invitation_sipcore_peer.py"

ST = "src/sipcore/primitives/_states.py"   # the rows

MUTANTS = [
    dict(name="invitation-posted-send-invite-unreserved",
         why="send_invite() from several threads at once: each caller sees NULL and is "
             "accepted (no reservation under the hand-off's lock)",
         file=F,
         old="            self._invite_posted = True\n            self._posts += 1\n",
         new="            self._posts += 1\n",
         tests=[f"{UNIT}::test_send_invite_racing_in_two_threads_is_accepted_once"]),
    dict(name="invitation-posted-send-invite-lost-at-stop",
         why="a send_invite() from an application thread accepted as the Engine stops never "
             "ends: no DISCONNECTED",
         file=F,
         old="        self._done_posting()\n        self._engine_stopping()\n",
         new="        self._done_posting()\n",
         tests=[f"{UNIT}::test_a_send_invite_that_a_stop_overtakes_ends_disconnected"]),
    dict(name="invitation-state-read-before-posted-calls-ran",
         why="inv.send_invite(); inv.state from an application thread reads NULL: the state "
             "does not wait for the calls handed over without waiting",
         file=F,
         old="        self._flush()\n        return self._state\n",
         new="        return self._state\n",
         tests=[f"{UNIT}::test_one_of_two_threads_sending_the_same_invite_wins",
                f"{UNIT}::test_engine_stop_ends_live_invitations_and_restart_works"]),
    # ---- issue #10 ------------------------------------------------------------------------
    dict(name="invitation-every-transition-illegal",
         why="_set_state reports every transition as 'not in TRANSITIONS' (SIPEngineGotException)",
         file=F,
         old='        state = _ROWS.get((prev, event))\n',
         new='        state = None\n',
         tests=[f"{FUZZ}::test_random_call_flows_follow_the_spec_state_machine"]),
    dict(name="invitation-sdp-failure-never-sent",
         why="SIPInvitationGotSDPUpdate(succeeded=False) never sent",
         file=F,
         old='        signals.notify(signals.SIPInvitationGotSDPUpdate, self, succeeded=False,\n'
             '                       error=strerror(status) if status != lib.PJ_SUCCESS else "no active SDP")\n',
         new="        return\n",
         tests=[f"{OA}::test_answer_without_a_common_codec_fails_the_negotiation",
                f"{OA}::test_reinvite_answered_without_a_common_codec_keeps_the_active_sdp"]),
    dict(name="invitation-reinvite-4xx-stays-reinvited",
         why="respond_to_reinvite(4xx) leaves the call in REINVITED (only a 2xx goes back to CONFIRMED)",
         file=F,
         old="        if code >= 200 and self._state == REINVITED:\n",
         new="        if 200 <= code < 300 and self._state == REINVITED:\n",
         tests=[f"{TD}::test_peer_reinvite_rejected_with_488_returns_to_confirmed"]),
    dict(name="invitation-disconnect-reinvited-no-487",
         why="disconnect() in REINVITED skips the 487 to the pending re-INVITE",
         file=F,
         old="        if state == REINVITED:        # the pending re-INVITE first (RFC 3261 15.1.2)\n",
         new="        if False:\n",
         tests=[f"{TD}::test_disconnect_while_reinvited_answers_487_then_byes"]),
    dict(name="invitation-disconnect-reinvited-via-confirmed",
         why="the bug found on the way, back: disconnect() in REINVITED reports REINVITED -> "
             "CONFIRMED (the 487's transaction) before DISCONNECTING",
         file=F,
         old="self._state == REINVITED and not self._answering:\n",
         new="self._state == REINVITED:\n",
         tests=[f"{TD}::test_disconnect_while_reinvited_answers_487_then_byes"]),
    dict(name="invitation-transitions-row-removed",
         why="a row removed from TRANSITIONS (EARLY -> EARLY)",
         file=ST,
         old='    ("EARLY", "rx_1xx"): "EARLY",                # 4  another 1xx received (the state "may\n    ("EARLY", "send_1xx"): "EARLY",              # 5  be the same"), or sent\n',
         new='',
         tests=[f"{UNIT}::test_transition_table_is_the_specs"]),
    dict(name="invitation-transitions-row-added",
         why="a row added to TRANSITIONS (DISCONNECTING -> CONFIRMED, in no trigger of the spec)",
         file=ST,
         old='    ("NULL", "disconnect"): "DISCONNECTED",      # 14 before send_invite(): nothing is sent\n',
         new='    ("NULL", "disconnect"): "DISCONNECTED",      # 14 before send_invite(): nothing is sent\n    ("DISCONNECTING", "rx_reinvite_final"): "CONFIRMED",\n',
         tests=[f"{UNIT}::test_transition_table_is_the_specs"]),

    # ---- new ------------------------------------------------------------------------------
    dict(name="invitation-early-to-early-dropped",
         why="a second provisional response (183 after 180) is not reported (EARLY -> EARLY lost)",
         file=F,
         old='        if event is None or _ROWS.get((self._state, event)) == STAY:\n',
         new='        if event is None or _ROWS.get((self._state, event)) in (STAY, self._state):\n',
         tests=[f"{TD}::test_two_provisional_responses_early_to_early_both_ways"]),
    dict(name="invitation-disconnect-timeout-not-scheduled",
         why="disconnect(timeout=t) never arms its timer: an unanswered CANCEL/BYE hangs for PJSIP's 32 s",
         file=F,
         old="            self._timer = self._ua.schedule(timeout, self._on_disconnect_timeout)\n",
         new="            pass\n",
         tests=[f"{TD}::test_unanswered_invite_ends_408_at_the_disconnect_timeout"]),
    dict(name="invitation-disconnect-timeout-wrong-code",
         why="the disconnect timeout ends the session with 487 instead of 408",
         file=F,
         old='data = {"code": 408, "reason": "Request Timeout (no answer to end the session)"}',
         new='data = {"code": 487, "reason": "Request Terminated (no answer to end the session)"}',
         tests=[f"{TD}::test_unanswered_invite_ends_408_at_the_disconnect_timeout"]),
    dict(name="invitation-contact-uri-ignored",
         why="Invitation(contact_uri=...) ignored: the generated Contact is sent",
         file=F,
         old="        contact = (self._contact_arg._name_addr() if self._contact_arg is not None\n"
             "                   else self._local_contact_for(aor.user, route.transport))\n",
         new="        contact = self._local_contact_for(aor.user, route.transport)\n",
         tests=[f"{TD}::test_contact_uri_is_sent_and_used_by_the_peer"]),
    dict(name="invitation-reinvite-response-data-dropped",
         why="REINVITING -> CONFIRMED without the final response's code/reason/headers",
         file=F,
         old="                data = (_message_data(ev.rdata, self._ua.scratch) if ev.rdata != ffi.NULL\n"
             '                        else {"code": ev.code, "reason": pj2str(ev.reason)})\n',
         new="                data = {}\n",
         tests=[f"{TD}::test_our_reinvite_rejected_488_returns_to_confirmed"]),
    dict(name="invitation-offer-in-200-not-answered",
         why="inverted condition: the offer of a 2xx is not answered with the SDP set while CALLING/EARLY",
         file=F,
         old="        if self._state in (CALLING, EARLY, CONNECTING) and self._offered_local is not None:\n",
         new="        if self._state in (CALLING, EARLY, CONNECTING) and self._offered_local is None:\n",
         tests=[f"{OA}::test_caller_without_sdp_answers_the_offer_of_the_200_in_the_ack"]),
    dict(name="invitation-notifications-lifo",
         why="notifications queued during a receiver delivered last-in first-out (out of order)",
         file="src/sipcore/signals.py",     # (the queue is signals.notify's since issue #11)
         old="                break\n            signal, sender, data = queue.popleft()\n",
         new="                break\n            signal, sender, data = queue.pop()\n",
         tests=[f"{TD}::test_disconnect_while_connecting_byes_after_the_ack"]),
    dict(name="invitation-reject-code-ignored",
         why="disconnect(response_code) of an unanswered incoming INVITE always answers 603",
         file=F,
         old="            end_code = code                   # a final response\n",
         new="            end_code = 603                    # a final response\n",
         tests=[f"{PEER}::test_reject_with_486_both_ways"]),
    dict(name="invitation-ending-message-lost",
         why="DISCONNECTED caused by a received BYE/response carries PJSIP's cause, not the message",
         file=F,
         old="            elif rdata != ffi.NULL:\n                data = _message_data(rdata, self._ua.scratch)\n",
         new="            elif False:\n                data = _message_data(rdata, self._ua.scratch)\n",
         tests=[f"{TD}::test_contact_uri_is_sent_and_used_by_the_peer"]),
    dict(name="invitation-respond-reinvite-ignores-offered-sdp",
         why="respond_to_reinvite(200) answers with the active SDP, not the one set",
         file=F,
         old="            sdp = self._offered_local or self._active_local_flat\n        tdata",
         new="            sdp = self._active_local_flat\n        tdata",
         tests=[f"{TD}::test_peer_reinvite_rejected_with_488_returns_to_confirmed"]),
    dict(name="invitation-disconnecting-not-guarded",
         why="PJSIP's CONFIRMED (the late ACK) reported while DISCONNECTING",
         file=ST,
         old='    **{(s, e): STAY for s in ("REINVITING", "REINVITED", "DISCONNECTING") for e in PJ_REPORTS},\n',
         new='    **{(s, e): STAY for s in ("REINVITING", "REINVITED", "DISCONNECTING") for e in PJ_REPORTS},\n    ("DISCONNECTING", "ack"): "CONFIRMED",\n',
         tests=[f"{TD}::test_disconnect_while_connecting_byes_after_the_ack"]),
    dict(name="invitation-failed-negotiation-reported-as-success",
         why="a failed negotiation reported succeeded=True with the SDPs negotiated before",
         file=F,
         old="        if status == lib.PJ_SUCCESS and self._inv != ffi.NULL:\n",
         new="        if self._inv != ffi.NULL:\n",
         tests=[f"{OA}::test_reinvite_answered_without_a_common_codec_keeps_the_active_sdp"]),
    dict(name="invitation-prev-state-is-new-state",
         why="SIPInvitationChangedState carries the new state as prev_state",
         file=F,
         old="        signals.notify(signals.SIPInvitationChangedState, self, prev_state=prev, state=state,\n"
             "                       **data)\n",
         new="        signals.notify(signals.SIPInvitationChangedState, self, prev_state=state, state=state,\n"
             "                       **data)\n",
         tests=[f"{FUZZ}::test_random_call_flows_follow_the_spec_state_machine"]),

    # ---- issue #11: the rows and the events -----------------------------------------------
    dict(name="invitation-pj-events-direction-swapped",
         why="PJSIP's reports read as the other direction's events (a received 1xx fired as "
             "send_1xx): no row in CALLING, the call never reaches EARLY",
         file=F,
         old="        event = _PJ_EVENTS[self._outgoing].get(ev.state)\n",
         new="        event = _PJ_EVENTS[not self._outgoing].get(ev.state)\n",
         tests=[f"{TD}::test_two_provisional_responses_early_to_early_both_ways"]),
    dict(name="invitation-row-missing-ack",
         why="no row for the ACK in CONNECTING: TransitionError, the call stays CONNECTING",
         file=ST,
         old='    ("CONNECTING", "ack"): "CONFIRMED",          # 9  the ACK sent or received\n',
         new="",
         tests=[f"{TD}::test_our_reinvite_rejected_488_returns_to_confirmed"]),
    dict(name="invitation-reinvite-row-wrong-state",
         why="the final response to our re-INVITE points to REINVITED instead of CONFIRMED",
         file=ST,
         old='    ("REINVITING", "rx_reinvite_final"): "CONFIRMED",       # 11 the final response to it\n',
         new='    ("REINVITING", "rx_reinvite_final"): "REINVITED",       # 11 the final response to it\n',
         tests=[f"{TD}::test_our_reinvite_rejected_488_returns_to_confirmed"]),
]

# issue #13 (the testing tools): rows of name, why, file, old, new, tests
ISSUE13 = [
    ('invitation-disconnect-of-an-ended-session-raises',
     'disconnect() of a session that has ended raises InvalidStateError (a racy teardown fails the test)',
     'src/sipcore/primitives/invitation.py',
     '        if self._state in (DISCONNECTING, DISCONNECTED):\n            return      # ending or ended already: nothing to do (docs/invitation.md, deviations)\n',
     '',
     ['tests/unit/test_invitation.py::test_wrong_state_names_the_state']),
]
MUTANTS += [dict(name=n, why=w, file=f, old=o, new=x, tests=t) for n, w, f, o, x, t in ISSUE13]

# issue #14 (floods): an INVITE nobody listens for is refused statelessly in C while the flag
# the hook keeps says so
_STATELESS = f"{UNIT}::test_invite_nobody_listens_for_is_refused_statelessly"
_FOLLOWS = f"{UNIT}::test_a_receiver_connected_later_gets_the_invite"
ISSUE14 = [
    ('invitation-unwanted-invite-held-in-a-dialog',
     'the glue is never told that nobody listens: every INVITE gets a dialog, a 100 and a '
     'stateful 480 retransmitted until Timer H (an INVITE flood holds 14 KB per INVITE)',
     F,
     '        lib.sc_inv_set_wanted(1 if signals.has_receivers(signals.SIPInvitationChangedState)\n'
     '                              else 0)\n',
     '        lib.sc_inv_set_wanted(1)\n',
     [_STATELESS, "tests/robustness/test_flood.py::test_invite_flood"]),
    ('invitation-receiver-connected-later-refused',
     'the hook only ever clears the flag: a receiver connected after start never gets an INVITE',
     F,
     '        lib.sc_inv_set_wanted(1 if signals.has_receivers(signals.SIPInvitationChangedState)\n'
     '                              else 0)\n',
     '        lib.sc_inv_set_wanted(0)\n',
     [_FOLLOWS]),
    ('invitation-dead-weak-receiver-keeps-the-full-path',
     'a weak receiver that died leaves the flag set: every INVITE then takes the dialog path',
     F,
     '        lib.sc_inv_set_wanted(0)    # (a weak receiver that died: told late, see below)\n',
     '',
     [_FOLLOWS]),
]
MUTANTS += [dict(name=n, why=w, file=f, old=o, new=x, tests=t) for n, w, f, o, x, t in ISSUE14]

# issue #13 (tcall): set_offered_local_sdp() off the poll thread checks in the calling thread
# and hands the SDP over without waiting
_OFFER_OFF = f"{UNIT}::test_set_offered_local_sdp_off_the_poll_thread_does_not_wait"
TCALL = [
    ('invitation-offer-unchecked-off-the-poll-thread',
     'an SDP PJMEDIA refuses, set from an application thread, is taken (no ValueError): the '
     'negotiator aborts the process at send_invite()/accept_invite()',
     F,
     '        self._require("set_offered_local_sdp")\n        _check_offer(sdp)\n'
     '        ua.post_or_fail(',
     '        self._require("set_offered_local_sdp")\n        ua.post_or_fail(',
     # (test_bad_arguments first: the other one ends in PJMEDIA's abort, as the bug would)
     [f"{UNIT}::test_bad_arguments_name_the_argument", _OFFER_OFF]),
    ('invitation-offer-state-unchecked-off-the-poll-thread',
     'set_offered_local_sdp() from an application thread on an ended session raises nothing',
     F,
     '        self._require("set_offered_local_sdp")\n        _check_offer(sdp)\n'
     '        ua.post_or_fail(',
     '        _check_offer(sdp)\n        ua.post_or_fail(',
     [f"{UNIT}::test_wrong_state_names_the_state", _OFFER_OFF]),
    ('invitation-offer-state-read-before-posted-calls-ran',
     'set_offered_local_sdp() right after a disconnect() handed over without waiting checks '
     'the state before that call ran: accepted on a session that is ending',
     F,
     '        self._flush()                   # (the state those calls make)\n'
     '        self._require("set_offered_local_sdp")\n',
     '        self._require("set_offered_local_sdp")\n',
     [_OFFER_OFF]),
    ('invitation-offer-waits-for-the-poll-thread',
     'set_offered_local_sdp() from an application thread waits for the poll thread again',
     F,
     '        ua.post_or_fail(self._set_offered_posted, sdp, on_fail=_nothing, first=_nothing)\n',
     '        ua.call(self._set_offered_posted, sdp)\n',
     [_OFFER_OFF]),
    ('invitation-offer-posted-dropped',
     'the SDP checked in the calling thread never reaches the session: the INVITE carries '
     'the previous offer (or none)',
     F,
     '        the change (an ended session never sends it)."""\n        self._offered_local = sdp\n',
     '        the change (an ended session never sends it)."""\n',
     [_OFFER_OFF, f"{UNIT}::test_calling_then_cancel_before_any_response_with_timeout"]),
]
MUTANTS += [dict(name=n, why=w, file=f, old=o, new=x, tests=t) for n, w, f, o, x, t in TCALL]
