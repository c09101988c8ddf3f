"""RTPTransport and AudioTransport without a peer: the media worker's lifetime, ports from
rtp_port_range, the state machine and its misuse, argument checks, Engine.stop() and garbage
collection (the C objects are freed once, on the poll thread)."""
from __future__ import annotations

import gc
import socket
import threading

import pytest

from sipcore import (AudioTransport, EngineNotRunningError, InvalidStateError,
                     NotificationRecorder, PJSIPError, RTPTransport, SDPSession, SIPCoreError,
                     signals)
from sipcore._pj import handles, lib
from sipcore.primitives._states import RTP_TRANSPORT


@pytest.fixture
def engine(engine_factory):
    return engine_factory(local_tcp_port=None)


def offer_for(rtp: RTPTransport) -> tuple[AudioTransport, SDPSession]:
    audio = AudioTransport(rtp)
    return audio, SDPSession("127.0.0.1", media=[audio.get_local_media(True)])


def test_media_worker_starts_with_the_first_transport_and_stops_with_the_engine(engine_factory):
    e = engine_factory()
    assert not lib.sc_media_worker_running()        # an Engine without media has none
    RTPTransport()
    assert lib.sc_media_worker_running()
    e.stop()
    assert not lib.sc_media_worker_running()


def test_ports_come_in_even_pairs_from_rtp_port_range(engine):
    engine.rtp_port_range = (41000, 41010)
    kept = [RTPTransport() for _ in range(5)]
    assert {t.local_rtp_port for t in kept} == {41000, 41002, 41004, 41006, 41008}
    with pytest.raises(PJSIPError, match="41000-41010"):       # every pair taken
        RTPTransport()


def test_a_busy_pair_is_skipped(engine):
    engine.rtp_port_range = (41100, 41104)
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 41100))
    try:
        assert RTPTransport().local_rtp_port == 41102
    finally:
        busy.close()


def test_addresses(engine):
    t = RTPTransport()
    assert t.local_rtp_address == "127.0.0.1"       # the Engine's local_ip
    assert RTPTransport(local_rtp_address="::1").local_rtp_address == "::1"
    assert t.remote_rtp_address_sdp is None and t.remote_rtp_port_sdp is None
    assert t.remote_rtp_address_received is None and t.remote_rtp_port_received is None
    assert (t.use_srtp, t.srtp_forced, t.use_ice, t.srtp_active) == (False, False, False, False)
    s = RTPTransport(use_srtp=False, srtp_forced=True)
    assert s.srtp_forced is False                       # only with use_srtp, as the spec says


def test_wrong_arguments(engine):
    with pytest.raises(TypeError, match="local_rtp_address"):
        RTPTransport(local_rtp_address=5)
    with pytest.raises(ValueError, match="local_rtp_address"):
        RTPTransport(local_rtp_address="example.com")
    with pytest.raises(TypeError, match="use_srtp"):
        RTPTransport(use_srtp="yes")
    with pytest.raises(ValueError, match="ice_stun_port"):
        RTPTransport(use_ice=True, ice_stun_address="127.0.0.1", ice_stun_port=0)
    t = RTPTransport()
    audio, offer = offer_for(t)
    with pytest.raises(TypeError, match="local_sdp"):
        t.set_LOCAL("v=0", 0)
    with pytest.raises(ValueError, match="sdp_index"):
        t.set_LOCAL(offer, 1)
    with pytest.raises(TypeError, match="sdp_index"):
        t.set_LOCAL(offer, "0")
    with pytest.raises(TypeError, match="remote_sdp"):
        t.set_ESTABLISHED(offer, None, 0)
    with pytest.raises(TypeError, match="transport"):
        AudioTransport("rtp")
    with pytest.raises(ValueError, match="'nosuchcodec'"):
        AudioTransport(t, codecs=["PCMU", "nosuchcodec"])
    with pytest.raises(TypeError, match="codecs"):
        AudioTransport(t, codecs="PCMU")
    with pytest.raises(TypeError, match="is_offer"):
        audio.get_local_media("yes")
    with pytest.raises(ValueError, match="sdp_index"):
        AudioTransport(t, offer, 3)


def test_states_and_their_misuse(engine):
    seen = []
    signals.RTPTransportDidInitialize.connect(lambda s, **d: seen.append(s), weak=False)
    t = RTPTransport()
    assert t.state == "INIT"
    t.set_INIT()
    assert seen[-1] is t                    # trigger 1: sent at once
    audio, offer = offer_for(t)
    with pytest.raises(InvalidStateError, match="'INIT'"):
        audio.start(offer, offer, 0)        # the offerer must set_LOCAL first
    t.set_LOCAL(offer, 0)
    assert t.state == "LOCAL"
    with pytest.raises(InvalidStateError, match="'LOCAL'"):
        t.set_LOCAL(offer, 0)
    t.set_INIT()                            # trigger 6 from LOCAL
    t.set_LOCAL(offer, 0)
    other = RTPTransport()
    answer = SDPSession("127.0.0.1", media=[AudioTransport(other, offer, 0).get_local_media(False)])
    t.set_ESTABLISHED(offer, answer, 0)
    assert t.state == "ESTABLISHED"
    with pytest.raises(InvalidStateError, match="'ESTABLISHED'"):
        t.set_ESTABLISHED(offer, answer, 0)
    with pytest.raises(InvalidStateError, match="'ESTABLISHED'"):
        t.set_LOCAL(offer, 0)
    t.set_INIT()                            # trigger 6 from ESTABLISHED
    assert t.state == "INIT" and t.remote_rtp_port_sdp is None


