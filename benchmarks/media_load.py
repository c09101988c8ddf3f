"""Media load: N simultaneous PCMU calls with audio both ways, sipcore vs PyPI pjsua2-python.

Issue #12, "Performance": two processes, N simultaneous PCMU calls with audio both ways for
D seconds; on the caller a WaveFile per call feeds only that call's stream (pairwise, as
pjsua2 applications do with ``startTransmit``); the callee records each stream alone.
Reported: CPU per call, RTP packets lost / discarded (the streams' RTCP statistics), the
Python poll thread's share of one core, RSS per call and the mouth-to-ear delay (tone onset
to detection).  PyPI pjsua2-python does the same work in the same run at N=20 (its select
ioqueue holds 64 sockets; the wheel takes 4 calls at once, so its N=20 runs as 5 process
pairs of 4 calls each, side by side, and both are also compared at N=4, see README.md).
Targets: at N=20 CPU per call <= 1.0x pjsua2's, zero loss on loopback, the poll thread < 2%
of one core; N=200 in one process pair with zero loss and CPU per call within 10% of N=20.
Also a 3- and a 10-party conference (everything connected on the bridge, the spec's model):
CPU and delay.

Usage::

    .venv/bin/python benchmarks/media_load.py [--duration 60] [--n 20 200]
        [--conference 3 10] [--no-pjsua2] [--probes 3] [--json FILE]

The same work on both sides
---------------------------
Per call and side (``_sipcore_media_peer.py``, ``_pjsua2_media_peer.py``): an RTP and an
RTCP socket, a PCMU stream (no silence detection), a player looping a tone file into that
call's stream only, and a recorder of that stream only writing to a ``.wav`` name linked to
/dev/null (the stream is decoded, mixed and written; the bytes are dropped).  The bridges
run at 8 kHz on a null clock (no sound device) with 20 ms frames.  The caller plays 440 Hz,
the callee 1000 Hz, each as 0.6 s silence + 0.4 s tone, looped.  sipcore: pairwise
connections (``WaveFile.start(destination=)``, ``RecordingWaveFile.start(source=)``),
``auto_sound=False``, the SIP poll thread plus its C media worker and bridge clock; pjsua2:
``player.startTransmit(call_media)``, ``call_media.startTransmit(recorder)``, the null
sound device, ``threadCnt=0`` (the main thread polls ``libHandleEvents``), one media
thread.

What is measured
----------------
The caller places the N calls one after another; once all carry audio both processes take
a start sample (MARK), the run lasts ``--duration`` seconds, then an end sample (END): CPU
seconds of each process and of each of its threads (/proc/self/task/TID/stat) and RSS.

* **CPU per call**: (caller + callee CPU seconds) / N / wall seconds, in ms of CPU per
  second of call: what one call costs both ends together.
* **Poll thread**: the CPU of sipcore's poll thread (the Python one) / wall seconds, the
  busier process's; for pjsua2 its polling main thread.
* **Loss**: every stream's ``rx_lost`` (sequence gaps) and ``rx_discarded`` (the jitter
  buffer dropped a late or excess packet), both sides, summed; also the packets received per
  call and second (50 for 20 ms PCMU).
* **RSS per call**: (RSS at END - RSS after the Engine/endpoint started, before any call) /
  N, the busier process.
* **Delay**: on the first ``--probes`` calls each side records that call's stream into a
  real file from MARK to END; the first rising edge of the other side's tone (10 ms blocks,
  Goertzel, -30 dBFS) gives its arrival time; with the sender's player start time (both
  processes read the same wall clock) and the tone's 1.0 s period, delay = (arrival - play
  start - 0.6 s) mod 1.0 s.  Resolution about 10 ms, plus up to one 20 ms frame of the
  player's start (the bridge's next tick).  Mouth to ear here = the player's frame through
  the sender's bridge, encoder, RTP over loopback, the receiver's jitter buffer, decoder and
  bridge into the recorder.

pjsua2 at N=20: the wheel refuses a 5th call in a process (``PJ_ETOOMANY``), so its N=20 runs
as 5 process pairs of 4 calls each, all at once (``run_split``): CPU per call and RSS per call
are the pairs' means, loss summed, the busiest poll thread.  Each pair pays its own clock and
media threads: that is what 20 calls cost with this wheel.  Both are also compared at N=4 in
one process pair each.

Conference (``--conference``): sipcore only; the caller joins each of its N streams to the
conference (``Engine.connect_audio_transport``: every stream hears every other and a
WaveFile playing 440 Hz into the conference), the callees play and record pairwise as above.
Reported: CPU per call and the delay (caller's conference player -> callee's recording, and
callee -> caller's stream recording).

Exit status: 0 when the sipcore runs had no failed call and no lost packet; 1 otherwise; 2 if
a run could not be carried out.  Targets are reported (MET / NOT MET), not asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _peerio import print_verdict  # noqa: E402
from _pjsua2_run import _read_tagged, free_udp_port  # noqa: E402

TONE_CALLER, TONE_CALLEE = 440, 1000
SILENCE, TONE_LEN = 0.6, 0.4
PERIOD = SILENCE + TONE_LEN
PEERS = {"sipcore": HERE / "_sipcore_media_peer.py", "pjsua2": HERE / "_pjsua2_media_peer.py"}
PJSUA2_MAX_N = 20
#: calls the pjsua2 wheel (2.15.1.post1) holds at once: makeCall of the 5th raises PJ_ETOOMANY
#: whatever EpConfig.uaConfig.maxCalls is set to (pjsua lowers it to its compile-time
#: PJSUA_MAX_CALLS, 4 in this wheel; see README.md)
PJSUA2_FALLBACK_N = 4
PJSUA2_N = int(os.environ.get("MEDIA_LOAD_PJSUA2_N", PJSUA2_MAX_N))
CPU_TARGET, POLL_TARGET, SCALE_TARGET = 1.0, 0.02, 0.10


def write_tones(tmp: str) -> dict[str, str]:
    from sipcore.media import tones
    out = {}
    for role, f in (("caller", TONE_CALLER), ("callee", TONE_CALLEE)):
        out[role] = tones.write_tone(f"{tmp}/{role}-tone.wav", f, seconds=TONE_LEN,
                                     sample_rate=8000, silence_before=SILENCE)
    sink = f"{tmp}/null.wav"
    if not os.path.exists(sink):
        os.symlink("/dev/null", sink)
    out["sink"] = sink
    return out


def _send(proc: subprocess.Popen, line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def run_pair(impl: str, n: int, duration: float, tmp: str, *, conference: bool = False,
             probes: int = 3, ip: str = "127.0.0.1", base_port: int = 20000) -> dict:
    """One callee and one caller process of ``impl`` with ``n`` calls for ``duration`` s;
    returns {"caller": RESULT, "callee": RESULT, "setup_s"}."""
    if impl == "sipcore":
        python = sys.executable
    else:
        from _venv import pjsua2_python
        python = pjsua2_python()
    files = write_tones(tmp)
    run_dir = tempfile.mkdtemp(prefix=f"{impl}-{n}-", dir=tmp)
    common = [python, str(PEERS[impl]), "--ip", ip, "--calls", str(n), "--sink", files["sink"],
              "--dir", run_dir, "--probes", str(min(probes, n))]
    callee_cmd = common + ["--role", "callee", "--tone", files["callee"],
                           "--rtp-port", str(base_port + 10000),
                           "--port", str(0 if impl == "sipcore" else free_udp_port(ip))]
    errs = [tempfile.TemporaryFile(mode="w+") for _ in range(2)]
    procs: list[subprocess.Popen] = []
    try:
        callee = subprocess.Popen(callee_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=errs[0], text=True)
        procs.append(callee)
        ready = _read_tagged(callee, "READY", 60)
        caller_cmd = common + ["--role", "caller", "--tone", files["caller"],
                               "--rtp-port", str(base_port), "--peer-port", str(ready["port"]),
                               "--port", str(0 if impl == "sipcore" else free_udp_port(ip))]
        if conference:
            caller_cmd.append("--conference")
        caller = subprocess.Popen(caller_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=errs[1], text=True)
        procs.append(caller)
        up = _read_tagged(caller, "UP", 60 + n)
        time.sleep(1.0)          # let the last call's jitter buffer settle
        for p in (caller, callee):
            _send(p, "MARK")
        for p in (caller, callee):
            _read_tagged(p, "MARKED", 30)
        time.sleep(duration)
        for p in (caller, callee):
            _send(p, "END")
        res = {"setup_s": up["setup_s"]}
        for role, p in (("caller", caller), ("callee", callee)):
            res[role] = _read_tagged(p, "RESULT", 60)
        for p in (caller, callee):
            assert p.stdin is not None
            p.stdin.close()
        for p in (caller, callee):
            p.wait(timeout=30)
        return res
    except Exception as exc:
        tails = []
        for e in errs:
            e.seek(0)
            tails.append(e.read().strip()[-800:])
        raise RuntimeError(f"{impl} n={n}: {exc}; stderr: {tails!r}") from exc
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


# ---- analysis -----------------------------------------------------------------------------

def run_split(impl: str, n: int, per: int, duration: float, tmp: str, *, probes: int,
              base_port: int) -> list[dict]:
    """``n`` calls as ``n // per`` process pairs of ``per`` calls each, all at once (for the
    pjsua2 wheel, which holds 4 calls per process): one run_pair result per pair."""
    import concurrent.futures
    pairs = n // per
    with concurrent.futures.ThreadPoolExecutor(pairs) as pool:
        futs = [pool.submit(run_pair, impl, per, duration, tmp, probes=probes if k == 0 else 0,
                            base_port=base_port + 200 * k) for k in range(pairs)]
        return [f.result() for f in futs]


def rising_edge(path: str, frequency: float, threshold: float = -30.0,
                block: float = 0.01) -> float | None:
    """Seconds from the start of the recording to the first block in which ``frequency``
    rises to ``threshold`` dBFS after a block below it (None: never)."""
    from sipcore.media import tones
    samples, rate = tones.read_wav(path)
    step = int(block * rate)
    below = False
    for a in range(0, len(samples) - step + 1, step):
        loud = tones.level(samples[a:a + step], rate, frequency) >= threshold
        if loud and below:
            return a / rate
        below = below or not loud
    return None


def delays(res: dict) -> list[float]:
    """Mouth-to-ear delays in ms measured on both sides' probe recordings."""
    out = []
    for rx, tx, freq in (("callee", "caller", TONE_CALLER), ("caller", "callee", TONE_CALLEE)):
        t_play = res[tx]["t_play"]
        for i, probe in enumerate(res[rx]["probes"]):
            if i >= len(t_play) or t_play[i] is None or probe["t_rec"] is None:
                continue
            try:
                edge = rising_edge(probe["file"], freq)
            except (OSError, EOFError, ValueError, wave.Error):
                edge = None
            if edge is None:
                out.append(float("nan"))
                continue
            d = (probe["t_rec"] + edge - t_play[i] - SILENCE) % PERIOD
            if d > PERIOD - 0.1:
                d -= PERIOD     # an onset seen "early": the +-20 ms resolution, not a delay
            out.append(d * 1000)
    return out


