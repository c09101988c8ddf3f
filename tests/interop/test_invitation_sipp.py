"""Invitation against sipp's built-in scenarios: ``uac`` calls sipcore (5 calls), sipcore calls
``uas`` (3 calls).  sipp exits 0 only when every call followed its scenario."""
import shutil
import subprocess
import time


from peers.ports import free_port
from test_invitation_helpers import auto_answer, make_sdp, seq, wait_state
from test_invitation_helpers import spec_checked  # noqa: F401 (autouse: spec transitions, no exceptions)
from sipcore import Credentials, Invitation, Route, SIPURI

SIPP = shutil.which("sipp") or "/usr/bin/sipp"


def run_sipp(args, cwd, timeout=40):
    return subprocess.run([SIPP, *args, "-nostdin"], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_sipp_uac_calls_sipcore(engine, recorder, tmp_path):
    with auto_answer(make_sdp()) as calls:
        r = run_sipp(["-sn", "uac", f"127.0.0.1:{engine.local_udp_port}", "-m", "5", "-l", "1",
                      "-i", "127.0.0.1", "-p", str(free_port("udp")), "-timeout", "30",
                      "-trace_err"], tmp_path)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:] + "".join(
            p.read_text() for p in tmp_path.glob("*errors.log"))
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
    port = free_port("udp")
    proc = subprocess.Popen([SIPP, "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-m", "3",
                             "-timeout", "30", "-trace_err", "-nostdin"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        for i in range(3):
            inv = Invitation(Credentials(SIPURI("127.0.0.1", user="alice")),
                             SIPURI("127.0.0.1", user="service", port=port),
                             Route("127.0.0.1", port))
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
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, out[-2000:] + err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not recorder.all("SIPEngineGotException")


UPDATE_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="INVITE, then UPDATE with an SDP offer (sendonly), then BYE">
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
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
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
      Content-Length: 0
    ]]>
  </send>
  <pause milliseconds="200"/>
  <send retrans="500">
    <![CDATA[
      UPDATE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 UPDATE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687638 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=sendonly
    ]]>
  </send>
  <recv response="200">
    <action>
      <ereg regexp="a=recvonly" search_in="body" check_it="true" assign_to="dir"/>
    </action>
  </recv>
  <Reference variables="dir"/>
  <pause milliseconds="200"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


def test_update_with_offer_is_answered_with_the_current_local_sdp(engine, recorder, tmp_path):
    (tmp_path / "update.xml").write_text(UPDATE_SCENARIO)
    with auto_answer(make_sdp()) as calls:
        r = run_sipp(["-sf", "update.xml", f"127.0.0.1:{engine.local_udp_port}", "-m", "1",
                      "-i", "127.0.0.1", "-p", str(free_port("udp")), "-timeout", "20",
                      "-trace_err"], tmp_path)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:] + "".join(
            p.read_text() for p in tmp_path.glob("*errors.log"))
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
