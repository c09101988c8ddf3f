"""Run the pjsua2 half of the MESSAGE-rate benchmark.

``run_pjsua2(count, outstanding)`` starts two processes with the private
pjsua2 venv interpreter (see ``_venv.py``) running ``_pjsua2_peer.py``:

* a receiver on a free loopback UDP port, which reports its idle RSS
  (after the endpoint has started, before any traffic) with ``READY``;
* a sender that pushes ``count`` MESSAGEs at it, ``outstanding`` at a
  time, and prints one JSON result line.

Both are separate processes so the two pjsip instances never share a
GIL or an ioqueue, and so the receiver's RSS is that of a bare endpoint.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

try:  # imported as part of a package (benchmarks._pjsua2_run) ...
    from ._venv import pjsua2_python
except ImportError:  # ... or as a sibling script module (benchmarks/ on sys.path)
    from _venv import pjsua2_python

PEER_SCRIPT = Path(__file__).resolve().parent / "_pjsua2_peer.py"

#: Seconds to wait for the receiver's READY line.
READY_TIMEOUT = 30.0


def free_udp_port(ip: str = "127.0.0.1") -> int:
    """Ask the kernel for a currently unused UDP port on ``ip``.

    The socket is closed before pjsip binds the port, so another process
    could in principle take it in between; on a quiet loopback this is
    not a practical problem, and a bind failure surfaces as a receiver
    that never becomes READY.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


def _read_tagged(proc: subprocess.Popen, tag: str, timeout: float) -> dict:
    """Read ``proc``'s stdout until a line ``TAG {json}`` and return the json.

    Any other lines (there should be none) are skipped.  Raises
    RuntimeError if the process exits or ``timeout`` expires first.
    """
    deadline = time.monotonic() + timeout
    prefix = tag + " "
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break  # EOF: the process died
        if line.startswith(prefix):
            return json.loads(line[len(prefix):])
    raise RuntimeError(
        f"pjsua2 peer gave no {tag} line (exit code {proc.poll()})")


def run_receiver_and_sender(impl: str, receiver_cmd: list[str], sender_cmd, timeout: float
                            ) -> dict:
    """Start a receiver peer, wait for its ``READY`` line, run the sender built by
    ``sender_cmd(ready)`` to the end, then close the receiver's stdin and read its ``DONE``
    line.  Returns the sender's result line; the receiver never outlives the call.  The
    result is extended with the receiver's figures: ``idle_rss_kb`` (READY),
    ``received`` (DONE), ``receiver_cpu_s`` (CPU seconds from READY to DONE) and, when DONE
    has them, ``receiver_rss_kb`` and ``receiver_hwm_kb`` (VmHWM: its peak RSS).  Shared
    by the pjsua2 and the sipcore halves of the benchmark."""
    receiver = subprocess.Popen(receiver_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
    try:
        ready = _read_tagged(receiver, "READY", READY_TIMEOUT)
        sender = subprocess.run(sender_cmd(ready), stdout=subprocess.PIPE, text=True,
                                timeout=timeout + 30)
        lines = [ln for ln in sender.stdout.splitlines() if ln.startswith("{")]
        if sender.returncode != 0 or not lines:
            raise RuntimeError(
                f"{impl} sender failed (exit code {sender.returncode}): "
                f"{sender.stdout[-500:]!r}")
        result = json.loads(lines[-1])

        # Closing stdin tells the receiver to finish; it reports its count.
        assert receiver.stdin is not None
        receiver.stdin.close()
        done = _read_tagged(receiver, "DONE", 10.0)
        receiver.wait(timeout=10)
        result["idle_rss_kb"] = ready["rss_kb"]
        result["received"] = done["received"]
        result["receiver_cpu_s"] = round(done["cpu_s"] - ready["cpu_s"], 3)
        if "rss_kb" in done:
            result["receiver_rss_kb"] = done["rss_kb"]
        if "hwm_kb" in done:
            result["receiver_hwm_kb"] = done["hwm_kb"]
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
    return result


def run_pjsua2(count: int, outstanding: int, *, ip: str = "127.0.0.1",
               threads: int = 0, sender_threads: int | None = None,
               timeout: float = 300.0) -> dict:
    """Benchmark ``count`` MESSAGE round trips through pjsua2-python.

    ``outstanding`` is the number of transactions kept in flight
    (1 = strictly sequential).  ``threads`` is passed to both peers as
    pjsua's ``threadCnt`` (0 = poll on the main thread, the default);
    ``sender_threads``, when given, to the sender instead (1: pjsua's worker
    thread polls, the main thread sends and waits for the status callback --
    the application-thread pattern).

    Returns the sender's result dict::

        {"impl": "pjsua2", "count", "outstanding", "seconds", "rate",
         "failures", "rss_kb", "threads", "buddies", ...}

    extended with ``idle_rss_kb`` (receiver VmRSS after start, before
    traffic), ``received`` (MESSAGEs the receiver's account saw) and
    ``receiver_cpu_s`` (its CPU seconds from READY to DONE).
    """
    python = pjsua2_python()
    recv_port = free_udp_port(ip)
    send_port = free_udp_port(ip)
    while send_port == recv_port:
        send_port = free_udp_port(ip)

    common = [python, str(PEER_SCRIPT), "--ip", ip]
    sender_threads = threads if sender_threads is None else sender_threads
    return run_receiver_and_sender(
        "pjsua2", common + ["--threads", str(threads), "--role", "receiver",
                            "--port", str(recv_port)],
        lambda ready: common + ["--threads", str(sender_threads),
                                "--role", "sender", "--port", str(send_port),
                                "--peer-port", str(recv_port),
                                "--count", str(count),
                                "--outstanding", str(outstanding),
                                "--timeout", str(timeout)],
        timeout)


if __name__ == "__main__":
    # Quick manual check: python benchmarks/_pjsua2_run.py [COUNT [K ...]]
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    windows = [int(k) for k in sys.argv[2:]] or [1, 50]
    for k in windows:
        print(json.dumps(run_pjsua2(n, k)))