def test_the_table_is_the_spec_diagram():
    rows = RTP_TRANSPORT.rows
    assert rows[("INIT", "set_LOCAL")] == "LOCAL"
    assert rows[("LOCAL", "set_ESTABLISHED")] == rows[("INIT", "set_ESTABLISHED")] == "ESTABLISHED"
    assert rows[("WAIT_STUN", "stun_ok")] == "INIT"
    assert rows[("WAIT_STUN", "stun_fail")] == "STUN_FAILED"
    assert all(rows[(s, "engine_stop")] == "INVALID"
               for s in ("WAIT_STUN", "INIT", "LOCAL", "ESTABLISHED", "STUN_FAILED"))
    assert not RTP_TRANSPORT.allows("STUN_FAILED", "set_INIT")
    assert not RTP_TRANSPORT.allows("INVALID", "set_INIT")


def test_engine_stop_invalidates_and_frees(engine_factory):
    e = engine_factory()
    t = RTPTransport()
    audio, offer = offer_for(t)
    b = RTPTransport()
    answerer = AudioTransport(b, offer, 0)
    assert answerer.is_active
    live = len(handles)
    assert live >= 4
    with NotificationRecorder() as rec:
        e.stop()
    assert rec.exceptions == []             # the media cores are no primitives to end on a server
    assert t.state == b.state == "INVALID"
    assert t.local_rtp_port is None and t.local_rtp_address is None
    assert answerer.is_started and not answerer.is_active and answerer._port is None
    with pytest.raises(InvalidStateError, match="INVALID"):
        t.set_INIT()
    with pytest.raises(InvalidStateError, match="stopped"):
        answerer.send_dtmf("1")
    answerer.stop()                         # nothing to do: allowed
    with pytest.raises(EngineNotRunningError):
        RTPTransport()
    # the objects survive a restart as INVALID, and new ones work
    e = engine_factory()
    with pytest.raises(InvalidStateError, match="INVALID"):
        t.set_INIT()
    assert RTPTransport().state == "INIT"


def test_garbage_collection_frees_on_the_poll_thread(engine):
    before = len(handles)
    for _ in range(20):
        t = RTPTransport()
        audio, offer = offer_for(t)
        AudioTransport(RTPTransport(), offer, 0)    # started, dropped at once
    del t, audio
    gc.collect()
    engine.add_event("x-test-sync", ["text/plain"])  # a posted call: the clean-ups ran before
    assert len(handles) == before


def test_the_answer_line_is_a_new_object_each_time_with_the_asked_direction(engine):
    """AudioTransport(rtp, offer) keeps its answer's m= line (as its flat form); each
    get_local_media(False) gives a new SDPMedia of it with the direction asked (spec:
    get_local_media(is_offer, direction)), unaffected by changes to an earlier one."""
    offerer, offer = offer_for(RTPTransport())
    answerer = AudioTransport(RTPTransport(), offer, 0)
    first = answerer.get_local_media(False)
    directions = ("sendrecv", "sendonly", "recvonly", "inactive")
    assert [a.name for a in first.attributes if a.name in directions] == ["sendrecv"]
    assert first.port == answerer.transport.local_rtp_port
    rtpmaps = [a.value for a in first.attributes if a.name == "rtpmap"]
    assert any(v.split()[1].startswith(answerer.codec + "/") for v in rtpmaps)   # negotiated
    first.port = 0
    first.attributes.clear()
    second = answerer.get_local_media(False, "sendonly")
    assert second is not first and second.port == answerer.transport.local_rtp_port
    assert [a.name for a in second.attributes if a.name in directions] == ["sendonly"]
    assert [a.value for a in second.attributes if a.name == "rtpmap"] == rtpmaps
    assert answerer.get_local_media(False).get_direction() == "sendrecv"


def test_the_offerer_starts_again_after_set_init(engine):
    """start() negotiates in the transport's pool (where set_LOCAL/set_ESTABLISHED keep the
    SDPs); set_INIT renews it: a second offer/answer on the same transport works."""
    t = RTPTransport()
    for _ in range(3):
        audio, offer = offer_for(t)
        t.set_LOCAL(offer, 0)
        answerer = AudioTransport(RTPTransport(), offer, 0)
        answer = SDPSession("127.0.0.1", media=[answerer.get_local_media(False)])
        audio.start(offer, answer, 0)
        assert audio.is_active and t.state == "ESTABLISHED"
        assert t.remote_rtp_port_sdp == answerer.transport.local_rtp_port
        assert audio.codec == answerer.codec
        audio.stop()
        answerer.stop()
        t.set_INIT()
        assert t.state == "INIT"


def test_an_answer_rejecting_the_line_fails_start_cleanly(engine):
    """RFC 3264 6: port 0 in the answer rejects the stream; start() raises SIPCoreError
    saying so (pjmedia's negotiator: no active media) and nothing runs."""
    t = RTPTransport()
    audio, offer = offer_for(t)
    t.set_LOCAL(offer, 0)
    answer = SDPSession("127.0.0.1", media=[AudioTransport(RTPTransport(), offer, 0)
                                            .get_local_media(False)])
    answer.media[0].port = 0
    with pytest.raises(SIPCoreError, match="rejected"):
        audio.start(offer, answer, 0)
    assert not audio.is_started and not audio.is_active and audio.codec is None


def test_methods_from_many_threads(engine):
    t = RTPTransport()
    errors = []

    def work():
        try:
            for _ in range(20):
                t.set_INIT()
                assert t.local_rtp_port
        except Exception as exc:    # pragma: no cover
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert errors == []
