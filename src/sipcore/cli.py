"""The ``sipcore`` subcommands that talk to a SIP server or endpoint: ``message``, ``call``,
``register``, ``subscribe``, ``publish``, ``listen`` (wait for MESSAGEs and calls, answer and
print them) and ``trace`` (any of those, or listening, with the SIP traffic printed or written
to a pcap file).  ``sipcore COMMAND --help`` describes every option.  The commands that send
requests take ``--transport tls`` (``--tls-ca``, ``--no-verify``); ``listen --transport tls``
needs ``--tls-cert`` and ``--tls-key``.

Exit status: 0 when the request succeeded (``listen``: when ``--duration`` or ``--count``
ended it); 1 when the network said no (the SIP code and reason are printed: ``sipcore
register: 401 Unauthorized``; ``listen``: the port cannot be listened on); 2 for a bad
argument (one line naming it: ``sipcore message: error: argument TO: 'bob@' is not a SIP URI
...``); 130 on Ctrl-C (what was registered, published, subscribed or called is ended first).

``listen`` answers calls with the call handling of :mod:`sipcore.peer` (its ``_Calls`` and
``CallMedia``: the same offer/answer and audio wiring as the test peer), printing its events as
lines.

While it waits (for a final response, a call to be answered, ``--duration``) it shows a live
status line on standard error: on a terminal one line rewritten in place
(``registering… 1.2 s``), otherwise one plain line per step.  Results go to standard output.
"""
from __future__ import annotations

import argparse
import ipaddress
import re
import sys
import time
from typing import Any, Callable, TextIO

COMMANDS = {
    "message": "send a MESSAGE and print the final response",
    "call": "call a SIP URI with audio (RTP), stay in the call, hang up",
    "register": "register an address of record at a registrar, then unregister",
    "subscribe": "subscribe to an event package (presence by default) and print the NOTIFYs",
    "publish": "publish a presence state (PIDF) or a given body, stay published, unpublish",
    "listen": "wait for incoming MESSAGEs and calls, answer them and print them live",
    "trace": "print the SIP traffic (or write a pcap) of another command, or while listening",
}

_URI = re.compile(r"^(?:(?P<scheme>sips?):)?(?:(?P<user>[^@:;\s]+)@)?"
                  r"(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?$")


class Failure(Exception):
    """The network said no: printed as ``sipcore COMMAND: TEXT``, exit 1."""


class TimedOut(Failure):
    """Session.wait_for's time ran out with nothing (a Failure: exit 1)."""


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (naming the argument) and exit 2."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# -- argument types: each raises ArgumentTypeError, which argparse prefixes with the argument --

def sip_uri(text: str) -> Any:
    """``sip:user@host[:port]``, ``user@host[:port]`` or ``host[:port]`` as a SIPURI."""
    from . import SIPURI
    m = _URI.match(text.strip())
    if m is None or (m.group("port") and not 0 < int(m.group("port")) < 65536):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a SIP URI (sip:user@host[:port], host an IP address or a name)")
    try:
        return SIPURI(m.group("host"), user=m.group("user"),
                      port=int(m.group("port")) if m.group("port") else None,
                      secure=m.group("scheme") == "sips")
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a SIP URI: {e}") from None


