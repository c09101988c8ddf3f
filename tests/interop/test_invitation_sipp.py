"""Invitation against sipp's built-in scenarios: ``uac`` calls sipcore (5 calls), sipcore calls
``uas`` (3 calls).  sipp exits 0 only when every call followed its scenario."""
from peers import sipp
from test_invitation_helpers import auto_answer, make_sdp, seq, wait_state
from test_invitation_helpers import spec_checked  # noqa: F401 (autouse: spec transitions, no exceptions)
from sipcore import Credentials, Invitation, Route, SIPURI


def test_sipp_uac_calls_sipcore(engine, recorder, tmp_path):
    with auto_answer(make_sdp()) as calls:
        r = sipp.run_uac(tmp_path, "uac", engine.local_udp_port, calls=5, timeout=30,
                         extra=("-l", "1"))
        sipp.assert_ok(r, tmp_path)
        assert len(calls) == 5
        for inv in calls:
            wait_state(recorder, inv, "DISCONNECTED")
            assert seq(recorder, inv) == ["INCOMING", "EARLY", "CONNECTING", "CONFIRMED",
                                          "DISCONNECTED"]
            last = [n for n in recorder.all("SIPInvitationChangedState") if n.sender is inv][-1]
            assert last.data.method == "BYE"
            assert [n.data.succeeded for n in recorder.all("SIPInvitationGotSDPUpdate")
                    if n.sender is inv] == [True]
    assert not recorder.all("SIPEngineGotException")


def test_sipcore_calls_sipp_uas(engine, recorder, tmp_path):
    with sipp.uas(tmp_path, "uas", calls=3) as peer:
        for i in range(3):
            inv = Invitation(Credentials(SIPURI("127.0.0.1", user="alice")),
                             SIPURI("127.0.0.1", user="service", port=peer.port),
                             Route("127.0.0.1", peer.port))
            inv.set_offered_local_sdp(make_sdp())
            inv.send_invite()
            n = wait_state(recorder, inv, "CONNECTING")
            assert n.data.code == 200 and "m=audio" in n.data.body
            wait_state(recorder, inv, "CONFIRMED")
            assert inv.get_active_remote_sdp().media[0].formats == ["0"]
            inv.disconnect()
            n = wait_state(recorder, inv, "DISCONNECTED")
            assert n.data.code == 200
            assert seq(recorder, inv) == ["CALLING", "EARLY", "CONNECTING", "CONFIRMED",
                                          "DISCONNECTING", "DISCONNECTED"]
        sipp.finish(peer, tmp_path, timeout=30)
    assert not recorder.all("SIPEngineGotException")


UPDATE_SCENARIO = sipp.scenario(
    "INVITE, then UPDATE with an SDP offer (sendonly), then BYE",
    sipp.request("INVITE", 1, initial=True, body=sipp.sdp()),
    sipp.recv(response=100, optional=True),
    sipp.recv(response=180, optional=True),
    sipp.recv(response=200, rtd=True, rrs=True),
    sipp.request("ACK", 1, retrans=None),
    sipp.pause(200),
    sipp.request("UPDATE", 2, body=sipp.sdp("[media_port] RTP/AVP 0", "a=rtpmap:0 PCMU/8000",
                                            "a=sendonly", version=2353687638)),
    sipp.recv(response=200, body_has="a=recvonly"),
    sipp.pause(200),
    sipp.request("BYE", 3),
    sipp.recv(response=200))


def test_update_with_offer_is_answered_with_the_current_local_sdp(engine, recorder, tmp_path):
    with auto_answer(make_sdp()) as calls:
        r = sipp.run_uac(tmp_path, UPDATE_SCENARIO, engine.local_udp_port)
        sipp.assert_ok(r, tmp_path)
        inv = calls[0]
        wait_state(recorder, inv, "DISCONNECTED")
        # the UPDATE changes no state; it is one more completed offer/answer
        assert seq(recorder, inv) == ["INCOMING", "EARLY", "CONNECTING", "CONFIRMED", "DISCONNECTED"]
        upd = [n for n in recorder.all("SIPInvitationGotSDPUpdate") if n.sender is inv]
        assert [u.data.succeeded for u in upd] == [True, True]
        assert upd[1].data.remote_sdp.media[0].get_direction() == "sendonly"
        assert upd[1].data.local_sdp.media[0].get_direction() == "recvonly"
        assert upd[1].data.local_sdp.media[0].port == upd[0].data.local_sdp.media[0].port
    assert not recorder.all("SIPEngineGotException")
