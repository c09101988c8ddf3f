#!/usr/bin/env python3
"""The LeakSanitizer records (``make asan`` with ASAN_SANITIZE_LEAKS=1) whose allocation stack
passes through pjproject or sipcore's module: the interpreter's own allocations at exit (most
of what LSan reports for a Python process that is not instrumented) are left out.  Prints
each such leak's first frames and bytes; exits 1 when there is one.

    python tools/lsan_ours.py build/asan/reports/report.*
"""
from __future__ import annotations

import collections
import re
import sys

OURS = re.compile(r"libpj|_pjsip|libresample|libsrtp")


def ours(paths: list[str]) -> collections.Counter:
    leaks: collections.Counter = collections.Counter()
    for path in paths:
        with open(path, errors="replace") as fh:
            text = fh.read()
        for block in re.split(r"\n(?=(?:Direct|Indirect) leak of)", text):
            if not block.startswith(("Direct", "Indirect")):
                continue
            frames = [line.strip() for line in block.splitlines() if line.strip().startswith("#")]
            if any(OURS.search(f) for f in frames):
                key = " <- ".join(re.sub(r"^#\d+ 0x[0-9a-f]+ in ", "", f).split(" (")[0]
                                  for f in frames[:6])
                leaks[key] += int(re.search(r"of (\d+) byte", block).group(1))
    return leaks


if __name__ == "__main__":
    found = ours(sys.argv[1:])
    print(f"lsan: {len(found)} leak stack(s) through pjproject/sipcore in {len(sys.argv) - 1} report(s)")
    for key, size in found.most_common():
        print(f"  {size} bytes: {key}")
    sys.exit(1 if found else 0)
