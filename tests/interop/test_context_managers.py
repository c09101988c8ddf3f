"""Test-friendly ends (documented deviations, README): ``with`` blocks that unregister,
unpublish, unsubscribe and hang up on exit, and ending an object that has ended already is a
no-op (a racy teardown does not fail a test)."""
from __future__ import annotations

from sipcore import Engine, Publication, Registration, Subscription
from sipcore.testing.helpers import audio_sdp

STATE = "SIPInvitationChangedState"
PIDF = ('<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" '
        'entity="sip:alice@127.0.0.1"><tuple id="t"><status><basic>open</basic></status>'
        '</tuple></presence>')


def states(recorder, name, obj):
    return [n.data.state for n in recorder.all(name) if n.sender is obj]


def test_registration_with_block_unregisters_and_a_second_unregister_is_nothing(
        kamailio, engine, recorder):
    alice = kamailio.account("alice")
    with Registration(alice.credentials, alice.route, expires=60) as reg:
        reg.register()
        recorder.wait_for("SIPRegistrationChangedState", sender=reg, where={"state": "registered"})
        assert kamailio.is_registered("alice")
    n = recorder.wait_for("SIPRegistrationChangedState", sender=reg,
                          where={"state": "unregistered"})
    assert n.data.code == 200
    assert kamailio.contacts("alice") == []
    reg.unregister()
    with reg:
        pass
    name = "SIPRegistrationChangedState"
    assert states(recorder, name, reg) == ["registering", "registered", "unregistering",
                                           "unregistered"]


def test_publication_and_subscription_with_blocks_end_them(kamailio, engine, recorder):
    alice, bob = kamailio.account("alice"), kamailio.account("bob")
    with Publication(alice.credentials, "presence", alice.route, expires=60) as pub, \
            Subscription(bob.credentials, alice.uri, "presence", bob.route) as sub:
        pub.publish("application/pidf+xml", PIDF)
        recorder.wait_for("SIPPublicationChangedState", sender=pub, where={"state": "published"},
                          timeout=15)
        sub.subscribe()
        recorder.wait_for("SIPSubscriptionChangedState", sender=sub, where={"state": "ACTIVE"},
                          timeout=15)
    recorder.wait_for("SIPPublicationChangedState", sender=pub, where={"state": "unpublished"},
                      timeout=15)
    recorder.wait_for("SIPSubscriptionChangedState", sender=sub, where={"state": "TERMINATED"},
                      timeout=15)
    assert states(recorder, "SIPPublicationChangedState", pub)[-2:] == ["unpublishing",
                                                                       "unpublished"]
    pub.unpublish()
    sub.unsubscribe()
    assert pub.state == "unpublished" and sub.state == "TERMINATED"


def test_invitation_with_block_hangs_up_and_a_second_disconnect_is_nothing(
        engine, sipcore_peer, recorder):
    from sipcore import Credentials, Invitation, Route, SIPURI
    port = sipcore_peer.ready["udp"]
    with Invitation(Credentials(SIPURI("127.0.0.1", user="alice")),
                    SIPURI("127.0.0.1", user="bob", port=port), Route("127.0.0.1", port)) as inv:
        inv.set_offered_local_sdp(audio_sdp())
        inv.send_invite()
        recorder.wait_for(STATE, sender=inv, where={"state": "CONFIRMED"},
                          fail_on={STATE: {"state": "DISCONNECTED"}})
    n = recorder.wait_for(STATE, sender=inv, where={"state": "DISCONNECTED"})
    assert n.data.prev_state == "DISCONNECTING"
    assert sipcore_peer.expect("call_state", state="DISCONNECTED")["method"] == "BYE"
    inv.disconnect()
    inv.disconnect(486, timeout=1)
    assert states(recorder, STATE, inv)[-2:] == ["DISCONNECTING", "DISCONNECTED"]
    assert states(recorder, STATE, inv).count("DISCONNECTED") == 1


def test_a_peer_that_hangs_up_first_makes_the_exit_a_no_op(engine, sipcore_peer, recorder):
    """The racy teardown: the peer's BYE arrives, then the block's exit disconnects."""
    from sipcore import Credentials, Invitation, Route, SIPURI
    port = sipcore_peer.ready["udp"]
    with Invitation(Credentials(SIPURI("127.0.0.1", user="alice")),
                    SIPURI("127.0.0.1", user="bob", port=port), Route("127.0.0.1", port)) as inv:
        inv.set_offered_local_sdp(audio_sdp())
        inv.send_invite()
        recorder.wait_for(STATE, sender=inv, where={"state": "CONFIRMED"})
        sipcore_peer.command("hangup", id="in1")
        recorder.wait_for(STATE, sender=inv, where={"state": "DISCONNECTED"})
    assert states(recorder, STATE, inv)[-1] == "DISCONNECTED"
    assert not recorder.all("SIPEngineGotException")


def test_exit_after_the_engine_stopped_is_nothing(kamailio, engine, recorder):
    alice = kamailio.account("alice")
    with Registration(alice.credentials, alice.route, expires=60) as reg:
        reg.register()
        recorder.wait_for("SIPRegistrationChangedState", sender=reg, where={"state": "registered"})
        Engine().stop()
    assert reg.state == "unregistered"


def test_exit_of_an_unused_registration_sends_nothing(engine, recorder):
    from sipcore import Credentials, Route, SIPURI
    with Registration(Credentials(SIPURI("127.0.0.1", user="x")), Route("127.0.0.1", 5999)):
        pass
    assert recorder.all("SIPRegistrationChangedState") == []
    assert [n for n in recorder.all("SIPEngineSIPTrace")] == []
