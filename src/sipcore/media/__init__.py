"""Media: RTPTransport and AudioTransport (rtp.py, audio.py), WaveFile and RecordingWaveFile
(wave.py), the audio bridge the Engine owns (_bridge.py), SDP flat-form helpers (_sdp.py) and
test tones with level measurement (tones.py).  docs/media.md is the guide."""
from .audio import AudioTransport  # noqa: F401
from .rtp import RTPTransport  # noqa: F401

__all__ = ["RTPTransport", "AudioTransport"]
