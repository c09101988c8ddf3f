"""The Engine's start options: defaults and validation (TypeError/ValueError naming the option)."""
from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any, Literal, TypedDict, overload

from ._pj import PJSIP_VERSION
from ._validate import check_bool, check_choice, check_int
from ._version import __version__

DEFAULT_EVENTS = {
    "presence": ["application/pidf+xml"],
    "presence.winfo": ["application/watcherinfo+xml"],
    "message-summary": ["application/simple-message-summary"],
    "dialog": ["application/dialog-info+xml"],
    "reg": ["application/reginfo+xml"],
}

DEFAULT_START_OPTIONS: dict[str, Any] = {
    "auto_sound": True,
    "local_ip": None,
    "local_udp_port": 0,
    "local_tcp_port": 0,
    "local_tls_port": 0,
    "tls_protocol": "TLSv1.2",        # spec: "TLSv1"; TLS < 1.2 is deprecated (RFC 8996)
    "tls_verify_server": True,        # spec: False; an unverified server is not secure
    "tls_ca_file": None,              # None: the system's CA store (/etc/ssl/certs)
    "tls_cert_file": None,
    "tls_privkey_file": None,
    "tls_timeout": 1000,
    "ec_tail_length": 50,
    "user_agent": f"sipcore-{__version__}-pjsip-{PJSIP_VERSION}",
    "log_level": 5,
    "trace_sip": False,
    # extension: "auto" answers every incoming MESSAGE 200 before Python sees it (the fast
    # path); "receiver" lets a SIPEngineGotMessage receiver choose the code (data ``respond``)
    "message_answer": "auto",
    "sample_rate": 32,
    "playback_dtmf": True,
    "rtp_port_range": (40000, 40100),
    "codecs": None,                   # None: the default list, restricted to what is available
    "events": DEFAULT_EVENTS,
    # extension: after a poll turn with work, look for more this long (microseconds) before
    # sleeping; saves the scheduler's wake-up delay on back-to-back traffic (0 = off; off on
    # a single CPU, where spinning would only delay the peer we wait for)
    "poll_spin_us": 500 if (os.cpu_count() or 1) > 1 else 0,
    # extension: the DNS servers names are resolved through (RFC 3263), "ip" or "ip:port"
    # ("[v6]:port"); None: the nameserver lines of /etc/resolv.conf
    "nameservers": None,
    # extension: RFC 4028 session timers (docs/invitation.md, "Session timers"): "supported"
    # (used when the peer asks for or supports them), "required" (Require: timer), "always"
    # (also with a peer without them: we refresh), "off" (only when a peer requires them)
    "session_timer": "supported",
    "session_expires": 1800,          # seconds: the Session-Expires asked for (RFC 4028's 1800)
    "session_min_se": 90,             # seconds: Min-SE, the shortest interval accepted (>= 90)
}



class EngineOptions(TypedDict, total=False):
    """The keyword arguments of ``Engine.start()`` (every one optional; the defaults are
    :data:`DEFAULT_START_OPTIONS`), as types: ``Engine.start(**options:
    Unpack[EngineOptions])``, so that a type checker (mypy) checks the option names and the
    values' types in the caller's code; start() itself checks them again at run time
    (TypeError/ValueError naming the option).  The values are what start() accepts;
    ``Engine().<option>`` reads them back normalized (e.g. ``codecs`` a list).
    """

    auto_sound: bool
    local_ip: str | None
    local_udp_port: int | None
    local_tcp_port: int | None
    local_tls_port: int | None
    tls_protocol: str | None
    tls_verify_server: bool
    tls_ca_file: str | None
    tls_cert_file: str | None
    tls_privkey_file: str | None
    tls_timeout: int
    ec_tail_length: int
    user_agent: str
    log_level: int
    trace_sip: bool
    message_answer: Literal["auto", "receiver"]
    sample_rate: Literal[8, 16, 32]
    playback_dtmf: bool
    rtp_port_range: tuple[int, int] | list[int]
    codecs: list[str] | tuple[str, ...] | None
    events: dict[str, list[str]]
    poll_spin_us: int
    nameservers: list[str] | tuple[str, ...] | None
    session_timer: Literal["off", "supported", "required", "always"]
    session_expires: int
    session_min_se: int


RESOLV_CONF = "/etc/resolv.conf"

TLS_PROTOCOL_NAMES = (None, "SSLv23", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


@overload
def _text(name: str, value: Any, allow_none: Literal[False]) -> str: ...
@overload
def _text(name: str, value: Any, allow_none: bool = True) -> str | None: ...
def _text(name: str, value: Any, allow_none: bool = True) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str{' or None' if allow_none else ''}, "
                        f"not {type(value).__name__}")
    if "\x00" in value or "\r" in value or "\n" in value:
        raise ValueError(f"{name} must not contain NUL, CR or LF characters")
    text: str = value
    return text


