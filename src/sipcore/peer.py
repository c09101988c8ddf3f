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

:class:`PeerProcess` is the parent's side: start it, read its events, send commands.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
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
        engine.stop()
        emit(event="stopped")
    return 0


class _Calls:
    """The peer's calls: commands in, call_state/sdp_update events out."""

    COMMANDS = ("call", "ring", "accept", "hangup", "reinvite", "respond_reinvite")

    def __init__(self, emit: Any, args: Any):
        from . import signals
        self.emit = emit
        self.args = args
        self.calls: dict[str, Any] = {}
        self.ids: dict[int, str] = {}
        self.incoming = 0
        signals.SIPInvitationChangedState.connect(self.on_state, weak=False)
        signals.SIPInvitationGotSDPUpdate.connect(self.on_sdp, weak=False)

    def sdp(self, direction: str = "sendrecv", port: int = 40000) -> Any:
        from .sdp import SDPAttribute, SDPConnection, SDPMedia, SDPSession
        ip = self.args.ip
        kind = "IP6" if ":" in ip else "IP4"
        return SDPSession(ip, connection=SDPConnection(ip, address_type=kind), media=[
            SDPMedia("audio", port, "RTP/AVP", formats=["0", "8"],
                     attributes=[SDPAttribute("rtpmap", "0 PCMU/8000"),
                                 SDPAttribute("rtpmap", "8 PCMA/8000"),
                                 SDPAttribute(direction, "")])])

    def run(self, engine: Any, cmd: dict[str, Any]) -> None:
        from . import SIPURI, Credentials, Invitation, Route
        what = cmd["cmd"]
        if what == "call":
            creds = Credentials(SIPURI(self.args.ip, user=cmd.get("user", self.args.user)),
                                cmd.get("password"))
            inv = Invitation(creds, engine.parse_sip_uri(cmd["to"]), Route(*cmd["route"]))
            self.calls[cmd["id"]] = inv
            self.ids[id(inv)] = cmd["id"]
            inv.set_offered_local_sdp(self.sdp(cmd.get("direction", "sendrecv")))
            inv.send_invite(cmd.get("headers"))
            return
        inv = self.calls[cmd["id"]]
        if what == "ring":
            inv.respond_to_invite_provisionally(cmd.get("code", 180))
        elif what == "accept":
            inv.set_offered_local_sdp(self.sdp(cmd.get("direction", "sendrecv")))
            inv.accept_invite()
        elif what == "hangup":
            inv.disconnect(cmd.get("code", 603), timeout=cmd.get("timeout"))
        elif what == "reinvite":
            inv.set_offered_local_sdp(self.sdp(cmd.get("direction", "sendrecv")))
            inv.send_reinvite()
        elif what == "respond_reinvite":
            inv.set_offered_local_sdp(self.answer_direction(inv, cmd.get("direction")))
            inv.respond_to_reinvite(cmd.get("code", 200))

    def answer_direction(self, inv: Any, direction: str | None) -> Any:
        if direction is None:
            offer = inv.get_offered_remote_sdp()
            d = offer.media[0].get_direction() if offer is not None and offer.media else "sendrecv"
            direction = {"sendonly": "recvonly", "recvonly": "sendonly"}.get(d, d)
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
                    sender.set_offered_local_sdp(self.answer_direction(sender, None))
                    sender.accept_invite()
                elif self.args.answer == "busy":
                    sender.disconnect(486)
            elif d["state"] == "REINVITED" and self.args.reinvite == "auto":
                sender.set_offered_local_sdp(self.answer_direction(sender, None))
                sender.respond_to_reinvite(200)
            elif d["state"] == "DISCONNECTED":
                self.ids.pop(id(sender), None)
        except Exception as exc:
            self.emit(event="error", error=f"{type(exc).__name__}: {exc}")

    def on_sdp(self, sender: Any, **d: Any) -> None:
        cid = self.ids.get(id(sender))
        if cid is None:
            return
        self.emit(event="sdp_update", id=cid, succeeded=d["succeeded"],
                  local_sdp=str(d["local_sdp"]) if d.get("local_sdp") else None,
                  remote_sdp=str(d["remote_sdp"]) if d.get("remote_sdp") else None,
                  error=d.get("error"))


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
        import tempfile
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
        """The next event of this kind whose fields match; other events are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"peer sent no {event!r} event matching {match} in {timeout} s")
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
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
