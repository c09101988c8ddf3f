"""One sipcore endpoint for the call-rate benchmark (``call_rate.py``).

Run with the project's interpreter.  Same command line and JSON output as
``_pjsua2_call_peer.py``.

Roles
-----
callee
    Listens on ``--ip:--port`` (UDP).  Every incoming INVITE is answered
    ``200`` with an SDP answer (see "SDP" below) from inside the
    ``SIPInvitationChangedState`` receiver for ``INCOMING``.  Prints
    ``READY {"rss_kb", "port", "fds", "threads"}`` after start-up and serves
    until stdin reaches EOF; then prints ``DONE {...}`` with the number of
    calls it saw, confirmed and saw ended by a BYE, failures and the
    resource samples (start, after ``--sample-at`` calls, end).

caller
    Places ``--count`` calls to ``--ip:--peer-port`` one after another.
    Each call: INVITE with an SDP offer (see "SDP" below), wait for
    CONFIRMED (200 received and ACK sent),
    then BYE (``disconnect()``), wait for DISCONNECTED (200 to the BYE),
    then the next call.  Prints one JSON line::

        {"impl": "sipcore", "count": N, "completed": ..., "seconds": ...,
         "rate": ..., "failures": ..., "first_failure": ...,
         "samples": {"start": {...}, "1000": {...}, "end": {...}}, ...}

    where each sample is ``{"calls", "rss_kb", "fds", "threads"}``:
    VmRSS, ``len(os.listdir('/proc/self/fd'))`` and the ``Threads:`` line
    of /proc/self/status.  ``start`` is taken after Engine.start(), before
    the first call; ``1000`` right after call number ``--sample-at``
    (default 1000) has ended; ``end`` after the last call has ended.  With
    ``--settle S`` the caller also pauses S seconds (untimed) at both
    points and then takes ``1000_settled`` and ``end_settled``: PJSIP keeps
    an ended call's dialog until its BYE transaction is over (Timer K, 5 s;
    the callee's Timer J, 32 s), so the raw samples include the calls the
    protocol timers still hold.  The callee takes ``1000`` on the
    ``--sample-at``-th BYE, ``1000_settled`` when the next INVITE arrives
    (after the caller's pause), ``end_raw`` on the ``--count``-th BYE and
    ``end`` at stdin EOF (settled: after the caller's pause).  Each settled
    sample is followed by a ``*_trimmed`` one taken after glibc's
    ``malloc_trim(0)`` (live memory without the freed heap glibc keeps).
    ``seconds`` is wall time from the first INVITE to the last DISCONNECTED
    minus the pauses; ``rate`` is completed calls per second.  A call
    counts as failed when it ends in any way other than DISCONNECTED after
    our BYE was answered 2xx; calls never finished before ``--timeout``
    count as failures too.

    Every ended call also prints a progress line ``P <calls ended>
    <seconds since the first INVITE, pauses excluded> <failures>`` (same as
    the pjsua2 peer, which may abort before its JSON line).

    ``--burst N`` pauses ``--burst-pause`` seconds (untimed) after every N
    calls; it exists so that sipcore can be run on exactly the schedule the
    pjsua2 peer needs (see _pjsua2_call_peer.py).

SDP
---
sipcore's Invitation carries SDP as data and opens no media, so the
benchmark compares it with pjsua2 calls without media
(``_pjsua2_call_peer.py --media none``: loop media transport, stream
inactive).  To give both stacks the same SDP to build, print, parse and
negotiate, the offer and the answer copy pjsua2's line for line::

    v=0
    o=- <id> <version> IN IP4 127.0.0.1
    s=pjmedia
    t=0 0
    a=X-nat:0
    m=audio 4000 RTP/AVP 0 120
    c=IN IP4 127.0.0.1
    a=rtcp:4001 IN IP4 127.0.0.1
    a=inactive                          (offer: here; answer: last)
    a=rtpmap:0 PCMU/8000
    a=rtpmap:120 telephone-event/8000
    a=fmtp:120 0-16
    a=ssrc:<random> cname:<16 hex digits>

except pjsua2's two bandwidth lines (``b=AS:84`` after ``s=``,
``b=TIAS:64000`` after ``c=``), which sipcore's SDP classes (the SIP core
API's) cannot express: 30 bytes less per body.  ``--trace FILE`` writes every SIP
message sent or received (SIPEngineSIPTrace) to FILE for the
orchestrator's wire check; the timed runs go without it.

Each role also takes an ``in_call`` resource sample during its first call
(with the process's UDP sockets: SIP's own only; the caller excludes its
time from the figures).

How the caller drives sipcore (the usage pattern measured)
-----------------------------------------------------------
The main thread creates and sends only the first call (and the first call
after each pause).  Everything else happens inside the
``SIPInvitationChangedState`` receiver, which runs on sipcore's poll
thread: on CONFIRMED it calls ``disconnect()``, on DISCONNECTED it creates
the next Invitation and calls ``send_invite()``.  Calling Invitation
methods from a receiver is documented sipcore usage (docs/invitation.md:
such notifications are delivered in order after the current one) and the
fastest correct way: no hand-over to the poll thread and no GIL ping-pong
per step.  It is the same structure as the pjsua2 caller (one thread does
all SIP work and acts right after the callback).  Pauses are never taken
on the poll thread: the receiver hands over to the main thread.
``--drive thread`` is the application-thread pattern (issue #13,
``call_rate.py --send-from thread``): the receiver only posts events to a
queue and the main thread makes the Invitation, sets the offer and calls
``send_invite()``/``disconnect()`` (each checked in the main thread and
handed to the poll thread without waiting).
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
import time

import random

from _peerio import cpu_s, emit, sample, stdin_eof_event  # noqa: E402  (benchmarks/ is sys.path[0])
import sipcore
from sipcore import (AudioTransport, Credentials, Engine, Invitation, Route, RTPTransport,
                     SDPAttribute, SDPConnection, SDPMedia, SDPSession, SIPURI, signals)

MEDIA = {"none": "none (SDP as data)",
         "rtp": "RTPTransport + AudioTransport (RTP/RTCP sockets, PCMU stream) per call and side"}
PATTERNS = {
    "receiver": "sipcore: the SIPInvitationChangedState receiver (on sipcore's poll thread) "
                "calls disconnect() and send_invite() of the next call",
    "thread": "sipcore: the receiver posts to a queue, the main application thread calls "
              "set_offered_local_sdp()/send_invite()/disconnect() (handed to the poll "
              "thread without waiting)",
}


# --------------------------------------------------------------------------
# helpers (same as in _pjsua2_call_peer.py)

def start_engine(ip: str, port: int, trace: str | None = None,
                 rtp_ports: tuple[int, int] | None = None) -> Engine:
    """Start the Engine with UDP only, logging off; SIP trace only with ``trace`` (a file
    to write every message to)."""
    engine = Engine()
    if trace:
        out = open(trace, "w")

        def on_trace(sender, received, source_ip, source_port, destination_ip,
                     destination_port, data, **kw) -> None:
            peer = (f"from UDP {source_ip}:{source_port}" if received
                    else f"to UDP {destination_ip}:{destination_port}")
            out.write(f"{'RX' if received else 'TX'} {len(data.encode())} bytes {peer}:\n"
                      f"{data.rstrip()}\n--end msg--\n\n")
            out.flush()
        signals.SIPEngineSIPTrace.connect(on_trace, weak=False)
    media = {} if rtp_ports is None else {"rtp_port_range": rtp_ports, "codecs": ["PCMU"],
                                          "auto_sound": False}
    engine.start(local_ip=ip, local_udp_port=port, local_tcp_port=None,
                 local_tls_port=None, log_level=0, trace_sip=bool(trace), **media)
    return engine


class CallMedia:
    """``--media rtp``: the call's RTPTransport and AudioTransport (PCMU, like pjsua2's
    default media: RTP and RTCP sockets and a stream per call and side)."""
    __slots__ = ("rtp", "audio", "offer")

    def __init__(self, ip: str, offer: SDPSession | None = None) -> None:
        self.rtp = RTPTransport()
        self.rtp.set_INIT()
        if offer is None:           # the caller: the offer
            self.audio = AudioTransport(self.rtp, enable_silence_detection=False)
            self.offer = SDPSession(ip, media=[self.audio.get_local_media(True)])
            self.rtp.set_LOCAL(self.offer, 0)
        else:                       # the callee: the stream starts with the offer
            self.audio = AudioTransport(self.rtp, offer, 0, enable_silence_detection=False)
            self.offer = SDPSession(ip, media=[self.audio.get_local_media(False)])
            self.rtp.set_ESTABLISHED(self.offer, offer, 0)

    def close(self) -> None:
        """Stop the stream; the RTPTransport's sockets close when it is dropped."""
        self.audio.stop()
        self.audio = self.rtp = None


