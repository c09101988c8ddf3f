"""MESSAGE mutants (see tools/mutants.py for the format): src/sipcore/primitives/message.py."""
F = "src/sipcore/primitives/message.py"
T = "tests/unit/test_message.py"
HOSTILE_SLOW = ("tests/robustness/test_hostile_input.py::"
                "test_slow_incoming_path_and_non_utf8_content_types_reach_the_peer")

MUTANTS = [
    dict(name="message-slow-path-swaps-to-and-from",
         why="an incoming MESSAGE read field by field (URI with an escaped NUL) reports its To "
             "URI as from_uri and its From URI as to_uri",
         file=F,
         old='                   to_uri=from_info(ffi.addressof(info, "to_uri"), True) if info.to_ok else None,\n'
             '                   from_uri=(from_info(ffi.addressof(info, "from_uri"), True) if info.from_ok\n'
             '                             else None),',
         new='                   from_uri=from_info(ffi.addressof(info, "to_uri"), True) if info.to_ok else None,\n'
             '                   to_uri=(from_info(ffi.addressof(info, "from_uri"), True) if info.from_ok\n'
             '                             else None),',
         tests=[f"{T}::test_uris_the_flat_buffer_cannot_carry_are_read_field_by_field", HOSTILE_SLOW]),
    dict(name="message-slow-path-content-type-reversed",
         why="the slow incoming path joins the content type as subtype/type",
         file=F,
         old='        content_type = f"{pj2str(info.content_type)}/{pj2str(info.content_subtype)}"',
         new='        content_type = f"{pj2str(info.content_subtype)}/{pj2str(info.content_type)}"',
         tests=[HOSTILE_SLOW]),
    dict(name="message-transport-error-reported-as-408",
         why="a transport failure is reported as 408 instead of 503 (RFC 3261 8.1.3.1)",
         file=F,
         old='        signals.notify(signals.SIPEngineGotMessageResponse, self.ua.engine, to_uri=self.to_uri,\n'
             '                       code=code, reason=text)',
         new='        signals.notify(signals.SIPEngineGotMessageResponse, self.ua.engine, to_uri=self.to_uri,\n'
             '                       code=408 if transport_err else code, reason=text)',
         tests=[f"{T}::test_tcp_connection_refused_gives_503_with_reason"]),
    dict(name="message-pending-check-dropped",
         why="a second MESSAGE to a URI with one unanswered is sent instead of refused "
             "(spec: SIPCoreError until the final response)",
         file=F,
         old="        if self.key in pending:\n            raise MessagePendingError(self.to_uri)\n",
         new="",
         tests=[f"{T}::test_pending_message_to_same_uri_raises_dedicated_error"]),
    dict(name="message-to-uri-headers-dropped",
         why="the headers of to_uri are not put into the request (RFC 3261 19.1.5)",
         file=F,
         old="    headers = _extra_headers(to_uri.headers) if to_uri.headers else ffi.NULL\n",
         new="    headers = ffi.NULL\n",
         tests=[f"{T}::test_headers_of_to_uri_go_into_the_request"]),
    dict(name="message-engine-stop-without-response",
         why="a MESSAGE pending when the Engine stops never gets its one "
             "SIPEngineGotMessageResponse",
         file=F,
         old='        lib.sc_msg_cancel(msg)\n        self._forget()\n'
             '        signals.notify(signals.SIPEngineGotMessageResponse, self.ua.engine, to_uri=self.to_uri,\n'
             '                       code=408, reason="Engine stopped")\n',
         new='        lib.sc_msg_cancel(msg)\n        self._forget()\n',
         tests=[f"{T}::test_stop_with_pending_message_notifies_once",
                "tests/interop/test_engine_real_peers.py::test_engine_stops_at_interpreter_exit"]),
    dict(name="message-request-from-and-to-swapped",
         why="sc_msg_request_t filled out of its field order: the From header carries the "
             "target's name-addr and To the sender's",
         file=F,
         old="    args = (c(target) or _cstr(target), c(from_) or _cstr(from_), c(to) or _cstr(to),\n",
         new="    args = (c(target) or _cstr(target), c(to) or _cstr(to), c(from_) or _cstr(from_),\n",
         tests=[f"{T}::test_message_to_itself"]),
    dict(name="message-request-type-and-subtype-swapped",
         why="sc_msg_request_t filled out of its field order: Content-Type sent as subtype/type",
         file=F,
         old="            headers if headers is _NULL else _from_buffer(headers), ctype[0], ctype[1],\n",
         new="            headers if headers is _NULL else _from_buffer(headers), ctype[1], ctype[0],\n",
         tests=[f"{T}::test_message_to_itself"]),
]
