"""Subscription mutants (see tools/mutants.py for the format)."""
F = "src/sipcore/primitives/subscription.py"
T = "tests/interop/test_subscription.py"
STATES = f"{T}::test_states_sent_accepted_pending_active_then_notifier_terminates"
TERMINATES = f"{T}::test_notifier_terminates_active_subscription[rejected]"
UNKNOWN = f"{T}::test_unknown_subscription_state_is_reported_as_its_text"
REJECTED = f"{T}::test_rejected_subscribe_terminates_with_exact_code[489-Bad Event]"
HEADERS = f"{T}::test_extra_headers_and_contact_uri_on_every_subscribe"
STOP = f"{T}::test_engine_stop_notifies_terminated"

ST = "src/sipcore/primitives/_states.py"   # the rows

MUTANTS = [
    # -- the issue's (survived tests/interop/test_presence.py, which only reads .state)
    dict(name="subscription-stop-no-notification",
         why="Engine stop sets TERMINATED without sending SIPSubscriptionChangedState",
         file=F,
         old='            self._fire("engine_stop")\n',
         new='            self._state = TERMINATED\n',
         tests=[STOP]),
    # -- new.  (Not listed: "Engine stop notifies TERMINATED again for a subscription that had
    # already ended" is equivalent: an ended subscription has left ua.primitives, so
    # _engine_stopping is never called for it; test_rejected_subscribe_terminates_with_exact_code
    # checks the observable part, no notification after the stop.)
    dict(name="subscription-subscribe-guard-active-only",
         why="subscribe() refused only in ACTIVE: allowed in SENT/ACCEPTED/PENDING (a second evsub)",
         file=F,
         old="        if self._state != TERMINATED:\n"
             "            raise InvalidStateError(\"Subscription.subscribe()\", self._state)\n",
         new="        if self._state == \"ACTIVE\":\n"
             "            raise InvalidStateError(\"Subscription.subscribe()\", self._state)\n",
         tests=[STATES]),
    # issue #13 made unsubscribe() in TERMINATED a no-op on purpose (README deviations); the
    # same bug in today's code: the no-op taken by a live subscription too
    dict(name="subscription-unsubscribe-terminated-ignored",
         why="unsubscribe() silently does nothing in every state, not only in TERMINATED (a "
             "live subscription is never ended)",
         file=F,
         old="        if self._state == TERMINATED:\n            return      # ended already",
         new="        if True:\n            return      # ended already",
         tests=[f"{T}::test_unsubscribe_in_pending_ends_without_final_notify"]),
    dict(name="subscription-code-only-on-failure",
         why="code/reason given only for failures (>= 300): ACCEPTED (2xx) loses them",
         file=F,
         old="        if result.code >= 200:\n",
         new="        if result.code >= 300:\n",
         tests=[TERMINATES]),
    dict(name="subscription-reason-from-termination-reason",
         why="reason taken from the evsub's termination reason instead of the response's text",
         file=F,
         old="\"reason\": pj2str(result.reason)}",
         new="\"reason\": pj2str(result.termination_reason)}",
         tests=[TERMINATES]),
    dict(name="subscription-state-name-uppercased",
         why="state name normalised to upper case: the server's own Subscription-State text changes",
         file=F,
         old="        state = pj2s(result.state_name)\n",
         new="        state = pj2s(result.state_name).upper()\n",
         tests=[UNKNOWN]),
    dict(name="subscription-state-dedupe-inverted",
         why="same-state check inverted: repeated states without data are notified (SENT twice)",
         file=F,
         old="        if state == self._state and not data:\n",
         new="        if state == self._state and data:\n",
         tests=[REJECTED]),
    dict(name="subscription-empty-notify-not-suppressed",
         why="GotNotify condition tests the wrong field: every NOTIFY (empty too) is reported",
         file=F,
         old="        if info.has_body and info.body_len > 0:\n",
         new="        if info.is_request:\n",
         tests=[STATES]),
    dict(name="subscription-content-type-swapped",
         why="content_type built as subtype/type",
         file=F,
         old="content_type=f\"{pj2str(info.content_type)}/{pj2str(info.content_subtype)}\"",
         new="content_type=f\"{pj2str(info.content_subtype)}/{pj2str(info.content_type)}\"",
         tests=[STATES]),
    dict(name="subscription-body-off-by-one",
         why="NOTIFY body cut by one byte (as if dropping a terminating NUL)",
         file=F,
         old="body=ffi.unpack(info.body, info.body_len)",
         new="body=ffi.unpack(info.body, info.body_len - 1)",
         tests=[STATES]),
    dict(name="subscription-extra-headers-dropped",
         why="extra_headers never handed to the evsub: no SUBSCRIBE carries them",
         file=F,
         old="            for name, value in self._extra_headers.items():\n",
         new="            for name, value in {}.items():\n",
         tests=[HEADERS]),
    dict(name="subscription-contact-uri-ignored",
         why="contact_uri ignored: the generated Contact is always used",
         file=F,
         old="        contact = (self._contact_arg._name_addr() if self._contact_arg is not None\n"
             "                   else self._local_contact(aor.user, self._route.transport))\n",
         new="        contact = self._local_contact(aor.user, self._route.transport)\n",
         tests=[HEADERS]),
    dict(name="subscription-requested-expires-ignored",
         why="the initial SUBSCRIBE asks for the default 300 s, not the expires given",
         file=F,
         old="            self._send(self._expires, first=True, failover_from=failover_from)\n",
         new="            self._send(300, first=True, failover_from=failover_from)\n",
         tests=[HEADERS]),
    dict(name="subscription-unsubscribe-refreshes",
         why="unsubscribe() sends the requested expires instead of Expires: 0",
         file=F,
         old="            raise InvalidStateError(\"Subscription.unsubscribe()\", self._state)\n        self._send(0)\n",
         new="            raise InvalidStateError(\"Subscription.unsubscribe()\", self._state)\n        self._send(self._expires)\n",
         tests=[HEADERS]),
    # -- issue #11: the rows and the events
    dict(name="subscription-row-2xx-to-active",
         why="the 2xx row points to ACTIVE instead of ACCEPTED",
         file=ST,
         old='    ("SENT", "rx_2xx"): "ACCEPTED",',
         new='    ("SENT", "rx_2xx"): "ACTIVE",',
         tests=[STATES]),
    dict(name="subscription-row-missing-pending-after-accepted",
         why="no row for a NOTIFY 'pending' in ACCEPTED: TransitionError, the state stays ACCEPTED",
         file=ST,
         old='    **{(s, "rx_notify_pending"): "PENDING" for s in _SUB_LIVE},',
         new='    **{(s, "rx_notify_pending"): "PENDING" for s in _SUB_LIVE if s != "ACCEPTED"},',
         tests=[STATES]),
    dict(name="subscription-2xx-fired-as-notify-active",
         why="PJSIP's ACCEPTED report fired as the event of a NOTIFY 'active'",
         file=F,
         old='    lib.PJSIP_EVSUB_STATE_ACCEPTED: "rx_2xx",\n',
         new='    lib.PJSIP_EVSUB_STATE_ACCEPTED: "rx_notify_active",\n',
         tests=[STATES]),
    # -- issue #14
    dict(name="subscription-not-ended-at-stop",
         why="Engine.stop() leaves the subscription on the server (no SUBSCRIBE Expires: 0)",
         file=F,
         old="        try:\n            self._send(0)\n        except SIPCoreError as exc:\n",
         new="        try:\n            return False\n        except SIPCoreError as exc:\n",
         tests=["tests/interop/test_stop_ends_state.py::test_stop_unregisters_unpublishes_and_unsubscribes"]),
]

