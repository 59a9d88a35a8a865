"""The VMC protocol (OSC over UDP): what `mocap live` sends and what the add-on receives.

VMC (Virtual Motion Capture protocol, protocol.vmc.info) is what VTuber tools speak:
VSeeFace, Warudo, VNyan, EVMC4U (Unity), VRM4U (Unreal), VMC4B (Blender). A sender (the
"Performer") sends one OSC bundle per frame to a receiver (the "Marionette"), UDP port
39539 by default. python-osc builds and parses the packets; the sockets are ours (a
connected UDP socket per receiver, so a receiver that is not listening is reported).

Each frame's bundle holds, in this order (docs/live.md lists every argument):

    /VMC/Ext/OK        i loaded=1, i calibration state=3, i calibration mode=0, i tracking (1 ok, 0 held)
    /VMC/Ext/T         f time (s, the frame's media time)
    /VMC/Ext/Root/Pos  s "root", f px py pz, f qx qy qz qw        (the avatar root: origin, identity)
    /VMC/Ext/Bone/Pos  s HumanBodyBones name, f px py pz, f qx qy qz qw    (x 22: local to the parent)
    /mocap/Frame       i stream version, i frame index, f media time (s),
                       i wall clock s, i wall clock us (when the frame was available), i settled, i held
    /mocap/Contacts    i left heel, i left toe, i right heel, i right toe  (1 = planted)

Coordinates are VMC's, i.e. Unity's: left-handed, Y up, Z forward (the avatar faces +Z),
X to the avatar's right, metres. mocap's internal frame is right-handed with the performer
facing +Z and their left on +X, so Unity = (-x, y, z) for positions and (x, -y, -z, w) for
quaternions (a mirror in X, which flips handedness). Bone rotations are local (relative to
the parent bone) on a rig whose rest pose is a T-pose with every bone frame aligned with
the world: the convention of VRM's normalised humanoid, which is what VMC receivers apply.
Bone positions are local offsets in the parent's frame; Hips carries the world position
of the hips (root travel and height). Receivers ignore addresses they do not know, so the
two /mocap/ messages are safe to send to any of them.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mocap.errors import StreamError
from mocap.solve.contacts import CONTACT_POINTS

DEFAULT_PORT = 39539
LISTENING_STREAK = 5  # unrefused sends in a row after a refusal: the receiver is back
STREAM_VERSION = 1  # of the /mocap/ messages; receivers ignore frames of another version
UNITY_FROM_INTERNAL_POSITION = np.array([-1.0, 1.0, 1.0])
UNITY_FROM_INTERNAL_QUAT = np.array([1.0, -1.0, -1.0, 1.0])  # xyzw; the same map is its own inverse

ADDR_OK = "/VMC/Ext/OK"
ADDR_TIME = "/VMC/Ext/T"
ADDR_ROOT = "/VMC/Ext/Root/Pos"
ADDR_BONE = "/VMC/Ext/Bone/Pos"
ADDR_FRAME = "/mocap/Frame"
ADDR_CONTACTS = "/mocap/Contacts"


def humanoid_bone_names(canonical: tuple[str, ...]) -> tuple[str, ...]:
    """Unity HumanBodyBones names of mocap's canonical joints (the `unity` rig preset)."""
    from mocap.presets import load_preset

    preset = load_preset("unity")
    return tuple(preset.bone_name(n) for n in canonical)


