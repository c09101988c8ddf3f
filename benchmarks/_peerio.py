"""What every benchmark peer process shares, whichever library it drives (stdlib only, so the
pjsua2 venv's interpreter imports it too): /proc readings, the JSON-line protocol, and
watching stdin for the parent going away; and the verdict lines the benchmark drivers print."""
from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading


def proc_status(key: str) -> int:
    """An integer field of /proc/self/status (VmRSS in KiB, Threads), or -1."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def cpu_s() -> float:
    """CPU seconds (user + system) this process has used so far, all threads."""
    t = os.times()
    return t.user + t.system


def rss_kb() -> int:
    """Current resident set size of this process in KiB (VmRSS)."""
    return proc_status("VmRSS")


def sample(calls: int, trim: bool = False) -> dict:
    """Resource sample: calls done so far, VmRSS KiB, open fds, threads.

    ``trim``: call glibc's malloc_trim(0) first, so VmRSS shows memory in use rather than
    freed heap that glibc keeps after a peak (see call_rate.py, "Endurance").
    """
    if trim:
        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):
            pass
    return {"calls": calls, "rss_kb": rss_kb(), "fds": len(os.listdir("/proc/self/fd")),
            "threads": proc_status("Threads")}


def emit(line: str) -> None:
    """Print one protocol line to stdout and flush it immediately."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def stdout_silenced():
    """Temporarily point file descriptor 1 at /dev/null (C-level output)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def stdin_eof_event() -> threading.Event:
    """Return an Event set once stdin reaches EOF (parent gone / closed).

    The reader is a daemon Python thread that never calls into pjsip (so pjsua2 needs no
    ``libRegisterThread`` for it); blocked in read() it holds no GIL.  It reads the raw fd
    with os.read(): a daemon thread parked inside ``sys.stdin.buffer.read()`` holds the
    BufferedReader lock, and the interpreter then dies with "Fatal Python error:
    _enter_buffered_busy" at shutdown.
    """
    eof = threading.Event()

    def wait_eof() -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        eof.set()

    threading.Thread(target=wait_eof, name="stdin-eof", daemon=True).start()
    return eof


def print_verdict(verdicts: list[tuple[str, bool]], bad: list[str], bad_title: str) -> None:
    """Print one MET / NOT MET line per target, the count met, then the ``bad`` lines."""
    print()
    for text, ok in verdicts:
        print(f"{'MET    ' if ok else 'NOT MET'}  {text}")
    met = sum(ok for _, ok in verdicts)
    print(f"verdict: {'all targets met' if met == len(verdicts) else 'targets not met'}"
          f" ({met}/{len(verdicts)})")
    if bad:
        print(f"\n{bad_title}:")
        for line in bad:
            print(f"  {line}")
