"""baresip (Debian's 1.0.0) as a scriptable, headless SIP peer for tests.

Usage::

    from peers.baresip import Baresip

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
import tempfile
import time
from pathlib import Path

from .procs import ManagedPeer, stop_process_group
from .ports import _can_bind, free_port

__all__ = ["Baresip", "BaresipError"]

MODULE_DIRS = ["/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules",
               "/usr/lib/x86_64-linux-gnu/baresip/modules"]

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
    Attributes:
      sip_port, ctrl_port, aor, contact_uri, confdir, log (stdout+stderr file)
    """

    host = "127.0.0.1"

    def __init__(self, user: str = "peer", password: str | None = None, *,
                 registrar=None, transport: str = "udp",
                 domain: str = "127.0.0.1", regint: int = 60,
                 auto_answer: bool = False, contacts=(),
                 sip_trace: bool = True, extra_account_params: str = "",
                 workdir=None, start_timeout: float = 10.0):
        self.binary = shutil.which("baresip") or "/usr/bin/baresip"
        self.user = user
        self.password = password
        self.transport = transport.lower()
        self.domain = domain
        self.auto_answer = auto_answer
        self.sip_trace = sip_trace
        self.start_timeout = start_timeout
        self._own_tmp = workdir is None
        self.confdir = Path(workdir or tempfile.mkdtemp(prefix="baresip-")).resolve()
        self.confdir.mkdir(parents=True, exist_ok=True)
        self.log = self.confdir / "baresip.log"
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
            self.outbound = f"sip:{reg_hostport};transport={self.transport}"
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
        if extra_account_params:
            acc += ";" + extra_account_params.lstrip(";")
        self.account_line = acc
        self._write_config()
        self.proc: subprocess.Popen | None = None
        self._logfh = None
        self._ctrl: socket.socket | None = None
        self._ctrl_buf = b""
        self._token = 0
        self.events: list[dict] = []

    # ------------------------------------------------------------ config
    def _write_config(self):
        mdir = next((d for d in MODULE_DIRS if os.path.isdir(d)), MODULE_DIRS[0])
        cfg = f"""\
# generated by tests/peers/baresip.py
poll_method		epoll
sip_listen		{self.host}:{self.sip_port}
# keep everything (incl. SDP c= lines) on loopback
net_interface		{self.host}
call_local_timeout	120
call_max_calls		4
# headless audio: sine source, ALSA "null" sink
audio_player		alsa,null
audio_source		ausine,440
audio_alert		alsa,null
# ausine only produces 48 kHz stereo; baresip resamples to the codec
ausrc_srate		48000
ausrc_channels		2

module_path		{mdir}
module			stdio.so
module			g711.so
module			ausine.so
module			alsa.so

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
    def start(self) -> "Baresip":
        if self.running:
            return self
        self._logfh = open(self.log, "ab")
        cmd = [self.binary, "-f", str(self.confdir)]
        if self.sip_trace:
            cmd.append("-s")
        if shutil.which("stdbuf"):
            cmd = ["stdbuf", "-oL", "-eL"] + cmd
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=self._logfh,
            stderr=subprocess.STDOUT, cwd=self.confdir,
            start_new_session=True, env={**os.environ, "TERM": "dumb"})
        try:
            self.wait_for_output(r"baresip is ready\.", self.start_timeout)
            self._connect_ctrl()
        except BaseException:
            self.stop()
            raise
        return self

    def _connect_ctrl(self):
        deadline = time.monotonic() + 5
        while True:
            try:
                self._ctrl = socket.create_connection(
                    (self.host, self.ctrl_port), timeout=2)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise BaresipError("ctrl_tcp not reachable:\n"
                                       + self.output()[-3000:])
                time.sleep(0.1)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self._ctrl is not None:
            try:
                self._ctrl.close()
            except OSError:
                pass
            self._ctrl = None
        p, self.proc = self.proc, None
        if p is not None:
            stop_process_group(p, timeout)   # SIGTERM: graceful un-REGISTER and quit
            if p.stdin:
                try:
                    p.stdin.close()
                except OSError:
                    pass
        if self._logfh is not None:
            self._logfh.close()
            self._logfh = None

    def close(self) -> None:
        self.stop()
        if self._own_tmp:
            shutil.rmtree(self.confdir, ignore_errors=True)

    # ------------------------------------------------------------ output
    def output(self) -> str:
        """Everything baresip printed so far (stdout+stderr, SIP trace)."""
        try:
            return self.log.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def mark(self) -> int:
        """Current output offset; pass as ``since`` to only see newer lines."""
        return len(self.output())

    def wait_for_output(self, pattern: str, timeout: float = 10.0,
                        since: int = 0) -> re.Match:
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
        return self.wait_for_output(
            r"^.*\{\d+/\w+/v[46]\} 200 OK.*binding.*$", timeout, since).group(0)

    # ------------------------------------------------------------ control
    def command(self, command: str, params: str = "",
                timeout: float = 5.0) -> dict:
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

    def _read_netstrings(self):
        out = []
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

    def send_message(self, to: str, text: str) -> dict:
        """Send a SIP MESSAGE (text/plain) to ``to`` (must be in contacts).

        Returns the ctrl_tcp response; the final SIP response is visible in
        the output (sip_trace) or as a red '<code> <reason>' line on error.
        """
        self.select_contact(to)
        r = self.command("message", text)
        if not r.get("ok"):
            raise BaresipError(f"message command failed: {r}")
        return r

    def dial(self, uri: str) -> dict:
        return self.command("dial", uri)

    def hangup(self) -> dict:
        return self.command("hangup")

    def accept(self) -> dict:
        return self.command("accept")
