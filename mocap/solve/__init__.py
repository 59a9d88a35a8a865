"""The solve stage: smoothed LandmarkTracks -> Motion on a humanoid rig.

    points   = rig points from landmarks            (mocap.rig.point_positions)
    world    = joint world orientations per frame   (orient.world_orientations)
    fitted   = bone lengths / rest offsets          (fit.fit_skeleton)
    local    = parent^-1 * world, sign-continuous   (here)
    root     = hip centre, lifted so the lowest foot point is on the floor (here)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scipy.spatial.transform import Rotation

from mocap.data import LandmarkTracks, Motion
from mocap.kinematics import global_transforms, make_continuous
from mocap.rig import RigTemplate, load_rig, point_positions
from mocap.smooth import find_gaps
from mocap.solve.fit import FittedRig, fit_skeleton, floor_height
from mocap.solve.orient import world_orientations


@dataclass(frozen=True)
class SolveResult:
    motion: Motion
    fitted: FittedRig


def solve_motion(tracks: LandmarkTracks, rig: RigTemplate | None = None, name: str = "") -> SolveResult:
    """Solve a Motion from smoothed, gap-filled tracks (see mocap.smooth.smooth_tracks)."""
    rig = rig or load_rig()
    points = point_positions(rig, tracks)
    world = world_orientations(rig, points)
    fitted = fit_skeleton(rig, points, world, seen=tracks.detected)
    if _aim_spine(fitted, world, points):
        fitted = fit_skeleton(rig, points, world, seen=tracks.detected)  # refit offsets in the aimed frames
    sk = fitted.skeleton

    world_q = np.stack([world[n].as_quat() for n in sk.names], axis=1)  # (T, J, 4)
    local_q = np.empty_like(world_q)
    for j, parent in enumerate(sk.parents):
        if parent < 0:
            local_q[:, j] = world_q[:, j]
        else:
            local_q[:, j] = (world[sk.names[parent]].inv() * world[sk.names[j]]).as_quat()
    local_q = make_continuous(local_q)

    # Root: the hip centre (world landmarks are hip-centred), lifted so that in every
    # frame the lowest foot point touches the floor at height 0.
    n_frames = tracks.n_frames
    root = np.zeros((n_frames, 3))
    root[:, :] = points[rig.joints[0].at]
    pos, rot = global_transforms(sk, root, local_q)
    root[:, 1] -= floor_height(fitted, pos, rot)

    gaps = tuple((g.first, g.last) for g in find_gaps(tracks.detected))
    motion = Motion(
        skeleton=sk,
        fps=tracks.fps,
        root_position_m=root,
        rotations_xyzw=local_q,
        start_time_s=float(tracks.times_s[0]) if n_frames else 0.0,
        gaps=gaps,
        name=name,
    )
    return SolveResult(motion, fitted)


SPINE_CHAIN = ("Spine", "Spine1", "Spine2")


def _aim_spine(fitted: FittedRig, world: dict[str, Rotation], points: dict[str, np.ndarray]) -> bool:
    """Turn the spine chain (in place in `world`) so that its forward-kinematics neck lands
    on the observed neck base. The interpolated spine bends smoothly between pelvis and
    chest; without this its end drifts a few cm from the shoulders in strong bends."""
    sk = fitted.skeleton
    if not all(n in sk.names for n in (*SPINE_CHAIN, "Neck")) or "neck_base" not in points:
        return False
    off = {n: sk.offsets_m[sk.index(n)] for n in (*SPINE_CHAIN, "Neck")}
    spine_base = points["pelvis"] + world["Hips"].apply(off["Spine"])
    fk_neck = (
        spine_base
        + world["Spine"].apply(off["Spine1"])
        + world["Spine1"].apply(off["Spine2"])
        + world["Spine2"].apply(off["Neck"])
    )
    have = fk_neck - spine_base
    want = points["neck_base"] - spine_base
    axis = np.cross(have, want)
    sin = np.linalg.norm(axis, axis=1)
    cos = np.sum(have * want, axis=1)
    angle = np.arctan2(sin, cos)
    rotvec = axis / np.where(sin < 1e-12, 1.0, sin)[:, None] * angle[:, None]
    correction = Rotation.from_rotvec(rotvec)  # shortest turn taking `have` onto `want`
    for name in SPINE_CHAIN:
        world[name] = correction * world[name]
    return True
