"""Instructions per MESSAGE round trip, per process, counted by callgrind.

Wall-clock rates on these shared 2-core VMs swing up to 2x from one minute to the next;
instruction counts do not (the same binary, inputs and environment give the same total).  This
is the method the refactors are judged by (issue #11: "callgrind instructions per MESSAGE round
trip, both processes, within 3%").

Each process of ``message_rate.py``'s sipcore pair (receiver and sender, ``_sipcore_peer.py``,
UDP on 127.0.0.1, ``--outstanding`` MESSAGEs in flight, ``poll_spin_us=0`` so that the spin
loop's idle looks are not counted) runs under ``valgrind --tool=callgrind``, once with
``--small`` and once with ``--large`` messages.  The difference of the two totals divided by
the difference of the counts is the cost of one more MESSAGE, without start-up and shut-down:

    .venv/bin/python benchmarks/callgrind_message.py [--small 500] [--large 2500]
        [--outstanding 50] [--repeat 1] [--send-from receiver|thread]

``--send-from thread`` (issue #13): the sender's main thread sends each request and waits for
the slot the response receiver frees (``_sipcore_peer.py --send-from thread``): the hand-off
between the application thread and the poll thread is counted, without the spin's noise.

Prints one line per process: instructions per message (and the two totals).  Needs valgrind.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _pjsua2_run import free_udp_port, run_receiver_and_sender  # noqa: E402

PEER = Path(__file__).resolve().parent / "_sipcore_peer.py"


def totals(count: int, outstanding: int, tmp: Path,
           send_from: str = "receiver") -> dict[str, int]:
    """Run the pair once under callgrind; total instructions of each process."""
    files = {role: tmp / f"{role}.{count}.out" for role in ("receiver", "sender")}

    def cmd(role: str) -> list[str]:
        return ["valgrind", "--tool=callgrind", "--quiet",
                f"--callgrind-out-file={files[role]}", sys.executable, str(PEER),
                "--ip", "127.0.0.1", "--poll-spin-us", "0", "--role", role]

    port = free_udp_port("127.0.0.1")
    result = run_receiver_and_sender(
        "sipcore", cmd("receiver") + ["--port", str(port)],
        lambda ready: cmd("sender") + ["--port", "0", "--peer-port", str(ready["port"]),
                                       "--count", str(count), "--outstanding", str(outstanding),
                                       "--timeout", "600", "--send-from", send_from],
        900.0)
    if result["failures"] or result["received"] != count:
        raise SystemExit(f"run of {count} failed: {result}")
    out = {}
    for role, path in files.items():
        text = path.read_text(errors="replace")
        m = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
        if not m:
            raise SystemExit(f"no totals in {path}")
        out[role] = int(m.group(1))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", type=int, default=500, help="messages in the short run")
    ap.add_argument("--large", type=int, default=2500, help="messages in the long run")
    ap.add_argument("--outstanding", type=int, default=50, help="MESSAGEs in flight")
    ap.add_argument("--repeat", type=int, default=1, help="pairs of runs (figures each)")
    ap.add_argument("--send-from", choices=("receiver", "thread"), default="receiver",
                    help="the sender's pattern (see _sipcore_peer.py)")
    args = ap.parse_args(argv)
    print(f"callgrind, sipcore pair, UDP 127.0.0.1, {args.outstanding} outstanding, "
          f"--send-from {args.send_from}, poll_spin_us=0: instructions per MESSAGE = (I({args.large}) - I({args.small})) / "
          f"{args.large - args.small}")
    with tempfile.TemporaryDirectory(prefix="callgrind-msg-") as tmp:
        for r in range(args.repeat):
            small = totals(args.small, args.outstanding, Path(tmp), args.send_from)
            large = totals(args.large, args.outstanding, Path(tmp), args.send_from)
            for role in ("receiver", "sender"):
                per = (large[role] - small[role]) / (args.large - args.small)
                print(f"  run {r + 1}  {role:8}  {per:10,.0f} instructions/message   "
                      f"(totals {small[role]:,} / {large[role]:,})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
