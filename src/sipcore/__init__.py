"""sipcore: the SIP core of a softphone for Python, over PJSIP/PJMEDIA through cffi.

The public names are those of the SIP core API (see the README and ``docs/``)::

    from sipcore import Engine, SIPURI, Credentials, Route, send_message
"""
from types import ModuleType

from . import (
    _callbacks,  # noqa: F401  (every trampoline: defined before an Engine starts)
    signals,
)
from ._options import EngineOptions
from ._pj import PJSIP_VERSION
from ._version import __version__
from .credentials import Credentials
from .engine import Engine
from .errors import (
    EngineNotRunningError,
    InvalidStateError,
    MessagePendingError,
    PJSIPError,
    SIPCoreError,
)
from .media import AudioTransport, RTPTransport  # media: m-stream
from .media.wave import RecordingWaveFile, WaveFile  # m-bridge
from .primitives.invitation import Invitation
from .primitives.message import send_message
from .primitives.publication import Publication
from .primitives.registration import Registration
from .primitives.subscription import Subscription
from .route import Route
from .sdp import SDPAttribute, SDPConnection, SDPMedia, SDPSession
from .signals import Notification, NotificationFailed, NotificationRecorder, wait_for
from .uri import SIPURI


def __getattr__(name: str) -> ModuleType:
    """``sipcore.aio`` (asyncio: await notifications and operations) is imported on first use:
    importing asyncio (and ssl, socket...) costs every process 5-6 MB of RSS, which an
    application without asyncio should not pay."""
    if name == "aio":
        import importlib
        return importlib.import_module(".aio", __name__)
    raise AttributeError(f"module 'sipcore' has no attribute {name!r}")


__all__ = [
    "Engine", "EngineOptions", "send_message", "SIPURI", "Credentials", "Route",
    "Registration", "Publication", "Subscription", "Invitation",
    "SDPSession", "SDPMedia", "SDPConnection", "SDPAttribute",
    "WaveFile", "RecordingWaveFile",
    "RTPTransport", "AudioTransport",
    "SIPCoreError", "PJSIPError", "InvalidStateError", "EngineNotRunningError",
    "MessagePendingError",
    "signals", "Notification", "NotificationFailed", "NotificationRecorder", "wait_for", "aio",
    "PJSIP_VERSION", "__version__",
]
