"""sipp (Debian's sip-tester) for interop tests: scenarios written from small building blocks,
and sipp run as a UAC to completion or as a UAS in the background on a free loopback port.

Usage::

    from peers import sipp

    text = sipp.scenario("INVITE, BYE",
                         sipp.request("INVITE", 1, initial=True, body=sipp.sdp()),
                         sipp.recv(response=100, optional=True),
                         sipp.recv(response=200, rrs=True),
                         sipp.request("ACK", 1, retrans=None),
                         sipp.pause(200),
                         sipp.request("BYE", 2),
                         sipp.recv(response=200))
    r = sipp.run_uac(tmp_path, text, engine.local_udp_port)   # or a built-in: "uac"
    sipp.assert_ok(r, tmp_path)                                # sipp exits 0: all as scripted

    with sipp.uas(tmp_path, sipp.scenario("...", sipp.recv(request="INVITE"), ...)) as peer:
        ...                                                    # call 127.0.0.1:peer.port
        sipp.finish(peer, tmp_path)                            # its verdict

The UAC side is "sipp" calling "alice" at the target ([remote_ip]:[remote_port]); the UAS side
answers with the To-tag ``[pid]SIPpTag01[call_number]``.  A message is the lines of its CDATA:
sipp strips each line's leading blanks, ends every line with CRLF (a body's last line too,
which [len] counts) and ends the headers with an empty line.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from itertools import count

from .ports import free_port
from .procs import stop_process_group

__all__ = ["SIPP", "IP", "scenario", "cdata", "sdp", "request", "respond", "recv", "pause",
           "recv_bye_send_200", "run_uac", "assert_ok", "uas", "finish"]

SIPP = shutil.which("sipp") or "/usr/bin/sipp"
IP = "127.0.0.1"

VIA = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]"
UAC_FROM = "From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]"
UAC_CONTACT = "Contact: sip:sipp@[local_ip]:[local_port]"
UAS_TAG = ";tag=[pid]SIPpTag01[call_number]"
UAS_CONTACT = "Contact: <sip:[local_ip]:[local_port];transport=[transport]>"

_names = count(1)


# ---------------------------------------------------------------- scenario text

def scenario(name: str, *steps: str) -> str:
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
            f'<scenario name="{name}">\n' + "\n".join(steps) + "\n</scenario>\n")


def cdata(lines: list[str], body: list[str] | None = None) -> str:
    """A message: header lines, then (with ``body``) an empty line and the body's lines."""
    if body is None:
        return "<![CDATA[\n" + "\n".join(lines) + "\n\n]]>"
    return "<![CDATA[\n" + "\n".join([*lines, "", *body]) + "\n]]>"


def sdp(m: str = "[media_port] RTP/AVP 0", *attributes: str,
        version: int | str = 2353687637) -> list[str]:
    """An audio SDP body (lines) from sipp's own address: ``m`` is the m=audio line after
    "audio "; ``attributes`` default to PCMU's rtpmap."""
    return ["v=0", f"o=user1 53655765 {version} IN IP[local_ip_type] [local_ip]", "s=-",
            "c=IN IP[media_ip_type] [media_ip]", "t=0 0", f"m=audio {m}",
            *(attributes or ("a=rtpmap:0 PCMU/8000",))]


def _headers_and_body(lines: list[str], body: list[str] | None, content_type: str) -> str:
    if body is None:
        return cdata([*lines, "Content-Length: 0"])
    return cdata([*lines, f"Content-Type: {content_type}", "Content-Length: [len]"], body)


def request(method: str, cseq: int, *, initial: bool = False, body: list[str] | None = None,
            retrans: int | None = 500, headers: tuple[str, ...] = (),
            content_type: str = "application/sdp") -> str:
    """A request of the UAC side: ``initial`` opens the dialog (to alice at the target),
    otherwise it goes to [next_url] with the dialog's To.  ACK: pass ``retrans=None``."""
    first = (f"{method} sip:alice@[remote_ip]:[remote_port] SIP/2.0" if initial
             else f"{method} [next_url] SIP/2.0")
    to = "To: <sip:alice@[remote_ip]:[remote_port]>" if initial else "[last_To:]"
    lines = [first, VIA, UAC_FROM, to, "Call-ID: [call_id]", f"CSeq: {cseq} {method}",
             UAC_CONTACT, "Max-Forwards: 70", *headers]
    attr = f' retrans="{retrans}"' if retrans is not None else ""
    return f"<send{attr}>{_headers_and_body(lines, body, content_type)}</send>"


