"""The sipcore pytest plugin (src/sipcore/testing/plugin.py) as a user meets it: test files
run by pytester (pytest's fixture for testing plugins) in a folder of their own, with no
conftest of ours, the plugin loaded through its ``pytest11`` entry point."""
from __future__ import annotations


USER_FILE = '''
import pytest
from sipcore.testing.helpers import auto_answer

STATE = "SIPInvitationChangedState"


@pytest.mark.kamailio(users={"alice": "apw", "bob": "bpw"})
def test_alice_and_bob(engine, kamailio, recorder):
    alice, bob = kamailio.account("alice"), kamailio.account("bob")
    regs = [alice.register(recorder), bob.register(recorder)]

    alice.message(bob, "hello bob")
    got = recorder.wait_for("SIPEngineGotMessage")
    assert got.data.body == b"hello bob" and got.data.from_uri.user == "alice"
    assert recorder.wait_for("SIPEngineGotMessageResponse").data.code == 200

    with auto_answer() as answered:
        call = alice.call(bob)
        recorder.wait_for(STATE, sender=call, where={"state": "CONFIRMED"},
                          fail_on={STATE: {"state": "DISCONNECTED"}})
    assert answered[0].callee_uri.user == "bob"
    call.disconnect()
    recorder.wait_for(STATE, sender=answered[0], where={"state": "DISCONNECTED"})

    for reg in regs:
        reg.unregister()
        recorder.wait_for("SIPRegistrationChangedState", sender=reg,
                          where={"state": "unregistered"})
'''


def test_plugin_is_loaded_by_its_entry_point(pytester):
    result = pytester.runpytest_subprocess("--trace-config", "--co", "-q")
    result.stdout.fnmatch_lines(["*PLUGIN registered: <module 'sipcore.testing.plugin'*"])
    fixtures = pytester.runpytest_subprocess("--fixtures").stdout.str()
    for name in ("engine", "engine_factory", "session_engine", "recorder", "kamailio",
                 "kamailio_factory", "baresip", "baresip_factory", "coturn", "sipcore_peer",
                 "sipcore_peer_factory"):
        assert f"\n{name} -- " in fixtures or f"\n{name} [" in fixtures, name


def test_a_users_file_registers_messages_calls_and_hangs_up_in_under_40_lines(pytester):
    assert len(USER_FILE.strip().splitlines()) < 40
    pytester.makepyfile(test_user=USER_FILE)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1)


FAILING = '''
import pytest

def test_registers_then_fails(engine, kamailio, recorder):
    kamailio.account("alice").register(recorder)
    assert 1 == 2, "the test's own failure"
'''


def test_a_failed_tests_report_shows_its_sip_ladder(pytester):
    pytester.makepyfile(test_fails=FAILING)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "the test's own failure" in out
    ladder = out[out.index("- SIP ladder -"):]
    # the REGISTER, kamailio's challenge and the authorised REGISTER's 200, in that order
    first = ladder.index("REGISTER sip:127.0.0.1")
    assert first < ladder.index("SIP/2.0 401 Unauthorized") < ladder.index("SIP/2.0 200 OK")
    assert "this process" in ladder and "kamailio" in ladder    # the columns named

    off = pytester.runpytest_subprocess("-q", "--no-sip-ladder")
    off.assert_outcomes(failed=1)
    assert "SIP ladder" not in off.stdout.str()


PASSING_WITHOUT_PLUGIN_FIXTURES = '''
def test_plain():
    assert 1 == 2
'''


def test_no_ladder_section_for_a_test_without_sipcore_fixtures(pytester):
    pytester.makepyfile(test_plain=PASSING_WITHOUT_PLUGIN_FIXTURES)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(failed=1)
    assert "SIP ladder" not in result.stdout.str()


PARALLEL = '''
import os
import pytest


@pytest.mark.parametrize("n", range(4))
def test_register_and_message(n, engine, kamailio, recorder):
    alice, bob = kamailio.account("alice"), kamailio.account("bob")
    alice.register(recorder)
    bob.register(recorder)
    alice.message(bob, f"hello {n}")
    assert recorder.wait_for("SIPEngineGotMessage").data.body == f"hello {n}".encode()
    print("WORKER", os.environ.get("PYTEST_XDIST_WORKER"), kamailio.port, engine.local_udp_port)
'''


