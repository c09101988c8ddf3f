"""sipcore.media.tones: the measure the audio tests rely on must tell tones apart."""
import pytest

from sipcore.media import tones


def test_a_tone_measures_loud_at_its_frequency_and_quiet_elsewhere(tmp_path):
    p = tones.write_tone(str(tmp_path / "a.wav"), 440, seconds=1.0, sample_rate=8000,
                         amplitude=0.5)
    lv = tones.levels(p, [440, 700, 1000, 2000])
    assert -8 < lv[440] < -4          # half scale: -6 dBFS
    assert all(lv[f] < lv[440] - 40 for f in (700, 1000, 2000))


def test_two_tones_each_measure_and_silence_is_the_floor(tmp_path):
    p = tones.write_tone(str(tmp_path / "b.wav"), [500, 1500], seconds=0.5, sample_rate=16000,
                         amplitude=0.8, silence_before=0.5)
    quiet = tones.levels(p, [500, 1500], end=0.5)
    loud = tones.levels(p, [500, 1500, 1000], start=0.5)
    assert quiet == {500: tones.FLOOR_DB, 1500: tones.FLOOR_DB}
    assert loud[500] > -16 and loud[1500] > -16 and loud[1000] < loud[500] - 40


def test_onset_finds_where_the_tone_starts(tmp_path):
    p = tones.write_tone(str(tmp_path / "c.wav"), 1000, seconds=0.5, sample_rate=8000,
                         silence_before=0.3)
    assert tones.onset(p, 1000) == pytest.approx(0.3, abs=0.021)
    assert tones.onset(p, 3000) is None


@pytest.mark.parametrize("kwargs, word", [({"frequency": 0}, "frequency"),
                                          ({"frequency": 5000}, "frequency"),
                                          ({"frequency": 440, "amplitude": 2}, "amplitude"),
                                          ({"frequency": 440, "seconds": 0}, "seconds")])
def test_bad_arguments_name_themselves(tmp_path, kwargs, word):
    with pytest.raises(ValueError, match=word):
        tones.write_tone(str(tmp_path / "d.wav"), sample_rate=8000, **kwargs)
