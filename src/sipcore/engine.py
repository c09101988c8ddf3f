"""Engine: the singleton that starts, runs and stops the SIP core.

``Engine()`` always returns the same object.  ``start(**options)`` brings up PJSIP on a
poll thread; ``stop()`` (also run at interpreter exit) takes it down.  Unlike the spec's
Engine, a stopped Engine can be started again in the same process (test suites need it).

Once started, the options are readable as attributes; ``user_agent``, ``log_level``,
``trace_sip``, ``message_answer``, ``codecs``, ``rtp_port_range`` and ``playback_dtmf`` can be
set (``session_timer``, ``session_expires`` and ``session_min_se`` only read), the
transports are changed with ``set_local_udp_port``, ``set_local_tcp_port`` and
``set_tls_options``.  Reading or calling any of them on an Engine that is not running
raises :class:`~sipcore.errors.EngineNotRunningError` (a ``SIPCoreError``).

Every method may be called from any thread; see ``sipcore._ua`` for how.
"""
from __future__ import annotations

import atexit
import copy
import ipaddress
import threading
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from . import _options, _pj, _ua, signals
from ._validate import check_int
from .errors import EngineNotRunningError, InvalidStateError, PJSIPError
from .uri import SIPURI, parse_in_pool

if TYPE_CHECKING:   # (typing.Unpack for **kwargs is 3.12+; mypy knows typing_extensions)
    from typing_extensions import Unpack

__all__ = ["Engine"]

_R = TypeVar("_R")


def _on_poll_thread(what: str, fn: Callable[..., _R], *args: Any) -> _R:
    """fn(ua, *args) on the poll thread of the running UA; EngineNotRunningError naming what."""
    ua = _ua.running(what)
    result: _R = ua.call(fn, ua, *args)
    return result


class _Option:
    """An Engine attribute backed by the running UA's option ``name``."""

    def __init__(self, name: str, setter: str | None = None, hint: str = ""):
        self.name = name
        self.setter = setter
        self.hint = hint

    def __set_name__(self, owner: type, attr: str) -> None:
        self.__doc__ = f"The {self.name!r} option of the running Engine."

    def __get__(self, engine: Any, owner: type) -> Any:
        if engine is None:
            return self
        value = _ua.running(self.name).options[self.name]
        return copy.deepcopy(value) if isinstance(value, (list, dict)) else value

    def __set__(self, engine: Any, value: Any) -> None:
        if self.setter is None:
            raise AttributeError(f"{self.name} is read-only{self.hint}")
        getattr(engine, self.setter)(value)


class _Port:
    """A read-only Engine attribute: the port the ``kind`` transport is bound to (None: that
    transport is disabled); ``how`` names the method that changes it."""

    def __init__(self, kind: str, how: str):
        self.kind = kind
        self.how = how
        self.__doc__ = (f"The port the {kind.upper()} transport is bound to (None: "
                        f"{kind.upper()} disabled); read-only, changed by {how}.")

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    def __get__(self, engine: Any, owner: type) -> Any:
        if engine is None:
            return self
        return _ua.running(self.attr).ports[self.kind]

    def __set__(self, engine: Any, value: Any) -> None:
        raise AttributeError(f"{self.attr} is read-only; use {self.how}")


