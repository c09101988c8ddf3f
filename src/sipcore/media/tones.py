"""Test tones: write a sine tone as a WAV file, and measure how loud given frequencies are in a
recording.  Pure Python (no numpy), for tests, notebooks and ``sipcore demo``.

Audio through a SIP call is proven on the recordings: each side plays its own tone, and the
other side's recording must hold that tone well above other frequencies::

    from sipcore.media import tones
    tones.write_tone("alice.wav", 440, seconds=3, sample_rate=16000)
    ...  # play alice.wav into the call, record bob's side as bob-heard.wav
    levels = tones.levels("bob-heard.wav", [440, 1000], start=0.5)
    assert levels[440] - levels[1000] >= 10

Levels are in dB relative to a full-scale sine (dBFS): a full-scale sine at the frequency
measures 0 dB, silence about -120 dB.  The measure is the Goertzel algorithm (one DFT bin) over
a Hann window, so a tone leaks little into bins a few hundred Hz away.
"""
from __future__ import annotations

import math
import sys
import wave
from array import array
from collections.abc import Iterable, Sequence

__all__ = ["write_tone", "read_wav", "level", "levels", "onset"]

#: what silence measures (no sample energy at all)
FLOOR_DB = -120.0


def check_frequency(name: str, value: float, sample_rate: int) -> None:
    """ValueError naming ``name`` unless ``0 < value < sample_rate / 2`` (a tone must be below
    the Nyquist frequency of the file or stream it is written for)."""
    if not 0 < value < sample_rate / 2:
        raise ValueError(f"{name} must be above 0 and below {sample_rate // 2} Hz, not {value}")


def write_tone(path: str, frequency: float | Sequence[float], seconds: float = 1.0,
               sample_rate: int = 8000, amplitude: float = 0.5,
               silence_before: float = 0.0) -> str:
    """Write a 16-bit mono PCM WAV holding a sine of ``frequency`` Hz (or the sum of several,
    each at ``amplitude / len``) for ``seconds``, after ``silence_before`` seconds of silence.
    ``amplitude`` is a fraction of full scale (0 < amplitude <= 1).  Returns ``path``."""
    freqs = ([float(frequency)] if isinstance(frequency, (int, float))
             else [float(f) for f in frequency])
    if not freqs:
        raise ValueError("frequency must be at least one number (Hz), not none")
    for f in freqs:
        check_frequency("frequency", f, sample_rate)
    if not 0 < amplitude <= 1:
        raise ValueError(f"amplitude must be in (0, 1], not {amplitude}")
    if seconds <= 0 or silence_before < 0:
        raise ValueError("seconds must be > 0 and silence_before >= 0")
    peak = 32767 * amplitude / len(freqs)
    steps = [2 * math.pi * f / sample_rate for f in freqs]
    samples = array("h", bytes(2 * int(silence_before * sample_rate)))
    samples.extend(int(round(sum(peak * math.sin(s * i) for s in steps)))
                   for i in range(int(seconds * sample_rate)))
    if sys.byteorder != "little":
        samples.byteswap()
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(samples.tobytes())
    return path


def read_wav(path: str) -> tuple[array[int], int]:
    """The samples (16-bit, first channel) and sample rate of a 16-bit PCM WAV file."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: {8 * w.getsampwidth()}-bit samples; only 16-bit PCM is read")
        channels, rate = w.getnchannels(), w.getframerate()
        data = w.readframes(w.getnframes())
    samples = array("h", data)
    if sys.byteorder != "little":
        samples.byteswap()
    if channels > 1:
        samples = samples[::channels]
    return samples, rate


def level(samples: Sequence[int], sample_rate: int, frequency: float) -> float:
    """How loud ``frequency`` is in ``samples``, in dBFS (see the module's docstring)."""
    n = len(samples)
    if n < 2:
        return FLOOR_DB
    coeff = 2 * math.cos(2 * math.pi * frequency / sample_rate)
    w = 2 * math.pi / (n - 1)
    s1 = s2 = 0.0
    for i, x in enumerate(samples):
        s0 = x * (0.5 - 0.5 * math.cos(w * i)) + coeff * s1 - s2
        s2, s1 = s1, s0
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    # a full-scale sine through a Hann window: amplitude 32767 * n / 4 in the bin
    ref = 32767 * n / 4
    return max(FLOOR_DB, 10 * math.log10(power / (ref * ref))) if power > 0 else FLOOR_DB


def levels(path: str, frequencies: Iterable[float], start: float = 0.0,
           end: float | None = None) -> dict[float, float]:
    """``{frequency: dBFS}`` for each frequency, measured on the part of the WAV file between
    ``start`` and ``end`` seconds (``end=None``: to the end)."""
    samples, rate = read_wav(path)
    a = int(start * rate)
    b = len(samples) if end is None else min(len(samples), int(end * rate))
    part = samples[a:b]
    return {f: level(part, rate, f) for f in frequencies}


def onset(path: str, frequency: float, threshold_db: float = -40.0,
          window: float = 0.02) -> float | None:
    """The time in seconds of the first ``window``-long block of the file in which
    ``frequency`` is at least ``threshold_db`` loud (None: never) — for delay measurements."""
    samples, rate = read_wav(path)
    step = max(2, int(window * rate))
    for a in range(0, len(samples) - step + 1, step):
        if level(samples[a:a + step], rate, frequency) >= threshold_db:
            return a / rate
    return None
