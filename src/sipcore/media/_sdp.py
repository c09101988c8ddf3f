"""SDP between SDPSession and PJMEDIA for the media objects: the one place they convert.

(The sdp module's private converters are changing on main -- the SDP flat form both ways --
so these two functions are what the merge adapts.)"""
from __future__ import annotations

from typing import Any

from ..sdp import SDPSession
from ..sdp import _pj_from_flat


def to_pj(ua: Any, pool: Any, session: SDPSession) -> Any:
    """A ``pjmedia_sdp_session *`` in ``pool`` equal to ``session`` (poll thread)."""
    return _pj_from_flat(pool, session)


def from_pj(ua: Any, sdp: Any) -> SDPSession:
    """A new SDPSession equal to the ``pjmedia_sdp_session *`` (poll thread)."""
    return SDPSession._from_pj(sdp)
