"""WaveFile and RecordingWaveFile: play a .wav file into the audio bridge, record the bridge.

Both may be created before the Engine starts; ``start()`` needs a running Engine.  Every
method may be called from any thread: the work is done on the poll thread.  The C side (the
file ports, the end-of-file report from the clock thread) is in ``_cdefs/glue_bridge.c``.

Files are opened by ``start()``, not by ``__init__`` (the Engine may not run yet, and a
ringtone may be written after its WaveFile is made): a missing file raises
``FileNotFoundError``, a file that is not a WAV file WaveFile can play raises ``ValueError``
naming ``file_name`` and PJMEDIA's reason; nothing else changes and the Engine keeps working.

Each run (a ``start()``) has its own C port and token (``_Playback``/``_Recording``), held by
the UA until it is closed on the poll thread: by its end, ``stop()``, ``Engine.stop()`` (the
UA's teardown, before the bridge is destroyed) or -- when the application drops the object
while it plays -- a finalizer that posts the close to the poll thread.
"""
from __future__ import annotations

import math
import os
import weakref
from typing import Any

from .. import _pj, _ua, signals
from .._pj import ffi, lib, strerror
from .._validate import check_int
from ..errors import EngineNotRunningError, InvalidStateError, PJSIPError

__all__ = ["WaveFile", "RecordingWaveFile"]


def _check_file_name(value: Any) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"file_name must be a str, not {type(value).__name__}")
    if not value or "\x00" in value:
        raise ValueError(f"file_name must be a non-empty path without NUL, not {value!r}")
    return value


def _check_endpoint(name: str, value: Any) -> Any:
    """A pairwise source/destination: an object with ``_port`` and ``is_started`` (a
    started AudioTransport), or None."""
    if value is None:
        return None
    if not hasattr(value, "_port") or not hasattr(value, "is_started"):
        raise TypeError(f"{name} must be an AudioTransport or None, not {type(value).__name__}")
    return value


def _attach_endpoint(bridge: Any, name: str, value: Any, what: str) -> None:
    if not value.is_started or value._port is None:
        raise InvalidStateError(f"{what} with a {name} that is not started",
                                getattr(value, "state", "not started"))
    bridge.attach(value, value._port)


class _Run:
    """One run's C port on the bridge (a player or a writer), owned by the UA until closed."""

    is_player = True

    def __init__(self, ua: Any, owner: Any, peer: Any):
        self.ua = ua
        self.bridge = ua.bridge
        self.owner = weakref.ref(owner)
        self.peer = peer                    # the pairwise source/destination, or None
        self.fp = None
        self.token = _pj.handles.new(self)
        out = ffi.new("sc_fileport **")
        status = lib.sc_fileport_create(ffi.addressof(ua.cp, "factory"),
                                        owner.file_name.encode(), 1 if self.is_player else 0,
                                        self.bridge.clock_rate, self.token, out)
        if status != lib.PJ_SUCCESS:
            _pj.handles.release(self.token)
            self._open_failed(owner.file_name, status)
        self.fp = out[0]
        try:
            self.bridge.attach(self, lib.sc_fileport_port(self.fp), source=self.is_player,
                               sink=not self.is_player)
            self._setup()
            self._connect()
        except BaseException:
            self._free()
            raise
        ua.media_objects.add(self)
        self.finalizer = weakref.finalize(owner, self._abandon)
        self.finalizer.atexit = False

    def _open_failed(self, file_name: str, status: int) -> None:
        raise PJSIPError(f"opening {file_name!r}", status)

    def _setup(self) -> None:
        """Settings of the new slot, before it is connected."""

    def _connect(self) -> None:
        """Into the conference, or pairwise to/from the peer."""
        if self.peer is None:
            self.bridge.join(self)
        elif self.is_player:
            self.bridge.connect(self, self.peer)
        else:
            self.bridge.connect(self.peer, self)

    def _free(self) -> None:
        if self.fp is not None:
            if self.peer is not None:
                if self.is_player:
                    self.bridge.connect(self, self.peer, False)
                else:
                    self.bridge.connect(self.peer, self, False)
            self.bridge.detach(self)
            lib.sc_fileport_destroy(self.fp)
            self.fp = None
            _pj.handles.release(self.token)   # after the C port is gone: late events drop
        self.ua.media_objects.discard(self)

    def close(self, notify: bool) -> None:
        """End the run (poll thread; idempotent)."""
        if self.fp is None:
            return
        self._free()
        self.finalizer.detach()
        owner = self.owner()
        if owner is not None:
            owner._run_ended(self, notify)

    def _engine_stopping(self) -> None:
        self.close(True)

    def _abandon(self) -> None:
        """The owner was garbage-collected while running (any thread): close without a
        notification, on the poll thread."""
        self.ua.post(self.close, False)


