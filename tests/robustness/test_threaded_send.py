"""send_message from many application threads at once, with Engine.stop() interleaved.

Off the poll thread send_message checks and reserves in the calling thread and hands the
request to the poll thread without waiting (docs/threads.md).  The contract that must hold
whatever the interleaving: each call either raises (EngineNotRunningError once the Engine
stops, MessagePendingError while the same URI is pending) or is answered by exactly one
SIPEngineGotMessageResponse -- also when the Engine stops between the call and the poll
thread's turn (408 "Engine stopped") -- and nothing crashes.  The run is in a child process,
so a crash is a test failure, not a dead test run.
"""
import json
import subprocess
import sys
import textwrap

import pytest

#: shared by the child scripts: body(t) on many threads, Engine.stop() while they run
HARNESS = """
import json, random, sys, threading, time
from sipcore import Credentials, Route, SIPURI, signals

exceptions = []


def on_exception(sender, **data):
    exceptions.append(data["traceback"])


signals.SIPEngineGotException.connect(on_exception, weak=False)


def start_cycle(engine):
    \"\"\"Start the Engine (UDP only); its port, alice's Credentials, a Route to itself.\"\"\"
    engine.start(local_ip="127.0.0.1", log_level=0, local_tcp_port=None, local_tls_port=None)
    port = engine.local_udp_port
    return port, Credentials(SIPURI("127.0.0.1", user="alice")), Route("127.0.0.1", port, "udp")


def stop_during(engine, threads_n, body, delay):
    \"\"\"Run body(t) for t in range(threads_n) on as many threads, Engine.stop() after
    ``delay`` seconds while they run; the lists the bodies returned, joined.\"\"\"
    results, errors, lock, go = [], [], threading.Lock(), threading.Event()

    def run(t):
        go.wait()
        try:
            got = body(t)
        except BaseException as exc:
            errors.append(repr(exc))
            return
        with lock:
            results.extend(got)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(threads_n)]
    for th in threads:
        th.start()
    go.set()
    time.sleep(delay)
    engine.stop()                  # while the threads are still at it
    for th in threads:
        th.join(60)
    assert not errors, errors
    return results
"""

CHILD = HARNESS + textwrap.dedent("""
    from sipcore import Engine, EngineNotRunningError, MessagePendingError, send_message

    cycles, threads_n, per_thread = (int(a) for a in sys.argv[1:4])
    rng = random.Random(20261129)
    answers = {}                       # id(to_uri) -> [codes]
    count_lock = threading.Lock()

    def on_response(sender, to_uri, code, reason, **data):
        answers.setdefault(id(to_uri), []).append((code, reason))

    signals.SIPEngineGotMessageResponse.connect(on_response, weak=False)
    totals = {"accepted": 0, "not_running": 0, "pending": 0, "codes": {}}
    engine = Engine()
    for cycle in range(cycles):
        port, me, route = start_cycle(engine)

        def sender(t):
            mine = []
            for i in range(per_thread):     # (until the Engine stops, at most this)
                # every third request to one URI all threads share (MessagePendingError)
                user = "shared" if i % 3 == 0 else f"t{t}-{i}"
                to = SIPURI("127.0.0.1", user=user, port=port)
                try:
                    send_message(me, to, "text/plain", f"{t}/{i}", route)
                except EngineNotRunningError:
                    with count_lock:
                        totals["not_running"] += 1
                    break
                except MessagePendingError:
                    with count_lock:
                        totals["pending"] += 1
                    continue
                mine.append(to)
                if i % 20 == 19:
                    time.sleep(0.001)      # (a flood without pauses starves the answers)
            return mine

        accepted = stop_during(engine, threads_n, sender, rng.uniform(0.01, 0.1))
        for to in accepted:
            got = answers.pop(id(to), [])
            assert len(got) == 1, (to, got)        # exactly one notification per accepted call
            code = got[0][0]
            totals["codes"][code] = totals["codes"].get(code, 0) + 1
        assert not answers, ("answers to calls that raised", answers)
        totals["accepted"] += len(accepted)
    print(json.dumps({**totals, "exceptions": exceptions}))
""")


