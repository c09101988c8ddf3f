"""One pjsua2 endpoint for the MESSAGE-rate benchmark.

Run with the interpreter from ``_venv.pjsua2_python()`` (a private venv
holding PyPI ``pjsua2-python``), never with the project's interpreter.

Roles
-----
receiver
    Listens on ``--ip:--port`` (UDP) with one account, ``sip:recv@IP``.
    pjsua's IM module answers every out-of-dialog MESSAGE with 200 OK
    itself (``pjsua_im.c`` responds *before* calling the application), so
    the only Python work per request is the ``onInstantMessage`` counter.
    After start-up it prints ``READY {"rss_kb": ...}`` and then serves until
    stdin reaches EOF or ``--count`` requests have arrived (0 = no limit).
    On exit it prints ``DONE {"received": ...}``.

sender
    Sends ``--count`` MESSAGEs to ``--ip:--peer-port`` with at most
    ``--outstanding`` K transactions in flight (K=1: the next request goes
    out when the final response to the previous one has arrived).  With
    K > 1 the requests are spread round-robin over K buddies
    ``sip:u<i>@IP:PEER`` so that every in-flight request has its own
    To-URI (pjsua2 does not need this -- ``--same-uri`` works as well --
    and at most 256 buddies exist, see MAX_BUDDIES).  The body is
    text/plain, the only type pjsua's pager accepts by default (others get
    488).  Prints a single JSON line::

        {"impl": "pjsua2", "count": N, "outstanding": K, "seconds": ...,
         "rate": ..., "failures": ..., "rss_kb": ...}

    ``seconds`` is wall time from the first send to the last final
    response; ``failures`` counts final responses other than 200
    (including pjsip's locally generated 408 on timeout) plus requests
    still unanswered when ``--timeout`` expires.

Event loop
----------
Both roles use pjsua2 with ``threadCnt = 0`` and drive pjsip from the
Python main thread with ``Endpoint.libHandleEvents()``.  Compared with a
pjsua worker thread (``--threads 1``, kept for comparison) this avoids a
GIL hand-off between the pjsip thread and Python for every callback and
lets the sender issue the next request straight after the callback that
freed a slot.  Measured on 2 cores, N=5000, same session: sequential
4.9-10.3k/s polled vs 3.1-5.0k/s threaded; 50 in flight 14-34k/s polled
vs 8.4-12k/s threaded.  Run-to-run spread is large (up to 2x) on a shared
VM, so callers should repeat runs and compare medians.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

from _peerio import cpu_s, emit, proc_status, rss_kb, stdin_eof_event, stdout_silenced  # noqa: E402  (benchmarks/ is sys.path[0])
import pjsua2 as pj


#: PJSUA_MAX_BUDDIES of the pjproject build inside pjsua2-python.
MAX_BUDDIES = 256


# --------------------------------------------------------------------------
# helpers

def start_endpoint(ip: str, port: int, threads: int) -> pj.Endpoint:
    """Create, configure and start a pjsua2 Endpoint with one UDP transport.

    Logging is switched off completely (level 0, no SIP message logging)
    and the sound device is replaced by the null device, so no ALSA/audio
    hardware is touched.  The media endpoint itself still exists: pjsua2
    always initialises pjmedia, which is part of its idle footprint.
    """
    ep = pj.Endpoint()
    # pjlib logs a few lines at its compile-time default level from inside
    # libCreate(), before EpConfig.logConfig can take effect.  Send fd 1 to
    # /dev/null for that call so stdout carries only the protocol lines.
    with stdout_silenced():
        ep.libCreate()

    cfg = pj.EpConfig()
    cfg.logConfig.level = 0
    cfg.logConfig.consoleLevel = 0
    cfg.logConfig.msgLogging = False
    cfg.uaConfig.threadCnt = threads
    # mainThreadOnly only matters with worker threads; with threadCnt=0
    # every callback already runs inside libHandleEvents() on this thread.
    cfg.uaConfig.mainThreadOnly = False
    cfg.uaConfig.userAgent = "sipcore-bench-pjsua2"
    ep.libInit(cfg)

    tcfg = pj.TransportConfig()
    tcfg.port = port
    tcfg.boundAddress = ip
    tcfg.publicAddress = ip
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)

    ep.audDevManager().setNullDev()
    ep.libStart()
    return ep


def make_account_config(uri: str) -> pj.AccountConfig:
    """Account without registrar: it only provides From/Contact identity."""
    acfg = pj.AccountConfig()
    acfg.idUri = uri
    acfg.regConfig.registerOnAdd = False
    # No presence publication / MWI / NAT keep-alives: pure pager use.
    acfg.presConfig.publishEnabled = False
    acfg.mwiConfig.enabled = False
    acfg.natConfig.udpKaIntervalSec = 0
    return acfg


# --------------------------------------------------------------------------
# receiver

class ReceiverAccount(pj.Account):
    """Counts incoming MESSAGEs; pjsua has already queued the 200 OK."""

    def __init__(self) -> None:
        super().__init__()
        self.received = 0

    def onInstantMessage(self, prm: pj.OnInstantMessageParam) -> None:
        self.received += 1


def run_receiver(args: argparse.Namespace) -> None:
    ep = start_endpoint(args.ip, args.port, args.threads)
    acc = ReceiverAccount()
    acc.create(make_account_config(f"sip:recv@{args.ip}"))

    eof = stdin_eof_event()
    emit("READY " + json.dumps({"rss_kb": rss_kb(), "hwm_kb": proc_status("VmHWM"),
                                "port": args.port, "cpu_s": cpu_s()}))

    limit = args.count
    while not eof.is_set() and not (limit and acc.received >= limit):
        if args.threads:
            eof.wait(0.05)          # pjsua's own thread does the work
        else:
            ep.libHandleEvents(50)  # returns early as soon as a packet came
    # One more short poll, in case the ioqueue had to queue the last 200
    # (sendto() on loopback normally completes synchronously).
    if not args.threads:
        ep.libHandleEvents(10)

    emit("DONE " + json.dumps({"received": acc.received, "cpu_s": cpu_s(),
                               "rss_kb": rss_kb(), "hwm_kb": proc_status("VmHWM")}))
    shutdown(ep, acc)


# --------------------------------------------------------------------------
# sender

class SenderAccount(pj.Account):
    """Tracks completion of outgoing MESSAGE transactions.

    ``onInstantMessageStatus`` fires once per request, with the final
    status code (2xx-6xx, or a local 408/503 on timeout/transport error).
    With ``--threads 0`` this runs inside libHandleEvents() on the main
    thread.  With worker threads it runs on the pjsip thread, which is
    the only writer of the counters (the main thread just reads them);
    the condition variable then wakes the main thread to refill.
    """

    def __init__(self, threads: int) -> None:
        super().__init__()
        self.threads = threads
        self.done = 0
        self.failures = 0
        self.first_failure: str | None = None
        self.t_last = 0.0
        self.cond = threading.Condition()

    def onInstantMessageStatus(self, prm: pj.OnInstantMessageStatusParam) -> None:
        if prm.code != 200:
            self.failures += 1
            if self.first_failure is None:
                self.first_failure = f"{prm.code} {prm.reason} to {prm.toUri}"
        self.t_last = time.perf_counter()
        self.done += 1
        if self.threads:
            with self.cond:
                self.cond.notify()


def run_sender(args: argparse.Namespace) -> None:
    ep = start_endpoint(args.ip, args.port, args.threads)
    acc = SenderAccount(args.threads)
    acc.create(make_account_config(f"sip:send@{args.ip}:{args.port}"))

    # One buddy per in-flight slot.  Buddy objects must stay referenced
    # from Python for as long as they are used (SWIG director objects).
    # pjsua's buddy table is a fixed array (PJSUA_MAX_BUDDIES, 256 in this
    # wheel) and the wheel is built with assertions on: buddy #257 aborts
    # the process in pjsua_buddy_add() instead of returning an error.
    # Beyond 256 in flight the URIs are therefore reused round-robin.
    n_buddies = min(args.outstanding, MAX_BUDDIES) if args.distinct_uris else 1
    buddies = []
    for i in range(n_buddies):
        bcfg = pj.BuddyConfig()
        bcfg.uri = f"sip:u{i}@{args.ip}:{args.peer_port}"
        bcfg.subscribe = False
        buddy = pj.Buddy()
        buddy.create(acc, bcfg)
        buddies.append(buddy)

    prm = pj.SendInstantMessageParam()
    prm.contentType = "text/plain"
    prm.content = "ping"

    count, window = args.count, args.outstanding
    deadline = time.monotonic() + args.timeout
    sent = 0
    t_first = time.perf_counter()
    cpu_first = cpu_s()

    # Keep `window` requests in flight: refill after every event batch.
    while acc.done < count:
        while sent < count and sent - acc.done < window:
            buddies[sent % n_buddies].sendInstantMessage(prm)
            sent += 1
        if args.threads:
            with acc.cond:
                if sent - acc.done >= window or sent >= count:
                    acc.cond.wait(0.05)
        else:
            ep.libHandleEvents(10)
        if time.monotonic() > deadline:
            break

    seconds = (acc.t_last or time.perf_counter()) - t_first
    missing = count - acc.done
    result = {
        "impl": "pjsua2",
        "count": count,
        "outstanding": window,
        "seconds": round(seconds, 6),
        "rate": round(acc.done / seconds, 1) if seconds > 0 else 0.0,
        "failures": acc.failures + missing,
        "rss_kb": rss_kb(), "hwm_kb": proc_status("VmHWM"),
        "cpu_s": round(cpu_s() - cpu_first, 3),
        "threads": args.threads,
        "buddies": n_buddies,
    }
    if acc.first_failure:
        result["first_failure"] = acc.first_failure
    if missing:
        result["timed_out"] = missing
    emit(json.dumps(result))
    if missing:
        # Transactions still pending: an orderly teardown would terminate
        # them and pjsua would deliver their status to the already deleted
        # account -> assertion abort in pjsua_acc_get_user_data().  The
        # result is out, so leave without tearing anything down.
        os._exit(0)
    del buddies
    shutdown(ep, acc)


# --------------------------------------------------------------------------

def shutdown(ep: pj.Endpoint, acc: pj.Account) -> None:
    """Tear pjsua2 down in the order it needs.

    The account must be shut down before libDestroy(); destroying the
    library while SWIG still owns live Account/Buddy wrappers otherwise
    crashes in their destructors at interpreter exit.
    """
    acc.shutdown()
    ep.libDestroy()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", choices=("receiver", "sender"), required=True)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True,
                    help="local UDP port to bind")
    ap.add_argument("--peer-port", type=int, default=0,
                    help="receiver's UDP port (sender only)")
    ap.add_argument("--count", type=int, default=0,
                    help="sender: requests to send; receiver: exit after "
                         "this many (0 = until stdin EOF)")
    ap.add_argument("--outstanding", type=int, default=1,
                    help="sender: max requests in flight (1 = sequential)")
    ap.add_argument("--threads", type=int, default=0,
                    help="pjsua worker threads; 0 = poll libHandleEvents() "
                         "on the main thread (default, fastest)")
    ap.add_argument("--same-uri", dest="distinct_uris", action="store_false",
                    help="sender: send every request to one buddy URI "
                         "instead of one per in-flight slot")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="sender: give up after this many seconds")
    args = ap.parse_args(argv)
    if args.role == "sender" and not args.peer_port:
        ap.error("--peer-port is required for --role sender")
    if args.outstanding < 1:
        ap.error("--outstanding must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role == "receiver":
        run_receiver(args)
    else:
        run_sender(args)


if __name__ == "__main__":
    main()
