"""Hypothesis: random method calls, in random order and with random arguments, on both ends of
a call (this process calls itself), raise only clean errors and never crash; afterwards the
Engine still works."""
import time

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sipcore import (Credentials, Invitation, NotificationRecorder, Route, SDPAttribute,
                     SDPConnection, SDPMedia, SDPSession, SIPCoreError, SIPURI)

CLEAN = (TypeError, ValueError, SIPCoreError)


def offer():
    return SDPSession("127.0.0.1", connection=SDPConnection("127.0.0.1"),
                      media=[SDPMedia("audio", 40000, "RTP/AVP", formats=["0"],
                                      attributes=[SDPAttribute("rtpmap", "0 PCMU/8000")])])


args = st.one_of(
    st.just(()), st.just(()), st.just(()), st.just(()), st.tuples(st.integers(-5, 800)), st.tuples(st.sampled_from([180, 183, 200, 486, 603])),
    st.tuples(st.none()), st.tuples(st.text(max_size=5)),
    st.tuples(st.dictionaries(st.sampled_from(["X-A", "Bad Name", "Subject"]), st.text(max_size=5), max_size=2)),
)
ops = st.lists(st.tuples(
    st.sampled_from(["send_invite", "respond_to_invite_provisionally", "accept_invite", "disconnect",
                     "send_reinvite", "respond_to_reinvite", "set_offered_local_sdp",
                     "get_active_local_sdp", "get_offered_remote_sdp", "sleep"]),
    st.sampled_from(["caller", "callee"]), args), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(phase=st.sampled_from(["calling", "ringing", "confirmed", "reinvited"]), steps=ops)
def test_random_call_flows_never_crash(running_engine, phase, steps):
    e = running_engine
    port = e.local_udp_port
    with NotificationRecorder() as rec:
        caller = Invitation(Credentials(SIPURI("127.0.0.1", user="alice")),
                            SIPURI("127.0.0.1", user="bob", port=port), Route("127.0.0.1", port))
        caller.set_offered_local_sdp(offer())
        caller.send_invite()              # the random steps start from a call in some state
        ends = {"caller": caller, "callee": None}
        if phase != "calling":
            n = rec.wait_for("SIPInvitationChangedState", timeout=5, where=lambda n: n.data.state == "INCOMING")
            callee = ends["callee"] = n.sender
            callee.respond_to_invite_provisionally(180)
            if phase in ("confirmed", "reinvited"):
                callee.set_offered_local_sdp(offer())
                callee.accept_invite()
                rec.wait_for("SIPInvitationChangedState", sender=caller, timeout=5,
                             where=lambda n: n.data.state == "CONFIRMED")
            if phase == "reinvited":
                caller.send_reinvite()
                rec.wait_for("SIPInvitationChangedState", sender=callee, timeout=5,
                             where=lambda n: n.data.state == "REINVITED")
        for name, target, a in steps:
            if ends["callee"] is None:
                got = [n.sender for n in rec.all("SIPInvitationChangedState")
                       if n.data.state == "INCOMING"]
                ends["callee"] = got[0] if got else None
            if name == "sleep":
                time.sleep(0.05)
                continue
            obj = ends[target]
            if obj is None:
                continue
            fn = getattr(obj, name)
            call_args = (offer(),) if name == "set_offered_local_sdp" and a == () else a
            try:
                fn(*call_args)
            except CLEAN:
                pass
            time.sleep(0.005)
        for obj in ends.values():
            if obj is not None:
                try:
                    obj.disconnect(timeout=0.5)
                except CLEAN:
                    pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
                o is not None and o.state != "DISCONNECTED" for o in ends.values()):
            time.sleep(0.02)
        assert all(o is None or o.state == "DISCONNECTED" for o in ends.values()), \
            [(k, o.state) for k, o in ends.items() if o is not None]
        states = {n.data.state for n in rec.all("SIPInvitationChangedState")}
    event(f"reached {'CONFIRMED' if 'CONFIRMED' in states else 'INCOMING' if 'INCOMING' in states else 'less'}")
    assert e.is_running and e.parse_sip_uri("sip:still@alive.example").user == "still"
