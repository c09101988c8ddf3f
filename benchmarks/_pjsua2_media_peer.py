"""One pjsua2 endpoint for the media-load benchmark (``media_load.py``).

Run with the interpreter of ``_venv.pjsua2_python()``.  Same command line, stdin commands and
JSON output as ``_sipcore_media_peer.py``; the same work per call: pjsua2's own RTP/RTCP
sockets and stream (PCMU only, ``noVad``), an ``AudioMediaPlayer`` looping ``--tone`` with
``player.startTransmit(call_media)`` and an ``AudioMediaRecorder`` on ``--sink`` (a ``.wav``
name linked to /dev/null) with ``call_media.startTransmit(recorder)``: pairwise connections
on pjsua's bridge (8 kHz clock, 20 ms frames, the null sound device kept open).
``threadCnt = 0``: the main thread polls ``libHandleEvents(10)`` and reads the commands a
stdin thread queues; one media thread (``medConfig.threadCnt = 1``).
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import threading
import time

from _peerio import emit, end_sample, mark_sample, media_result, rss_kb  # noqa: E402
from _pjsua2_call_peer import start_endpoint  # noqa: E402
import pjsua2 as pj


class MediaCall(pj.Call):
    def __init__(self, peer: "Peer", acc: pj.Account, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.peer = peer
        self.state = pj.PJSIP_INV_STATE_NULL
        self.media_up = False
        self.player = self.sink = self.probe = self.am = None
        self.t_play = self.t_rec = None

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        self.state = self.getInfo().state

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        if self.media_up:
            return
        try:
            am = self.am = self.getAudioMedia(-1)
            self.player = pj.AudioMediaPlayer()
            self.player.createPlayer(self.peer.args.tone, 0)       # looped
            self.player.startTransmit(am)
            self.t_play = time.time()
            self.sink = pj.AudioMediaRecorder()
            self.sink.createRecorder(self.peer.args.sink)
            am.startTransmit(self.sink)
            self.media_up = True
        except pj.Error as exc:
            self.peer.failures.append(f"media: {exc.info()}")


class Callee(pj.Account):
    def __init__(self, peer: "Peer"):
        super().__init__()
        self.peer = peer

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        call = MediaCall(self.peer, self, prm.callId)
        self.peer.calls.append(call)
        op = pj.CallOpParam(True)
        op.statusCode = 200
        try:
            call.answer(op)
        except pj.Error as exc:
            self.peer.failures.append(f"answer: {exc.info()}")


class Peer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.calls: list[MediaCall] = []
        self.failures: list[str] = []
        self.mark: dict = {}
        self.ep = start_endpoint(argparse.Namespace(
            trace=None, max_calls=32, media_threads=1, snd_auto_close=-1, port=args.port,
            ip=args.ip, clock_rate=args.sample_rate * 1000))
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{args.role}@{args.ip}:{args.port}"
        acfg.regConfig.registerOnAdd = False
        acfg.natConfig.sdpNatRewriteUse = 0
        acfg.natConfig.contactRewriteUse = 0
        acfg.natConfig.viaRewriteUse = 0
        acfg.mediaConfig.transportConfig.boundAddress = args.ip
        acfg.mediaConfig.transportConfig.port = args.rtp_port
        acfg.mediaConfig.transportConfig.portRange = 0     # pjsua: no upper limit
        acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE
        self.acc = Callee(self) if args.role == "callee" else pj.Account()
        self.acc.create(acfg)
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self.read_stdin, daemon=True).start()

    def read_stdin(self) -> None:
        for line in iter(os.sys.stdin.readline, ""):
            if line.strip():
                self.commands.put(line.strip())
        self.commands.put("EOF")

    def poll_until(self, cond, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                return False
            self.ep.libHandleEvents(10)
        return True

    def place_calls(self) -> float:
        a = self.args
        t0 = time.perf_counter()
        for i in range(a.calls):
            call = MediaCall(self, self.acc)
            self.calls.append(call)
            try:
                call.makeCall(f"sip:callee@{a.ip}:{a.peer_port}", pj.CallOpParam(True))
            except pj.Error as exc:
                raise RuntimeError(f"call {i + 1}: makeCall: {exc.info()}") from None
            if not self.poll_until(lambda: call.media_up
                                   and call.state == pj.PJSIP_INV_STATE_CONFIRMED, 30):
                raise RuntimeError(f"call {i + 1}: state {call.state}, media {call.media_up}")
        return time.perf_counter() - t0

    @staticmethod
    def stat(call: MediaCall) -> dict | None:
        try:
            st = call.getStreamStat(0)
        except pj.Error:
            return None
        rx, tx = st.rtcp.rxStat, st.rtcp.txStat
        return {"rx_packets": rx.pkt, "rx_lost": rx.loss, "rx_discarded": rx.discard,
                "rx_reordered": rx.reorder, "rx_duplicated": rx.dup, "tx_packets": tx.pkt,
                "jbuf_lost": st.jbuf.lost, "jbuf_discard": st.jbuf.discard,
                "jbuf_avg_delay_ms": st.jbuf.avgDelayMsec}

    def command(self, line: str) -> None:
        a = self.args
        if line == "MARK":
            self.mark = {**mark_sample(),
                         "rx": [(self.stat(c) or {}).get("rx_packets", 0) for c in self.calls]}
            for i, call in enumerate(self.calls[:a.probes]):
                call.player.setPos(0)       # its phase is known from now on (no drift)
                call.t_play = time.time()
                call.probe = pj.AudioMediaRecorder()
                call.probe.createRecorder(f"{a.dir}/{a.role}-probe-{i}.wav")
                call.am.startTransmit(call.probe)
                call.t_rec = time.time()
            emit("MARKED {}")
        elif line == "END":
            end = end_sample(self.mark)
            self.stop_probes()
            per_thread, tid = end[2], threading.get_native_id()
            poll_key = f"poll (main)/{tid}"
            per_thread[poll_key] = per_thread.pop(next(k for k in per_thread
                                                       if k.endswith(f"/{tid}")))
            emit(media_result("pjsua2", a, self.calls, self.mark, end,
                              [self.stat(c) for c in self.calls], poll_key, self.idle_rss,
                              self.failures))

    def hang_up(self) -> None:
        """The caller's calls ended, at EOF: after both sides' END results (a BYE sent on END
        could reach a callee still reading its streams' statistics)."""
        if self.args.role != "caller":
            return
        for call in self.calls:
            try:
                call.hangup(pj.CallOpParam())
            except pj.Error:
                pass
        self.poll_until(lambda: all(c.state == pj.PJSIP_INV_STATE_DISCONNECTED
                                    for c in self.calls), 10)

    def stop_probes(self) -> None:
        for call in self.calls:
            if call.probe is not None:
                call.am.stopTransmit(call.probe)
                call.probe = None       # the recorder's destructor closes the file
        # pjmedia 2.15 removes a bridge port (and closes its file) on the next clock tick
        self.poll_until(lambda: False, 0.2)

    def serve(self) -> None:
        while True:
            self.ep.libHandleEvents(10)
            try:
                line = self.commands.get_nowait()
            except queue.Empty:
                continue
            if line == "EOF":
                self.hang_up()
                return
            self.command(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", choices=("caller", "callee"), required=True)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--peer-port", type=int, default=0)
    ap.add_argument("--calls", type=int, default=1)
    ap.add_argument("--rtp-port", type=int, required=True)
    ap.add_argument("--tone", required=True)
    ap.add_argument("--sink", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--probes", type=int, default=3)
    ap.add_argument("--sample-rate", type=int, default=8)
    ap.add_argument("--conference", action="store_true", help="not supported (sipcore only)")
    args = ap.parse_args()
    if args.conference:
        ap.error("--conference: the pjsua2 peer runs pairwise only")
    peer = Peer(args)
    peer.idle_rss = rss_kb()
    if args.role == "callee":
        emit("READY " + json.dumps({"port": args.port}))
    else:
        emit("UP " + json.dumps({"setup_s": peer.place_calls()}))
    peer.serve()
    # without pjsua2's teardown (it asserts on Call wrappers deleted around libDestroy)
    os._exit(0)


if __name__ == "__main__":
    main()
