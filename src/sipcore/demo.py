"""``make demo`` / ``python -m sipcore demo``: sipcore talks to a second sipcore process.

The child endpoint (``python -m sipcore peer --echo ...``) runs on loopback; this process
sends it MESSAGEs over UDP and TCP, the child echoes each one back, and the SIP trace of
this side is printed as a ladder.  No outside server is needed.
"""
from __future__ import annotations

import argparse
import time

from . import SIPURI, Credentials, Engine, NotificationRecorder, Route, send_message
from .ladder import Ladder
from .peer import PeerProcess


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="sipcore demo", description="MESSAGEs with a second "
                                 "sipcore process, printed as a SIP ladder.")
    ap.add_argument("--ip", default="127.0.0.1", help="loopback address to use (127.0.0.1 or ::1)")
    ap.add_argument("--count", type=int, default=2, help="MESSAGEs per transport")
    args = ap.parse_args(argv)
    ip = args.ip

    engine = Engine()
    engine.start(local_ip=ip, local_udp_port=0, local_tcp_port=0, local_tls_port=None,
                 trace_sip=True, log_level=0)
    me = f"{'[' + ip + ']' if ':' in ip else ip}:{engine.local_udp_port}"
    print(f"sipcore {engine.user_agent}: this endpoint is alice at {me} (UDP) "
          f"and port {engine.local_tcp_port} (TCP)")
    try:
        with PeerProcess("--ip", ip, "--user", "bob",
                         "--echo", f"{ip}:{engine.local_udp_port}:udp") as peer:
            print(f"second sipcore process (pid {peer.ready['pid']}): bob at UDP port "
                  f"{peer.ready['udp']}, TCP port {peer.ready['tcp']}\n")
            alice = Credentials(SIPURI(ip, user="alice", port=engine.local_udp_port))
            ladder = Ladder(names={me: "alice (this process)"})
            with ladder, NotificationRecorder() as rec:
                for transport in ("udp", "tcp"):
                    port = peer.ready[transport]
                    host = f"[{ip}]" if ":" in ip else ip
                    ladder.names[f"{host}:{port}"] = f"bob ({transport})"
                    for i in range(args.count):
                        bob = SIPURI(ip, user="bob", port=port)
                        t0 = time.perf_counter()
                        text = f"hello #{i + 1} over {transport.upper()}"
                        send_message(alice, bob, "text/plain", text, Route(ip, port, transport))
                        resp = rec.wait_for("SIPEngineGotMessageResponse", timeout=10)
                        echo = rec.wait_for("SIPEngineGotMessage", timeout=10)
                        ms = (time.perf_counter() - t0) * 1000
                        print(f"  alice -> bob  {text!r}: {resp.data.code} {resp.data.reason};"
                              f" bob -> alice {echo.data.body.decode()!r}  ({ms:.1f} ms)")
            print("\nSIP ladder, as traced by this process (SIPEngineSIPTrace):\n")
            print(ladder.render())
    finally:
        engine.stop()
    return 0
