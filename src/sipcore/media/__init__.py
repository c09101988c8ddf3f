"""Media: RTPTransport and AudioTransport (rtp.py, audio.py); test tones (tones.py).
WaveFile, RecordingWaveFile and the audio bridge come on another branch (issue #12)."""
from .audio import AudioTransport  # noqa: F401
from .rtp import RTPTransport  # noqa: F401

__all__ = ["RTPTransport", "AudioTransport"]
