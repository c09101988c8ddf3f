"""AudioTransport and the peer's call media, caught on real calls between two sipcore
processes, baresip and the bridge (see tools/mutants.py for the format):
src/sipcore/media/audio.py, src/sipcore/peer.py (CallMedia), the conference of engine.py."""
A = "src/sipcore/media/audio.py"
P = "src/sipcore/peer.py"
E = "src/sipcore/engine.py"
PEER = "tests/interop/test_audio_sipcore_peer.py"
CONF = "tests/interop/test_audio_conference.py"

MUTANTS = [
    dict(name="audio-update-direction-not-applied",
         why="update_direction() records the new direction but the stream keeps sending and "
             "receiving: hold is not heard",
         file=A,
         old="        check(lib.sc_stream_set_dir(self._core.stream, direction in (\"sendrecv\", "
             "\"sendonly\"),\n",
         new="        check(lib.sc_stream_set_dir(self._core.stream, True,\n",
         tests=[f"{PEER}::test_hold_with_reinvite_silences_and_resumes"]),
    dict(name="audio-dtmf-notified-twice",
         why="each received digit is notified twice",
         file=A,
         old="        signals.notify(signals.RTPAudioTransportGotDTMF, self, digit=digit)\n",
         new="        signals.notify(signals.RTPAudioTransportGotDTMF, self, digit=digit)\n"
             "        signals.notify(signals.RTPAudioTransportGotDTMF, self, digit=digit)\n",
         tests=[f"{PEER}::test_dtmf_16_digits_each_way_once_in_order"]),
    dict(name="audio-codec-list-ignored",
         why="a transport's codecs list is not applied to its offer: the Engine's first codec "
             "(opus) is negotiated instead",
         file=A,
         old="        if self._codecs is None:\n            return fn(*args)\n",
         new="        if True:\n            return fn(*args)\n",
         tests=[f"{PEER}::test_audio_both_ways_two_codecs"]),
    dict(name="audio-answer-line-direction-ignored",
         why="get_local_media(False) gives the answer's line with the negotiated direction, "
             "not the one asked for",
         file=A,
         old="            return _with_direction(_from_flat(self._answer).media[0], direction)\n",
         new="            return _from_flat(self._answer).media[0]\n",
         tests=["tests/unit/test_rtp_transport.py::"
                "test_the_answer_line_is_a_new_object_each_time_with_the_asked_direction"]),
    dict(name="peer-reinvite-direction-ignored",
         why="CallMedia applies no negotiated direction after a re-INVITE (only the first "
             "SDP update): the held side keeps sending",
         file=P,
         old="        if direction != self.audio.direction:\n",
         new="        if False:\n",
         tests=[f"{PEER}::test_hold_with_reinvite_silences_and_resumes"]),
    dict(name="peer-answer-ignores-srtp-mode",
         why="the peer's calls always use a plain RTPTransport whatever their srtp setting",
         file=P,
         old="        use_srtp, forced = srtp_mode(srtp)\n",
         new="        use_srtp, forced = False, False\n",
         tests=[f"{PEER}::test_audio_both_ways_two_codecs"]),
    dict(name="peer-conference-command-cannot-leave",
         why="the peer's conference command with join=false connects the call again",
         file=P,
         old="        if on:\n            engine.connect_audio_transport(self.audio)\n",
         new="        if True:\n            engine.connect_audio_transport(self.audio)\n",
         tests=[f"{PEER}::test_peer_offers_and_bridges_its_two_calls"]),
    dict(name="peer-set-media-error-swallowed",
         why="PeerProcess.set_media() returns the unchanged settings when the child refused "
             "the new ones: a typo passes unnoticed",
         file=P,
         old="        if ev.get(\"error\"):\n",
         new="        if False:\n",
         tests=[f"{PEER}::test_bad_media_settings_are_refused_when_set_and_change_nothing"]),
    dict(name="peer-media-values-unchecked",
         why="the media command checks no value: srtp \"mandatory\" is taken and fails the "
             "first call instead",
         file=P,
         old="    if \"srtp\" in s:\n        srtp_mode(s[\"srtp\"])\n",
         new="    if False:\n        srtp_mode(s[\"srtp\"])\n",
         tests=[f"{PEER}::test_bad_media_settings_are_refused_when_set_and_change_nothing"]),
    dict(name="conference-disconnect-leaves-it-in",
         why="disconnect_audio_transport leaves the transport in the conference: the remote "
             "still hears and is heard",
         file=E,
         old="lambda ua: ua.bridge.leave(transport) if ua.bridge is not None else None",
         new="lambda ua: None",
         tests=[f"{CONF}::test_three_party_conference_and_disconnect_one"]),
]
