"""AudioTransport: an audio stream over an RTPTransport (a ``pjmedia_stream``: RTP framing,
RTCP, codec, jitter buffer, RFC 4733 DTMF); spec: AudioTransport.

The two usage scenarios of the spec::

    # offerer                                      # answerer (offer received)
    audio = AudioTransport(rtp)                    audio = AudioTransport(rtp, offer, 0)
    m = audio.get_local_media(is_offer=True)       m = audio.get_local_media(is_offer=False)
    sdp = SDPSession(ip, media=[m])                sdp = SDPSession(ip, media=[m])
    rtp.set_LOCAL(sdp, 0)                          rtp.set_ESTABLISHED(sdp, offer, 0)
    ... offer sent, answer received ...            ... answer sent; the stream runs already
    audio.start(sdp, answer, 0)   # set_ESTABLISHED too, when the transport is LOCAL

A stream only sends when its port is clocked: the audio bridge does it once the transport is
connected (``Engine.connect_audio_transport``).  Received DTMF digits are notified as
``RTPAudioTransportGotDTMF``; they come from the media worker thread through the C event
queue, in order.

Contract with the audio bridge (``ua.bridge``): a started AudioTransport has ``_port`` (its
stream's ``pjmedia_port *``; None when not started or stopped) and ``is_started``; ``stop()``,
``Engine.stop()`` and garbage collection call ``bridge.detach(transport)`` before the stream is
destroyed; with the Engine's ``playback_dtmf`` on, sent and received digits are played with
``bridge.play_dtmf(digit)``.

sipcore extension: ``statistics``, the stream's RTP/RTCP counters (see the property).
"""
from __future__ import annotations

import weakref
from typing import Any

from .. import _ua as ua_mod, signals
from .._pj import check, ffi, handles, lib
from .._validate import check_bool, check_choice, check_instance
from ..errors import InvalidStateError, PJSIPError, SIPCoreError
from ..sdp import SDPAttribute, SDPMedia, SDPSession, _flat_of_pj, _from_flat
from ._sdp import from_pj, to_pj
from .rtp import ESTABLISHED, INIT, INVALID, LOCAL, RTPTransport, check_sdp_index

__all__ = ["AudioTransport"]

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
DTMF_DIGITS = "0123456789*#ABCD"
_PJ_DIR = {3: "sendrecv", 1: "sendonly", 2: "recvonly", 0: "inactive"}


def _bridge(ua: Any) -> Any:
    """The audio bridge of the UA (media/_bridge.py), or None while the Engine stops."""
    return ua.bridge


def check_direction(value: Any) -> str:
    return check_choice("direction", value, DIRECTIONS)


