"""Invitation offer/answer beyond the happy path: failed negotiation (SIPInvitationGotSDPUpdate
with succeeded=False and error), a re-INVITE answered with an unusable SDP, and an INVITE
without SDP (offer in the 200, answer in the ACK) as caller and as callee.  Peers: sipp
scenarios and a second sipcore process.

Expected values: sip-core-api.txt (SIPInvitationGotSDPUpdate: 'succeeded', 'error' only if
negotiation failed, 'local_sdp'/'remote_sdp' only if it succeeded; get_active_*_sdp()) and
RFC 3264 (5, 6: the answer's formats are a subset of the offer's; an offer in a 2xx is
answered in the ACK, RFC 3261 13.2.1)."""
import shutil
import subprocess
import time

from peers.ports import free_port
from test_invitation_helpers import (body, changes, check_transitions, header, make_sdp,
                                     sdp_updates, seq, sip_trace, wait_state)
from test_invitation_helpers import spec_checked  # noqa: F401 (autouse: spec transitions, no exceptions)
from sipcore import Credentials, Invitation, Route, SIPURI, signals
from sipcore.peer import PeerProcess

SIPP = shutil.which("sipp") or "/usr/bin/sipp"
IP = "127.0.0.1"

_INVITE_200_OK = """
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 {version} IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio {port} RTP/AVP {fmt}
      a=rtpmap:{fmt} {codec}/8000
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
"""
_BYE_200 = """
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
"""
# the answer to the INVITE has only G.729, which the offer (PCMU, PCMA) does not have
NO_COMMON_CODEC_UAS = ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="answer '
                       'without a common codec">' + _INVITE_200_OK.format(
                           version=1, port=6000, fmt=18, codec="G729") + _BYE_200 + "</scenario>\n")
# the INVITE answered with PCMU; the re-INVITE answered with G.729 only
BAD_REINVITE_ANSWER_UAS = (
    '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="re-INVITE answered without '
    'a common codec">'
    + _INVITE_200_OK.format(version=1, port=6000, fmt=0, codec="PCMU")
    + _INVITE_200_OK.format(version=2, port=6002, fmt=18, codec="G729").replace(
        ";tag=[pid]SIPpTag01[call_number]", "")
    + _BYE_200 + "</scenario>\n")


