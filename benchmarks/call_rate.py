"""Sequential call rate and call endurance: sipcore vs PyPI pjsua2-python.

Acceptance text (issue #4, "Performance and endurance"): "sequential
calls (INVITE with SDP offer / 200 with answer / ACK / BYE) between two
sipcore processes, against PyPI pjsua2-python doing the same in the same
run.  Target: >= 1.0x pjsua2's calls per second.  Endurance: 10,000
sequential calls without a failure, RSS growth under 5% after the first
1,000, no leaked sockets or threads (pjsua2's wheel aborts after 32 calls
with RTP sockets: sipcore must not)."  Issue #10: the verdicts compare
equal per-call work, say which usage pattern each figure measures, and
judge memory on the raw figures too.

Usage::

    .venv/bin/python benchmarks/call_rate.py [--calls 10000] [--rounds 3]
        [--rate-calls 1000] [--burst 25] [--settle 35] [--pjsua2-media]
        [--json FILE]
    .venv/bin/python benchmarks/call_rate.py --send-from thread [--rounds 7]

``--send-from thread`` (issue #13) is the application-thread pattern of a pytest
or notebook user: each side's main thread places every call and waits for its
notification (sipcore: ``_sipcore_call_peer.py --drive thread``, the
SIPInvitationChangedState receiver only queues; pjsua2: ``threadCnt = 1``,
its main thread waits on a Condition that ``onCallState`` notifies).  Both
callees answer from their callbacks as in the default run.  Continuous runs
only; rate and CPU per call (user + system of caller and callee) against
>= 1.2x and <= 1.0x pjsua2.

Equal work: both without media
------------------------------
sipcore's Invitation carries SDP as data and opens no media; pjsua2 by
default opens an RTP and an RTCP socket, a media stream and a
conference-bridge port per call and side.  The default comparison is
therefore "both without media":

* pjsua2 (``_pjsua2_call_peer.py --media none``): the account's loop media
  transport (no socket) and the audio stream inactive on the caller's
  ``makeCall`` and the callee's ``answer`` (``CallSetting`` flag
  ``PJSUA_CALL_SET_MEDIA_DIR``, ``mediaDir = [PJMEDIA_DIR_NONE]``): no
  stream, no bridge port.  pjsua2 cannot go further: ``audioCount = 0``
  aborts the wheel on makeCall (assertion in
  ``pjmedia_endpt_create_base_sdp``) and is answered 488 by pjsua on
  answer.  Left per call: one loop-transport object per side (memory, no
  socket) and pjsua's SDP generation from its codec list.
* sipcore (``_sipcore_call_peer.py``): offer and answer copy pjsua2's SDP
  line for line (``m=audio 4000 RTP/AVP 0 120``, rtcp, PCMU and
  telephone-event rtpmaps, fmtp, ssrc, ``a=inactive``) except its two
  ``b=`` lines, which the SIP core API's SDP classes cannot express.

Both sides' build options are printed first (``_buildinfo.py``: pjproject
2.12.1 with PJ_DEBUG 0 and epoll for sipcore, the wheel's 2.15.1 with
PJ_DEBUG 1 and select for pjsua2; assert() on in both).

Before the timed runs a **wire check** runs one call per implementation
with both peers tracing every SIP message, and prints the SDP of the
INVITE and of the 200, the size of every message, and each process's UDP
sockets before and during the call (and pjsua's active conference ports).
Every timed run also takes that during-the-call sample on its first call
(time excluded); a run in which a process held more UDP sockets during
the call than before it (or pjsua2 had a bridge port for a call) is
flagged as unequal work and no rate verdict is taken.

With ``--pjsua2-media`` pjsua2 is also run with its default media
(``--media rtp``: RTP/RTCP sockets, stream, bridge port, sendrecv), as
labelled extra rows without a verdict (unequal work).

What is measured
----------------
Two processes per run on 127.0.0.1 over UDP: a callee that answers every
INVITE 200 with an SDP answer, and a caller that places calls one after
another: INVITE with an SDP offer -> 100 -> 200 with the answer -> ACK ->
BYE -> 200, next call.  Rate = completed calls per second of wall time
from the first INVITE to the last DISCONNECTED.  Peers:
``_sipcore_call_peer.py`` (this interpreter) and ``_pjsua2_call_peer.py``
(the private venv ``benchmarks/.venv-pjsua2``, see ``_venv.py``); both
print the same JSON.  Usage patterns (printed with the figures): the
sipcore caller acts from its ``SIPInvitationChangedState`` receiver on
sipcore's poll thread; the pjsua2 caller polls ``libHandleEvents()`` on
its main thread (``threadCnt = 0``) and acts right after the callback
returned.  Either way one thread does all SIP work of a process.

1. Rate comparison, ``--rounds`` rounds alternating the order of the
   implementations (run-to-run noise on a shared VM is up to 2x; the
   table shows medians and min-max).  Each round runs, per
   implementation, ``--rate-calls`` calls twice:

   * **bursts**: after every ``--burst`` calls the caller pauses
     ``--burst-pause`` s, and the pauses are not timed (the schedule
     pjsua2 needs *with* RTP sockets: its select ioqueue holds 64
     handles and reuses a closed socket's slot only after 500 ms, so a
     faster caller aborts with ``pj_ioqueue_register_sock2: Assertion
     !pj_list_empty(&ioqueue->free_list)`` after ~32 calls).
   * **continuous** (no pauses).  Without media sockets pjsua2 gets
     through this too; should it abort, its result is reported as is
     (completed calls, rate over those), sipcore's rate over the same
     first K calls is shown next to it, and no continuous verdict is
     taken.

   The target (>= 1.0x) is judged on both ratios, median(sipcore) /
   median(pjsua2), when the work was equal.

2. Endurance, sipcore only: one run of ``--calls`` calls without bursts.
   Resource samples (VmRSS, VmHWM, open fds, UDP sockets, threads) are
   taken by both processes at start, after the first 1,000 calls (or half
   of ``--calls`` when that is <= 1,000) and at the end.  PJSIP keeps
   every ended call's dialog until its BYE transaction is over (Timer K,
   5 s on the caller; Timer J, 32 s on the callee), so at several hundred
   calls per second the **raw** samples include thousands of finished
   calls still held by the protocol timers (about 30 KiB each).  The
   caller then pauses ``--settle`` s (untimed) after the first sample
   point and after the last call and both processes take **settled**
   samples (sipcore's Engine has by then given freed memory back itself
   after 2 idle seconds), and then **settled+trim** samples after
   ``malloc_trim(0)`` in the peer process.  Three verdict lines, one per
   kind, each: RSS growth < 5% between the first sample point and the end
   (caller and callee); plus the raw peak (VmHWM) printed next to them,
   and no more fds, UDP sockets or threads at the end than at start.  The
   callee's thread count drops by one at the end: its stdin reader thread
   has ended.

Exit status: 0 when sipcore had no failures and no leaks (whether the
rate and raw/settled memory targets are met is reported, not asserted);
1 if any sipcore run had failed calls or the endurance run shows RSS
growth >= 5% after settling and malloc_trim (the leak check) or leaked
fds/sockets/threads; 2 if a run could not be carried out.  pjsua2's
abort and failures are its results and do not change the exit status.
"""

