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


def udp_sockets() -> int:
    """How many UDP sockets (IPv4 and IPv6) this process holds open: its socket fds whose
    inodes appear in /proc/self/net/udp{,6}.  SIP's own transport is one; each call's RTP and
    RTCP sockets would add two per side."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    count = 0
    for table in ("/proc/self/net/udp", "/proc/self/net/udp6"):
        try:
            with open(table) as fh:
                next(fh, None)
                count += sum(1 for line in fh if line.split()[9] in inodes)
        except OSError:
            pass
    return count


def sample(calls: int, trim: bool = False) -> dict:
    """Resource sample: calls done so far, VmRSS KiB, VmHWM KiB (the process's peak RSS so
    far), open fds, UDP sockets, threads.

    ``trim``: call glibc's malloc_trim(0) first, so VmRSS shows memory in use rather than
    freed heap that glibc keeps after a peak (see call_rate.py, "Endurance").
    """
    if trim:
        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):
            pass
    return {"calls": calls, "rss_kb": rss_kb(), "hwm_kb": proc_status("VmHWM"),
            "fds": len(os.listdir("/proc/self/fd")), "udp": udp_sockets(),
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


def print_verdict(verdicts: list[tuple[str, bool]], bad: list[str], bad_title: str,
                  aside: list[tuple[str, bool]] | None = None, aside_title: str = "") -> None:
    """Print one MET / NOT MET line per target, the count met, then the ``aside`` lines (the
    same targets applied to a variant, under ``aside_title``, not counted), then the ``bad``
    lines."""
    print()
    for text, ok in verdicts:
        print(f"{'MET    ' if ok else 'NOT MET'}  {text}")
    met = sum(ok for _, ok in verdicts)
    print(f"verdict: {'all targets met' if met == len(verdicts) else 'targets not met'}"
          f" ({met}/{len(verdicts)})")
    if aside:
        print(f"\n{aside_title}")
        for text, ok in aside:
            print(f"  {'met    ' if ok else 'not met'}  {text}")
    if bad:
        print(f"\n{bad_title}:")
        for line in bad:
            print(f"  {line}")


def thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) used so far by each thread of this process:
    ``{tid: (name, seconds)}``, from /proc/self/task/TID/stat (fields 14 and 15, in clock
    ticks)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                text = fh.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return out


def thread_cpu_delta(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per thread between two ``thread_cpu()`` readings, keyed ``name/tid``."""
    return {f"{name}/{tid}": round(sec - before.get(tid, (name, 0.0))[1], 3)
            for tid, (name, sec) in after.items()}


def mark_sample() -> dict:
    """The start of a measured interval: wall clock, process and per-thread CPU, RSS."""
    import time
    return {"wall": time.perf_counter(), "cpu": cpu_s(), "threads": thread_cpu(),
            "rss_kb": rss_kb()}


def end_sample(mark: dict) -> tuple[float, float, dict[str, float], int]:
    """(wall seconds, CPU seconds, CPU seconds per thread, RSS KiB now) since ``mark``."""
    import time
    return (time.perf_counter() - mark["wall"], cpu_s() - mark["cpu"],
            thread_cpu_delta(mark["threads"], thread_cpu()), rss_kb())


def media_result(impl: str, args, calls: list, mark: dict, end: tuple, stats: list,
                 poll_key: str, idle_rss: int, failures: list) -> str:
    """The RESULT line of a media-load peer (``_sipcore_media_peer.py``,
    ``_pjsua2_media_peer.py``): ``calls`` have ``t_rec`` and ``t_play``; ``end`` is
    ``end_sample(mark)``."""
    import json
    wall, cpu, per_thread, rss = end
    probes = calls[:args.probes]
    return "RESULT " + json.dumps({
        "impl": impl, "role": args.role, "calls": len(calls), "wall_s": wall, "cpu_s": cpu,
        "threads": per_thread, "poll_thread": poll_key, "rss_kb_mark": mark["rss_kb"],
        "rss_kb_end": rss, "rss_kb_idle": idle_rss, "stats": stats, "rx_mark": mark["rx"],
        "probes": [{"file": f"{args.dir}/{args.role}-probe-{i}.wav", "t_rec": c.t_rec,
                    "t_play": c.t_play} for i, c in enumerate(probes)],
        "t_play": [c.t_play for c in probes], "failures": failures})


def read_commands(handler) -> None:
    """Read command lines from stdin until EOF and call ``handler(line)`` for each one."""
    for line in sys.stdin:
        line = line.strip()
        if line:
            handler(line)
