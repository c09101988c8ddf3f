"""One pjsua2 endpoint for the call-rate benchmark (``call_rate.py``).

Run with the interpreter from ``_venv.pjsua2_python()`` (the private venv
holding PyPI ``pjsua2-python``), never with the project's interpreter.
Same command line and JSON output as ``_sipcore_call_peer.py``.

Roles
-----
callee
    Listens on ``--ip:--port`` (UDP) with one account ``sip:callee@IP``.
    ``onIncomingCall`` answers every call ``200`` at once; pjsua builds the
    SDP answer from its media configuration.  Prints ``READY {...}`` after
    start-up and serves until stdin reaches EOF, then ``DONE {...}`` (same
    fields as the sipcore callee).

caller
    Places ``--count`` calls to ``sip:callee@IP:PEER`` one after another:
    ``makeCall`` with ``CallOpParam(True)`` (one audio stream, so pjsua
    offers SDP with one m=audio line), wait for CONFIRMED, ``hangup``
    (BYE), wait for DISCONNECTED, next call.  Prints the same JSON line as
    the sipcore caller.

Both sides enable only PCMU/8000 (all other codecs get priority 0), so the
offer and the answer carry one m=audio line with PCMU (and pjsua's
telephone-event format).

Media (``--media``)
-------------------
``none`` (default: the like-for-like comparison with sipcore, whose
    Invitation carries SDP as data and opens no media).  pjsua2 cannot make
    a call without a media line: ``CallSetting.audioCount = 0`` on
    ``makeCall`` aborts the wheel in ``pjmedia_endpt_create_base_sdp``
    (assertion "Invalid address family": with no media transport the SDP
    origin has no address), and an answer with ``audioCount = 0`` is
    refused by pjsua itself (488 "Unable to create media session").  The
    nearest it has is therefore: the account's *loop* media transport
    (``AccountMediaConfig.useLoopMedTp``, loopback off), which opens no
    socket, and the audio stream made inactive on both sides
    (``CallSetting.flag |= PJSUA_CALL_SET_MEDIA_DIR``, ``mediaDir =
    [PJMEDIA_DIR_NONE]`` on the caller's ``makeCall`` and on the callee's
    ``answer``), so the offer and the answer say ``a=inactive`` and pjsua
    creates no stream and no conference-bridge port.  What remains per call
    is pjsua's media bookkeeping: one loop transport object (memory only)
    per side and SDP generation from its codec list.  The peer proves it:
    the ``in_call`` sample (during the first call) counts the process's
    UDP sockets and pjsua's active conference ports and says whether the
    call has a stream (``Call.getStreamInfo(0)``).
``rtp``
    pjsua2's defaults: per call and side an RTP and an RTCP UDP socket,
    a media stream (PCMU codec, jitter buffer) and a conference-bridge port,
    sendrecv.  More work per call than sipcore does; kept as an extra.

Progress lines
--------------
Each finished call prints ``P <calls ended> <seconds since the first
INVITE> <failures>`` to stdout (both implementations do it, a few
microseconds per call).  The pjsua2 wheel has been seen to abort the
process (assertion/ioqueue limit) after a few dozen calls; the last
progress line then tells the orchestrator how many calls had completed
and how long they took, so the abort is reported as pjsua2's result.

Limits with ``--media rtp``
---------------------------
The RTP and RTCP sockets are registered with pjmedia's ioqueue.  The
wheel's ioqueue is the ``select`` one with ``PJ_IOQUEUE_MAX_HANDLES`` 64,
and a closed socket's key is only reusable after a delay
(``PJ_IOQUEUE_KEY_FREE_DELAY``, 500 ms); at a high call rate these keys
run out (the wheel aborts after about 32 calls).  ``--media none`` opens
no socket per call, so this limit does not apply.

Event loop (the usage pattern measured)
---------------------------------------
``threadCnt = 0`` and ``libHandleEvents()`` on the main thread (as in
``_pjsua2_peer.py``); the callbacks only record the new state, the main
loop then calls ``hangup()``/``makeCall()`` right after
``libHandleEvents()`` returns: one application thread polls pjsip and
sends every request.

``--trace FILE`` writes every SIP message sent or received (pjsua's message
log) to FILE, for the orchestrator's wire check; it costs time, so the
timed runs go without it.  Call objects are dropped in the main loop,
never inside their own callback (pjsua2 forbids deleting a Call from its
own ``onCallState``).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

from _peerio import cpu_s, emit, sample, stdin_eof_event, stdout_silenced  # noqa: E402  (benchmarks/ is sys.path[0])
import pjsua2 as pj

PATTERN = ("pjsua2: threadCnt=0, the main thread polls libHandleEvents() and calls "
           "makeCall()/hangup() right after the state callback returned")
#: caller --threads 1 (call_rate.py --send-from thread, issue #13): the application thread
THREAD_PATTERN = ("pjsua2: threadCnt=1 (pjsua's worker thread polls); the main thread calls "
                  "makeCall()/hangup() and waits on a Condition that onCallState notifies")


class TraceWriter(pj.LogWriter):
    """pjsua's message log (one entry per SIP message sent or received) into a file."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.out = open(path, "w")

    def write(self, entry: pj.LogEntry) -> None:
        if "--end msg--" in entry.msg:
            self.out.write(entry.msg.rstrip() + "\n\n")
            self.out.flush()


