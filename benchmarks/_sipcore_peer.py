"""One sipcore endpoint for the MESSAGE-rate benchmark.

The sipcore counterpart of ``_pjsua2_peer.py``: same roles, same command
line, same output lines, so ``_sipcore_run.py`` and ``_pjsua2_run.py``
drive the two implementations the same way.  Run it with the project's
interpreter (``/work/main/.venv/bin/python``, or ``sys.executable`` of the
benchmark), never with the pjsua2 venv.

Roles
-----
receiver
    Starts the Engine on ``--ip:--port`` (UDP only; port 0 = any, the
    actual port is reported).  sipcore answers every incoming MESSAGE with
    200 OK itself (``primitives/message.py`` responds *before* sending
    ``SIPEngineGotMessage``), so the only application work per request is
    the counting receiver.  After start-up it prints
    ``READY {"rss_kb": ..., "port": ...}`` and then serves until stdin
    reaches EOF or ``--count`` requests have arrived (0 = no limit).  On
    exit it prints ``DONE {"received": ..., "rss_kb": ...}``.

sender
    Sends ``--count`` MESSAGEs (text/plain "ping", like the pjsua2 peer)
    to ``--ip:--peer-port`` with at most ``--outstanding`` K transactions
    in flight.  send_message() refuses a second MESSAGE to a To-URI whose
    first is still pending (MessagePendingError), so with K > 1 the
    requests go to K slots ``sip:u<i>@IP:PEER`` and a slot gets its next
    request when the final response of its previous one has arrived.  The
    count is split over the slots up front (slot i sends ``count // K``,
    plus one for the first ``count % K`` slots), so no counter is shared
    between threads.  Prints a single JSON line::

        {"impl": "sipcore", "count": N, "outstanding": K, "seconds": ...,
         "rate": ..., "failures": ..., "rss_kb": ...}

    plus ``rss_start_kb`` (VmRSS after Engine.start(), before traffic) and
    ``send_from``.  ``seconds`` is wall time from the first send to the
    last final response; ``failures`` counts final responses other than
    200 (including sipcore's 408/503 for timeouts and transport errors),
    exceptions raised by send_message, and requests still unanswered when
    ``--timeout`` expires.

How the sender drives sipcore (``--send-from``)
-----------------------------------------------
``receiver`` (default)
    The main thread issues only the first request of each slot (each call
    is handed to the poll thread, which costs a few microseconds), then
    waits on an Event.  Every further request is sent from inside the
    ``SIPEngineGotMessageResponse`` receiver, which runs on sipcore's poll
    thread, where send_message runs immediately.  This is documented,
    ordinary sipcore usage ("reply from the notification") and the
    fastest correct way: no thread hand-off and no GIL ping-pong per
    request.  It matches what the pjsua2 peer does (it sends straight
    after the callback that freed a slot, on its only thread).
``thread``
    The application-thread pattern (issue #13): the receiver only puts
    the freed slot on a queue; the main thread takes it and calls
    send_message, which checks the request in the main thread and hands
    it to the poll thread without waiting for it (docs/threads.md).

``--threads`` and ``--same-uri`` are accepted for command-line
compatibility with the pjsua2 peer: sipcore always has exactly one poll
thread (``--threads`` is recorded, not used), and ``--same-uri`` only
works with ``--outstanding 1`` (see MessagePendingError above).
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
import time

from _peerio import cpu_s, emit, proc_status, rss_kb, stdin_eof_event  # noqa: E402  (benchmarks/ is sys.path[0])
import sipcore
from sipcore import (Credentials, Engine, Route, SIPURI, send_message,
                     signals)


# --------------------------------------------------------------------------
# helpers (same as in _pjsua2_peer.py)

def start_engine(ip: str, port: int, poll_spin_us: int | None = None) -> Engine:
    """Start the Engine with UDP only, logging and SIP trace off; ``poll_spin_us``
    None keeps sipcore's default."""
    engine = Engine()
    extra = {} if poll_spin_us is None else {"poll_spin_us": poll_spin_us}
    engine.start(local_ip=ip, local_udp_port=port, local_tcp_port=None,
                 local_tls_port=None, log_level=0, trace_sip=False, **extra)
    return engine


# --------------------------------------------------------------------------
# receiver

def run_receiver(args: argparse.Namespace) -> None:
    engine = start_engine(args.ip, args.port, args.poll_spin_us)
    received = 0
    limit = args.count
    finished = stdin_eof_event()   # also set when --count requests arrived

    def on_message(sender, **data) -> None:
        # Runs on the poll thread; the 200 OK has already been sent.
        nonlocal received
        received += 1
        if limit and received >= limit:
            finished.set()

    signals.SIPEngineGotMessage.connect(on_message, weak=False)
    emit("READY " + json.dumps({"rss_kb": rss_kb(), "hwm_kb": proc_status("VmHWM"),
                                "cpu_s": cpu_s(),
                                "port": engine.local_udp_port}))
    finished.wait()
    emit("DONE " + json.dumps({"received": received, "rss_kb": rss_kb(),
                               "hwm_kb": proc_status("VmHWM"), "cpu_s": cpu_s()}))
    signals.SIPEngineGotMessage.disconnect(on_message)
    engine.stop()


# --------------------------------------------------------------------------
# sender

