"""Hostile .wav files given to WaveFile: a clean error or playback, never a crash.

pjproject 2.12 aborts the process (pj_assert) on files its wav player half-checks; each case
below crashed sipcore before glue_bridge.c's check_wave_header refused it.  The hypothesis test
writes headers mostly valid with one or two fields broken and plays what is accepted into a
running bridge: a crash ends the test run (a failure, whatever the assertion)."""
from __future__ import annotations

import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcore import WaveFile, _ua


def wav(tag=1, ch=1, rate=8000, bits=16, align=None, data=b"\0" * 3200, fmt_extra=b"",
        fmt_len=None, data_len=None, riff_len=None, before_data=b"", cut=None) -> bytes:
    align = ch * bits // 8 if align is None else align
    fmt = struct.pack("<HHIIHH", tag, ch & 0xFFFF, rate & 0xFFFFFFFF,
                      rate * align & 0xFFFFFFFF, align & 0xFFFF, bits & 0xFFFF) + fmt_extra
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt) if fmt_len is None else fmt_len)
            + fmt + before_data + b"data"
            + struct.pack("<I", len(data) if data_len is None else data_len) + data)
    raw = b"RIFF" + struct.pack("<I", len(body) if riff_len is None else riff_len) + body
    return raw if cut is None else raw[:cut]


CRASHED_BEFORE = {
    "rate 11025 (not a multiple of 50 Hz: the bridge's read_port asserts)": wav(rate=11025, data=b"\0" * 22050),
    "no channels (pjmedia_port_info_init asserts)": wav(ch=0, align=2),
    "sample rate 0 (pjmedia_port_info_init asserts)": wav(rate=0),
    "u-law, data shorter than a 16-bit frame (get_frame asserts)": wav(tag=7, bits=8, data=b"\xff" * 200),
    "u-law, data length beyond the file (cut to the file: as above)": wav(tag=7, bits=8, rate=8050, data=b"\xff" * 320, data_len=2**31),
    "A-law at 150 kHz (the frame is larger than the player's buffer)": wav(tag=6, bits=8, rate=150000, data=b"\xd5" * 100000),
}


@pytest.fixture
def engine(engine_factory):
    return engine_factory(local_tcp_port=None)


@pytest.mark.parametrize("name", sorted(CRASHED_BEFORE))
def test_files_that_crashed_pjmedia_are_refused(engine, tmp_path, name):
    path = tmp_path / "x.wav"
    path.write_bytes(CRASHED_BEFORE[name])
    w = WaveFile(str(path))
    with pytest.raises(ValueError, match="file_name.*x.wav.*not a WAV file WaveFile can play"):
        w.start()
    time.sleep(0.1)                 # a port that got through would assert on the clock thread
    assert not w.is_active and not _ua.current.media_objects


def _maybe(draw, valid, bad):
    return draw(st.sampled_from(bad)) if draw(st.integers(0, 5)) == 0 else valid


@st.composite
def headers(draw):
    tag = _maybe(draw, draw(st.sampled_from([1, 6, 7])), [0, 2, 3, 0xFFFE])
    bits = _maybe(draw, 16 if tag == 1 else 8, [0, 8, 16, 24, 0xFFFF])
    ch = _maybe(draw, 1, [0, 2, 0xFFFF])
    rate = _maybe(draw, draw(st.sampled_from([8000, 8050, 16000, 48000, 96000])),
                  [0, 1, 50, 11025, 100000, 150000, 2**32 - 1])
    n = draw(st.sampled_from([0, 1, 2, 159, 160, 161, 320, 321, 1601, 1921, 3841, 8001]))
    kwargs = dict(tag=tag, bits=bits, ch=ch, rate=rate, data=bytes(draw(st.binary(min_size=n, max_size=n))))
    kwargs["align"] = _maybe(draw, None, [0, 1, 2, 4])
    kwargs["fmt_extra"] = _maybe(draw, b"", [b"\0\0", b"\x16\0" + b"x" * 22, b"xyz"])
    kwargs["fmt_len"] = _maybe(draw, None, [0, 14, 15, 17, 100, 2**31])
    kwargs["data_len"] = _maybe(draw, None, [0, 1, 2**31, 2**32 - 1, n + 100, max(0, n - 1)])
    kwargs["riff_len"] = _maybe(draw, None, [0, 4, 2**32 - 1])
    kwargs["before_data"] = _maybe(draw, b"", [b"LIST\x04\0\0\0abcd", b"fact\x04\0\0\0\0\0\0\0",
                                               b"LIST\xff\xff\xff\x7f"])
    raw = wav(**kwargs)
    return raw[:draw(st.integers(0, len(raw)))] if draw(st.integers(0, 9)) == 0 else raw


@settings(max_examples=250, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=headers(), loops=st.sampled_from([1, 2, 0]))
def test_any_header_is_refused_cleanly_or_plays(engine, tmp_path, raw, loops):
    path = tmp_path / "h.wav"
    path.write_bytes(raw)
    w = WaveFile(str(path))
    try:
        w.start(loop_count=loops)
    except ValueError as exc:
        assert "h.wav" in str(exc)
        return
    time.sleep(0.06)                # a few frames on the clock thread, a loop for short files
    w.stop()
    assert not w.is_active