class _Playback(_Run):
    def __init__(self, ua: Any, owner: WaveFile, level: int, loop_count: int,
                 pause_time: float, destination: Any):
        self.loop_count = loop_count
        self.pause_time = pause_time
        self.level = level
        self.played = 0
        self.timer = None
        super().__init__(ua, owner, destination)

    def _setup(self) -> None:
        self.bridge.set_rx_level(self, self.level)

    def _open_failed(self, file_name: str, status: int) -> None:
        raise ValueError(f"file_name: {file_name!r} is not a WAV file WaveFile can play "
                         f"(mono 16-bit PCM, A-law or u-law, at 4000..96000 Hz in steps "
                         f"of 50 Hz): {strerror(status)}")

    def on_media_event(self, what: int, value: int, status: int, text: str) -> None:
        if what != lib.SC_MEDIA_WAVE_EOF or self.fp is None:
            return
        self.played += 1
        if self.loop_count and self.played >= self.loop_count:
            self.close(True)
        elif self.pause_time > 0:
            self.timer = self.ua.schedule(self.pause_time, self._again)
        else:
            lib.sc_fileport_rewind(self.fp)

    def _again(self) -> None:
        self.timer = None
        if self.fp is not None:
            lib.sc_fileport_rewind(self.fp)

    def _free(self) -> None:
        if self.timer is not None:
            self.ua.cancel(self.timer)
            self.timer = None
        super()._free()


class _Recording(_Run):
    is_player = False

    def _open_failed(self, file_name: str, status: int) -> None:
        folder = os.path.dirname(os.path.abspath(file_name))
        if not os.path.isdir(folder):
            raise FileNotFoundError(2, f"file_name: no such folder {folder!r}", file_name)
        raise PJSIPError(f"creating {file_name!r}", status)

    def on_media_event(self, what: int, value: int, status: int, text: str) -> None:
        pass


class _FileObject:
    """What WaveFile and RecordingWaveFile share: the file name, the run."""

    def __init__(self, file_name: str):
        self._file_name = _check_file_name(file_name)
        self._run: _Run | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._file_name!r} {self._describe()}>"

    def _describe(self) -> str:
        raise NotImplementedError

    @property
    def file_name(self) -> str:
        """The file's name, as given to the constructor."""
        return self._file_name


class WaveFile(_FileObject):
    """Plays a .wav file (mono 16-bit PCM, A-law or u-law, 4000..96000 Hz in steps of 50 Hz:
    docs/media.md says why) into the audio bridge: to the sound
    device and every connected AudioTransport (the spec), or, with ``destination``, into one
    started AudioTransport only (sipcore's pairwise extension).

    ``start(level=100, loop_count=1, pause_time=0, destination=None)``: ``level`` in percent
    (0..200: 50 is half the amplitude, about 6 dB less; 200 doubles it), ``loop_count`` plays
    (0: forever), ``pause_time`` seconds of silence between plays (``is_active`` stays True
    during them).  ``WaveFileDidFinishPlaying`` is sent once per run: after the last play,
    after ``stop()``, or when the Engine stops; then ``start()`` may be called again.
    ``stop()`` when not playing does nothing.  Dropping the last reference to a playing
    WaveFile stops it without a notification (spec).
    """

    def _describe(self) -> str:
        return "playing" if self.is_active else "stopped"

    @property
    def is_active(self) -> bool:
        """True from start() to the end of the run, pauses between loops included."""
        return self._run is not None

    def start(self, level: int = 100, loop_count: int = 1, pause_time: float = 0,
              destination: Any = None) -> None:
        """Start playing (see the class documentation).  InvalidStateError when playing
        already or when ``destination`` is not started; EngineNotRunningError without a
        running Engine; FileNotFoundError / ValueError for a missing / unplayable file."""
        level = check_int("level", level, 0, 200, unit="percent")
        loop_count = check_int("loop_count", loop_count, 0, 2**31 - 1)
        if not isinstance(pause_time, (int, float)) or isinstance(pause_time, bool):
            raise TypeError(f"pause_time must be an int or a float (seconds), not "
                            f"{type(pause_time).__name__}")
        if not (0 <= pause_time <= 86400) or math.isnan(pause_time):
            raise ValueError(f"pause_time must be in 0..86400 seconds, not {pause_time}")
        destination = _check_endpoint("destination", destination)
        ua = _ua.running("WaveFile.start()")
        ua.call(self._start, ua, level, loop_count, float(pause_time), destination)

    def _start(self, ua: Any, level: int, loop_count: int, pause_time: float,
               destination: Any) -> None:
        if self._run is not None:
            raise InvalidStateError("WaveFile.start()", "playing")
        if ua._stopping or ua.bridge is None:
            raise EngineNotRunningError("WaveFile.start()", "stopping")
        if not os.path.isfile(self._file_name):
            raise FileNotFoundError(2, f"file_name: no such file {self._file_name!r}",
                                    self._file_name)
        if destination is not None:
            _attach_endpoint(ua.bridge, "destination", destination, "WaveFile.start()")
        self._run = _Playback(ua, self, level, loop_count, pause_time, destination)

    def stop(self) -> None:
        """Stop playing; WaveFileDidFinishPlaying follows.  Nothing when not playing."""
        run = self._run
        if run is None:
            return
        try:
            run.ua.call(run.close, True)
        except EngineNotRunningError:
            pass        # the Engine is stopping: its teardown ends the run (and notifies)

    def _run_ended(self, run: _Run, notify: bool) -> None:
        if self._run is run:
            self._run = None
        if notify:
            signals.notify(signals.WaveFileDidFinishPlaying, self)


