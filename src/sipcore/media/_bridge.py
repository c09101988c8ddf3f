"""The audio bridge: one PJMEDIA conference per running Engine (``ua.bridge``, made at its first
use), clocked in C.

Created by the UA at Engine start (clock rate: the ``sample_rate`` option, 20 ms frames, mono)
and destroyed in the UA's teardown after every media object and before the media endpoint.
Slot 0 is the sound device: a real one when ``auto_sound`` is on and one exists, else none,
with a C null clock (``pjmedia_master_port`` and a null port) driving the mix every 20 ms.  The
C side is ``_cdefs/glue_bridge.c``.

Every method here runs on the poll thread (the public API posts to it).

Members and connections
-----------------------
A port is *attached* under an owner (an AudioTransport, a WaveFile's player, a
RecordingWaveFile's writer) and gets a slot.  Connections are counted per (source, sink) pair,
so the conference and the pairwise extension can ask for the same connection without one
undoing the other:

- the **conference** (the spec's model): slot 0 (sound device), every transport given to
  ``Engine.connect_audio_transport``, every WaveFile playing without a destination (a source
  only) and every RecordingWaveFile recording without a source (a sink only).  Each source
  member is connected to each sink member other than itself;
- **pairwise** connections (sipcore's extension): ``connect(src_owner, dst_owner)``;
- the **silence feed**: every attached sink receives from a null port of its own slot, so it
  gets an audio frame every tick even when nothing else transmits to it.  pjmedia_conf gives a
  port without transmitters NONE frames only, for which a pjmedia_stream sends no RTP at all
  (and a wav writer writes nothing); with the feed a connected stream keeps sending (silence,
  and its DTMF) whatever else is connected.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from .._pj import check, ffi, lib
from ..errors import EngineNotRunningError, InvalidStateError, SIPCoreError

#: the sound device's owner key (slot 0)
SOUND = "sound device"
PTIME_MS = 20
#: DTMF digits the tone generator knows
DTMF_DIGITS = "0123456789*#ABCD"


class Bridge:
    """The running Engine's conference bridge (see the module documentation)."""

    def __init__(self, ua: Any):
        self.ua = ua
        self.clock_rate = ua.options["sample_rate"] * 1000
        b = ffi.new("sc_bridge **")
        check(lib.sc_bridge_create(ffi.addressof(ua.cp, "factory"), self.clock_rate, b),
              "creating the audio bridge")
        self._b = b[0]
        self.closed = False
        self.silence_slot = lib.sc_bridge_slot(self._b, 1)
        self.tones_slot = lib.sc_bridge_slot(self._b, 2)
        # owner -> (slot, is_source, is_sink); owners are kept by identity
        self._members: dict[int, tuple[Any, int, bool, bool]] = {id(SOUND): (SOUND, 0, True, True)}
        self._conference: set[int] = {id(SOUND)}
        # (src slot, dst slot) -> reasons to be connected
        self._edges: Counter[tuple[int, int]] = Counter()
        self.playback_device: str | None = None
        self.recording_device: str | None = None
        use = ua.options["auto_sound"] and bool(self.devices(output=True)) \
            and bool(self.devices(output=False))
        # a default device that fails to open leaves the bridge on the null clock (C falls
        # back): the Engine starts anyway, set_sound_devices() reports the device's error
        lib.sc_bridge_set_device(self._b, 1 if use else 0, -1, -2, ua.options["ec_tail_length"])
        if lib.sc_bridge_has_device(self._b) == 0:
            self.destroy()
            raise SIPCoreError("starting the audio bridge's clock failed")

    # ---- sound devices ----------------------------------------------------------------------

    @staticmethod
    def devices(output: bool) -> list[str]:
        """Names of the playback (output=True) or recording devices PJMEDIA has."""
        names = []
        name = ffi.new("char[]", 256)
        ins, outs = ffi.new("int *"), ffi.new("int *")
        for i in range(lib.sc_aud_dev_count()):
            if (lib.sc_aud_dev_info(i, name, 256, ins, outs) == 0
                    and (outs[0] if output else ins[0]) > 0):
                names.append(ffi.string(name).decode("utf-8", "replace"))
        return names

    @staticmethod
    def _device_id(name: str | None, output: bool, what: str) -> int:
        if name is None:     # PJMEDIA_AUD_DEFAULT_PLAYBACK_DEV / _CAPTURE_DEV
            return -2 if output else -1
        name_b = ffi.new("char[]", 256)
        ins, outs = ffi.new("int *"), ffi.new("int *")
        for i in range(lib.sc_aud_dev_count()):
            if lib.sc_aud_dev_info(i, name_b, 256, ins, outs) == 0 and \
                    (outs[0] if output else ins[0]) > 0 and \
                    ffi.string(name_b).decode("utf-8", "replace") == name:
                return i
        raise ValueError(f"{what}: no {'playback' if output else 'recording'} device named "
                         f"{name!r} (available: {Bridge.devices(output)})")

    def set_sound_devices(self, playback: str | None, recording: str | None, tail_length: int,
                          use_device: bool = True) -> None:
        """Open the devices (None: the default one) with this echo-canceller tail (ms).  With
        no device at all (or use_device False) the bridge runs on the null clock."""
        play_id = self._device_id(playback, True, "playback_device")
        rec_id = self._device_id(recording, False, "recording_device")
        if use_device and not (self.devices(True) and self.devices(False)):
            use_device = False
        check(lib.sc_bridge_set_device(self._c("set_sound_devices()"), 1 if use_device else 0,
                                       rec_id, play_id, tail_length),
              "opening the sound devices")
        self.playback_device, self.recording_device = playback, recording
        self.ua.options["ec_tail_length"] = tail_length

    @property
    def has_device(self) -> bool:
        """True when a sound device clocks the bridge, False on the null clock."""
        return self._b is not None and lib.sc_bridge_has_device(self._b) == 1

    def play_dtmf(self, digit: str) -> None:
        """The tone of a DTMF digit on the sound device (when the Engine's playback_dtmf is on)."""
        if not isinstance(digit, str):
            raise TypeError(f"digit must be a str, not {type(digit).__name__}")
        if len(digit) != 1 or digit not in DTMF_DIGITS:
            raise ValueError(f"digit must be one of {DTMF_DIGITS!r}, not {digit!r}")
        if self.ua.options["playback_dtmf"]:
            check(lib.sc_bridge_play_dtmf(self._c("play_dtmf()"), digit.encode()),
                  "playing a DTMF tone")

    # ---- members ------------------------------------------------------------------------------

    def _check_open(self, what: str) -> None:
        if self.closed or self.ua._stopping:
            raise EngineNotRunningError(what, "stopping" if not self.closed else "stopped")

    def _c(self, what: str) -> Any:
        """The C bridge, or EngineNotRunningError once destroyed (never a NULL to C)."""
        if self._b is None:
            raise EngineNotRunningError(what, "stopped")
        return self._b

    def attach(self, owner: Any, port: Any, source: bool = True, sink: bool = True) -> int:
        """Add owner's ``pjmedia_port *`` to the bridge (idempotent) and return its slot."""
        m = self._members.get(id(owner))
        if m is not None:
            return m[1]
        self._check_open("attaching to the audio bridge")
        if port is None or port == ffi.NULL:
            raise InvalidStateError("attaching to the audio bridge", "no media port")
        slot = ffi.new("int *")
        check(lib.sc_bridge_add(self._b, port, slot), "adding a port to the audio bridge")
        self._members[id(owner)] = (owner, slot[0], source, sink)
        index: int = slot[0]
        if sink:
            self._link(self.silence_slot, index, +1)
        return index

    def slot(self, owner: Any) -> int | None:
        m = self._members.get(id(owner))
        return None if m is None else m[1]

    def _slot_of(self, owner: Any) -> int:
        slot = self.slot(owner)
        if slot is None:
            raise InvalidStateError("a setting of a port on the audio bridge", "not attached")
        return slot

    def detach(self, owner: Any) -> None:
        """Drop owner's connections and slot (idempotent; AudioTransport.stop() calls it before
        destroying its stream)."""
        m = self._members.get(id(owner))
        if m is None or owner is SOUND:
            return
        self.leave(owner)
        slot = m[1]
        for edge in [e for e in self._edges if slot in e]:
            del self._edges[edge]         # pjmedia_conf_remove_port drops them in C
        del self._members[id(owner)]
        if not self.closed:
            lib.sc_bridge_remove(self._b, slot)

    def _link(self, src: int, dst: int, delta: int) -> None:
        edge = (src, dst)
        before = self._edges[edge]
        after = before + delta
        if self.closed:
            return
        if after <= 0:
            self._edges.pop(edge, None)
            if before > 0:
                lib.sc_bridge_connect(self._b, src, dst, 0)
            return
        self._edges[edge] = after
        if before == 0:
            check(lib.sc_bridge_connect(self._b, src, dst, 1), "connecting on the audio bridge")

    def join(self, owner: Any) -> None:
        """Make an attached owner a conference member (idempotent)."""
        if id(owner) in self._conference:
            return
        _, slot, source, sink = self._members[id(owner)]
        for key in self._conference:
            _, other, o_source, o_sink = self._members[key]
            if source and o_sink:
                self._link(slot, other, +1)
            if sink and o_source:
                self._link(other, slot, +1)
        self._conference.add(id(owner))

    def leave(self, owner: Any) -> None:
        """Take owner out of the conference (idempotent); its pairwise connections stay."""
        if id(owner) not in self._conference or owner is SOUND:
            return
        self._conference.discard(id(owner))
        _, slot, source, sink = self._members[id(owner)]
        for key in self._conference:
            _, other, o_source, o_sink = self._members[key]
            if source and o_sink:
                self._link(slot, other, -1)
            if sink and o_source:
                self._link(other, slot, -1)

    def in_conference(self, owner: Any) -> bool:
        return id(owner) in self._conference

    def connect(self, src_owner: Any, dst_owner: Any, connect: bool = True) -> None:
        """A pairwise connection from one attached owner to another (or its removal)."""
        src, dst = self.slot(src_owner), self.slot(dst_owner)
        if src is None or dst is None:
            return
        self._link(src, dst, +1 if connect else -1)

    def set_rx_level(self, owner: Any, percent: int) -> None:
        """Scale what owner's port sends into the bridge: 100 unchanged, 50 half, 200 double."""
        adj = max(-128, min(128, round((percent - 100) * 128 / 100)))
        check(lib.sc_bridge_rx_level(self._c("setting a level"), self._slot_of(owner), adj),
              "setting a level")

    def mute_tx(self, owner: Any, mute: bool) -> None:
        """Stop (or resume) giving owner's port frames (a paused recording writes nothing)."""
        check(lib.sc_bridge_mute_tx(self._c("pausing"), self._slot_of(owner), 1 if mute else 0),
              "pausing a port on the audio bridge")

    @property
    def connections(self) -> set[tuple[int, int]]:
        """The (source slot, sink slot) pairs connected now (tests, diagnostics)."""
        return set(self._edges)

    # ---- end --------------------------------------------------------------------------------

    def destroy(self) -> None:
        """Destroy the bridge and its clock (the UA's teardown: every media object is gone)."""
        if self._b is None:
            return
        self.closed = True
        lib.sc_bridge_destroy(self._b)
        self._b = None
        self._members = {id(SOUND): (SOUND, 0, True, True)}
        self._conference = {id(SOUND)}
        self._edges.clear()
