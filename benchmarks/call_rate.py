"""Sequential call rate and call endurance: sipcore vs PyPI pjsua2-python.

Acceptance text (issue #4, "Performance and endurance"): "sequential
calls (INVITE with SDP offer / 200 with answer / ACK / BYE) between two
sipcore processes, against PyPI pjsua2-python doing the same in the same
run.  Target: >= 1.0x pjsua2's calls per second.  Endurance: 10,000
sequential calls without a failure, RSS growth under 5% after the first
1,000, no leaked sockets or threads (pjsua2's wheel aborts after 32 calls
with RTP sockets: sipcore must not)."

Usage::

    .venv/bin/python benchmarks/call_rate.py [--calls 10000] [--rounds 3]
        [--rate-calls 1000] [--burst 25] [--settle 35] [--json FILE]

What is measured
----------------
Two processes per run on 127.0.0.1 over UDP: a callee that answers every
INVITE 200 with an SDP answer, and a caller that places calls one after
another: INVITE with an SDP offer (one m=audio line, PCMU) -> 200 with
the answer -> ACK -> BYE -> 200, next call.  Rate = completed calls per
second of wall time from the first INVITE to the last DISCONNECTED.
Peers: ``_sipcore_call_peer.py`` (this interpreter) and
``_pjsua2_call_peer.py`` (the private venv ``benchmarks/.venv-pjsua2``,
see ``_venv.py``); both print the same JSON.

1. Rate comparison, ``--rounds`` rounds alternating the order of the
   implementations (run-to-run noise on a shared VM is up to 2x; the
   table shows medians and min-max).  Each round runs, per
   implementation, ``--rate-calls`` calls twice:

   * **bursts** (the like-for-like comparison): after every ``--burst``
     calls the caller pauses ``--burst-pause`` s, and the pauses are not
     timed.  pjsua2 needs this to get past ~32 calls: it opens an RTP and
     an RTCP socket per call and its select ioqueue (64 handles) only
     reuses a closed socket's slot after 500 ms, so a faster caller
     aborts with ``pj_ioqueue_register_sock2: Assertion
     !pj_list_empty(&ioqueue->free_list)``.  sipcore runs the same
     schedule so both do the same work at the same pace.
   * **continuous** (no pauses): sipcore's real sequential rate.  pjsua2
     is run too and is expected to abort; its result is reported as is
     (completed calls, rate over those), and sipcore's rate over the same
     first K calls (from its per-call progress lines) is shown next to it.

   The target (>= 1.0x) is judged on the bursts ratio, median(sipcore) /
   median(pjsua2).  Note that the two do not do identical work: pjsua2
   also creates and destroys RTP sockets, a media session and a
   conference port per call; sipcore's Invitation carries SDP as data
   and has no media.

2. Endurance, sipcore only: one run of ``--calls`` calls without bursts.
   Resource samples (VmRSS, open fds, threads) are taken by both
   processes at start, after the first 1,000 calls (or half of
   ``--calls`` when that is <= 1,000) and at the end.  PJSIP keeps every
   ended call's dialog until its BYE transaction is over (Timer K, 5 s on
   the caller; Timer J, 32 s on the callee), so at several hundred calls
   per second the raw samples include thousands of finished calls still
   held by the protocol timers (about 30 KiB each).  To tell that from a
   leak, the caller pauses ``--settle`` s (untimed) after the first
   sample point and after the last call and both processes take
   *settled* samples.  Even then glibc keeps most of the heap freed after
   that peak (measured: 126 MB peak, still 126 MB 7 s later, 31 MB after
   ``malloc_trim(0)``; repeated 3,000-call batches plateau at 32 MB after
   trimming, Python object count constant), so each settled sample is
   followed by one taken after ``malloc_trim(0)`` in the peer process, and
   those are judged: RSS growth < 5% between the first sample point and
   the end, no more fds or threads than at start (caller and callee).
   The raw and untrimmed settled growths are printed in the same line.
   The callee's thread count drops by one at the end: its stdin reader
   thread has ended.

Exit status: 0 when sipcore had no failures and no leaks (whether the
rate target is met is reported, not asserted); 1 if any sipcore run had
failed calls or the endurance run shows RSS growth >= 5% or leaked
fds/threads; 2 if a run could not be carried out.  pjsua2's abort and
failures are its results and do not change the exit status.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peerio import print_verdict  # noqa: E402
from _pjsua2_run import READY_TIMEOUT, _read_tagged, free_udp_port  # noqa: E402
from _venv import pjsua2_python  # noqa: E402

HERE = Path(__file__).resolve().parent
PEERS = {"sipcore": HERE / "_sipcore_call_peer.py",
         "pjsua2": HERE / "_pjsua2_call_peer.py"}
IMPLS = ("sipcore", "pjsua2")
RATE_TARGET = 1.0
RSS_GROWTH_LIMIT = 0.05


def run_calls(impl: str, count: int, *, burst: int = 0, burst_pause: float = 0.7,
              settle: float = 0.0, sample_at: int = 1000, timeout: float = 900.0,
              ip: str = "127.0.0.1") -> dict:
    """One callee + one caller of ``impl``; return the caller's result dict.

    Added keys: ``times`` (seconds since the first INVITE at the end of
    each call, from the progress lines), ``callee`` (its READY and DONE
    data) and, when the caller died without a result line, ``aborted``
    (exit code and last stderr line) with the counts taken from the last
    progress line.
    """
    python = sys.executable if impl == "sipcore" else pjsua2_python()
    script = str(PEERS[impl])
    base = [python, script, "--ip", ip, "--sample-at", str(sample_at)]
    callee_port = 0 if impl == "sipcore" else free_udp_port(ip)
    caller_port = 0 if impl == "sipcore" else free_udp_port(ip)
    while impl != "sipcore" and caller_port == callee_port:
        caller_port = free_udp_port(ip)

    callee_err = tempfile.TemporaryFile(mode="w+")
    callee = subprocess.Popen(base + ["--role", "callee", "--port", str(callee_port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=callee_err, text=True)
    try:
        ready = _read_tagged(callee, "READY", READY_TIMEOUT)
        cmd = base + ["--role", "caller", "--port", str(caller_port),
                      "--peer-port", str(ready["port"]), "--count", str(count),
                      "--burst", str(burst), "--burst-pause", str(burst_pause),
                      "--settle", str(settle), "--timeout", str(timeout)]
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
            result = {"impl": impl, "count": count,
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


def rate_first(result: dict, k: int) -> float | None:
    """Calls per second over the first ``k`` calls (from the progress lines)."""
    times = result["times"]
    if k < 1 or len(times) < k or times[k - 1] <= 0:
        return None
    return k / times[k - 1]


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
                    help="length of those pauses in seconds (default 0.7; pjsua2 "
                         "needs > 0.5 to recycle its ioqueue slots)")
    ap.add_argument("--settle", type=float, default=35.0,
                    help="endurance: untimed pause before the settled samples "
                         "(default 35 s: > Timer J, 32 s)")
    ap.add_argument("--no-endurance", action="store_true",
                    help="only the rate comparison")
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="per-run caller timeout in seconds")
    ap.add_argument("--json", metavar="FILE", help="also write every run's result to FILE")
    args = ap.parse_args(argv)
    rate_calls = args.rate_calls or min(args.calls, 1000)
    if args.calls < 2 or rate_calls < 1 or args.rounds < 1 or args.burst < 1:
        ap.error("--calls must be >= 2; --rate-calls, --rounds, --burst >= 1")

    pjsua2_python()      # create the pjsua2 venv (pip) before timing anything

    runs: dict[str, list[dict]] = {}
    bad: list[str] = []
    print(f"Sequential calls (INVITE+SDP / 200+SDP / ACK / BYE) over UDP on 127.0.0.1: "
          f"{rate_calls} calls per run, {args.rounds} round(s); bursts of {args.burst} "
          f"with untimed {args.burst_pause} s pauses", flush=True)
    try:
        for rnd in range(args.rounds):
            order = IMPLS if rnd % 2 == 0 else IMPLS[::-1]
            for mode in ("bursts", "continuous"):
                for impl in order:
                    res = run_calls(impl, rate_calls,
                                    burst=args.burst if mode == "bursts" else 0,
                                    burst_pause=args.burst_pause, timeout=args.timeout)
                    runs.setdefault(f"{impl}/{mode}", []).append(res)
                    if impl == "sipcore":
                        bad += sipcore_problems(res, f"round {rnd + 1} sipcore {mode}")
                    note = f"  ABORTED: {res['aborted']}" if res.get("aborted") else ""
                    print(f"  round {rnd + 1}  {impl:8s} {mode:10s} {res['rate']:>7,.0f} calls/s"
                          f"  {res['completed']:>5d}/{res['count']} completed  "
                          f"failures {res['failures']}  {res['seconds']:.3f} s{note}",
                          flush=True)
    except Exception as exc:  # noqa: BLE001
        print(f"ERROR: a rate run could not be carried out: {exc}", file=sys.stderr)
        return 2

    def rates(key: str) -> list[float]:
        return [r["rate"] for r in runs[key]]

    # ---- rate table --------------------------------------------------------
    print()
    head = f"{'calls/s':34s}{'sipcore':>22s}{'pjsua2':>30s}{'ratio':>8s}{'target':>9s}"
    print(head)
    print("-" * len(head))
    verdicts: list[tuple[str, bool]] = []
    s_b, p_b = rates("sipcore/bursts"), rates("pjsua2/bursts")
    ratio_b = statistics.median(s_b) / statistics.median(p_b)
    print(f"{f'bursts of {args.burst}, pauses untimed':34s}{fmt_range(s_b):>22s}"
          f"{fmt_range(p_b):>30s}{ratio_b:>7.2f}x{f'>={RATE_TARGET:.1f}x':>9s}")
    verdicts.append((f"rate, same work (bursts of {args.burst}): {ratio_b:.2f}x pjsua2 "
                     f"(target >= {RATE_TARGET:.1f}x)", ratio_b >= RATE_TARGET))

    s_c = rates("sipcore/continuous")
    p_runs = runs["pjsua2/continuous"]
    p_done = [r["completed"] for r in p_runs]
    p_c = rates("pjsua2/continuous")
    aborted = [r for r in p_runs if r.get("aborted")]
    p_label = fmt_range(p_c) + (f" [{len(aborted)}/{len(p_runs)} aborted]" if aborted else "")
    print(f"{'continuous (no pauses)':34s}{fmt_range(s_c):>22s}{p_label:>30s}"
          f"{statistics.median(s_c) / statistics.median(p_c):>7.2f}x")
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
    for impl in IMPLS:
        fails = sum(r["failures"] for k_, rs in runs.items() if k_.startswith(impl)
                    for r in rs if not r.get("aborted"))
        runs_n = sum(len(rs) for k_, rs in runs.items() if k_.startswith(impl))
        print(f"  {impl}: {fails} failed calls in {runs_n} runs"
              + (" (aborted runs not counted)" if impl == "pjsua2" and aborted else ""))
    print("(median (min-max) over the rounds; ratio = sipcore/pjsua2; rate = completed "
          "calls / time from first INVITE to last DISCONNECTED)")

    # ---- endurance -----------------------------------------------------------
    endurance = None
    if not args.no_endurance:
        n = args.calls
        at = 1000 if n > 1000 else max(1, n // 2)
        print(f"\nEndurance, sipcore: {n} sequential calls, samples at start, after "
              f"{at} calls and at the end; settled samples after untimed "
              f"{args.settle:.0f} s pauses", flush=True)
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
        hdr = f"  {'':30s}{'calls':>7s}{'RSS KiB':>10s}{'fds':>5s}{'thr':>5s}"
        print(hdr)
        for who, smp, keys in (
                ("caller", cs, ["start", str(at), f"{at}_settled", f"{at}_trimmed",
                                "end", "end_settled", "end_trimmed"]),
                ("callee", ls, ["start", str(at), f"{at}_settled", f"{at}_trimmed",
                                "end", "end_trimmed"])):
            for key in keys:
                if key in smp:
                    s = smp[key]
                    label = key.replace("_settled", " settled").replace(
                        "_trimmed", " settled+trim")
                    if who == "callee" and key == "end":
                        label = "end (settled)"
                    print(f"  {who + ' ' + label:30s}{s['calls']:>7d}{s['rss_kb']:>10,d}"
                          f"{s['fds']:>5d}{s['threads']:>5d}")

        def growth(smp: dict, a: str, b: str) -> float | None:
            if a in smp and b in smp:
                return smp[b]["rss_kb"] / smp[a]["rss_kb"] - 1
            return None

        checks = [("caller", cs, f"{at}_trimmed", "end_trimmed",
                   [("settled", f"{at}_settled", "end_settled"), ("raw", str(at), "end")]),
                  ("callee", ls, f"{at}_trimmed", "end_trimmed",
                   [("settled", f"{at}_settled", "end"), ("raw", str(at), "end")])]
        for who, smp, a, b, others in checks:
            g = growth(smp, a, b)
            extra = "".join(f"; {name} {v:+.1%}" for name, x, y in others
                            if (v := growth(smp, x, y)) is not None)
            if g is None:
                verdicts.append((f"{who} RSS growth after {at} calls: not measured", False))
                bad.append(f"endurance: {who} RSS samples missing")
                continue
            ok = g < RSS_GROWTH_LIMIT
            verdicts.append((f"{who} RSS growth after the first {at} calls: {g:+.1%} "
                             f"settled+malloc_trim{extra} (target < {RSS_GROWTH_LIMIT:.0%})",
                             ok))
            if not ok:
                bad.append(f"endurance: {who} RSS grew {g:+.1%} (settled, after malloc_trim)")
            end = smp[b]
            start = smp["start"]
            fd_ok = end["fds"] <= start["fds"]
            th_ok = end["threads"] <= start["threads"]
            verdicts.append((f"{who} fds {start['fds']} -> {end['fds']}, threads "
                             f"{start['threads']} -> {end['threads']} (no growth)",
                             fd_ok and th_ok))
            if not (fd_ok and th_ok):
                bad.append(f"endurance: {who} fds {start['fds']}->{end['fds']}, "
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
        out = {k: [{**r, "times": r["times"][:100]} for r in rs] for k, rs in runs.items()}
        if endurance is not None:
            out["sipcore/endurance"] = [{**endurance, "times": endurance["times"][:100]}]
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
