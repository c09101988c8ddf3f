"""The running SIP endpoint (the spec's PJSIPUA): pjlib/pjsip/pjmedia set-up and teardown,
the poll thread, transports, codecs, event packages, and the hand-off of calls made on
other threads.

Thread model
------------
One poll thread does *all* PJSIP work: it initialises pjlib, runs
``pjsip_endpt_handle_events2`` (cffi releases the GIL during the C call), delivers every
notification and tears everything down.  A public method called on another thread is
posted to it: the caller appends a call to a queue, wakes the poll thread through the
glue's wake-up socket (``sc_wake``, microseconds) and waits for the result, so exceptions
still reach the caller.  Called on the poll thread (from a receiver) it runs at once.
With one thread inside PJSIP there is no lock-order problem between Python locks and
PJSIP's group locks, and Python objects of the primitives are only touched there.

C threads (pjmedia workers, clock, sound) never run Python: the glue queues their log
lines, and the poll thread drains the queue after each poll and at the start of every
trampoline, so trace and log notifications keep their order relative to the others.

The running UA
--------------
:data:`current` is the one place the running UA is kept (set by ``Engine.start()``/``stop()``);
:func:`running` is how code that needs it gets it.  The trampolines (``sipcore._callbacks``)
read ``current``; SDP values reach PJMEDIA through :func:`with_pool`, which this module gives
``sdp`` (the values import nothing from here).  This module imports no primitive.
"""
from __future__ import annotations

import datetime
import logging
import os
import threading
import time
from collections import deque
from typing import Any, Callable, TypeVar

from . import _flat, _options, _pj, sdp, signals
from ._pj import check, ffi, lib, pj2str
from .errors import EngineNotRunningError, InvalidStateError, SIPCoreError

_from_epoch = datetime.datetime.fromtimestamp        # a C event's time, as notify's timestamps
_UTC = datetime.timezone.utc
_R = TypeVar("_R")
_allocate_lock = threading.Lock     # (_thread.allocate_lock)

#: PJSIP's log lines go to Python logging too, under this logger (pjlib level 1 -> ERROR,
#: 2 -> WARNING, 3 -> INFO, 4 and more -> DEBUG); the SIP trace (``trace_sip``) goes to
#: ``sipcore.trace`` at INFO.  ``logging.basicConfig(level=logging.DEBUG)`` or pytest's
#: ``caplog``/``-o log_cli=true`` show them; the ``log_level`` start option still decides what
#: PJSIP logs at all.
PJSIP_LOGGER = logging.getLogger("sipcore.pjsip")
TRACE_LOGGER = logging.getLogger("sipcore.trace")
_PJ_LEVELS = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}

POLL_TIMEOUT_MS = 100
#: DNS (RFC 3263 names): a query is sent again after this long, this many times, then fails
DNS_RETRANSMIT_MS = 1000
DNS_RETRANSMITS = 2
#: after this many seconds with a completely idle poll, freed heap memory is returned to the
#: system once (sc_trim_heap), so RSS follows the load instead of staying at its peak
TRIM_IDLE_SECONDS = 2.0
#: Engine.stop() waits at most this long for the servers' answers to the requests that end
#: registrations, publications and subscriptions (sent all at once)
STOP_ENDING_SECONDS = 2.0


class _PostedCall:
    """A call handed to the poll thread.  ``done`` is a lock taken when the call is made and
    released by the poll thread when it has run: the caller waits by taking it again (two C
    calls; a threading.Event costs a Condition and a dozen Python calls per wait)."""

    __slots__ = ("fn", "args", "done", "flag", "result", "error", "on_fail")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...],
                 on_fail: Callable[[], None] | None = None, flag: Any = None):
        self.fn = fn
        self.args = args
        self.done: Any
        self.flag = flag            # UA.call with a spin: an int * set to 1 once done
        if on_fail is None:
            self.done = _allocate_lock()
            self.done.acquire()
        else:                       # post_or_fail: nobody waits
            self.done = _NOBODY_WAITS
        self.result: Any = None
        self.error: BaseException | None = None
        self.on_fail = on_fail      # post_or_fail: run (on the poll thread) if fn never runs

    def finish(self) -> None:
        """On the poll thread, once result or error is set: let the caller have it (the flag
        after the release: the caller then takes the lock at once)."""
        self.done.release()
        if self.flag is not None:
            self.flag[0] = 1


class _NobodyWaits:
    """``done`` of a call posted by post_or_fail: nothing to release."""

    @staticmethod
    def release() -> None:
        pass


_NOBODY_WAITS = _NobodyWaits()


