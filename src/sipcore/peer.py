"""A second sipcore endpoint in a child process, driven over JSON lines.

The child (``python -m sipcore peer [options]``) starts an Engine, prints
``{"event": "ready", "udp": port, "tcp": port, "tls": port}`` and then one JSON line for
every MESSAGE it receives (``"event": "message"``) and every response to a MESSAGE it sent
(``"event": "response"``), and every ``SIPEngineGotException`` of its Engine
(``"event": "exception", "traceback": ...``; the parent side keeps those in
:attr:`PeerProcess.exceptions` too, so a test can assert there were none).  It reads commands
on stdin::

    {"cmd": "send", "to": "sip:bob@127.0.0.1:5062", "route": ["127.0.0.1", 5062, "udp"],
     "content_type": "text/plain", "body": "hi"}
    {"cmd": "quit"}

Calls (Invitation): ``{"cmd": "call", "id": "c1", "to": URI, "route": [host, port, transport]}``
(optional ``"user"``, ``"password"``, ``"headers"``), ``{"cmd": "ring"|"accept"|"hangup"|
"reinvite"|"respond_reinvite", "id": ...}`` (``"code"``, ``"direction"`` for the SDP's
a=sendrecv/sendonly/recvonly/inactive, ``"timeout"`` for hangup).  Incoming calls get ids
``"in1"``, ``"in2"``...; ``--answer auto`` answers them 180 then 200, ``--answer ring`` only
180, ``--answer busy`` 486; ``--answer none`` connects no receiver to the Invitation signals
(the Engine then refuses every incoming INVITE itself, 480).  Events: ``{"event":
"call_state", "id", "state", "prev_state", "code", "reason", "method"}`` and ``{"event":
"sdp_update", "id", "succeeded", "local_sdp", "remote_sdp", "error"}``; re-INVITEs are
answered 200 at once unless ``--reinvite manual``.

With ``--echo HOST:PORT:TRANSPORT`` it answers every MESSAGE with a MESSAGE back to the
sender's From URI through that route, the body prefixed with "echo: ".  End of stdin quits.

Audio
-----
Without media settings a call carries a fixed SDP (PCMU/PCMA on port 40000, no RTP: the
signalling tests).  With them, each call gets its own :class:`CallMedia`: an RTPTransport and
an AudioTransport negotiated through the call's SDP (the offerer's scenario for ``call`` and
``reinvite``, the answerer's for incoming calls and re-INVITEs), a generated tone played into
that stream alone and a recording of what that stream alone hears (pairwise connections on
the peer's audio bridge).  Settings (all optional)::

    {"codecs": ["G722", "PCMU"],   # the AudioTransport's codec list (null: the Engine's)
     "srtp": "off",                # "off", "optional" (SDES offered) or "forced" (RTP/SAVP)
     "tone": 1000,                 # Hz played into the stream (null: nothing played)
     "record": "/tmp/{id}.wav",    # what the stream hears ({id}: the call id; null: nothing;
                                   #   without {id}, a later call records into NAME-ID.wav)
     "conference": false,          # also connect_audio_transport() (the spec's conference)
     "use_ice": false,             # ICE on the call's RTPTransport (RFC 8445 through pjnath)
     "ice_stun_address": null,     # with use_ice: a STUN server (IP address) for a
     "ice_stun_port": 3478,        #   server-reflexive candidate
     "play": null}                 # a .wav file played (looped) instead of the tone

``"use_ice": "offer"`` answers an incoming offer with ICE when it has ICE (``a=ice-ufrag``),
without it otherwise (``sipcore listen``).  ``--answer`` may also be a final code 300-699
(given by :mod:`sipcore.cli`'s ``listen``): every incoming call is refused with it.

With a STUN server the transport waits for its answer (WAIT_STUN) before the offer or the
answer is made; ``--answer auto`` then answers from a thread of its own (the answer comes
through the poll thread, which must not wait for it).

``{"cmd": "media", ...settings}`` sets them for every later call (``{"cmd": "media",
"audio": false}`` goes back to the fixed SDP) and answers ``{"event": "media_settings",
"settings": {...} or null}`` (:meth:`PeerProcess.set_media` waits for it: an incoming call
that arrives before it is answered with the old settings).  Settings are checked when set: an
unknown one or a bad value (a codec the Engine lacks, ``"srtp": "mandatory"``, a tone at or
above 8,000 Hz, a ``play`` file that is not there, ...) leaves them as they were and answers
``{"event": "media_settings", "settings": <unchanged>, "error": "ValueError: ..."}``, which
``set_media`` raises as that ValueError/TypeError; a ``"media": {...}`` field in
``call`` or ``accept`` overrides them for that call.  A stream is clocked once it is on the
bridge: a tone, a recording or the conference puts it there.  Per-call media commands
(``"id"``)::

    {"cmd": "dtmf", "id": "c1", "digits": "0123456789*#ABCD", "gap": 0}   # RFC 4733
    {"cmd": "update_direction", "id": "c1", "direction": "sendonly"}      # no re-INVITE
    {"cmd": "conference", "id": "c1", "join": true}   # (dis)connect_audio_transport
    {"cmd": "stop_media", "id": "c1"}     # stop tone, recording (file complete) and stream

``reinvite``/``respond_reinvite`` with media send the call's active SDP again with the new
``direction`` (``respond_reinvite`` without one: the offer's mirrored), and every successful
SDP update applies the negotiated direction with ``AudioTransport.update_direction``.
Media events::

    {"event": "media_started", "id", "codec", "sample_rate", "srtp_active", "direction",
     "record", "t",              # t: time.time() when the recording started
     "local_rtp_port", "use_ice",
     "ice_stun"}                 # [address, port] of the STUN server that answered, or null
    {"event": "media_failed", "id", "error"}   # the call is then refused (488) or left alone
    {"event": "direction", "id", "direction", "t"}   # after a successful SDP update changed it
    {"event": "dtmf", "id", "digit"}                 # RTPAudioTransportGotDTMF, in order
    {"event": "ice", "id", "succeeded", "duration", "ice_active",   # the ICE result
     "chosen_local_candidates", "chosen_remote_candidates", "reason"}
    {"event": "media_stopped", "id", "record", "stats", "ice_active", "ice"}
                                 # the recording is complete

``ice`` is one RTPTransportICENegotiationDidSucceed (``succeeded`` true; the candidates as
``[{"component", "type", "address", "port"}, ...]``, one per component) or DidFail
(``succeeded`` false, ``reason``); ``ice_active`` is the transport's at that moment.
``media_stopped`` lists the call's ``ice`` results (without "event" and "id"; ``[]`` when no
ICE ran, e.g. against a side without ICE) and ``ice_active`` as it was just before the stream
stopped (null when it was not running).

The media stop by themselves when the call is DISCONNECTED.  Incoming offers the settings
cannot answer (e.g. ``"srtp": "forced"`` against an offer without a=crypto, or no codec in
common) are refused with 488 when ``--answer auto`` or ``accept`` answers them.

:class:`PeerProcess` is the parent's side: start it, read its events, send commands.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import Any


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="sipcore peer", description="A second sipcore endpoint "
                                 "driven by JSON lines on stdin (see sipcore.peer's docstring).")
    ap.add_argument("--ip", default="127.0.0.1", help="local address (127.0.0.1 or ::1)")
    ap.add_argument("--udp-port", type=int, default=0, help="UDP port (0: any free one)")
    ap.add_argument("--tcp-port", type=int, default=0, help="TCP port (0: any free one)")
    ap.add_argument("--tls-port", type=int, default=None, help="TLS port (default: no TLS)")
    ap.add_argument("--tls-cert", default=None, help="TLS certificate file (PEM)")
    ap.add_argument("--tls-key", default=None, help="TLS private key file (PEM)")
    ap.add_argument("--tls-ca", default=None, help="CA file to verify TLS peers with")
    ap.add_argument("--no-verify", action="store_true", help="do not verify TLS servers")
    ap.add_argument("--user", default="peer", help="user part of this endpoint's URI")
    ap.add_argument("--echo", default=None, metavar="HOST:PORT:TRANSPORT",
                    help="answer every MESSAGE with one back to its sender through this route")
    ap.add_argument("--log-level", type=int, default=0, help="PJSIP log level (0-6)")
    ap.add_argument("--answer", choices=["auto", "ring", "busy", "manual", "none"],
                    default="manual",
                    help="incoming calls: auto (180 then 200), ring (180 only), busy (486), "
                         "manual (wait for commands), none (no receiver for the Invitation "
                         "signals: the Engine answers 480)")
    ap.add_argument("--reinvite", choices=["auto", "manual"], default="auto",
                    help="re-INVITEs: answered 200 at once, or wait for respond_reinvite")
    ap.add_argument("--session-timer", choices=["off", "supported", "required", "always"],
                    default="supported", help="RFC 4028 session timers (Engine option)")
    ap.add_argument("--session-expires", type=int, default=1800,
                    help="session interval asked for, seconds (Engine option)")
    args = ap.parse_args(argv)

    from . import SIPURI, Credentials, Engine, Route, send_message, signals

    out_lock = threading.Lock()

    def emit(**obj: Any) -> None:
        with out_lock:
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()

    engine = Engine()
    creds = Credentials(SIPURI(args.ip, user=args.user))
    echo_route = None
    if args.echo:
        host, port, transport = args.echo.rsplit(":", 2)
        echo_route = Route(host, int(port), transport)

    def on_message(sender: Any, **d: Any) -> None:
        body = d["body"].decode("utf-8", "replace")
        emit(event="message", from_uri=str(d["from_uri"]), to_uri=str(d["to_uri"]),
             content_type=d["content_type"], body=body)
        if echo_route is not None:
            try:
                send_message(creds, d["from_uri"], d["content_type"] or "text/plain",
                             "echo: " + body, echo_route)
            except Exception as exc:
                emit(event="error", error=str(exc))

    def on_response(sender: Any, **d: Any) -> None:
        emit(event="response", to_uri=str(d["to_uri"]), code=d["code"], reason=d["reason"])

    def on_exception(sender: Any, **d: Any) -> None:
        emit(event="exception", traceback=d.get("traceback", ""))

    signals.SIPEngineGotException.connect(on_exception, weak=False)
    signals.SIPEngineGotMessage.connect(on_message, weak=False)
    signals.SIPEngineGotMessageResponse.connect(on_response, weak=False)
    calls = _Calls(emit, args) if args.answer != "none" else None
    engine.start(local_ip=args.ip, local_udp_port=args.udp_port, local_tcp_port=args.tcp_port,
                 local_tls_port=args.tls_port, tls_cert_file=args.tls_cert,
                 tls_privkey_file=args.tls_key, tls_ca_file=args.tls_ca,
                 tls_verify_server=not args.no_verify, log_level=args.log_level,
                 session_timer=args.session_timer, session_expires=args.session_expires)
    emit(event="ready", udp=engine.local_udp_port, tcp=engine.local_tcp_port,
         tls=engine.local_tls_port, pid=os.getpid())
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                cmd = json.loads(line)
                if cmd.get("cmd") == "quit":
                    break
                if cmd.get("cmd") in _Calls.COMMANDS and calls is not None:
                    calls.run(engine, cmd)
                elif cmd.get("cmd") == "send":
                    send_message(creds, engine.parse_sip_uri(cmd["to"]),
                                 cmd.get("content_type", "text/plain"), cmd["body"],
                                 Route(*cmd["route"]))
                else:
                    emit(event="error", error=f"unknown command {cmd!r}")
            except Exception as exc:
                emit(event="error", error=f"{type(exc).__name__}: {exc}")
    finally:
        if calls is not None:
            calls.close()
        engine.stop()
        emit(event="stopped")
    return 0


SRTP_MODES = {"off": (False, False), "optional": (True, False), "forced": (True, True)}
MEDIA_KEYS = ("codecs", "srtp", "tone", "record", "conference", "use_ice", "ice_stun_address",
              "ice_stun_port", "play")
_MIRROR = {"sendonly": "recvonly", "recvonly": "sendonly"}


def record_template(text: Any) -> str:
    """A recording's file name in which ``{id}`` stands for the call id (``{{`` and ``}}``
    for literal braces); ValueError naming ``record`` for any other field in braces."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"record must be a file name, not {text!r}")
    try:
        text.format(id="in1")
    except (KeyError, IndexError, AttributeError, ValueError) as exc:
        raise ValueError(f"record: {text!r}: only {{id}} (the call id) may stand in braces "
                         f"({exc!r})") from None
    return text


