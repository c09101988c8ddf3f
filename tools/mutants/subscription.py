"""Subscription mutants (see tools/mutants.py for the format)."""
F = "src/sipcore/primitives/subscription.py"
T = "tests/interop/test_subscription.py"
STATES = f"{T}::test_states_sent_accepted_pending_active_then_notifier_terminates"
TERMINATES = f"{T}::test_notifier_terminates_active_subscription[rejected]"
UNKNOWN = f"{T}::test_unknown_subscription_state_is_reported_as_its_text"
REJECTED = f"{T}::test_rejected_subscribe_terminates_with_exact_code[489-Bad Event]"
HEADERS = f"{T}::test_extra_headers_and_contact_uri_on_every_subscribe"
STOP = f"{T}::test_engine_stop_notifies_terminated"

MUTANTS = [
    # -- the (survived tests/interop/test_presence.py, which only reads .state)
    dict(name="subscription-stop-no-notification",
         why="Engine stop sets TERMINATED without sending SIPSubscriptionChangedState",
         file=F,
         old="            self._state = TERMINATED\n"
             "            signals.notify(signals.SIPSubscriptionChangedState, self, state=TERMINATED)\n",
         new="            self._state = TERMINATED\n",
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
    dict(name="subscription-unsubscribe-terminated-ignored",
         why="unsubscribe() in TERMINATED silently does nothing instead of InvalidStateError",
         file=F,
         old="            raise InvalidStateError(\"Subscription.unsubscribe()\", self._state)\n",
         new="            return\n",
         tests=[REJECTED]),
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
         old="            self._send(self._expires)\n",
         new="            self._send(300)\n",
         tests=[HEADERS]),
    dict(name="subscription-unsubscribe-refreshes",
         why="unsubscribe() sends the requested expires instead of Expires: 0",
         file=F,
         old="        self._send(0)\n",
         new="        self._send(self._expires)\n",
         tests=[HEADERS]),
]