def test_under_xdist_two_workers_each_with_their_own_peers(pytester):
    """``pytest -n 2``: two worker processes, each test with its own Engine and kamailio on
    ports of its own (none fixed) and files in its own folder."""
    pytester.makepyfile(test_parallel=PARALLEL)
    result = pytester.runpytest_subprocess("-n", "2", "-v", "-rP", "-p", "xdist")
    result.assert_outcomes(passed=4)
    out = result.stdout.str()
    assert "created: 2/2 workers" in out
    assert {"[gw0]", "[gw1]"} <= {w for w in out.split() if w.startswith("[gw")}
    lines = [ln.split() for ln in out.splitlines() if ln.startswith("WORKER ")]
    assert len(lines) == 4 and {w for _, w, _, _ in lines} == {"gw0", "gw1"}
    assert len({k for _, _, k, _ in lines}) == 4          # a kamailio port per test


SESSION = '''
def test_one(session_engine):
    test_one.engine = session_engine
    assert session_engine.is_running


def test_two(session_engine):
    assert session_engine is test_one.engine and session_engine.is_running


def test_three(engine):
    assert engine.is_running


def test_four(session_engine):
    assert session_engine.is_running        # started again after test_three stopped it
'''


def test_session_engine(pytester):
    pytester.makepyfile(test_session=SESSION)
    pytester.runpytest_subprocess("-q", "-p", "no:randomly").assert_outcomes(passed=4)




# ---- the plugin's fixtures used directly (this suite loads the plugin too) ----------------

from sipcore import NotificationFailed, SIPURI  # noqa: E402
from sipcore.testing.helpers import audio_sdp, auto_answer  # noqa: E402

STATE = "SIPInvitationChangedState"


def test_fail_on_ends_a_call_wait_at_the_404_not_the_timeout(engine, kamailio, recorder):
    """A call to a user nobody registered: kamailio answers 404, the Invitation goes
    DISCONNECTED and a wait for CONFIRMED with fail_on raises at once, naming the 404."""
    import time
    alice = kamailio.account("alice")
    alice.register(recorder)
    call = alice.call("nobody")
    t0 = time.monotonic()
    try:
        recorder.wait_for(STATE, sender=call, where={"state": "CONFIRMED"}, timeout=60,
                          fail_on={STATE: {"state": "DISCONNECTED"}})
    except NotificationFailed as exc:
        failure = exc
    assert time.monotonic() - t0 < 30                       # not the 60 s timeout
    assert failure.notification.data.code == 404
    assert "DISCONNECTED, 404 Not Found" in str(failure) and "-> CALLING" in str(failure)


def test_account_register_fails_fast_on_a_wrong_password(engine, kamailio, recorder):
    from sipcore.testing.helpers import Account
    kamailio.account("carol", "right")
    wrong = Account(kamailio, "carol", "wrong")
    try:
        wrong.register(recorder, timeout=60)
    except NotificationFailed as exc:
        failure = exc
    assert failure.notification.data.state == "unregistered"
    assert failure.notification.data.code in (401, 403)


def test_baresip_fixture_answers_and_dials(engine, kamailio, baresip, recorder):
    alice = kamailio.account("alice")
    reg = alice.register(recorder)
    call = alice.call("bob")                                  # baresip answers by itself
    recorder.wait_for(STATE, sender=call, where={"state": "CONFIRMED"}, timeout=20,
                      fail_on={STATE: {"state": "DISCONNECTED"}})
    call.disconnect()
    recorder.wait_for(STATE, sender=call, where={"state": "DISCONNECTED"})
    with auto_answer(audio_sdp()) as answered:
        baresip.dial("sip:alice@127.0.0.1")
        recorder.wait_for(STATE, where=lambda n: n.sender in answered
                          and n.data.state == "CONFIRMED", timeout=20)
    assert answered[0].caller_uri.user == "bob"
    baresip.hangup()
    recorder.wait_for(STATE, sender=answered[0], where={"state": "DISCONNECTED"}, timeout=10)
    reg.unregister()


def test_sipcore_peer_fixture_answers_a_call(engine, sipcore_peer, recorder):
    from sipcore import Credentials, Invitation, Route
    port = sipcore_peer.ready["udp"]
    call = Invitation(Credentials(SIPURI("127.0.0.1", user="alice")),
                      SIPURI("127.0.0.1", user="bob", port=port), Route("127.0.0.1", port))
    call.set_offered_local_sdp(audio_sdp())
    call.send_invite()
    recorder.wait_for(STATE, sender=call, where={"state": "CONFIRMED"}, timeout=10,
                      fail_on={STATE: {"state": "DISCONNECTED"}})
    sipcore_peer.expect("call_state", state="CONFIRMED")
    call.disconnect()
    recorder.wait_for(STATE, sender=call, where={"state": "DISCONNECTED"})
    assert sipcore_peer.exceptions == []


def test_coturn_fixture_is_a_stun_server(coturn):
    from sipcore.testing.coturn import stun_binding
    mapped = stun_binding(coturn.host, coturn.port)
    assert mapped is not None
    assert mapped[0][0] == "127.0.0.1" and mapped[1] == (coturn.host, coturn.port)
