"""Mutants of the notebook, asyncio and trace tools (see tools/mutants.py for the format):
sipcore/pcap.py, aio.py, ladder.py, the primitives' recent transitions (_reprs) and
Engine.start() run again.  Each row: name, why, file, old, new, tests."""
PCAP = "tests/interop/test_pcap.py::"
AIO = "tests/interop/test_aio.py::"
TSHARK = PCAP + "test_trace_as_pcap_read_by_tshark"
ROWS = [
    ("pcap-time-without-microseconds", "packets carry the second of their trace, not its time",
     "src/sipcore/pcap.py", "secs, delta.microseconds, len(frame)", "secs, 0, len(frame)",
     [TSHARK]),
    ("pcap-checksum-without-pseudo-header",
     "UDP/TCP checksums computed without the IP pseudo-header (Wireshark flags every packet)",
     "src/sipcore/pcap.py", "csum = _checksum(pseudo + segment) or 0xFFFF",
     "csum = _checksum(segment) or 0xFFFF", [TSHARK]),
    ("pcap-every-message-as-udp", "messages traced over TCP are written as UDP datagrams",
     "src/sipcore/pcap.py", '''text, d.get("transport") or transport_of(text))''', 'text, "udp")',
     [TSHARK]),
    ("pcap-udp-ports-swapped", "a datagram's source and destination ports are swapped",
     "src/sipcore/pcap.py", 'struct.pack("!HHHH", sport, dport,', 'struct.pack("!HHHH", dport, sport,',
     [TSHARK]),
    ("pcap-received-copy-kept", "a message traced as sent and as received is written twice",
     "src/sipcore/pcap.py", "        if counts[other]:\n            counts[other] -= 1\n"
     "            return False\n", "",
     [PCAP + "test_message_to_itself_written_once"]),
    ("pcap-tcp-cut-without-body", "a TCP stream is cut at the end of the headers (bodies lost)",
     "src/sipcore/pcap.py", "total = end + 4 + (int(m.group(1)) if m else 0)", "total = end + 4",
     [PCAP + "test_real_capture_read_back"]),
    ("aio-cancel-leaves-receiver", "a cancelled or timed-out wait stays connected",
     "src/sipcore/aio.py", "        return await asyncio.wait_for(future, timeout)\n"
     "    finally:\n        waiter.close()\n",
     "        return await asyncio.wait_for(future, timeout)\n    finally:\n        pass\n",
     [AIO + "test_cancel_and_timeout_disconnect_the_receiver"]),
    ("aio-poll-thread-waits-for-loop", "the poll thread waits until the loop took the notification",
     "src/sipcore/aio.py", "            self.loop.call_soon_threadsafe(self._deliver, notification)\n",
     "            asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self.loop).result()\n"
     "            self.loop.call_soon_threadsafe(self._deliver, notification)\n",
     [AIO + "test_stream_in_order_and_poll_thread_never_waits_for_the_loop"]),
    ("aio-call-failure-waits-out-timeout", "a refused call waits for the timeout, no OperationFailed",
     "src/sipcore/aio.py", '''    return await state(invitation, "CONFIRMED", fail_on=["DISCONNECTED"], timeout=timeout,
                       action=lambda: invitation.send_invite(extra_headers),''',
     '''    return await state(invitation, "CONFIRMED", fail_on=[], timeout=timeout,
                       action=lambda: invitation.send_invite(extra_headers),''',
     [AIO + "test_failures_raise_at_once_with_the_code"]),
    ("reprs-invitation-transitions-lost", "an Invitation's repr shows no recent transitions",
     "src/sipcore/primitives/invitation.py", "        _reprs.note(self, prev, state, data)\n", "",
     ["tests/interop/test_reprs.py::test_registration_and_invitation"]),
    ("engine-start-again-not-idempotent", "start() with the running options raises",
     "src/sipcore/engine.py", '''if opts == getattr(self, "_start_options", None):''', "if False:",
     ["tests/unit/test_engine.py::test_start_again_same_options_is_a_no_op_other_options_say_what_to_do"]),
    ("pcapng-tsresol-ignored", "a pcapng interface's if_tsresol is ignored (nanosecond captures "
     "read 1000x too late)", "src/sipcore/pcap.py",
     "            return 1 << (v & 0x7F) if v & 0x80 else int(10 ** v)\n", "",
     ["tests/robustness/test_hostile_pcap.py::test_pcapng_sample_reads_back_like_the_pcap"]),
    ("trace-timestamp-at-drain", "a SIP trace is stamped when the poll thread delivers it, not "
     "when the message crossed", "src/sipcore/_ua.py",
     ",\n                                    timestamp=_from_epoch(ev.time, _UTC))", ")",
     ["tests/unit/test_message.py::"
      "test_trace_timestamps_are_when_the_message_crossed_not_when_it_was_delivered"]),
]
MUTANTS = [dict(name=name, why=why, file=file, old=old, new=new, tests=tests)
           for name, why, file, old, new, tests in ROWS]