class RecordingWaveFile(_FileObject):
    """Records the audio bridge to a 16-bit PCM mono .wav file at the Engine's sample rate:
    the conference mix (the sound device's input, every connected AudioTransport and every
    WaveFile playing into the conference), or, with ``start(source=transport)``, one started
    AudioTransport alone (sipcore's pairwise extension).

    States: ``new`` -> ``recording`` <-> ``paused`` -> ``stopped``.  ``start()`` only once
    (InvalidStateError naming the state otherwise, also after ``stop()``, spec); ``pause()``
    while recording, ``resume()`` while paused (nothing is written during a pause: the file is
    that much shorter); ``stop()`` completes the file before it returns (idempotent).
    ``Engine.stop()`` stops (and completes) a recording; dropping the last reference to a
    recording object stops it too (spec).  The file is created by ``start()``: a missing
    folder raises FileNotFoundError.
    """

    def __init__(self, file_name: str):
        super().__init__(file_name)
        self._state = "new"

    def _describe(self) -> str:
        return self._state

    @property
    def state(self) -> str:
        """``new``, ``recording``, ``paused`` or ``stopped`` (a sipcore addition)."""
        return self._state

    @property
    def is_active(self) -> bool:
        """True while the file is being written to (recording or paused)."""
        return self._state in ("recording", "paused")

    @property
    def is_paused(self) -> bool:
        return self._state == "paused"

    def start(self, source: Any = None) -> None:
        """Start recording (see the class documentation)."""
        source = _check_endpoint("source", source)
        ua = _ua.running("RecordingWaveFile.start()")
        ua.call(self._start, ua, source)

    def _start(self, ua: Any, source: Any) -> None:
        if self._state != "new":
            raise InvalidStateError("RecordingWaveFile.start()", self._state)
        if ua._stopping or ua.bridge is None:
            raise EngineNotRunningError("RecordingWaveFile.start()", "stopping")
        if source is not None:
            _attach_endpoint(ua.bridge, "source", source, "RecordingWaveFile.start()")
        self._run = _Recording(ua, self, source)
        self._state = "recording"

    def _in_state(self, what: str, state: str, new_state: str, mute: bool) -> None:
        if self._state != state:
            raise InvalidStateError(what, self._state)
        assert self._run is not None    # (running in ``state``)
        self._run.bridge.mute_tx(self._run, mute)
        self._state = new_state

    def _call(self, what: str, fn: Any, *args: Any) -> None:
        run = self._run
        if run is None:
            raise InvalidStateError(what, self._state)
        try:
            run.ua.call(fn, what, *args)
        except EngineNotRunningError:
            raise InvalidStateError(what, self._state) from None

    def pause(self) -> None:
        """Stop writing until resume() (InvalidStateError unless recording)."""
        self._call("RecordingWaveFile.pause()", self._in_state, "recording", "paused", True)

    def resume(self) -> None:
        """Write again after pause() (InvalidStateError unless paused)."""
        self._call("RecordingWaveFile.resume()", self._in_state, "paused", "recording", False)

    def stop(self) -> None:
        """Stop recording; the file is complete when this returns.  Idempotent."""
        run = self._run
        if run is None:
            if self._state == "new":
                self._state = "stopped"
            return
        try:
            run.ua.call(run.close, False)
        except EngineNotRunningError:
            # the Engine is stopping: its teardown closes the run; wait for it
            run.ua.join()

    def _run_ended(self, run: _Run, notify: bool) -> None:
        if self._run is run:
            self._run = None
            self._state = "stopped"