def call_setting(op: pj.CallOpParam, args: argparse.Namespace) -> pj.CallOpParam:
    """``--media none``: the audio stream inactive (no stream, no bridge port)."""
    if args.media == "none":
        op.opt.flag |= pj.PJSUA_CALL_SET_MEDIA_DIR
        op.opt.mediaDir = pj.IntVector([pj.PJMEDIA_DIR_NONE])
    return op


def in_call_sample(ep: pj.Endpoint, calls: int, call: pj.Call) -> dict:
    """Resource sample during a call, with pjsua's active conference-bridge ports (the
    master port is one; each call's stream adds one) and whether the call has a media
    stream (``getStreamInfo(0)`` raises PJ_EINVAL when it has none)."""
    try:
        call.getStreamInfo(0)
        stream = True
    except pj.Error:
        stream = False
    return {**sample(calls), "conf_ports": ep.mediaActivePorts(), "stream": stream}


# --------------------------------------------------------------------------
# helpers (same as in _sipcore_call_peer.py)

def start_endpoint(args: argparse.Namespace) -> pj.Endpoint:
    """Endpoint with one UDP transport, logging off, null sound device,
    only PCMU enabled, polled from the main thread (threadCnt 0)."""
    ep = pj.Endpoint()
    with stdout_silenced():
        ep.libCreate()
    cfg = pj.EpConfig()
    cfg.logConfig.level = 0
    cfg.logConfig.consoleLevel = 0
    cfg.logConfig.msgLogging = False
    if args.trace:
        args.trace_writer = TraceWriter(args.trace)   # kept alive as long as the endpoint
        cfg.logConfig.writer = args.trace_writer
        cfg.logConfig.level = 4                        # pjsua logs messages at level 4
        cfg.logConfig.consoleLevel = 4                 # the writer gets what the console would
        cfg.logConfig.msgLogging = True
    cfg.uaConfig.threadCnt = getattr(args, "threads", 0)
    cfg.uaConfig.mainThreadOnly = False
    cfg.uaConfig.maxCalls = args.max_calls
    cfg.uaConfig.userAgent = "sipcore-bench-pjsua2"
    cfg.medConfig.threadCnt = args.media_threads
    cfg.medConfig.noVad = True
    # Keep the (null) sound device open.  With the default auto-close the
    # device is closed while no call is connected to it, the conference
    # bridge then gets no clock ticks, and pjmedia 2.15 removes ports
    # asynchronously *from the clock tick*: every call's conference port
    # stays allocated, and call number maxMediaPorts-1 (253) is answered
    # "488 Unable to create media session".
    cfg.medConfig.sndAutoCloseTime = args.snd_auto_close
    if getattr(args, "clock_rate", 0):       # media_load.py: the bridge's clock
        cfg.medConfig.clockRate = cfg.medConfig.sndClockRate = args.clock_rate
    ep.libInit(cfg)

    tcfg = pj.TransportConfig()
    tcfg.port = args.port
    tcfg.boundAddress = args.ip
    tcfg.publicAddress = args.ip
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)

    ep.audDevManager().setNullDev()
    ep.libStart()
    for codec in ep.codecEnum2():
        ep.codecSetPriority(codec.codecId,
                            255 if codec.codecId.startswith("PCMU/8000") else 0)
    return ep


