"""Run the sipcore half of the MESSAGE-rate benchmark.

``run_sipcore(count, outstanding)`` is the counterpart of
``_pjsua2_run.run_pjsua2``: it starts two processes with the project's
interpreter (``sys.executable`` by default) running ``_sipcore_peer.py``:

* a receiver on a free loopback UDP port, which reports its idle RSS
  (after Engine.start(), before any traffic) with ``READY``;
* a sender that pushes ``count`` MESSAGEs at it, ``outstanding`` at a
  time, and prints one JSON result line.

Separate processes for the same reasons as with pjsua2 (and sipcore's
Engine is a singleton: one per process).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

try:  # imported as part of a package (benchmarks._sipcore_run) ...
    from ._pjsua2_run import free_udp_port, run_receiver_and_sender
except ImportError:  # ... or as a sibling script module (benchmarks/ on sys.path)
    from _pjsua2_run import free_udp_port, run_receiver_and_sender

PEER_SCRIPT = Path(__file__).resolve().parent / "_sipcore_peer.py"


def run_sipcore(count: int, outstanding: int, *, ip: str = "127.0.0.1",
                send_from: str = "receiver", timeout: float = 300.0,
                python: str | None = None, poll_spin_us: int | None = None) -> dict:
    """Benchmark ``count`` MESSAGE round trips between two sipcore Engines.

    ``outstanding`` is the number of transactions kept in flight
    (1 = strictly sequential); ``send_from`` is the sender's
    ``--send-from`` ("receiver": follow-ups sent from the response
    receiver on the poll thread, the default; "thread": from the main
    thread).  ``python`` defaults to the running interpreter.  ``poll_spin_us``
    is given to both Engines (None: sipcore's default).

    Returns the sender's result dict::

        {"impl": "sipcore", "count", "outstanding", "seconds", "rate",
         "failures", "rss_kb", "rss_start_kb", "send_from", ...}

    extended with ``idle_rss_kb`` (receiver VmRSS after start, before
    traffic), ``received`` (MESSAGEs the receiver was told about),
    ``receiver_rss_kb`` (receiver VmRSS at the end) and ``receiver_cpu_s``
    (its CPU seconds from READY to DONE).
    """
    python = python or sys.executable
    recv_port = free_udp_port(ip)

    common = [python, str(PEER_SCRIPT), "--ip", ip]
    if poll_spin_us is not None:
        common += ["--poll-spin-us", str(poll_spin_us)]
    return run_receiver_and_sender(
        "sipcore", common + ["--role", "receiver", "--port", str(recv_port)],
        lambda ready: common + ["--role", "sender", "--port", "0",
                                "--peer-port", str(ready["port"]),
                                "--count", str(count),
                                "--outstanding", str(outstanding),
                                "--send-from", send_from,
                                "--timeout", str(timeout)],
        timeout)


if __name__ == "__main__":
    # Quick manual check: python benchmarks/_sipcore_run.py [COUNT [K ...]]
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    windows = [int(k) for k in sys.argv[2:]] or [1, 50]
    for k in windows:
        print(json.dumps(run_sipcore(n, k)))
