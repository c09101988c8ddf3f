"""baresip (Debian's 1.0.0) as a scriptable, headless SIP peer for tests.

Usage::

    from sipcore.testing.baresip import Baresip

    with Kamailio() as k:
        k.add_user("bob", "pw")
        with Baresip("bob", "pw", registrar=k, contacts=["sip:alice@127.0.0.1"]) as b:
            b.wait_registered()
            ...                              # something sends bob a MESSAGE
            peer, text = b.wait_for_message("hello")
            b.send_message("sip:alice@127.0.0.1", "hi back")
            b.wait_for_output(r"SIP/2.0 200 OK")   # (sip_trace=True)

Quirks of baresip 1.0.0 found by experiment (see README.md):

* ``sip_listen 127.0.0.1:P`` binds UDP+TCP on P **and TLS on P+1**; the
  helper picks P so that P+1 is free too, and never uses P+1 for ctrl_tcp.
* Incoming MESSAGEs are printed by the ``menu`` module through the UI
  modules only, so ``stdio.so`` must be loaded; stdio needs a stdin that
  epoll accepts -> stdin is a pipe we keep open (a file or /dev/null makes
  stdio fail with EPERM).  The line is ``\\r<from-uri>: "<text>"``.
* Sending a MESSAGE: the ``contact`` module's ``message <text>`` command
  sends to the *current contact*; there is no "message <uri> <text>" in
  1.0.0.  Contacts are read from the ``contacts`` file at start-up, so
  targets must be given up front (``contacts=[...]``); ``send_message``
  selects the target with ``contact_next`` and then sends.
* Media (see README.md): ``audio_codecs`` is an account parameter; G722 and opus must be
  spelled ``G722/16000`` and ``opus/48000/2`` or baresip silently skips them.  ``aufile``
  is a source only and needs ``ausrc_srate``/``ausrc_channels`` equal to the file's;
  what baresip hears is recorded by the ``sndfile`` module (``snd_path``), one
  ``*-dec.wav`` (and ``*-enc.wav``) per call.  ``mediaenc=srtp-mand`` on the account line
  requires SDES SRTP, ``srtp`` offers it optionally.  ctrl_tcp ``sndcode`` sends RFC 4733
  digits; received digits are ``CALL_DTMF_START`` events.
* stdout is block-buffered when not a tty; the helper runs baresip under
  ``stdbuf -oL -eL`` so output can be waited for live.
* Control: ``ctrl_tcp`` speaks netstrings with JSON
  ``{"command": .., "params": .., "token": ..}``; replies are
  ``{"response": true, "ok": .., "data": .., "token": ..}`` and events
  ``{"event": true, ...}`` arrive on the same connection.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import wave
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .ports import _can_bind, free_port
from .procs import ManagedPeer

__all__ = ["Baresip", "BaresipError"]

MODULE_DIRS = ["/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules",
               "/usr/lib/x86_64-linux-gnu/baresip/modules"]

# codec name (as in audio_codecs, before any "/") -> the module that provides it
CODEC_MODULES = {"pcmu": "g711", "pcma": "g711", "g722": "g722", "gsm": "gsm",
                 "opus": "opus", "l16": "l16", "g726-32": "g726", "g726-40": "g726",
                 "g726-24": "g726", "g726-16": "g726"}
# what baresip silently skips unless written in full
CODEC_SPELLING = {"g722": "G722/16000", "opus": "opus/48000/2"}
MEDIAENC = ("srtp", "srtp-mand", "srtp-mandf")

# "\rsip:alice@127.0.0.1:5060: "hello""  (menu.so, via stdio.so)
MESSAGE_RX = re.compile(r'^\r?(sips?:[^\s"]+): "(.*)"$', re.M)


class BaresipError(RuntimeError):
    pass


def _free_sip_port() -> int:
    """Port P free for UDP+TCP with P+1 free for TCP (baresip's TLS)."""
    for _ in range(200):
        p = free_port("both")
        if _can_bind(p + 1, socket.SOCK_STREAM, socket.AF_INET):
            return p
    raise BaresipError("no free port pair")


class Baresip(ManagedPeer):
    """Headless baresip user agent.

    Args:
      user         user part of the AOR (default "peer")
      password     auth_pass; with ``registrar`` the account registers
      registrar    a Kamailio instance, or "host:port" string; None = no
                   registration (peer-to-peer, reachable at .contact_uri)
      transport    "udp" / "tcp" (towards the registrar)
      domain       AOR domain (default 127.0.0.1)
      regint       registration interval (seconds)
      auto_answer  answermode=auto for incoming calls
      contacts     list of SIP URIs usable as MESSAGE/dial targets
      sip_trace    run with -s (full SIP trace on stdout)
      extra_account_params  appended verbatim to the account line
      workdir      config dir (default: new tmp dir, removed on close)
    Media (any of them; without them baresip sends a 440 Hz sine, PCMU/PCMA, as before):
      audio_codecs list (or comma string) for the account's ``audio_codecs``, in order,
                   e.g. ``["G722", "PCMU"]``; "G722"/"opus" are written ``G722/16000`` /
                   ``opus/48000/2`` for you; the codec modules are loaded
      audio_file   a WAV file baresip plays as its microphone (``aufile``; 16-bit PCM;
                   ``ausrc_srate``/``ausrc_channels`` follow the file).  It plays once:
                   make it longer than the call
      record_dir   directory where the ``sndfile`` module records each call: what baresip
                   hears in ``*-dec.wav``, what it sends in ``*-enc.wav``
                   (``recordings()``)
      mediaenc     "srtp" (optional SDES SRTP) or "srtp-mand" (required) on the account
      ice          True: ``medianat=ice`` (baresip gathers every interface, not only
                   loopback); ``stun_server`` "host:port" adds ``stunserver=``
    Attributes:
      sip_port, ctrl_port, aor, contact_uri, confdir, log (stdout+stderr file),
      events (ctrl_tcp events read so far, dicts with "type", "param", ...)
    """

    host = "127.0.0.1"

    def __init__(self, user: str = "peer", password: str | None = None, *,
                 registrar: Any = None, transport: str = "udp",
                 domain: str = "127.0.0.1", regint: int = 60,
                 auto_answer: bool = False, contacts: Iterable[str] = (),
                 sip_trace: bool = True, extra_account_params: str = "",
                 workdir: str | os.PathLike[str] | None = None, start_timeout: float = 10.0,
                 audio_codecs: str | Iterable[str] | None = None,
                 audio_file: str | os.PathLike[str] | None = None,
                 record_dir: str | os.PathLike[str] | None = None,
                 mediaenc: str | None = None, ice: bool = False,
                 stun_server: str | None = None):
        self.binary = shutil.which("baresip") or "/usr/bin/baresip"
        self.user = user
        self.password = password
        self.transport = transport.lower()
        self.domain = domain
        self.auto_answer = auto_answer
        self.sip_trace = sip_trace
        self.start_timeout = start_timeout
        self.confdir = self.make_workdir(workdir, "baresip-", "baresip.log")
        self.sip_port = _free_sip_port()
        self.ctrl_port = free_port("tcp")
        self.contact_uri = f"sip:{user}@{self.host}:{self.sip_port}"
        self.contacts = list(contacts)

        if registrar is not None:
            if hasattr(registrar, "port"):
                reg_hostport = f"{registrar.host}:{registrar.port}"
            else:
                reg_hostport = str(registrar)
            # AOR in our domain; the registrar is also the outbound proxy
            # (baresip 1.0 otherwise sends MESSAGE/INVITE straight to the
            # request-URI host, i.e. port 5060)
            self.aor = f"sip:{user}@{domain}"
            self.outbound: str | None = f"sip:{reg_hostport};transport={self.transport}"
            acc = (f"<{self.aor};transport={self.transport}>"
                   f';outbound="{self.outbound}"')
            if password is not None:
                acc += f";auth_pass={password}"
            acc += f";regint={regint}"
            self.registers = True
        else:
            self.aor = self.contact_uri
            self.outbound = None
            acc = f"<{self.aor};transport={self.transport}>;regint=0"
            self.registers = False
        acc += ";answermode=" + ("auto" if auto_answer else "manual")
        self.audio_codecs = _codec_list(audio_codecs)
        if self.audio_codecs:
            acc += ";audio_codecs=" + ",".join(self.audio_codecs)
        if mediaenc is not None:
            if mediaenc not in MEDIAENC:
                raise ValueError(f"mediaenc must be one of {MEDIAENC}, not {mediaenc!r}")
            acc += f";mediaenc={mediaenc}"
        self.mediaenc = mediaenc
        self.ice = bool(ice)
        if self.ice:
            acc += ";medianat=ice"
        if stun_server is not None:
            acc += f";stunserver=stun:{stun_server}"
        self.audio_file = None if audio_file is None else Path(audio_file).resolve()
        if self.audio_file is not None and not self.audio_file.is_file():
            raise BaresipError(f"audio_file {self.audio_file} does not exist")
        self.record_dir = None if record_dir is None else Path(record_dir).resolve()
        if self.record_dir is not None:
            self.record_dir.mkdir(parents=True, exist_ok=True)
        if extra_account_params:
            acc += ";" + extra_account_params.lstrip(";")
        self.account_line = acc
        self._write_config()
        self.proc: subprocess.Popen[bytes] | None = None
        self._logfh = None
        self._ctrl: socket.socket | None = None
        self._ctrl_buf = b""
        self._token = 0
        self.events: list[dict[str, Any]] = []

    # ------------------------------------------------------------ config
    def _write_config(self) -> None:
        mdir = next((d for d in MODULE_DIRS if os.path.isdir(d)), MODULE_DIRS[0])
        if self.audio_file is not None:
            with wave.open(str(self.audio_file), "rb") as w:
                rate, channels = w.getframerate(), w.getnchannels()
            source = f"aufile,{self.audio_file}"
        else:
            rate, channels, source = 48000, 2, "ausine,440"
        modules = ["stdio", "g711"]
        for c in self.audio_codecs:
            m = CODEC_MODULES.get(c.split("/")[0].lower())
            if m is None:
                raise BaresipError(f"unknown codec {c!r} (known: {sorted(CODEC_MODULES)})")
            if m not in modules:
                modules.append(m)
        modules += ["aufile" if self.audio_file is not None else "ausine", "alsa"]
        if self.record_dir is not None:
            modules.append("sndfile")
        if self.mediaenc is not None:
            modules.append("srtp")
        if self.ice:
            modules.append("ice")
        module_lines = "".join(f"module\t\t\t{m}.so\n" for m in modules)
        snd_path = f"snd_path\t\t{self.record_dir}\n" if self.record_dir else ""
        cfg = f"""\
# generated by sipcore.testing.baresip
poll_method		epoll
sip_listen		{self.host}:{self.sip_port}
# keep everything (incl. SDP c= lines) on loopback
net_interface		{self.host}
call_local_timeout	120
call_max_calls		4
# headless audio: sine (or aufile) source, ALSA "null" sink
audio_player		alsa,null
audio_source		{source}
audio_alert		alsa,null
# ausine only produces 48 kHz stereo, aufile needs the file's format; baresip resamples
ausrc_srate		{rate}
ausrc_channels		{channels}
{snd_path}
module_path		{mdir}
{module_lines}
module_tmp		uuid.so
module_tmp		account.so

module_app		menu.so
module_app		contact.so
module_app		ctrl_tcp.so

ctrl_tcp_listen		{self.host}:{self.ctrl_port}
"""
        (self.confdir / "config").write_text(cfg)
        (self.confdir / "accounts").write_text(self.account_line + "\n")
        (self.confdir / "contacts").write_text(
            "".join(f'"c{i}" <{u}>\n' for i, u in enumerate(self.contacts)))
        cur = self.confdir / "current_contact"
        if cur.exists():
            cur.unlink()

    # ------------------------------------------------------------ process
    def start(self) -> Baresip:
        if self.running:
            return self
        cmd = [self.binary, "-f", str(self.confdir)]
        if self.sip_trace:
            cmd.append("-s")
        if shutil.which("stdbuf"):
            cmd = ["stdbuf", "-oL", "-eL"] + cmd
        self.spawn(cmd, self.confdir, stdin=subprocess.PIPE,
                   env={**os.environ, "TERM": "dumb"})
        return self

    def _wait_ready(self) -> None:
        self.wait_for_output(r"baresip is ready\.", self.start_timeout)
        self._connect_ctrl()

    def _connect_ctrl(self) -> None:
        deadline = time.monotonic() + 5
        while True:
            try:
                self._ctrl = socket.create_connection(
                    (self.host, self.ctrl_port), timeout=2)
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise BaresipError("ctrl_tcp not reachable:\n"
                                       + self.output()[-3000:]) from exc
                time.sleep(0.1)

    def stop(self, timeout: float = 5.0) -> None:
        if self._ctrl is not None:
            try:
                self._ctrl.close()
            except OSError:
                pass
            self._ctrl = None
        stdin = self.proc.stdin if self.proc is not None else None
        self.stop_process(timeout)           # SIGTERM: graceful un-REGISTER and quit
        if stdin:
            try:
                stdin.close()
            except OSError:
                pass

    def close(self) -> None:
        self.stop()
        if self._own_tmp:
            shutil.rmtree(self.confdir, ignore_errors=True)

    # ------------------------------------------------------------ output
    def mark(self) -> int:
        """Current output offset; pass as ``since`` to only see newer lines."""
        return len(self.output())

    def wait_for_output(self, pattern: str, timeout: float = 10.0,
                        since: int = 0) -> re.Match[str]:
        """Wait for regex ``pattern`` (re.M) in output after offset ``since``."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.output(), since)
            if m:
                return m
            if self.proc is not None and self.proc.poll() is not None:
                raise BaresipError(f"baresip exited ({self.proc.returncode}) "
                                   f"while waiting for {pattern!r}:\n"
                                   + self.output()[-3000:])
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pattern!r} not seen in baresip output "
                                   f"within {timeout}s:\n"
                                   + self.output()[since:][-3000:])
            time.sleep(0.05)

    def messages(self, since: int = 0) -> list[tuple[str, str]]:
        """Received MESSAGEs as (from_uri, text) tuples."""
        return [(m.group(1), m.group(2))
                for m in MESSAGE_RX.finditer(self.output(), since)]

    def wait_for_message(self, text_regex: str = ".*", timeout: float = 10.0,
                         since: int = 0) -> tuple[str, str]:
        """Wait for an incoming MESSAGE whose text matches ``text_regex``."""
        rx = re.compile(text_regex)
        deadline = time.monotonic() + timeout
        while True:
            for peer, text in self.messages(since):
                if rx.search(text):
                    return peer, text
            if time.monotonic() > deadline:
                raise TimeoutError(f"no MESSAGE matching {text_regex!r}; got "
                                   f"{self.messages(since)}")
            time.sleep(0.05)

    def wait_registered(self, timeout: float = 10.0, since: int = 0) -> str:
        """Wait for the '200 OK ... [n binding]' registration line."""
        line: str = self.wait_for_output(
            r"^.*\{\d+/\w+/v[46]\} 200 OK.*binding.*$", timeout, since).group(0)
        return line

    # ------------------------------------------------------------ media
    def recordings(self, kind: str = "dec") -> list[Path]:
        """The sndfile recordings in ``record_dir``, oldest first: ``kind="dec"`` what
        baresip heard, ``"enc"`` what it sent."""
        if self.record_dir is None:
            raise BaresipError("no record_dir given to Baresip()")
        return sorted(self.record_dir.glob(f"*-{kind}.wav"), key=lambda p: p.stat().st_mtime)

    def audio_decoders(self, since: int = 0) -> list[str]:
        """The audio decoders baresip set for its calls, as "NAME/RATE/CHANNELS" (e.g.
        "G722/16000/1"), from its output after offset ``since``: the codec negotiated."""
        return [f"{m.group(1)}/{m.group(2)}/{m.group(3)}" for m in re.finditer(
            r"audio: Set audio decoder: (\S+) (\d+)Hz (\d+)ch", self.output()[since:])]

    def send_dtmf(self, digits: str, gap: float = 0.25) -> None:
        """Send each digit (0-9 * # A-D) as RFC 4733 events in the current call (ctrl_tcp
        ``sndcode``), ``gap`` seconds apart."""
        for i, d in enumerate(digits):
            if d.upper() not in "0123456789*#ABCD":
                raise ValueError(f"not a DTMF digit: {d!r}")
            if i:
                time.sleep(gap)
            r = self.command("sndcode", d.upper())
            if not r.get("ok"):
                raise BaresipError(f"sndcode {d!r} failed: {r}")

    def _recv(self, wait: float) -> bool:
        """Read what ctrl_tcp sent (waiting up to ``wait`` s) into the buffer."""
        ctrl = self._ctrl
        assert ctrl is not None     # (connected by start())
        if wait > 0:
            ctrl.settimeout(wait)
        else:
            ctrl.setblocking(False)
        try:
            chunk = ctrl.recv(65536)
        except (BlockingIOError, socket.timeout):
            return False
        if not chunk:
            raise BaresipError("ctrl_tcp connection closed")
        self._ctrl_buf += chunk
        return True

    def poll_events(self, timeout: float = 0.0) -> list[dict[str, Any]]:
        """Read the ctrl_tcp events that arrived (waiting up to ``timeout`` s for a new one);
        they are appended to ``self.events``, which is returned."""
        if self._ctrl is None:
            raise BaresipError("not running")
        deadline = time.monotonic() + timeout
        start = len(self.events)
        while True:
            while self._recv(0):
                pass
            self.events.extend(m for m in self._read_netstrings() if m.get("event"))
            left = deadline - time.monotonic()
            if len(self.events) > start or left <= 0:
                return self.events
            self._recv(min(left, 0.5))

    def wait_for_event(self, etype: str, timeout: float = 10.0, since: int = 0,
                       param: str | None = None) -> dict[str, Any]:
        """Wait for a ctrl_tcp event of type ``etype`` (e.g. "CALL_ESTABLISHED",
        "CALL_CLOSED", "CALL_DTMF_START") among ``self.events[since:]``; ``param`` also
        matches its param.  Pass ``since=len(b.events)`` to only see newer ones."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events[since:]:
                if ev.get("type") == etype and (param is None or ev.get("param") == param):
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {etype} event within {timeout}s; events: "
                                   f"{[e.get('type') for e in self.events[since:]]}")
            self.poll_events(min(left, 0.5))

    def dtmf_received(self, since: int = 0) -> str:
        """The digits received so far (``CALL_DTMF_START`` events after ``since``), in
        order; call ``poll_events()`` first to read the newest."""
        return "".join(ev.get("param", "") for ev in self.events[since:]
                       if ev.get("type") == "CALL_DTMF_START")

    def wait_for_dtmf(self, digits: str, timeout: float = 10.0, since: int = 0) -> str:
        """Wait until ``len(digits)`` digits arrived; returns what arrived (in order),
        which the caller compares with ``digits``."""
        deadline = time.monotonic() + timeout
        while len(self.dtmf_received(since)) < len(digits) and time.monotonic() < deadline:
            self.poll_events(min(0.5, max(0.0, deadline - time.monotonic())))
        self.poll_events(0.3)     # a digit sent twice would show up now
        return self.dtmf_received(since)

    # ------------------------------------------------------------ control
    def command(self, command: str, params: str = "",
                timeout: float = 5.0) -> dict[str, Any]:
        """Run a ctrl_tcp command; returns the response dict
        (keys ok/data).  Events received meanwhile go to ``self.events``."""
        if self._ctrl is None:
            raise BaresipError("not running")
        self._token += 1
        tok = f"t{self._token}"
        data = json.dumps({"command": command, "params": params,
                           "token": tok}).encode()
        self._ctrl.sendall(b"%d:%s," % (len(data), data))
        deadline = time.monotonic() + timeout
        while True:
            for msg in self._read_netstrings():
                if msg.get("response") and msg.get("token") == tok:
                    return msg
                if msg.get("event"):
                    self.events.append(msg)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no ctrl_tcp response to {command!r}")
            self._ctrl.settimeout(min(left, 0.5))
            try:
                chunk = self._ctrl.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise BaresipError("ctrl_tcp connection closed")
            self._ctrl_buf += chunk

    def _read_netstrings(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            m = re.match(rb"(\d+):", self._ctrl_buf)
            if not m:
                break
            n = int(m.group(1))
            start = m.end()
            if len(self._ctrl_buf) < start + n + 1:
                break
            payload = self._ctrl_buf[start:start + n]
            self._ctrl_buf = self._ctrl_buf[start + n + 1:]
            try:
                out.append(json.loads(payload))
            except ValueError:
                pass
        return out

    def _current_contact(self) -> str | None:
        data = self.command("contacts").get("data", "")
        m = re.search(r"^> .*?<([^>]+)>", data, re.M)
        return m.group(1) if m else None

    def select_contact(self, uri: str) -> None:
        if uri not in self.contacts:
            raise BaresipError(f"{uri} not in contacts given to Baresip(): "
                               f"{self.contacts}")
        for _ in range(len(self.contacts) + 1):
            if self._current_contact() == uri:
                return
            self.command("contact_next")
        raise BaresipError(f"could not select contact {uri}")

    def send_message(self, to: str, text: str) -> dict[str, Any]:
        """Send a SIP MESSAGE (text/plain) to ``to`` (must be in contacts).

        Returns the ctrl_tcp response; the final SIP response is visible in
        the output (sip_trace) or as a red '<code> <reason>' line on error.
        """
        self.select_contact(to)
        r = self.command("message", text)
        if not r.get("ok"):
            raise BaresipError(f"message command failed: {r}")
        return r

    def dial(self, uri: str) -> dict[str, Any]:
        return self.command("dial", uri)

    def hangup(self) -> dict[str, Any]:
        return self.command("hangup")

    def accept(self) -> dict[str, Any]:
        return self.command("accept")


def _codec_list(codecs: str | Iterable[str] | None) -> list[str]:
    if codecs is None:
        return []
    if isinstance(codecs, str):
        codecs = [c for c in codecs.split(",") if c.strip()]
    out = []
    for c in codecs:
        name = c.strip()
        out.append(CODEC_SPELLING.get(name.lower(), name))
    return out