class Engine:
    """The SIP core (a singleton).  See the module documentation."""

    default_start_options = _options.DEFAULT_START_OPTIONS

    _instance: Engine | None = None
    _instance_lock = threading.Lock()
    _lock: threading.RLock
    _atexit: bool
    _start_options: dict[str, Any]

    def __new__(cls) -> Engine:
        inst = cls._instance
        if inst is not None:          # the common case, without the lock
            return inst
        with cls._instance_lock:
            if cls._instance is None:
                inst = super().__new__(cls)
                inst._lock = threading.RLock()
                inst._atexit = False
                cls._instance = inst
            return cls._instance

    def __repr__(self) -> str:
        return f"<sipcore.Engine {'running' if self.is_running else 'stopped'}>"

    # ---- lifecycle ----------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        ua = _ua.current
        return ua is not None and ua.running and not ua._stopping

    def start(self, **options: Unpack[_options.EngineOptions]) -> None:
        """Start the SIP core with the given options (see ``default_start_options``).

        Raises TypeError/ValueError for a bad option and ``PJSIPError`` if PJSIP fails to
        start (e.g. a port in use).  On a running Engine (a notebook cell run again) it does
        nothing when the options are those it was started with, and raises
        ``InvalidStateError`` naming the options that differ otherwise (a deviation: the
        spec's start() on a running Engine is an error whatever the options).

        The options are typed (``sipcore._options.EngineOptions``, a TypedDict): mypy checks
        their names and types in the caller's code.
        """
        with self._lock:
            opts = _options.validate_start(options)
            if _ua.current is not None and _ua.current.running:
                if opts == getattr(self, "_start_options", None):
                    return
                raise _already_running(self._start_options, opts)
            signals.notify(signals.SIPEngineWillStart, self)
            self._start_options = dict(opts)    # (before the UA fills in what it resolves)
            ua = _ua.current = _ua.UA(self, opts)
            try:
                ua.start()
            except BaseException:
                _ua.current = None
                raise
            if not self._atexit:
                atexit.register(self._stop_at_exit)
                self._atexit = True

    def stop(self) -> None:
        """Stop the SIP core; a no-op when it is not running.

        From another thread it returns once everything is torn down (``SIPEngineDidEnd``
        sent).  From a notification receiver (the poll thread) it only asks for the stop,
        which happens as soon as the receiver returns.
        """
        with self._lock:
            ua = _ua.current
            if ua is None:
                return
            ua.request_stop()
            if ua.on_poll_thread():
                return
            ua.join()
            if _ua.current is ua:       # a DidEnd receiver may have started a new run
                _ua.current = None

    def _stop_at_exit(self) -> None:
        try:
            self.stop()
        except Exception:
            pass

    # ---- proxied attributes -------------------------------------------------------------

    local_ip = _Option("local_ip")
    tls_protocol = _Option("tls_protocol", hint="; use set_tls_options()")
    tls_verify_server = _Option("tls_verify_server", hint="; use set_tls_options()")
    tls_ca_file = _Option("tls_ca_file", hint="; use set_tls_options()")
    tls_cert_file = _Option("tls_cert_file", hint="; use set_tls_options()")
    tls_privkey_file = _Option("tls_privkey_file", hint="; use set_tls_options()")
    tls_timeout = _Option("tls_timeout", hint="; use set_tls_options()")
    ec_tail_length = _Option("ec_tail_length")
    sample_rate = _Option("sample_rate")
    user_agent = _Option("user_agent", "_set_user_agent")
    log_level = _Option("log_level", "_set_log_level")
    trace_sip = _Option("trace_sip", "_set_trace_sip")
    message_answer = _Option("message_answer", "_set_message_answer")
    playback_dtmf = _Option("playback_dtmf", "_set_playback_dtmf")
    rtp_port_range = _Option("rtp_port_range", "_set_rtp_port_range")
    codecs = _Option("codecs", "_set_codecs")
    poll_spin_us = _Option("poll_spin_us", "_set_poll_spin_us")
    session_timer = _Option("session_timer")
    session_expires = _Option("session_expires")
    session_min_se = _Option("session_min_se")

    local_udp_port = _Port("udp", "set_local_udp_port()")
    local_tcp_port = _Port("tcp", "set_local_tcp_port()")
    local_tls_port = _Port("tls", "set_tls_options()")

    @property
    def events(self) -> dict[str, list[str]]:
        """Registered event packages and their content types (add more with add_event)."""
        return copy.deepcopy(_ua.running("events").events)

    @property
    def available_codecs(self) -> list[str]:
        """Every audio codec PJMEDIA has, whatever ``codecs`` selects."""
        return list(_ua.running("available_codecs").available_codecs)

    def _set_user_agent(self, value: Any) -> None:
        value = _options.check_user_agent(value)
        _on_poll_thread("user_agent", lambda ua: ua.set_user_agent(value))

    def _set_log_level(self, value: Any) -> None:
        value = _options.check_log_level(value)

        def apply(ua: _ua.UA) -> None:
            from ._pj import lib
            lib.pj_log_set_level(value)
            ua.options["log_level"] = value
        _on_poll_thread("log_level", apply)

    def _set_poll_spin_us(self, value: Any) -> None:
        value = _options.check_poll_spin_us(value)

        def apply(ua: _ua.UA) -> None:
            ua.options["poll_spin_us"] = value
        _on_poll_thread("poll_spin_us", apply)

    def _set_trace_sip(self, value: Any) -> None:
        value = _options.check_trace_sip(value)

        def apply(ua: _ua.UA) -> None:
            from ._pj import lib
            lib.sc_set_trace(1 if value else 0)
            ua.options["trace_sip"] = value
        _on_poll_thread("trace_sip", apply)

    def _set_message_answer(self, value: Any) -> None:
        value = _options.check_message_answer(value)

        def apply(ua: _ua.UA) -> None:
            from ._pj import lib
            lib.sc_set_message_answer(1 if value == "receiver" else 0)
            ua.options["message_answer"] = value
        _on_poll_thread("message_answer", apply)

    def _set_playback_dtmf(self, value: Any) -> None:
        value = _options.check_playback_dtmf(value)
        _on_poll_thread("playback_dtmf", lambda ua: ua.options.__setitem__("playback_dtmf", value))

    def _set_rtp_port_range(self, value: Any) -> None:
        value = _options.check_rtp_port_range(value)
        _on_poll_thread("rtp_port_range",
                        lambda ua: ua.options.__setitem__("rtp_port_range", value))

    def _set_codecs(self, value: Any) -> None:
        value = _options.check_codecs(value)
        if value is None:
            raise TypeError("codecs must be a list of codec names")
        _on_poll_thread("codecs", lambda ua: ua.set_codecs(value))

    # ---- proxied methods ----------------------------------------------------------------

    def add_event(self, event: str, accept_types: list[str]) -> None:
        """Couple an event package to its content types; cannot be undone or changed."""
        event, accept_types = _options.check_event(event, accept_types)
        _on_poll_thread("add_event", lambda ua: ua.add_event(event, accept_types))

    def set_local_udp_port(self, value: int | None) -> None:
        """Restart the UDP transport on port ``value`` (0: any), or stop it (None).  The old
        transport works until the new one is up; when the new one cannot start (the port is
        in use) this raises SIPCoreError and the old one stays."""
        value = _options.check_port("value", value)
        _on_poll_thread("set_local_udp_port", lambda ua: ua.start_transport("udp", value))

    def set_local_tcp_port(self, value: int | None) -> None:
        """Restart the TCP listener on port ``value`` (0: any), or stop it (None); a failure
        leaves the old listener (as set_local_udp_port)."""
        value = _options.check_port("value", value)
        _on_poll_thread("set_local_tcp_port", lambda ua: ua.start_transport("tcp", value))

    def set_tls_options(self, local_port: int | None = None, protocol: str | None = "TLSv1.2",
                        verify_server: bool = True, ca_file: str | None = None,
                        cert_file: str | None = None, privkey_file: str | None = None,
                        timeout: int = 1000) -> None:
        """(Re)start the TLS transport with these settings, or stop it (local_port None).

        Defaults follow the secure defaults of ``start()`` (spec: TLSv1, no verification).
        When the new listener cannot start, this raises SIPCoreError and the old one (with
        its settings) stays; on the port the old one holds it is started again.
        """
        port = _options.check_port("local_port", local_port)
        tls = _options.check_tls(protocol, verify_server, ca_file, cert_file, privkey_file,
                                 timeout, prefix="")

        def apply(ua: _ua.UA) -> None:
            before = {k: ua.options[k] for k in tls}
            ua.options.update(tls)
            try:
                ua.start_transport("tls", port, restore=lambda: ua.options.update(before))
            except BaseException:
                ua.options.update(before)       # the settings of the listener that works
                raise
        _on_poll_thread("set_tls_options", apply)

    def parse_sip_uri(self, uri_string: str) -> SIPURI:
        """Parse ``uri_string`` with PJSIP's parser into a SIPURI; SIPCoreError if invalid."""
        if not isinstance(uri_string, str):
            raise TypeError(f"uri_string must be a str, not {type(uri_string).__name__}")
        return _ua.with_pool("parse_sip_uri", parse_in_pool, uri_string)

    # ---- m-bridge: sound devices and the audio bridge ----------------------------------------

    @staticmethod
    def _bridge(ua: _ua.UA, what: str) -> Any:
        """The running UA's audio bridge; EngineNotRunningError while the Engine stops."""
        if ua.bridge is None or ua.bridge.closed or ua._stopping:
            raise EngineNotRunningError(what, "stopping")
        return ua.bridge

    @property
    def playback_devices(self) -> list[str]:
        """Names of the playback devices PJMEDIA found (empty without a sound card)."""
        from .media._bridge import Bridge
        return _on_poll_thread("playback_devices", lambda ua: Bridge.devices(output=True))

    @property
    def recording_devices(self) -> list[str]:
        """Names of the recording devices PJMEDIA found (empty without a sound card)."""
        from .media._bridge import Bridge
        return _on_poll_thread("recording_devices", lambda ua: Bridge.devices(output=False))

    def set_sound_devices(self, playback_device: str | None = None,
                          recording_device: str | None = None,
                          tail_length: int | None = None) -> None:
        """(Re)open the sound devices by name (None: the system's default), with an echo
        canceller of ``tail_length`` ms (None: ``ec_tail_length``; 0: off), which becomes the
        new ``ec_tail_length``.  An unknown name raises ValueError naming it.  Without any
        sound device the audio bridge keeps running on its null clock (nothing is heard, all
        else works), as it does with ``auto_sound=False`` until this is called."""
        from ._validate import check_int
        for name, value in (("playback_device", playback_device),
                            ("recording_device", recording_device)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str or None, not {type(value).__name__}")
        tail = check_int("tail_length", tail_length, 0, 1000, allow_none=True, unit="ms")

        def apply(ua: _ua.UA) -> None:
            self._bridge(ua, "set_sound_devices()").set_sound_devices(
                playback_device, recording_device,
                ua.options["ec_tail_length"] if tail is None else tail)
        _on_poll_thread("set_sound_devices", apply)

    def connect_audio_transport(self, transport: Any) -> None:
        """Connect a started AudioTransport to the conference: the sound device and every
        other connected transport hear it, and it hears them.  InvalidStateError naming its
        state when it is not started."""
        if not hasattr(transport, "_port") or not hasattr(transport, "is_started"):
            raise TypeError(f"transport must be an AudioTransport, not {type(transport).__name__}")

        def apply(ua: _ua.UA) -> None:
            if not transport.is_started or transport._port is None:
                raise InvalidStateError("connect_audio_transport()",
                                        getattr(transport, "state", "not started"))
            bridge = self._bridge(ua, "connect_audio_transport()")
            bridge.attach(transport, transport._port)
            bridge.join(transport)
        _on_poll_thread("connect_audio_transport", apply)

    def disconnect_audio_transport(self, transport: Any) -> None:
        """Take one transport out of the conference (nothing when it is not in it); its
        pairwise connections (WaveFile destination, RecordingWaveFile source) stay.  A stopped
        transport leaves the bridge by itself."""
        if not hasattr(transport, "_port") or not hasattr(transport, "is_started"):
            raise TypeError(f"transport must be an AudioTransport, not {type(transport).__name__}")
        _on_poll_thread("disconnect_audio_transport",
                        lambda ua: ua.bridge.leave(transport) if ua.bridge is not None else None)

    # ---- later features -----------------------------------------------------------------

    # ---- NAT type detection (m-peers) ------------------------------------------------------

    def detect_nat_type(self, stun_server_address: str, stun_server_port: int = 3478,
                        user_data: Any = None) -> None:
        """Detect the type of NAT this host is behind with the STUN server at
        ``stun_server_address`` (an IPv4 or IPv6 address; host names come with DNS, issue
        #14) and UDP ``stun_server_port`` (RFC 3489 tests, PJNATH's
        ``pj_stun_detect_nat_type``).

        Every call that returns sends exactly one ``SIPEngineDetectedNATType`` later, with
        ``user_data``: ``succeeded=True`` and ``nat_type`` (e.g. "Open", "Full Cone",
        "Symmetric"), or ``succeeded=False`` and ``error`` -- also when the server never
        answers (after PJNATH's STUN timeout, about 8 s; PJNATH calls that "Blocked") and
        when the Engine stops first (sent during the stop, before ``SIPEngineDidEnd``).  A
        call that raises (bad argument: TypeError/ValueError naming it; Engine not running
        or stopping, e.g. from a receiver of SIPEngineWillEnd: EngineNotRunningError; PJNATH
        could not start: PJSIPError) sends nothing.  The
        server must answer CHANGE-REQUEST from a second address and port (RFC 3489
        CHANGED-ADDRESS), or the result is an error such as "Unknown Attribute".
        """
        if not isinstance(stun_server_address, str):
            raise TypeError(f"stun_server_address must be a str, not "
                            f"{type(stun_server_address).__name__}")
        try:
            ip = str(ipaddress.ip_address(stun_server_address.strip("[]")))
        except ValueError:
            raise ValueError(f"stun_server_address must be an IPv4 or IPv6 address (host names "
                             f"are not resolved yet), not {stun_server_address!r}") from None
        port = check_int("stun_server_port", stun_server_port, 1, 65535)
        _on_poll_thread("detect_nat_type",
                        lambda ua: _NATDetection(self, ua, user_data).start(ip, port))


def _already_running(running: dict[str, Any], asked: dict[str, Any]) -> InvalidStateError:
    """start() on an Engine running with other options: which, and what to do."""
    diff = [f"{k}={asked[k]!r} (running: {running.get(k)!r})" for k in asked
            if asked[k] != running.get(k)]
    err = InvalidStateError("Engine.start()", "running")
    err.args = (f"Engine.start() is not allowed in state 'running' with other options than "
                f"the running Engine's: {', '.join(diff)}; call Engine().stop() first to "
                "restart with these (start() with the same options does nothing)",)
    return err


class _NATDetection:
    """One detect_nat_type() call, from its start until its one SIPEngineDetectedNATType.

    Registered under a token while PJNATH runs it (the result comes as an SC_MEDIA_NAT_TYPE
    C event, on the poll thread) and in the UA's live objects, so that Engine.stop() reports
    it as failed when it is still running (PJNATH cannot cancel a detection; once the
    endpoint is gone it can never call back)."""

    __slots__ = ("engine", "ua", "user_data", "token", "__weakref__")

    #: PJNATH's "Blocked": no answer to test I at all -- the server did not answer (dead,
    #: unreachable or UDP blocked), which is no NAT type: reported as a failure
    NO_ANSWER = ("no answer from the STUN server (PJNATH: Blocked -- UDP is blocked or the "
                 "server is unreachable)")

    def __init__(self, engine: Engine, ua: _ua.UA, user_data: Any):
        self.engine = engine
        self.ua = ua
        self.user_data = user_data
        self.token: int | None = None

    def start(self, ip: str, port: int) -> None:        # poll thread
        ua = self.ua
        if ua._stopping:    # a receiver during the stop: no result could be sent any more
            raise EngineNotRunningError("detect_nat_type", "stopping")
        self.token = _pj.handles.new(self)
        status = _pj.lib.sc_nat_detect(ua.endpt, _pj.ffi.addressof(ua.cp, "factory"),
                                       self.token, ip.encode(), port)
        if status != _pj.lib.PJ_SUCCESS:
            _pj.handles.release(self.token)
            raise PJSIPError(f"starting NAT type detection with {ip} port {port}", status)
        ua.primitives.add(self)

    def on_media_event(self, what: int, value: int, status: int, text: str) -> None:
        lib = _pj.lib
        if what != lib.SC_MEDIA_NAT_TYPE:
            return
        if status != lib.PJ_SUCCESS:
            self._finish(succeeded=False, error=text)
        elif value == lib.PJ_STUN_NAT_TYPE_BLOCKED:
            self._finish(succeeded=False, error=self.NO_ANSWER)
        else:
            self._finish(succeeded=True, nat_type=text)

    def _engine_stopping(self) -> None:
        self._finish(succeeded=False, error="the Engine stopped before NAT type detection "
                                            "ended")

    def _finish(self, **data: Any) -> None:
        if self.token is None:          # already reported
            return
        _pj.handles.release(self.token)
        self.token = None
        self.ua.primitives.discard(self)
        signals.notify(signals.SIPEngineDetectedNATType, self.engine, user_data=self.user_data,
                       **data)
