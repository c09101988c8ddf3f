"""The ``sipcore`` command (also ``python -m sipcore``).

``sipcore demo``: MESSAGEs with a second sipcore process, shown as a ladder.
``sipcore peer``: run that second endpoint (used by the demo and the tests).
``sipcore message|call|register|subscribe|publish|listen|trace``: SIP from the command line
(:mod:`sipcore.cli`).
``sipcore --version``: sipcore's version and the pjproject it runs on.
"""
from __future__ import annotations

import argparse
import sys

from .cli import COMMANDS as CLI_COMMANDS

COMMANDS = {
    "demo": "MESSAGEs (UDP and TCP) with a second sipcore process, printed as a SIP ladder",
    "peer": "run a second sipcore endpoint driven by JSON lines on stdin (used by the demo "
            "and the tests)",
    **CLI_COMMANDS,
}


def _version() -> str:
    from . import PJSIP_VERSION, __version__
    return f"sipcore {__version__} on pjproject {PJSIP_VERSION}"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="sipcore", description="The SIP core of a softphone for Python (PJSIP through "
        "cffi). Run a command with --help for its options.")
    ap.add_argument("--version", action="store_true", help="print the version and exit")
    ap.add_argument("command", nargs="?", choices=sorted(COMMANDS), metavar="COMMAND",
                    help="; ".join(f"{k}: {v}" for k, v in COMMANDS.items())
                    + " (default: demo)")
    args, rest = ap.parse_known_args(argv[:1] if argv and not argv[0].startswith("-") else argv)
    if args.version:
        print(_version())
        return 0
    rest = argv[1:] if args.command else rest
    if args.command in (None, "demo"):
        from .demo import main as demo
        return demo(rest)
    if args.command in CLI_COMMANDS:
        from .cli import main as cli
        return cli(argv)
    from .peer import main as peer
    return peer(rest)


def console() -> None:
    """The ``sipcore`` console script."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    console()
