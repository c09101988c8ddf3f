"""One sipcore endpoint for the media-load benchmark (``media_load.py``).

Run with the project's interpreter.  Same command line, stdin commands and JSON output as
``_pjsua2_media_peer.py``.

callee
    Answers every INVITE (PCMU) at once from its ``INCOMING`` receiver: an RTPTransport and an
    AudioTransport per call (the stream starts with the offer), a WaveFile playing ``--tone``
    into that call's stream only and a RecordingWaveFile recording that stream only into
    ``--sink`` (a ``.wav`` name linked to /dev/null: the stream is decoded and written, the
    bytes are dropped) -- sipcore's pairwise connections on the bridge.  Prints
    ``READY {"port"}``.
caller
    Places ``--calls`` calls one after another (INVITE with the AudioTransport's offer, waits
    for CONFIRMED, ``start()``), each with the same pairwise player and recorder.  With
    ``--conference`` the streams are instead joined to the conference
    (``Engine.connect_audio_transport``: each hears every other one) and one WaveFile plays
    ``--tone`` into the conference.  Prints ``UP {"setup_s"}`` when every call carries audio.

Then, on stdin: ``MARK`` takes the start sample (process and per-thread CPU, RSS) and starts
the probe recordings (the first ``--probes`` calls, each stream alone, into
``--dir/<role>-probe-<i>.wav``; their wall-clock start times are reported for the delay);
``END`` takes the end sample, stops the probes, reads every stream's statistics and prints
``RESULT {...}``; then the calls are hung up and the process exits.
"""
from __future__ import annotations

import argparse
import json
import queue
import threading
import time

from _peerio import emit, end_sample, mark_sample, media_result, read_commands, rss_kb  # noqa: E402
from sipcore import (AudioTransport, Credentials, Engine, Invitation, RecordingWaveFile, Route,
                     RTPTransport, SDPSession, SIPURI, WaveFile, signals)
from sipcore import _ua