def sipp_uas(tmp_path, scenario, name):
    (tmp_path / f"{name}.xml").write_text(scenario)
    port = free_port("udp")
    proc = subprocess.Popen([SIPP, "-sf", f"{name}.xml", "-i", IP, "-p", str(port), "-m", "1",
                             "-timeout", "15", "-trace_err", "-nostdin"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    return proc, port


def finish(proc, failed):
    """sipp's verdict; when the test already failed, sipp is only stopped."""
    try:
        if not failed:
            out, err = proc.communicate(timeout=20)
            assert proc.returncode == 0, out[-2000:] + err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def call(port, sdp=True):
    inv = Invitation(Credentials(SIPURI(IP, user="alice")), SIPURI(IP, user="bob", port=port),
                     Route(IP, port))
    if sdp:
        inv.set_offered_local_sdp(make_sdp())
    inv.send_invite()
    return inv


def no_exceptions(rec):
    assert not rec.all("SIPEngineGotException"), [n.data for n in rec.all("SIPEngineGotException")]


def assert_failed(update):
    """A failed negotiation's notification: succeeded False, an error text, no SDPs."""
    d = vars(update.data)
    assert d["succeeded"] is False
    assert isinstance(d["error"], str) and d["error"].strip(), d
    assert "local_sdp" not in d and "remote_sdp" not in d, d


def test_answer_without_a_common_codec_fails_the_negotiation(engine, recorder, tmp_path):
    """RFC 3264 6: an answer may only use formats of the offer.  sipp answers PCMU/PCMA with
    G.729 only: SIPInvitationGotSDPUpdate(succeeded=False, error=...); nothing becomes active;
    the call itself is set up (the application decides) and ends with our BYE."""
    proc, port = sipp_uas(tmp_path, NO_COMMON_CODEC_UAS, "nocodec")
    try:
        inv = call(port)
        wait_state(recorder, inv, "CONFIRMED")
        upd = sdp_updates(recorder, inv)
        assert len(upd) == 1
        assert_failed(upd[0])
        assert inv.get_active_local_sdp() is None and inv.get_active_remote_sdp() is None
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")
        assert seq(recorder, inv) == ["CALLING", "CONNECTING", "CONFIRMED", "DISCONNECTING",
                                      "DISCONNECTED"]
    except BaseException:
        finish(proc, failed=True)
        raise
    finish(proc, failed=False)
    check_transitions(recorder)
    no_exceptions(recorder)


def test_reinvite_answered_without_a_common_codec_keeps_the_active_sdp(engine, recorder, tmp_path):
    """Our re-INVITE (port 41000) answered 200 with G.729 only: REINVITING -> CONFIRMED with
    code 200, SIPInvitationGotSDPUpdate(succeeded=False), and the SDPs negotiated before stay
    the active ones."""
    proc, port = sipp_uas(tmp_path, BAD_REINVITE_ANSWER_UAS, "badre")
    try:
        inv = call(port)
        wait_state(recorder, inv, "CONFIRMED")
        first = sdp_updates(recorder, inv)
        assert [u.data.succeeded for u in first] == [True]
        assert first[0].data.remote_sdp.media[0].port == 6000
        active = (inv.get_active_local_sdp(), inv.get_active_remote_sdp())
        inv.set_offered_local_sdp(make_sdp(port=41000))
        inv.send_reinvite()
        n = wait_state(recorder, inv, "CONFIRMED")
        assert (n.data.prev_state, n.data.code) == ("REINVITING", 200)
        upd = sdp_updates(recorder, inv)
        assert len(upd) == 2
        assert_failed(upd[1])
        assert (inv.get_active_local_sdp(), inv.get_active_remote_sdp()) == active
        assert inv.get_active_local_sdp().media[0].port == 40000
        assert inv.get_active_remote_sdp().media[0].port == 6000
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")
        assert seq(recorder, inv) == ["CALLING", "CONNECTING", "CONFIRMED", "REINVITING",
                                      "CONFIRMED", "DISCONNECTING", "DISCONNECTED"]
    except BaseException:
        finish(proc, failed=True)
        raise
    finish(proc, failed=False)
    check_transitions(recorder)
    no_exceptions(recorder)


def test_caller_without_sdp_answers_the_offer_of_the_200_in_the_ack(engine_factory, recorder):
    """An INVITE without SDP: the callee (a sipcore peer) offers in its 200, we answer in the
    ACK with the SDP set while CALLING (set_offered_local_sdp: 'or as an SDP answer')."""
    engine_factory(trace_sip=True)
    with PeerProcess("--ip", IP, "--user", "bob", "--answer", "auto") as peer:
        port = peer.ready["udp"]
        inv = Invitation(Credentials(SIPURI(IP, user="alice")), SIPURI(IP, user="bob", port=port),
                         Route(IP, port))

        def on_state(sender, **d):           # on the poll thread, before any response
            if sender is inv and d["state"] == "CALLING":
                sender.set_offered_local_sdp(make_sdp(port=41000))

        signals.SIPInvitationChangedState.connect(on_state)
        try:
            inv.send_invite()
            recorder.wait_for("SIPInvitationChangedState", timeout=10, sender=inv,
                              where=lambda n: n.data.state in ("CONFIRMED", "DISCONNECTED"))
        finally:
            signals.SIPInvitationChangedState.disconnect(on_state)
        assert seq(recorder, inv) == ["CALLING", "EARLY", "CONNECTING", "CONFIRMED"]
        sent = sip_trace(recorder, sent=True)
        invite = next(m for m in sent if m.startswith("INVITE "))
        ack = next(m for m in sent if m.startswith("ACK "))
        assert body(invite) == "" and header(invite, "Content-Length") == "0"
        assert header(ack, "Content-Type") == "application/sdp"
        assert "m=audio 41000 RTP/AVP" in body(ack)
        connecting = changes(recorder, inv)[2]
        assert connecting.data.code == 200 and "m=audio 40000 RTP/AVP" in connecting.data.body
        upd = sdp_updates(recorder, inv)
        assert [u.data.succeeded for u in upd] == [True]
        assert upd[0].data.local_sdp.media[0].port == 41000
        assert upd[0].data.remote_sdp.media[0].port == 40000
        assert inv.get_active_local_sdp() == upd[0].data.local_sdp
        ev = peer.expect("sdp_update", id="in1")
        assert ev["succeeded"] and "m=audio 41000 RTP/AVP" in ev["remote_sdp"]
        inv.disconnect()
        wait_state(recorder, inv, "DISCONNECTED")
        check_transitions(recorder)
    no_exceptions(recorder)


NO_SDP_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="INVITE without SDP; the offer in the 200, the answer in the ACK">
  <send retrans="500">
    <![CDATA[
      INVITE sip:alice@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:alice@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200" rrs="true">
    <action>
      <ereg regexp="m=audio 42000 RTP/AVP 0 8" search_in="body" check_it="true" assign_to="m"/>
    </action>
  </recv>
  <Reference variables="m"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio 6010 RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <pause milliseconds="300"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


def test_callee_of_an_invite_without_sdp_offers_in_the_200(engine, recorder, tmp_path):
    """sipp sends an INVITE without SDP: accept_invite() puts our offer in the 200 (sipp checks
    it), sipp answers PCMA in the ACK; one successful negotiation with sipp's answer."""
    (tmp_path / "nosdp.xml").write_text(NO_SDP_UAC)
    got = []

    def on_state(sender, **d):
        if d["state"] == "INCOMING":
            got.append(sender)
            assert sender.get_offered_remote_sdp() is None
            sender.set_offered_local_sdp(make_sdp(port=42000))
            sender.accept_invite()

    signals.SIPInvitationChangedState.connect(on_state)
    try:
        r = subprocess.run([SIPP, "-sf", "nosdp.xml", f"{IP}:{engine.local_udp_port}", "-m", "1",
                            "-i", IP, "-p", str(free_port("udp")), "-timeout", "15",
                            "-trace_err", "-nostdin"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:] + "".join(
            p.read_text() for p in tmp_path.glob("*errors.log"))
    finally:
        signals.SIPInvitationChangedState.disconnect(on_state)
    inv = got[0]
    wait_state(recorder, inv, "DISCONNECTED")
    assert seq(recorder, inv) == ["INCOMING", "CONNECTING", "CONFIRMED", "DISCONNECTED"]
    incoming, _, confirmed, _ = changes(recorder, inv)
    assert incoming.data.body is None
    assert confirmed.data.method == "ACK" and "m=audio 6010 RTP/AVP 8" in confirmed.data.body
    upd = sdp_updates(recorder, inv)
    assert [u.data.succeeded for u in upd] == [True]
    assert upd[0].data.local_sdp.media[0].port == 42000
    assert upd[0].data.remote_sdp.media[0].port == 6010
    assert upd[0].data.remote_sdp.media[0].formats == ["8"]
    assert inv.get_active_remote_sdp() == upd[0].data.remote_sdp
    check_transitions(recorder)
    no_exceptions(recorder)
