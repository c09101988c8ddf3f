"""``python -m sipcore demo``: MESSAGEs with a second sipcore process, shown as a ladder.

``python -m sipcore peer``: run that second endpoint (used by the demo and the tests).
"""
from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "demo"
    if cmd == "demo":
        from .demo import main as demo
        return demo(argv[1:])
    if cmd == "peer":
        from .peer import main as peer
        return peer(argv[1:])
    print("usage: python -m sipcore [demo|peer --help]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