def label_threads(per_thread: dict, poll_tid: int) -> str:
    """Rename the keys of ``per_thread`` (name/tid) for the report: the poll thread
    ``poll``, Python threads by their name, C threads ``C``; returns the poll thread's key."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    for key in list(per_thread):
        tid = int(key.rsplit("/", 1)[1])
        label = "poll" if tid == poll_tid else names.get(tid, "C")
        per_thread[f"{label}/{tid}"] = per_thread.pop(key)
    return f"poll/{poll_tid}"


class Call:
    __slots__ = ("inv", "rtp", "audio", "player", "sink", "probe", "t_play", "t_rec")

    def __init__(self) -> None:
        self.inv = self.rtp = self.audio = self.player = self.sink = self.probe = None
        self.t_play = self.t_rec = None


class Peer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.engine = Engine()
        self.engine.start(local_ip=args.ip, local_udp_port=args.port, local_tcp_port=None,
                          local_tls_port=None, log_level=0, auto_sound=False,
                          sample_rate=args.sample_rate, codecs=["PCMU"],
                          rtp_port_range=(args.rtp_port, args.rtp_port + 8 * args.calls + 200))
        self.calls: list[Call] = []
        self.by_inv: dict[int, Call] = {}
        self.failures: list[str] = []
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.conf_player: WaveFile | None = None
        self.mark: dict = {}
        signals.SIPInvitationChangedState.connect(self.on_state, weak=False)

    def fail(self, text: str) -> None:
        self.failures.append(text)

    def feed(self, call: Call) -> None:
        """The call's stream: player and null recorder, pairwise (or the conference)."""
        a = self.args
        if a.conference:
            self.engine.connect_audio_transport(call.audio)
        else:
            call.player = WaveFile(a.tone)
            call.player.start(loop_count=0, destination=call.audio)
            call.t_play = time.time()
        call.sink = RecordingWaveFile(a.sink)
        call.sink.start(source=call.audio)

    # -- callee (poll thread) --

    def on_state(self, sender, state, prev_state, **data) -> None:
        if state == "INCOMING":
            call = Call()
            call.inv = sender
            self.calls.append(call)
            self.by_inv[id(sender)] = call
            try:
                offer = sender.get_offered_remote_sdp()
                call.rtp = RTPTransport()
                call.rtp.set_INIT()
                call.audio = AudioTransport(call.rtp, offer, 0, enable_silence_detection=False)
                answer = SDPSession(self.args.ip, media=[call.audio.get_local_media(False)])
                call.rtp.set_ESTABLISHED(answer, offer, 0)
                sender.set_offered_local_sdp(answer)
                sender.accept_invite()
                self.feed(call)
            except Exception as exc:  # noqa: BLE001
                self.fail(f"callee call {len(self.calls)}: {exc!r}")
            return
        call = self.by_inv.get(id(sender))
        if call is None:
            return
        if state in ("CONFIRMED", "DISCONNECTED"):
            self.events.put((call, state, data))

    # -- caller (main thread) --

    def place_calls(self) -> float:
        a = self.args
        me = Credentials(SIPURI(a.ip, user="caller"))
        to = SIPURI(a.ip, user="callee", port=a.peer_port)
        route = Route(a.ip, a.peer_port, "udp")
        t0 = time.perf_counter()
        for i in range(a.calls):
            call = Call()
            call.rtp = RTPTransport()
            call.rtp.set_INIT()
            call.audio = AudioTransport(call.rtp, enable_silence_detection=False)
            offer = SDPSession(a.ip, media=[call.audio.get_local_media(True)])
            call.rtp.set_LOCAL(offer, 0)
            call.inv = Invitation(me, to, route)
            self.by_inv[id(call.inv)] = call
            self.calls.append(call)
            call.inv.set_offered_local_sdp(offer)
            call.inv.send_invite()
            got, state, data = self.events.get(timeout=30)
            if state != "CONFIRMED":
                raise RuntimeError(f"call {i + 1}: {state} {data}")
            call.audio.start(offer, call.inv.get_active_remote_sdp(), 0)
            self.feed(call)
        if a.conference:
            self.conf_player = WaveFile(a.tone)
            self.conf_player.start(loop_count=0)
            t = time.time()
            for call in self.calls:
                call.t_play = t
        return time.perf_counter() - t0

    # -- commands --

    def command(self, line: str) -> None:
        if line == "MARK":
            self.mark = {**mark_sample(), "rx": [self.rx_packets(c) for c in self.calls]}
            for i, call in enumerate(self.calls[:self.args.probes]):
                # the player restarts now, so its phase is known (no drift since setup)
                if call.player is not None:
                    call.player.stop()
                    call.player.start(loop_count=0, destination=call.audio)
                    call.t_play = time.time()
                elif self.conf_player is not None and i == 0:
                    self.conf_player.stop()
                    self.conf_player.start(loop_count=0)
                    t = time.time()
                    for c in self.calls:
                        c.t_play = t
                call.probe = RecordingWaveFile(f"{self.args.dir}/{self.args.role}-probe-{i}.wav")
                call.probe.start(source=call.audio)
                call.t_rec = time.time()
            emit("MARKED {}")
        elif line == "END":
            end = end_sample(self.mark)
            for call in self.calls:
                if call.probe is not None:
                    call.probe.stop()
            stats = [c.audio.statistics if c.audio is not None else None for c in self.calls]
            poll_key = label_threads(end[2], _ua.current.thread.native_id)
            emit(media_result("sipcore", self.args, self.calls, self.mark, end, stats, poll_key,
                              self.idle_rss, self.failures))
            self.hang_up()

    @staticmethod
    def rx_packets(call: Call) -> int:
        st = call.audio.statistics if call.audio is not None else None
        return st["rx_packets"] if st else 0

    def hang_up(self) -> None:
        if self.args.role == "caller":
            for call in self.calls:
                try:
                    call.inv.disconnect()
                except Exception:  # noqa: BLE001
                    pass
            deadline = time.monotonic() + 10
            ended = 0
            while ended < len(self.calls) and time.monotonic() < deadline:
                try:
                    _, state, _ = self.events.get(timeout=0.5)
                except queue.Empty:
                    continue
                ended += state == "DISCONNECTED"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", choices=("caller", "callee"), required=True)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--peer-port", type=int, default=0)
    ap.add_argument("--calls", type=int, default=1)
    ap.add_argument("--rtp-port", type=int, required=True)
    ap.add_argument("--tone", required=True, help="WAV file each call plays (looped)")
    ap.add_argument("--sink", required=True, help="a .wav name linked to /dev/null")
    ap.add_argument("--dir", required=True, help="where the probe recordings go")
    ap.add_argument("--probes", type=int, default=3)
    ap.add_argument("--sample-rate", type=int, default=8, help="the bridge's clock, kHz")
    ap.add_argument("--conference", action="store_true")
    args = ap.parse_args()
    peer = Peer(args)
    peer.idle_rss = rss_kb()
    if args.role == "callee":
        emit("READY " + json.dumps({"port": peer.engine.local_udp_port}))
    else:
        setup = peer.place_calls()
        emit("UP " + json.dumps({"setup_s": setup}))
    try:
        read_commands(peer.command)
    finally:
        signals.SIPInvitationChangedState.disconnect(peer.on_state)
        peer.engine.stop()


if __name__ == "__main__":
    main()
