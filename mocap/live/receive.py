"""Receiving the VMC stream: a background thread, the newest frame in one slot, a bounded
record buffer. Self-contained (standard library, numpy and python-osc only; no other mocap
import), because the Blender add-on carries a copy of this file: Blender's Python has no
mocap, and gets python-osc from the wheel the extension bundles.

The stream itself (every message and the coordinate convention) is described in
mocap/live/vmc.py and docs/live.md.
"""

from __future__ import annotations

import errno
import math
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

DEFAULT_PORT = 39539
STREAM_VERSION = 1  # of the /mocap/ messages; receivers ignore frames of another version
CONTACT_POINTS = ("left_heel", "left_toe", "right_heel", "right_toe")  # = the humanoid rig's contact_points (mocap.rig)
UNITY_FROM_INTERNAL_POSITION = np.array([-1.0, 1.0, 1.0])
UNITY_FROM_INTERNAL_QUAT = np.array([1.0, -1.0, -1.0, 1.0])  # xyzw; the same map is its own inverse

ADDR_OK = "/VMC/Ext/OK"
ADDR_TIME = "/VMC/Ext/T"
ADDR_ROOT = "/VMC/Ext/Root/Pos"
ADDR_BONE = "/VMC/Ext/Bone/Pos"
ADDR_FRAME = "/mocap/Frame"
ADDR_CONTACTS = "/mocap/Contacts"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


# mocap's canonical joints (mocap/rigs/humanoid.json, parents first) and their Unity
# HumanBodyBones names in the stream (the `unity` rig preset; a test checks both agree).
CANONICAL_JOINTS = (
    ("Hips", None, "Hips"), ("Spine", "Hips", "Spine"), ("Spine1", "Spine", "Chest"),
    ("Spine2", "Spine1", "UpperChest"), ("Neck", "Spine2", "Neck"), ("Head", "Neck", "Head"),
    ("LeftShoulder", "Spine2", "LeftShoulder"), ("LeftArm", "LeftShoulder", "LeftUpperArm"),
    ("LeftForeArm", "LeftArm", "LeftLowerArm"), ("LeftHand", "LeftForeArm", "LeftHand"),
    ("RightShoulder", "Spine2", "RightShoulder"), ("RightArm", "RightShoulder", "RightUpperArm"),
    ("RightForeArm", "RightArm", "RightLowerArm"), ("RightHand", "RightForeArm", "RightHand"),
    ("LeftUpLeg", "Hips", "LeftUpperLeg"), ("LeftLeg", "LeftUpLeg", "LeftLowerLeg"),
    ("LeftFoot", "LeftLeg", "LeftFoot"), ("LeftToeBase", "LeftFoot", "LeftToes"),
    ("RightUpLeg", "Hips", "RightUpperLeg"), ("RightLeg", "RightUpLeg", "RightLowerLeg"),
    ("RightFoot", "RightLeg", "RightFoot"), ("RightToeBase", "RightFoot", "RightToes"),
)


class ReceiverError(Exception):
    """The receiver cannot listen (port in use, bad address); the message says which and why."""


