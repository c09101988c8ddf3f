"""Types for the users' own code: sipcore ships py.typed, and ``Engine.start``'s options are a
TypedDict (``EngineOptions``, through ``Unpack``), so that mypy checks option names and
value types where the application calls start() (issue #13: "Engine.start options typed")."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from sipcore import EngineOptions
from sipcore._options import DEFAULT_START_OPTIONS


def test_engine_options_names_every_start_option() -> None:
    # one key per option start() accepts (the table in _options), none of them required
    assert set(EngineOptions.__annotations__) == set(DEFAULT_START_OPTIONS)
    assert EngineOptions.__total__ is False


def test_mypy_checks_start_options_in_user_code(tmp_path) -> None:
    user = tmp_path / "user_code.py"
    user.write_text(textwrap.dedent("""\
        from sipcore import Engine, EngineOptions

        Engine().start(local_udp_port=0, trace_sip=True, message_answer="receiver",
                       codecs=["PCMU"], rtp_port_range=(50000, 50100))
        Engine().start(local_udp_prot=5060)
        Engine().start(trace_sip="yes")
        Engine().start(sample_rate=44)
        options: EngineOptions = {"local_tcp_port": None, "poll_spin_us": 0}
        Engine().start(**options)
        bad: EngineOptions = {"log_levle": 3}
        """))
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
         "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", str(user)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    # lines 3, 8 and 9 (every option right) are clean; lines 5-7 and 10 get their error each
    assert [e.split(":")[1] for e in errors] == ["5", "6", "7", "10"], proc.stdout + proc.stderr
    assert 'Unexpected keyword argument "local_udp_prot"' in errors[0]
    assert '"trace_sip"' in errors[1] and 'expected "bool"' in errors[1]
    assert '"sample_rate"' in errors[2] and "Literal[8, 16, 32]" in errors[2]
    assert '"log_levle"' in errors[3] and '"EngineOptions"' in errors[3]
