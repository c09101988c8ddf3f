"""sipcore: the SIP core of a softphone for Python, over PJSIP/PJMEDIA through cffi.

The public names are those of the SIP core API (see the README and ``docs/``)::

    from sipcore import Engine, SIPURI, Credentials, Route, send_message
"""
from ._version import __version__

from .errors import (EngineNotRunningError, InvalidStateError, MessagePendingError,  # noqa: E402
                     PJSIPError, SIPCoreError)
from .uri import SIPURI  # noqa: E402
from .credentials import Credentials  # noqa: E402
from .route import Route  # noqa: E402
from .engine import Engine  # noqa: E402
from .primitives.message import send_message  # noqa: E402
from .primitives.registration import Registration  # noqa: E402
from .primitives.publication import Publication  # noqa: E402
from .primitives.subscription import Subscription  # noqa: E402
from .primitives.invitation import Invitation  # noqa: E402
from .sdp import SDPAttribute, SDPConnection, SDPMedia, SDPSession  # noqa: E402
from .media.wave import RecordingWaveFile, WaveFile  # noqa: E402  (m-bridge)
from .media import AudioTransport, RTPTransport  # noqa: E402  (media: m-stream)
from .signals import Notification, NotificationRecorder, wait_for  # noqa: E402
from . import aio  # noqa: E402,F401  (asyncio: await notifications and operations)
from . import signals  # noqa: E402
from ._pj import PJSIP_VERSION  # noqa: E402
from . import _callbacks  # noqa: E402,F401  (every trampoline: defined before an Engine starts)

__all__ = [
    "Engine", "send_message", "SIPURI", "Credentials", "Route",
    "Registration", "Publication", "Subscription", "Invitation",
    "SDPSession", "SDPMedia", "SDPConnection", "SDPAttribute",
    "WaveFile", "RecordingWaveFile",
    "RTPTransport", "AudioTransport",
    "SIPCoreError", "PJSIPError", "InvalidStateError", "EngineNotRunningError",
    "MessagePendingError",
    "signals", "Notification", "NotificationRecorder", "wait_for", "aio",
    "PJSIP_VERSION", "__version__",
]