def _child(script: str, *args: int) -> dict:
    """Run a child script with its arguments: it must exit 0 and report no
    SIPEngineGotException; its last line of output (JSON)."""
    out = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, (out.returncode, out.stderr[-3000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["exceptions"] == []
    return result


def _run(cycles: int, threads: int, per_thread: int) -> dict:
    return _child(CHILD, cycles, threads, per_thread)


def test_many_threads_send_while_the_engine_stops():
    """8 threads sending MESSAGEs (up to 20,000 each) to the Engine itself, Engine.stop() after 10-100 ms, 6 times:
    no crash, every accepted call answered exactly once (200, or 408 for those the stop
    caught), no answer to a call that raised."""
    r = _run(6, 8, 20_000)
    assert r["accepted"] > 0 and r["not_running"] > 0
    # every answer a 200 or the stop's 408 (JSON: the codes as text); the stop always catches
    # some.  Whether any 200 comes back within 10-100 ms depends on the load: one CI check
    # had 9,380 accepted sends all answered 408, so a 200 is not required here (delivery is
    # shown by the message tests)
    assert set(r["codes"]) <= {"200", "408"} and "408" in r["codes"], r["codes"]


@pytest.mark.long
def test_many_threads_send_while_the_engine_stops_soak():
    r = _run(60, 16, 20_000)
    assert r["accepted"] > 0 and r["not_running"] > 0
    assert set(r["codes"]) == {"200", "408"}, r["codes"]


CALLS_CHILD = HARNESS + textwrap.dedent("""
    from sipcore import (Engine, EngineNotRunningError, InvalidStateError, Invitation,
                         SDPConnection, SDPMedia, SDPSession)

    cycles, threads_n = (int(a) for a in sys.argv[1:3])
    rng = random.Random(20261129)
    ended = {}                                # id(outgoing Invitation) -> DISCONNECTED count
    count_lock = threading.Lock()
    offer = SDPSession("127.0.0.1", connection=SDPConnection("127.0.0.1"),
                       media=[SDPMedia("audio", 40000, "RTP/AVP", formats=["0"])])
    # no connection line at either level: PJMEDIA's strict check refuses it (ValueError)
    bad = SDPSession("127.0.0.1", media=[SDPMedia("audio", 40000, "RTP/AVP", formats=["0"])])

    def on_state(sender, state, **data):
        if state == "INCOMING":
            try:
                sender.set_offered_local_sdp(offer)
                sender.accept_invite()
            except InvalidStateError:
                pass
        elif state == "DISCONNECTED" and sender.is_outgoing:
            ended[id(sender)] = ended.get(id(sender), 0) + 1

    signals.SIPInvitationChangedState.connect(on_state, weak=False)
    totals = {"placed": 0, "not_running": 0, "refused": 0}
    engine = Engine()
    for cycle in range(cycles):
        port, me, route = start_cycle(engine)

        def caller(t):
            mine = []
            for i in range(10_000):     # (until the Engine stops)
                try:
                    inv = Invitation(me, SIPURI("127.0.0.1", user=f"b{t}", port=port), route)
                    inv.set_offered_local_sdp(offer)
                    inv.send_invite()
                    mine.append(inv)
                    if i % 2:      # set again while the poll thread works on the call
                        try:
                            inv.set_offered_local_sdp(bad)
                        except ValueError:
                            with count_lock:
                                totals["refused"] += 1
                        inv.set_offered_local_sdp(offer)
                    time.sleep(rng.uniform(0, 0.005))
                    inv.disconnect()
                except EngineNotRunningError:
                    with count_lock:
                        totals["not_running"] += 1
                    break
                except InvalidStateError as exc:   # (the Engine run it belongs to ended,
                    # or the stop ended this call first)
                    if "stopped" not in str(exc) and "DISCONNECTED" not in str(exc):
                        raise
                    break
            return mine

        placed = stop_during(engine, threads_n, caller, rng.uniform(0.02, 0.2))
        for inv in placed:
            assert ended.pop(id(inv), 0) == 1, (inv, inv.state)   # exactly one DISCONNECTED
            assert inv.state == "DISCONNECTED"
        totals["placed"] += len(placed)
        ended.clear()
    print(json.dumps({**totals, "exceptions": exceptions}))
""")


def test_many_threads_place_and_end_calls_while_the_engine_stops():
    """8 threads placing calls to the Engine itself (answered by a receiver) and hanging up,
    every second call setting its offer again (a refused one, then a good one: checked in
    the calling thread while the poll thread works on the call), Engine.stop() after 20-200
    ms, 4 times: no crash, every placed call ends with exactly one DISCONNECTED, no
    SIPEngineGotException."""
    result = _child(CALLS_CHILD, 4, 8)
    assert result["placed"] > 0 and result["not_running"] > 0 and result["refused"] > 0