def make_sdp(ip: str, answer: bool = False) -> SDPSession:
    """pjsua2's SDP for a call without media (``--media none``), line for line, without
    its two b= lines (see the module documentation)."""
    ssrc = SDPAttribute("ssrc", f"{random.getrandbits(31)} cname:{random.getrandbits(64):016x}")
    attrs = [SDPAttribute("rtcp", f"4001 IN IP4 {ip}"),
             SDPAttribute("rtpmap", "0 PCMU/8000"),
             SDPAttribute("rtpmap", "120 telephone-event/8000"),
             SDPAttribute("fmtp", "120 0-16"), ssrc]
    attrs.insert(len(attrs) if answer else 1, SDPAttribute("inactive", ""))
    return SDPSession(ip, name="pjmedia", attributes=[SDPAttribute("X-nat", "0")], media=[
        SDPMedia("audio", 4000, "RTP/AVP", formats=["0", "120"],
                 connection=SDPConnection(ip), attributes=attrs)])


# --------------------------------------------------------------------------
# callee

def run_callee(args: argparse.Namespace) -> None:
    engine = start_engine(args.ip, args.port, args.trace,
                          (51000, 51998) if args.media == "rtp" else None)
    answer = make_sdp(args.ip, answer=True)
    media: dict[int, CallMedia] = {}
    eof = stdin_eof_event()
    stats = {"incoming": 0, "confirmed": 0, "ended_by_bye": 0, "failures": 0}
    first_failure: list[str] = []
    samples = {"start": sample(0)}

    def fail(text: str) -> None:
        stats["failures"] += 1
        if not first_failure:
            first_failure.append(text)

    def on_state(sender, prev_state, state, **data) -> None:
        # Runs on the poll thread.
        if state == "INCOMING":
            stats["incoming"] += 1
            if stats["incoming"] == args.sample_at + 1:
                # The caller's --settle pause (if any) is over.
                samples[f"{args.sample_at}_settled"] = sample(args.sample_at)
                samples[f"{args.sample_at}_trimmed"] = sample(args.sample_at, trim=True)
            try:
                if args.media == "rtp":
                    m = media[id(sender)] = CallMedia(args.ip, sender.get_offered_remote_sdp())
                    sender.set_offered_local_sdp(m.offer)
                else:
                    sender.set_offered_local_sdp(answer)
                sender.accept_invite()
            except Exception as exc:  # noqa: BLE001 - counted, reported once
                fail(f"accept_invite raised {exc!r}")
        elif state == "CONFIRMED":
            stats["confirmed"] += 1
            if "in_call" not in samples:
                samples["in_call"] = {**sample(stats["ended_by_bye"]),
                                      "stream": id(sender) in media}
        elif state == "DISCONNECTED":
            m = media.pop(id(sender), None)
            if m is not None:
                m.close()
            if data.get("method") == "BYE" and prev_state == "CONFIRMED":
                stats["ended_by_bye"] += 1
            else:
                fail(f"call {stats['incoming']} ended {prev_state} -> "
                     f"DISCONNECTED {data.get('method') or data.get('code')} "
                     f"{data.get('reason', '')}")
            if stats["ended_by_bye"] == args.sample_at:
                samples[str(args.sample_at)] = sample(args.sample_at)
            if stats["ended_by_bye"] == args.count:
                samples["end_raw"] = sample(args.count)   # the caller's last call: raw

    signals.SIPInvitationChangedState.connect(on_state, weak=False)
    cpu_start = cpu_s()
    emit("READY " + json.dumps({"port": engine.local_udp_port,
                                **samples["start"]}))
    eof.wait()
    samples["end"] = sample(stats["ended_by_bye"])
    samples["end_trimmed"] = sample(stats["ended_by_bye"], trim=True)
    done = {**stats, "samples": samples, "media": MEDIA[args.media],
            "pattern": "sipcore: accept_invite() from the INCOMING receiver (poll thread)",
            "cpu_s": round(cpu_s() - cpu_start, 3), "pjsip": sipcore.PJSIP_VERSION}
    if first_failure:
        done["first_failure"] = first_failure[0]
    emit("DONE " + json.dumps(done))
    signals.SIPInvitationChangedState.disconnect(on_state)
    engine.stop()


