"""examples/explore.ipynb, executed headless with nbclient in an IPython kernel running this
venv's python: register at kamailio, call a second sipcore process, MESSAGE both ways, hang
up, unregister (every step an ``await`` in Jupyter's own running loop), then the ladder as SVG
and as a pcap read back; every cell runs without error and shows what it should."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "explore.ipynb"


def outputs(cell) -> tuple[str, dict]:
    """The cell's printed text and its last rich output's data."""
    text, data = "", {}
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            text += out.text
        elif out.output_type in ("execute_result", "display_data"):
            data = out.data
        elif out.output_type == "error":
            raise AssertionError(f"{out.ename}: {out.evalue}")
    return text, data


def test_explore_notebook_runs_headless(tmp_path):
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "the notebook is kept without outputs (tools/make_explore_notebook.py)"
    work = tmp_path / "examples"       # the notebook's own folder: it finds ../tests from it
    work.mkdir()
    os.symlink(ROOT / "tests", tmp_path / "tests")
    client = NotebookClient(nb, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    by_source = {c.source.split("\n", 1)[0]: c for c in code}

    def cell(first_line: str) -> tuple[str, dict]:
        return outputs(by_source[first_line])

    for c in code:
        outputs(c)                                              # no cell failed
    assert cell("import sys")[0].strip() == sys.executable      # the venv's python
    assert "registered for 300 s" in cell('alice = Credentials(SIPURI("127.0.0.1", '
                                          'user="alice"), "secret")')[0]
    reg_html = cell('alice = Credentials(SIPURI("127.0.0.1", user="alice"), "secret")')[1]
    assert "registering -&gt; registered" in reg_html["text/html"]
    call_data = cell("from sipcore import SDPAttribute, SDPConnection, SDPMedia, SDPSession")[1]
    assert "CONFIRMED" in call_data["text/plain"]
    assert "m=audio" in cell("call.get_active_remote_sdp()     # bob's answer")[1]["text/html"]
    text = cell('code, reason = await aio.send_message(alice, bob_uri, "text/plain", '
                '"Hello bob",')[0]
    assert "bob answered 200 OK" in text and "Hello alice" in text
    assert "DISCONNECTED" in cell("await aio.hang_up(call, timeout=10)")[1]["text/plain"]
    ladder = cell("ladder.stop()")[1]
    assert "image/svg+xml" in ladder
    svg = ladder["image/svg+xml"]
    for label in ("REGISTER sip:127.0.0.1 SIP/2.0", "INVITE sip:bob@", "MESSAGE sip:bob@",
                  "BYE sip:", "SIP/2.0 401 Unauthorized", "kamailio", "bob"):
        assert label in svg, label
    back = cell('ladder.save_pcap("explore.pcap")')[1]["image/svg+xml"]
    assert back.count("<line") == svg.count("<line")           # the same arrows, from the file
    assert (work / "explore.pcap").stat().st_size > 1000
    rec = cell("recorder.stop()")[1]["text/html"]
    assert "SIPInvitationChangedState" in rec and "SIPEngineGotMessage" in rec
