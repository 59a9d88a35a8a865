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
two /mocap/ messages are safe to send to any of them. The receiving side (VmcReceiver) is
in receive.py, which the Blender add-on carries.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mocap.errors import StreamError
from mocap.live.receive import (  # noqa: F401 - the receiving side, re-exported
    ADDR_BONE, ADDR_CONTACTS, ADDR_FRAME, ADDR_OK, ADDR_ROOT, ADDR_TIME, DEFAULT_PORT, STREAM_VERSION,
    MalformedPacket, OldVersion, ReceiverError, ReceiverStats, VmcFrame, VmcReceiver, parse_frame, unity_from_internal,
)

LISTENING_STREAK = 5  # unrefused sends in a row after a refusal: the receiver is back


def humanoid_bone_names(canonical: tuple[str, ...]) -> tuple[str, ...]:
    """Unity HumanBodyBones names of mocap's canonical joints (the `unity` rig preset)."""
    from mocap.presets import load_preset

    preset = load_preset("unity")
    return tuple(preset.bone_name(n) for n in canonical)


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


__all__ = [
    "DEFAULT_PORT", "STREAM_VERSION", "FrameStamp", "VmcFrame", "VmcReceiver", "VmcSender", "ReceiverStats",
    "frame_bundle", "humanoid_bone_names", "parse_frame", "unity_from_internal", "MalformedPacket", "OldVersion",
]
