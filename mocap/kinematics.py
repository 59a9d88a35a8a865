"""Forward kinematics, unit vectors and rotation helpers (scipy does the rotation maths).

Quaternions are scalar-last (x, y, z, w), the order of scipy.spatial.transform.Rotation.
Where a rotation could be returned in several representations, the name says which:
`rotation_from_to` returns scipy Rotations (callers take `.as_matrix()` / `.as_quat()`).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from mocap.data import Motion, Skeleton


def global_transforms(
    skeleton: Skeleton, root_position_m: np.ndarray, rotations_xyzw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """World positions (T, J, 3) and world rotations (T, J, 4, xyzw) of every joint.

    Rotations are composed as matrices (one scipy conversion in, one out), so the cost per
    joint is a small batched matrix product: a live frame (T = 1) costs well under 1 ms."""
    n_frames, n_joints = rotations_xyzw.shape[:2]
    local = Rotation.from_quat(np.asarray(rotations_xyzw, dtype=float).reshape(-1, 4)).as_matrix()
    local = local.reshape(n_frames, n_joints, 3, 3)
    world = np.empty_like(local)
    positions = np.zeros((n_frames, n_joints, 3))
    offsets = np.asarray(skeleton.offsets_m, dtype=float)
    for j, parent in enumerate(skeleton.parents):
        if parent < 0:
            positions[:, j] = root_position_m
            world[:, j] = local[:, j]
        else:
            positions[:, j] = positions[:, parent] + world[:, parent] @ offsets[j]
            world[:, j] = world[:, parent] @ local[:, j]
    quats = Rotation.from_matrix(world.reshape(-1, 3, 3)).as_quat().reshape(n_frames, n_joints, 4)
    return positions, quats


def joint_positions(motion: Motion) -> np.ndarray:
    """(T, J, 3) world positions of the motion's joints, metres."""
    return global_transforms(motion.skeleton, motion.root_position_m, motion.rotations_xyzw)[0]


def make_continuous(quats_xyzw: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 so consecutive quaternions lie in the same hemisphere.

    quats_xyzw: (T, ..., 4). q and -q are the same rotation; choosing the sign of
    each frame to agree with the previous one keeps interpolation and Euler
    conversion free of spurious 360-degree turns.
    """
    q = np.array(quats_xyzw, dtype=float, copy=True)
    for t in range(1, q.shape[0]):
        dots = np.sum(q[t] * q[t - 1], axis=-1, keepdims=True)
        q[t] = np.where(dots < 0, -q[t], q[t])
    return q


def quat_angle_deg(a_xyzw: np.ndarray, b_xyzw: np.ndarray) -> np.ndarray:
    """Angle in degrees of the rotation between a and b (q and -q treated as equal)."""
    dots = np.abs(np.sum(unit(a_xyzw) * unit(b_xyzw), axis=-1))
    return np.degrees(2.0 * np.arccos(np.clip(dots, 0.0, 1.0)))


def unit(v: np.ndarray) -> np.ndarray:
    """Vectors (..., D) scaled to length 1 along the last axis; zero vectors (norm < 1e-12)
    stay zero, so a degenerate direction never becomes NaN."""
    v = np.asarray(v, dtype=float)
    n = np.sqrt(np.sum(v * v, axis=-1, keepdims=True))  # np.linalg.norm's own formula, less overhead
    return v / np.where(n < 1e-12, 1.0, n)


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.cross of (..., 3) vectors, broadcast, without np.cross's axis handling (several times
    faster on the small arrays of one live frame; the same products)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                     a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)


def rotation_from_to(a: np.ndarray, b: np.ndarray) -> Rotation:
    """Smallest rotations (T) taking vectors a (T, 3) onto the directions of b (T, 3).

    Opposite vectors get a half turn about an axis perpendicular to a."""
    a, b = unit(a), unit(b)
    axis = cross(a, b)
    s = np.linalg.norm(axis, axis=-1)
    c = np.sum(a * b, axis=-1)
    helper = np.where(np.abs(a[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    perp = cross(a, helper)
    opposite = (s < 1e-12) & (c < 0)
    axis = np.where(opposite[:, None], perp, axis)
    norm = np.linalg.norm(axis, axis=-1)
    angle = np.where(opposite, np.pi, np.arctan2(s, c))
    rotvec = np.where(norm[:, None] > 1e-12, axis / np.maximum(norm, 1e-12)[:, None] * angle[:, None], 0.0)
    return Rotation.from_rotvec(rotvec)
