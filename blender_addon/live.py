"""Live mode seen from Blender: run `mocap live` and receive its VMC stream. No bpy here.

A LiveSession starts the receiver (mocap_receive.VmcReceiver: a background thread that keeps
only the newest frame, counts malformed and old-version packets and ignores them), then the
engine (`mocap live --camera N | --video FILE --host H --port P`) in a background process.
The add-on's timer (operators.py) calls `pose()` for the newest frame, retargeted through the
same Retargeter (bone map) as an offline conversion; while recording, `drain()` turns every
received frame into one key time on the scene's clock, from the stream's own timestamps.

The receiver binds 127.0.0.1 unless the user chooses another address; `listens_on_network`
says when it is reachable from other machines (the panel shows it).
"""

from __future__ import annotations

import collections
import subprocess
import threading
import time
from dataclasses import dataclass

import numpy as np

from .engine import Engine, end_process, keep_lines, start_engine
from .mocap_receive import CANONICAL_JOINTS, ReceiverError, VmcFrame, VmcReceiver, canonical_pose
from .mocap_retarget import SourceSkeleton, TargetAnimation

NAMES = tuple(c for c, _, _ in CANONICAL_JOINTS)
PARENTS = tuple(-1 if p is None else NAMES.index(p) for _, p, _ in CANONICAL_JOINTS)
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


class LiveError(Exception):
    """Live mode cannot start or stopped; the message is what the panel shows."""


@dataclass(frozen=True)
class LiveSettings:
    source: str = "camera"  # camera | video
    camera: int = 0
    video: str = ""
    host: str = "127.0.0.1"  # where the receiver listens
    port: int = 39539


def source_skeleton(offsets_m: np.ndarray) -> SourceSkeleton:
    """The performer's skeleton from a frame's bone offsets (J, 3) (canonical_pose): rest
    positions with the hips above the origin and the lowest joint on the floor."""
    offsets = np.array(offsets_m, dtype=float)
    offsets[0] = 0.0
    sk = SourceSkeleton.from_offsets(NAMES, PARENTS, offsets)
    lift = -float(sk.rest_m[:, 1].min())
    offsets[0] = (0.0, lift, 0.0)
    return SourceSkeleton.from_offsets(NAMES, PARENTS, offsets)


class LiveSession:
    """One live take: receiver + engine process. start() raises LiveError (port in use,
    engine missing); poll() returns None while the engine runs, else its last words."""

    def __init__(self, engine: Engine, settings: LiveSettings):
        self.engine = engine
        self.settings = settings
        self.receiver = VmcReceiver(host=settings.host, port=settings.port)
        self._proc: subprocess.Popen | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._thread: threading.Thread | None = None

    @property
    def listens_on_network(self) -> bool:
        return self.receiver.listens_on_network

    def command(self) -> list[str]:
        s = self.settings
        send_to = "127.0.0.1" if s.host in WILDCARD_HOSTS else s.host
        source = ["--camera", str(s.camera)] if s.source == "camera" else ["--video", s.video]
        return [self.engine.path, "live", *source, "--host", send_to, "--port", str(self.receiver.port), "--quiet"]

    def start(self) -> LiveSession:
        if self.settings.source == "video" and not self.settings.video:
            raise LiveError("choose a video file for Live, or switch the source to a camera")
        try:
            self.receiver.start()
        except ReceiverError as exc:
            raise LiveError(str(exc)) from None
        try:
            self._proc = start_engine(self.command(), subprocess.DEVNULL)
        except OSError as exc:
            self.receiver.stop()
            raise LiveError(f"could not start {self.engine.path}: {exc}") from None
        self._thread = threading.Thread(target=keep_lines, args=(self._proc.stderr, self._stderr), daemon=True)
        self._thread.start()
        return self

    def poll(self) -> str | None:
        """None while the engine streams; else why it stopped (its error line, or 'ended')."""
        proc = self._proc
        if proc is None or proc.poll() is None:
            return None
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        errors = [line for line in self._stderr if line.startswith("error:")]
        if proc.returncode == 0:
            return "the stream ended"
        return errors[-1].removeprefix("error: ") if errors else f"mocap live stopped (exit code {proc.returncode})"

    def stop(self) -> None:
        """End the engine (if still running) and the receiver. When the engine ended by itself,
        the datagrams it sent last are read first (until the socket has been quiet for 0.1 s)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            end_process(proc, timeout_s=3.0)
        elif proc is not None:
            deadline = time.monotonic() + 1.0
            seen = -1
            while self.receiver.stats.received != seen and time.monotonic() < deadline:
                seen = self.receiver.stats.received
                time.sleep(0.1)
        self.receiver.stop()

    def describe(self) -> str:
        st = self.receiver.stats
        bad = st.malformed + st.old_version
        return (f"{st.received} frames received, {st.shown} shown, {st.dropped + st.stale} dropped"
                + (f", {bad} bad packets ignored ({st.malformed} malformed, {st.old_version} old version)" if bad else ""))


class LivePoser:
    """Frames -> the target's pose channels through one Retargeter, rebuilt only when the
    performer's skeleton changes (while `mocap live` settles its bone lengths).

    make_retargeter(SourceSkeleton) -> Retargeter is the add-on's own (bone map of the armature)."""

    def __init__(self, make_retargeter):
        self.make_retargeter = make_retargeter
        self.retargeter = None
        self._offsets: np.ndarray | None = None
        self._origin: np.ndarray | None = None
        self._memo: tuple | None = None

    def pose(self, frame: VmcFrame) -> tuple[np.ndarray, np.ndarray]:
        """(basis (B, 4), location (B, 3)) of the target for one received frame (the newest frame
        is often also the last recorded one: it is retargeted once)."""
        if self._memo is not None and self._memo[0] is frame:
            return self._memo[1]
        result = self._pose(frame)
        self._memo = (frame, result)
        return result

    def _pose(self, frame: VmcFrame) -> tuple[np.ndarray, np.ndarray]:
        offsets, local, hips = canonical_pose(frame)
        if self._offsets is None or np.abs(offsets[1:] - self._offsets[1:]).max() > 1e-4:
            self.retargeter = self.make_retargeter(source_skeleton(offsets))
            self._offsets = offsets
        if self._origin is None:
            self._origin = hips.copy()
        sk = self.retargeter.source
        world = sk.world_rotations(local[None])[0]
        return self.retargeter.pose_frame(world, hips, origin_m=self._origin)


def continuous(quats_xyzw: np.ndarray) -> np.ndarray:
    """(T, B, 4) with each frame's signs flipped to agree with the previous frame's."""
    q = np.array(quats_xyzw, dtype=float, copy=True)
    for t in range(1, len(q)):
        flip = np.sum(q[t] * q[t - 1], axis=-1) < 0
        q[t, flip] *= -1.0
    return q


def live_animation(retargeter, fps: float, basis: list[np.ndarray], location: list[np.ndarray]) -> TargetAnimation:
    """Recorded poses (T of (B, 4) and (B, 3), in stream-time order) as a TargetAnimation for
    rig_io.write_action; heads/world_xyzw are not computed (zeros): nothing checks them here."""
    keyed_rot, keyed_loc = retargeter.keyed()
    b = np.stack(basis)
    n, n_bones = b.shape[:2]
    return TargetAnimation(
        names=retargeter.target.names, fps=float(fps), basis_xyzw=continuous(b), location=np.stack(location),
        keyed_rotation=keyed_rot, keyed_location=keyed_loc, heads=np.zeros((n, n_bones, 3)),
        world_xyzw=np.zeros((n, n_bones, 4)), scale=retargeter.scale,
    )
