"""Self-tests of the media peers: coturn as a STUN server (with the second address and
alternate port NAT-type detection needs), the black-hole STUN address, and baresip's media
options proven by a baresip <-> baresip call whose recordings are measured.

Run:  .venv/bin/python -m pytest -q tests/peers/test_peers_media.py
(imports ``sipcore.media.tones``, pure Python, for the measure).  A peer that is not installed
is a failure, never a skip.
"""
from __future__ import annotations

import socket
import time

import pytest

from .coturn import BlackHole, Coturn, stun_binding


@pytest.fixture
def coturn(tmp_path):
    with Coturn(workdir=tmp_path / "coturn") as c:
        yield c


def test_coturn_answers_binding_and_change_request(coturn):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    me = s.getsockname()
    try:
        # plain Binding: answered from the primary address, XOR-MAPPED-ADDRESS is us
        assert stun_binding(coturn.host, coturn.port, sock=s) == (me, (coturn.host, coturn.port))
        # CHANGE-REQUEST (what pj_stun_detect_nat_type sends): answered from the other
        # address and/or port -- needs the second listening address and alt port
        assert stun_binding(coturn.host, coturn.port, sock=s, change_ip=True,
                            change_port=True) == (me, (coturn.alt_host, coturn.alt_port))
        assert stun_binding(coturn.host, coturn.port, sock=s,
                            change_port=True) == (me, (coturn.host, coturn.alt_port))
    finally:
        s.close()


def test_coturn_stops_and_frees_its_ports(tmp_path):
    c = Coturn(workdir=tmp_path / "c")
    with c:
        pid = c.proc.pid
        assert stun_binding(c.host, c.port) is not None
    assert c.proc is None
    assert stun_binding(c.host, c.port, 0.3) is None
    with pytest.raises(ProcessLookupError):
        import os
        os.kill(pid, 0)


def test_black_hole_reads_and_never_answers():
    with BlackHole() as hole:
        t0 = time.monotonic()
        assert stun_binding(hole.host, hole.port, 0.5) is None
        assert time.monotonic() - t0 >= 0.5
        deadline = time.monotonic() + 2
        while hole.received() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hole.received() == 1
