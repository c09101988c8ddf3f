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
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self


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


def stop_process_group(p: subprocess.Popen[bytes], timeout: float = 10.0,
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
    ``stop()`` and ``close()`` (stop, then remove its temporary files).

    A peer runs one process ``proc`` (its own process group) whose output goes to the file
    ``log``, opened as ``_logfh``: ``running``, ``output()`` and ``stop_process()`` are
    shared."""

    proc: subprocess.Popen[bytes] | None = None
    _logfh: IO[bytes] | None = None
    log: Path
    _own_tmp: bool

    if TYPE_CHECKING:       # what each peer class defines
        def start(self) -> Self: ...
        def stop(self, timeout: float = ...) -> None: ...
        def close(self) -> None: ...
        def _wait_ready(self) -> None: ...

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        """Everything the process wrote to its log so far."""
        try:
            return self.log.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def make_workdir(self, workdir: str | os.PathLike[str] | None, prefix: str,
                     log_name: str) -> Path:
        """``workdir`` (created), or a new temporary folder (``_own_tmp``: close() removes
        it); sets ``log`` to the file ``log_name`` in it."""
        self._own_tmp = workdir is None
        folder = Path(workdir or tempfile.mkdtemp(prefix=prefix)).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / log_name
        return folder

    def spawn(self, cmd: list[str], cwd: str | os.PathLike[str] | None, **popen: Any) -> None:
        """Run ``cmd`` in its own process group with stdout and stderr to the log (opened
        here unless already open), then wait for ``self._wait_ready()``; stopped if that
        fails."""
        if self._logfh is None:
            self._logfh = open(self.log, "ab")
        popen.setdefault("stdin", subprocess.DEVNULL)
        self.proc = subprocess.Popen(cmd, stdout=self._logfh, stderr=subprocess.STDOUT,
                                     cwd=cwd, start_new_session=True, **popen)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop_process(self, timeout: float) -> None:
        """Stop the process group (SIGTERM, then SIGKILL: never leaves processes) and close
        the log."""
        p, self.proc = self.proc, None
        if p is not None:
            stop_process_group(p, timeout)
        if self._logfh is not None:
            self._logfh.close()
            self._logfh = None

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()        # __exit__ won't run: remove tmp dir here
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.stop()
        except Exception:
            pass
