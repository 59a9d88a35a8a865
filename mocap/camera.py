"""The pinhole camera: intrinsics from the image size and a field of view; projection.

Field of view: `fov_deg` is the **diagonal** field of view of the displayed image. The
diagonal does not change when a phone is turned between portrait and landscape, and it is
how 35 mm-equivalent focal lengths are defined (a 43.27 mm full-frame diagonal), which is
what phone makers quote. Square pixels and the principal point at the image centre are
assumed (no lens distortion).

Without metadata, mocap assumes a phone's main camera: 26 mm equivalent, i.e. a diagonal
field of view of 2 atan(21.63 / 26) = 79.5 degrees (`DEFAULT_FOCAL_35MM_MM`).

Frames (docs/conventions.md). The camera works in OpenCV camera axes (x right, y down,
z forward, metres) and image pixels (origin top-left, pixel centres at integer
coordinates). mocap's internal frame, seen from the camera, is x right, y up, z toward
the camera, so the OpenCV camera frame is (x, -y, -z) of the internal one (a 180-degree
turn about X, its own inverse). The conversion is written once, here: `cv_from_internal`
and `internal_from_cv`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FULL_FRAME_DIAGONAL_MM = float(np.hypot(36.0, 24.0))  # 43.27 mm: the 35 mm-equivalence reference
DEFAULT_FOCAL_35MM_MM = 26.0  # the main ("wide") camera of most phones since ~2018
_FLIP = np.array([1.0, -1.0, -1.0])  # internal <-> OpenCV camera axes (its own inverse)


def cv_from_internal(points: np.ndarray) -> np.ndarray:
    """(..., 3) internal-frame vectors (x right, y up, z toward camera) -> OpenCV camera axes."""
    return np.asarray(points, dtype=float) * _FLIP


def internal_from_cv(points: np.ndarray) -> np.ndarray:
    """(..., 3) OpenCV camera-axis vectors (x right, y down, z forward) -> internal frame."""
    return np.asarray(points, dtype=float) * _FLIP


def diagonal_fov_deg_from_focal_35mm(focal_35mm_mm: float) -> float:
    """Diagonal field of view (degrees) of a 35 mm-equivalent focal length (mm)."""
    return float(np.degrees(2.0 * np.arctan(0.5 * FULL_FRAME_DIAGONAL_MM / focal_35mm_mm)))


DEFAULT_FOV_DEG = diagonal_fov_deg_from_focal_35mm(DEFAULT_FOCAL_35MM_MM)  # 79.5


def diagonal_fov_deg_from_K(camera_k: np.ndarray, width_px: int, height_px: int) -> float:
    """Diagonal field of view (degrees) of intrinsics K (3, 3) for an image of this size.

    Uses the mean of fx and fy; the inverse of Camera.from_fov for a centred principal point.
    """
    k = np.asarray(camera_k, dtype=float)
    focal_px = 0.5 * (k[0, 0] + k[1, 1])
    return float(np.degrees(2.0 * np.arctan(0.5 * np.hypot(width_px, height_px) / focal_px)))


@dataclass(frozen=True)
class Camera:
    """A pinhole camera in OpenCV conventions. K = [[f, 0, cx], [0, f, cy], [0, 0, 1]]."""

    width_px: int
    height_px: int
    focal_px: float
    cx_px: float
    cy_px: float

    @classmethod
    def from_fov(cls, width_px: int, height_px: int, fov_deg: float | None = None) -> Camera:
        """Camera for a displayed image of this size and diagonal field of view.

        fov_deg None means the default phone camera (DEFAULT_FOV_DEG). The principal point
        is the image centre ((W-1)/2, (H-1)/2 with pixel centres at integers).
        """
        fov = DEFAULT_FOV_DEG if fov_deg is None else float(fov_deg)
        if not 1.0 < fov < 179.0:
            raise ValueError(f"field of view {fov} degrees is not between 1 and 179")
        diagonal_px = float(np.hypot(width_px, height_px))
        focal = 0.5 * diagonal_px / np.tan(0.5 * np.radians(fov))
        return cls(int(width_px), int(height_px), float(focal), 0.5 * (width_px - 1), 0.5 * (height_px - 1))

    @classmethod
    def from_K(cls, camera_k: np.ndarray, width_px: int, height_px: int) -> Camera:
        """Camera from intrinsics (3, 3); fx and fy are averaged (square pixels)."""
        k = np.asarray(camera_k, dtype=float)
        return cls(int(width_px), int(height_px), float(0.5 * (k[0, 0] + k[1, 1])), float(k[0, 2]), float(k[1, 2]))

    @property
    def K(self) -> np.ndarray:
        """(3, 3) intrinsics matrix."""
        return np.array([[self.focal_px, 0.0, self.cx_px], [0.0, self.focal_px, self.cy_px], [0.0, 0.0, 1.0]])

    @property
    def fov_deg(self) -> float:
        """Diagonal field of view, degrees."""
        return diagonal_fov_deg_from_K(self.K, self.width_px, self.height_px)

    def project(self, points_cv: np.ndarray) -> np.ndarray:
        """(..., 3) points in OpenCV camera axes (metres, z > 0 in front) -> (..., 2) pixels.

        Points at or behind the camera (z <= 0) give NaN.
        """
        p = np.asarray(points_cv, dtype=float)
        z = p[..., 2:3]
        safe = np.where(z > 1e-9, z, np.nan)
        return np.concatenate(
            [self.focal_px * p[..., 0:1] / safe + self.cx_px, self.focal_px * p[..., 1:2] / safe + self.cy_px], axis=-1
        )

    def rays(self, pixels: np.ndarray) -> np.ndarray:
        """(..., 2) pixels -> (..., 3) rays in OpenCV camera axes with z = 1 (not unit length)."""
        uv = np.asarray(pixels, dtype=float)
        x = (uv[..., 0:1] - self.cx_px) / self.focal_px
        y = (uv[..., 1:2] - self.cy_px) / self.focal_px
        return np.concatenate([x, y, np.ones_like(x)], axis=-1)

    def unproject(self, pixels: np.ndarray, depth_m: np.ndarray) -> np.ndarray:
        """(..., 2) pixels and (...) depths (distance along the optical axis, metres)
        -> (..., 3) points in OpenCV camera axes."""
        return self.rays(pixels) * np.asarray(depth_m, dtype=float)[..., None]


@dataclass(frozen=True)
class CameraPose:
    """Where a camera stands in a motion's world (extrinsics), for re-projecting the motion.

    p_cv = R_cv_from_world @ p_world + t_cv_from_world_m, with p_world in mocap's internal
    frame (metres, Y up) and p_cv in OpenCV camera axes (what Camera.project takes).
    """

    R_cv_from_world: np.ndarray  # (3, 3)
    t_cv_from_world_m: np.ndarray  # (3,)

    @classmethod
    def from_world_from_camera(cls, R_world_from_cam: np.ndarray, t_world_from_cam_m: np.ndarray) -> CameraPose:
        """From the transform that took camera-relative internal points into the world:
        p_world = R_world_from_cam @ p_cam + t_world_from_cam_m (p_cam: internal axes)."""
        r = np.asarray(R_world_from_cam, dtype=float)
        t = np.asarray(t_world_from_cam_m, dtype=float)
        r_cv = np.diag(_FLIP) @ r.T
        return cls(r_cv, -r_cv @ t)

    @classmethod
    def look_at(cls, eye_m: np.ndarray, target_m: np.ndarray, up: np.ndarray = np.array([0.0, 1.0, 0.0])) -> CameraPose:
        """A camera at `eye_m` (world, metres) looking at `target_m`, image-up toward `up`."""
        eye, target = np.asarray(eye_m, dtype=float), np.asarray(target_m, dtype=float)
        z = target - eye  # OpenCV: +z forward
        z /= np.linalg.norm(z)
        x = np.cross(z, np.asarray(up, dtype=float))  # image right
        x /= np.linalg.norm(x)
        y = np.cross(z, x)  # image down
        r = np.stack([x, y, z])  # rows: camera axes in world
        return cls(r, -r @ eye)

    def cv_from_world(self, points_m: np.ndarray) -> np.ndarray:
        """(..., 3) world points (internal frame, metres) -> (..., 3) OpenCV camera axes."""
        return np.asarray(points_m, dtype=float) @ self.R_cv_from_world.T + self.t_cv_from_world_m

    @property
    def position_m(self) -> np.ndarray:
        """(3,) the camera's centre in the world."""
        return -self.R_cv_from_world.T @ self.t_cv_from_world_m


__all__ = [
    "Camera",
    "CameraPose",
    "DEFAULT_FOV_DEG",
    "DEFAULT_FOCAL_35MM_MM",
    "cv_from_internal",
    "internal_from_cv",
    "diagonal_fov_deg_from_K",
    "diagonal_fov_deg_from_focal_35mm",
]
