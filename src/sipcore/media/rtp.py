"""RTPTransport: a pair of UDP sockets for RTP and RTCP (optionally ICE, optionally SRTP), and
the SDP offer/answer steps pjmedia's transports need (spec: RTPTransport).

States: ``WAIT_STUN``, ``INIT``, ``LOCAL``, ``ESTABLISHED``, ``STUN_FAILED``, ``INVALID``; the
rows are ``primitives._states.RTP_TRANSPORT``.  A method the state has no row for raises
:class:`~sipcore.errors.InvalidStateError` naming the state.

The two negotiation scenarios of the spec::

    # offerer                                  # answerer (remote offer received)
    rtp = RTPTransport(); rtp.set_INIT()       rtp = RTPTransport(); rtp.set_INIT()
    sdp = SDPSession(..., media=[m])           sdp = SDPSession(..., media=[m])   # the answer
    rtp.set_LOCAL(sdp, 0)    # may change sdp  rtp.set_ESTABLISHED(sdp, offer, 0) # may change sdp
    ... send sdp, receive the answer ...       ... send sdp ...
    rtp.set_ESTABLISHED(sdp, answer, 0)

Threads: every method may be called from any thread (it runs on the poll thread).  The sockets
are on the media worker's ioqueue (a C thread; see ``_cdefs/glue_rtp.c``), never the poll
thread's.  ICE's results come from that thread through the C event queue.

Lifetime: the C transport is closed on the poll thread, once: by ``Engine.stop()`` (the object
becomes ``INVALID``), or after the object is garbage-collected.  An AudioTransport using it
keeps it alive; a stream on it is always destroyed before it.
"""
from __future__ import annotations

import ipaddress
import time
import weakref
from typing import Any, NamedTuple

from .. import _ua as ua_mod, signals
from .._pj import check, ffi, handles, lib, strerror
from .._validate import check_bool, check_instance, check_int
from ..errors import InvalidStateError
from ..primitives._states import RTP_TRANSPORT, STAY
from ..sdp import SDPSession
from ._sdp import changed, to_pj_kept

__all__ = ["RTPTransport", "ICECandidate"]

WAIT_STUN, INIT, LOCAL, ESTABLISHED, STUN_FAILED, INVALID = (
    "WAIT_STUN", "INIT", "LOCAL", "ESTABLISHED", "STUN_FAILED", "INVALID")


def check_ip(name: str, value: Any, allow_none: bool = True) -> str | None:
    """An IPv4 or IPv6 literal (names need DNS: issue #14)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str (an IP address), not {type(value).__name__}")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{name} must be an IPv4 or IPv6 address, not {value!r}") from None


class ICECandidate(NamedTuple):
    """One end of a pair ICE chose (sipcore extension; RTPTransportICENegotiationDidSucceed):
    ``component`` 1 (RTP) or 2 (RTCP), ``type`` "host", "srflx", "prflx" or "relay" (RFC
    8445 5.1.1), ``address`` (an IP literal) and ``port``."""
    component: int
    type: str
    address: str
    port: int


def parse_pairs(text: str) -> tuple[list[ICECandidate], list[ICECandidate]]:
    """The local and remote candidates of the glue's pair lines (glue_rtp.c, chosen_pairs)."""
    local: list[ICECandidate] = []
    remote: list[ICECandidate] = []
    for line in text.splitlines():
        comp, ltype, laddr, lport, rtype, raddr, rport = line.split()
        local.append(ICECandidate(int(comp), ltype, laddr, int(lport)))
        remote.append(ICECandidate(int(comp), rtype, raddr, int(rport)))
    return local, remote


def check_sdp_index(name: str, sdp: SDPSession, index: Any) -> int:
    checked = check_int("sdp_index", index, 0, 63)
    if checked >= len(sdp.media):
        raise ValueError(f"sdp_index {checked} is out of range: {name} has {len(sdp.media)} "
                         "media line(s)")
    return checked


