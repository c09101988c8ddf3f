"""Mutants of the command line (sipcore.cli) and of the README/tutorial examples' finds (see
tools/mutants.py for the format).  Each row: name, why, file, old, new, tests."""
CLI = "tests/interop/test_cli_commands.py::"
ROWS = [
    ("cli-failure-exits-0", "a request the network refused exits 0 (scripts see success)",
     "src/sipcore/cli.py",
     "    except Failure as e:\n        print(f\"{prog}: {e}\", file=sys.stderr)\n        return 1\n",
     "    except Failure as e:\n        print(f\"{prog}: {e}\", file=sys.stderr)\n        return 0\n",
     [CLI + "test_message_to_nothing_fails_with_the_code"]),
    ("cli-message-any-final-response-is-success",
     "a 4xx/5xx/6xx final response to the MESSAGE is printed as a success",
     "src/sipcore/cli.py", "    if not 200 <= n.data.code < 300:\n",
     "    if not 200 <= n.data.code < 700:\n",
     [CLI + "test_message_through_kamailio_with_authentication_and_its_404"]),
    ("cli-usage-errors-are-argparse-default",
     "a bad argument prints argparse's usage block as well (two lines and more, not one)",
     "src/sipcore/cli.py", "    def error(self, message: str) -> Any:",
     "    def _error(self, message: str) -> Any:",
     [CLI + "test_bad_input_is_one_line_naming_the_argument"]),
    ("cli-status-line-never-rewritten",
     "on a terminal the status line is not rewritten with the time waited",
     "src/sipcore/cli.py",
     "                if self.tty:\n                    self._show(",
     "                if False:\n                    self._show(",
     [CLI + "test_status_line_on_a_terminal_and_plain_lines_otherwise"]),
    ("cli-trace-directions-swapped", "trace prints a sent message as received and back",
     "src/sipcore/cli.py", "        arrow = \"received\" if d[\"received\"] else \"sent\"\n",
     "        arrow = \"sent\" if d[\"received\"] else \"received\"\n",
     [CLI + "test_trace_prints_the_messages_of_a_command"]),
    ("cli-call-plays-nothing-stays-no-time",
     "the call hangs up at once instead of staying --duration",
     "src/sipcore/cli.py", "        s.pause(\"in call\"", "        (lambda *a, **k: None)(\"in call\"",
     [CLI + "test_call_a_sipcore_peer_with_audio_and_hang_up"]),
    ("cli-call-stun-ignored", "call --stun offers ICE without asking the STUN server",
     "src/sipcore/cli.py",
     "    rtp = RTPTransport(use_ice=a.ice or a.stun is not None, ice_stun_address=stun_ip,\n",
     "    rtp = RTPTransport(use_ice=a.ice or a.stun is not None, ice_stun_address=None,\n",
     [CLI + "test_call_with_ice_and_stun_and_against_a_peer_without_ice"]),
    ("cli-call-ice-pair-reversed", "call's ICE line prints the nominated pair the wrong way round",
     "src/sipcore/cli.py",
     "            local, remote = n.data.chosen_local_candidates[0], "
     "n.data.chosen_remote_candidates[0]\n",
     "            remote, local = n.data.chosen_local_candidates[0], "
     "n.data.chosen_remote_candidates[0]\n",
     [CLI + "test_call_with_ice_and_stun_and_against_a_peer_without_ice"]),
    ("invitation-local-sdp-not-validated",
     "an SDP PJMEDIA's negotiator refuses is taken by set_offered_local_sdp (the process "
     "aborts at send_invite)",
     "src/sipcore/primitives/invitation.py",
     "            raise ValueError(f\"local_sdp is not an SDP PJMEDIA accepts: {strerror(status)}\")\n"
     "        self._offered_local = sdp\n",
     "            pass\n        self._offered_local = sdp\n",
     ["tests/unit/test_invitation.py::test_bad_arguments_name_the_argument"]),
    ("engine-stop-asks-media-cores-to-end-on-wire",
     "Engine.stop() calls _end_on_wire on the RTP/audio cores kept with the primitives "
     "(an AttributeError reported at every stop with media)",
     "src/sipcore/_ua.py",
     "                end = getattr(primitive, \"_end_on_wire\", None)\n",
     "                end = primitive._end_on_wire\n",
     ["tests/unit/test_rtp_transport.py::test_engine_stop_invalidates_and_frees"]),
]
MUTANTS = [dict(name=name, why=why, file=file, old=old, new=new, tests=tests)
           for name, why, file, old, new, tests in ROWS]