def make_account_config(args: argparse.Namespace, user: str) -> pj.AccountConfig:
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:{user}@{args.ip}:{args.port}"
    acfg.regConfig.registerOnAdd = False
    acfg.presConfig.publishEnabled = False
    acfg.mwiConfig.enabled = False
    acfg.natConfig.udpKaIntervalSec = 0
    acfg.natConfig.sdpNatRewriteUse = 0
    acfg.natConfig.contactRewriteUse = 0
    acfg.natConfig.viaRewriteUse = 0
    acfg.mediaConfig.transportConfig.boundAddress = args.ip
    acfg.mediaConfig.transportConfig.port = args.rtp_port
    acfg.mediaConfig.transportConfig.portRange = 0
    if args.media == "none":
        acfg.mediaConfig.useLoopMedTp = True       # no RTP/RTCP socket
        acfg.mediaConfig.enableLoopback = False
    acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE
    return acfg


# --------------------------------------------------------------------------
# calls

class BenchCall(pj.Call):
    """Records state changes; the main loop acts on them."""

    def __init__(self, acc: pj.Account, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(acc, call_id)
        self.state = pj.PJSIP_INV_STATE_NULL
        self.prev_state = pj.PJSIP_INV_STATE_NULL
        self.last_code = 0
        self.last_reason = ""
        self.ended_by_remote = False
        self.hung_up = False
        #: callee: where to put the in-call sample, taken on the first CONFIRMED
        self.samples: dict | None = None
        #: caller --threads 1: notified on every state change (the main thread waits on it)
        self.cond: threading.Condition | None = None

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        self.prev_state, self.state = self.state, info.state
        if (info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.samples is not None
                and "in_call" not in self.samples):
            self.samples["in_call"] = in_call_sample(pj.Endpoint.instance(), 0, self)
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.last_code = info.lastStatusCode
            self.last_reason = info.lastReason
        if self.cond is not None:
            with self.cond:
                self.cond.notify()


class CalleeAccount(pj.Account):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[BenchCall] = []
        self.incoming = 0
        self.failures = 0
        self.first_failure: str | None = None
        self.sample_at = 0
        self.samples: dict[str, dict] = {}
        self.args: argparse.Namespace | None = None

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        self.incoming += 1
        if self.incoming == self.sample_at + 1:
            # The caller's --settle pause (if any) is over.
            self.samples[f"{self.sample_at}_settled"] = sample(self.sample_at)
            self.samples[f"{self.sample_at}_trimmed"] = sample(self.sample_at, trim=True)
        call = BenchCall(self, prm.callId)
        call.samples = self.samples
        self.calls.append(call)
        op = call_setting(pj.CallOpParam(True), self.args)
        op.statusCode = 200
        try:
            call.answer(op)
        except pj.Error as exc:
            self.failures += 1
            if self.first_failure is None:
                self.first_failure = f"answer: {exc.info()}"


def run_callee(args: argparse.Namespace) -> None:
    ep = start_endpoint(args)
    acc = CalleeAccount()
    acc.args = args
    acc.create(make_account_config(args, "callee"))
    eof = stdin_eof_event()
    samples = acc.samples
    acc.sample_at = args.sample_at
    samples["start"] = sample(0)
    cpu_start = cpu_s()
    emit("READY " + json.dumps({"port": args.port, **samples["start"]}))
    confirmed = ended_by_bye = 0
    while not eof.is_set():
        ep.libHandleEvents(50)
        if acc.calls:
            keep = []
            for call in acc.calls:
                if call.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                    if call.prev_state == pj.PJSIP_INV_STATE_CONFIRMED:
                        confirmed += 1
                        ended_by_bye += 1
                    else:
                        acc.failures += 1
                        if acc.first_failure is None:
                            acc.first_failure = (f"call ended in state {call.prev_state}: "
                                                 f"{call.last_code} {call.last_reason}")
                    if ended_by_bye == args.sample_at:
                        samples[str(args.sample_at)] = sample(ended_by_bye)
                    if ended_by_bye == args.count:
                        samples["end_raw"] = sample(ended_by_bye)
                else:
                    keep.append(call)
            acc.calls = keep
    samples["end"] = sample(ended_by_bye)
    samples["end_trimmed"] = sample(ended_by_bye, trim=True)
    done = {"incoming": acc.incoming, "confirmed": confirmed,
            "ended_by_bye": ended_by_bye, "failures": acc.failures,
            "samples": samples, "media": args.media, "pattern": PATTERN,
            "cpu_s": round(cpu_s() - cpu_start, 3), "pjsip": ep.libVersion().full}
    if acc.first_failure:
        done["first_failure"] = acc.first_failure
    emit("DONE " + json.dumps(done))
    # Leave without pjsua2's teardown: deleting the Call wrappers around
    # libDestroy() trips "pjsua_call_set_user_data: Assertion call_id>=0"
    # in this wheel, and the results are out.
    os._exit(0)


def call_failure(call: BenchCall, n: int) -> str | None:
    """None when call number ``n`` ended properly (our hangup answered 2xx), else why not."""
    if call.hung_up and 200 <= call.last_code < 300:
        return None
    return f"call {n}: ended in state {call.prev_state}: {call.last_code} {call.last_reason}"


def wait_state(cond: threading.Condition, call: BenchCall, deadline: float, *states: int) -> None:
    """Wait on ``cond`` (onCallState notifies it) until the call is in one of ``states`` or
    the deadline passed."""
    with cond:
        while call.state not in states and time.monotonic() < deadline:
            cond.wait(0.05)


def run_caller_thread(args: argparse.Namespace) -> None:
    """--threads 1: pjsua's worker thread polls; the main thread places each call, hangs up
    on CONFIRMED and places the next on DISCONNECTED, waiting on a Condition in between (the
    application-thread pattern of call_rate.py --send-from thread).  No pauses."""
    ep = start_endpoint(args)
    acc = pj.Account()
    acc.create(make_account_config(args, "caller"))
    uri = f"sip:callee@{args.ip}:{args.peer_port}"
    samples = {"start": sample(0)}
    cond = threading.Condition()
    count = args.count
    ended = 0
    failed: list[str] = []          # why each failed call failed
    deadline = time.monotonic() + args.timeout
    cpu_first = cpu_s()
    t_first = time.perf_counter()
    t_last = t_first
    while ended < count and time.monotonic() < deadline:
        call = BenchCall(acc)
        call.cond = cond
        try:
            # (makeCall/hangup outside the Condition: the worker thread may hold pjsua's
            # locks while it waits for the Condition in onCallState)
            call.makeCall(uri, call_setting(pj.CallOpParam(True), args))
            wait_state(cond, call, deadline, pj.PJSIP_INV_STATE_CONFIRMED,
                       pj.PJSIP_INV_STATE_DISCONNECTED)
            if call.state == pj.PJSIP_INV_STATE_CONFIRMED:
                call.hung_up = True
                call.hangup(pj.CallOpParam())
                wait_state(cond, call, deadline, pj.PJSIP_INV_STATE_DISCONNECTED)
        except pj.Error as exc:
            failed.append(f"call {ended + 1}: {exc.info()}")
        if call.state != pj.PJSIP_INV_STATE_DISCONNECTED:
            break                               # timed out
        ended += 1
        t_last = time.perf_counter()
        why = call_failure(call, ended)
        if why is not None:
            failed.append(why)
        emit(f"P {ended} {t_last - t_first:.6f} {len(failed)}")
        del call
    cpu = cpu_s() - cpu_first
    samples["end"] = sample(ended)
    missing = count - ended
    completed = ended - len(failed)
    result = {"impl": "pjsua2", "count": count, "completed": completed,
              "seconds": round(t_last - t_first, 6),
              "rate": round(completed / (t_last - t_first), 1) if t_last > t_first else 0.0,
              "failures": len(failed) + missing, "samples": samples, "cpu_s": round(cpu, 3),
              "pjsip": ep.libVersion().full, "wheel": pj.__version__, "media": args.media,
              "pattern": THREAD_PATTERN, "burst": 0, "paused_seconds": 0.0}
    if failed:
        result["first_failure"] = failed[0]
    if missing:
        result["timed_out"] = missing
    emit(json.dumps(result))
    os._exit(0)          # (pjsua2's teardown with a worker thread is not what is measured)


def run_caller(args: argparse.Namespace) -> None:
    if getattr(args, "threads", 0):
        run_caller_thread(args)
        return
    ep = start_endpoint(args)
    acc = pj.Account()
    acc.create(make_account_config(args, "caller"))
    uri = f"sip:callee@{args.ip}:{args.peer_port}"
    samples = {"start": sample(0)}
    count = args.count
    started = ended = completed = failures = 0
    first_failure = None
    deadline = time.monotonic() + args.timeout
    t_first = time.perf_counter()
    t_last = t_first
    paused = 0.0                 # seconds spent in --burst pauses

    def place() -> BenchCall | None:
        nonlocal started, ended, failures, first_failure
        started += 1
        call = BenchCall(acc)
        try:
            call.makeCall(uri, call_setting(pj.CallOpParam(True), args))
            return call
        except pj.Error as exc:
            failures += 1
            ended += 1
            if first_failure is None:
                first_failure = f"call {started}: makeCall: {exc.info()}"
            return None

    call = place()
    while ended < count and time.monotonic() < deadline:
        if call is None:
            # makeCall failed: count it and go on (with a short pause so a
            # persistent error does not spin).
            emit(f"P {ended} {time.perf_counter() - t_first - paused:.6f} {failures}")
            time.sleep(0.01)
            if ended < count:
                call = place()
            continue
        ep.libHandleEvents(10)
        if call.state == pj.PJSIP_INV_STATE_CONFIRMED and not call.hung_up:
            if "in_call" not in samples:
                t_sample = time.perf_counter()
                samples["in_call"] = in_call_sample(ep, ended, call)
                paused += time.perf_counter() - t_sample      # not timed
            call.hung_up = True
            try:
                call.hangup(pj.CallOpParam())
            except pj.Error as exc:
                failures += 1
                if first_failure is None:
                    first_failure = f"call {started}: hangup: {exc.info()}"
        elif call.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            ended += 1
            t_last = time.perf_counter()
            why = call_failure(call, started)
            completed += why is None
            failures += why is not None
            first_failure = first_failure or why
            emit(f"P {ended} {t_last - t_first - paused:.6f} {failures}")
            if ended == args.sample_at:
                samples[str(args.sample_at)] = sample(ended)
            del call
            if args.settle and ended == args.sample_at and ended < count:
                t_pause = time.perf_counter()
                pause_end = time.monotonic() + args.settle
                while time.monotonic() < pause_end:
                    ep.libHandleEvents(50)
                samples[f"{args.sample_at}_settled"] = sample(ended)
                samples[f"{args.sample_at}_trimmed"] = sample(ended, trim=True)
                paused += time.perf_counter() - t_pause
                deadline += args.settle
            if args.burst and ended % args.burst == 0 and ended < count:
                # Let pjlib's ioqueue recycle the closed RTP/RTCP socket keys
                # (PJ_IOQUEUE_KEY_FREE_DELAY); this time is not counted.
                t_pause = time.perf_counter()
                pause_end = time.monotonic() + args.burst_pause
                while time.monotonic() < pause_end:
                    ep.libHandleEvents(20)
                paused += time.perf_counter() - t_pause
                deadline += args.burst_pause
            call = place() if ended < count else None

    seconds = t_last - t_first - paused
    samples["end"] = sample(ended)
    if args.settle:
        end_wait = time.monotonic() + args.settle
        while time.monotonic() < end_wait:
            ep.libHandleEvents(50)
        samples["end_settled"] = sample(ended)
        samples["end_trimmed"] = sample(ended, trim=True)
    missing = count - ended
    result = {
        "impl": "pjsua2",
        "count": count,
        "completed": completed,
        "seconds": round(seconds, 6),
        "rate": round(completed / seconds, 1) if seconds > 0 else 0.0,
        "failures": failures + missing,
        "samples": samples,
        "pjsip": ep.libVersion().full,
        "wheel": pj.__version__,
        "media": args.media,
        "pattern": PATTERN,
        "burst": args.burst,
        "paused_seconds": round(paused, 3),
    }
    if first_failure:
        result["first_failure"] = first_failure
    if missing:
        result["timed_out"] = missing
    emit(json.dumps(result))
    if missing:
        os._exit(0)      # a call still up: pjsua2's teardown would assert
    acc.shutdown()
    ep.libDestroy()


# --------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", choices=("callee", "caller"), required=True)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True, help="local UDP port to bind")
    ap.add_argument("--peer-port", type=int, default=0,
                    help="callee's UDP port (caller only)")
    ap.add_argument("--count", type=int, default=1000,
                    help="caller: sequential calls to place")
    ap.add_argument("--sample-at", type=int, default=1000,
                    help="take the middle resource sample after this many calls")
    ap.add_argument("--settle", type=float, default=0.0,
                    help="caller: poll this many seconds (untimed) after "
                         "--sample-at calls and after the last call, then take "
                         "the *_settled samples (0 = no settled samples)")
    ap.add_argument("--burst", type=int, default=0,
                    help="caller: after every BURST calls pause (polling) for "
                         "--burst-pause seconds, not counted in the time "
                         "(0 = no pauses)")
    ap.add_argument("--burst-pause", type=float, default=0.7,
                    help="caller: length of the --burst pauses in seconds")
    ap.add_argument("--rtp-port", type=int, default=0,
                    help="first RTP port of the account's media transport (0 = any)")
    ap.add_argument("--max-calls", type=int, default=32,
                    help="pjsua max_calls (the wheel's PJSUA_MAX_CALLS is 32)")
    ap.add_argument("--media-threads", type=int, default=1,
                    help="pjsua media worker threads (medConfig.threadCnt)")
    ap.add_argument("--snd-auto-close", type=int, default=-1,
                    help="medConfig.sndAutoCloseTime (-1 = never close, needed "
                         "beyond 253 calls; pjsua's default is 1)")
    ap.add_argument("--media", choices=("none", "rtp"), default="none",
                    help="none (default): loop media transport and the audio stream "
                         "inactive, no socket/stream/bridge port per call; rtp: pjsua2's "
                         "defaults (RTP+RTCP sockets, stream, bridge port)")
    ap.add_argument("--trace", metavar="FILE",
                    help="write every SIP message sent/received to FILE (wire check)")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="caller: give up after this many seconds")
    ap.add_argument("--threads", type=int, default=0, choices=(0, 1),
                    help="caller: pjsua's threadCnt; 1 = its worker thread polls and the "
                         "main thread places and waits (call_rate.py --send-from thread); "
                         "no --burst/--settle then")
    args = ap.parse_args(argv)
    if args.role == "caller" and not args.peer_port:
        ap.error("--peer-port is required for --role caller")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role == "callee":
        run_callee(args)
    else:
        run_caller(args)


if __name__ == "__main__":
    main()