# issue #13 (the testing tools): rows of name, why, file, old, new, tests
ISSUE13 = [
    ('subscription-unsubscribe-terminated-raises',
     'unsubscribe() of a TERMINATED subscription raises instead of doing nothing',
     'src/sipcore/primitives/subscription.py',
     '        if self._state == TERMINATED:\n            return      # ended already',
     '        if self._state == TERMINATED:\n            raise InvalidStateError("Subscription.unsubscribe()", self._state)\n            return      # ended already',
     ['tests/interop/test_subscription.py::test_states_sent_accepted_pending_active_then_notifier_terminates']),
    ('subscription-timeout-never-armed',
     "Subscription(timeout=...) arms no timer: an unanswered SUBSCRIBE waits for PJSIP's 32 s",
     'src/sipcore/primitives/subscription.py',
     '        check(lib.pjsip_evsub_send_request(self._sub, tdata[0]), "sending the SUBSCRIBE")\n        self._arm_deadline()\n',
     '        check(lib.pjsip_evsub_send_request(self._sub, tdata[0]), "sending the SUBSCRIBE")\n',
     ['tests/unit/test_request_timeout.py::test_subscribe_without_answer_ends_terminated_408']),
]
MUTANTS += [dict(name=n, why=w, file=f, old=o, new=x, tests=t) for n, w, f, o, x, t in ISSUE13]

# issue #14 (names): the first SUBSCRIBE fails over to the next server on 503/408/timeout;
# rows of name, why, file, old, new, tests
_FO = "tests/interop/test_names.py::test_subscription_fails_over_on_503_408_and_timeout"
ISSUE14 = [
    ("subscription-no-failover-on-503",
     "a 503 to the first SUBSCRIBE ends the subscription although the name resolved to "
     "another server (RFC 3263 4.3)",
     F,
     '        return (self._state == "SENT" and code in (408, 503) and self._first is not None\n',
     '        return (self._state == "SENT" and code in (408,) and self._first is not None\n',
     [_FO]),
    ("subscription-failover-to-the-same-server",
     "the failover's SUBSCRIBE is resolved again instead of going to the next address",
     F,
     "        if failover_from is not None:\n            lib.sc_tdata_failover(failover_from, tdata[0])\n",
     "",
     [_FO]),
    ("subscription-deadline-never-fails-over",
     "the Subscription's timeout ends it with 408 although another server is left",
     F,
     "            if self._can_failover(408):\n",
     "            if False:\n",
     [_FO]),
]
MUTANTS += [dict(name=n, why=w, file=f, old=o, new=x, tests=t) for n, w, f, o, x, t in ISSUE14]