def unity_from_internal(positions_m: np.ndarray, quats_xyzw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 3) positions and (..., 4) quaternions, internal frame -> VMC/Unity's (and back:
    the map is its own inverse)."""
    return np.asarray(positions_m) * UNITY_FROM_INTERNAL_POSITION, np.asarray(quats_xyzw) * UNITY_FROM_INTERNAL_QUAT


@dataclass(frozen=True)
class FrameStamp:
    """What the /mocap/Frame message carries."""

    frame_index: int
    time_s: float  # media time of the frame
    wall_s: float  # wall clock (time.time()) when the frame was available (decoded / grabbed)
    settled: bool = True
    held: bool = False


def frame_bundle(bone_names: tuple[str, ...], local_offsets_m: np.ndarray, rotations_xyzw: np.ndarray,
                 root_position_m: np.ndarray, stamp: FrameStamp, contacts: np.ndarray | None = None) -> bytes:
    """One frame as a VMC bundle (bytes of one UDP datagram).

    bone_names: (J,) HumanBodyBones names, parents first, index 0 the hips; local_offsets_m
    (J, 3) each bone's rest offset in its parent's frame; rotations_xyzw (J, 4) local;
    root_position_m (3,) the hips' world position. All in mocap's internal frame: the
    conversion to VMC's (Unity's) happens here.
    """
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder

    offsets = np.array(local_offsets_m, dtype=float)
    offsets[0] = root_position_m
    pos_u, rot_u = unity_from_internal(offsets, rotations_xyzw)
    bundle = OscBundleBuilder(IMMEDIATELY)
    bundle.add_content(_message(ADDR_OK, [1, 3, 0, 0 if stamp.held else 1]))
    bundle.add_content(_message(ADDR_TIME, [float(stamp.time_s)]))
    bundle.add_content(_message(ADDR_ROOT, ["root", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]))
    for name, p, q in zip(bone_names, pos_u, rot_u):
        bundle.add_content(_message(ADDR_BONE, [name, *map(float, p), *map(float, q)]))
    frac, whole = math.modf(stamp.wall_s)
    bundle.add_content(_message(ADDR_FRAME, [STREAM_VERSION, int(stamp.frame_index), float(stamp.time_s),
                                             int(whole), int(round(frac * 1e6)), int(stamp.settled), int(stamp.held)]))
    if contacts is not None:
        bundle.add_content(_message(ADDR_CONTACTS, [int(bool(c)) for c in contacts]))
    return bundle.build().dgram


def _message(address: str, args: list) -> object:
    from pythonosc.osc_message_builder import OscMessageBuilder

    m = OscMessageBuilder(address)
    for a in args:
        m.add_arg(a, "f" if isinstance(a, float) else None)
    return m.build()


# --------------------------------------------------------------------------- sending


@dataclass
class Target:
    host: str
    port: int
    sock: socket.socket
    refused: int = 0  # sends refused (ICMP port unreachable: nothing listening)
    sent: int = 0
    streak: int = 0  # sends since the last refusal
    heard: bool = False  # LISTENING_STREAK sends in a row went through after a refusal

    @property
    def reachable(self) -> bool:
        """False only when the system reported nothing listening and it never changed. (On
        Linux a send after a refused one goes out again, so a dead port refuses every
        other send; a run of LISTENING_STREAK unrefused sends means someone listens.)"""
        return self.refused == 0 or self.heard

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


class VmcSender:
    """Sends datagrams to several receivers at once. `warn(text)` is called once per
    receiver the first time the system reports that nothing is listening there.

    Raises StreamError for a host that cannot be resolved or a port out of range.
    """

    def __init__(self, targets: list[tuple[str, int]], warn: Callable[[str], None] | None = None) -> None:
        self.warn = warn or (lambda text: None)
        self.targets: list[Target] = []
        for host, port in targets:
            if not 0 < int(port) < 65536:
                raise StreamError(f"receiver {host}:{port}: a port is a number from 1 to 65535")
            try:
                family, kind, proto, _, address = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)[0]
            except (socket.gaierror, UnicodeError) as exc:
                raise StreamError(f"receiver {host}:{port}: cannot resolve the host ({exc})") from exc
            sock = socket.socket(family, kind, proto)
            try:
                sock.connect(address)  # connected: the kernel reports "port unreachable" on a later send
            except OSError as exc:
                sock.close()
                raise StreamError(f"receiver {host}:{port}: cannot send there ({exc.strerror or exc})") from exc
            self.targets.append(Target(host, int(port), sock))

    def send(self, datagram: bytes) -> None:
        for t in self.targets:
            try:
                t.sock.send(datagram)
                t.sent += 1
                t.streak += 1
                if t.refused and not t.heard and t.streak >= LISTENING_STREAK:
                    t.heard = True
                    self.warn(f"{t.label} is listening now")
            except ConnectionRefusedError:
                t.refused += 1
                t.streak = 0
                if t.refused == 1 or t.heard:
                    t.heard = False
                    self.warn(f"nothing is listening at {t.label} (port unreachable); still sending")
            except OSError as exc:  # network down, message too long: say so, keep streaming
                t.refused += 1
                t.streak = 0
                if t.refused == 1:
                    self.warn(f"cannot send to {t.label} ({exc.strerror or exc}); still trying")

    def close(self) -> None:
        for t in self.targets:
            t.sock.close()

    def __enter__(self) -> VmcSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --------------------------------------------------------------------------- receiving


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
        return self.host not in ("127.0.0.1", "localhost", "::1")

    def start(self) -> None:
        """Bind and start the thread. Raises StreamError (port in use, bad address)."""
        try:
            family, kind, proto, _, address = socket.getaddrinfo(self.host, int(self.port), type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(family, kind, proto)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise StreamError(f"cannot listen on {self.host}:{self.port}: {exc}") from exc
        try:
            sock.bind(address)
        except OSError as exc:
            sock.close()
            reason = "the port is in use by another program" if exc.errno in (98, 48, 10048) else (exc.strerror or str(exc))
            raise StreamError(f"cannot listen on {self.host}:{self.port}: {reason}; choose another port") from exc
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
    "DEFAULT_PORT", "STREAM_VERSION", "FrameStamp", "VmcFrame", "VmcReceiver", "VmcSender", "ReceiverStats",
    "frame_bundle", "humanoid_bone_names", "parse_frame", "unity_from_internal", "MalformedPacket", "OldVersion",
]