def unity_from_internal(positions_m: np.ndarray, quats_xyzw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 3) positions and (..., 4) quaternions, mocap's internal frame -> VMC/Unity's
    (and back: the map is its own inverse)."""
    return np.asarray(positions_m) * UNITY_FROM_INTERNAL_POSITION, np.asarray(quats_xyzw) * UNITY_FROM_INTERNAL_QUAT


@dataclass(frozen=True)
class VmcFrame:
    """One received frame, in VMC's (Unity's) coordinates.

    bones: HumanBodyBones name -> (position (3,), quaternion (4,) xyzw), local to the
    parent. time_s: the stream's timestamp (/mocap/Frame media time, else /VMC/Ext/T, else
    arrival). sent_wall_s: wall clock when the sender had the frame (None for other senders).
    """

    time_s: float
    frame_index: int
    bones: dict[str, tuple[np.ndarray, np.ndarray]]
    root: tuple[np.ndarray, np.ndarray] | None
    received_wall_s: float
    sent_wall_s: float | None = None
    contacts: dict[str, bool] | None = None
    held: bool = False


def canonical_pose(frame: VmcFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A received frame on mocap's canonical skeleton, back in the internal frame (right-handed,
    Y up, performer facing +Z, left on +X): (offsets_m (J, 3) each joint's offset in its
    parent's frame, Hips' the hips' world position; local_xyzw (J, 4); hips_m (3,)), J =
    CANONICAL_JOINTS in order. Bones the sender did not send keep offset 0 and identity.
    """
    n = len(CANONICAL_JOINTS)
    offsets = np.zeros((n, 3))
    local = np.tile([0.0, 0.0, 0.0, 1.0], (n, 1))
    for j, (_, _, bone) in enumerate(CANONICAL_JOINTS):
        if bone in frame.bones:
            pos, quat = frame.bones[bone]
            offsets[j], local[j] = unity_from_internal(pos, quat)
    norms = np.linalg.norm(local, axis=1, keepdims=True)
    local = local / np.where(norms > 0, norms, 1.0)
    return offsets, local, offsets[0].copy()


class MalformedPacket(ValueError):
    """A datagram that is not a VMC frame we can use."""


class OldVersion(ValueError):
    """A /mocap/ frame of another stream version."""


def parse_frame(datagram: bytes, received_wall_s: float, fallback_index: int = 0) -> VmcFrame | None:
    """A datagram -> VmcFrame, or None for valid OSC that carries no bones (e.g. a lone
    /VMC/Ext/OK). Raises MalformedPacket or OldVersion."""
    from pythonosc.osc_packet import OscPacket, ParseError

    try:
        messages = [m.message for m in OscPacket(datagram).messages]
    except (ParseError, ValueError, IndexError, TypeError, UnicodeDecodeError) as exc:
        raise MalformedPacket(f"not OSC ({exc})") from exc
    bones: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    root = None
    vmc_time = None
    stamp = None
    contacts = None
    held = False
    for m in messages:
        args = list(m.params)
        if m.address == ADDR_BONE or m.address == ADDR_ROOT:
            if len(args) < 8 or not isinstance(args[0], str) or not all(isinstance(a, (int, float)) for a in args[1:8]):
                raise MalformedPacket(f"{m.address} needs a name and 7 numbers, got {args!r:.80}")
            values = np.asarray(args[1:8], dtype=float)
            if not np.isfinite(values).all():
                raise MalformedPacket(f"{m.address} {args[0]}: not finite")
            if m.address == ADDR_BONE:
                bones[args[0]] = (values[:3], values[3:])
            else:
                root = (values[:3], values[3:])
        elif m.address == ADDR_TIME:
            if args and isinstance(args[0], (int, float)):
                vmc_time = float(args[0])
        elif m.address == ADDR_OK:
            held = len(args) >= 4 and args[3] == 0
        elif m.address == ADDR_FRAME:
            if not args or not isinstance(args[0], int):
                raise MalformedPacket(f"{ADDR_FRAME} without a version")
            if args[0] != STREAM_VERSION:
                raise OldVersion(f"{ADDR_FRAME} version {args[0]}, this receiver reads {STREAM_VERSION}")
            if len(args) < 5 or not all(isinstance(a, (int, float)) for a in args[1:5]):
                raise MalformedPacket(f"{ADDR_FRAME}: expected version, index, time, seconds, microseconds")
            stamp = (int(args[1]), float(args[2]), float(args[3]) + float(args[4]) * 1e-6)
        elif m.address == ADDR_CONTACTS:
            contacts = {n: bool(v) for n, v in zip(CONTACT_POINTS, args)}
    if not bones:
        return None
    if stamp is not None:
        index, time_s, sent = stamp
    else:
        index, time_s, sent = fallback_index, (vmc_time if vmc_time is not None else received_wall_s), None
    return VmcFrame(time_s, index, bones, root, received_wall_s, sent, contacts, held)


