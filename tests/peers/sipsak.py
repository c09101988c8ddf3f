"""Thin wrappers around the ``sipsak`` CLI (Debian sipsak 0.9.8.1).

QUIRK: ``sipsak -M`` (its built-in MESSAGE mode) segfaults in Debian's
0.9.8.1 (NULL buffer in sprintf, any option combination tried).  So
:func:`send_message` builds the MESSAGE itself and sends it in sipsak's
"shoot" mode (``-f FILE -L``), which still does digest auth (401/407 with
``-a``/``-u``), retransmissions and reports the final reply.

Exit codes (sipsak): 0 = 2xx final reply, 1 = non-2xx final reply (e.g. 404),
2 = local error / no reply (timeout), 3 = internal error; -11 = crashed.

All functions return :class:`SipsakResult` (never raise on SIP errors).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
import uuid

__all__ = ["SipsakResult", "sipsak", "send_message", "register", "options"]


@dataclasses.dataclass
class SipsakResult:
    returncode: int
    stdout: str
    stderr: str
    args: list

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def status(self) -> int | None:
        """Status code of the last final reply seen in the output (needs -v)."""
        # sipsak prints replies partly on stdout, partly on stderr
        codes = re.findall(r"^\s*SIP/2\.0 (\d{3})",
                           self.stdout + "\n" + self.stderr, re.M)
        return int(codes[-1]) if codes else None


def _binary() -> str:
    return shutil.which("sipsak") or "/usr/bin/sipsak"


def sipsak(*args: str, timeout: float = 30.0) -> SipsakResult:
    """Run sipsak with raw arguments (``-H 127.0.0.1`` is added so it never
    tries to resolve the local hostname)."""
    argv = [_binary(), *args]
    if "-H" not in args:
        argv += ["-H", "127.0.0.1"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        return SipsakResult(r.returncode, r.stdout, r.stderr, argv)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return SipsakResult(-9, out, "timeout", argv)


def _hostport(uri: str) -> str:
    m = re.match(r"sips?:(?:[^@]*@)?(\[[^\]]+\]|[^;:>]+)(?::(\d+))?", uri)
    if not m:
        raise ValueError(f"bad SIP URI {uri!r}")
    return m.group(1) + (f":{m.group(2)}" if m.group(2) else "")


def send_message(uri: str, text: str, *, port: int | None = None,
                 proxy: str | None = None, from_uri: str | None = None,
                 user: str | None = None, password: str | None = None,
                 transport: str | None = None,
                 content_type: str = "text/plain",
                 extra_headers: dict | None = None,
                 timeout: float = 30.0) -> SipsakResult:
    """Send a SIP MESSAGE with body ``text`` to ``uri``.

    uri        request-URI, e.g. "sip:bob@127.0.0.1" or "sip:bob@127.0.0.1:5070"
    port       where to send it (host taken from ``proxy`` or ``uri``);
               default: the port in ``proxy``/``uri``
    proxy      "host:port" to send to instead of the URI's host (e.g. the
               Kamailio: f"{k.host}:{k.port}")
    from_uri   From header URI (default sip:sipsak@127.0.0.1)
    user/password  digest credentials (answers 401/407)
    transport  "udp" (default) / "tcp" / "tls"
    """
    from_uri = from_uri or "sip:sipsak@127.0.0.1"
    body = text.encode()
    hdrs = [
        f"MESSAGE {uri} SIP/2.0",
        f"From: <{from_uri}>;tag={uuid.uuid4().hex[:10]}",
        f"To: <{uri}>",
        f"Call-ID: {uuid.uuid4().hex}@127.0.0.1",
        "CSeq: 1 MESSAGE",
        "Max-Forwards: 70",
        f"Content-Type: {content_type}",
    ]
    for k, v in (extra_headers or {}).items():
        hdrs.append(f"{k}: {v}")
    hdrs.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(hdrs) + "\r\n\r\n").encode() + body

    target = proxy or _hostport(uri)
    m = re.match(r"^(\[[^\]]+\]|[^:]+)(?::(\d+))?$", target)
    if not m:
        raise ValueError(f"bad host[:port] {target!r}")
    host, tport = m.group(1), m.group(2) or ""
    if port is not None:
        tport = str(port)
    dest = f"sip:{host}" + (f":{tport}" if tport else "")

    fd, path = tempfile.mkstemp(prefix="sipsak-msg-", suffix=".sip")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        args = ["-f", path, "-L", "-s", dest, "-vv"]
        if password is not None:
            args += ["-a", password]
        if user is not None:
            args += ["-u", user]
        if transport:
            args += ["-E", transport.lower()]
        return sipsak(*args, timeout=timeout)
    finally:
        os.unlink(path)


def register(uri: str, password: str | None = None, *, user: str | None = None,
             expires: int = 60, contact: str | None = None,
             transport: str | None = None, timeout: float = 30.0) -> SipsakResult:
    """REGISTER (sipsak -U usrloc mode) ``uri`` = sip:user@host:port.

    Registers, then (as sipsak's usrloc mode does) checks the binding with
    a second request.  Exit code 0 = registration succeeded.
    """
    args = ["-U", "-s", uri, "-x", str(expires), "-vv"]
    if password is not None:
        args += ["-a", password]
    if user is not None:
        args += ["-u", user]
    if contact is not None:
        args += ["-C", contact]
    if transport:
        args += ["-E", transport.lower()]
    return sipsak(*args, timeout=timeout)


def options(uri: str, *, transport: str | None = None,
            timeout: float = 15.0) -> SipsakResult:
    """Send one OPTIONS to ``uri`` (sipsak shoot mode)."""
    args = ["-s", uri, "-vv"]
    if transport:
        args += ["-E", transport.lower()]
    return sipsak(*args, timeout=timeout)