from __future__ import annotations

import argparse
import json
import statistics
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _buildinfo import build_options, describe  # noqa: E402
from _peerio import print_verdict  # noqa: E402
from _pjsua2_run import READY_TIMEOUT, _read_tagged, free_udp_port  # noqa: E402
from _venv import pjsua2_python  # noqa: E402

HERE = Path(__file__).resolve().parent
PEERS = {"sipcore": HERE / "_sipcore_call_peer.py",
         "pjsua2": HERE / "_pjsua2_call_peer.py",
         "pjsua2-rtp": HERE / "_pjsua2_call_peer.py"}
IMPLS = ("sipcore", "pjsua2")
#: what each implementation key runs: its peers' media and the usage pattern of the figures
WORK = {"sipcore": "no media: SDP as data (offer/answer copy pjsua2's, a=inactive)",
        "pjsua2": "no media: loop media transport (no socket), stream inactive (no stream, "
                  "no bridge port)",
        "pjsua2-rtp": "pjsua2's default media: RTP+RTCP sockets, stream, bridge port per call "
                      "and side"}
PATTERN = {"sipcore": "the SIPInvitationChangedState receiver on sipcore's poll thread "
                      "sends the BYE and the next INVITE",
           "pjsua2": "threadCnt=0: the main thread polls libHandleEvents() and calls "
                     "hangup()/makeCall() right after the state callback returned",
           "pjsua2-rtp": "as pjsua2"}
#: --media: both implementations open media per call (set by main())
MEDIA_MODE = False
WORK_MEDIA = {"sipcore": "media: an RTPTransport and an AudioTransport (RTP+RTCP sockets, PCMU "
                         "stream, not on the bridge) per call and side",
              "pjsua2": "pjsua2's default media: RTP+RTCP sockets, stream, bridge port (not "
                        "connected) per call and side"}
RATE_TARGET = 1.0
RSS_GROWTH_LIMIT = 0.05
#: --send-from thread (issue #13): >= 1.2x pjsua2 driven the same way, CPU per call <= 1.0x
THREAD_RATE_TARGET = 1.2
THREAD_CPU_TARGET = 1.0
THREAD_PATTERN = {"sipcore": "the application's main thread calls set_offered_local_sdp(), "
                             "send_invite() and disconnect() (handed to the poll thread "
                             "without waiting) "
                             "and waits for the "
                             "SIPInvitationChangedState receiver's queue entry",
                  "pjsua2": "threadCnt=1 (pjsua's worker thread polls); the main thread calls "
                            "makeCall()/hangup() and waits on a Condition onCallState notifies"}


