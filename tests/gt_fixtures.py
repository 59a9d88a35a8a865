"""Ground truth of the rendered clips (../shared/data/synthetic/*.gt.npz), by joint name.

Shared by the tests that need true 3D joints; import from here, not from another test file.
Joints are always looked up by `joint_names` (GT names: pelvis, neck, head, l_shoulder ...
r_toe), never by position in the array.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap.camera import Camera, internal_from_cv

# GT joint -> the BlazePose landmark at (about) the same place.
LANDMARK_OF_GT = {
    "l_shoulder": "left_shoulder", "r_shoulder": "right_shoulder", "l_elbow": "left_elbow", "r_elbow": "right_elbow",
    "l_wrist": "left_wrist", "r_wrist": "right_wrist", "l_hip": "left_hip", "r_hip": "right_hip",
    "l_knee": "left_knee", "r_knee": "right_knee", "l_ankle": "left_ankle", "r_ankle": "right_ankle",
    "l_toe": "left_foot_index", "r_toe": "right_foot_index",
}


@dataclass(frozen=True)
class GroundTruth:
    """One clip's truth. joints_world: (T, J, 3) metres, Y up, floor at 0; joints_2d:
    (T, J, 2) pixels; camera_world_from_cam: (T, 4, 4); names: the J joint names."""

    names: tuple[str, ...]
    fps: float
    joints_world: np.ndarray
    joints_2d: np.ndarray
    camera_k: np.ndarray
    camera_world_from_cam: np.ndarray
    image_size: tuple[int, int]

    def world(self, name: str) -> np.ndarray:
        """(T, 3) world path of one GT joint."""
        return self.joints_world[:, self.names.index(name)]

    def camera(self) -> Camera:
        return Camera.from_K(self.camera_k, *self.image_size)

    def joints_cv(self) -> np.ndarray:
        """(T, J, 3) joints in OpenCV camera axes (x right, y down, z forward), metres."""
        inv = np.linalg.inv(self.camera_world_from_cam)
        return np.einsum("tij,tkj->tki", inv[:, :3, :3], self.joints_world) + inv[:, None, :3, 3]

    def joints_camera_internal(self) -> np.ndarray:
        """(T, J, 3) joints relative to the camera in mocap's internal frame (camera at the origin)."""
        return internal_from_cv(self.joints_cv())


def load_ground_truth(shared_data: Path, clip: str) -> GroundTruth:
    """The ground truth of ../shared/data/synthetic/<clip>.gt.npz."""
    with np.load(shared_data / "synthetic" / f"{clip}.gt.npz") as gt:
        joints = gt["joints_world"].astype(float)
        m = gt["camera_world_from_cam"].astype(float)
        m = m if m.ndim == 3 else np.repeat(m[None], len(joints), axis=0)
        return GroundTruth(
            names=tuple(str(n) for n in gt["joint_names"]),
            fps=float(gt["fps"]),
            joints_world=joints,
            joints_2d=gt["joints_2d"].astype(float),
            camera_k=gt["camera_K"].astype(float),
            camera_world_from_cam=m,
            image_size=tuple(int(x) for x in gt["image_size"]),
        )
