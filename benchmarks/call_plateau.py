"""Memory plateau of repeated call batches: growth from call count vs. from concurrency.

``call_rate.py``'s endurance run compares RSS after 1,000 calls with RSS after 10,000; at
thousands of calls per second that also compares 1,000 calls held at once by Timer K/J with
10,000, and pjsip keeps some memory per call ever held at once (the timer heap's slots, a
transport's state-listener entries; the UA layer's dialog-set nodes until sipcore renews that
layer when idle) without shrinking it.  This benchmark separates
the two: one Engine calls itself (INVITE with SDP / 200 with SDP / ACK / BYE, both ends in one
process) in ``--batches`` batches of ``--calls`` calls, waiting ``--settle`` seconds after each
batch for Timer J (32 s) to end every transaction, and prints per batch: VmRSS after
``malloc_trim(0)``, the number of Python objects the garbage collector tracks, live pool blocks
per size class (sipcore's slab allocator) and the calls that failed.  Every batch has the same
concurrency, so a leak shows as growth from batch to batch; high-water marks do not.

Usage::

    .venv/bin/python benchmarks/call_plateau.py [--calls 3000] [--batches 4] [--settle 36]

Exit status: 0 when every call completed and RSS after the last batch is within
``--tolerance`` (default 2%) of RSS after the first; 1 otherwise.  Takes about
``batches * (settle + 2)`` seconds.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peerio import rss_kb  # noqa: E402
from sipcore import (Credentials, Engine, Invitation, Route, SDPAttribute,  # noqa: E402
                     SDPConnection, SDPMedia, SDPSession, SIPURI, signals)
from sipcore import _ua  # noqa: E402
from sipcore._pj import ffi, handles, lib  # noqa: E402


def make_sdp(ip: str, port: int) -> SDPSession:
    return SDPSession(ip, connection=SDPConnection(ip), media=[
        SDPMedia("audio", port, "RTP/AVP", formats=["0"],
                 attributes=[SDPAttribute("rtpmap", "0 PCMU/8000"),
                             SDPAttribute("sendrecv", "")])])


class SelfCaller:
    """Calls its own Engine one call after another, driven from the notification receiver."""

    def __init__(self, engine: Engine) -> None:
        ip, port = "127.0.0.1", engine.local_udp_port
        self.credentials = Credentials(SIPURI(ip, user="caller"))
        self.callee = SIPURI(ip, user="callee", port=port)
        self.route = Route(ip, port, "udp")
        self.offers = [make_sdp(ip, 40000 + 2 * i) for i in range(100)]
        self.answer = make_sdp(ip, 50000)
        self.current: Invitation | None = None
        self.todo = self.done = self.failures = 0
        self.finished = threading.Event()
        signals.SIPInvitationChangedState.connect(self.on_state, weak=False)

    def place(self) -> None:
        inv = Invitation(self.credentials, self.callee, self.route)
        inv.set_offered_local_sdp(self.offers[self.done % len(self.offers)])
        self.current = inv
        inv.send_invite()

    def on_state(self, sender, prev_state, state, **data) -> None:
        if sender is not self.current:            # the incoming side
            if state == "INCOMING":
                sender.set_offered_local_sdp(self.answer)
                sender.accept_invite()
            return
        if state == "CONFIRMED":
            sender.disconnect()
        elif state == "DISCONNECTED":
            code = data.get("code")
            if prev_state != "DISCONNECTING" or code is None or not 200 <= code < 300:
                self.failures += 1
            self.done += 1
            if self.done >= self.todo:
                self.finished.set()
            else:
                self.place()

    def batch(self, engine: Engine, calls: int, timeout: float) -> float:
        self.todo += calls
        self.finished.clear()
        t0 = time.perf_counter()
        _ua.running("place a call").call(self.place)
        if not self.finished.wait(timeout):
            raise SystemExit(f"batch did not finish within {timeout} s "
                             f"({self.done}/{self.todo} calls)")
        return time.perf_counter() - t0


def pool_blocks() -> dict[int, int]:
    """Live pool blocks per size class (class i: blocks of (i + 1) * 256 bytes)."""
    live = ffi.new("size_t[]", 256)
    lib.sc_pool_usage(live, 256)
    return {(i + 1) * 256: live[i] for i in range(256) if live[i]}


def sample() -> dict:
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return {"rss_kb": rss_kb(), "objects": len(gc.get_objects()), "handles": len(handles),
            "pool_blocks": pool_blocks()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=3000, help="calls per batch")
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--settle", type=float, default=36.0,
                    help="seconds to wait after each batch (Timer J is 32 s)")
    ap.add_argument("--tolerance", type=float, default=0.02,
                    help="largest RSS growth from the first batch to the last")
    args = ap.parse_args()

    engine = Engine()
    engine.start(local_ip="127.0.0.1", local_udp_port=0, local_tcp_port=None,
                 local_tls_port=None, log_level=0, trace_sip=False)
    caller = SelfCaller(engine)
    start = sample()
    print(f"start            RSS {start['rss_kb']:7,} KiB  objects {start['objects']:6,}  "
          f"pool blocks {start['pool_blocks']}")
    rows = []
    for i in range(args.batches):
        seconds = caller.batch(engine, args.calls, timeout=600.0)
        time.sleep(args.settle)
        s = sample()
        rows.append(s)
        print(f"after {caller.done:6,} calls  RSS {s['rss_kb']:7,} KiB  objects {s['objects']:6,}  "
              f"pool blocks {s['pool_blocks']}  ({args.calls / seconds:,.0f} calls/s, "
              f"{caller.failures} failed so far)", flush=True)
    engine.stop()
    first, last = rows[0]["rss_kb"], rows[-1]["rss_kb"]
    growth = (last - first) / first
    ok = caller.failures == 0 and growth < args.tolerance
    print(f"RSS after batch {args.batches} vs after batch 1: {growth:+.2%} "
          f"(tolerance {args.tolerance:.0%}); after batch 1 vs start: "
          f"{(first - start['rss_kb']) / start['rss_kb']:+.2%} (pjsip's high-water marks); "
          f"failures {caller.failures}")
    print("verdict:", "plateau" if ok else "GROWTH OR FAILURES")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
