"""A hand-placed performer: BlazePose-named landmarks of a T-pose, as LandmarkTracks.

Shared by the solver tests; import from here, not from another test file.
"""

from __future__ import annotations

import numpy as np

from mocap.data import BLAZEPOSE_NAMES, LandmarkTracks

# A T-posed performer, 1.7 m-ish, facing +Z, left = +X (docs/conventions.md).
T_POSE = {
    "left_hip": (0.10, 0.95, 0), "right_hip": (-0.10, 0.95, 0),
    "left_shoulder": (0.18, 1.45, 0), "right_shoulder": (-0.18, 1.45, 0),
    "left_elbow": (0.46, 1.45, 0), "right_elbow": (-0.46, 1.45, 0),
    "left_wrist": (0.72, 1.45, 0), "right_wrist": (-0.72, 1.45, 0),
    "left_index": (0.81, 1.45, 0.03), "right_index": (-0.81, 1.45, 0.03),
    "left_pinky": (0.80, 1.45, -0.03), "right_pinky": (-0.80, 1.45, -0.03),
    "left_thumb": (0.76, 1.45, 0.05), "right_thumb": (-0.76, 1.45, 0.05),
    "left_knee": (0.10, 0.52, 0), "right_knee": (-0.10, 0.52, 0),
    "left_ankle": (0.10, 0.09, 0), "right_ankle": (-0.10, 0.09, 0),
    "left_heel": (0.10, 0.02, -0.06), "right_heel": (-0.10, 0.02, -0.06),
    "left_foot_index": (0.10, 0.02, 0.15), "right_foot_index": (-0.10, 0.02, 0.15),
    "left_ear": (0.07, 1.62, 0.0), "right_ear": (-0.07, 1.62, 0.0),
    "nose": (0, 1.62, 0.10),
    "left_eye_inner": (0.015, 1.65, 0.09), "right_eye_inner": (-0.015, 1.65, 0.09),
    "left_eye": (0.03, 1.65, 0.085), "right_eye": (-0.03, 1.65, 0.085),
    "left_eye_outer": (0.045, 1.65, 0.08), "right_eye_outer": (-0.045, 1.65, 0.08),
    "mouth_left": (0.025, 1.58, 0.085), "mouth_right": (-0.025, 1.58, 0.085),
}


def tracks_from(world: np.ndarray, fps: float = 30.0) -> LandmarkTracks:
    """LandmarkTracks of world landmarks (T, 33, 3): all seen, image = world x/y (unused)."""
    n = len(world)
    return LandmarkTracks(
        BLAZEPOSE_NAMES, fps, np.arange(n) / fps, np.arange(n), (640, 480),
        world[..., :2], world, np.ones((n, 33)), np.ones(n, bool),
    )


def t_pose_world(n: int) -> np.ndarray:
    """(n, 33, 3) the T-pose, hip-centred like BlazePose's world landmarks."""
    pts = np.array([T_POSE[name] for name in BLAZEPOSE_NAMES], float)
    pelvis = 0.5 * (np.array(T_POSE["left_hip"]) + np.array(T_POSE["right_hip"]))
    return np.repeat((pts - pelvis)[None], n, axis=0)
