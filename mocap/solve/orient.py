"""World orientation of every rig joint, per frame, from landmark-derived points.

Each joint's frame is built from two directions (docs/conventions.md, "Rig data"):
a primary axis that follows one segment exactly and a secondary axis that follows another
as closely as orthogonality allows. Because the rig's rest frames equal the world frame,
the matrix whose columns are the observed axes *is* the joint's world rotation.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from mocap.kinematics import cross, unit
from mocap.rig import AxisSpec, RigTemplate

# A limb whose bend angle is below BEND_LOW_DEG takes its twist from `secondary`;
# above BEND_HIGH_DEG from `bend`; in between, a blend. Landmark noise makes the bend
# plane of a nearly straight limb meaningless, hence the fallback.
BEND_LOW_DEG = 12.0
BEND_HIGH_DEG = 35.0

_CYCLIC = {(0, 1), (1, 2), (2, 0)}


def _perp(v: np.ndarray, axis_dir: np.ndarray) -> np.ndarray:
    """Component of v (T, 3) perpendicular to the unit vectors axis_dir (T, 3)."""
    return v - np.sum(v * axis_dir, axis=-1, keepdims=True) * axis_dir


def _hold_degenerate(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Unit vectors of v; where v is ~0, the last good one (or `fallback` before any)."""
    norms = np.linalg.norm(v, axis=-1)
    out = unit(v)
    last = fallback
    for t in range(len(v)):
        if norms[t] < 1e-6:
            out[t] = last
        else:
            last = out[t]
    return out


def frame_from_axes(
    primary_axis: int, primary_dir: np.ndarray, secondary_axis: int, secondary_dir: np.ndarray
) -> Rotation:
    """Rotations (T) whose `primary_axis` column is primary_dir (T, 3) and whose
    `secondary_axis` column is as close as possible to secondary_dir (T, 3)."""
    return Rotation.from_matrix(matrix_from_axes(primary_axis, primary_dir, secondary_axis, secondary_dir))


def matrix_from_axes(
    primary_axis: int, primary_dir: np.ndarray, secondary_axis: int, secondary_dir: np.ndarray
) -> np.ndarray:
    """frame_from_axes as (T, 3, 3) rotation matrices (columns = the frame's axes)."""
    e_a = unit(primary_dir)
    rest_secondary = np.eye(3)[secondary_axis]
    e_b = _hold_degenerate(_perp(secondary_dir, e_a), rest_secondary)
    e_b = unit(_perp(e_b, e_a))
    e_c = cross(e_a, e_b) if (primary_axis, secondary_axis) in _CYCLIC else cross(e_b, e_a)
    third_axis = 3 - primary_axis - secondary_axis
    matrices = np.empty((len(e_a), 3, 3))
    matrices[:, :, primary_axis] = e_a
    matrices[:, :, secondary_axis] = e_b
    matrices[:, :, third_axis] = e_c
    return matrices


def _direction(spec: AxisSpec, points: dict[str, np.ndarray]) -> np.ndarray:
    return spec.sign * (points[spec.end] - points[spec.start])


def bend_weight(primary_dir: np.ndarray, bend_dir: np.ndarray) -> np.ndarray:
    """(T,) in [0, 1]: how much a limb is bent, from the angle between its two segments."""
    cos = np.sum(unit(primary_dir) * unit(bend_dir), axis=-1)
    sin = np.sqrt(np.clip(1.0 - cos**2, 0.0, 1.0))
    lo, hi = np.sin(np.radians(BEND_LOW_DEG)), np.sin(np.radians(BEND_HIGH_DEG))
    return np.clip((sin - lo) / (hi - lo), 0.0, 1.0)


def world_orientations(rig: RigTemplate, points: dict[str, np.ndarray]) -> dict[str, Rotation]:
    """Joint name -> world rotations (T) for every joint of the rig."""
    matrices: dict[str, np.ndarray] = {}
    pending_interp = []
    for joint in rig.joints:
        if joint.interp is not None:
            pending_interp.append(joint)
            continue
        if joint.primary is None:
            continue  # follows its parent: filled below
        primary = _direction(joint.primary, points)
        e_a = unit(primary)
        secondary = unit(_perp(_direction(joint.secondary, points), e_a))
        if joint.bend is not None:
            bend_vec = _direction(joint.bend, points)
            w = bend_weight(primary, bend_vec)[:, None]
            secondary = w * unit(_perp(bend_vec, e_a)) + (1.0 - w) * secondary
        matrices[joint.name] = matrix_from_axes(joint.primary.axis, primary, joint.secondary.axis, secondary)
    # One scipy conversion for every joint at once (the per-call overhead dominates a live frame).
    result: dict[str, Rotation] = {}
    if matrices:
        n_frames = len(next(iter(matrices.values())))
        every = Rotation.from_matrix(np.concatenate(list(matrices.values())))
        for k, name in enumerate(matrices):
            result[name] = every[k * n_frames : (k + 1) * n_frames]
    for joint in pending_interp:
        a, b, t = joint.interp
        ra, rb = result[a], result[b]
        # Per-frame slerp: relative rotation from a to b, scaled by t.
        rel = (ra.inv() * rb).as_rotvec()
        result[joint.name] = ra * Rotation.from_rotvec(t * rel)
    for joint in rig.joints:  # joints without an orientation rule follow their parent
        if joint.name not in result:
            result[joint.name] = result[joint.parent]
    return result


__all__ = ["world_orientations", "frame_from_axes", "matrix_from_axes", "bend_weight"]