def thread_comparison(args: argparse.Namespace, rate_calls: int) -> int:
    """--send-from thread: continuous sequential calls placed by each side's application
    thread, ``--rounds`` rounds alternating the order; rate and CPU per call (caller + callee,
    user + system) against issue #13's targets.  No bursts, no endurance (the default run
    has them)."""
    print(f"Sequential calls placed from the application thread (issue #13), both without "
          f"media; {rate_calls} calls per run, {args.rounds} rounds, no pauses")
    for impl in IMPLS:
        print(f"  {impl:10s} work:    {WORK[impl]}")
        print(f"  {'':10s} pattern: {THREAD_PATTERN[impl]}")
    print("  callees (both): answer from the INCOMING receiver / onIncomingCall, as by default",
          flush=True)
    runs: dict[str, list[dict]] = {impl: [] for impl in IMPLS}
    bad: list[str] = []
    try:
        for rnd in range(args.rounds):
            for impl in (IMPLS if rnd % 2 == 0 else IMPLS[::-1]):
                res = run_calls(impl, rate_calls, timeout=args.timeout, send_from="thread")
                res["cpu_ms_per_call"] = ((res["cpu_s"] + res["callee"]["cpu_s"]) * 1000
                                          / max(1, res["completed"]))
                runs[impl].append(res)
                if impl == "sipcore":
                    bad += sipcore_problems(res, f"round {rnd + 1} sipcore")
                print(round_line(rnd, impl, "", res) + f"  CPU {res['cpu_ms_per_call']:.3f} "
                      f"ms/call (caller {res['cpu_s']:.2f} s, callee "
                      f"{res['callee']['cpu_s']:.2f} s)", flush=True)
    except Exception as exc:  # noqa: BLE001
        print(f"ERROR: a run could not be carried out: {exc}", file=sys.stderr)
        return 2
    s_r = [r["rate"] for r in runs["sipcore"]]
    p_r = [r["rate"] for r in runs["pjsua2"]]
    s_c = [r["cpu_ms_per_call"] for r in runs["sipcore"]]
    p_c = [r["cpu_ms_per_call"] for r in runs["pjsua2"]]
    ratio = statistics.median(s_r) / statistics.median(p_r)
    cpu_ratio = statistics.median(s_c) / statistics.median(p_c)
    print()
    print(f"{'':24s}{'sipcore':>26s}{'pjsua2':>26s}{'ratio':>8s}{'target':>9s}")
    print(f"{'calls/s':24s}{fmt_range(s_r):>26s}{fmt_range(p_r):>26s}{ratio:>7.2f}x"
          f"{f'>={THREAD_RATE_TARGET:.1f}x':>9s}")
    fmt3 = (lambda v: f"{statistics.median(v):.3f} ({min(v):.3f}-{max(v):.3f})")
    print(f"{'CPU ms/call (both)':24s}{fmt3(s_c):>26s}{fmt3(p_c):>26s}{cpu_ratio:>7.2f}x"
          f"{f'<={THREAD_CPU_TARGET:.1f}x':>9s}")
    print("(median (min-max) over the rounds; CPU: user+system of caller and callee per "
          "completed call)")
    verdicts = [(f"rate, application thread: {ratio:.2f}x pjsua2 (target >= "
                 f"{THREAD_RATE_TARGET:.1f}x)", ratio >= THREAD_RATE_TARGET),
                (f"CPU per call, application thread: {cpu_ratio:.2f}x pjsua2's (target <= "
                 f"{THREAD_CPU_TARGET:.1f}x)", cpu_ratio <= THREAD_CPU_TARGET)]
    print_verdict(verdicts, bad, "sipcore failures")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {k: [{**r, "times": r["times"][:100]} for r in rs] for k, rs in runs.items()},
            indent=1))
    return 1 if bad else 0


