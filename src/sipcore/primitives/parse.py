"""parse_sip_uri: PJSIP's URI parser, on the poll thread."""
from __future__ import annotations

from .._pj import ffi, lib
from ..errors import SIPCoreError
from ..uri import SIPURI, from_pj

MAX_URI_LENGTH = 8192


def parse_sip_uri(ua, text: str) -> SIPURI:
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > MAX_URI_LENGTH:
        raise SIPCoreError(f"not a SIP URI: longer than {MAX_URI_LENGTH} bytes")
    if b"\x00" in data:
        raise SIPCoreError("not a SIP URI: contains a NUL character")
    pool = lib.pjsip_endpt_create_pool(ua.endpt, b"parse", 512, 512)
    if pool == ffi.NULL:
        raise SIPCoreError("out of memory")
    try:
        buf = ffi.new("char[]", data)  # NUL-terminated, as PJSIP's scanner requires
        uri = lib.pjsip_parse_uri(pool, buf, len(data), lib.PJSIP_PARSE_URI_AS_NAMEADDR)
        if uri == ffi.NULL:
            raise SIPCoreError(f"not a SIP URI: {text!r}")
        try:
            result = from_pj(uri)
        except (TypeError, ValueError) as exc:  # PJSIP accepts more than a SIPURI holds
            raise SIPCoreError(f"unsupported SIP URI {text!r}: {exc}") from None
        if result is None:
            raise SIPCoreError(f"not a sip: or sips: URI: {text!r}")
        return result
    finally:
        lib.pjsip_endpt_release_pool(ua.endpt, pool)