def srtp_mode(srtp: Any) -> tuple[bool, bool]:
    """The RTPTransport's ``(use_srtp, srtp_forced)`` for an ``srtp`` setting; ValueError
    naming it for any other value."""
    if srtp not in SRTP_MODES:
        raise ValueError(f"srtp must be one of {', '.join(SRTP_MODES)}, not {srtp!r}")
    return SRTP_MODES[srtp]


def check_media_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` checked as the ``media`` command and a call's ``"media"`` field take them:
    ValueError for an unknown setting or a bad value, TypeError for a wrong type, each naming
    the setting (``codecs`` against the running Engine's ``available_codecs``).  Returns them
    as given, so a typo is told when the settings are set, not by the first call's
    ``media_failed``."""
    from . import _ua
    from ._validate import check_bool, check_int
    from .media.audio import check_codec_list
    from .media.rtp import check_ip
    from .media.tones import check_frequency
    unknown = set(settings) - set(MEDIA_KEYS)
    if unknown:
        raise ValueError(f"unknown media settings {sorted(unknown)} "
                         f"(known: {', '.join(MEDIA_KEYS)})")
    s = dict(settings)
    if s.get("codecs") is not None:
        check_codec_list(_ua.running("the codecs media setting"), s["codecs"])
    if "srtp" in s:
        srtp_mode(s["srtp"])
    tone = s.get("tone")
    if tone is not None:
        if not isinstance(tone, (int, float)) or isinstance(tone, bool):
            raise TypeError(f"tone must be a number (Hz) or null, not {type(tone).__name__}")
        check_frequency("tone", tone, CallMedia.TONE_RATE)
    if s.get("record") is not None:
        record_template(s["record"])
    if "conference" in s:
        check_bool("conference", s["conference"])
    if "use_ice" in s and s["use_ice"] != "offer":
        check_bool("use_ice", s["use_ice"])
    check_ip("ice_stun_address", s.get("ice_stun_address"))
    if "ice_stun_port" in s:
        check_int("ice_stun_port", s["ice_stun_port"], 1, 65535)
    play = s.get("play")
    if play is not None:
        if not isinstance(play, str):
            raise TypeError(f"play must be a .wav file name or null, not {type(play).__name__}")
        if not os.path.isfile(play):
            raise ValueError(f"play: no such file {play!r}")
    return s


def has_ice(sdp: Any) -> bool:
    """Whether an SDP offers ICE (RFC 8839: ``a=ice-ufrag`` in the session or a stream)."""
    return any(a.name == "ice-ufrag" for a in [*sdp.attributes,
                                                *(a for m in sdp.media for a in m.attributes)])


def _with_direction(sdp: Any, direction: str) -> Any:
    """A copy of ``sdp`` (its first media line's direction set, its version one up)."""
    from .sdp import SDPAttribute
    out = sdp.copy()
    m = out.media[0]
    m.attributes = [a for a in m.attributes
                    if a.name not in ("sendrecv", "sendonly", "recvonly", "inactive")]
    m.attributes.append(SDPAttribute(direction, ""))
    if out.version is not None:
        out.version += 1
    return out


class CallMedia:
    """One call's audio, as a softphone wires it (used by the peer for each call; tests use it
    on their side too): an RTPTransport and an AudioTransport negotiated through the call's SDP,
    a tone (tones.write_tone, looped) played by a WaveFile into this stream alone, and a
    RecordingWaveFile of what this stream alone hears (sipcore's pairwise connections).

    ``CallMedia(codecs=None, srtp="off", tone=None, record=None, conference=False,
    workdir=None, use_ice=False, ice_stun_address=None, ice_stun_port=3478, play=None)``;
    ``workdir`` holds the tone files (default: a temporary folder); the ICE arguments are the
    RTPTransport's; ``play``: a .wav file played (looped) instead of the tone.
    With a STUN server the transport starts in WAIT_STUN: ``offer()`` and ``answer()`` first
    wait for its answer (:meth:`wait_initialized`), so call them off the poll thread (not in a
    signal receiver) or without STUN there.

    Offerer: ``sdp = m.offer(direction)`` -> send it -> ``m.negotiated(local, remote)`` on the
    SDP update (starts the stream).  Answerer: ``sdp = m.answer(offer)`` (the stream runs) ->
    send it.  Re-INVITEs: ``m.reoffer(active_local, direction)`` / ``m.reanswer(active_local,
    offer)``, then ``m.negotiated(...)`` applies the negotiated direction.  ``stop()`` ends all.
    """

    TONE_RATE = 16000

    def __init__(self, codecs: list[str] | None = None, srtp: str = "off",
                 tone: float | None = None, record: str | None = None,
                 conference: bool = False, workdir: str | None = None, use_ice: bool = False,
                 ice_stun_address: str | None = None, ice_stun_port: int = 3478,
                 play: str | None = None):
        from . import RTPTransport
        use_srtp, forced = srtp_mode(srtp)
        self.codecs = codecs
        self.tone = tone
        self.play = play
        self.record_path = record
        self.conference = bool(conference)
        self.workdir = workdir
        self.rtp = RTPTransport(use_srtp=use_srtp, srtp_forced=forced, use_ice=use_ice,
                                ice_stun_address=ice_stun_address, ice_stun_port=ice_stun_port)
        #: the ICE results of this call's transport, in order (filled by whoever receives
        #: RTPTransportICENegotiationDid*: the peer's _Calls), and ``ice_active`` as stop()
        #: found it
        self.ice: list[dict[str, Any]] = []
        self.ice_active: bool | None = None
        self.audio: Any = None
        self.player: Any = None
        self.recorder: Any = None
        self.record_started: float | None = None
        self.stats: dict[str, Any] | None = None

    # -- negotiation --

    def _session(self, media: Any) -> Any:
        from .sdp import SDPConnection, SDPSession
        address = self.rtp.local_rtp_address
        if address is None:
            raise ValueError("the call's RTPTransport is closed (the Engine stopped)")
        kind = "IP6" if ":" in address else "IP4"
        return SDPSession(address, address_type=kind,
                          connection=SDPConnection(address, address_type=kind), media=[media])

    def wait_initialized(self, timeout: float = 15.0) -> None:
        """Wait while the transport is in WAIT_STUN (its STUN server's answer; the poll thread
        moves it on, so not from the poll thread); STUN_FAILED raises RuntimeError."""
        deadline = time.monotonic() + timeout
        while self.rtp.state == "WAIT_STUN":
            if time.monotonic() > deadline:
                raise TimeoutError(f"no STUN answer from {self.rtp.ice_stun_address}:"
                                   f"{self.rtp.ice_stun_port} in {timeout} s")
            time.sleep(0.01)
        if self.rtp.state == "STUN_FAILED":
            raise RuntimeError("the RTPTransport's STUN request failed (STUN_FAILED)")

    def offer(self, direction: str = "sendrecv") -> Any:
        """The offer (the spec's offerer scenario up to set_LOCAL)."""
        from . import AudioTransport
        self.wait_initialized()
        self.rtp.set_INIT()
        self.audio = AudioTransport(self.rtp, codecs=self.codecs, enable_silence_detection=False)
        sdp = self._session(self.audio.get_local_media(is_offer=True, direction=direction))
        self.rtp.set_LOCAL(sdp, 0)
        return sdp

    def answer(self, offer: Any, direction: str | None = None) -> Any:
        """The answer to ``offer``; the stream runs (the spec's answerer scenario).  Raises
        (SIPCoreError, PJSIPError) when the offer cannot be answered."""
        from . import AudioTransport
        self.wait_initialized()
        self.rtp.set_INIT()
        self.audio = AudioTransport(self.rtp, offer, 0, codecs=self.codecs,
                                    enable_silence_detection=False)
        if direction is None:
            direction = _MIRROR.get(offer.media[0].get_direction(), offer.media[0].get_direction())
        sdp = self._session(self.audio.get_local_media(is_offer=False, direction=direction))
        self.rtp.set_ESTABLISHED(sdp, offer, 0)
        self._connect()
        return sdp

    def reoffer(self, active_local: Any, direction: str) -> Any:
        return _with_direction(active_local, direction)

    def reanswer(self, active_local: Any, offer: Any, direction: str | None = None) -> Any:
        if direction is None:
            d = offer.media[0].get_direction()
            direction = _MIRROR.get(d, d)
        return _with_direction(active_local, direction)

    def negotiated(self, local: Any, remote: Any) -> bool:
        """Apply a successful SDP update: start the stream (offerer, first time), else the
        negotiated direction; True when the direction changed."""
        if not self.audio.is_started:
            self.audio.start(local, remote, 0)
            self._connect()
            return False
        direction = local.media[0].get_direction()
        if direction != self.audio.direction:
            self.audio.update_direction(direction)
            return True
        return False

    # -- the bridge --

    def tone_file(self) -> str:
        from .media import tones
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="sipcore-peer-")
        path = os.path.join(self.workdir, f"tone-{self.tone}.wav")
        # 1 s: a whole number of periods of a whole-Hz tone, so it loops seamlessly
        if self.tone and not os.path.exists(path):
            tones.write_tone(path + ".part", self.tone, seconds=1.0, sample_rate=self.TONE_RATE)
            os.replace(path + ".part", path)
        return path

    def _connect(self) -> None:
        from . import RecordingWaveFile, WaveFile
        if self.play or self.tone:
            self.player = WaveFile(self.play or self.tone_file())
            self.player.start(loop_count=0, destination=self.audio)
        if self.record_path:
            self.recorder = RecordingWaveFile(self.record_path)
            self.recorder.start(source=self.audio)
            self.record_started = time.time()
        if self.conference:
            self.join(True)

    def join(self, on: bool) -> None:
        """connect_audio_transport() / disconnect_audio_transport() of this stream."""
        from . import Engine
        engine = Engine()
        if on:
            engine.connect_audio_transport(self.audio)
        else:
            engine.disconnect_audio_transport(self.audio)

    def stop(self) -> None:
        """Stop the tone, the recording (the file is complete) and the stream; idempotent."""
        if self.audio is not None and self.audio.is_active:
            self.stats = self.audio.statistics
            self.ice_active = self.rtp.ice_active
        for obj in (self.player, self.recorder, self.audio):
            if obj is not None:
                obj.stop()


class _Calls:
    """The peer's calls: commands in, call_state/sdp_update (and media) events out."""

    COMMANDS = ("call", "ring", "accept", "hangup", "reinvite", "respond_reinvite", "media",
                "dtmf", "update_direction", "conference", "stop_media")

    def __init__(self, emit: Any, args: Any):
        from . import signals
        self.emit = emit
        self.args = args
        self.calls: dict[str, Any] = {}
        self.ids: dict[int, str] = {}
        self.incoming = 0
        self.media_defaults: dict[str, Any] | None = None
        self.media: dict[str, CallMedia] = {}
        self.recorded: set[str] = set()         # the recordings' file names so far
        self.closing = False                    # close() began: the Engine is going away
        self.workdir = tempfile.mkdtemp(prefix="sipcore-peer-")
        for name, receiver in self._receivers():
            getattr(signals, name).connect(receiver, weak=False)

    def _receivers(self) -> list[tuple[str, Any]]:
        """The notifications this listens to, each with its receiver."""
        return [("SIPInvitationChangedState", self.on_state),
                ("SIPInvitationGotSDPUpdate", self.on_sdp),
                ("RTPAudioTransportGotDTMF", self.on_dtmf),
                ("RTPTransportICENegotiationDidSucceed", self.on_ice),
                ("RTPTransportICENegotiationDidFail", self.on_ice)]

    def sdp(self, direction: str = "sendrecv", port: int = 40000) -> Any:
        from .testing.helpers import audio_sdp
        return audio_sdp(self.args.ip, direction, port)

    # -- media --

    def settings(self, cmd: dict[str, Any]) -> dict[str, Any] | None:
        """The media settings of a call: the defaults, updated by the command's "media"."""
        own = cmd.get("media")
        if own is None:
            return self.media_defaults
        if own is False or own.get("audio") is False:
            return None
        out = dict(self.media_defaults or {})
        out.update(own)
        return out

    def new_media(self, cid: str, settings: dict[str, Any]) -> CallMedia:
        check_media_settings(settings)
        record = self.record_name(settings.get("record"), cid)
        m = CallMedia(codecs=settings.get("codecs"), srtp=settings.get("srtp", "off"),
                      tone=settings.get("tone"), record=record,
                      conference=settings.get("conference", False), workdir=self.workdir,
                      use_ice=settings.get("use_ice", False),
                      ice_stun_address=settings.get("ice_stun_address"),
                      ice_stun_port=settings.get("ice_stun_port", 3478),
                      play=settings.get("play"))
        self.media[cid] = m
        return m

    def record_name(self, template: str | None, cid: str) -> str | None:
        """The file a call's recording goes to: ``{id}`` in ``template`` replaced by the call
        id; a name this peer already recorded into (a template without ``{id}``) gets
        ``-ID`` before its extension instead, so no call's recording overwrites another's."""
        if not template:
            return None
        name = record_template(template).format(id=cid)
        if name in self.recorded:
            stem, ext = os.path.splitext(name)
            name = f"{stem}-{cid}{ext}"
        self.recorded.add(name)
        return name

    def started(self, cid: str, m: CallMedia) -> None:
        self.emit(event="media_started", id=cid, codec=m.audio.codec,
                  sample_rate=m.audio.sample_rate, srtp_active=m.rtp.srtp_active,
                  direction=m.audio.direction, record=m.record_path, t=m.record_started,
                  local_rtp_port=m.rtp.local_rtp_port, use_ice=m.rtp.use_ice,
                  ice_stun=[m.rtp.ice_stun_address, m.rtp.ice_stun_port]
                  if m.rtp.ice_stun_address else None)

    def stop_media(self, cid: str) -> None:
        m = self.media.pop(cid, None)
        if m is not None:
            m.stop()
            self.emit(event="media_stopped", id=cid, record=m.record_path, stats=m.stats,
                      ice_active=m.ice_active, ice=m.ice)

    def answer_incoming(self, cid: str, inv: Any, settings: dict[str, Any] | None,
                        direction: str | None = None) -> bool:
        """The answer SDP set on ``inv``; False (media_failed emitted) when refused."""
        if settings is None:
            inv.set_offered_local_sdp(self.answer_direction(inv, direction))
            return True
        offer = inv.get_offered_remote_sdp()
        if settings.get("use_ice") == "offer":
            settings = {**settings, "use_ice": offer is not None and has_ice(offer)}
        try:
            m = self.new_media(cid, settings)
            inv.set_offered_local_sdp(m.answer(offer, direction))
        except Exception as exc:
            if not self.closing:    # (else cut short by close(): nothing to report)
                self.emit(event="media_failed", id=cid, error=f"{type(exc).__name__}: {exc}")
            self.stop_media(cid)
            return False
        self.started(cid, m)
        return True

    def run(self, engine: Any, cmd: dict[str, Any]) -> None:
        from . import SIPURI, Credentials, Invitation, Route
        what = cmd["cmd"]
        if what == "media":
            given = {k: v for k, v in cmd.items() if k != "cmd"}
            try:
                if given.pop("audio", True) is False:
                    if given:
                        raise ValueError(f"audio false takes no other media setting, "
                                         f"not {sorted(given)}")
                    self.media_defaults = None
                else:
                    self.media_defaults = check_media_settings(given)
            except (TypeError, ValueError) as exc:      # the settings stay as they were
                self.emit(event="media_settings", settings=self.media_defaults,
                          error=f"{type(exc).__name__}: {exc}")
                return
            self.emit(event="media_settings", settings=self.media_defaults)
            return
        if what == "call":
            creds = Credentials(SIPURI(self.args.ip, user=cmd.get("user", self.args.user)),
                                cmd.get("password"))
            inv = Invitation(creds, engine.parse_sip_uri(cmd["to"]), Route(*cmd["route"]))
            cid = cmd["id"]
            self.calls[cid] = inv
            self.ids[id(inv)] = cid
            chosen = self.settings(cmd)
            direction = cmd.get("direction", "sendrecv")
            if chosen is None:
                inv.set_offered_local_sdp(self.sdp(direction))
            else:
                inv.set_offered_local_sdp(self.new_media(cid, chosen).offer(direction))
            inv.send_invite(cmd.get("headers"))
            return
        if cmd.get("id") not in self.calls:
            raise ValueError(f"{what}: no call with id {cmd.get('id')!r} "
                             f"(calls: {sorted(self.calls)})")
        cid = cmd["id"]
        inv = self.calls[cid]
        m = self.media.get(cid)
        if what == "ring":
            inv.respond_to_invite_provisionally(cmd.get("code", 180))
        elif what == "accept":
            if self.answer_incoming(cid, inv, self.settings(cmd), cmd.get("direction")):
                inv.accept_invite()
            else:
                inv.disconnect(488)
        elif what == "hangup":
            inv.disconnect(cmd.get("code", 603), timeout=cmd.get("timeout"))
        elif what == "reinvite":
            direction = cmd.get("direction", "sendrecv")
            inv.set_offered_local_sdp(self.sdp(direction) if m is None else
                                      m.reoffer(inv.get_active_local_sdp(), direction))
            inv.send_reinvite()
        elif what == "respond_reinvite":
            inv.set_offered_local_sdp(self.reinvite_answer(inv, m, cmd.get("direction")))
            inv.respond_to_reinvite(cmd.get("code", 200))
        elif m is None:
            raise ValueError(f"call {cid!r} has no media")
        elif what == "dtmf":
            for i, digit in enumerate(cmd["digits"]):
                if i and cmd.get("gap"):
                    time.sleep(cmd["gap"])
                m.audio.send_dtmf(digit)
        elif what == "update_direction":
            m.audio.update_direction(cmd["direction"])
            self.emit(event="direction", id=cid, direction=m.audio.direction, t=time.time())
        elif what == "conference":
            m.join(bool(cmd.get("join", True)))
        elif what == "stop_media":
            self.stop_media(cid)

    def reinvite_answer(self, inv: Any, m: CallMedia | None, direction: str | None) -> Any:
        if m is None:
            return self.answer_direction(inv, direction)
        return m.reanswer(inv.get_active_local_sdp(), inv.get_offered_remote_sdp(), direction)

    def answer_direction(self, inv: Any, direction: str | None) -> Any:
        if direction is None:
            offer = inv.get_offered_remote_sdp()
            d = offer.media[0].get_direction() if offer is not None and offer.media else "sendrecv"
            direction = _MIRROR.get(d, d)
        return self.sdp(direction)

    def on_state(self, sender: Any, **d: Any) -> None:
        cid = self.ids.get(id(sender))
        if cid is None and d["state"] == "INCOMING":
            self.incoming += 1
            cid = f"in{self.incoming}"
            self.calls[cid] = sender
            self.ids[id(sender)] = cid
        if cid is None:
            return
        self.emit(event="call_state", id=cid, state=d["state"], prev_state=d["prev_state"],
                  code=d.get("code"), reason=d.get("reason"), method=d.get("method"))
        try:
            if d["state"] == "INCOMING":
                if self.args.answer in ("auto", "ring"):
                    sender.respond_to_invite_provisionally(180)
                if self.args.answer == "auto":
                    settings = self.media_defaults
                    if settings and settings.get("use_ice") and settings.get("ice_stun_address"):
                        # the STUN answer comes through this (the poll) thread: wait elsewhere
                        threading.Thread(target=self.auto_answer, args=(cid, sender, settings),
                                         daemon=True).start()
                    else:
                        self.auto_answer(cid, sender, settings)
                elif self.args.answer == "busy":
                    sender.disconnect(486)
                elif isinstance(self.args.answer, int):    # sipcore listen --answer CODE
                    sender.disconnect(self.args.answer)
            elif d["state"] == "REINVITED" and self.args.reinvite == "auto":
                sender.set_offered_local_sdp(self.reinvite_answer(sender, self.media.get(cid),
                                                                  None))
                sender.respond_to_reinvite(200)
            elif d["state"] == "DISCONNECTED":
                self.ids.pop(id(sender), None)
                self.stop_media(cid)
        except Exception as exc:
            self.emit(event="error", error=f"{type(exc).__name__}: {exc}")

    def auto_answer(self, cid: str, inv: Any, settings: dict[str, Any] | None) -> None:
        try:
            if self.answer_incoming(cid, inv, settings):
                inv.accept_invite()
            elif not self.closing:
                inv.disconnect(488)
        except Exception as exc:
            if not self.closing:    # (an answer that waited for STUN, cut short by close())
                self.emit(event="error", error=f"{type(exc).__name__}: {exc}")

    def on_sdp(self, sender: Any, **d: Any) -> None:
        cid = self.ids.get(id(sender))
        if cid is None:
            return
        self.emit(event="sdp_update", id=cid, succeeded=d["succeeded"],
                  local_sdp=str(d["local_sdp"]) if d.get("local_sdp") else None,
                  remote_sdp=str(d["remote_sdp"]) if d.get("remote_sdp") else None,
                  error=d.get("error"))
        m = self.media.get(cid)
        if m is None or not d["succeeded"]:
            return
        try:
            first = not m.audio.is_started
            if m.negotiated(d["local_sdp"], d["remote_sdp"]):
                self.emit(event="direction", id=cid, direction=m.audio.direction, t=time.time())
            if first:
                self.started(cid, m)
        except Exception as exc:
            self.emit(event="media_failed", id=cid, error=f"{type(exc).__name__}: {exc}")

    def on_dtmf(self, sender: Any, **d: Any) -> None:
        for cid, m in list(self.media.items()):
            if m.audio is sender:
                self.emit(event="dtmf", id=cid, digit=d["digit"])

    def on_ice(self, sender: Any, **d: Any) -> None:
        """RTPTransportICENegotiationDidSucceed/DidFail of a call's transport: an "ice" event
        (and the call's CallMedia.ice)."""
        for cid, m in list(self.media.items()):
            if m.rtp is sender:
                ev: dict[str, Any] = {"succeeded": "reason" not in d,
                                      "duration": d["duration"],
                                      "ice_active": sender.ice_active}
                if "reason" in d:
                    ev["reason"] = d["reason"]
                else:
                    for key in ("chosen_local_candidates", "chosen_remote_candidates"):
                        ev[key] = [c._asdict() for c in d[key]]
                m.ice.append(ev)
                self.emit(event="ice", id=cid, **ev)

    def disconnect(self) -> None:
        """Disconnect the receivers __init__ connected (sipcore listen, before it stops)."""
        from . import signals
        for name, receiver in self._receivers():
            getattr(signals, name).disconnect(receiver)

    def close(self) -> None:
        """Stop every call's media (an answer still waiting for STUN gives up quietly)."""
        self.closing = True
        for cid in list(self.media):
            try:
                self.stop_media(cid)
            except Exception:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)


def _child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """``env`` (default: this process's) with the folder this sipcore was imported from first
    on ``PYTHONPATH``: the child runs ``python -m sipcore`` and must find the same package also
    when it is on ``sys.path`` without being installed (a checkout, a notebook's sys.path)."""
    out = dict(os.environ if env is None else env)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rest = [p for p in out.get("PYTHONPATH", "").split(os.pathsep) if p and p != here]
    out["PYTHONPATH"] = os.pathsep.join([here, *rest])
    return out


class PeerProcess:
    """Parent side of ``python -m sipcore peer``: ``with PeerProcess(...) as peer: ...``."""

    def __init__(self, *args: str, python: str | None = None,
                 env: Mapping[str, str] | None = None):
        self.cmd = [python or sys.executable, "-m", "sipcore", "peer", *args]
        self.env = _child_env(env)
        self.proc: subprocess.Popen[str] | None = None
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.ready: dict[str, Any] = {}
        #: every "exception" event (SIPEngineGotException in the child), also when skipped
        #: by expect(): ``assert peer.exceptions == []``
        self.exceptions: list[dict[str, Any]] = []
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 20.0) -> PeerProcess:
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, env=self.env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.ready = self.expect("ready", timeout=timeout)
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
                if ev.get("event") == "exception":
                    self.exceptions.append(ev)
                self.events.put(ev)
            except ValueError:
                self.events.put({"event": "output", "line": line})
        self.events.put({"event": "eof"})

    def expect(self, event: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The next event of this kind whose fields match; other events are skipped.  The
        TimeoutError names the ``error`` events skipped meanwhile (a command the child
        refused)."""
        deadline = time.monotonic() + timeout
        errors: list[str] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                told = f"; the peer reported meanwhile: {'; '.join(errors)}" if errors else ""
                raise TimeoutError(f"peer sent no {event!r} event matching {match} in "
                                   f"{timeout} s{told}")
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if ev.get("event") == "error" and event != "error":
                errors.append(str(ev.get("error")))
            if ev.get("event") == "eof" and event != "eof":
                self.stderr.seek(0)
                err = self.stderr.read()
                raise RuntimeError(f"peer exited while waiting for {event!r}: {err[-2000:]}")
            if ev.get("event") == event and all(ev.get(k) == v for k, v in match.items()):
                return ev

    def send(self, to: str, body: str, route: tuple[str, int, str | None],
             content_type: str = "text/plain") -> None:
        self._command({"cmd": "send", "to": to, "body": body, "route": list(route),
                       "content_type": content_type})

    def set_media(self, **settings: Any) -> dict[str, Any] | None:
        """The media settings of later calls (see the module documentation; ``audio=False``:
        none); returns once the child applied them.  Settings the child refuses raise here
        (ValueError / TypeError with the child's message, naming the setting) and leave its
        settings as they were."""
        self._command({"cmd": "media", **settings})
        ev = self.expect("media_settings")
        if ev.get("error"):
            kind, _, text = ev["error"].partition(": ")
            raise (TypeError if kind == "TypeError" else ValueError)(text or kind)
        return ev["settings"]  # type: ignore[no-any-return]

    def command(self, cmd: str, **fields: Any) -> None:
        """Send any command, e.g. ``command("call", id="c1", to=..., route=[...])``."""
        self._command({"cmd": cmd, **fields})

    def _command(self, obj: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self._command({"cmd": "quit"})
                assert self.proc.stdin is not None     # (made with stdin=PIPE)
                self.proc.stdin.close()
                self.proc.wait(timeout)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
            self.proc.wait()
        finally:
            if self._reader is not None:
                self._reader.join(timeout)   # every event the child wrote, exceptions too
            for stream in (self.proc.stdout, self.stderr):
                try:
                    if stream:
                        stream.close()
                except OSError:
                    pass

    def __enter__(self) -> PeerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