def run_calls(impl: str, count: int, *, burst: int = 0, burst_pause: float = 0.7,
              settle: float = 0.0, sample_at: int = 1000, timeout: float = 900.0,
              ip: str = "127.0.0.1", trace: str | None = None,
              send_from: str = "receiver") -> dict:
    """One callee + one caller of ``impl`` ("sipcore", "pjsua2" = pjsua2 without media,
    "pjsua2-rtp" = pjsua2 with its default media); return the caller's result dict.

    Added keys: ``times`` (seconds since the first INVITE at the end of
    each call, from the progress lines), ``callee`` (its READY and DONE
    data) and, when the caller died without a result line, ``aborted``
    (exit code and last stderr line) with the counts taken from the last
    progress line.  ``trace``: a path prefix; the caller and the callee write
    every SIP message to ``<trace>.caller`` and ``<trace>.callee``.
    """
    python = sys.executable if impl == "sipcore" else pjsua2_python()
    script = str(PEERS[impl])
    base = [python, script, "--ip", ip, "--sample-at", str(sample_at)]
    if impl != "sipcore" or MEDIA_MODE:
        base += ["--media", "rtp" if impl == "pjsua2-rtp" or MEDIA_MODE else "none"]
    trace_opt = (lambda role: ["--trace", f"{trace}.{role}"]) if trace else (lambda role: [])
    callee_port = 0 if impl == "sipcore" else free_udp_port(ip)
    caller_port = 0 if impl == "sipcore" else free_udp_port(ip)
    while impl != "sipcore" and caller_port == callee_port:
        caller_port = free_udp_port(ip)

    callee_err = tempfile.TemporaryFile(mode="w+")
    callee = subprocess.Popen(base + ["--role", "callee", "--port", str(callee_port),
                                      "--count", str(count)]
                              + trace_opt("callee"),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=callee_err, text=True)
    try:
        ready = _read_tagged(callee, "READY", READY_TIMEOUT)
        cmd = base + ["--role", "caller", "--port", str(caller_port),
                      "--peer-port", str(ready["port"]), "--count", str(count),
                      "--burst", str(burst), "--burst-pause", str(burst_pause),
                      "--settle", str(settle), "--timeout", str(timeout)] + trace_opt("caller")
        if send_from == "thread":       # the application thread places the calls (issue #13)
            cmd += ["--drive", "thread"] if impl == "sipcore" else ["--threads", "1"]
        budget = timeout + 2 * settle + (count // burst + 1) * burst_pause * 1.5 \
            if burst else timeout + 2 * settle
        caller = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, timeout=budget + 60)
        times: list[float] = []
        last_failures = 0
        result = None
        for line in caller.stdout.splitlines():
            if line.startswith("P "):
                _, n, t, f = line.split()
                times.append(float(t))
                last_failures = int(f)
            elif line.startswith("{"):
                result = json.loads(line)
        if result is None:
            if not times:
                raise RuntimeError(
                    f"{impl} caller gave no result (exit code {caller.returncode}): "
                    f"{caller.stderr.strip()[-400:]!r}")
            err = [ln for ln in caller.stderr.splitlines() if ln.strip()]
            done = len(times)
            result = {"impl": impl.split("-")[0], "count": count,
                      "completed": done - last_failures,
                      "seconds": times[-1],
                      "rate": round((done - last_failures) / times[-1], 1),
                      "failures": last_failures, "samples": {},
                      "aborted": f"exit code {caller.returncode} after {done} calls: "
                                 f"{err[-1][-200:] if err else '?'}"}
        result["times"] = times

        assert callee.stdin is not None
        callee.stdin.close()
        done_data = _read_tagged(callee, "DONE", 20.0)
        callee.wait(timeout=20)
    except Exception as exc:
        if callee.poll() is None:
            callee.kill()
        callee.wait()
        callee_err.seek(0)
        tail = callee_err.read().strip()[-600:]
        raise RuntimeError(f"{impl}: {exc}; callee exit code {callee.returncode}, "
                           f"stderr: {tail!r}") from exc
    finally:
        if callee.poll() is None:
            callee.kill()
            callee.wait()
    result["callee"] = {"ready": ready, **done_data}
    return result


def extra_work(res: dict) -> list[str]:
    """What a run did per call beyond SIP and SDP, from its in-call samples: UDP sockets
    opened (caller/callee, during the first call vs before it) and pjsua conference ports
    beyond the master port.  Empty: no media work."""
    out = []
    for who, smp in (("caller", res.get("samples", {})),
                     ("callee", res.get("callee", {}).get("samples", {}))):
        start, during = smp.get("start"), smp.get("in_call")
        if not start or not during:
            out.append(f"{who}: no in-call sample")
            continue
        if during["udp"] > start["udp"]:
            out.append(f"{who}: {during['udp'] - start['udp']} more UDP sockets during the call")
        if during.get("conf_ports", 1) > 1:
            out.append(f"{who}: {during['conf_ports'] - 1} conference port(s) for the call")
        if during.get("stream"):
            out.append(f"{who}: a media stream")
    return out


# ---- wire check --------------------------------------------------------------

def parse_trace(path: str) -> list[dict]:
    """Messages of a peer's ``--trace`` file: direction, size, first line, SDP body."""
    msgs = []
    try:
        text = Path(path).read_text()
    except OSError:
        return msgs
    for block in text.split("--end msg--"):
        lines = block.strip().splitlines()
        head = next((i for i, ln in enumerate(lines)
                     if re.search(r"\b(TX|RX) \d+ bytes", ln)), None)
        if head is None or head + 1 >= len(lines):
            continue
        m = re.search(r"\b(TX|RX) (\d+) bytes", lines[head])
        body = lines[head + 1:]
        sdp = []
        if "v=0" in body:
            sdp = body[body.index("v=0"):]
        msgs.append({"dir": m.group(1), "bytes": int(m.group(2)), "first": body[0].strip(),
                     "sdp": [ln.strip() for ln in sdp if ln.strip()]})
    return msgs


