"""Writes examples/explore.ipynb (the cells below), without outputs.  Run it after editing a
cell here: ``.venv/bin/python tools/make_explore_notebook.py``; tests/interop/test_notebook.py
executes the notebook headless."""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    ("md", """# Exploring SIP with sipcore

This notebook registers at a registrar (kamailio), calls a second SIP endpoint, exchanges
MESSAGEs, hangs up, and then looks at what went over the wire: as a ladder drawn in the
notebook, and as a pcap file for Wireshark, tshark or sngrep.

It uses `await` (`sipcore.aio`): Jupyter runs each cell in its own asyncio loop, and sipcore
delivers the notifications an `await` waits for into that loop. Every object shows itself as
HTML: its state and its recent transitions."""),
    ("code", """import sys
print(sys.executable)   # the kernel's python: the one sipcore is installed in"""),
    ("md", """## The peers

A registrar: kamailio on a free loopback port, with the users alice and bob, started by
sipcore's own test helpers (`tests/peers`, in the source tree). With a registrar of your
own, set `REGISTRAR = ("host", port)` and the password instead.

A second endpoint: another sipcore in a child process (`python -m sipcore peer`), user bob,
answering calls by itself."""),
    ("code", """import atexit
from pathlib import Path

sys.path.insert(0, str(Path.cwd().parent / "tests"))
from peers.kamailio import Kamailio

kamailio = Kamailio().start()
atexit.register(kamailio.stop)
kamailio.add_user("alice", "secret")
REGISTRAR = ("127.0.0.1", kamailio.port)

from sipcore.peer import PeerProcess
bob = PeerProcess("--ip", "127.0.0.1", "--user", "bob", "--answer", "auto").start()
atexit.register(bob.stop)
REGISTRAR, bob.ready["udp"]"""),
    ("md", """## Start the Engine

`trace_sip=True` makes the Engine report every SIP message it sends or receives
(`SIPEngineSIPTrace`); the ladder below draws them. Running this cell again with the same
options does nothing; with other options it says to `stop()` first."""),
    ("code", """from sipcore import (Credentials, Engine, Invitation, NotificationRecorder, Registration,
                     Route, SIPURI, aio)
from sipcore.ladder import Ladder

engine = Engine()
engine.start(local_ip="127.0.0.1", trace_sip=True, log_level=0)
engine.start(local_ip="127.0.0.1", trace_sip=True, log_level=0)    # again: a no-op
ladder = Ladder(names={f"127.0.0.1:{REGISTRAR[1]}": "kamailio",
                       f"127.0.0.1:{bob.ready['udp']}": "bob"}).start()
recorder = NotificationRecorder().start()
engine"""),
    ("md", "## Register"),
    ("code", """alice = Credentials(SIPURI("127.0.0.1", user="alice"), "secret")
registration = Registration(alice, Route(*REGISTRAR), expires=300)
n = await aio.register(registration, timeout=10)
print("registered for", n.data.expires, "s, bindings:", n.data.contact_uri_list)
registration"""),
    ("md", """## Call bob

`aio.call` sends the INVITE and returns when the call is up (`CONFIRMED`); a refusal raises
`aio.OperationFailed` with the response's code at once."""),
    ("code", """from sipcore import SDPAttribute, SDPConnection, SDPMedia, SDPSession

bob_uri = SIPURI("127.0.0.1", user="bob", port=bob.ready["udp"])
bob_route = Route("127.0.0.1", bob.ready["udp"])
call = Invitation(alice, bob_uri, bob_route)
call.set_offered_local_sdp(SDPSession("127.0.0.1", connection=SDPConnection("127.0.0.1"),
    media=[SDPMedia("audio", 40000, "RTP/AVP", formats=["0"],
                    attributes=[SDPAttribute("rtpmap", "0 PCMU/8000")])]))
await aio.call(call, timeout=10)
call"""),
    ("code", """call.get_active_remote_sdp()     # bob's answer"""),
    ("md", "## MESSAGE, both ways"),
    ("code", """code, reason = await aio.send_message(alice, bob_uri, "text/plain", "Hello bob",
                                     bob_route, timeout=5)
print("bob answered", code, reason)
me = engine.local_udp_port
got = await aio.wait_for("SIPEngineGotMessage", timeout=10,
                         action=lambda: bob.send(f"sip:alice@127.0.0.1:{me}", "Hello alice",
                                                 ("127.0.0.1", me, "udp")))
print("from", got.data.from_uri, ":", got.data.body.decode())"""),
    ("md", "## Hang up and unregister"),
    ("code", """await aio.hang_up(call, timeout=10)
await aio.unregister(registration, timeout=10)
call"""),
    ("md", """## What went over the wire

The ladder draws itself (SVG); hover an arrow for the whole message. `print(ladder)` gives
the same as text."""),
    ("code", """ladder.stop()
ladder"""),
    ("md", """Saved as a pcap file, Wireshark, tshark and sngrep open it as SIP, with the real
addresses, ports and times; and a capture reads back into a ladder."""),
    ("code", """ladder.save_pcap("explore.pcap")
Ladder.from_pcap("explore.pcap", names=ladder.names)"""),
    ("md", "Every notification, with its state and code:"),
    ("code", """recorder.stop()
recorder"""),
    ("code", """engine.stop()
bob.stop()
kamailio.stop()"""),
]


def build() -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                             for kind, src in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


if __name__ == "__main__":
    path = Path(__file__).resolve().parents[1] / "examples" / "explore.ipynb"
    nb = build()
    for i, cell in enumerate(nb.cells):       # stable ids: no churn in the diff
        cell["id"] = f"cell-{i:02d}"
    nbformat.write(nb, str(path))
    print("wrote", path)