def respond(code: int, reason: str, *, new_tag: bool = True, contact: str | None = UAS_CONTACT,
            headers: tuple[str, ...] = (), body: list[str] | None = None,
            content_type: str = "application/sdp") -> str:
    """A response to the last request received; ``new_tag`` adds the UAS's To-tag (the
    first response of a dialog); ``contact=None``: no Contact."""
    lines = [f"SIP/2.0 {code} {reason}", "[last_Via:]", "[last_From:]",
             "[last_To:]" + (UAS_TAG if new_tag else ""), "[last_Call-ID:]", "[last_CSeq:]"]
    if contact:
        lines.append(contact)
    lines += headers
    return f"<send>{_headers_and_body(lines, body, content_type)}</send>"


def recv(*, response: int | None = None, request: str | None = None,
         body_has: str | None = None, **attributes) -> str:
    """Wait for a response or a request; ``attributes`` (optional, rrs, rtd, crlf: True) as
    sipp's; ``body_has``: a regexp the body must match, or sipp fails the call."""
    attrs = f' response="{response}"' if response is not None else f' request="{request}"'
    attrs += "".join(f' {k}="{str(v).lower() if isinstance(v, bool) else v}"'
                     for k, v in attributes.items())
    if body_has is None:
        return f"<recv{attrs}/>"
    var = f"check{next(_names)}"
    return (f'<recv{attrs}><action><ereg regexp="{body_has}" search_in="body" check_it="true" '
            f'assign_to="{var}"/></action></recv><Reference variables="{var}"/>')


def pause(ms: int) -> str:
    return f'<pause milliseconds="{ms}"/>'


def recv_bye_send_200() -> str:
    """The peer's BYE, answered 200."""
    return recv(request="BYE") + respond(200, "OK", new_tag=False, contact=None)


# ---------------------------------------------------------------- running sipp

def _scenario_args(tmp_path, text: str) -> list[str]:
    """``-sn`` for a built-in scenario ("uac", "uas"), else the text written to a file."""
    if not text.lstrip().startswith("<"):
        return ["-sn", text]
    path = tmp_path / f"scenario-{next(_names)}.xml"
    path.write_text(text)
    return ["-sf", str(path)]


def run_uac(tmp_path, text: str, port: int, *, calls: int = 1, timeout: float = 20,
            extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """sipp as UAC: ``calls`` calls to 127.0.0.1:``port`` (from a free port), to the end."""
    return subprocess.run([SIPP, *_scenario_args(tmp_path, text), f"{IP}:{port}", "-m",
                           str(calls), *extra, "-i", IP, "-p", str(free_port("udp")),
                           "-timeout", str(int(timeout)), "-trace_err", "-nostdin"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=timeout + 10)


def _errors(tmp_path) -> str:
    return "".join(p.read_text() for p in tmp_path.glob("*errors.log"))


def assert_ok(r: subprocess.CompletedProcess, tmp_path) -> None:
    """sipp ended with 0: every message of its scenario came as scripted."""
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:] + _errors(tmp_path)[-2000:]


@contextmanager
def uas(tmp_path, text: str, *, calls: int = 1, transport: str = "udp", timeout: float = 30):
    """sipp running ``text`` (or the built-in "uas") as UAS on a free loopback port
    (``proc.port``) for ``calls`` calls, over UDP or TCP (one connection, ``-t t1``); ready
    once it holds the port; stopped at the end if it still runs."""
    port = free_port(transport)
    proc = subprocess.Popen([SIPP, *_scenario_args(tmp_path, text), "-i", IP, "-p", str(port),
                             "-m", str(calls), "-timeout", str(int(timeout)), "-trace_err",
                             "-nostdin", "-t", "u1" if transport == "udp" else "t1"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    proc.port = port
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if transport == "udp"
                              else socket.SOCK_STREAM)
            try:
                s.bind((IP, port))
            except OSError:
                break
            finally:
                s.close()
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            time.sleep(0.02)
        yield proc
    finally:
        if proc.poll() is None:
            stop_process_group(proc)


def finish(proc: subprocess.Popen, tmp_path, timeout: float = 20) -> None:
    """A UAS sipp ended, and every message of its scenario came as scripted."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-1500:] + err[-1500:] + _errors(tmp_path)[-1500:]