def _file(name: str, value: Any) -> str | None:
    path = _text(name, value)
    if path is not None and not os.path.isfile(path):
        raise ValueError(f"{name}: no such file {path!r}")
    return path


def check_port(name: str, value: Any) -> int | None:
    return check_int(name, value, 0, 65535, allow_none=True)


def check_local_ip(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"local_ip must be a str or None, not {type(value).__name__}")
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        raise ValueError(f"local_ip must be an IPv4 or IPv6 address, not {value!r}") from None


def check_user_agent(value: Any) -> str:
    return _text("user_agent", value, allow_none=False)


def check_log_level(value: Any) -> int:
    return check_int("log_level", value, 0, 6)


def check_trace_sip(value: Any) -> bool:
    return check_bool("trace_sip", value)


MESSAGE_ANSWERS = ("auto", "receiver")


def check_message_answer(value: Any) -> str:
    return check_choice("message_answer", value, MESSAGE_ANSWERS)


SESSION_TIMERS = ("off", "supported", "required", "always")
#: RFC 4028 section 4: Min-SE is never below 90 s (pjsip asserts it)
MIN_SE = 90


def check_session_timer(value: Any) -> str:
    return check_choice("session_timer", value, SESSION_TIMERS)


def check_session_times(expires: Any, min_se: Any) -> tuple[int, int]:
    """(session_expires, session_min_se): MIN_SE <= session_min_se <= session_expires."""
    min_se = check_int("session_min_se", min_se, MIN_SE, 86400)
    expires = check_int("session_expires", expires, MIN_SE, 86400)
    if expires < min_se:
        raise ValueError(f"session_expires ({expires}) must not be below session_min_se ({min_se})")
    return expires, min_se


def check_poll_spin_us(value: Any) -> int:
    return check_int("poll_spin_us", value, 0, 10000)


def check_playback_dtmf(value: Any) -> bool:
    return check_bool("playback_dtmf", value)


def check_rtp_port_range(value: Any) -> tuple[int, int]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError("rtp_port_range must be a tuple of two ints (first, last)")
    a = check_int("rtp_port_range[0]", value[0], 1024, 65534)
    b = check_int("rtp_port_range[1]", value[1], 1025, 65535)
    if b - a < 2:
        raise ValueError("rtp_port_range must span at least 2 ports (RTP and RTCP), "
                         f"not {tuple(value)}")
    return (a, b)


def check_codecs(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TypeError("codecs must be a list of codec names")
    for c in value:
        if not isinstance(c, str):
            raise TypeError(f"codecs must contain str, not {type(c).__name__}")
    return list(value)


def check_event(event: Any, accept_types: Any) -> tuple[str, list[str]]:
    event = _text("event", event, allow_none=False)
    if not event or any(c in event for c in " \t;,"):
        raise ValueError("event must be an event package name such as 'presence', "
                         f"not {event!r}")
    if (isinstance(accept_types, str) or not isinstance(accept_types, (list, tuple))
            or not accept_types):
        raise TypeError("accept_types must be a non-empty list of 'type/subtype' strings")
    for t in accept_types:
        _text("accept_types item", t, allow_none=False)
        if t.count("/") != 1 or not all(t.split("/")):
            raise ValueError(f"accept_types: {t!r} is not a 'type/subtype' content type")
    return event, list(accept_types)


def check_tls(protocol: Any, verify_server: Any, ca_file: Any, cert_file: Any,
              privkey_file: Any, timeout: Any, prefix: str = "tls_") -> dict[str, Any]:
    if protocol is not None and not isinstance(protocol, str):
        raise TypeError(f"{prefix}protocol must be a str or None")
    if protocol in ("SSLv2", "SSLv3"):
        raise ValueError(f"{prefix}protocol {protocol!r} is insecure and not supported by "
                         "OpenSSL 3; use 'TLSv1.2' (the default) or 'TLSv1.3'")
    if protocol not in TLS_PROTOCOL_NAMES:
        raise ValueError(f"{prefix}protocol must be one of {TLS_PROTOCOL_NAMES}, "
                         f"not {protocol!r}")
    out = {
        "tls_protocol": protocol,
        "tls_verify_server": check_bool(f"{prefix}verify_server", verify_server),
        "tls_ca_file": _file(f"{prefix}ca_file", ca_file),
        "tls_cert_file": _file(f"{prefix}cert_file", cert_file),
        "tls_privkey_file": _file(f"{prefix}privkey_file", privkey_file),
        "tls_timeout": check_int(f"{prefix}timeout", timeout, 1, 600000),
    }
    if (out["tls_cert_file"] is None) != (out["tls_privkey_file"] is None):
        raise ValueError(f"{prefix}cert_file and {prefix}privkey_file go together")
    return out


def _nameserver(item: Any) -> tuple[str, int]:
    if not isinstance(item, str):
        raise TypeError('nameservers must contain str ("ip" or "ip:port"), '
                        f"not {type(item).__name__}")
    host, port = item, 53
    port_text: str | None = None
    if item.startswith("["):                      # [v6] or [v6]:port
        host, sep, rest = item[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f'nameservers: {item!r} is not "ip", "ip:port" or "[ipv6]:port"')
        port_text = rest[1:] if rest else None
    elif item.count(":") == 1:                    # v4:port
        host, port_text = item.split(":")
    if port_text is not None:
        if not port_text.isdigit():
            raise ValueError(f"nameservers: {item!r} has no valid port")
        port = int(port_text)
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f'nameservers: {item!r} is not an IP address ("ip" or "ip:port")'
                         ) from None
    if not 1 <= port <= 65535:
        raise ValueError(f"nameservers: the port of {item!r} must be 1..65535")
    return host, port