def host_port(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``."""
    m = re.match(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$", text.strip())
    if m is None or (m.group(2) and not 0 < int(m.group(2)) < 65536):
        raise argparse.ArgumentTypeError(f"{text!r} is not an address (host[:port])")
    return m.group(1).strip("[]"), int(m.group(2)) if m.group(2) else None


def readable_file(text: str) -> str:
    """A file that exists and can be read (a certificate, a key, a CA list)."""
    try:
        with open(text, "rb"):
            return text
    except OSError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e.strerror}") from None


def record_template(text: str) -> str:
    """``listen --record``: a file name in which only ``{id}`` stands in braces."""
    from .peer import record_template as check
    try:
        return check(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("record: ")) from None


def ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


def stun_server(text: str) -> tuple[str, int]:
    """``IP[:PORT]`` of a STUN server (an IP address: RTPTransport's ice_stun_address)."""
    host, port = host_port(text)
    try:
        return str(ipaddress.ip_address(host)), port or 3478
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address[:port]") from None


def port_number(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 86400 * 365:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (>= 0)")
    return value


# -- the live status line --

class Status:
    """What the command is waiting for, on ``stream`` (standard error): on a terminal a
    carriage-return line rewritten every 0.1 s with the time waited; otherwise one plain
    line when the wait starts."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()

    def _show(self, text: str) -> None:
        self.stream.write(f"\r{text}\033[K")
        self.stream.flush()

    def clear(self) -> None:
        if self.tty:
            self._show("")

    def wait(self, label: str, seconds: float, done: Callable[[float], Any]) -> Any:
        """Call ``done(slice)`` (it waits at most ``slice`` seconds) until it returns
        something other than None or ``seconds`` have passed (None then)."""
        t0 = time.monotonic()
        if not self.tty:
            print(f"{label}\u2026", file=self.stream, flush=True)
        try:
            while True:
                left = seconds - (time.monotonic() - t0)
                result = done(max(0.0, min(0.1, left)))
                if result is not None or left <= 0:
                    return result
                if self.tty:
                    self._show(f"{label}\u2026 {time.monotonic() - t0:.1f} s")
        finally:
            self.clear()


# -- one run of a command --

class Session:
    """The Engine of one command, its recorder, its status line and (for ``trace``) its
    trace output."""

    def __init__(self, args: argparse.Namespace, trace: argparse.Namespace | None = None):
        from . import NotificationRecorder
        self.args = args
        self.trace = trace
        self.status = Status()
        self.rec = NotificationRecorder()
        self.engine: Any = None
        self._writer: Any = None
        self._ladder: Any = None

    # where the route goes, and the local address that reaches it
    def route(self, target: Any) -> Any:
        from . import Route
        host, port = self.args.route if self.args.route else (target.host, target.port)
        return Route(host, port, self.args.transport)

    def local_ip(self, target_host: str) -> str | None:
        if self.args.ip:
            return str(self.args.ip)
        try:
            addr = ipaddress.ip_address(target_host.strip("[]"))
        except ValueError:
            return None
        return str(addr) if addr.is_loopback else None

    def start(self, target_host: str) -> Any:
        from . import Engine, PJSIPError
        a = self.args
        ports: dict[str, int | None] = {"local_udp_port": 0, "local_tcp_port": 0,
                                        "local_tls_port": 0 if a.transport == "tls" else None}
        if a.command == "listen":    # listening: on the chosen transports, the same port
            chosen = ("udp", "tcp") if a.transport == "both" else (a.transport,)
            ports = {f"local_{t}_port": (a.local_port or 0) if t in chosen else None
                     for t in ("udp", "tcp", "tls")}
        elif a.local_port is not None:
            ports[f"local_{a.transport}_port"] = a.local_port
        tls = {"tls_ca_file": a.tls_ca, "tls_verify_server": not a.no_verify,
               "tls_cert_file": a.tls_cert, "tls_privkey_file": a.tls_key}
        self.engine = Engine()
        try:
            self.engine.start(local_ip=self.local_ip(target_host), trace_sip=self.trace is not None,
                              log_level=0,
                              message_answer="receiver" if a.command == "listen" else "auto",
                              **ports, **tls)
        except ValueError as e:
            raise UsageError(str(e)) from None
        except PJSIPError as e:
            raise Failure(f"could not start the SIP endpoint: {e}") from None
        self.rec.start()
        if self.trace is not None:
            self._start_trace()
        return self.engine

    def me(self, user: str = "sipcore") -> Any:
        """This endpoint's address of record: ``--from``, else user@local address."""
        from . import SIPURI
        if self.args.from_uri is not None:
            return self.args.from_uri
        return SIPURI(self.engine.local_ip, user=user)

    def credentials(self) -> Any:
        from . import Credentials
        return Credentials(self.me(), self.args.password)

    def wait_for(self, label: str, name: str, sender: Any = None, where: Any = None,
                 fail_on: Any = None, seconds: float | None = None) -> Any:
        """The notification ``name``, with the status line meanwhile; a ``fail_on`` match
        raises Failure with its code and reason."""
        from . import NotificationFailed

        def step(slice_: float) -> Any:
            try:
                return self.rec.wait_for(name, timeout=slice_, sender=sender, where=where,
                                         fail_on=fail_on)
            except TimeoutError:
                return None
            except NotificationFailed as e:
                raise Failure(describe(e.notification)) from None
        limit = self.args.timeout + 5 if seconds is None else seconds
        n = self.status.wait(label, limit, step)
        if n is None:
            raise TimedOut(f"{label}: no {name} within {limit:g} s")
        return n

    def pause(self, label: str, seconds: float, until: Callable[[], bool] | None = None,
              ctrl_c: str | None = None) -> None:
        """Wait ``seconds`` (0: until Ctrl-C) with the status line, or until ``until()``.
        ``ctrl_c``: what Ctrl-C does, for the label: it then ends in " for N s" or, without
        a time, " (Ctrl-C <ctrl_c>)"."""
        forever = seconds == 0
        if ctrl_c is not None:
            label += f" (Ctrl-C {ctrl_c})" if forever else f" for {seconds:g} s"

        def step(slice_: float) -> Any:
            time.sleep(slice_ if slice_ > 0 else 0.1)
            return True if until is not None and until() else None
        self.status.wait(label, float("inf") if forever else seconds, step)

    # -- trace --
    def _start_trace(self) -> None:
        from . import signals
        from .ladder import Ladder
        from .pcap import TraceWriter
        t = self.trace
        assert t is not None
        if t.pcap:
            self._writer = TraceWriter(t.pcap).__enter__()
        if t.ladder:
            self._ladder = Ladder().start()
        if t.pcap is None or t.print:
            signals.SIPEngineSIPTrace.connect(self._print_trace, weak=False)

    def _print_trace(self, sender: Any, **d: Any) -> None:
        from .pcap import via_transport
        when = d["timestamp"].astimezone().strftime("%H:%M:%S.%f")[:-3]
        arrow = "received" if d["received"] else "sent"
        src = _addr(d["source_ip"], d["source_port"])
        dst = _addr(d["destination_ip"], d["destination_port"])
        text = d["data"].rstrip("\r\n").replace("\r\n", "\n")
        self.status.clear()
        print(f"--- {when} {arrow} {src} -> {dst} ({via_transport(d['data'])})\n{text}\n",
              flush=True)

    def close(self) -> None:
        from . import signals
        if self.engine is not None and self.engine.is_running:
            self.engine.stop()
        self.rec.stop()
        if self.trace is not None:
            signals.SIPEngineSIPTrace.disconnect(self._print_trace)
            if self._writer is not None:
                self._writer.__exit__(None, None, None)
                print(f"{self._writer.count} SIP message(s) written to {self.trace.pcap}",
                      file=sys.stderr)
            if self._ladder is not None:
                self._ladder.stop()
                print(self._ladder.render())


class UsageError(Exception):
    """A bad argument found after parsing (e.g. by the Engine): exit 2."""


def _addr(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def describe(n: Any) -> str:
    """A failing notification as the SIP code and reason (or the state it ended in)."""
    d = n.data.__dict__
    if d.get("code"):
        return f"{d['code']} {d.get('reason', '')}".strip()
    return f"{n.name}: {d.get('state') or d.get('reason', '')}".strip()


# -- the commands --

def cmd_message(s: Session) -> int:
    from . import send_message
    a = s.args
    s.start(a.to.host)
    send_message(s.credentials(), a.to, a.content_type, a.text, s.route(a.to),
                 timeout=a.timeout)
    n = s.wait_for(f"sending MESSAGE to {a.to}", "SIPEngineGotMessageResponse")
    if not 200 <= n.data.code < 300:
        raise Failure(describe(n))
    print(f"{n.data.code} {n.data.reason}")
    return 0


def cmd_register(s: Session) -> int:
    from . import Registration
    a = s.args
    target = _registrar(a)
    s.start(target.host)
    reg = Registration(s.credentials(), s.route(target), expires=a.expires, timeout=a.timeout)
    state = "SIPRegistrationChangedState"
    reg.register()
    n = s.wait_for(f"registering {s.me()}", state, sender=reg, where={"state": "registered"},
                   fail_on={state: {"state": "unregistered"}})
    print(f"registered {s.me()}: {n.data.code} {n.data.reason}, expires in {n.data.expires} s, "
          f"contact {n.data.contact_uri}", flush=True)
    if a.hold != 0 or a.hold_forever:
        s.pause("registered (Ctrl-C unregisters)" if a.hold_forever
                else f"registered, unregistering after {a.hold:g} s",
                0 if a.hold_forever else a.hold)
    reg.unregister()
    n = s.wait_for("unregistering", state, sender=reg, where={"state": "unregistered"})
    code = n.data.__dict__.get("code")
    print(f"unregistered{f': {code} {n.data.reason}' if code else ''}")
    return 0


def cmd_subscribe(s: Session) -> int:
    from . import Subscription, signals
    a = s.args
    s.start(a.to.host)
    sub = Subscription(s.credentials(), a.to, a.event, s.route(a.to), expires=a.expires,
                       timeout=a.timeout)
    state = "SIPSubscriptionChangedState"

    def on_notify(sender: Any, **d: Any) -> None:
        if sender is sub:
            s.status.clear()
            body = d["body"].decode("utf-8", "replace")
            print(f"NOTIFY {d['content_type']} ({len(d['body'])} bytes)\n{body.rstrip()}\n",
                  flush=True)
    signals.SIPSubscriptionGotNotify.connect(on_notify, weak=False)
    try:
        sub.subscribe()
        n = s.wait_for(f"subscribing to {a.event} of {a.to}", state, sender=sub,
                       where=lambda n: n.data.state in ("ACTIVE", "PENDING"),
                       fail_on={state: {"state": "TERMINATED"}})
        print(f"subscription {n.data.state}", flush=True)
        s.pause("subscribed", a.duration, until=lambda: sub.state == "TERMINATED",
                ctrl_c="ends")
        if sub.state != "TERMINATED":
            sub.unsubscribe()
            s.wait_for("unsubscribing", state, sender=sub, where={"state": "TERMINATED"})
        print("subscription TERMINATED")
    finally:
        signals.SIPSubscriptionGotNotify.disconnect(on_notify)
    return 0


def pidf(entity: Any, status: str, note: str | None) -> str:
    """A PIDF document (RFC 3863) of one tuple: basic ``status`` and an optional ``note``."""
    from xml.sax.saxutils import escape, quoteattr
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity={quoteattr(str(entity))}>\n'
            f'  <tuple id="sipcore-cli"><status><basic>{status}</basic></status>'
            + (f"<note>{escape(note)}</note>" if note else "") + "</tuple>\n</presence>\n")


def cmd_publish(s: Session) -> int:
    from . import Publication, signals
    a = s.args
    target = _registrar(a)
    if a.body is not None:
        try:
            with open(a.body, "rb") as f:
                body: str | bytes = f.read()
        except OSError as e:
            raise UsageError(f"argument --body: {e.strerror}: {a.body!r}") from None
    s.start(target.host)
    if a.body is None:
        body = pidf(s.me(), a.status, a.note)
    pub = Publication(s.credentials(), a.event, s.route(target), expires=a.expires,
                      timeout=a.timeout)
    state = "SIPPublicationChangedState"

    def on_state(sender: Any, **d: Any) -> None:
        if sender is pub:
            s.status.clear()
            print(f"publication {d['state']}" + (f": {d['code']} {d['reason']}"
                                                 if d.get("code") else ""), flush=True)
    signals.SIPPublicationChangedState.connect(on_state, weak=False)
    try:
        pub.publish(a.content_type, body)
        s.wait_for(f"publishing {a.event} of {s.me()}", state, sender=pub,
                   where={"state": "published"}, fail_on={state: {"state": "unpublished"}})
        s.pause("published", a.duration, until=lambda: pub.state == "unpublished",
                ctrl_c="ends")
        if pub.state == "unpublished":      # a refresh failed: its code was printed
            raise Failure("the publication ended (its refresh failed)")
        pub.unpublish()
        n = s.wait_for("unpublishing", state, sender=pub, where={"state": "unpublished"})
    finally:
        signals.SIPPublicationChangedState.disconnect(on_state)
    code = n.data.__dict__.get("code")
    if code and not 200 <= code < 300:
        raise Failure(describe(n))
    return 0


def cmd_call(s: Session) -> int:
    from . import AudioTransport, Invitation, RecordingWaveFile, RTPTransport, SDPSession, WaveFile
    a = s.args
    engine = s.start(a.to.host)
    stun_ip, stun_port = a.stun or (None, 3478)
    rtp = RTPTransport(use_ice=a.ice or a.stun is not None, ice_stun_address=stun_ip,
                       ice_stun_port=stun_port)
    if stun_ip is not None:     # WAIT_STUN until the answer (maybe already recorded)
        s.wait_for(f"asking the STUN server {_addr(stun_ip or '', stun_port)}",
                   "RTPTransportDidInitialize", sender=rtp, fail_on="RTPTransportDidFail")
    rtp.set_INIT()
    try:
        audio = AudioTransport(rtp, codecs=a.codec or None)
    except ValueError as e:
        raise UsageError(f"argument --codec: {e}") from None
    offer = SDPSession(engine.local_ip, media=[audio.get_local_media(is_offer=True)])
    rtp.set_LOCAL(offer, 0)
    inv = Invitation(s.credentials(), a.to, s.route(a.to))
    inv.set_offered_local_sdp(offer)
    state = "SIPInvitationChangedState"
    inv.send_invite()
    try:
        s.wait_for(f"calling {a.to}", state, sender=inv, where={"state": "CONFIRMED"},
                   fail_on={state: {"state": "DISCONNECTED"}}, seconds=a.timeout)
    except KeyboardInterrupt:
        _cancel_call(s, inv)
        raise
    except TimedOut:            # --timeout: the call ends as at Ctrl-C, then fails as 408
        _cancel_call(s, inv)
        raise Failure(f"408 Request Timeout (no answer within {a.timeout:g} s)") from None
    local, remote = inv.get_active_local_sdp(), inv.get_active_remote_sdp()
    assert local is not None and remote is not None         # CONFIRMED: both are set
    audio.start(local, remote, 0)
    engine.connect_audio_transport(audio)
    print(f"connected to {a.to}: {audio.codec} at {audio.sample_rate} Hz, RTP "
          f"{_addr(engine.local_ip, rtp.local_rtp_port or 0)} -> "
          f"{_addr(rtp.remote_rtp_address_sdp or '?', rtp.remote_rtp_port_sdp or 0)}",
          flush=True)
    player = recorder = None
    try:
        if a.record:
            recorder = RecordingWaveFile(a.record)
            recorder.start(source=audio)
        if a.play:
            player = WaveFile(a.play)
            player.start(destination=audio, loop_count=0)
        s.pause("in call", a.duration,
                until=lambda: inv.state in ("DISCONNECTING", "DISCONNECTED"), ctrl_c="hangs up")
        stats = audio.statistics or {}
        ice_active = rtp.ice_active
    finally:
        for obj in (player, recorder):
            if obj is not None:
                obj.stop()
    ended_by_peer = inv.state in ("DISCONNECTING", "DISCONNECTED")
    inv.disconnect()
    s.wait_for("hanging up", state, sender=inv, where={"state": "DISCONNECTED"})
    engine.disconnect_audio_transport(audio)
    audio.stop()
    if rtp.use_ice:
        print(_ice_outcome(s, rtp, ice_active), flush=True)
    print(f"{'the other side hung up' if ended_by_peer else 'hung up'}; RTP packets sent "
          f"{stats.get('tx_packets', 0)}, received {stats.get('rx_packets', 0)}")
    return 0


def _cancel_call(s: Session, inv: Any, seconds: float = 3.0) -> None:
    """Ctrl-C (or ``--timeout``) while ``call`` waits for the answer: end the call and say how
    it ended, waiting up to ``seconds`` (a second Ctrl-C stops waiting).  Once the callee has
    answered provisionally that is a CANCEL (487 or the callee's final answer); before that
    RFC 3261 9.1 allows no CANCEL, and the INVITE is given up when the Engine stops."""
    from .errors import SIPCoreError
    state = "SIPInvitationChangedState"
    try:
        inv.disconnect()
        n = s.wait_for("cancelling the call", state, sender=inv,
                       where={"state": "DISCONNECTED"}, seconds=seconds)
    except (SIPCoreError, Failure, KeyboardInterrupt):
        n = None
    s.status.clear()
    if n is not None:
        print(f"call cancelled: {describe(n)}", flush=True)
    else:
        print("call given up: no response came to cancel", flush=True)


def _ice_outcome(s: Session, rtp: Any, active: bool) -> str:
    """The ICE line of ``call --ice``: the nominated RTP pair, the failure, or plain RTP."""
    for n in s.rec.all():
        if n.sender is not rtp:
            continue
        if n.name == "RTPTransportICENegotiationDidSucceed":
            local, remote = n.data.chosen_local_candidates[0], n.data.chosen_remote_candidates[0]
            return (f"ICE: nominated {_addr(local.address, local.port)} ({local.type}) -> "
                    f"{_addr(remote.address, remote.port)} ({remote.type}) in "
                    f"{n.data.duration * 1000:.0f} ms; active {active}")
        if n.name == "RTPTransportICENegotiationDidFail":
            return f"ICE: failed ({n.data.reason}); active {active}"
    return f"ICE: the other side did not answer with ICE: plain RTP; active {active}"


def answer_mode(text: str) -> str | int:
    """``--answer``: auto, ring, busy, none, or a code (200: auto, 180: ring, 300-699)."""
    if text in ("auto", "ring", "busy", "none"):
        return text
    if text.isdigit() and int(text) in (180, 200):
        return "ring" if text == "180" else "auto"
    if text.isdigit() and 300 <= int(text) <= 699:
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is not auto, ring, busy, none or a code "
                                     "(180, 200 or 300-699)")


def message_code(text: str) -> int:
    if not text.isdigit() or not 200 <= int(text) <= 699:
        raise argparse.ArgumentTypeError(f"{text!r} is not a final response code (200-699)")
    return int(text)


def count(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of requests (>= 1)")
    return int(text)


class Listener:
    """``sipcore listen``: what comes in, printed one line each (MESSAGEs answered with
    ``--message-code``; calls answered by sipcore.peer's call handling, the peer's ``_Calls``,
    whose JSON events are printed here as lines); counts what is complete (a MESSAGE answered,
    a call ended) for ``--count``."""

    def __init__(self, s: Session):
        import threading
        self.s = s
        self.done = 0
        self.lock = threading.Lock()
        self.calls: Any = None

    def finished(self) -> None:
        with self.lock:
            self.done += 1

    def out(self, text: str, stream: TextIO | None = None) -> None:
        self.s.status.clear()
        print(text, file=stream or sys.stdout, flush=True)

    def on_message(self, sender: Any, **d: Any) -> None:
        code = self.s.args.message_code
        if "respond" in d:
            d["respond"](code)
        body = d["body"].decode("utf-8", "replace").rstrip("\r\n")
        lines = body.splitlines() or [""]
        head = (f"MESSAGE from {d['from_uri']} ({d['content_type']}, {len(d['body'])} bytes; "
                f"answered {code}): ")
        self.out(head + lines[0] + "".join(f"\n    {line}" for line in lines[1:]))
        self.finished()

    def emit(self, event: str, id: str = "", **d: Any) -> None:
        """An event of the peer's call handling (sipcore.peer's JSON events) as a line."""
        if event == "call_state":
            inv = self.calls.calls.get(id)
            line = f"call {id} {d['state']}"
            if d["state"] == "INCOMING" and inv is not None:
                line += f" from {inv.remote_uri}"
            if d.get("code"):
                line += f": {d['code']} {d.get('reason') or ''}".rstrip()
            elif d.get("method"):
                line += f": {d['method']} received"
            self.out(line)
            if d["state"] == "DISCONNECTED" and id not in self.calls.media:
                self.finished()
        elif event == "media_started":
            self.out(f"call {id} audio: {d['codec']} at {d['sample_rate']} Hz, RTP port "
                     f"{d['local_rtp_port']}{', ICE' if d['use_ice'] else ''}"
                     f"{' (STUN ' + _addr(*d['ice_stun']) + ')' if d.get('ice_stun') else ''}"
                     f"{', recording ' + d['record'] if d['record'] else ''}")
        elif event == "ice":
            if d["succeeded"]:
                lo, re_ = d["chosen_local_candidates"][0], d["chosen_remote_candidates"][0]
                self.out(f"call {id} ICE: nominated {_addr(lo['address'], lo['port'])} "
                         f"({lo['type']}) -> {_addr(re_['address'], re_['port'])} "
                         f"({re_['type']})")
            else:
                self.out(f"call {id} ICE: failed ({d['reason']})")
        elif event == "media_stopped":
            stats = d["stats"] or {}
            self.out(f"call {id} audio ended: RTP packets sent {stats.get('tx_packets', 0)}, "
                     f"received {stats.get('rx_packets', 0)}")
            self.finished()
        elif event in ("media_failed", "error"):
            self.out(f"call {id}: {d['error']}".replace("call : ", ""), sys.stderr)


def _hang_up_all(s: Session, calls: Any, seconds: float = 3.0) -> None:
    """End every call still going (an unanswered one is declined 603, an answered one gets a
    BYE) and wait up to ``seconds`` for their DISCONNECTED lines, so that Ctrl-C in
    ``listen`` shows how each call ended before the Engine stops.  A second Ctrl-C stops
    waiting."""
    from .errors import SIPCoreError
    live = [inv for inv in calls.calls.values() if inv.state not in ("DISCONNECTED", "NULL")]
    if not live:
        return
    for inv in live:
        try:
            inv.disconnect()
        except SIPCoreError:        # ended meanwhile, or the Engine is going away
            pass
    try:
        s.pause("ending the calls", seconds,
                until=lambda: all(inv.state == "DISCONNECTED" for inv in live))
    except KeyboardInterrupt:
        pass


def cmd_listen(s: Session) -> int:
    """Listen on the local address and print what comes (also ``trace`` without a command)."""
    from . import signals
    from .peer import _Calls
    a = s.args
    try:
        e = s.start(a.ip or "127.0.0.1")
    except Failure as exc:
        raise Failure(str(exc).replace("could not start the SIP endpoint", "could not listen")) \
            from None
    lis = Listener(s)
    if a.codec:     # refused here (exit 2) rather than at the first call
        from . import AudioTransport, RTPTransport
        try:
            AudioTransport(RTPTransport(), codecs=a.codec)
        except ValueError as exc:
            raise UsageError(f"argument --codec: {exc}") from None
    calls = lis.calls = _Calls(lis.emit, argparse.Namespace(
        answer=a.answer, ip=e.local_ip, user="sipcore", reinvite="auto"))
    calls.media_defaults = {"codecs": a.codec, "play": a.play, "record": a.record,
                            "use_ice": "offer"}
    if a.stun is not None:      # for the server-reflexive candidate of an answer with ICE
        calls.media_defaults.update(ice_stun_address=a.stun[0], ice_stun_port=a.stun[1])
    signals.SIPEngineGotMessage.connect(lis.on_message, weak=False)
    where = [f"{_addr(e.local_ip, port)} ({name})" for name, port in
             (("UDP", e.local_udp_port), ("TCP", e.local_tcp_port), ("TLS", e.local_tls_port))
             if port]
    print(f"listening on {' and '.join(where)}", flush=True)
    interrupted = False
    try:
        s.pause("listening", a.duration,
                until=lambda: a.count is not None and lis.done >= a.count, ctrl_c="ends")
    except KeyboardInterrupt:       # Ctrl-C: the calls end and the summary is printed too
        interrupted = True
    finally:
        signals.SIPEngineGotMessage.disconnect(lis.on_message)
        calls.closing = True        # (an answer still waiting for STUN gives up quietly)
        _hang_up_all(s, calls)
        calls.disconnect()
        calls.close()
    s.status.clear()
    print(f"{lis.done} request(s) handled", flush=True)
    if interrupted:
        raise KeyboardInterrupt     # exit 130, as for every command
    return 0


# -- the parsers --

def _common(p: argparse.ArgumentParser, to: bool = True) -> None:
    if to:
        p.add_argument("to", type=sip_uri, metavar="TO",
                       help="the SIP URI to send to: sip:user@host[:port] (or user@host[:port])")
    g = p.add_argument_group("endpoint")
    g.add_argument("--from", dest="from_uri", type=sip_uri, default=None, metavar="URI",
                   help="this endpoint's address of record (default: sipcore@ the local address)")
    g.add_argument("--password", default=None,
                   help="password for digest authentication (401/407), with --from's user")
    g.add_argument("--route", type=host_port, default=None, metavar="HOST[:PORT]",
                   help="send to this proxy instead of the target's host and port")
    g.add_argument("--transport", choices=["udp", "tcp", "tls"], default="udp",
                   help="transport of the requests (default: udp; tls: the server's certificate "
                        "is verified against --tls-ca unless --no-verify)")
    g.add_argument("--ip", type=ip_address, default=None,
                   help="local IP address (default: loopback for a loopback target, else the "
                        "default outgoing interface)")
    g.add_argument("--local-port", type=port_number, default=None, metavar="PORT",
                   help="local port of the chosen transport (default: any free one)")
    g.add_argument("--timeout", type=seconds, default=10.0, metavar="SECONDS",
                   help="a request without a final response by then fails with 408 "
                        "(default: 10)")
    _tls_options(p.add_argument_group("TLS (with --transport tls)"), server=False)


def _tls_options(g: Any, server: bool) -> None:
    g.add_argument("--tls-ca", type=readable_file, default=None, metavar="FILE",
                   help="CA certificates (PEM) to verify TLS servers with (default: the "
                        "system's)")
    g.add_argument("--no-verify", action="store_true",
                   help="do not verify the TLS server's certificate (insecure: tests only)")
    g.add_argument("--tls-cert", type=readable_file, default=None, metavar="FILE",
                   help="this endpoint's certificate (PEM)" + (
                       ": required with --transport tls" if server else
                       " (a client certificate, if the server asks for one)"))
    g.add_argument("--tls-key", type=readable_file, default=None, metavar="FILE",
                   help="the private key (PEM) of --tls-cert")


def build_parser(prog: str = "sipcore") -> _Parser:
    ap = _Parser(prog=prog, description="SIP from the command line (sipcore).")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True,
                            parser_class=_Parser)

    p = sub.add_parser("message", help=COMMANDS["message"], description=COMMANDS["message"]
                       + "; exit 0 on a 2xx, 1 otherwise.")
    _common(p)
    p.add_argument("text", metavar="TEXT", help="the body of the MESSAGE")
    p.add_argument("--content-type", default="text/plain", metavar="TYPE/SUBTYPE",
                   help="Content-Type of the body (default: text/plain)")

    p = sub.add_parser("register", help=COMMANDS["register"], description=COMMANDS["register"]
                       + " (the address of record is --from; the registrar its host unless "
                       "--registrar or --route says otherwise).")
    _common(p, to=False)
    p.add_argument("--registrar", type=sip_uri, default=None, metavar="URI",
                   help="the registrar's URI (default: the host of --from)")
    p.add_argument("--expires", type=int, default=300, metavar="SECONDS",
                   help="registration lifetime asked for (default: 300; refreshed by itself)")
    p.add_argument("--hold", type=seconds, default=0, metavar="SECONDS",
                   help="stay registered this long before unregistering (default: 0)")
    p.add_argument("--hold-forever", action="store_true",
                   help="stay registered until Ctrl-C, then unregister")

    p = sub.add_parser("subscribe", help=COMMANDS["subscribe"],
                       description=COMMANDS["subscribe"] + "; unsubscribes at the end.")
    _common(p)
    p.add_argument("--event", default="presence",
                   help="event package (default: presence; one the Engine knows)")
    p.add_argument("--expires", type=int, default=300, metavar="SECONDS",
                   help="subscription lifetime asked for (default: 300)")
    p.add_argument("--duration", type=seconds, default=2.0, metavar="SECONDS",
                   help="how long to stay subscribed, printing NOTIFYs (0: until Ctrl-C; "
                        "default: 2)")

    p = sub.add_parser("publish", help=COMMANDS["publish"], description=COMMANDS["publish"]
                       + ": PUBLISH (RFC 3903) for the address of record --from, sent to its "
                         "host unless --registrar or --route says otherwise; each state "
                         "change is printed (a refresh too); exit 0 once unpublished, 1 when "
                         "the server refused.")
    _common(p, to=False)
    p.add_argument("--registrar", type=sip_uri, default=None, metavar="URI",
                   help="where to send the PUBLISH (default: the host of --from)")
    p.add_argument("--event", default="presence",
                   help="event package (default: presence; one the Engine knows)")
    p.add_argument("--status", choices=["open", "closed"], default="open",
                   help="the PIDF document's basic status (default: open)")
    p.add_argument("--note", default=None, metavar="TEXT",
                   help="a note in the PIDF document (e.g. 'at lunch')")
    p.add_argument("--body", default=None, metavar="FILE",
                   help="publish this file's content instead of a PIDF document (with "
                        "--content-type)")
    p.add_argument("--content-type", default="application/pidf+xml", metavar="TYPE/SUBTYPE",
                   help="Content-Type of --body (default: application/pidf+xml)")
    p.add_argument("--expires", type=int, default=300, metavar="SECONDS",
                   help="publication lifetime asked for (default: 300; refreshed by itself)")
    p.add_argument("--duration", type=seconds, default=2.0, metavar="SECONDS",
                   help="how long to stay published (0: until Ctrl-C; default: 2)")

    p = sub.add_parser("call", help=COMMANDS["call"], description=COMMANDS["call"]
                       + ". With no sound card the audio runs on sipcore's null clock: "
                         "--play and --record are how to hear and say something.")
    _common(p)
    p.add_argument("--duration", type=seconds, default=5.0, metavar="SECONDS",
                   help="how long to stay in the call once answered (0: until Ctrl-C or the "
                        "other side hangs up; default: 5)")
    p.add_argument("--play", type=readable_file, default=None, metavar="WAV",
                   help="play this .wav file into the call (looped)")
    p.add_argument("--record", default=None, metavar="WAV",
                   help="record what the other side sends into this .wav file")
    p.add_argument("--codec", action="append", default=None, metavar="NAME",
                   help="offer this codec (repeat for more, in order; default: the Engine's "
                        "list)")
    p.add_argument("--ice", action="store_true",
                   help="offer ICE (RFC 8445) on the RTP transport; the result is printed "
                        "after the call")
    p.add_argument("--stun", type=stun_server, default=None, metavar="IP[:PORT]",
                   help="with ICE (implies --ice): this STUN server for a server-reflexive "
                        "candidate (default port 3478)")

    p = sub.add_parser("listen", help=COMMANDS["listen"], description=COMMANDS["listen"]
                       + ", until Ctrl-C (exit 130), --duration or --count (exit 0). "
                         "MESSAGEs are printed with their sender, Content-Type and body; "
                         "calls with each state change, their audio and their end. With no "
                         "sound card the audio runs on sipcore's null clock: --play and "
                         "--record are how to say and hear something. An offer with ICE is "
                         "answered with ICE. Exit 1 when the port cannot be listened on.")
    p.add_argument("--ip", type=ip_address, default=None,
                   help="local IP address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", "--local-port", dest="local_port", type=port_number,
                   default=None, metavar="PORT",
                   help="port to listen on, the same for UDP and TCP (default: any free one; "
                        "printed)")
    p.add_argument("--transport", choices=["udp", "tcp", "tls", "both"], default="both",
                   help="transport(s) to listen on: udp, tcp, tls (with --tls-cert and "
                        "--tls-key) or both (UDP and TCP; default)")
    p.add_argument("--message-code", type=message_code, default=200, metavar="CODE",
                   help="final response to every incoming MESSAGE, 200-699 (default: 200)")
    p.add_argument("--answer", type=answer_mode, default="auto", metavar="MODE",
                   help="incoming calls: auto (180 then 200), ring (180 and no more), busy "
                        "(486), none (no response at all), or a code: 200 (auto), 180 (ring), "
                        "300-699 (refused with it) (default: auto)")
    p.add_argument("--play", type=readable_file, default=None, metavar="WAV",
                   help="play this .wav file into every answered call (looped)")
    p.add_argument("--record", type=record_template, default=None, metavar="WAV",
                   help="record what each answered call sends into this .wav file ({id} in "
                        "the name: the call's id, in1, in2...; without {id} the first call "
                        "records into WAV and each later one into WAV with -ID before its "
                        "extension: no recording overwrites another)")
    p.add_argument("--codec", action="append", default=None, metavar="NAME",
                   help="accept this codec (repeat for more, in order of preference; "
                        "default: the Engine's list)")
    p.add_argument("--stun", type=stun_server, default=None, metavar="IP[:PORT]",
                   help="answer an offer with ICE with a server-reflexive candidate from this "
                        "STUN server too (default port 3478); the answer waits for its reply")
    p.add_argument("--duration", type=seconds, default=0, metavar="SECONDS",
                   help="stop listening after this long (0: until Ctrl-C or --count; "
                        "default: 0)")
    p.add_argument("--count", type=count, default=None, metavar="N",
                   help="stop after N requests were handled: a MESSAGE answered, a call "
                        "ended (default: no limit)")
    _tls_options(p.add_argument_group("TLS (with --transport tls)"), server=True)

    p = sub.add_parser("trace", help=COMMANDS["trace"], description=COMMANDS["trace"]
                       + ". E.g. 'sipcore trace register --from sip:alice@127.0.0.1 ...', "
                         "'sipcore trace --pcap out.pcap message ...', or "
                         "'sipcore trace --local-port 5060' to listen.")
    p.add_argument("--pcap", default=None, metavar="FILE",
                   help="write the SIP messages to this pcap file (Wireshark, tshark, "
                        "sngrep) instead of printing them")
    p.add_argument("--print", action="store_true",
                   help="with --pcap: print the messages too")
    p.add_argument("--ladder", action="store_true",
                   help="print a ladder diagram of the messages at the end")
    p.add_argument("--listen", type=seconds, default=0, metavar="SECONDS",
                   help="without a command: listen this long (0: until Ctrl-C; default: 0)")
    p.add_argument("--ip", type=ip_address, default=None,
                   help="without a command: local IP address to listen on (default: 127.0.0.1)")
    p.add_argument("--local-port", type=port_number, default=None, metavar="PORT",
                   help="without a command: UDP and TCP port to listen on (default: any free)")
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="COMMAND ...",
                   help="message, call, register, subscribe or listen with its arguments "
                        "(without one: 'listen --duration SECONDS' with --listen, --ip and "
                        "--local-port)")
    return ap


HANDLERS: dict[str, Callable[[Session], int]] = {
    "message": cmd_message, "register": cmd_register, "subscribe": cmd_subscribe,
    "publish": cmd_publish,
    "call": cmd_call, "listen": cmd_listen,
}


def main(argv: list[str]) -> int:
    """Run ``sipcore COMMAND ...`` (argv starts with the command); the exit status."""
    from .errors import SIPCoreError
    ap = build_parser()
    args = ap.parse_args(argv)
    trace = None
    prog = f"sipcore {args.command}"
    if args.command == "trace":
        trace = args
        if args.rest:
            if args.rest[0] not in HANDLERS:
                ap.exit(2, f"sipcore trace: error: argument COMMAND: {args.rest[0]!r} is not "
                           f"one of {', '.join(HANDLERS)} (see sipcore trace --help)\n")
            args = build_parser("sipcore trace").parse_args(args.rest)
            prog = f"sipcore trace {args.command}"
        else:       # listen, with the listen command's defaults
            args = build_parser("sipcore trace").parse_args(["listen"])
            args.duration, args.ip, args.local_port = trace.listen, trace.ip, trace.local_port
    if args.command in ("register", "publish") and args.from_uri is None:
        ap.exit(2, f"{prog}: error: argument --from: required (the address of record to "
                   f"{args.command})\n")
    if args.command == "listen" and args.transport == "tls" and not (args.tls_cert and
                                                                     args.tls_key):
        ap.exit(2, f"{prog}: error: argument --tls-cert: --tls-cert and --tls-key are "
                   "required with --transport tls\n")
    if args.command == "publish" and args.body is None and args.content_type != \
            "application/pidf+xml":
        ap.exit(2, f"{prog}: error: argument --content-type: only with --body (the PIDF "
                   "document is application/pidf+xml)\n")
    if args.command == "publish" and args.body is not None and (
            args.note is not None or "--status" in argv):
        ap.exit(2, f"{prog}: error: argument --body: not with --status or --note\n")
    session = Session(args, trace)
    try:
        return HANDLERS[args.command](session)
    except Failure as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    except (UsageError, ValueError) as e:     # ValueError: sipcore refused a value, naming it
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except SIPCoreError as e:                 # e.g. PJSIPError: what PJSIP could not do
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        session.status.clear()
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    finally:
        try:
            session.close()
        except KeyboardInterrupt:
            pass


def _registrar(args: argparse.Namespace) -> Any:
    from . import SIPURI
    if args.registrar is not None:
        return args.registrar
    return SIPURI(args.from_uri.host, port=args.from_uri.port)