def summary(res: dict, n: int) -> dict:
    c, e = res["caller"], res["callee"]
    wall = (c["wall_s"] + e["wall_s"]) / 2
    stats = [s for s in c["stats"] + e["stats"] if s]
    polls = [r["threads"][r["poll_thread"]] / r["wall_s"] for r in (c, e)]
    rss = [(r["rss_kb_end"] - r["rss_kb_idle"]) / n for r in (c, e)]
    d = [x for x in delays(res) if x == x]
    return {
        "cpu_ms_per_call_s": 1000 * (c["cpu_s"] + e["cpu_s"]) / n / wall,
        "cpu_caller": 1000 * c["cpu_s"] / n / c["wall_s"],
        "cpu_callee": 1000 * e["cpu_s"] / n / e["wall_s"],
        "poll_share": max(polls),
        "lost": sum(s["rx_lost"] for s in stats),
        "discarded": sum(s["rx_discarded"] for s in stats),
        "streams": len(stats),
        "rx_pps_per_call": (sum(s["rx_packets"] for s in stats) - sum(c["rx_mark"])
                            - sum(e["rx_mark"])) / max(1, len(stats)) / wall,
        "rss_kb_per_call": max(rss),
        "delay_ms": d,
        "delay_missing": len(delays(res)) - len(d),
        "failures": c["failures"] + e["failures"],
        "threads_caller": c["threads"], "threads_callee": e["threads"],
        "wall_s": wall, "setup_s": res["setup_s"],
    }


def combine(parts: list[dict], n: int) -> dict:
    """One summary for the pairs of run_split (each of ``per`` calls): CPU per call and RSS per
    call averaged over the pairs (all ran at once, each over its own wall time), loss and
    streams summed, the busiest poll thread."""
    per = n // len(parts)
    ss = [summary(res, per) for res in parts]
    out = dict(ss[0])
    for key in ("cpu_ms_per_call_s", "cpu_caller", "cpu_callee", "rss_kb_per_call",
                "rx_pps_per_call", "wall_s"):
        out[key] = statistics.fmean(s[key] for s in ss)
    for key in ("lost", "discarded", "streams", "delay_missing"):
        out[key] = sum(s[key] for s in ss)
    out["poll_share"] = max(s["poll_share"] for s in ss)
    out["delay_ms"] = [d for s in ss for d in s["delay_ms"]]
    out["failures"] = [f for s in ss for f in s["failures"]]
    out["setup_s"] = max(s["setup_s"] for s in ss)
    return out


def fmt_delay(d: list[float]) -> str:
    if not d:
        return "-"
    return f"{statistics.median(d):.0f} ({min(d):.0f}-{max(d):.0f})"


def top_threads(threads: dict, wall: float, k: int = 4) -> str:
    return ", ".join(f"{name.split('/')[0]} {sec / wall:.1%}" for name, sec in
                     sorted(threads.items(), key=lambda kv: -kv[1])[:k])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of audio per run")
    ap.add_argument("--n", type=int, nargs="*", default=[20, 200],
                    help="simultaneous calls per sipcore run (default 20 200)")
    ap.add_argument("--conference", type=int, nargs="*", default=[3, 10],
                    help="conference sizes (sipcore; default 3 10)")
    ap.add_argument("--no-pjsua2", action="store_true", help="sipcore only")
    ap.add_argument("--probes", type=int, default=3, help="calls with a delay recording")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)

    print(f"Media load: N simultaneous PCMU calls, audio both ways, {args.duration:.0f} s per "
          f"run, loopback; load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f}", flush=True)
    runs: list[tuple[str, int, str, dict]] = []
    bad: list[str] = []
    plan = []
    if not args.no_pjsua2:
        plan.append(("pjsua2", min(PJSUA2_N, PJSUA2_MAX_N), "pairwise"))
    plan += [("sipcore", n, "pairwise") for n in args.n]
    plan += [("sipcore", n, "conference") for n in args.conference]
    with tempfile.TemporaryDirectory(prefix="media-load-") as tmp:
        i = -1
        while i + 1 < len(plan):
            i += 1
            impl, n, mode = plan[i]
            try:
                if mode == "split":
                    res = run_split(impl, n, PJSUA2_FALLBACK_N, args.duration, tmp,
                                    probes=args.probes, base_port=20000 + 1000 * (i % 8))
                else:
                    res = run_pair(impl, n, args.duration, tmp,
                                   conference=mode == "conference", probes=args.probes,
                                   base_port=20000 + 1000 * (i % 8))
            except Exception as exc:  # noqa: BLE001
                if impl == "sipcore":
                    print(f"ERROR: {exc}", file=sys.stderr)
                    return 2
                why = str(exc)
                why = why[why.find("RuntimeError: call"):][:160] if "RuntimeError: call" in why \
                    else why[:300]
                print(f"  {impl} N={n}: could not be run: {why}", flush=True)
                if "PJ_ETOOMANY" in str(exc) and n > PJSUA2_FALLBACK_N:
                    # the wheel holds 4 calls at once whatever uaConfig.maxCalls says: compare
                    # at the N it reaches, sipcore at the same N right after it
                    print(f"  -> pjsua2 and sipcore compared at N={PJSUA2_FALLBACK_N} instead",
                          flush=True)
                    # and pjsua2's N as that many process pairs of 4 calls, side by side
                    plan[i + 1:i + 1] = [("pjsua2", n, "split"),
                                         ("pjsua2", PJSUA2_FALLBACK_N, "pairwise"),
                                         ("sipcore", PJSUA2_FALLBACK_N, "pairwise")]
                continue
            s = summary(res, n) if mode != "split" else combine(res, n)
            runs.append((impl, n, mode, s))
            print(f"  {impl:8s} N={n:<4d} {mode:10s} CPU {s['cpu_ms_per_call_s']:6.2f} ms per "
                  f"call-second (caller {s['cpu_caller']:.2f}, callee {s['cpu_callee']:.2f}); "
                  f"poll thread {s['poll_share']:.2%}; lost {s['lost']}, discarded "
                  f"{s['discarded']} in {s['streams']} streams ({s['rx_pps_per_call']:.1f} "
                  f"packets/s each); RSS {s['rss_kb_per_call']:.0f} KiB per call; delay ms "
                  f"{fmt_delay(s['delay_ms'])}; load {os.getloadavg()[0]:.2f}", flush=True)
            print(f"           threads, caller: {top_threads(s['threads_caller'], s['wall_s'])}; "
                  f"callee: {top_threads(s['threads_callee'], s['wall_s'])}", flush=True)
            if s["streams"] < 2 * n:
                print(f"           {2 * n - s['streams']} streams gave no statistics",
                      flush=True)
                if impl == "sipcore":
                    bad.append(f"sipcore N={n} {mode}: {2 * n - s['streams']} streams gave "
                               "no statistics")
            if impl == "sipcore":
                if s["failures"]:
                    bad.append(f"sipcore N={n} {mode}: {s['failures'][:3]}")
                if s["lost"]:
                    bad.append(f"sipcore N={n} {mode}: {s['lost']} packets lost")
                if s["delay_missing"]:
                    bad.append(f"sipcore N={n} {mode}: {s['delay_missing']} probe(s) never "
                               "heard the other side's tone")

    def find(impl: str, n: int, mode: str = "pairwise") -> dict | None:
        return next((s for i, m, md, s in runs if i == impl and m == n and md == mode), None)

    verdicts: list[tuple[str, bool]] = []
    s20 = find("sipcore", PJSUA2_MAX_N)
    for cmp_n, how, pc in ((PJSUA2_MAX_N, "in one process pair", find("pjsua2", PJSUA2_MAX_N)),
                           (PJSUA2_MAX_N, f"pjsua2 as {PJSUA2_MAX_N // PJSUA2_FALLBACK_N} "
                            f"process pairs of {PJSUA2_FALLBACK_N}",
                            find("pjsua2", PJSUA2_MAX_N, "split")),
                           (PJSUA2_FALLBACK_N, "in one process pair",
                            find("pjsua2", PJSUA2_FALLBACK_N))):
        sc = find("sipcore", cmp_n)
        if sc and pc:
            r = sc["cpu_ms_per_call_s"] / pc["cpu_ms_per_call_s"]
            verdicts.append((f"N={cmp_n} CPU per call ({how}): {sc['cpu_ms_per_call_s']:.2f} "
                             f"vs pjsua2 {pc['cpu_ms_per_call_s']:.2f} ms per call-second = "
                             f"{r:.2f}x (target <= {CPU_TARGET:.1f}x)", r <= CPU_TARGET))
    if s20:
        verdicts.append((f"N=20 loss: {s20['lost']} lost, {s20['discarded']} discarded "
                         "(target 0)", s20["lost"] == 0 and s20["discarded"] == 0))
        verdicts.append((f"N=20 poll thread: {s20['poll_share']:.2%} of one core (target < "
                         f"{POLL_TARGET:.0%})", s20["poll_share"] < POLL_TARGET))
    big = max((n for i, n, md, _ in runs if i == "sipcore" and md == "pairwise"), default=0)
    sb = find("sipcore", big)
    if sb and s20 and big > PJSUA2_MAX_N:
        g = sb["cpu_ms_per_call_s"] / s20["cpu_ms_per_call_s"] - 1
        verdicts.append((f"N={big} loss: {sb['lost']} lost, {sb['discarded']} discarded "
                         "(target 0)", sb["lost"] == 0 and sb["discarded"] == 0))
        verdicts.append((f"N={big} CPU per call {sb['cpu_ms_per_call_s']:.2f} ms = {g:+.1%} vs "
                         f"N=20 (target: at most {SCALE_TARGET:.0%} more)", g <= SCALE_TARGET))
    print_verdict(verdicts, bad, "sipcore failures or loss")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{"impl": i, "n": n, "mode": md, **s} for i, n, md, s in runs], indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