def wire_check(impls: list[str], ip: str = "127.0.0.1") -> tuple[bool, list[str]]:
    """One traced call per implementation: print the SDP of the INVITE and the 200, the
    message sizes, and the UDP sockets / conference ports before and during the call.
    Returns (no media work in the compared implementations, problems)."""
    equal, problems = True, []
    print("Wire check: one call per implementation, every SIP message traced (untimed)")
    with tempfile.TemporaryDirectory() as tmp:
        for impl in impls:
            res = run_calls(impl, 1, timeout=30.0, ip=ip, trace=f"{tmp}/{impl}")
            msgs = parse_trace(f"{tmp}/{impl}.caller")
            print(f"\n  {impl}: {WORK[impl]}")
            if not msgs:
                problems.append(f"wire check {impl}: no trace")
                equal = False
                continue
            flow = "  ".join(f"{'>' if m['dir'] == 'TX' else '<'}"
                             f"{m['first'].split()[0] if not m['first'].startswith('SIP/') else m['first'].split()[1]}"
                             f" {m['bytes']}B" for m in msgs)
            print(f"    caller's messages (> sent, < received; bytes on the wire): {flow}")
            for label, pick in (("INVITE (offer)", lambda m: m["dir"] == "TX"
                                 and m["first"].startswith("INVITE")),
                                ("200 (answer)", lambda m: m["dir"] == "RX"
                                 and m["first"].startswith("SIP/2.0 200") and m["sdp"])):
                m = next((m for m in msgs if pick(m)), None)
                sdp = m["sdp"] if m else []
                print(f"    {label} SDP, {sum(len(ln) + 2 for ln in sdp)} bytes: "
                      + " | ".join(sdp))
            for who, smp in (("caller", res["samples"]), ("callee", res["callee"]["samples"])):
                a, b = smp.get("start", {}), smp.get("in_call", {})
                conf = (f", conference ports {b['conf_ports']}, media stream "
                        f"{'yes' if b.get('stream') else 'none'}" if "conf_ports" in b else "")
                print(f"    {who}: UDP sockets before the call {a.get('udp')}, during it "
                      f"{b.get('udp')}{conf}")
            extra = extra_work(res)
            if MEDIA_MODE and impl in IMPLS:
                print(f"    media work per call: {'; '.join(extra) or 'none'}")
                if not media_work_ok(extra):
                    equal = False
            elif extra:
                print(f"    media work per call: {'; '.join(extra)}")
                if impl in IMPLS:
                    equal = False
            else:
                print("    media work per call: none (no UDP socket, no stream, no bridge port)")
            if res.get("failures") or res.get("aborted"):
                problems.append(f"wire check {impl}: the call failed "
                                f"({res.get('first_failure') or res.get('aborted')})")
    return equal, problems


def media_work_ok(extra: list[str]) -> bool:
    """--media: both sides opened 2 UDP sockets (RTP, RTCP) and a stream for the call."""
    return all(any(e.startswith(f"{who}: 2 more UDP sockets") for e in extra)
               and f"{who}: a media stream" in extra for who in ("caller", "callee"))


def rate_first(result: dict, k: int) -> float | None:
    """Calls per second over the first ``k`` calls (from the progress lines)."""
    times = result["times"]
    if k < 1 or len(times) < k or times[k - 1] <= 0:
        return None
    return k / times[k - 1]


def round_line(rnd: int, impl: str, mode: str, res: dict) -> str:
    """The start of a run's line: round, implementation, mode, rate, calls, failures."""
    return (f"  round {rnd + 1}  {impl:10s} {mode}{res['rate']:>7,.0f} calls/s"
            f"  {res['completed']:>5d}/{res['count']} completed  failures {res['failures']}")


def fmt_range(values: list[float]) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.0f}"
    return f"{med:,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def sipcore_problems(res: dict, what: str) -> list[str]:
    out = []
    if res["failures"] or res["completed"] != res["count"]:
        out.append(f"{what}: {res['completed']} of {res['count']} calls completed, "
                   f"{res['failures']} failed"
                   + (f" (first: {res['first_failure']})" if res.get("first_failure") else ""))
    cal = res["callee"]
    if cal.get("failures"):
        out.append(f"{what}: callee counted {cal['failures']} failures"
                   + (f" (first: {cal['first_failure']})" if cal.get("first_failure") else ""))
    if res.get("aborted"):
        out.append(f"{what}: caller aborted: {res['aborted']}")
    return out


