"""PeerProcess when sipcore is on sys.path but not installed (a checkout, a notebook that
adds ``src`` to sys.path): the child ``python -m sipcore peer`` must find the same package."""
from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import sipcore

SRC = Path(sipcore.__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import sys
    sys.path.insert(0, {src!r})
    from sipcore.peer import PeerProcess
    with PeerProcess("--user", "bob") as peer:
        print("READY", peer.ready["udp"] > 0, peer.exceptions)
''')


def test_peer_process_with_sipcore_on_sys_path_only(tmp_path):
    # a venv of its own that sees our dependencies (cffi, blinker) but not sipcore: a plain
    # path line in a .pth file adds a folder without running that folder's .pth files
    # (sipcore's editable-install hook is one of them)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    Path(site.stdout.strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    alone = subprocess.run([str(python), "-c", "import sipcore"], capture_output=True, text=True)
    assert alone.returncode != 0 and "No module named 'sipcore'" in alone.stderr
    deps = subprocess.run([str(python), "-c", "import cffi, blinker"], capture_output=True)
    assert deps.returncode == 0

    r = subprocess.run([str(python), "-c", SCRIPT.format(src=str(SRC))], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "READY True []" in r.stdout
