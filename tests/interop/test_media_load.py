"""The short form of ``benchmarks/media_load.py`` (issue #12, "Performance"): two sipcore
processes, 3 simultaneous PCMU calls with audio both ways for about 3 s, each call's stream fed
by its own WaveFile and recorded alone (the pairwise connections on the bridge).  A functional
check, no timing targets (those are the benchmark's): every stream received RTP, none lost a
packet on loopback, and each side's probe recording holds the other side's tone, well above
its own.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import media_load  # noqa: E402
from sipcore.media import tones  # noqa: E402

N = 3


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("media-load")
    return media_load.run_pair("sipcore", N, 3.0, str(tmp), probes=N, base_port=46000)


def test_every_call_carries_rtp_both_ways_without_loss(run):
    for role in ("caller", "callee"):
        res = run[role]
        assert res["failures"] == []
        assert res["calls"] == N
        stats = res["stats"]
        assert len(stats) == N and all(stats), role
        for s, before in zip(stats, res["rx_mark"]):
            # 20 ms PCMU: 50 packets a second; 3 s measured (the machine is shared: >= 60%)
            assert s["rx_packets"] - before >= 0.6 * 50 * res["wall_s"], (role, s)
            assert s["tx_packets"] > 0
            assert s["rx_lost"] == 0, (role, s)


def test_each_side_hears_the_other_tone_alone_on_each_call(run):
    # caller plays 440 Hz into each call, callee 1000 Hz; each probe records one call's stream
    for role, hear, own in (("callee", media_load.TONE_CALLER, media_load.TONE_CALLEE),
                            ("caller", media_load.TONE_CALLEE, media_load.TONE_CALLER)):
        probes = run[role]["probes"]
        assert len(probes) == N
        for probe in probes:
            lv = tones.levels(probe["file"], [hear, own], start=0.2)
            assert lv[hear] - lv[own] >= 10, (role, probe["file"], lv)
            assert media_load.rising_edge(probe["file"], hear) is not None


def test_summary_reports_the_figures(run):
    s = media_load.summary(run, N)
    assert s["lost"] == 0
    assert s["streams"] == 2 * N
    assert len(s["delay_ms"]) == 2 * N       # every probe found the tone's onset
    assert all(-100 < d < 1000 * media_load.PERIOD - 100 for d in s["delay_ms"])
    # the poll thread was found among the process's threads; its share may round to 0
    # (CPU is counted in 10 ms ticks), but it is never the process's whole time
    for role in ("caller", "callee"):
        assert run[role]["poll_thread"].startswith("poll/")
        assert run[role]["poll_thread"] in run[role]["threads"]
    assert 0 <= s["poll_share"] < 0.5