def check_codec_list(ua: Any, value: Any) -> list[str] | None:
    """The transport's codec list, spelled as the Engine spells them; ValueError naming an
    unknown one."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TypeError("codecs must be a list of codec names")
    canon = {c.lower(): c for c in ua.available_codecs}
    chosen: list[str] = []
    for c in value:
        if not isinstance(c, str):
            raise TypeError(f"codecs must contain str, not {type(c).__name__}")
        if c.lower() not in canon:
            raise ValueError(f"codecs: {c!r} is not an available codec "
                             f"(available: {', '.join(ua.available_codecs)})")
        if canon[c.lower()] not in chosen:
            chosen.append(canon[c.lower()])
    if not chosen:
        raise ValueError("codecs must name at least one codec")
    return chosen


def _with_direction(m: SDPMedia, direction: str) -> SDPMedia:
    m.attributes = [a for a in m.attributes if a.name not in DIRECTIONS]
    m.attributes.append(SDPAttribute._trusted(direction, ""))   # (a valid direction)
    return m


class _OutParams:
    """sc_audio_stream_start's out-parameters, made once: it runs on the poll thread only,
    and its results are read before the next call."""

    def __init__(self) -> None:
        self.stage = ffi.new("int *")
        self.active_local = ffi.new("pjmedia_sdp_session **")
        self.stream = ffi.new("sc_stream_t **")
        self.about = ffi.new("sc_stream_info_t *")


_OUT = _OutParams()


class _StreamCore:
    """The C side of one AudioTransport (its stream), apart from it so garbage
    collection can destroy it; in the token registry and ``ua.primitives``.  Poll thread,
    except :meth:`dispose`: the weak reference's callback, run when the AudioTransport is
    collected (as rtp._Core's)."""

    def __init__(self, ua: Any, owner: AudioTransport, rtp_core: Any):
        self.ua = ua
        self.owner = weakref.ref(owner, self.dispose)
        self.rtp_core = rtp_core
        self.stream = ffi.NULL
        self.token: int | None = handles.new(self)
        rtp_core.streams.add(self)
        ua.primitives.add(self)

    def on_media_event(self, what: int, value: int, status: int, text: str) -> None:
        owner = self.owner()
        if owner is not None and what == lib.SC_MEDIA_DTMF and self.stream != ffi.NULL:
            owner._got_dtmf(chr(value))

    def destroy(self) -> None:
        """Detach from the bridge (which stops clocking it), destroy the stream; once; poll
        thread."""
        owner = self.owner()
        try:
            if self.stream != ffi.NULL:
                bridge = _bridge(self.ua)
                if bridge is not None and owner is not None:
                    bridge.detach(owner)
        finally:        # whatever the bridge did, the stream goes (before its transport)
            if owner is not None and self.stream != ffi.NULL:
                owner._port = None
                owner._stopped = owner._started or owner._stopped
            self._free()

    def _free(self) -> None:
        if self.stream != ffi.NULL:
            stream, self.stream = self.stream, ffi.NULL
            lib.sc_stream_destroy(stream)
        if self.token is not None:
            handles.release(self.token)
            self.token = None
        self.rtp_core.streams.discard(self)
        self.ua.primitives.discard(self)

    _engine_stopping = destroy

    def dispose(self, _ref: Any = None) -> None:
        if self.ua.running:
            self.ua.post(self.destroy)


class AudioTransport:
    """``AudioTransport(transport, remote_sdp=None, sdp_index=0, enable_silence_detection=True,
    codecs=None)``; needs a running Engine and an RTPTransport in INIT, LOCAL or ESTABLISHED
    that no other started AudioTransport uses.

    With ``remote_sdp`` (an offer) the answer is negotiated and the stream started at once;
    ``get_local_media(False)`` gives the answer's media line.  ``codecs`` (case-insensitive
    names of ``Engine.available_codecs``) replaces the Engine's ``codecs`` for this transport;
    an unknown name raises ValueError naming it.  ``enable_silence_detection``: the codec's
    voice activity detection (no packets while the input is silent).
    """

    def __init__(self, transport: RTPTransport, remote_sdp: SDPSession | None = None,
                 sdp_index: int = 0, enable_silence_detection: bool = True,
                 codecs: list[str] | None = None):
        check_instance("transport", transport, RTPTransport, "an")
        if remote_sdp is not None:
            check_instance("remote_sdp", remote_sdp, SDPSession, "an")
            sdp_index = check_sdp_index("remote_sdp", remote_sdp, sdp_index)
        self._vad = check_bool("enable_silence_detection", enable_silence_detection)
        ua = self._ua = ua_mod.running("AudioTransport")
        self._codecs = check_codec_list(ua, codecs)
        self._transport = transport
        self._started = False
        self._stopped = False
        self._codec: str | None = None
        self._sample_rate: int | None = None
        self._direction: str | None = None
        self._answer: bytes | None = None     # the answer's flat form (one media line)
        self._port = None
        self._port_rate: int | None = None
        self._core: _StreamCore | None = None
        self._run("__init__", self._create, remote_sdp, sdp_index, check_state=False)
        assert self._core is not None   # (made by _create; it disposes of it when collected)

    # -- attributes --

    transport = property(lambda self: self._transport, doc="the RTPTransport (read-only)")
    is_started = property(lambda self: self._started,
                          doc="start() was called (or the stream started at creation); stays "
                              "True after stop() (read-only)")
    is_active = property(lambda self: self._started and not self._stopped,
                         doc="the stream is running: started and not stopped (read-only)")
    codec = property(lambda self: self._codec,
                     doc="the negotiated codec's name, None before negotiation (read-only)")
    sample_rate = property(lambda self: self._sample_rate,
                           doc="the negotiated codec's sample rate in Hz (read-only)")
    direction = property(lambda self: self._direction,
                         doc="sendrecv, sendonly, recvonly or inactive; None before start "
                             "(read-only; see update_direction)")
    codecs = property(lambda self: None if self._codecs is None else list(self._codecs),
                      doc="this transport's codec list (None: the Engine's)")

    @property
    def statistics(self) -> dict[str, Any] | None:
        """sipcore extension: the stream's RTP/RTCP statistics (pjmedia_stream_get_stat), or
        None when not running: ``tx_packets``, ``tx_bytes``, ``rx_packets``, ``rx_bytes``,
        ``rx_lost``, ``rx_discarded``, ``rx_reordered``, ``rx_duplicated`` (counted from the
        received RTP), ``rx_jitter_ms``/``rx_jitter_mean_ms``/``rx_jitter_max_ms`` (the
        interarrival jitter), ``tx_lost`` (what the remote's RTCP reports said),
        ``rtt_ms``/``rtt_mean_ms`` (from RTCP), ``rtcp_rx_count``/``rtcp_tx_count`` (RTCP
        reports received / sent)."""
        core = self._core
        if core is None or not self.is_active or not self._ua.running:
            return None
        st = ffi.new("sc_stream_stat_t *")
        try:
            ok = self._ua.call(self._fill_stat, st)
        except InvalidStateError:
            return None
        if not ok:
            return None
        out = {name: getattr(st, name) for name in (
            "tx_packets", "tx_bytes", "rx_packets", "rx_bytes", "rx_lost", "rx_discarded",
            "rx_reordered", "rx_duplicated", "tx_lost", "rtcp_rx_count", "rtcp_tx_count")}
        out.update(rx_jitter_ms=st.rx_jitter_last_us / 1000,
                   rx_jitter_mean_ms=st.rx_jitter_mean_us / 1000,
                   rx_jitter_max_ms=st.rx_jitter_max_us / 1000, rtt_ms=st.rtt_last_us / 1000,
                   rtt_mean_ms=st.rtt_mean_us / 1000)
        return out

    def __repr__(self) -> str:
        state = "active" if self.is_active else "stopped" if self._stopped else "new"
        return f"<AudioTransport {self._codec or '-'} {self._direction or '-'} {state}>"

    # -- methods --

    def get_local_media(self, is_offer: bool, direction: str = "sendrecv") -> SDPMedia:
        """The SDPMedia of this stream for an offer (every codec of the list) or an answer
        (the codec negotiated with the remote offer), with ``direction``."""
        is_offer = check_bool("is_offer", is_offer)
        direction = check_direction(direction)
        media: SDPMedia = self._run("get_local_media", self._local_media, is_offer, direction,
                                    check_state=False)
        return media

    def start(self, local_sdp: SDPSession, remote_sdp: SDPSession, sdp_index: int) -> None:
        """Start the stream with the local offer and the remote answer (the offerer's
        scenario; once).  When the transport is LOCAL its set_ESTABLISHED() is done first.
        No codec in common, a rejected stream or a failed SRTP negotiation raise
        SIPCoreError/PJSIPError and leave the object unstarted."""
        check_instance("local_sdp", local_sdp, SDPSession, "an")
        check_instance("remote_sdp", remote_sdp, SDPSession, "an")
        index = check_sdp_index("local_sdp", local_sdp, sdp_index)
        check_sdp_index("remote_sdp", remote_sdp, index)
        self._run("start", self._start, local_sdp, remote_sdp, index)

    def stop(self) -> None:
        """Stop and destroy the stream (detached from the bridge first); the RTPTransport may
        be re-used, this object not (started or not).  Stopping twice is allowed."""
        ua = self._ua
        if ua_mod.current is not ua or not ua.running:
            self._stopped = True
            return
        try:
            ua.call(self._stop)
        except InvalidStateError:     # the Engine stopped meanwhile: it destroyed the stream
            pass

    def send_dtmf(self, digit: str) -> None:
        """Send one RFC 4733 digit (0-9, *, #, A-D); it goes out with the next frames."""
        if not isinstance(digit, str):
            raise TypeError(f"digit must be a str, not {type(digit).__name__}")
        if len(digit) != 1 or digit not in DTMF_DIGITS:
            raise ValueError(f"digit must be one of 0-9, *, #, A-D, not {digit!r}")
        self._run("send_dtmf", self._send_dtmf, digit)

    def update_direction(self, direction: str) -> None:
        """Apply a negotiated direction: sendonly stops receiving, recvonly stops sending,
        inactive both, sendrecv neither."""
        direction = check_direction(direction)
        self._run("update_direction", self._update_direction, direction)

    # -- poll thread --

    def _state_name(self) -> str:
        return "stopped" if self._stopped else "started" if self._started else "not started"

    def _run(self, what: str, fn: Any, *args: Any, check_state: bool = True) -> Any:
        ua = self._ua
        if ua_mod.current is not ua or not ua.running:
            raise InvalidStateError(f"AudioTransport.{what}()", "stopped (the Engine stopped)")
        return ua.call(self._guarded, what, fn, args, check_state)

    def _guarded(self, what: str, fn: Any, args: tuple[Any, ...], check_state: bool) -> Any:
        if check_state and (self._core is None or self._stopped):
            raise InvalidStateError(f"AudioTransport.{what}()", self._state_name())
        return fn(*args)

    def _require_transport(self, what: str, *states: str) -> Any:
        t = self._transport
        core = t._core
        if t._state not in states or core is None or core.rtp == ffi.NULL:
            raise InvalidStateError(f"AudioTransport.{what}() (its RTPTransport)", t._state)
        others = [s for s in core.streams if s.stream != ffi.NULL and s is not self._core]
        if others:
            raise InvalidStateError(f"AudioTransport.{what}() (its RTPTransport is used by "
                                    "another started AudioTransport)", t._state)
        return core

    def _with_codecs(self, fn: Any, *args: Any) -> Any:
        """fn(*args) with the codec manager's priorities set to this transport's list."""
        ua = self._ua
        if self._codecs is None:
            return fn(*args)
        engine_codecs = list(ua.options["codecs"])
        ua.set_codecs(self._codecs)
        try:
            return fn(*args)
        finally:
            ua.set_codecs(engine_codecs)

    def _create(self, remote_sdp: SDPSession | None, index: int) -> None:
        rtp_core = self._require_transport("__init__", INIT, LOCAL, ESTABLISHED)
        self._core = core = _StreamCore(self._ua, self, rtp_core)
        if remote_sdp is None:
            return
        offered = remote_sdp.media[index]
        if self._transport._srtp_forced and not any(a.name == "crypto" for a in offered.attributes):
            core.destroy()
            raise SIPCoreError("the offer has no SRTP (no a=crypto in its audio line) and the "
                               "RTPTransport has srtp_forced")
        try:
            # an SRTP transport answers in the offer's profile (RTP/AVP or RTP/SAVP; its
            # set_ESTABLISHED checks the crypto); a plain one only RTP/AVP
            proto = remote_sdp.media[index].transport if self._transport._use_srtp else None
            self._start_stream(None, remote_sdp, index, proto=proto)
        except BaseException:
            core.destroy()
            raise

    def _local_session(self, pool: Any, direction: str, proto: str | None = None) -> Any:
        """A ``pjmedia_sdp_session *`` in ``pool`` with this stream's m= line alone: every
        codec of the list, ``direction``, ``proto`` (or RTP/AVP) as its profile; its address
        the transport's, in o= and c=.  Made in C (sc_audio_local_media), codecs as set."""
        transport_core = self._transport._core
        assert transport_core is not None   # (checked by the callers: _require_transport)
        sdp = ffi.new("pjmedia_sdp_session **")
        check(lib.sc_audio_local_media(self._ua.med_endpt, pool, transport_core.rtp,
                                       direction.encode(),
                                       ffi.NULL if proto is None else proto.encode(), sdp),
              "creating the audio media line")
        return sdp[0]

    def _offer_media(self, direction: str) -> SDPMedia:
        def build(pool: Any) -> SDPMedia:
            return from_pj(self._ua, self._local_session(pool, direction)).media[0]
        media: SDPMedia = self._with_codecs(self._ua.in_pool, build, ())
        return media

    def _local_media(self, is_offer: bool, direction: str) -> SDPMedia:
        if (self._core is None or self._transport._core is None
                or self._transport._core.rtp == ffi.NULL):
            raise InvalidStateError("AudioTransport.get_local_media() (its RTPTransport)", INVALID)
        if not is_offer and self._answer is not None:
            return _with_direction(_from_flat(self._answer).media[0], direction)
        return self._offer_media(direction)

    def _start(self, local_sdp: SDPSession, remote_sdp: SDPSession, index: int) -> None:
        if self._started:
            raise InvalidStateError("AudioTransport.start()", self._state_name())
        t = self._transport
        self._require_transport("start", LOCAL, ESTABLISHED)
        pj = t._set_established(local_sdp, remote_sdp, index) if t._state == LOCAL else None
        self._start_stream(local_sdp, remote_sdp, index, pj)

    def _start_stream(self, local: SDPSession | None, remote: SDPSession, index: int,
                      pj: tuple[Any, Any] | None = None, proto: str | None = None) -> None:
        """Negotiate media line ``index`` of ``remote`` with that of ``local`` (our offer; the
        offerer's scenario) or, when ``local`` is None, answer it with this stream's own m=
        line (``proto`` its profile); then create and start the stream.  ``pj``: both SDPs
        already in PJMEDIA's form, in the transport's pool (sc_rtp_pool, kept until the next
        set_INIT), which the negotiation then uses too; else they are made here, in a
        temporary pool."""
        ua, core, transport_core = self._ua, self._core, self._transport._core
        assert core is not None and transport_core is not None   # (made; checked by callers)

        def run(pool: Any) -> Any:
            if pj is not None:
                local_pj, remote_pj = pj
            else:
                local_pj = ffi.NULL if local is None else to_pj(ua, pool, local)
                remote_pj = to_pj(ua, pool, remote)
            out = _OUT
            status = lib.sc_audio_stream_start(
                ua.med_endpt, pool, transport_core.rtp, core.token, local_pj, index, remote_pj,
                index, ffi.NULL if proto is None else proto.encode(), 1 if self._vad else 0,
                out.stage, out.active_local, out.stream, out.about)
            if status != lib.PJ_SUCCESS:
                stage = out.stage[0]
                if stage == lib.SC_AUDIO_PORT_0:
                    raise SIPCoreError("the audio stream was rejected (port 0 in the SDP)")
                if stage == lib.SC_AUDIO_NEGOTIATE:   # nothing in common (codec, profile)
                    raise PJSIPError("the audio stream was rejected: negotiating it", status)
                check(status, "creating the audio media line" if stage == lib.SC_AUDIO_LOCAL_MEDIA
                      else "creating the audio stream")
            # the answer's line as its flat form (made into objects by get_local_media)
            answer = None if local is not None else _flat_of_pj(out.active_local[0], ua.scratch)
            about = out.about
            return out.stream[0], (ffi.string(about.codec).decode(), about.clock_rate,
                                   about.port_rate, about.dir), answer

        if pj is not None:      # the transport's pool holds both SDPs: negotiate in it too
            stream, about, answer = self._with_codecs(run, lib.sc_rtp_pool(transport_core.rtp))
        else:
            stream, about, answer = self._with_codecs(ua.in_pool, run, ())
        core.stream = stream
        self._answer = answer
        self._codec, self._sample_rate, self._port_rate, pj_dir = about
        self._direction = _PJ_DIR.get(pj_dir, "sendrecv")
        self._port = lib.sc_stream_port(stream)
        self._started = True

    def _stop(self) -> None:
        if self._core is not None:
            self._core.destroy()
        self._stopped = True            # stopped for good, started or not (the spec)

    def _send_dtmf(self, digit: str) -> None:
        if not self._started:
            raise InvalidStateError("AudioTransport.send_dtmf()", self._state_name())
        assert self._core is not None   # (started)
        check(lib.sc_stream_dtmf(self._core.stream, digit.encode()), "sending DTMF")
        self._play_dtmf(digit)

    def _play_dtmf(self, digit: str) -> None:
        """The digit's tone on the sound device (playback_dtmf): a local courtesy, so its
        failure (e.g. the tone queue full) neither fails send_dtmf nor loses a notification."""
        bridge = _bridge(self._ua)
        if bridge is not None and self._ua.options.get("playback_dtmf"):
            try:
                bridge.play_dtmf(digit)
            except SIPCoreError:
                pass

    def _update_direction(self, direction: str) -> None:
        if not self._started:
            raise InvalidStateError("AudioTransport.update_direction()", self._state_name())
        assert self._core is not None   # (started)
        check(lib.sc_stream_set_dir(self._core.stream, direction in ("sendrecv", "sendonly"),
                                    direction in ("sendrecv", "recvonly")),
              "updating the stream's direction")
        self._direction = direction

    def _fill_stat(self, st: Any) -> bool:
        core = self._core
        if core is None or core.stream == ffi.NULL:
            return False
        lib.sc_stream_stat(core.stream, st)
        return True

    def _got_dtmf(self, digit: str) -> None:
        """A digit from the stream (media worker -> C queue -> poll thread)."""
        signals.notify(signals.RTPAudioTransportGotDTMF, self, digit=digit)
        self._play_dtmf(digit)
