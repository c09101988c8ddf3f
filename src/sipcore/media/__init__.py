"""RTPTransport, AudioTransport, WaveFile, RecordingWaveFile: the media roadmap (not yet built)."""
