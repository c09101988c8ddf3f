"""Stopping a peer started with ``start_new_session=True`` (its own process group).

The group is signalled only while its leader is still unreaped (alive or a zombie): a reaped
leader's pid, which is also the group id, can be given to a new process at any moment, and
signalling that group could hit an unrelated process group (another test's peer, or the test
runner itself under ``timeout``).
"""
from __future__ import annotations

import os
import signal
import subprocess
import time


def _leader_exited(pid: int) -> bool:
    """True once the leader has exited; it is NOT reaped (WNOWAIT), so the pgid stays ours."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_process_group(p: subprocess.Popen, timeout: float = 10.0,
                       first: int = signal.SIGTERM) -> None:
    """Send ``first`` to the group, wait up to ``timeout`` s for the leader, SIGKILL what is
    left of the group, then reap the leader.  Never leaves processes behind."""
    if p.returncode is not None:      # already reaped by someone: the group id is not ours
        return
    _signal_group(p.pid, first)
    deadline = time.monotonic() + timeout
    while not _leader_exited(p.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    _signal_group(p.pid, signal.SIGKILL)   # leader unreaped: the group id is still ours
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


class ManagedPeer:
    """Context-manager and finaliser behaviour of a peer with ``start()`` (returns self),
    ``stop()`` and ``close()`` (stop, then remove its temporary files)."""

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()        # __exit__ won't run: remove tmp dir here
            raise

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.stop()
        except Exception:
            pass