# ---------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=10000,
                    help="calls in the sipcore endurance run (default 10000)")
    ap.add_argument("--rate-calls", type=int, default=None,
                    help="calls per rate-comparison run (default: --calls, at most 1000)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rate-comparison rounds (default 3)")
    ap.add_argument("--burst", type=int, default=25,
                    help="calls between the untimed pauses of the bursts runs (default 25)")
    ap.add_argument("--burst-pause", type=float, default=0.7,
                    help="length of those pauses in seconds (default 0.7; pjsua2 with RTP "
                         "needs > 0.5 to recycle its ioqueue slots)")
    ap.add_argument("--settle", type=float, default=35.0,
                    help="endurance: untimed pause before the settled samples "
                         "(default 35 s: > Timer J, 32 s)")
    ap.add_argument("--pjsua2-media", action="store_true",
                    help="also run pjsua2 with its default media (RTP sockets, stream, bridge "
                         "port per call): extra rows, unequal work, no verdict")
    ap.add_argument("--media", action="store_true",
                    help="both with media per call and side: sipcore an RTPTransport and an "
                         "AudioTransport, pjsua2 its default media (the verdict compares "
                         "equal work)")
    ap.add_argument("--no-endurance", action="store_true",
                    help="only the rate comparison")
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="per-run caller timeout in seconds")
    ap.add_argument("--json", metavar="FILE", help="also write every run's result to FILE")
    ap.add_argument("--send-from", choices=("receiver", "thread"), default="receiver",
                    help="thread: the application-thread comparison of issue #13 (each "
                         "side's main thread places the calls and waits; continuous runs "
                         "only, rate and CPU per call; default --rounds 7)")
    args = ap.parse_args(argv)
    if args.send_from == "thread":
        if "--rounds" not in (argv if argv is not None else sys.argv):
            args.rounds = 7
        build_options(pjsua2_python())           # (creates the pjsua2 venv before timing)
        return thread_comparison(args, args.rate_calls or min(args.calls, 1000))
    if args.media:
        global MEDIA_MODE
        MEDIA_MODE = True
        WORK.update(WORK_MEDIA)
        args.pjsua2_media = False          # pjsua2 runs with its media anyway
    rate_calls = args.rate_calls or min(args.calls, 1000)
    if args.calls < 2 or rate_calls < 1 or args.rounds < 1 or args.burst < 1:
        ap.error("--calls must be >= 2; --rate-calls, --rounds, --burst >= 1")

    build = build_options(pjsua2_python())   # (creates the pjsua2 venv before timing)

    impls = list(IMPLS) + (["pjsua2-rtp"] if args.pjsua2_media else [])
    runs: dict[str, list[dict]] = {}
    bad: list[str] = []
    print("Sequential calls (INVITE+SDP / 100 / 200+SDP / ACK / BYE / 200) over UDP on "
          "127.0.0.1, one call at a time")
    print("Build options (read at run time from the loaded libraries):")
    print("\n".join(describe(build)))
    print("Per-call work and usage pattern of each figure:")
    for impl in impls:
        print(f"  {impl:10s} work:    {WORK[impl]}")
        print(f"  {'':10s} pattern: {PATTERN[impl]}")
    print(flush=True)
    try:
        equal, problems = wire_check(impls)
    except Exception as exc:  # noqa: BLE001
        print(f"ERROR: the wire check could not be carried out: {exc}", file=sys.stderr)
        return 2
    bad += problems
    if MEDIA_MODE:
        print(f"\n  => {'equal per-call work: both open RTP+RTCP sockets and a stream per call and side' if equal else 'UNEQUAL per-call work (see above): no rate verdict'}"
              "; left unequal: pjsua2's bridge port per call (not connected), its b= lines",
              flush=True)
    else:
        print(f"\n  => {'equal per-call work: neither opens media per call' if equal else 'UNEQUAL per-call work (see above): no rate verdict'}"
              "; left unequal: pjsua2's two b= lines and its loop-transport object per call side",
              flush=True)

    print(f"\nRate runs: {rate_calls} calls per run, {args.rounds} round(s); bursts of "
          f"{args.burst} with untimed {args.burst_pause} s pauses, and continuous",
          flush=True)
    try:
        for rnd in range(args.rounds):
            order = IMPLS if rnd % 2 == 0 else IMPLS[::-1]
            order = list(order) + (["pjsua2-rtp"] if args.pjsua2_media else [])
            for mode in ("bursts", "continuous"):
                for impl in order:
                    res = run_calls(impl, rate_calls,
                                    burst=args.burst if mode == "bursts" else 0,
                                    burst_pause=args.burst_pause, timeout=args.timeout)
                    runs.setdefault(f"{impl}/{mode}", []).append(res)
                    if impl == "sipcore":
                        bad += sipcore_problems(res, f"round {rnd + 1} sipcore {mode}")
                    extra = extra_work(res)
                    if impl in IMPLS and not res.get("aborted") and (
                            not media_work_ok(extra) if MEDIA_MODE else extra):
                        equal = False
                    note = f"  ABORTED: {res['aborted']}" if res.get("aborted") else ""
                    note += f"  media work: {'; '.join(extra)}" if extra else ""
                    print(round_line(rnd, impl, f"{mode:10s} ", res)
                          + f"  {res['seconds']:.3f} s{note}", flush=True)
    except Exception as exc:  # noqa: BLE001
        print(f"ERROR: a rate run could not be carried out: {exc}", file=sys.stderr)
        return 2

    def rates(key: str) -> list[float]:
        return [r["rate"] for r in runs[key]]

    # ---- rate table --------------------------------------------------------
    print()
    p_name = "pjsua2 (with media)" if MEDIA_MODE else "pjsua2 (no media)"
    head = f"{'calls/s':34s}{'sipcore':>22s}{p_name:>30s}{'ratio':>8s}{'target':>9s}"
    print(head)
    print("-" * len(head))
    verdicts: list[tuple[str, bool]] = []
    s_b, p_b = rates("sipcore/bursts"), rates("pjsua2/bursts")
    ratio_b = statistics.median(s_b) / statistics.median(p_b)
    print(f"{f'bursts of {args.burst}, pauses untimed':34s}{fmt_range(s_b):>22s}"
          f"{fmt_range(p_b):>30s}{ratio_b:>7.2f}x{f'>={RATE_TARGET:.1f}x':>9s}")

    s_c = rates("sipcore/continuous")
    p_runs = runs["pjsua2/continuous"]
    p_done = [r["completed"] for r in p_runs]
    p_c = rates("pjsua2/continuous")
    aborted = [r for r in p_runs if r.get("aborted")]
    ratio_c = statistics.median(s_c) / statistics.median(p_c)
    p_label = fmt_range(p_c) + (f" [{len(aborted)}/{len(p_runs)} aborted]" if aborted else "")
    print(f"{'continuous (no pauses)':34s}{fmt_range(s_c):>22s}{p_label:>30s}"
          f"{ratio_c:>7.2f}x{'-' if aborted else f'>={RATE_TARGET:.1f}x':>9s}")
    if aborted:
        k = min(p_done)
        # pjsua2's rate over the calls it completed vs sipcore over as many.
        s_k = [v for v in (rate_first(r, k) for r in runs["sipcore/continuous"]) if v]
        p_k = [v for v in (rate_first(r, k) for r in p_runs) if v]
        if k >= 1 and s_k and p_k:
            print(f"{f'continuous, first {k} calls only':34s}{fmt_range(s_k):>22s}"
                  f"{fmt_range(p_k):>30s}"
                  f"{statistics.median(s_k) / statistics.median(p_k):>7.2f}x")
        print(f"{'pjsua2 continuous: calls done':34s}{'':>22s}"
              f"{', '.join(map(str, p_done)):>30s}")
        print(f"  pjsua2 continuous runs ended with: {aborted[0]['aborted']}")
    if args.pjsua2_media:
        print("extra, UNEQUAL work (pjsua2 with RTP sockets, stream and bridge port per call; "
              "sipcore without media): no verdict")
        for mode, label in (("bursts", f"bursts of {args.burst}"), ("continuous", "continuous")):
            m_runs = runs[f"pjsua2-rtp/{mode}"]
            m_ab = [r for r in m_runs if r.get("aborted")]
            s_m = rates(f"sipcore/{mode}")
            p_m = rates(f"pjsua2-rtp/{mode}")
            lab = fmt_range(p_m) + (f" [{len(m_ab)}/{len(m_runs)} aborted]" if m_ab else "")
            print(f"{'  ' + label + ', pjsua2 with RTP':34s}{fmt_range(s_m):>22s}{lab:>30s}"
                  f"{statistics.median(s_m) / statistics.median(p_m):>7.2f}x{'none':>9s}")
            if m_ab:
                print(f"    pjsua2 with RTP, {mode}: calls done "
                      f"{', '.join(str(r['completed']) for r in m_runs)}; ended with: "
                      f"{m_ab[0]['aborted']}")
    for impl in impls:
        fails = sum(r["failures"] for k_, rs in runs.items() if k_.split("/")[0] == impl
                    for r in rs if not r.get("aborted"))
        runs_n = sum(len(rs) for k_, rs in runs.items() if k_.split("/")[0] == impl)
        n_ab = sum(1 for k_, rs in runs.items() if k_.split("/")[0] == impl
                   for r in rs if r.get("aborted"))
        print(f"  {impl}: {fails} failed calls in {runs_n} runs"
              + (f" ({n_ab} aborted runs not counted)" if n_ab else ""))
    print("(median (min-max) over the rounds; ratio = sipcore/pjsua2; rate = completed "
          "calls / time from first INVITE to last DISCONNECTED; patterns: see the top)")
    work = ("equal work, both with media" if MEDIA_MODE else "equal work, both without media") \
        if equal else "UNEQUAL work"
    if equal:
        verdicts.append((f"rate, bursts of {args.burst} ({work}): {ratio_b:.2f}x pjsua2 "
                         f"(target >= {RATE_TARGET:.1f}x)", ratio_b >= RATE_TARGET))
        if aborted:
            verdicts.append((f"rate, continuous: no verdict, pjsua2 aborted in {len(aborted)} "
                             f"of {len(p_runs)} runs", False))
        else:
            verdicts.append((f"rate, continuous ({work}): {ratio_c:.2f}x pjsua2 "
                             f"(target >= {RATE_TARGET:.1f}x)", ratio_c >= RATE_TARGET))
    else:
        verdicts.append(("rate: no verdict, the per-call work was not equal (see the wire "
                         "check and the runs' media work)", False))

    # ---- endurance -----------------------------------------------------------
    endurance = None
    if not args.no_endurance:
        n = args.calls
        at = 1000 if n > 1000 else max(1, n // 2)
        print(f"\nEndurance, sipcore ({PATTERN['sipcore']}): {n} sequential calls, samples "
              f"at start, after {at} calls and at the end: raw (right then), settled (after "
              f"an untimed {args.settle:.0f} s pause) and settled+trim (then malloc_trim(0))",
              flush=True)
        try:
            endurance = run_calls("sipcore", n, settle=args.settle, sample_at=at,
                                  timeout=args.timeout)
        except Exception as exc:  # noqa: BLE001
            print(f"ERROR: the endurance run could not be carried out: {exc}", file=sys.stderr)
            return 2
        res = endurance
        bad += sipcore_problems(res, "endurance")
        print(f"  {res['completed']}/{n} calls completed, {res['failures']} failures, "
              f"{res['rate']:,.0f} calls/s over {res['seconds']:.1f} s; callee: "
              f"{res['callee']['ended_by_bye']} calls ended by BYE, "
              f"{res['callee']['failures']} failures")
        cs, ls = res["samples"], res["callee"]["samples"]
        # The callee's "end" is taken at stdin EOF, after the caller's own settle pause: it
        # is settled; its raw end sample ("end_raw") is taken on the last BYE.
        keys = {"caller": {"raw": (str(at), "end"), "settled": (f"{at}_settled", "end_settled"),
                           "settled+trim": (f"{at}_trimmed", "end_trimmed")},
                "callee": {"raw": (str(at), "end_raw"), "settled": (f"{at}_settled", "end"),
                           "settled+trim": (f"{at}_trimmed", "end_trimmed")}}
        hdr = (f"  {'':30s}{'calls':>7s}{'RSS KiB':>10s}{'peak KiB':>10s}{'fds':>5s}"
               f"{'udp':>5s}{'thr':>5s}")
        print(hdr)
        for who, smp, order in (
                ("caller", cs, ["start", str(at), f"{at}_settled", f"{at}_trimmed",
                                "end", "end_settled", "end_trimmed"]),
                ("callee", ls, ["start", str(at), f"{at}_settled", f"{at}_trimmed",
                                "end_raw", "end", "end_trimmed"])):
            for key in order:
                if key in smp:
                    s = smp[key]
                    label = key.replace("_settled", " settled").replace(
                        "_trimmed", " settled+trim")
                    if key in ("end", str(at)) and not (who == "callee" and key == "end"):
                        label += " raw"
                    if who == "callee" and key == "end":
                        label = "end settled"
                    if key == "end_raw":
                        label = "end raw"
                    print(f"  {who + ' ' + label:30s}{s['calls']:>7d}{s['rss_kb']:>10,d}"
                          f"{s.get('hwm_kb', -1):>10,d}{s['fds']:>5d}{s.get('udp', -1):>5d}"
                          f"{s['threads']:>5d}")
        print("  (peak = VmHWM, the process's highest RSS so far; raw = right after the "
              "call, with every call Timer K/J still holds)")

        def growth(smp: dict, a: str, b: str | None) -> float | None:
            if b is not None and a in smp and b in smp:
                return smp[b]["rss_kb"] / smp[a]["rss_kb"] - 1
            return None

        for who, smp in (("caller", cs), ("callee", ls)):
            peak = max((s.get("hwm_kb", 0) for s in smp.values()), default=0)
            g_raw = growth(smp, *keys[who]["raw"])
            raw_text = "" if g_raw is None else (
                f"{g_raw:+.1%}, {smp[keys[who]['raw'][0]]['rss_kb']:,} -> "
                f"{smp[keys[who]['raw'][1]]['rss_kb']:,} KiB; peak (VmHWM) {peak:,} KiB")
            for kind in ("raw", "settled", "settled+trim"):
                g = g_raw if kind == "raw" else growth(smp, *keys[who][kind])
                if g is None:
                    verdicts.append((f"{who} RSS growth after {at} calls, {kind}: not measured",
                                     False))
                    bad.append(f"endurance: {who} {kind} RSS samples missing")
                    continue
                text = raw_text if kind == "raw" else f"{g:+.1%}"
                verdicts.append((f"{who} RSS growth after the first {at} calls, {kind}: "
                                 f"{text} (target < {RSS_GROWTH_LIMIT:.0%})",
                                 g < RSS_GROWTH_LIMIT))
                if kind == "settled+trim" and g >= RSS_GROWTH_LIMIT:
                    bad.append(f"endurance: {who} RSS grew {g:+.1%} (settled, after malloc_trim)")
            end = smp["end_trimmed"] if "end_trimmed" in smp else smp["end"]
            start = smp["start"]
            if MEDIA_MODE and f"{at}_trimmed" in smp:
                # the media worker (its thread and ioqueue) and the stream threads are made at
                # the first RTPTransport, after the start sample: compare with the settled
                # sample after the first calls
                start = smp[f"{at}_trimmed"]
            ok = (end["fds"] <= start["fds"] and end["threads"] <= start["threads"]
                  and end.get("udp", 0) <= start.get("udp", 0))
            since = f"after {at} calls (settled)" if start is not smp["start"] else "start"
            verdicts.append((f"{who} fds {start['fds']} ({since}) -> {end['fds']}, UDP sockets "
                             f"{start.get('udp')} -> {end.get('udp')}, threads "
                             f"{start['threads']} -> {end['threads']} (no growth)", ok))
            if not ok:
                bad.append(f"endurance: {who} fds {start['fds']}->{end['fds']}, "
                           f"udp {start.get('udp')}->{end.get('udp')}, "
                           f"threads {start['threads']}->{end['threads']}")
        verdicts.append((f"endurance: {res['completed']}/{n} calls without failure",
                         res["completed"] == n and not res["failures"]
                         and not res["callee"]["failures"]))
        if at < 1000:
            print(f"  (--calls {n} <= 1000: growth measured after {at} calls; the "
                  f"acceptance run is --calls 10000)")

    # ---- verdict ---------------------------------------------------------------
    print_verdict(verdicts, bad, "sipcore failures or leaks")

    if args.json:
        out = {"build": build,
               **{k: [{**r, "times": r["times"][:100]} for r in rs] for k, rs in runs.items()}}
        if endurance is not None:
            out["sipcore/endurance"] = [{**endurance, "times": endurance["times"][:100]}]
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
