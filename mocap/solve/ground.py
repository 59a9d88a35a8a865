"""The floor: a plane fitted to where the feet rest, and the rotation that levels it.

Input is every landmark relative to the camera (world landmarks + root translation,
internal frame), so a camera that looks down at the performer sees a floor that is
tilted in its own frame. The floor is found from *support points*: in each frame, the
lowest of the four foot points (heels and toe tips, "lowest" along a first guess of up)
of a foot that is nearly still (slower than the clip's 40th percentile of foot speeds,
and under 0.5 m/s). A plane is fitted to those by RANSAC (3 cm inlier band) and then by
least squares on the inliers, regularised toward the first guess of up:

    n = argmin  n' (C + kappa (I - u0 u0')) n,   |n| = 1

where C is the inliers' covariance and kappa = (15 cm)^2. When the feet travel over the
floor (walking, stepping), C spans the plane and decides n; when the performer stays on
the spot, kappa dominates and n stays near the first guess. kappa is that large because
single-camera depth is noisy along the viewing ray (the root's distance is good to 2-3%,
5-7 cm at 2.7 m): on the spot, that scatter alone would tilt a free plane fit toward the
ray to the feet, 20-30 degrees on the rendered clips. That guess u0 is the performer's median body axis (pelvis -> neck base),
a good vertical for standing footage, from which camera pitch and roll are read.

Levelling is the smallest rotation taking n to +Y (no change of heading), followed by a
shift putting the floor at height 0; see `Ground.apply`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap.kinematics import rotation_from_to
from mocap.rig import RigTemplate, derived_point, require

@dataclass(frozen=True)
class GroundConfig:
    inlier_m: float = 0.03  # RANSAC band around the plane
    prior_m: float = 0.15  # kappa = prior_m^2: spread below this leaves the first guess of up
    still_percentile: float = 40.0  # support points: feet slower than this percentile ...
    max_speed_m_s: float = 0.5  # ... and than this speed
    ransac_iterations: int = 200
    seed: int = 0


@dataclass(frozen=True)
class Ground:
    """The floor in the camera-relative frame and the transform that levels it.

    normal: (3,) unit up vector of the floor in the camera-relative internal frame;
    height_m: the floor's offset along it (points p on the floor have normal . p = height_m);
    rotation: (3, 3) R_level_from_cam, the smallest rotation taking `normal` to +Y.
    n_support: support points used (inliers).
    """

    normal: np.ndarray
    height_m: float
    rotation: np.ndarray
    n_support: int

    @property
    def tilt_deg(self) -> float:
        """Angle between the floor's normal and the camera's up (+Y): camera pitch and roll."""
        return float(np.degrees(np.arccos(np.clip(self.normal[1], -1.0, 1.0))))

    def apply(self, points_m: np.ndarray) -> np.ndarray:
        """(..., 3) camera-relative points -> levelled frame with the floor at height 0."""
        out = np.asarray(points_m, dtype=float) @ self.rotation.T
        out[..., 1] -= self.height_m
        return out

    def rotate(self, vectors_m: np.ndarray) -> np.ndarray:
        """(..., 3) directions or hip-centred offsets -> levelled frame (rotation only)."""
        return np.asarray(vectors_m, dtype=float) @ self.rotation.T


def body_up(points_m: dict[str, np.ndarray], rig: RigTemplate) -> np.ndarray:
    """(3,) median unit direction pelvis -> neck base (rig.trunk) over the clip (first guess of up)."""
    bottom, top = rig.trunk
    axis = derived_point(rig, top, points_m) - derived_point(rig, bottom, points_m)
    axis = axis[np.isfinite(axis).all(axis=1)]
    if not len(axis):
        return np.array([0.0, 1.0, 0.0])
    axis = axis / np.linalg.norm(axis, axis=1, keepdims=True)
    up = np.median(axis, axis=0)
    return up / np.linalg.norm(up)


def support_points(
    points_m: dict[str, np.ndarray], up: np.ndarray, fps: float, rig: RigTemplate, cfg: GroundConfig
) -> np.ndarray:
    """(N, 3) lowest foot point (rig.floor_points) of each frame in which that foot is nearly still."""
    feet = np.stack([points_m[n] for n in rig.floor_points], axis=1)  # (T, 4, 3)
    n_frames = feet.shape[0]
    if n_frames < 2:
        return feet.reshape(-1, 3)[np.isfinite(feet.reshape(-1, 3)).all(1)]
    vel = np.gradient(feet, axis=0) * fps
    horizontal = vel - (vel @ up)[..., None] * up
    speed = np.linalg.norm(horizontal, axis=-1)  # (T, 4)
    finite = np.isfinite(feet).all(-1) & np.isfinite(speed)
    if not finite.any():
        return np.zeros((0, 3))
    limit = min(np.percentile(speed[finite], cfg.still_percentile), cfg.max_speed_m_s)
    height = np.where(finite, feet @ up, np.inf)
    lowest = np.argmin(height, axis=1)
    rows = np.arange(n_frames)
    ok = finite[rows, lowest] & (speed[rows, lowest] <= limit)
    return feet[rows[ok], lowest[ok]]


def fit_plane(
    points: np.ndarray, up0: np.ndarray, cfg: GroundConfig = GroundConfig()
) -> tuple[np.ndarray, float, np.ndarray]:
    """Robust plane through (N, 3) points: (unit normal near up0, offset, inlier mask)."""
    up0 = up0 / np.linalg.norm(up0)
    n_points = len(points)
    if n_points == 0:
        return up0, 0.0, np.zeros(0, bool)
    best = np.abs(points @ up0 - np.median(points @ up0)) < cfg.inlier_m
    if n_points >= 3:
        rng = np.random.default_rng(cfg.seed)
        for _ in range(cfg.ransac_iterations):
            a, b, c = points[rng.choice(n_points, 3, replace=False)]
            normal = np.cross(b - a, c - a)
            norm = np.linalg.norm(normal)
            if norm < 1e-9:
                continue
            normal = normal / norm
            if normal @ up0 < np.cos(np.radians(45.0)):  # a floor is never that far off up
                if -normal @ up0 < np.cos(np.radians(45.0)):
                    continue
                normal = -normal
            inliers = np.abs((points - a) @ normal) < cfg.inlier_m
            if inliers.sum() > best.sum():
                best = inliers
    if best.sum() == 0:
        best = np.ones(n_points, bool)
    normal = _regularised_normal(points[best], up0, cfg.prior_m**2)
    height = float(np.median(points[best] @ normal))
    return normal, height, best


def _regularised_normal(points: np.ndarray, up0: np.ndarray, kappa: float) -> np.ndarray:
    centred = points - points.mean(axis=0)
    cov = centred.T @ centred / max(len(points), 1)
    # Depth from one camera is noisy along the viewing ray (the camera is at the origin):
    # remove that expected scatter so it cannot masquerade as floor extent.
    m = cov + kappa * (np.eye(3) - np.outer(up0, up0))
    w, v = np.linalg.eigh(m)
    normal = v[:, 0]
    return normal if normal @ up0 >= 0 else -normal


def fit_ground(
    points_m: dict[str, np.ndarray], fps: float, rig: RigTemplate, cfg: GroundConfig = GroundConfig()
) -> Ground:
    """The floor under camera-relative landmarks: name -> (T, 3) internal frame, metres.

    Needs the rig's trunk (its points, or the landmarks they derive from) and floor points
    (heels and toe tips); raises RigError when one is missing.
    """
    require(rig, rig.floor_points, points_m, "the points given to fit_ground")
    up0 = body_up(points_m, rig)
    support = support_points(points_m, up0, fps, rig, cfg)
    normal, height, inliers = fit_plane(support, up0, cfg)
    if len(support) == 0:  # no foot seen still: the floor under the lowest foot point seen
        feet = np.stack([points_m[n] for n in rig.floor_points], axis=1).reshape(-1, 3)
        feet = feet[np.isfinite(feet).all(1)]
        height = float(np.min(feet @ normal)) if len(feet) else 0.0
    level = rotation_from_to(normal[None], np.array([[0.0, 1.0, 0.0]]))[0].as_matrix()  # R_level_from_cam
    return Ground(normal, height, level, int(inliers.sum()))


__all__ = ["Ground", "GroundConfig", "fit_ground", "fit_plane", "body_up", "support_points"]