class Sender:
    """K slots, each sending its share of the requests one after another.

    All state below is written only on the poll thread (inside the
    response receiver), except ``remaining``/``first``, which the main
    thread sets up before the slot's first send_message() call.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.count = args.count
        self.window = min(args.outstanding, args.count) or 1
        self.mode = args.send_from
        ip, peer = args.ip, args.peer_port
        self.credentials = Credentials(SIPURI(ip, user="send"))
        self.route = Route(ip, peer, "udp")
        n_uris = self.window if args.distinct_uris else 1
        self.uris = [SIPURI(ip, user=f"u{i}", port=peer) for i in range(n_uris)]
        self.slot_of = {uri.user: i for i, uri in enumerate(self.uris)}
        base, extra = divmod(self.count, self.window)
        self.remaining = [base + (i < extra) for i in range(self.window)]
        self.done = 0
        self.failures = 0
        self.first_failure: str | None = None
        self.t_last = 0.0
        self.finished = threading.Event()
        self.free: queue.SimpleQueue[int] = queue.SimpleQueue()

    def send(self, slot: int) -> None:
        """Send the next request of ``slot`` (its remaining count is > 0)."""
        self.remaining[slot] -= 1
        try:
            send_message(self.credentials, self.uris[slot], "text/plain",
                         "ping", self.route)
        except Exception as exc:  # noqa: BLE001 - counted, reported once
            # No response notification will come for this request.
            self.record(f"send_message raised {exc!r}")
            self.complete(slot)

    def record(self, failure: str) -> None:
        self.failures += 1
        if self.first_failure is None:
            self.first_failure = failure

    def complete(self, slot: int) -> None:
        """One request of ``slot`` is finished: refill or count down."""
        self.t_last = time.perf_counter()
        self.done += 1
        if self.done >= self.count:
            self.finished.set()
        elif self.remaining[slot] > 0:
            if self.mode == "receiver":
                self.send(slot)
            else:
                self.free.put(slot)

    def on_response(self, sender, to_uri, code, reason, **data) -> None:
        # Runs on the poll thread, once per accepted send_message().
        if code != 200:
            self.record(f"{code} {reason} to {to_uri}")
        self.complete(self.slot_of[to_uri.user] if len(self.uris) > 1 else 0)

    def run(self, timeout: float) -> float:
        """Send everything; return the wall time from first send to last response."""
        deadline = time.monotonic() + timeout
        t_first = time.perf_counter()
        for slot in range(self.window):
            if self.remaining[slot] > 0:
                self.send(slot)
        if self.mode == "receiver":
            self.finished.wait(timeout)
        else:
            while not self.finished.is_set():
                try:
                    slot = self.free.get(timeout=0.05)
                except queue.Empty:
                    if time.monotonic() > deadline:
                        break
                    continue
                self.send(slot)
        return (self.t_last or time.perf_counter()) - t_first


def run_sender(args: argparse.Namespace) -> None:
    engine = start_engine(args.ip, args.port, args.poll_spin_us)
    sender = Sender(args)
    signals.SIPEngineGotMessageResponse.connect(sender.on_response, weak=False)
    rss_start = rss_kb()
    cpu_first = cpu_s()

    seconds = sender.run(args.timeout)

    done = sender.done
    missing = args.count - done
    result = {
        "impl": "sipcore",
        "count": args.count,
        "outstanding": args.outstanding,
        "seconds": round(seconds, 6),
        "rate": round(done / seconds, 1) if seconds > 0 else 0.0,
        "failures": sender.failures + missing,
        "rss_kb": rss_kb(), "hwm_kb": proc_status("VmHWM"),
        "cpu_s": round(cpu_s() - cpu_first, 3),
        "poll_spin_us": engine.poll_spin_us,
        "rss_start_kb": rss_start,
        "threads": 1,
        "buddies": len(sender.uris),
        "send_from": args.send_from,
        "sipcore": sipcore.__version__,
        "pjsip": sipcore.PJSIP_VERSION,
    }
    if sender.first_failure:
        result["first_failure"] = sender.first_failure
    if missing:
        result["timed_out"] = missing
    emit(json.dumps(result))
    signals.SIPEngineGotMessageResponse.disconnect(sender.on_response)
    # Pending requests (only after a timeout) are ended with 408 "Engine
    # stopped" by stop(); nobody listens any more.
    engine.stop()


# --------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", choices=("receiver", "sender"), required=True)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True,
                    help="local UDP port to bind (0 = any)")
    ap.add_argument("--peer-port", type=int, default=0,
                    help="receiver's UDP port (sender only)")
    ap.add_argument("--count", type=int, default=0,
                    help="sender: requests to send; receiver: exit after "
                         "this many (0 = until stdin EOF)")
    ap.add_argument("--outstanding", type=int, default=1,
                    help="sender: max requests in flight (1 = sequential)")
    ap.add_argument("--threads", type=int, default=0,
                    help="accepted for compatibility with _pjsua2_peer.py; "
                         "sipcore always runs one poll thread")
    ap.add_argument("--same-uri", dest="distinct_uris", action="store_false",
                    help="sender: send every request to one URI (only "
                         "possible with --outstanding 1)")
    ap.add_argument("--send-from", choices=("receiver", "thread"),
                    default="receiver",
                    help="sender: issue follow-up requests from the response "
                         "receiver on the poll thread (default, fastest) or "
                         "from the main thread")
    ap.add_argument("--poll-spin-us", type=int, default=None,
                    help="Engine option poll_spin_us (default: sipcore's default)")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="sender: give up after this many seconds")
    args = ap.parse_args(argv)
    if args.role == "sender":
        if not args.peer_port:
            ap.error("--peer-port is required for --role sender")
        if args.count < 1:
            ap.error("--count must be >= 1 for --role sender")
    if args.outstanding < 1:
        ap.error("--outstanding must be >= 1")
    if not args.distinct_uris and args.outstanding > 1:
        ap.error("--same-uri needs --outstanding 1: sipcore allows one "
                 "pending MESSAGE per To-URI (MessagePendingError)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role == "receiver":
        run_receiver(args)
    else:
        run_sender(args)


if __name__ == "__main__":
    main()
