"""The frozen data types that travel between pipeline stages.

Every array states its shape with fixed letters: T frames, L landmarks, J joints.
Every type carries its own `fps`, names and units; no stage assumes a default.
Conventions (frame, units, quaternion order) are in docs/conventions.md:
right-handed, Y up, metres, seconds; the performer faces +Z when facing the camera;
quaternions are scalar-last (x, y, z, w) as in scipy.spatial.transform.Rotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# BlazePose GHUM's 33 landmarks, in the model's output order.
BLAZEPOSE_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner",
    "right_eye", "right_eye_outer", "left_ear", "right_ear", "mouth_left",
    "mouth_right", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index",
    "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)


# MediaPipe Hands' 21 landmarks, in the model's output order.
HAND_LANDMARKS: tuple[str, ...] = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
SIDES = ("left", "right")  # hands: the performer's own
FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def hand_point(side: str, landmark: str) -> str:
    """The track name of one hand landmark, e.g. hand_point("left", "index_tip")."""
    return f"{side}_hand_{landmark}"


def hand_landmark_names() -> tuple[str, ...]:
    """The 42 names of both hands' landmarks, left hand first, each in HAND_LANDMARKS order."""
    return tuple(hand_point(side, n) for side in SIDES for n in HAND_LANDMARKS)


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as the viewer sees it (rotation metadata applied).

    width_px/height_px are the displayed size: a portrait phone clip stored as
    1920x1080 with rotation 90 reports 1080x1920. `fps` comes from the container
    (average rate), cross-checked against frame timestamps. rotation_deg is the clockwise
    rotation applied for display (a portrait phone clip: 90), as in the `rotate` tag.
    """

    path: Path
    width_px: int
    height_px: int
    fps: float
    frame_count: int
    duration_s: float
    rotation_deg: int = 0
    codec: str = ""
    variable_frame_rate: bool = False
    content_hash: str = ""  # sha256 of the file's bytes (hex); keys the landmark cache
    focal_length_35mm_mm: float | None = None  # 35 mm-equivalent focal length, when the file says


@dataclass(frozen=True)
class Frame:
    """One decoded frame. `rgb` is (H, W, 3) uint8 in displayed orientation."""

    index: int  # 0-based index in the source video
    time_s: float  # presentation time from the container's timestamps
    rgb: np.ndarray


@dataclass(frozen=True)
class LandmarkTracks:
    """Per-frame landmarks for one person, one row per input frame (none dropped).

    Frames where no person was detected have detected=False, NaN positions and
    visibility 0. `world_m` is already in mocap's internal frame (Y up, performer
    facing +Z when facing the camera, metres, origin at the hip centre); the
    conversion from MediaPipe's frame happens once, in the MediaPipe adapter.
    """

    names: tuple[str, ...]  # L
    fps: float
    times_s: np.ndarray  # (T,) presentation time of each frame, seconds
    frame_indices: np.ndarray  # (T,) int, index of each frame in the source video
    image_size_px: tuple[int, int]  # (W, H) of the displayed image
    image_xy_px: np.ndarray  # (T, L, 2) pixels, origin top-left, x right, y down; NaN if unseen
    world_m: np.ndarray  # (T, L, 3) metres, internal frame, hip-centred; NaN if unseen
    visibility: np.ndarray  # (T, L) in [0, 1]; 0 where unseen
    detected: np.ndarray  # (T,) bool: a person was found in this frame
    source: str = ""  # e.g. "mediapipe-0.10.21/blazepose-full"

    @property
    def n_frames(self) -> int:
        return int(self.times_s.shape[0])

    def index(self, name: str) -> int:
        return self.names.index(name)

    def world(self, name: str) -> np.ndarray:
        """(T, 3) world position of one landmark."""
        return self.world_m[:, self.index(name)]

    def image(self, name: str) -> np.ndarray:
        """(T, 2) pixel position of one landmark."""
        return self.image_xy_px[:, self.index(name)]


@dataclass(frozen=True)
class Skeleton:
    """A joint hierarchy and its rest pose.

    Joints are ordered parents-first (parents[j] < j; the root has parent -1).
    offsets_m[j] is joint j's rest position relative to its parent, in the parent's
    rest frame; for the root it is the root's rest position. In mocap's own rigs the
    rest pose is a T-pose with every joint's rest frame equal to the world frame.
    end_sites_m maps a joint name to the offset of its BVH "End Site".
    """

    names: tuple[str, ...]  # J
    parents: tuple[int, ...]  # J
    offsets_m: np.ndarray  # (J, 3)
    end_sites_m: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def children(self, j: int) -> list[int]:
        return [c for c, p in enumerate(self.parents) if p == j]


@dataclass(frozen=True)
class FootContacts:
    """Per-frame foot contact flags, named by contact point (the rig's heel_contact /
    toe_contact names, e.g. "left_heel"), at the frame rate of the motion they belong to."""

    names: tuple[str, ...]  # C
    in_contact: np.ndarray  # (T, C) bool
    fps: float


@dataclass(frozen=True)
class Motion:
    """Animation of a Skeleton: the output of the solver and the input of every writer.

    rotations_xyzw[t, j] is joint j's local rotation (relative to its parent's frame,
    applied to its rest frame), scalar-last. root_position_m[t] is the root joint's
    position in the world. gaps lists (first, last) frame ranges, inclusive, that were
    filled rather than observed (no person detected), so writers and reports can say so.
    """

    skeleton: Skeleton
    fps: float
    root_position_m: np.ndarray  # (T, 3)
    rotations_xyzw: np.ndarray  # (T, J, 4)
    start_time_s: float = 0.0
    gaps: tuple[tuple[int, int], ...] = ()
    contacts: FootContacts | None = None
    name: str = ""

    @property
    def n_frames(self) -> int:
        return int(self.root_position_m.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps
