"""Floods held: a started sipcore Engine under three floods, one after the other (issue #14).

Run:  .venv/bin/python benchmarks/flood.py [--rate 10000] [--seconds 10] [--tcp 1000]
                                           [--drip 100] [--settle 40]

The target is a second sipcore process (``python -m sipcore peer --answer none``: a started
Engine with no receiver connected to the Invitation signals) on 127.0.0.1.  The phases:

1. **INVITE flood**: a separate process (``tests/peers/flood.py invite``) sends ``--rate``
   raw INVITE datagrams per second for ``--seconds`` (each a new transaction and dialog; the
   sender reads the answers, never ACKs).
2. **Idle TCP**: this process opens ``--tcp`` TCP connections to the target, sends nothing
   on them and holds them ``--seconds``, then closes them.
3. **Slow drip**: a separate process opens ``--drip`` TCP connections and trickles one byte
   of a never-ending MESSAGE header every 0.1 s on each, for ``--seconds``.

During each phase a legitimate client -- this process's own Engine, on **127.0.0.2** --
sends a MESSAGE every 0.1 s, alternately over UDP and TCP, and times each until its final
response (the percentiles are printed; the target: every one answered 200 within 1 s).  The
target's RSS (``/proc/PID/status`` VmRSS) is sampled every 20 ms: the peak of each phase is
printed; after each phase, the time until it is back within 5% of its idle RSS (measured
after start, once the Engine had been idle long enough to give memory back, and before any
flood) and its RSS ``--settle`` seconds after the phase (the verdict: within 5% of idle).
The target's CPU time per phase (``/proc/PID/stat``) is printed too.

The fd limit: this process sets its soft RLIMIT_NOFILE to at least ``--tcp`` + 256 (the
target, its child, inherits it); the value set is printed.  The target's open fds are
printed after the connections are made, so a refused connection is seen.

A report, not a test: the exit status is 1 only when the target died or raised an exception.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from _peerio import print_verdict  # noqa: E402
from peers import flood  # noqa: E402
from sipcore import Credentials, Engine, Route, SIPURI, send_message, signals  # noqa: E402
from sipcore.peer import PeerProcess  # noqa: E402

PROBE_IP = "127.0.0.2"
TICK = os.sysconf("SC_CLK_TCK")


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Sampler(threading.Thread):
    """VmRSS of ``pid`` every 20 ms; ``peak`` since the last ``reset()``."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.last = 0
        self.done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.wait(0.02):
            try:
                self.last = status_kb(self.pid, "VmRSS")
            except OSError:
                return
            self.peak = max(self.peak, self.last)

    def reset(self) -> None:
        self.peak = self.last


class Probe:
    """MESSAGEs from 127.0.0.2 every ``interval`` s, alternately over UDP and TCP, each timed
    from send_message() to its SIPEngineGotMessageResponse."""

    def __init__(self, udp: int, tcp: int, interval: float = 0.1):
        self.routes = {"udp": (Route("127.0.0.1", udp, "udp"), udp),
                       "tcp": (Route("127.0.0.1", tcp, "tcp"), tcp)}
        self.interval = interval
        self.creds = Credentials(SIPURI(PROBE_IP, user="probe"))
        self.lock = threading.Lock()
        self.pending: dict[str, tuple[float, str]] = {}
        self.results: list[tuple[str, float, int]] = []   # (transport, seconds, code)
        self.n = 0
        self.stop_ev = threading.Event()
        signals.SIPEngineGotMessageResponse.connect(self.on_response, weak=False)

    def on_response(self, sender, to_uri=None, code=None, **_):
        now = time.perf_counter()
        with self.lock:
            sent = self.pending.pop(to_uri.user, None)
            if sent is not None:
                self.results.append((sent[1], now - sent[0], code))

    def start(self) -> None:
        self.results = []
        self.stop_ev.clear()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop_ev.is_set():
            transport = "udp" if self.n % 2 == 0 else "tcp"
            route, port = self.routes[transport]
            user = f"p{self.n}"
            self.n += 1
            with self.lock:
                self.pending[user] = (time.perf_counter(), transport)
            send_message(self.creds, SIPURI("127.0.0.1", user=user, port=port,
                                            parameters={"transport": transport}),
                         "text/plain", "probe", route)
            self.stop_ev.wait(self.interval)

    def stop(self, wait: float = 2.0) -> dict:
        """Stop sending; wait up to ``wait`` s for the outstanding answers; the figures."""
        self.stop_ev.set()
        self.thread.join()
        end = time.monotonic() + wait
        while time.monotonic() < end:
            with self.lock:
                if not self.pending:
                    break
            time.sleep(0.05)
        with self.lock:
            missing = len(self.pending)
            self.pending.clear()
            results = list(self.results)
        out = {"missing": missing}
        for transport in ("udp", "tcp"):
            lat = sorted(t for tp, t, code in results if tp == transport and code == 200)
            bad = [code for tp, t, code in results if tp == transport and code != 200]
            out[transport] = {"n": len(lat), "failed": bad, "lat": lat}
        return out


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def settle(pid: int, idle_kb: int, timeout: float) -> tuple[float | None, int, int]:
    """Seconds until the target's RSS is within 5% of ``idle_kb`` (None: not in ``timeout``),
    its RSS then, and its RSS at the end of ``timeout`` (the wait goes on: the Engine gives
    memory back only after 2 idle seconds, and the probe's last server transactions keep it
    busy until their Timer J, 32 s)."""
    start = time.monotonic()
    back, at = None, -1
    while time.monotonic() - start < timeout:
        rss = status_kb(pid, "VmRSS")
        if back is None and abs(rss - idle_kb) <= 0.05 * idle_kb:
            back, at = time.monotonic() - start, rss
        time.sleep(0.1)
    return back, at, status_kb(pid, "VmRSS")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=10000.0, help="INVITEs per second")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    ap.add_argument("--tcp", type=int, default=1000, help="idle TCP connections")
    ap.add_argument("--drip", type=int, default=100, help="slow-drip TCP connections")
    ap.add_argument("--settle", type=float, default=40.0,
                    help="longest wait for the RSS to return after a phase (s)")
    ap.add_argument("--phases", default="invite,tcp,drip")
    args = ap.parse_args()

    nofile = flood.raise_fd_limit(args.tcp + 256)
    print(f"fd limit (soft RLIMIT_NOFILE) of this process and the target: {nofile}")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    engine = Engine()
    engine.start(local_ip=PROBE_IP, local_udp_port=0, local_tcp_port=0, local_tls_port=None,
                 log_level=0)
    failures: list[str] = []
    verdicts: list[tuple[str, bool]] = []
    with PeerProcess("--answer", "none", "--log-level", "0") as target:
        pid = target.ready["pid"]
        udp, tcp = target.ready["udp"], target.ready["tcp"]
        sampler = Sampler(pid)
        probe = Probe(udp, tcp)
        # warm up both probe paths (the TCP connection, first-use pages), then idle
        probe.start()
        time.sleep(0.5)
        probe.stop()
        time.sleep(3.0)
        idle = status_kb(pid, "VmRSS")
        print(f"target pid {pid}, udp {udp}, tcp {tcp}; idle RSS {idle} KiB")

        def phase_invite() -> str:
            with flood.Child("invite", port=udp, rate=args.rate, seconds=args.seconds) as c:
                r = c.result(timeout=args.seconds + 60)
            return (f"sent {r['sent']} INVITEs in {r['seconds']} s "
                    f"({r['sent'] / r['seconds']:.0f}/s); answers seen by the sender: "
                    + ", ".join(f"{k}: {v}" for k, v in sorted(r["responses"].items())))

        def phase_tcp() -> str:
            fds0 = flood.fd_count(pid)
            t0 = time.monotonic()
            conns = flood.hold_tcp("127.0.0.1", tcp, args.tcp)
            made = time.monotonic() - t0
            time.sleep(1.0)
            fds = flood.fd_count(pid) - fds0
            time.sleep(max(0.0, args.seconds - made - 1.0))
            flood.close_all(conns)
            return (f"{args.tcp} connections made in {made:.2f} s, held {args.seconds:.0f} s; "
                    f"target's fds +{fds} while held")

        def phase_drip() -> str:
            with flood.Child("drip", port=tcp, connections=args.drip,
                             seconds=args.seconds, interval=0.1) as c:
                r = c.result(timeout=args.seconds + 60)
            return (f"{r['connections']} connections, {r['sent_bytes']} bytes in "
                    f"{r['seconds']} s, closed by the target: {r['closed_by_peer']}")

        phases = {"invite": ("INVITE flood", phase_invite), "tcp": ("idle TCP", phase_tcp),
                  "drip": ("slow drip", phase_drip)}
        for key in args.phases.split(","):
            name, run = phases[key]
            print(f"\n== {name}")
            sampler.reset()
            cpu0 = cpu_s(pid)
            probe.start()
            t0 = time.monotonic()
            what = run()
            wall = time.monotonic() - t0
            got = probe.stop()
            cpu = cpu_s(pid) - cpu0
            peak = sampler.peak
            print(f"  {what}")
            print(f"  target: peak RSS {peak} KiB ({peak / idle:.2f}x idle), CPU {cpu:.2f} s "
                  f"in {wall:.1f} s")
            worst = 0.0
            for transport in ("udp", "tcp"):
                g = got[transport]
                lat = g["lat"]
                if lat:
                    worst = max(worst, lat[-1])
                print(f"  probe {transport}: {g['n']} answered 200, failed {g['failed']}; "
                      f"latency ms p50 {pct(lat, 50) * 1e3:.1f} p90 {pct(lat, 90) * 1e3:.1f} "
                      f"p99 {pct(lat, 99) * 1e3:.1f} max {pct(lat, 100) * 1e3:.1f}")
            ok = (got["missing"] == 0 and not got["udp"]["failed"] and not got["tcp"]["failed"]
                  and worst < 1.0 and got["udp"]["n"] > 0 and got["tcp"]["n"] > 0)
            verdicts.append((f"{name}: every legitimate MESSAGE answered 200 within 1 s "
                             f"(max {worst * 1e3:.0f} ms, unanswered {got['missing']})", ok))
            back, rss, final = settle(pid, idle, args.settle)
            cpu_settle = cpu_s(pid) - cpu0 - cpu
            if back is None:
                print(f"  not back within 5% of idle in {args.settle:.0f} s")
            else:
                print(f"  back within 5% of idle after {back:.1f} s: RSS {rss} KiB "
                      f"({rss / idle:.3f}x)")
            print(f"  after {args.settle:.0f} s: RSS {final} KiB ({final / idle:.3f}x); target "
                  f"CPU meanwhile {cpu_settle:.2f} s")
            verdicts.append((f"{name}: RSS back within 5% of idle ({final} vs {idle} KiB "
                             f"after {args.settle:.0f} s"
                             + (f"; first within 5% after {back:.1f} s)" if back is not None
                                else ")"),
                             back is not None and abs(final - idle) <= 0.05 * idle))
            if target.proc.poll() is not None:
                failures.append(f"the target died in the {name} phase")
                break
        sampler.done.set()
        print(f"\ntarget VmHWM (peak RSS of its life): {status_kb(pid, 'VmHWM')} KiB")
    engine.stop()
    failures += [f"target exception: {e['traceback'][-500:]}" for e in target.exceptions]
    print_verdict(verdicts, failures, "failures")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        rc = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        print(f"uptime: {rc}")
    except OSError:
        pass
    sys.exit(main())