def system_nameservers(path: str = RESOLV_CONF) -> list[str]:
    """The ``nameserver`` lines of resolv.conf (at most 8); none: ["127.0.0.1"], as glibc."""
    out: list[str] = []
    try:
        with open(path) as fh:
            for line in fh:
                f = line.split()
                if len(f) >= 2 and f[0] == "nameserver":
                    try:
                        a = ipaddress.ip_address(f[1].split("%")[0])
                    except ValueError:
                        continue
                    out.append(f"[{a}]" if a.version == 6 else str(a))
    except OSError:
        pass
    return out[:8] or ["127.0.0.1"]


def check_nameservers(value: Any) -> list[tuple[str, int]]:
    """[(ip, port)] from a list of "ip" / "ip:port" / "[v6]:port" (1..8 of them)."""
    if value is None:
        value = system_nameservers()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TypeError("nameservers must be a list of \"ip\" or \"ip:port\" strings, or None")
    if not 1 <= len(value) <= 8:
        raise ValueError(f"nameservers must list 1 to 8 servers, not {len(value)}")
    return [_nameserver(v) for v in value]


def validate_start(kwargs: Mapping[str, object]) -> dict[str, Any]:
    unknown = set(kwargs) - set(DEFAULT_START_OPTIONS)
    if unknown:
        raise TypeError(f"start() got unknown option(s): {', '.join(sorted(unknown))}")
    o = dict(DEFAULT_START_OPTIONS)
    o.update(kwargs)
    o["auto_sound"] = check_bool("auto_sound", o["auto_sound"])
    o["local_ip"] = check_local_ip(o["local_ip"])
    for kind in ("udp", "tcp", "tls"):
        o[f"local_{kind}_port"] = check_port(f"local_{kind}_port", o[f"local_{kind}_port"])
    o.update(check_tls(o["tls_protocol"], o["tls_verify_server"], o["tls_ca_file"],
                       o["tls_cert_file"], o["tls_privkey_file"], o["tls_timeout"]))
    o["ec_tail_length"] = check_int("ec_tail_length", o["ec_tail_length"], 0, 1000)
    o["user_agent"] = check_user_agent(o["user_agent"])
    o["log_level"] = check_log_level(o["log_level"])
    o["trace_sip"] = check_trace_sip(o["trace_sip"])
    o["message_answer"] = check_message_answer(o["message_answer"])
    if o["sample_rate"] not in (8, 16, 32) or isinstance(o["sample_rate"], bool):
        if not isinstance(o["sample_rate"], int):
            raise TypeError("sample_rate must be an int (8, 16 or 32 kHz)")
        raise ValueError(f"sample_rate must be 8, 16 or 32 (kHz), not {o['sample_rate']}")
    o["playback_dtmf"] = check_playback_dtmf(o["playback_dtmf"])
    o["poll_spin_us"] = check_poll_spin_us(o["poll_spin_us"])
    o["rtp_port_range"] = check_rtp_port_range(o["rtp_port_range"])
    o["codecs"] = check_codecs(o["codecs"])
    o["nameservers"] = check_nameservers(o["nameservers"])
    o["session_timer"] = check_session_timer(o["session_timer"])
    o["session_expires"], o["session_min_se"] = check_session_times(o["session_expires"],
                                                                     o["session_min_se"])
    events = o["events"]
    if not isinstance(events, dict):
        raise TypeError("events must be a dict of event package -> list of content types")
    o["events"] = dict(check_event(k, v) for k, v in events.items())
    return o