@dataclass
class ReceiverStats:
    received: int = 0  # frames parsed
    shown: int = 0  # frames handed to take_latest()
    dropped: int = 0  # frames replaced by a newer one before anyone took them
    stale: int = 0  # frames older than one already received (late datagrams): not shown
    malformed: int = 0
    old_version: int = 0
    record_overflow: int = 0  # recorded frames lost because nobody drained the buffer
    last_error: str = ""


@dataclass
class VmcReceiver:
    """Listens for VMC frames on a background thread; never blocks its caller.

    The newest frame waits in one slot for `take_latest()` (older ones are dropped and
    counted, never queued); while recording, every frame also goes to a bounded buffer
    drained by `drain_recorded()`. Malformed datagrams and frames of another stream
    version are counted and ignored. Binds `host` (127.0.0.1 by default: this machine
    only); `listens_on_network` says when it is reachable from other machines.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    record_limit: int = 36000  # frames (20 minutes at 30 fps)
    stats: ReceiverStats = field(default_factory=ReceiverStats)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: VmcFrame | None = None
        self._newest_time_s = -math.inf
        self._recording = False
        self._recorded: deque[VmcFrame] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def listens_on_network(self) -> bool:
        return self.host not in LOOPBACK

    def start(self) -> None:
        """Bind and start the thread. Raises ReceiverError (port in use, bad address)."""
        try:
            family, kind, proto, _, address = socket.getaddrinfo(self.host, int(self.port), type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(family, kind, proto)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise ReceiverError(f"cannot listen on {self.host}:{self.port}: {exc}") from exc
        try:
            sock.bind(address)
        except OSError as exc:
            sock.close()
            reason = "the port is in use by another program" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise ReceiverError(f"cannot listen on {self.host}:{self.port}: {reason}; choose another port") from exc
        sock.settimeout(0.1)
        self._sock = sock
        self.port = sock.getsockname()[1]  # port 0 asks the system for a free one
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"vmc-receiver-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> VmcReceiver:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        count = 0
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65535)
            except TimeoutError:
                continue
            except OSError as exc:  # closed under us, or a transient error: say so, keep going
                if self._stop.is_set():
                    return
                self.stats.last_error = str(exc)
                continue
            try:
                frame = parse_frame(data, time.time(), fallback_index=count)
            except OldVersion as exc:
                self.stats.old_version += 1
                self.stats.last_error = str(exc)
                continue
            except MalformedPacket as exc:
                self.stats.malformed += 1
                self.stats.last_error = str(exc)
                continue
            if frame is None:
                continue
            count += 1
            self._accept(frame)

    def _accept(self, frame: VmcFrame) -> None:
        with self._lock:
            self.stats.received += 1
            if self._recording:
                if len(self._recorded) >= self.record_limit:
                    self._recorded.popleft()
                    self.stats.record_overflow += 1
                self._recorded.append(frame)
            if frame.time_s < self._newest_time_s:
                self.stats.stale += 1
                return
            self._newest_time_s = frame.time_s
            if self._latest is not None:
                self.stats.dropped += 1
            self._latest = frame

    def take_latest(self) -> VmcFrame | None:
        """The newest frame not yet taken, or None."""
        with self._lock:
            frame, self._latest = self._latest, None
            if frame is not None:
                self.stats.shown += 1
            return frame

    def start_recording(self) -> None:
        with self._lock:
            self._recorded.clear()
            self._recording = True

    def stop_recording(self) -> list[VmcFrame]:
        """Stop recording; returns what was not drained yet, sorted by stream time."""
        with self._lock:
            self._recording = False
        return self.drain_recorded()

    def drain_recorded(self) -> list[VmcFrame]:
        """Frames recorded since the last drain, sorted by their stream timestamps."""
        with self._lock:
            frames = list(self._recorded)
            self._recorded.clear()
        return sorted(frames, key=lambda f: f.time_s)


__all__ = [
    "DEFAULT_PORT", "STREAM_VERSION", "CONTACT_POINTS", "MalformedPacket", "OldVersion", "ReceiverError", "ReceiverStats",
    "VmcFrame", "VmcReceiver", "parse_frame", "unity_from_internal", "CANONICAL_JOINTS", "canonical_pose",
]
