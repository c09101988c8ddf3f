"""The sdist is complete: built from this tree, installed with plain pip into a new virtual
environment (outside the source tree, pjproject found by pkg-config or build_pjsip.py's cache),
it gives a sipcore that imports, starts an Engine, and ships its licence, ``py.typed`` and the
stub of its cffi module (``_pjsip.pyi``: the types mypy gives ``ffi`` and ``lib``)."""
import glob
import os
import subprocess
import sys
import tarfile
import textwrap

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

CHECK = textwrap.dedent("""
    import importlib.metadata as md, os, sipcore
    from sipcore import Engine
    assert "site-packages" in sipcore.__file__, sipcore.__file__
    assert os.path.exists(os.path.join(os.path.dirname(sipcore.__file__), "py.typed"))
    assert os.path.exists(os.path.join(os.path.dirname(sipcore.__file__), "_pjsip.pyi"))
    dist = md.distribution("sipcore")
    assert dist.metadata["License-Expression"] == "GPL-2.0-or-later", dist.metadata["License-Expression"]
    assert any(str(f).endswith("LICENSE") for f in dist.files)
    e = Engine()
    e.start(local_udp_port=0, local_tcp_port=None, local_tls_port=None, auto_sound=False)
    try:
        assert e.is_running and e.local_udp_port > 0
        assert str(e.parse_sip_uri("sip:alice@127.0.0.1:5060")) == "sip:alice@127.0.0.1:5060"
    finally:
        e.stop()
    print("OK", sipcore.__version__, sipcore.PJSIP_VERSION)
""")


@pytest.mark.timeout(600)
def test_sdist_builds_a_working_wheel_in_a_new_venv(tmp_path):
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--sdist", "-o", str(out), ROOT],
                   check=True, capture_output=True, text=True)
    (sdist,) = glob.glob(str(out / "sipcore-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in ("LICENSE", "build_pjsip.py", "src/sipcore/_cdefs/sipcore.h",
                   "src/sipcore/_cdefs/glue.c", "src/sipcore/_cdefs/decl/pjsip.h",
                   "src/sipcore/py.typed", "src/sipcore/_pjsip.pyi", "docs/architecture.md"):
        assert needed in names, f"{needed} missing from the sdist"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    r = subprocess.run([py, "-m", "pip", "install", "-q", sdist], capture_output=True, text=True,
                       cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = subprocess.run([py, "-c", CHECK], capture_output=True, text=True, cwd=str(tmp_path),
                       timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("OK 0."), r.stdout + r.stderr
