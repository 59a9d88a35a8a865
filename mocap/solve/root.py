"""Root travel: where the performer is relative to the camera, every frame.

BlazePose's world landmarks are metric and hip-centred but say nothing about where the
hips are. Their image landmarks do: for a pinhole camera, the translation t that puts the
metric pose X_i under its pixels u_i solves, per landmark,

    f (X_x + t_x) = (u - c_x) (X_z + t_z)        (OpenCV camera axes, z forward)
    f (X_y + t_y) = (v - c_y) (X_z + t_z)

which is linear in t: a 3x3 weighted least-squares problem per frame (weights = landmark
visibility), solved for all frames at once. Two Gauss-Newton steps on the true pixel error
follow (the linear form weights far points more). The depth t_z is set by the pose's metric
size against its size in pixels, so the root travels at the scale of the fitted skeleton.
The path is then smoothed with mocap.timeseries's Whittaker smoother at the clip's fps; depth,
which is 5-10 times noisier than the sideways position, gets a lower cut-off.

Output is in the internal frame with the camera at the origin (x right, y up, z toward the
camera, so a performer in front of the camera has z < 0); see mocap.camera for the
conversion to OpenCV axes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap.camera import Camera, cv_from_internal, internal_from_cv
from mocap.data import LandmarkTracks
from mocap.timeseries import whittaker_lambda, whittaker_smooth

# The landmarks whose 2D positions are reliable enough to place the body (no finger tips).
ROOT_LANDMARKS = (
    "nose", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)


@dataclass(frozen=True)
class RootConfig:
    cutoff_hz: float | None = 3.0  # sideways and vertical travel
    depth_cutoff_hz: float | None = 1.5  # travel toward / away from the camera (noisier)
    min_visibility: float = 0.3
    gauss_newton_steps: int = 2


def fit_root_translation(
    world_m: np.ndarray, image_px: np.ndarray, weights: np.ndarray, camera: Camera, steps: int = 2
) -> np.ndarray:
    """Per-frame translation placing a metric pose under its pixels: (T, 3) internal frame.

    world_m: (T, L, 3) internal frame, any origin (hip-centred for BlazePose);
    image_px: (T, L, 2); weights: (T, L) >= 0 (0 = unused). The result t is such that
    world_m + t, seen by `camera` at the origin, projects onto image_px. Frames with fewer
    than 3 usable landmarks (or a solution behind the camera) get NaN.
    """
    x = cv_from_internal(world_m)
    uv = np.asarray(image_px, dtype=float)
    w = np.where(np.isfinite(x).all(-1) & np.isfinite(uv).all(-1), np.asarray(weights, dtype=float), 0.0)
    x = np.nan_to_num(x)
    uv = np.nan_to_num(uv)
    f, cx, cy = camera.focal_px, camera.cx_px, camera.cy_px
    a = (uv[..., 0] - cx) / f  # (T, L): normalised image coordinates
    b = (uv[..., 1] - cy) / f
    # Rows per landmark: [1, 0, -a] t = a z - x ; [0, 1, -b] t = b z - y.
    zeros, ones = np.zeros_like(a), np.ones_like(a)
    rows = np.stack([np.stack([ones, zeros, -a], -1), np.stack([zeros, ones, -b], -1)], axis=2)  # (T, L, 2, 3)
    rhs = np.stack([a * x[..., 2] - x[..., 0], b * x[..., 2] - x[..., 1]], axis=2)  # (T, L, 2)
    t = _weighted_solve(rows, rhs, w)
    for _ in range(steps):
        p = x + t[:, None, :]
        z = np.where(p[..., 2] > 1e-3, p[..., 2], np.nan)
        ru = p[..., 0] / z - a  # normalised-coordinate residuals (pixels / f)
        rv = p[..., 1] / z - b
        jac = np.stack(
            [np.stack([1 / z, zeros, -p[..., 0] / z**2], -1), np.stack([zeros, 1 / z, -p[..., 1] / z**2], -1)], axis=2
        )
        good = np.isfinite(jac).all(axis=(-1, -2)) & np.isfinite(ru) & np.isfinite(rv)
        step = _weighted_solve(
            np.where(good[..., None, None], jac, 0.0),
            -np.where(good[..., None], np.stack([ru, rv], -1), 0.0),
            np.where(good, w, 0.0),
        )
        t = np.where(np.isfinite(step), t + step, t)
    n_used = (w > 0).sum(axis=1)
    t[(n_used < 3) | ~(t[:, 2] > 0)] = np.nan
    return internal_from_cv(t)


def _weighted_solve(rows: np.ndarray, rhs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per-frame weighted least squares. rows (T, L, R, 3), rhs (T, L, R), w (T, L) -> (T, 3)."""
    wr = rows * w[..., None, None]
    ata = np.einsum("tlri,tlrj->tij", wr, rows) + 1e-9 * np.eye(3)
    atb = np.einsum("tlri,tlr->ti", wr, rhs)
    return np.linalg.solve(ata, atb[..., None])[..., 0]


def smooth_root(root_m: np.ndarray, fps: float, cfg: RootConfig = RootConfig()) -> np.ndarray:
    """Whittaker-smooth a (T, 3) internal-frame camera-relative path; NaN frames are filled."""
    seen = np.isfinite(root_m).all(axis=1)
    if seen.sum() < 2:
        return np.where(seen.any(), np.nanmean(root_m, axis=0), np.zeros(3))[None].repeat(len(root_m), 0)
    weights = seen.astype(float)
    out = np.empty_like(root_m)
    for axes, cutoff in (((0, 1), cfg.cutoff_hz), ((2,), cfg.depth_cutoff_hz)):
        lam = whittaker_lambda(cutoff, fps) if cutoff else 1e-9
        out[:, axes] = whittaker_smooth(root_m[:, axes], weights, lam)
    return out


def root_weights(tracks: LandmarkTracks, min_visibility: float = 0.3) -> np.ndarray:
    """(T, L) weights for fit_root_translation: visibility on ROOT_LANDMARKS, 0 elsewhere."""
    vis = np.nan_to_num(tracks.visibility, nan=0.0)
    w = np.zeros_like(vis)
    for name in ROOT_LANDMARKS:
        i = tracks.index(name)
        w[:, i] = np.where(vis[:, i] >= min_visibility, vis[:, i], 0.0)
    return w * tracks.detected[:, None]


@dataclass(frozen=True)
class CameraRoot:
    """Where the hip centre is relative to the camera, every frame.

    path_m: (T, 3) internal frame, metres, camera at the origin (a performer in front of
    the camera has z < 0), smoothed; fps: the tracks' frame rate.
    """

    path_m: np.ndarray
    fps: float


def camera_root(tracks: LandmarkTracks, camera: Camera, cfg: RootConfig = RootConfig()) -> CameraRoot:
    """The smoothed hip-centre path of `tracks` relative to `camera`.

    tracks.world_m must be hip-centred (as BlazePose's are) and gap-filled (smooth_tracks).
    """
    raw = fit_root_translation(
        tracks.world_m, tracks.image_xy_px, root_weights(tracks, cfg.min_visibility), camera, cfg.gauss_newton_steps
    )
    return CameraRoot(smooth_root(raw, tracks.fps, cfg), tracks.fps)


__all__ = ["CameraRoot", "RootConfig", "camera_root", "fit_root_translation", "smooth_root", "root_weights"]
