"""SDP between SDPSession and PJMEDIA for the media objects: the one place they convert, through
the SDP flat form (sipcore.h, "flat formats") like the Invitation does."""
from __future__ import annotations

from typing import Any

from ..sdp import SDPSession, _flat, _flat_of_pj, _from_flat, _pj_from_flat


def to_pj(ua: Any, pool: Any, session: SDPSession) -> Any:
    """A ``pjmedia_sdp_session *`` in ``pool`` equal to ``session`` (poll thread)."""
    return _pj_from_flat(pool, _flat(session))


def from_pj(ua: Any, sdp: Any) -> SDPSession:
    """A new SDPSession equal to the ``pjmedia_sdp_session *`` (poll thread)."""
    return _from_flat(_flat_of_pj(sdp, ua.scratch))


def to_pj_kept(ua: Any, pool: Any, session: SDPSession) -> tuple[Any, bytes]:
    """to_pj, and the flat form it was made from (for :func:`changed`)."""
    flat = _flat(session)
    return _pj_from_flat(pool, flat), flat


def changed(ua: Any, sdp: Any, flat: bytes) -> SDPSession | None:
    """A new SDPSession equal to the ``pjmedia_sdp_session *`` ``sdp`` made from ``flat``
    (:func:`to_pj_kept`), or None when PJMEDIA left it as it was (its flat form unchanged: a
    transport without SRTP or ICE adds nothing to the SDP), so that no objects are made."""
    after = _flat_of_pj(sdp, ua.scratch)
    return None if after == flat else _from_flat(after)
