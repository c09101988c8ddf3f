"""Free-port helpers for the real-peer test helpers.

Everything binds to loopback only (127.0.0.1 / ::1).  There is an inherent
race between "find a free port" and "the peer binds it"; to keep it small we
(a) remember the ports we already handed out in this process and never hand
them out twice, and (b) for SIP we require the same number to be free for
both UDP and TCP (``free_port(kind="both")``).
"""

from __future__ import annotations

import random
import socket
import threading

__all__ = ["free_port", "free_ports", "loopback", "ipv6_available"]

_lock = threading.Lock()
_handed_out: set[int] = set()

# Stay away from the ephemeral range (32768-60999 on Linux) so a port we pick
# is not grabbed by some client's outgoing connection before the peer binds it.
_RANGE = (20000, 32000)


def loopback(family: int = socket.AF_INET) -> str:
    return "::1" if family == socket.AF_INET6 else "127.0.0.1"


def _can_bind(port: int, sock_type: int, family: int) -> bool:
    s = socket.socket(family, sock_type)
    try:
        if sock_type == socket.SOCK_STREAM:
            # Same semantics a server gets (it will use SO_REUSEADDR too);
            # avoids false negatives from TIME_WAIT leftovers.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((loopback(family), port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def ipv6_available() -> bool:
    """True if ::1 can be bound on this machine."""
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(kind: str = "udp", family: int | str = socket.AF_INET,
              also_families: tuple[int | str, ...] = ()) -> int:
    """Return a port number that is currently free on loopback.

    kind:    "udp", "tcp" or "both" (same number free for UDP *and* TCP).
    family:  socket.AF_INET / socket.AF_INET6, or "ipv4"/"ipv6"/"4"/"6".
    also_families: extra families in which the port must also be free
             (e.g. ``(socket.AF_INET6,)`` to get a number usable on
             127.0.0.1 and ::1).
    """
    fams = [_family(family)] + [_family(f) for f in also_families]
    if kind == "udp":
        types = [socket.SOCK_DGRAM]
    elif kind == "tcp":
        types = [socket.SOCK_STREAM]
    elif kind == "both":
        types = [socket.SOCK_DGRAM, socket.SOCK_STREAM]
    else:
        raise ValueError(f"kind must be udp/tcp/both, not {kind!r}")
    rng = random.Random()
    with _lock:
        for _ in range(2000):
            port = rng.randrange(*_RANGE)
            if port in _handed_out:
                continue
            if all(_can_bind(port, t, f) for t in types for f in fams):
                _handed_out.add(port)
                return port
    raise RuntimeError("could not find a free port")


def free_ports(n: int, kind: str = "udp", family: int | str = socket.AF_INET,
               also_families: tuple[int | str, ...] = ()) -> list[int]:
    """``n`` distinct free ports (see :func:`free_port`)."""
    return [free_port(kind, family, also_families) for _ in range(n)]


def _family(f: int | str) -> int:
    if isinstance(f, int):
        return f
    name = str(f).lower()
    if name in ("4", "ipv4", "inet", "af_inet"):
        return socket.AF_INET
    if name in ("6", "ipv6", "inet6", "af_inet6"):
        return socket.AF_INET6
    raise ValueError(f"unknown family {name!r}")
