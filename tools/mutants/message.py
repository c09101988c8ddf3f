"""MESSAGE mutants (see tools/mutants.py for the format): src/sipcore/primitives/message.py."""
F = "src/sipcore/primitives/message.py"
T = "tests/unit/test_message.py"
HOSTILE_ODD = ("tests/robustness/test_hostile_input.py::"
               "test_escaped_uris_and_non_utf8_content_types_reach_the_peer")

MUTANTS = [
    dict(name="message-slow-path-swaps-to-and-from",
         why="an incoming MESSAGE read field by field (URI with an escaped NUL) reports its To "
             "URI as from_uri and its From URI as to_uri",
         file=F,
         old="    to_uri, from_uri, content_type, body = decode(",
         new="    from_uri, to_uri, content_type, body = decode(",
         tests=[f"{T}::test_uris_with_nul_and_the_mark_cross_in_the_flat_buffer", HOSTILE_ODD]),
    dict(name="message-slow-path-content-type-reversed",
         why="the slow incoming path joins the content type as subtype/type",
         file=F,
         old='_CONTENT_TYPE_TEXT.get(raw) or raw.decode("utf-8", "replace"),',
         new='_CONTENT_TYPE_TEXT.get(raw) or "/".join(raw.decode("utf-8", "replace").split("/")[::-1]),',
         tests=[HOSTILE_ODD]),
    dict(name="message-transport-error-reported-as-408",
         why="a transport failure is reported as 408 instead of 503 (RFC 3261 8.1.3.1)",
         file=F,
         old='        self._report(code, text)\n',
         new='        self._report(408 if transport_err else code, text)\n',
         tests=[f"{T}::test_tcp_connection_refused_gives_503_with_reason"]),
    dict(name="message-pending-check-dropped",
         why="a second MESSAGE to a URI with one unanswered is sent instead of refused "
             "(spec: SIPCoreError until the final response)",
         file=F,
         old='        MessagePendingError."""\n'
             '        if self.ua.pending_messages.setdefault(self.key, self) is not self:\n'
             '            raise MessagePendingError(self.to_uri)\n',
         new='        MessagePendingError."""\n'
             '        self.ua.pending_messages[self.key] = self\n',
         tests=[f"{T}::test_pending_message_to_same_uri_raises_dedicated_error"]),
    dict(name="message-to-uri-headers-dropped",
         why="the headers of to_uri are not put into the request (RFC 3261 19.1.5)",
         file=F,
         old="    headers = _extra_headers(to_uri.headers) if to_uri.headers else _NULL\n",
         new="    headers = _NULL\n",
         tests=[f"{T}::test_headers_of_to_uri_go_into_the_request"]),
    dict(name="message-engine-stop-without-response",
         why="a MESSAGE pending when the Engine stops never gets its one "
             "SIPEngineGotMessageResponse",
         file=F,
         old='        lib.sc_msg_cancel(msg)\n        self._report(408, "Engine stopped")\n',
         new='        lib.sc_msg_cancel(msg)\n        self._forget()\n',
         tests=[f"{T}::test_stop_with_pending_message_notifies_once",
                "tests/interop/test_engine_real_peers.py::test_engine_stops_at_interpreter_exit"]),
    dict(name="message-posted-send-failure-silent",
         why="a MESSAGE from an application thread that PJSIP refuses on the poll thread "
             "gets no SIPEngineGotMessageResponse (nobody waits for the hand-off)",
         file=F,
         old='            if not self.done:\n                self._report(503, f"Not sent: {exc}")\n',
         new='            if not self.done:\n                self._forget()\n',
         tests=[f"{T}::test_a_send_failing_on_the_poll_thread_is_its_one_503"]),
    dict(name="message-posted-send-lost-at-stop",
         why="a MESSAGE from an application thread accepted as the Engine stops is never "
             "answered (the hand-off queue closed behind it)",
         file=F,
         old="                    on_fail=pm.abandon, first=pm.reserve)\n",
         new="                    on_fail=pm._forget, first=pm.reserve)\n",
         tests=[f"{T}::test_a_send_that_a_stop_overtakes_is_answered_engine_stopped"]),
    dict(name="ua-posted-calls-starve-the-poll",
         why="the poll thread runs posted calls as long as threads add more: application "
             "threads sending without waiting keep it from polling (the answers starve)",
         file="src/sipcore/_ua.py",
         old="        for _ in range(len(self._posted)):\n            pc = self._posted.popleft()\n",
         new="        while self._posted:\n            pc = self._posted.popleft()\n",
         tests=[f"{T}::test_calls_posted_meanwhile_wait_for_the_next_poll_round"]),
    dict(name="message-request-from-and-to-swapped",
         why="sc_msg_request_t filled out of its field order: the From header carries the "
             "target's name-addr and To the sender's",
         file=F,
         old="(target, from_, to, route_hdr, type_, subtype, user)]",
         new="(target, to, from_, route_hdr, type_, subtype, user)]",
         tests=[f"{T}::test_message_to_itself"]),
    dict(name="message-request-type-and-subtype-swapped",
         why="sc_msg_request_t filled out of its field order: Content-Type sent as subtype/type",
         file=F,
         old="(target, from_, to, route_hdr, type_, subtype, user)]",
         new="(target, from_, to, route_hdr, subtype, type_, user)]",
         tests=[f"{T}::test_message_to_itself"]),
    # -- issue #14
    dict(name="message-content-type-parameters-dropped",
         why="an incoming MESSAGE's Content-Type parameters (a multipart boundary) are lost",
         file=F,
         old="        content_type, params = split_content_type(content_type)\n",
         new="        content_type, params = split_content_type(content_type)[0], {}\n",
         tests=["tests/robustness/test_conformance.py::test_multipart_message_delivered_as_sent"]),
    dict(name="message-content-type-quotes-kept",
         why="a quoted Content-Type parameter keeps its quotes",
         file=F,
         old="        if value.startswith('\"'):\n",
         new="        if False:\n",
         tests=["tests/robustness/test_conformance.py::"
                "test_quoted_content_type_parameters_are_delivered_as_values"]),
]

# issue #13 (the testing tools): rows of name, why, file, old, new, tests
ISSUE13 = [
    ('message-answer-code-not-passed',
     "message_answer='receiver': the code a receiver chose never reaches the glue (every MESSAGE is answered 200)",
     'src/sipcore/primitives/message.py',
     '    lib.sc_message_answer_code(answer.code)\n',
     '',
     ['tests/interop/test_message_answer.py::test_receiver_chooses_the_code']),
]
MUTANTS += [dict(name=n, why=w, file=f, old=o, new=x, tests=t) for n, w, f, o, x, t in ISSUE13]