def copy_into(target: SDPSession, source: SDPSession) -> None:
    """Make target equal to source, field by field (the spec changes the caller's object)."""
    for name in SDPSession.__slots__:
        object.__setattr__(target, name, getattr(source, name))


class _CreateParams:
    """sc_rtp_create's parameters, made once (poll thread only; read by the call alone: the
    C side copies the addresses), and the addresses as C strings, kept (a few per process)."""

    def __init__(self) -> None:
        self.opts = ffi.new("sc_rtp_opts_t *")
        self.out = ffi.new("sc_rtp_t **")
        self.port = ffi.new("int *")
        self.texts: dict[str, Any] = {}

    def text(self, value: str) -> Any:
        c = self.texts.get(value)
        if c is None:
            if len(self.texts) >= 64:
                self.texts.clear()
            c = self.texts[value] = ffi.new("char[]", value.encode())
        return c


_CREATE = _CreateParams()


class _Core:
    """The C side of one RTPTransport, kept apart from it so that garbage collection of the
    RTPTransport can close it: the token registry and ``ua.primitives`` hold this, not the
    RTPTransport.  Poll thread only, except :meth:`dispose`.

    The weak reference to the owner is also its finalizer: its callback (:meth:`dispose`)
    runs when the RTPTransport is collected, while this object is alive (it is in the
    registries until destroyed; once destroyed there is nothing left to close).  A
    ``weakref.finalize`` did the same with a registry entry and more Python per object."""

    def __init__(self, ua: Any, owner: RTPTransport):
        self.ua = ua
        self.owner = weakref.ref(owner, self.dispose)
        self.rtp = ffi.NULL
        self.token: int | None = handles.new(self)
        self.streams: set[Any] = set()       # the audio cores streaming on it (at most one live)
        ua.primitives.add(self)

    def on_media_event(self, what: int, value: int, status: int, text: str) -> None:
        owner = self.owner()
        if owner is not None and self.rtp != ffi.NULL:
            owner._on_media_event(what, status, text)

    def destroy(self) -> None:
        """Close the transport (its streams first); once; poll thread."""
        for stream in list(self.streams):
            stream.destroy()
        if self.rtp != ffi.NULL:
            lib.sc_rtp_destroy(self.rtp)
            self.rtp = ffi.NULL
        if self.token is not None:      # after the C object: no late event can reach us
            handles.release(self.token)
            self.token = None
        self.ua.primitives.discard(self)

    def _engine_stopping(self) -> None:
        owner = self.owner()
        if owner is not None:
            owner._state = RTP_TRANSPORT.next(owner._state, "engine_stop") \
                if owner._state != INVALID else INVALID
        self.destroy()

    def dispose(self, _ref: Any = None) -> None:
        """The RTPTransport was collected: close on the poll thread (any thread may call)."""
        if self.ua.running:
            self.ua.post(self.destroy)