class UA:
    """One run of the endpoint, from Engine.start() to Engine.stop()."""

    def __init__(self, engine: Any, options: dict[str, Any]):
        self.engine = engine
        self.options = options  # validated by _options.validate_start
        self.running = False
        self.thread: threading.Thread | None = None
        self.thread_id: int | None = None
        self._stopping = False
        self._closed = False
        self._posted: deque[_PostedCall] = deque()
        self._posted_lock = threading.Lock()
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._keep: list[Any] = []
        self.endpt = ffi.NULL
        self.med_endpt = ffi.NULL
        self.cp = None
        # "udp" -> pjsip_transport*, "tcp"/"tls" -> tpfactory*
        self.transports: dict[str, Any] = {}
        self.checked_routes: dict[int, Any] = {}   # id(route) -> route that check_route() passed
        self.ports: dict[str, int | None] = {"udp": None, "tcp": None, "tls": None}
        self.codec_ids: list[str] = []        # full pjmedia ids, e.g. "PCMU/8000/1"
        self.available_codecs: list[str] = []
        self.events: dict[str, list[str]] = {}
        self.pending_messages: dict[str, Any] = {}
        self.timers: dict[int, tuple[Callable[[], None], Any]] = {}  # id -> (fn, entry)
        self._next_timer = 1
        self.primitives: set[Any] = set()          # live Registration/Publication/Subscription...
        self.scratch = _flat.Scratch()        # the poll thread's buffer and caches (_flat)
        # the audio bridge (media/_bridge.py: made at its first use, see `bridge`) and the media
        # objects (WaveFile, ... runs) that the teardown stops before destroying it
        self._bridge: Any = None
        self._bridge_closed = False
        self.media_objects: set[Any] = set()
        self.ua_renewals = 0                  # times _give_back_memory renewed the UA layer
        self.poll_rounds = 0                  # rounds of the Python poll loop (diagnostics) ...
        self.poll_events = 0                  # ... and events sc_poll handled in them

    # ---- thread hand-off ----------------------------------------------------------------

    def on_poll_thread(self) -> bool:
        return threading.get_ident() == self.thread_id

    @property
    def bridge(self) -> Any:
        """The audio bridge (media/_bridge.py), made on the poll thread at its first use (a
        WaveFile, a connected AudioTransport, the sound devices): an Engine that never plays
        audio runs no clock thread and keeps the bridge's memory (0.8-1.4 MB of RSS).  None
        once the Engine is stopping."""
        b = self._bridge
        if b is None and self.running and not self._stopping and not self._bridge_closed:
            b = self.call(self._make_bridge)
        return b

    def _make_bridge(self) -> Any:
        if self._bridge is None and not self._stopping and not self._bridge_closed:
            from .media._bridge import Bridge
            self._bridge = Bridge(self)
        return self._bridge

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn(*args) on the poll thread and return its result (or raise its error)."""
        if self.on_poll_thread():
            if not self.running:
                raise EngineNotRunningError(getattr(fn, "__name__", "this call"))
            return fn(*args)
        spin = self.options["poll_spin_us"]
        pc = _PostedCall(fn, args, None, ffi.new("int *") if spin else None)
        with self._posted_lock:
            if not self.running or self._stopping:
                raise EngineNotRunningError(getattr(fn, "__name__", "this call"),
                                            "stopping" if self.running else "stopped")
            self._posted.append(pc)
        lib.sc_wake()
        if spin:
            # look at the done flag without sleeping first (GIL released): a short call is
            # then answered without this thread's wake-up (sc_wait_done, glue.c)
            lib.sc_wait_done(pc.flag, spin)
        pc.done.acquire()
        if pc.error is not None:
            raise pc.error
        return pc.result

    def post(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Have the poll thread run fn(*args) soon, without waiting (any thread, also the poll
        thread itself, e.g. from a finalizer); False when the UA no longer runs calls."""
        with self._posted_lock:
            if not self.running or self._closed:
                return False
            self._posted.append(_PostedCall(fn, args))
        lib.sc_wake()
        return True

    def post_or_fail(self, fn: Callable[..., Any], *args: Any, on_fail: Callable[[], None],
                     first: Callable[[], None]) -> None:
        """Have the poll thread run fn(*args) soon, without waiting: the asynchronous
        hand-off of calls whose outcome is reported by a notification (send_message from an
        application thread).  EngineNotRunningError at once when the Engine is stopping or
        stopped; else ``first()`` runs here, under the lock that also closes the queue (it
        reserves what the call needs; what it raises refuses the call); once accepted,
        either fn runs on the poll thread or -- the Engine stopped first -- ``on_fail()``
        does, on the poll thread too, before SIPEngineDidEnd.  Either way the call is not
        lost.  ``fn`` must report its own errors (nobody waits for it)."""
        with self._posted_lock:
            if not self.running or self._stopping or self._closed:
                raise EngineNotRunningError(getattr(fn, "__name__", "this call"),
                                            "stopping" if self.running else "stopped")
            first()
            self._posted.append(_PostedCall(fn, args, on_fail))
        lib.sc_wake()

    # m-stream: the media worker
    def media_worker(self) -> None:
        """Start the media worker (its ioqueue, timer heap and C thread; glue_rtp.c) if it is
        not running: the first RTPTransport does, so an Engine without media has none."""
        check(lib.sc_media_worker_start(ffi.addressof(self.cp, "factory")),
              "starting the media worker")

    def _run_posted(self) -> None:
        # Only what was queued when it began: calls posted meanwhile wait for the next round,
        # so application threads posting without waiting (post_or_fail) cannot keep the poll
        # thread from polling.
        for _ in range(len(self._posted)):
            pc = self._posted.popleft()
            try:
                pc.result = pc.fn(*pc.args)
            except BaseException as exc:  # handed to the caller
                pc.error = exc
                if pc.on_fail is not None:      # (posted without waiting: nobody would see it)
                    self.report_exception(_format_exc())
            pc.finish()

    def _fail_posted(self) -> None:
        with self._posted_lock:
            self._closed = True
            failed = list(self._posted)
            self._posted.clear()
        for pc in failed:
            pc.error = EngineNotRunningError(getattr(pc.fn, "__name__", "this call"))
            pc.finish()
            if pc.on_fail is not None:      # (outside the lock: it notifies)
                try:
                    pc.on_fail()
                except BaseException:
                    self.report_exception(_format_exc())

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Called by Engine.start(): run the poll thread and wait until it is up."""
        self.thread = threading.Thread(target=self._run, name="sipcore-poll", daemon=True)
        self.thread.start()
        self._ready.wait()
        if self._start_error is not None:
            self.thread.join()
            raise self._start_error

    def request_stop(self) -> None:
        self._stopping = True
        lib.sc_wake()

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None and not self.on_poll_thread():
            self.thread.join(timeout)

    def _run(self) -> None:
        self.thread_id = threading.get_ident()
        signals._exception_reporter = self.report_exception
        try:
            self._init()
        except BaseException as exc:
            self._start_error = exc
            self._teardown()
            signals.notify(signals.SIPEngineDidFail, self.engine)
            self._ready.set()
            return
        self.running = True
        count = ffi.new("unsigned *")
        options = self.options
        idle_since = None          # monotonic time the poll last became idle, None: trimmed
        busy = True
        try:
            try:
                signals.notify(signals.SIPEngineDidStart, self.engine)
            finally:
                # start() waits for this: a receiver that raises what notify() lets through
                # (SystemExit, KeyboardInterrupt) must fail the run below, not hang start()
                self._ready.set()
            while not self._stopping:
                lib.sc_wake_ack()
                self._run_posted()
                if self._stopping:
                    break
                lib.sc_poll(self.endpt, 0 if self._posted else POLL_TIMEOUT_MS,
                            options["poll_spin_us"] if idle_since is None else 0, count)
                self.poll_rounds += 1
                self.poll_events += count[0]
                self.drain_c_events()
                if count[0]:
                    busy, idle_since = True, None
                elif busy:
                    now = time.monotonic()
                    if idle_since is None:
                        idle_since = now
                    elif now - idle_since >= TRIM_IDLE_SECONDS:
                        self._give_back_memory()
                        busy = False
            signals.notify(signals.SIPEngineWillEnd, self.engine)
            self._run_posted()
            self._end_on_wire()
        except BaseException:
            self.report_exception(_format_exc())
            signals.notify(signals.SIPEngineDidFail, self.engine)
        finally:
            self._stopping = True
            for primitive in list(self.primitives):
                try:
                    primitive._engine_stopping()
                except BaseException:
                    self.report_exception(_format_exc())
            self._teardown()
            self.running = False
            self._fail_posted()
            signals.notify(signals.SIPEngineDidEnd, self.engine)
            if signals._exception_reporter == self.report_exception:
                signals._exception_reporter = None

    def _end_on_wire(self) -> None:
        """Engine.stop(), before the teardown: end what the primitives hold on servers
        (registrations, publications, subscriptions: the request with Expires: 0), all at
        once, polling for their answers at most STOP_ENDING_SECONDS in all; then one
        SIPEngineCouldNotEnd names those that were not ended (no answer in time, or a
        failure).  Invitations say goodbye (BYE, CANCEL) in their own _engine_stopping."""
        # MESSAGEs in flight hold nothing on a server: answered "Engine stopped" now, as
        # before, rather than by whatever comes while the endings are waited for
        for token_owner in list(self.pending_messages.values()):
            try:
                token_owner.abandon()
            except BaseException:
                self.report_exception(_format_exc())
        ending = []
        for primitive in list(self.primitives):
            try:
                # media cores (RTPTransport's, AudioTransport's) hold nothing on a server
                end = getattr(primitive, "_end_on_wire", None)
                if end is not None and end():
                    ending.append(primitive)
            except BaseException:
                self.report_exception(_format_exc())
        if not ending:
            return
        count = ffi.new("unsigned *")
        deadline = time.monotonic() + STOP_ENDING_SECONDS
        while any(p._end_pending() for p in ending):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            lib.sc_wake_ack()
            self._run_posted()
            lib.sc_poll(self.endpt, max(1, min(50, int(left * 1000))), 0, count)
            self.drain_c_events()
        failed = [(p, p._end_failure()) for p in ending]
        failed = [(p, why) for p, why in failed if why is not None]
        if failed:
            signals.notify(signals.SIPEngineCouldNotEnd, self.engine,
                           objects=[p for p, _ in failed], reasons=[why for _, why in failed])

    def _give_back_memory(self) -> None:
        """After TRIM_IDLE_SECONDS of a completely idle poll, once: renew PJSIP's UA layer if
        no dialog exists (sc_ua_renew: its pool only ever grows), then return free pool slabs
        and heap to the system (sc_trim_heap)."""
        renewed = lib.sc_ua_renew(self.endpt)
        if renewed > 0:
            self.ua_renewals += 1
        elif renewed < 0:
            self.report_exception("sipcore: loading PJSIP's UA layer again failed (out of "
                                  "memory); tried again at the next idle moment\n")
        lib.sc_trim_heap()

    def report_exception(self, tb: str) -> None:
        signals.report_exception(self.engine, tb)

    def _init(self) -> None:
        o = self.options
        lib.sc_install_log_writer()
        lib.pj_log_set_level(o["log_level"])
        lib.sc_events_clear()
        check(lib.pj_init(), "pj_init")
        self._pj_inited = True
        # pjlib never seeds pj_rand(), which makes every Call-ID, tag and Via branch (pjlib's own
        # GUIDs are used, not libuuid): unseeded, every sipcore process would produce the same
        # sequence.  Seed it from the OS at every start.
        lib.pj_srand(int.from_bytes(os.urandom(4), "little"))
        check(lib.pjlib_util_init(), "pjlib_util_init")
        # pjnath's error texts (STUN/ICE: "Unknown Attribute", "STUN transaction has timed
        # out"); once per pj_init (pj_shutdown forgets them; a second call asserts) (m-peers)
        check(lib.pjnath_init(), "pjnath_init")
        self.cp = ffi.new("pj_caching_pool *")
        # Pool blocks come from sipcore's slabs, not malloc (why: glue_pool.c).  The caching
        # pool keeps no released pools (capacity 0): the slabs already re-use a freed block at
        # once, and pools parked in the cache pinned pages all over the slabs after a burst
        # (RSS stayed higher; figures in benchmarks/README.md).
        lib.pj_caching_pool_init(self.cp, lib.sc_pool_policy(), 0)
        endpt = ffi.new("pjsip_endpoint **")
        self._name = ffi.new("char[]", b"sipcore")
        check(lib.pjsip_endpt_create(ffi.addressof(self.cp, "factory"), self._name, endpt),
              "pjsip_endpt_create")
        self.endpt = endpt[0]
        check(lib.pjsip_tsx_layer_init_module(self.endpt), "pjsip_tsx_layer_init_module")
        check(lib.pjsip_ua_init_module(self.endpt, ffi.NULL), "pjsip_ua_init_module")
        check(lib.pjsip_evsub_init_module(self.endpt), "pjsip_evsub_init_module")
        check(lib.pjsip_publishc_init_module(self.endpt), "pjsip_publishc_init_module")
        check(lib.sc_modules_register(self.endpt), "registering sipcore's modules")
        # pjsip_inv, 100rel, session timers and mod-sipcore-inv (glue_inv.c), for the Invitations
        lib.sc_inv_set_timer(_options.SESSION_TIMERS.index(o["session_timer"]),
                             o["session_expires"], o["session_min_se"])
        check(lib.sc_inv_init(self.endpt), "initialising INVITE sessions")
        check(lib.sc_wake_init(self.endpt), "creating the wake-up socket")
        self.scratch.lend()                   # (incoming MESSAGEs are written into it)
        med = ffi.new("pjmedia_endpt **")
        # This media endpoint serves the codec manager and the streams, so it shares the SIP
        # ioqueue and has no worker thread: its own ioqueue would cost 1.9 MB of idle RSS
        # (2.7 -> 4.7 MB for a started Engine).  RTP sockets are on the media worker's ioqueue
        # instead, polled by a C thread, started by the first RTPTransport (glue_rtp.c), so
        # Python never delays media and an Engine without media pays nothing.
        check(lib.pjmedia_endpt_create2(ffi.addressof(self.cp, "factory"),
                                        lib.pjsip_endpt_get_ioqueue(self.endpt), 0, med),
              "pjmedia_endpt_create")
        self.med_endpt = med[0]
        check(lib.pjmedia_codec_register_audio_codecs(self.med_endpt, ffi.NULL),
              "registering audio codecs")
        self._load_codecs()
        self.set_codecs(o["codecs"] if o["codecs"] is not None else
                        [c for c in DEFAULT_CODECS
                         if c.lower() in {a.lower() for a in self.available_codecs}])
        for event, types in o["events"].items():
            self.add_event(event, types)
        if o["local_ip"] is None:
            o["local_ip"] = self._default_ip()
        self.set_user_agent(o["user_agent"])
        self._start_dns(o["nameservers"])
        lib.sc_set_trace(1 if o["trace_sip"] else 0)
        lib.sc_set_message_answer(1 if o["message_answer"] == "receiver" else 0)
        self.start_transport("udp", o["local_udp_port"])
        self.start_transport("tcp", o["local_tcp_port"])
        self.start_transport("tls", o["local_tls_port"])

    def _start_dns(self, servers: list[tuple[str, int]]) -> None:
        """Names (RFC 3263) through these name servers; a query is sent again after 1 s, at
        most twice, so name servers that never answer fail a request with 503 "Operation
        timed out" after about 2 s (glibc waits 5 s per try; a SIP request's own timer is
        32 s)."""
        ips = [ffi.new("char[]", ip.encode()) for ip, _ in servers]
        keep = ffi.new("const char *[]", ips)
        ports = ffi.new("int[]", [port for _, port in servers])
        check(lib.sc_dns_init(self.endpt, ffi.addressof(self.cp, "factory"), len(servers),
                              keep, ports, DNS_RETRANSMIT_MS, DNS_RETRANSMITS),
              "creating the DNS resolver")
        self._dns_on = True

    def _dns_transports(self) -> None:
        lib.sc_dns_set_transports(sum(bit for kind, bit in (("udp", 1), ("tcp", 2), ("tls", 4))
                                      if kind in self.transports)
                                  + (8 if ":" in self.options["local_ip"] else 0),
                                  self.transports.get("tls", ffi.NULL))

    def _teardown(self) -> None:
        for token_owner in list(self.pending_messages.values()):
            try:
                token_owner.abandon()
            except BaseException:
                self.report_exception(_format_exc())
        for tid in list(self.timers):
            self.cancel(tid)
        if self.endpt != ffi.NULL:
            self.checked_routes.clear()
            for kind in ("tcp", "tls"):
                f = self.transports.pop(kind, None)
                if f is not None:
                    lib.sc_factory_destroy(f)
            lib.sc_wake_destroy(self.endpt)
        # m-bridge: every media object first (players, recorders, streams: their ports leave
        # the bridge and are destroyed), then the bridge and its clock, then the endpoint
        while self.media_objects:
            obj = self.media_objects.pop()
            try:
                obj._engine_stopping()
            except BaseException:
                self.report_exception(_format_exc())
        self._bridge_closed = True
        if self._bridge is not None:
            self._bridge.destroy()
            self._bridge = None
        lib.sc_media_worker_stop()      # every RTPTransport is closed (primitives' stop)
        if self.med_endpt != ffi.NULL:
            lib.pjmedia_endpt_destroy2(self.med_endpt)
            self.med_endpt = ffi.NULL
        if self.endpt != ffi.NULL:
            if getattr(self, "_dns_on", False):
                lib.sc_dns_shutdown(self.endpt)
                self._dns_on = False
            lib.pjsip_endpt_destroy(self.endpt)
            self.endpt = ffi.NULL
        self.transports.clear()
        self.scratch.release()
        self.drain_c_events()
        _pj.handles.clear()
        if self.cp is not None:
            lib.pj_caching_pool_destroy(self.cp)
            self.cp = None
            lib.sc_trim_heap()
        if getattr(self, "_pj_inited", False):
            lib.pj_shutdown()
            self._pj_inited = False
        lib.sc_events_clear()

    # ---- C events: log lines, SIP trace, media events -----------------------------------

    def drain_c_events(self) -> None:
        if not lib.sc_q_count:
            return
        while True:
            ev = lib.sc_event_pop()
            if ev == ffi.NULL:
                return
            try:
                if ev.kind == lib.SC_EV_LOG:
                    py_level = _PJ_LEVELS.get(ev.level, logging.DEBUG)
                    to_log = PJSIP_LOGGER.isEnabledFor(py_level)
                    if to_log or signals.has_receivers(signals.SIPEngineLog):
                        text = ffi.unpack(ev.text, ev.len).decode("utf-8", "replace")
                        # pjlib writes the sender right-aligned in a fixed-width field
                        w = lib.PJ_LOG_SENDER_WIDTH
                        module, message = text[:w].strip(), text[w:].strip()
                        if to_log:
                            PJSIP_LOGGER.log(py_level, "%s: %s", module, message)
                        signals.notify(signals.SIPEngineLog, self.engine, log_sender=module,
                                       level=ev.level, message=message,
                                       timestamp=_from_epoch(ev.time, _UTC))
                elif ev.kind == lib.SC_EV_TRACE:
                    to_log = TRACE_LOGGER.isEnabledFor(logging.INFO)
                    if to_log or signals.has_receivers(signals.SIPEngineSIPTrace):
                        data = dict(received=bool(ev.received),
                                    source_ip=ffi.string(ev.src_ip).decode(),
                                    source_port=ev.src_port,
                                    destination_ip=ffi.string(ev.dst_ip).decode(),
                                    destination_port=ev.dst_port,
                                    data=ffi.unpack(ev.text, ev.len).decode("utf-8", "replace"),
                                    timestamp=_from_epoch(ev.time, _UTC))
                        if to_log:
                            TRACE_LOGGER.info("%s %s:%d -> %s:%d\n%s",
                                              "received" if ev.received else "sent",
                                              data["source_ip"], data["source_port"],
                                              data["destination_ip"], data["destination_port"],
                                              data["data"])
                        signals.notify(signals.SIPEngineSIPTrace, self.engine, **data)
                elif ev.kind == lib.SC_EV_MEDIA:
                    # from a C media thread (DTMF, wave end, ICE/STUN, NAT type): to the object
                    # registered under the token, if it still is
                    owner = _pj.handles.get(ev.token)
                    if owner is not None:
                        owner.on_media_event(ev.what, ev.value, ev.status,
                                             ffi.unpack(ev.text, ev.len).decode("utf-8", "replace"))
            except BaseException:
                self.report_exception(_format_exc())
            finally:
                lib.sc_event_free(ev)

    # ---- timers -------------------------------------------------------------------------

    def schedule(self, delay: float, fn: Callable[[], None]) -> int:
        """Call fn on the poll thread after delay seconds; returns a handle for cancel()."""
        tid = self._next_timer
        self._next_timer += 1
        entry = ffi.new("pj_timer_entry *")   # kept alive in self.timers until fired/cancelled
        lib.sc_timer_init(entry, tid)
        tv = ffi.new("pj_time_val *")
        tv.sec = int(delay)
        tv.msec = int((delay - int(delay)) * 1000)
        check(lib.pjsip_endpt_schedule_timer(self.endpt, entry, tv), "scheduling a timer")
        self.timers[tid] = (fn, entry)
        return tid

    def on_timer(self, tid: int) -> None:
        """A timer of schedule() fired (sc_py_on_timer)."""
        item = self.timers.pop(tid, None)
        if item is not None:
            item[0]()

    def cancel(self, tid: int | None) -> None:
        if tid is None:
            return
        item = self.timers.pop(tid, None)
        if item is not None and self.endpt != ffi.NULL:
            lib.pjsip_endpt_cancel_timer(self.endpt, item[1])

    # ---- transports ---------------------------------------------------------------------

    @staticmethod
    def _default_ip() -> str:
        addr = ffi.new("pj_sockaddr *")
        if lib.pj_getdefaultipinterface(lib.pj_AF_INET(), addr) == lib.PJ_SUCCESS:
            buf = ffi.new("char[]", 64)
            lib.pj_sockaddr_print(addr, buf, 64, 0)
            ip: str = ffi.string(buf).decode()
            return ip
        return "127.0.0.1"

    def start_transport(self, kind: str, port: int | None,
                        restore: Callable[[], None] | None = None) -> None:
        """(Re)start the UDP, TCP or TLS transport on port (0: any), or stop it (None).

        The transport that works stays until the new one is up: a new one that fails (a port
        in use, a certificate that does not load) raises and leaves it as it was.  On the port
        the old one holds, the old one must go first; when the new one then fails,
        ``restore`` (which puts the old settings back) runs and the old one starts again."""
        if port is None:
            self.stop_transport(kind)
            return
        old = self.transports.get(kind)
        old_port = self.ports[kind]
        if old is not None and port != 0 and port == old_port:
            self.stop_transport(kind)
            try:
                self._open_transport(kind, port)
            except SIPCoreError:
                if restore is not None:
                    restore()
                try:
                    self._open_transport(kind, port)
                except SIPCoreError:
                    pass        # (the port was taken meanwhile: reported by the first error)
                raise
            return
        self._open_transport(kind, port)           # raises: the old one untouched
        if old is not None:
            self._close_transport(kind, old)

    def _open_transport(self, kind: str, port: int) -> None:
        """Start a transport of this kind and make it the one used (transports, ports)."""
        ip = self.options["local_ip"].encode()
        if kind == "udp":
            tp = ffi.new("pjsip_transport **")
            check(lib.sc_start_udp(self.endpt, ip, port, tp),
                  f"starting the UDP transport on port {port}")
            handle, bound = tp[0], lib.sc_transport_port(tp[0])
        else:
            f = ffi.new("pjsip_tpfactory **")
            if kind == "tcp":
                check(lib.sc_start_tcp(self.endpt, ip, port, f),
                      f"starting the TCP transport on port {port}")
            else:
                o = self.options
                keep: list[Any] = []

                def cstr(v: str | None) -> Any:
                    if v is None:
                        return ffi.NULL
                    b = ffi.new("char[]", v.encode())
                    keep.append(b)
                    return b

                tls = ffi.new("sc_tls_opts_t *")
                tls.ca_file = cstr(o["tls_ca_file"])
                tls.ca_path = cstr(SYSTEM_CA_PATH if o["tls_ca_file"] is None else None)
                tls.cert_file = cstr(o["tls_cert_file"])
                tls.privkey_file = cstr(o["tls_privkey_file"])
                tls.proto = TLS_PROTOCOLS[o["tls_protocol"]]
                tls.verify_server = 1 if o["tls_verify_server"] else 0
                tls.timeout_ms = o["tls_timeout"]
                check(lib.sc_start_tls(self.endpt, ip, port, tls, f),
                      f"starting the TLS transport on port {port}")
            handle, bound = f[0], lib.sc_factory_port(f[0])
        self.checked_routes.clear()
        self.transports[kind] = handle
        self.ports[kind] = bound
        self._dns_transports()

    def check_route(self, route: Any, remember: bool = True) -> None:
        """SIPCoreError unless a transport of this Engine can reach the route.

        ``route`` is always a private copy nothing changes (the primitives' own, or the
        snapshot Route._wire() keeps while the application's Route is unchanged), so one that
        passed is remembered by identity while the transports stay as they are: sending to
        the same route again does not check it again.  Only the poll thread remembers (it
        alone changes the transports): ``remember=False`` off it."""
        if self.checked_routes.get(id(route)) is route:
            return
        kind = route.transport or "udp"
        if kind not in self.transports:
            raise InvalidStateError(f"sending over {kind.upper()}",
                                    f"{kind.upper()} transport disabled")
        if not route.is_name and route.is_ipv6 != (":" in self.options["local_ip"]):
            raise SIPCoreError(f"route {route.address} is IPv{6 if route.is_ipv6 else 4} but the "
                               f"Engine's transports are bound to {self.options['local_ip']}")
        if not remember:
            return
        if len(self.checked_routes) >= 256:
            self.checked_routes.clear()
        self.checked_routes[id(route)] = route

    def stop_transport(self, kind: str) -> None:
        self.checked_routes.clear()
        t = self.transports.pop(kind, None)
        self.ports[kind] = None
        if t is not None:
            self._dns_transports()
            self._close_transport(kind, t)

    @staticmethod
    def _close_transport(kind: str, t: Any) -> None:
        if kind == "udp":
            lib.sc_udp_stop(t)
        else:
            lib.sc_factory_destroy(t)

    # ---- codecs -------------------------------------------------------------------------

    def _load_codecs(self) -> None:
        mgr = lib.pjmedia_endpt_get_codec_mgr(self.med_endpt)
        count = ffi.new("unsigned *", lib.PJMEDIA_CODEC_MGR_MAX_CODECS)
        info = ffi.new("pjmedia_codec_info[]", lib.PJMEDIA_CODEC_MGR_MAX_CODECS)
        check(lib.pjmedia_codec_mgr_enum_codecs(mgr, count, info, ffi.NULL), "listing codecs")
        names: list[str] = []
        for i in range(count[0]):
            ci = info[i]
            name = pj2str(ci.encoding_name)
            self.codec_ids.append(f"{name}/{ci.clock_rate}/{ci.channel_cnt}")
            if name not in names:
                names.append(name)
        self.available_codecs = names

    def set_codecs(self, codecs: list[str]) -> list[str]:
        canon = {c.lower(): c for c in self.available_codecs}
        chosen = []
        for c in codecs:
            if c.lower() not in canon:
                raise ValueError(f"codecs: {c!r} is not an available codec "
                                 f"(available: {', '.join(self.available_codecs)})")
            if canon[c.lower()] in chosen:
                raise ValueError(f"codecs: {c!r} is listed twice")
            chosen.append(canon[c.lower()])
        mgr = lib.pjmedia_endpt_get_codec_mgr(self.med_endpt)
        keep: list[Any] = []
        for cid in self.codec_ids:
            lib.pjmedia_codec_mgr_set_codec_priority(mgr, _pj.pjstr(cid, keep), 0)
        for i, name in enumerate(chosen):
            lib.pjmedia_codec_mgr_set_codec_priority(mgr, _pj.pjstr(name + "/", keep), 254 - i)
        self.options["codecs"] = chosen
        return chosen

    # ---- events, user agent -------------------------------------------------------------

    def add_event(self, event: str, accept_types: list[str]) -> None:
        if event in self.events:
            raise ValueError(f"event {event!r} is already registered (events cannot be changed)")
        keep: list[Any] = []
        arr = ffi.new("pj_str_t[]", len(accept_types))
        for i, t in enumerate(accept_types):
            s = _pj.pjstr(t, keep)
            arr[i] = s[0]
        check(lib.pjsip_evsub_register_pkg(lib.sc_app_module(), _pj.pjstr(event, keep), 3600,
                                           len(accept_types), arr),
              f"registering event package {event!r}")
        self.events[event] = list(accept_types)

    def set_user_agent(self, ua: str) -> None:
        lib.sc_set_user_agent(ua.encode())
        self.options["user_agent"] = ua

    # ---- PJSIP pools ---------------------------------------------------------------------

    def in_pool(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """fn(pool, *args) with a temporary pool, released after (on the poll thread)."""
        pool = lib.pjsip_endpt_create_pool(self.endpt, b"sc-tmp", 4096, 4096)
        if pool == ffi.NULL:
            raise SIPCoreError("out of memory")
        try:
            return fn(pool, *args)
        finally:
            lib.pjsip_endpt_release_pool(self.endpt, pool)


DEFAULT_CODECS = ["opus", "speex", "G722", "PCMU", "PCMA", "GSM"]
SYSTEM_CA_PATH = "/etc/ssl/certs"
TLS_PROTOCOLS = {
    None: 0,
    "SSLv23": lib.PJ_SSL_SOCK_PROTO_SSL23,
    "TLSv1": lib.PJ_SSL_SOCK_PROTO_TLS1 | lib.PJ_SSL_SOCK_PROTO_TLS1_1
    | lib.PJ_SSL_SOCK_PROTO_TLS1_2 | lib.PJ_SSL_SOCK_PROTO_TLS1_3,
    "TLSv1.1": lib.PJ_SSL_SOCK_PROTO_TLS1_1 | lib.PJ_SSL_SOCK_PROTO_TLS1_2
    | lib.PJ_SSL_SOCK_PROTO_TLS1_3,
    "TLSv1.2": lib.PJ_SSL_SOCK_PROTO_TLS1_2 | lib.PJ_SSL_SOCK_PROTO_TLS1_3,
    "TLSv1.3": lib.PJ_SSL_SOCK_PROTO_TLS1_3,
}


def _format_exc() -> str:
    import traceback
    return traceback.format_exc()


#: the UA of the running Engine, None before the first start; the one place it is kept
current: UA | None = None


def running(what: str) -> UA:
    """The running UA; EngineNotRunningError naming ``what`` when the Engine is not running."""
    ua = current
    if ua is None or not ua.running:
        raise EngineNotRunningError(what)
    return ua


def with_pool(what: str, fn: Callable[..., _R], *args: Any) -> _R:
    """fn(pool, *args) on the poll thread of the running UA, with a temporary pool: how SDP
    values reach PJMEDIA (sdp.with_pool)."""
    ua = running(what)
    result: _R = ua.call(ua.in_pool, fn, args)
    return result


sdp.with_pool = with_pool
