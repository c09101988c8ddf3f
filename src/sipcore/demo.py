"""``make demo`` / ``python -m sipcore demo``: sipcore talks to a second sipcore process.

The child endpoint (``python -m sipcore peer --echo ...``) runs on loopback; this process
sends it MESSAGEs over UDP and TCP, the child echoes each one back, and the SIP trace of
this side is printed as a ladder.  No outside server is needed.

Then a call with audio (``--no-audio`` leaves it out): this process (alice) calls a second
endpoint (bob: ``python -m sipcore.demo --audio-peer``, a child process), plays a 440 Hz tone
into the call's stream only (``WaveFile.start(destination=...)``), sends DTMF digits, puts the
call on hold (re-INVITE with ``a=inactive``, ``update_direction``) and takes it back
(``sendrecv``), then hangs up.  Bob records the call's stream alone
(``RecordingWaveFile.start(source=...)``) and reports the digits he got; this process measures
bob's recording (``media.tones``) and prints what was heard in each phase: the tone's frequency
and level, and that the hold was silent.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from . import (
    SIPURI,
    AudioTransport,
    Credentials,
    Engine,
    Invitation,
    NotificationRecorder,
    RecordingWaveFile,
    Route,
    RTPTransport,
    SDPSession,
    WaveFile,
    send_message,
    signals,
)
from .ladder import Ladder
from .media import tones
from .peer import PeerProcess, _child_env

TONE_HZ = 440           # what alice plays
OTHER_HZ = 1000         # a reference frequency nobody plays
DTMF = "123#"
#: seconds of each phase: talking, on hold, talking again
PHASES = (2.0, 1.5, 2.0)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="sipcore demo", description="MESSAGEs with a second "
                                 "sipcore process, printed as a SIP ladder; then a call with "
                                 "audio: a tone, DTMF, hold and unhold, and what was heard.")
    ap.add_argument("--ip", default="127.0.0.1", help="loopback address to use (127.0.0.1 or ::1)")
    ap.add_argument("--count", type=int, default=2, help="MESSAGEs per transport")
    ap.add_argument("--no-audio", action="store_true",
                    help="leave out the call with audio (tone, DTMF, hold) after the MESSAGEs")
    args = ap.parse_args(argv)
    ip = args.ip

    engine = Engine()
    engine.start(local_ip=ip, local_udp_port=0, local_tcp_port=0, local_tls_port=None,
                 trace_sip=True, log_level=0)
    me = f"{'[' + ip + ']' if ':' in ip else ip}:{engine.local_udp_port}"
    print(f"sipcore {engine.user_agent}: this endpoint is alice at {me} (UDP) "
          f"and port {engine.local_tcp_port} (TCP)")
    try:
        with PeerProcess("--ip", ip, "--user", "bob",
                         "--echo", f"{ip}:{engine.local_udp_port}:udp") as peer:
            print(f"second sipcore process (pid {peer.ready['pid']}): bob at UDP port "
                  f"{peer.ready['udp']}, TCP port {peer.ready['tcp']}\n")
            alice = Credentials(SIPURI(ip, user="alice", port=engine.local_udp_port))
            ladder = Ladder(names={me: "alice (this process)"})
            with ladder, NotificationRecorder() as rec:
                for transport in ("udp", "tcp"):
                    port = peer.ready[transport]
                    host = f"[{ip}]" if ":" in ip else ip
                    ladder.names[f"{host}:{port}"] = f"bob ({transport})"
                    for i in range(args.count):
                        bob = SIPURI(ip, user="bob", port=port)
                        t0 = time.perf_counter()
                        text = f"hello #{i + 1} over {transport.upper()}"
                        send_message(alice, bob, "text/plain", text, Route(ip, port, transport))
                        resp = rec.wait_for("SIPEngineGotMessageResponse", timeout=10)
                        echo = rec.wait_for("SIPEngineGotMessage", timeout=10)
                        ms = (time.perf_counter() - t0) * 1000
                        print(f"  alice -> bob  {text!r}: {resp.data.code} {resp.data.reason};"
                              f" bob -> alice {echo.data.body.decode()!r}  ({ms:.1f} ms)")
            print("\nSIP ladder, as traced by this process (SIPEngineSIPTrace):\n")
            print(ladder.render())
        if not args.no_audio:
            print()
            audio_call(engine, ip)
    finally:
        engine.stop()
    return 0


# ---- the call with audio ---------------------------------------------------------------------

def _sdp(ip: str, audio: AudioTransport, is_offer: bool, direction: str = "sendrecv") -> SDPSession:
    return SDPSession(ip, address_type="IP6" if ":" in ip else "IP4",
                      media=[audio.get_local_media(is_offer, direction)])


class _Child:
    """Bob, the second endpoint: ``python -m sipcore.demo --audio-peer`` (JSON lines out)."""

    def __init__(self, ip: str, record: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "sipcore.demo", "--audio-peer", ip,
                                      record], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=_child_env(None))
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = self.read("ready")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def read(self, event: str, timeout: float = 20.0) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"the second endpoint sent no {event!r} in {timeout} s") from None
        ev: dict[str, Any] = json.loads(line) if line.strip() else {"event": "eof"}
        if ev.get("event") != event:
            raise RuntimeError(f"the second endpoint sent {ev}, expected {event!r}")
        return ev

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def audio_call(engine: Engine, ip: str) -> None:
    """Alice calls bob with audio: tone, DTMF, hold, unhold; prints what bob heard."""
    with tempfile.TemporaryDirectory(prefix="sipcore-demo-") as tmp:
        record = os.path.join(tmp, "bob-heard.wav")
        tone = tones.write_tone(os.path.join(tmp, "alice-tone.wav"), TONE_HZ, seconds=1.0,
                                sample_rate=8000, amplitude=0.5)
        bob = _Child(ip, record)
        try:
            _call(engine, ip, bob, tone, record)
        finally:
            bob.close()


def _call(engine: Engine, ip: str, bob: _Child, tone: str, record: str) -> None:
    port = bob.ready["port"]
    print(f"Audio: alice calls bob (second sipcore process, pid {bob.ready['pid']}, UDP port "
          f"{port}), plays a {TONE_HZ} Hz tone into the call; bob records the call")
    me = f"{'[' + ip + ']' if ':' in ip else ip}"
    states: queue.Queue[str] = queue.Queue()

    def on_state(sender: Any, state: str, **data: Any) -> None:
        states.put(state)

    def on_update(sender: Any, succeeded: bool, **data: Any) -> None:
        states.put("SDP" if succeeded else f"SDP failed: {data.get('error')}")

    def wait(what: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                got = states.get(timeout=0.5)
            except queue.Empty:
                continue
            if got == what:
                return
            if got == "DISCONNECTED" or got.startswith("SDP failed"):
                raise RuntimeError(f"the call ended or failed while waiting for {what}: {got}")
        raise RuntimeError(f"no {what} within 10 s")

    rtp = RTPTransport()
    rtp.set_INIT()
    audio = AudioTransport(rtp)
    offer = _sdp(ip, audio, True)
    rtp.set_LOCAL(offer, 0)
    inv = Invitation(Credentials(SIPURI(ip, user="alice", port=engine.local_udp_port)),
                     SIPURI(ip, user="bob", port=port), Route(ip, port, "udp"))
    signals.SIPInvitationChangedState.connect(on_state, sender=inv)
    signals.SIPInvitationGotSDPUpdate.connect(on_update, sender=inv)
    player = WaveFile(tone)
    try:
        inv.set_offered_local_sdp(offer)
        inv.send_invite()
        wait("CONFIRMED")
        answer = inv.get_active_remote_sdp()
        if answer is None:
            raise RuntimeError("the call is up without an SDP answer")
        audio.start(offer, answer, 0)
        player.start(loop_count=0, destination=audio)
        print(f"  call up: codec {audio.codec} at {audio.sample_rate} Hz, RTP {me}:"
              f"{rtp.local_rtp_port} <-> {rtp.remote_rtp_address_sdp}:{rtp.remote_rtp_port_sdp}")
        marks = [time.time()]
        time.sleep(PHASES[0] / 2)
        for digit in DTMF:
            audio.send_dtmf(digit)
            time.sleep(0.2)
        time.sleep(max(0.0, PHASES[0] / 2 - 0.2 * len(DTMF)))
        for direction, seconds in (("inactive", PHASES[1]), ("sendrecv", PHASES[2])):
            inv.set_offered_local_sdp(_sdp(ip, audio, True, direction))
            inv.send_reinvite()
            wait("SDP")
            audio.update_direction(direction)
            marks.append(time.time())
            print(f"  re-INVITE: {'hold' if direction == 'inactive' else 'unhold'} "
                  f"(a={direction}), alice's stream is {audio.direction}")
            time.sleep(seconds)
        marks.append(time.time())
        player.stop()
        inv.disconnect()
        wait("DISCONNECTED")
    finally:
        signals.SIPInvitationChangedState.disconnect(on_state, sender=inv)
        signals.SIPInvitationGotSDPUpdate.disconnect(on_update, sender=inv)
        player.stop()
        audio.stop()
    done = bob.read("recorded")
    print(f"  DTMF sent by alice: {DTMF}; received by bob: {done['dtmf']}")
    # phases on bob's recording's time line (both processes read the same clock); 0.3 s kept
    # clear of each change for the re-INVITE's round trip and the jitter buffer
    start = done["started"]
    for label, a, b in (("talking", marks[0], marks[1]), ("on hold", marks[1], marks[2]),
                        ("after unhold", marks[2], marks[3])):
        lv = tones.levels(record, [TONE_HZ, OTHER_HZ], start=a - start + 0.3, end=b - start - 0.1)
        print(f"  bob heard, {label}: {TONE_HZ} Hz at {lv[TONE_HZ]:.1f} dBFS "
              f"({OTHER_HZ} Hz: {lv[OTHER_HZ]:.1f} dBFS)")
    print(f"  bob's recording: {os.path.getsize(record)} bytes, "
          f"{len(tones.read_wav(record)[0]) / tones.read_wav(record)[1]:.1f} s")


def _audio_peer(ip: str, record: str) -> int:
    """Bob: answer one call with audio, record its stream alone into ``record``, answer
    re-INVITEs with the matching direction, report received DTMF; exit when the call ends."""
    engine = Engine()
    engine.start(local_ip=ip, local_udp_port=0, local_tcp_port=None, local_tls_port=None,
                 log_level=0, auto_sound=False)
    events: queue.Queue[str] = queue.Queue()
    digits: list[str] = []
    call: dict[str, Any] = {}

    def emit(**ev: Any) -> None:
        print(json.dumps(ev), flush=True)

    def on_state(sender: Any, state: str, **data: Any) -> None:
        try:
            if state == "INCOMING" and not call:
                offer = sender.get_offered_remote_sdp()
                rtp = RTPTransport()
                rtp.set_INIT()
                audio = AudioTransport(rtp, offer, 0)
                answer = _sdp(ip, audio, False)
                rtp.set_ESTABLISHED(answer, offer, 0)
                sender.set_offered_local_sdp(answer)
                sender.accept_invite()
                rec = RecordingWaveFile(record)
                rec.start(source=audio)
                call.update(inv=sender, rtp=rtp, audio=audio, rec=rec, started=time.time())
            elif state == "REINVITED" and call and call["inv"] is sender:
                offered = sender.get_offered_remote_sdp()
                theirs = offered.media[0].get_direction() if offered is not None else "sendrecv"
                mine = {"sendonly": "recvonly", "recvonly": "sendonly"}.get(theirs, theirs)
                sender.set_offered_local_sdp(_sdp(ip, call["audio"], False, mine))
                sender.respond_to_reinvite(200)
                call["audio"].update_direction(mine)
            elif state == "DISCONNECTED" and call and call["inv"] is sender:
                events.put("end")
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails
            emit(event="error", error=repr(exc))
            events.put("end")

    def on_dtmf(sender: Any, digit: str, **data: Any) -> None:
        digits.append(digit)

    signals.SIPInvitationChangedState.connect(on_state)
    signals.RTPAudioTransportGotDTMF.connect(on_dtmf)
    emit(event="ready", port=engine.local_udp_port, pid=os.getpid())
    try:
        events.get(timeout=60)
        if call:
            call["rec"].stop()
            call["audio"].stop()
            emit(event="recorded", dtmf="".join(digits), started=call["started"])
        sys.stdin.read()            # until the parent closes our stdin
    finally:
        engine.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--audio-peer":
        sys.exit(_audio_peer(sys.argv[2], sys.argv[3]))
    sys.exit(main(sys.argv[1:]))