class RTPTransport:
    """``RTPTransport(local_rtp_address=None, use_srtp=False, srtp_forced=False, use_ice=False,
    ice_stun_address=None, ice_stun_port=3478)``; needs a running Engine.

    ``local_rtp_address``: the IP to bind (default: the Engine's ``local_ip``).  The RTP port
    is an even port of the Engine's ``rtp_port_range`` (RTCP the next one), picked at random;
    a busy pair is skipped.  ``use_srtp``: SDES-SRTP (RFC 4568) crypto attributes in the SDP;
    ``srtp_forced``: SRTP is mandatory (``RTP/SAVP``) and a peer without it fails the
    negotiation.  ``use_ice``: ICE candidates in the SDP; ``ice_stun_address`` (an IP
    address): a STUN server for a server-reflexive candidate (state ``WAIT_STUN`` until it
    answers).  The spec's attribute list spells the SRTP flag ``force_srtp`` and its
    ``__init__`` ``srtp_forced``: sipcore uses ``srtp_forced`` for both.
    """

    def __init__(self, local_rtp_address: str | None = None, use_srtp: bool = False,
                 srtp_forced: bool = False, use_ice: bool = False,
                 ice_stun_address: str | None = None, ice_stun_port: int = 3478):
        address = check_ip("local_rtp_address", local_rtp_address)
        self._use_srtp = check_bool("use_srtp", use_srtp)
        self._srtp_forced = check_bool("srtp_forced", srtp_forced) and self._use_srtp
        self._use_ice = check_bool("use_ice", use_ice)
        self._ice_stun_address = check_ip("ice_stun_address", ice_stun_address)
        self._ice_stun_port = check_int("ice_stun_port", ice_stun_port, 1, 65535)
        self._local_address: str | None = None
        self._local_port: int | None = None
        self._remote_sdp: tuple[str | None, int] | None = None
        self._stun_reason: str | None = None
        self._ice_started: float | None = None  # monotonic time ICE negotiation started
        self._state = INIT
        ua = self._ua = ua_mod.running("RTPTransport")
        self._core: _Core | None = None
        ua.call(self._create, address)
        assert self._core is not None   # (made by _create; it disposes of it when collected)

    # -- attributes --

    state = property(lambda self: self._state, doc="WAIT_STUN, INIT, LOCAL, ESTABLISHED, "
                     "STUN_FAILED or INVALID (read-only)")
    use_srtp = property(lambda self: self._use_srtp, doc="SRTP was requested (read-only)")
    srtp_forced = property(lambda self: self._srtp_forced,
                           doc="SRTP is mandatory (read-only; the spec's force_srtp)")
    use_ice = property(lambda self: self._use_ice, doc="ICE was requested (read-only)")
    ice_stun_address = property(lambda self: self._ice_stun_address,
                                doc="the STUN server's address, or None (read-only)")
    ice_stun_port = property(lambda self: self._ice_stun_port,
                             doc="the STUN server's port (read-only)")

    @property
    def local_rtp_address(self) -> str | None:
        """The address the RTP socket is bound to (and to put in the SDP); None when closed."""
        if self._state == WAIT_STUN:    # pjmedia: 0.0.0.0 until the default candidate is known
            return self._local_address
        return None if self._state == INVALID else self._info("local_ip")

    @property
    def local_rtp_port(self) -> int | None:
        """The RTP port (RTCP is the next one); None when closed, and in WAIT_STUN (the
        default candidate is not known before the STUN answer)."""
        return None if self._state in (INVALID, WAIT_STUN) else self._info("local_port")

    @property
    def remote_rtp_address_sdp(self) -> str | None:
        """The remote RTP address of the remote SDP; None unless ESTABLISHED."""
        return self._remote_sdp[0] if self._state == ESTABLISHED and self._remote_sdp else None

    @property
    def remote_rtp_port_sdp(self) -> int | None:
        """The remote RTP port of the remote SDP; None unless ESTABLISHED."""
        return self._remote_sdp[1] if self._state == ESTABLISHED and self._remote_sdp else None

    @property
    def remote_rtp_address_received(self) -> str | None:
        """The address RTP was received from; None until some was."""
        ip: str | None = self._info("rx_ip")
        return ip

    @property
    def remote_rtp_port_received(self) -> int | None:
        """The port RTP was received from; None until some was."""
        port: int | None = self._info("rx_port")
        return port

    @property
    def srtp_active(self) -> bool:
        """SRTP is encrypting and decrypting (meaningful once ESTABLISHED with use_srtp)."""
        return bool(self._info("srtp_active"))

    @property
    def ice_active(self) -> bool:
        """sipcore extension: ICE negotiation has completed and ICE carries the media."""
        return bool(self._info("ice_active"))

    def __repr__(self) -> str:
        return f"<RTPTransport {self._local_address}:{self._local_port} {self._state}>"

    # -- methods --

    def set_INIT(self) -> None:
        """To INIT: sends RTPTransportDidInitialize when ICE+STUN is not used; from LOCAL or
        ESTABLISHED it resets the transport for re-use (no stream may be using it)."""
        self._run("set_INIT", self._set_init)

    def set_LOCAL(self, local_sdp: SDPSession, sdp_index: int) -> None:
        """To LOCAL with the local SDP offer; SRTP/ICE attributes are added to ``local_sdp``."""
        check_instance("local_sdp", local_sdp, SDPSession, "an")
        index = check_sdp_index("local_sdp", local_sdp, sdp_index)
        self._run("set_LOCAL", self._set_local, local_sdp, index)

    def set_ESTABLISHED(self, local_sdp: SDPSession, remote_sdp: SDPSession,
                        sdp_index: int) -> None:
        """To ESTABLISHED with both SDPs.  From INIT (the answerer) the SRTP/ICE attributes of
        the answer are added to ``local_sdp``; from LOCAL neither SDP is changed.  A forced
        SRTP against a peer without it (or any failed negotiation) raises PJSIPError and
        leaves the state as it was (reset: from LOCAL, set_INIT() before re-use)."""
        check_instance("local_sdp", local_sdp, SDPSession, "an")
        check_instance("remote_sdp", remote_sdp, SDPSession, "an")
        index = check_sdp_index("local_sdp", local_sdp, sdp_index)
        check_sdp_index("remote_sdp", remote_sdp, index)
        self._run("set_ESTABLISHED", self._set_established, local_sdp, remote_sdp, index)

    # -- poll thread --

    def _run(self, what: str, fn: Any, *args: Any) -> Any:
        ua = self._ua
        if self._state == INVALID or ua_mod.current is not ua or not ua.running:
            raise InvalidStateError(f"RTPTransport.{what}()", INVALID)
        return ua.call(self._locked, what, fn, args)

    def _locked(self, what: str, fn: Any, args: tuple[Any, ...]) -> Any:
        event = what
        if self._core is None or self._core.rtp == ffi.NULL or self._state == INVALID:
            raise InvalidStateError(f"RTPTransport.{what}()", INVALID)
        if not RTP_TRANSPORT.allows(self._state, event):
            raise InvalidStateError(f"RTPTransport.{what}()", self._state)
        return fn(*args)

    def _move(self, event: str) -> None:
        target = RTP_TRANSPORT.next(self._state, event)
        if target != STAY:
            self._state = target

    def _create(self, address: str | None) -> None:
        ua = self._ua
        ua.media_worker()
        address = address or ua.options["local_ip"]
        low, high = ua.options["rtp_port_range"]
        self._core = core = _Core(ua, self)
        o, out, port = _CREATE.opts, _CREATE.out, _CREATE.port
        o.address = _CREATE.text(address)
        o.stun_address = _CREATE.text(self._ice_stun_address or "")
        o.port_min, o.port_max = low, high
        o.use_srtp, o.srtp_forced, o.use_ice = self._use_srtp, self._srtp_forced, self._use_ice
        o.stun_port = self._ice_stun_port
        o.token = core.token
        try:
            check(lib.sc_rtp_create(o, out, port),
                  f"opening RTP/RTCP sockets on {address} in {low}-{high}")
        except BaseException:
            core.destroy()
            raise
        core.rtp = out[0]
        self._local_address = address
        if not port[0]:                 # ICE: pjnath picked the port
            info = ffi.new("sc_rtp_info_t *")
            lib.sc_rtp_info(core.rtp, info)
            port[0] = info.local_port
        self._local_port = port[0] or None
        if self._use_ice and self._ice_stun_address:
            self._state = WAIT_STUN
            self._local_port = None     # pjmedia's placeholder 9 until the STUN answer

    def _info(self, field: str) -> Any:
        core = self._core
        if core is None or core.rtp == ffi.NULL:
            return None
        ua = self._ua
        if not ua.running:
            return None
        info = ffi.new("sc_rtp_info_t *")
        try:
            ua.call(self._fill_info, info)
        except InvalidStateError:
            return None
        value = getattr(info, field)
        if isinstance(value, int):
            return value or None if field in ("local_port", "rx_port") else value
        text = ffi.string(value).decode()
        return text or None

    def _fill_info(self, info: Any) -> None:
        if self._core is not None and self._core.rtp != ffi.NULL:
            lib.sc_rtp_info(self._core.rtp, info)

    def _set_init(self) -> None:
        core = self._core
        assert core is not None     # (_locked checked it)
        if self._state in (LOCAL, ESTABLISHED):
            live = [s for s in core.streams if s.stream != ffi.NULL]
            if live:
                raise InvalidStateError("RTPTransport.set_INIT() (an AudioTransport is using "
                                        "it: stop it first)", self._state)
            lib.sc_rtp_reset(core.rtp)
            self._remote_sdp = None
            self._ice_started = None    # a late result of that negotiation is not news
        before = self._state
        self._move("set_INIT")
        if before == INIT:
            signals.notify(signals.RTPTransportDidInitialize, self)

    def _set_local(self, local_sdp: SDPSession, index: int) -> None:
        assert self._core is not None     # (_locked checked it)
        rtp = self._core.rtp
        pj, flat = to_pj_kept(self._ua, lib.sc_rtp_pool(rtp), local_sdp)
        check(lib.sc_rtp_set_local(rtp, pj, index), "RTPTransport.set_LOCAL()")
        new = changed(self._ua, pj, flat)
        if new is not None:
            copy_into(local_sdp, new)
        self._move("set_LOCAL")

    def _set_established(self, local_sdp: SDPSession, remote_sdp: SDPSession,
                         index: int) -> tuple[Any, Any]:
        """Returns both SDPs as given to PJMEDIA (in the transport's pool, valid until the
        next set_INIT: AudioTransport.start negotiates its stream with them)."""
        assert self._core is not None     # (_locked checked it)
        rtp = self._core.rtp
        answering = self._state == INIT
        pool = lib.sc_rtp_pool(rtp)
        local_pj, flat = to_pj_kept(self._ua, pool, local_sdp)
        remote_pj = to_pj_kept(self._ua, pool, remote_sdp)[0]
        check(lib.sc_rtp_set_established(rtp, local_pj, remote_pj, index, 1 if answering else 0),
              "RTPTransport.set_ESTABLISHED()")
        new = changed(self._ua, local_pj, flat) if answering else None
        if new is not None:
            copy_into(local_sdp, new)
        m = remote_sdp.media[index]
        conn = m.connection or remote_sdp.connection
        self._remote_sdp = (conn.address if conn is not None else None, m.port)
        if self._use_ice:               # pjnath checks now if the remote SDP has ICE
            self._ice_started = time.monotonic()
        self._move("set_ESTABLISHED")
        return local_pj, remote_pj

    def _on_media_event(self, what: int, status: int, text: str) -> None:
        """ICE events from the media worker, via the C event queue (poll thread)."""
        if what == lib.SC_MEDIA_ICE_INIT:
            self._ice_gathered(status)
        elif what == lib.SC_MEDIA_ICE_NEG:
            self._ice_negotiated(status, text)

    def _ice_gathered(self, status: int) -> None:
        """ICE gathering (with its STUN request) ended."""
        if self._state != WAIT_STUN:
            return
        if status == lib.PJ_SUCCESS:
            self._move("stun_ok")
            self._local_port = self.local_rtp_port      # the default candidate's, now known
            signals.notify(signals.RTPTransportDidInitialize, self)
        else:
            self._stun_reason = strerror(status) or f"PJSIP status {status}"
            self._move("stun_fail")
            signals.notify(signals.RTPTransportDidFail, self, reason=self._stun_reason)

    def _ice_negotiated(self, status: int, text: str) -> None:
        """ICE connectivity checks ended (once per set_ESTABLISHED that started them)."""
        started, self._ice_started = self._ice_started, None
        if started is None or self._state != ESTABLISHED:
            return
        duration = time.monotonic() - started
        if status == lib.PJ_SUCCESS:
            local, remote = parse_pairs(text)
            signals.notify(signals.RTPTransportICENegotiationDidSucceed, self,
                           chosen_local_candidates=local, chosen_remote_candidates=remote,
                           duration=duration)
        else:
            signals.notify(signals.RTPTransportICENegotiationDidFail, self,
                           reason=strerror(status) or f"PJSIP status {status}",
                           duration=duration)