# --------------------------------------------------------------------------
# caller

class Caller:
    """Places the calls one after another (see the module documentation)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        ip = args.ip
        self.credentials = Credentials(SIPURI(ip, user="caller"))
        self.callee = SIPURI(ip, user="callee", port=args.peer_port)
        self.route = Route(ip, args.peer_port, "udp")
        self.offers = [make_sdp(ip) for i in range(1000)]
        self.started = 0          # calls whose INVITE went out (or was tried)
        self.completed = 0        # calls that ended properly after our BYE
        self.ended = 0            # calls that ended in any way
        self.failures = 0
        self.first_failure: str | None = None
        self.current: Invitation | None = None
        self.media: CallMedia | None = None
        self.samples: dict[str, dict] = {}
        self.t_first = self.t_last = 0.0
        self.paused = 0.0         # seconds spent in --burst/--settle pauses
        self.finished = threading.Event()
        self.events: queue.SimpleQueue = queue.SimpleQueue()

    def record(self, text: str) -> None:
        self.failures += 1
        if self.first_failure is None:
            self.first_failure = text

    def place_call(self) -> None:
        """Create the next Invitation and send its INVITE."""
        i = self.started
        self.started += 1
        try:
            inv = Invitation(self.credentials, self.callee, self.route)
            if self.args.media == "rtp":
                self.media = CallMedia(self.args.ip)
                inv.set_offered_local_sdp(self.media.offer)
            else:
                inv.set_offered_local_sdp(self.offers[i % len(self.offers)])
            self.current = inv
            inv.send_invite()
        except Exception as exc:  # noqa: BLE001 - counted, reported once
            # send_invite() failing sends DISCONNECTED itself (then
            # call_ended() runs); anything earlier needs to end it here.
            if self.current is None or self.current.state == "NULL":
                self.record(f"call {i + 1}: {exc!r}")
                self.current = None
                self.call_ended()
            # else: DISCONNECTED was (or will be) notified; on_state counts it.

    def hang_up(self, inv: Invitation) -> None:
        try:
            inv.disconnect()
        except Exception as exc:  # noqa: BLE001
            self.record(f"call {self.started}: disconnect raised {exc!r}")

    def call_ended(self) -> None:
        """The current call is over (either way): sample, next or finish."""
        self.ended += 1
        self.t_last = time.perf_counter()
        emit(f"P {self.ended} {self.t_last - self.t_first - self.paused:.6f} "
             f"{self.failures}")
        if self.ended == self.args.sample_at:
            self.samples[str(self.args.sample_at)] = sample(self.ended)
        if self.ended >= self.args.count:
            self.finished.set()
        elif self.pause_due():
            # Pauses are taken on the main thread (never block the poll
            # thread); it places the next call afterwards.
            self.events.put("pause")
        elif self.args.drive == "receiver":
            self.place_call()
        else:
            self.events.put("next")

    def pause_due(self) -> bool:
        a = self.args
        return ((a.burst and self.ended % a.burst == 0)
                or (a.settle and self.ended == a.sample_at))

    def pause(self) -> None:
        """On the main thread: a --burst or --settle pause, not timed."""
        t0 = time.perf_counter()
        a = self.args
        if a.settle and self.ended == a.sample_at:
            time.sleep(a.settle)
            self.samples[f"{a.sample_at}_settled"] = sample(self.ended)
            self.samples[f"{a.sample_at}_trimmed"] = sample(self.ended, trim=True)
        else:
            time.sleep(a.burst_pause)
        self.paused += time.perf_counter() - t0

    def on_state(self, sender, prev_state, state, **data) -> None:
        # Runs on the poll thread.
        if sender is not self.current:
            return
        if state == "CONFIRMED":
            if self.media is not None:
                try:
                    self.media.audio.start(self.media.offer, sender.get_active_remote_sdp(), 0)
                except Exception as exc:  # noqa: BLE001
                    self.record(f"call {self.started}: AudioTransport.start raised {exc!r}")
            if "in_call" not in self.samples:
                t0 = time.perf_counter()
                self.samples["in_call"] = {**sample(self.ended),
                                           "stream": self.media is not None}
                self.paused += time.perf_counter() - t0       # not timed
            if self.args.drive == "receiver":
                self.hang_up(sender)
            else:
                self.events.put(sender)
        elif state == "DISCONNECTED":
            self.current = None
            if self.media is not None:
                self.media.close()
                self.media = None
            code = data.get("code")
            if prev_state == "DISCONNECTING" and code is not None and 200 <= code < 300:
                self.completed += 1
            else:
                self.record(f"call {self.started}: {prev_state} -> DISCONNECTED "
                            f"{data.get('method') or code} {data.get('reason', '')}")
            self.call_ended()

    def run(self, timeout: float) -> float:
        """Place every call; return the wall time spent in calls (pauses
        excluded), from the first INVITE to the last DISCONNECTED."""
        deadline = time.monotonic() + timeout
        self.t_first = time.perf_counter()
        self.place_call()
        while not self.finished.is_set() and time.monotonic() < deadline:
            try:
                ev = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            if ev == "pause":
                self.pause()
                deadline += self.args.burst_pause + self.args.settle
                self.place_call()
            elif ev == "next":
                self.place_call()
            else:
                self.hang_up(ev)
        return (self.t_last or time.perf_counter()) - self.t_first - self.paused


def run_caller(args: argparse.Namespace) -> None:
    engine = start_engine(args.ip, args.port, args.trace,
                          (50000, 50998) if args.media == "rtp" else None)
    caller = Caller(args)
    signals.SIPInvitationChangedState.connect(caller.on_state, weak=False)
    caller.samples["start"] = sample(0)
    cpu_first = cpu_s()

    seconds = caller.run(args.timeout)
    cpu = cpu_s() - cpu_first

    caller.samples["end"] = sample(caller.ended)
    if args.settle:
        # PJSIP keeps each ended call's dialog until its BYE transaction
        # has ended (Timer K, 5 s on UDP; the callee: Timer J, 32 s).
        time.sleep(args.settle)
        caller.samples["end_settled"] = sample(caller.ended)
        caller.samples["end_trimmed"] = sample(caller.ended, trim=True)
    missing = args.count - caller.ended
    result = {
        "impl": "sipcore",
        "count": args.count,
        "completed": caller.completed,
        "seconds": round(seconds, 6),
        "rate": round(caller.completed / seconds, 1) if seconds > 0 else 0.0,
        "failures": caller.failures + missing,
        "samples": caller.samples,
        "drive": args.drive,
        "media": MEDIA[args.media],
        "pattern": PATTERNS[args.drive],
        "burst": args.burst,
        "paused_seconds": round(caller.paused, 3),
        "cpu_s": round(cpu, 3),
        "sipcore": sipcore.__version__,
        "pjsip": sipcore.PJSIP_VERSION,
    }
    if caller.first_failure:
        result["first_failure"] = caller.first_failure
    if missing:
        result["timed_out"] = missing
    emit(json.dumps(result))
    signals.SIPInvitationChangedState.disconnect(caller.on_state)
    engine.stop()


# --------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", choices=("callee", "caller"), required=True)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True,
                    help="local UDP port to bind (0 = any)")
    ap.add_argument("--peer-port", type=int, default=0,
                    help="callee's UDP port (caller only)")
    ap.add_argument("--count", type=int, default=1000,
                    help="caller: sequential calls to place")
    ap.add_argument("--sample-at", type=int, default=1000,
                    help="take the middle resource sample after this many calls")
    ap.add_argument("--drive", choices=("receiver", "thread"), default="receiver",
                    help="caller: act from the state receiver on the poll thread "
                         "(default, fastest) or from the main thread")
    ap.add_argument("--burst", type=int, default=0,
                    help="caller: after every BURST calls pause for --burst-pause "
                         "seconds, not counted in the time (0 = no pauses; the "
                         "pjsua2 peer needs them, see _pjsua2_call_peer.py)")
    ap.add_argument("--burst-pause", type=float, default=0.7,
                    help="caller: length of the --burst pauses in seconds")
    ap.add_argument("--settle", type=float, default=0.0,
                    help="caller: pause this many seconds (untimed) after "
                         "--sample-at calls and after the last call, then take "
                         "the *_settled samples (0 = no settled samples)")
    ap.add_argument("--media", choices=("none", "rtp"), default="none",
                    help="none (default): SDP as data; rtp: an RTPTransport and an "
                         "AudioTransport (PCMU stream) per call and side")
    ap.add_argument("--trace", metavar="FILE",
                    help="write every SIP message sent/received to FILE (wire check)")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="caller: give up after this many seconds")
    args = ap.parse_args(argv)
    if args.role == "caller":
        if not args.peer_port:
            ap.error("--peer-port is required for --role caller")
        if args.count < 1:
            ap.error("--count must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role == "callee":
        run_callee(args)
    else:
        run_caller(args)


if __name__ == "__main__":
    main()
