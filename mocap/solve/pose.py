"""The pose step: smoothed LandmarkTracks -> BodyPose (rig fitted, joint rotations, one FK).

    points   = rig points from landmarks             (mocap.rig.point_positions)
    world    = joint world orientations per frame    (orient.world_orientations)
    lengths  = fixed-direction bone lengths          (fit.fit_bone_lengths)
    world    = spine turned onto the neck base       (aim_spine, here)
    fitted   = rest offsets, end sites, heels        (fit.fit_skeleton)
    world    = every bone's twist rate limited       (twist.limit_twist_rate, rig.twist)
    local    = parent^-1 * world, sign-continuous    (here)
    FK       = joint positions relative to the root, world rotations (here, once)

Everything later in the solve (root placement, contacts, anchoring) moves only the root,
so it reuses this one forward-kinematics pass: a joint's world position is the root's
position plus its `positions_m` row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from mocap.data import LandmarkTracks, Motion, Skeleton
from mocap.kinematics import global_transforms, make_continuous, rotation_from_to
from mocap.rig import RigTemplate, point_positions, require
from mocap.solve.fit import BoneLengths, FittedRig, fit_bone_lengths, fit_skeleton, foot_points
from mocap.solve.orient import world_orientations
from mocap.solve.twist import limit_twist_rate


@dataclass(frozen=True)
class BodyPose:
    """The performer's fitted rig and its pose in every frame, root at the origin.

    rotations_xyzw: (T, J, 4) local joint rotations (relative to the parent), sign-continuous;
    positions_m: (T, J, 3) joint positions relative to the root joint, levelled world axes;
    world_xyzw: (T, J, 4) joint world rotations; root_point_m: (T, 3) the landmark point
    the root joint sits at (hip centre), hip-centred world landmarks' frame; fps.
    """

    fitted: FittedRig
    rotations_xyzw: np.ndarray
    positions_m: np.ndarray
    world_xyzw: np.ndarray
    root_point_m: np.ndarray
    fps: float

    @property
    def n_frames(self) -> int:
        return int(self.rotations_xyzw.shape[0])

    def lowest_foot_m(self) -> np.ndarray:
        """(T,) height of the lowest foot point relative to the root (heel markers, toes, toe tips)."""
        return foot_points(self.fitted, self.positions_m, self.world_xyzw)[..., 1].min(axis=1)

    def contact_paths_m(self) -> dict[str, np.ndarray]:
        """Contact point name -> (T, 3) path relative to the root (see contact_paths_m).
        Add the root to place them in the world."""
        return contact_paths_m(self.fitted, self.positions_m, self.world_xyzw)


def contact_paths_m(fitted: FittedRig, positions_m: np.ndarray, world_xyzw: np.ndarray) -> dict[str, np.ndarray]:
    """Contact point name -> (T, 3) path: each leg's heel marker (heel_contact) and toe joint
    (toe_contact). positions_m (T, J, 3) and world_xyzw (T, J, 4) are forward kinematics of
    fitted.skeleton (mocap.kinematics.global_transforms); the paths are in their frame."""
    sk = fitted.skeleton
    paths: dict[str, np.ndarray] = {}
    for leg in fitted.rig.legs:
        f = sk.index(leg.foot)
        heel = fitted.heel_offsets_m[leg.foot]
        paths[leg.heel_contact] = positions_m[:, f] + Rotation.from_quat(world_xyzw[:, f]).apply(heel)
        paths[leg.toe_contact] = positions_m[:, sk.index(leg.toe)]
    return paths


def motion_contact_paths_m(motion: Motion, fitted: FittedRig) -> dict[str, np.ndarray]:
    """Contact point name -> (T, 3) world path of a Motion on `fitted`'s skeleton (its own
    forward kinematics: for a motion after foot locking, or read back from a file)."""
    positions, world_xyzw = global_transforms(motion.skeleton, motion.root_position_m, motion.rotations_xyzw)
    return contact_paths_m(fitted, positions, world_xyzw)


def aim_spine(
    rig: RigTemplate, lengths: BoneLengths, world: dict[str, Rotation], points: dict[str, np.ndarray]
) -> dict[str, Rotation]:
    """World orientations with the spine chain turned so that its forward-kinematics neck
    lands on the observed neck point (rig.spine). The interpolated spine bends smoothly
    between pelvis and chest; without this its end drifts a few cm from the shoulders in
    strong bends. Needs only the chain's fixed-direction lengths (fit step 1)."""
    spine = rig.spine
    require(rig, (*spine.chain, spine.neck), lengths.lengths_m, "the fixed-length bones (spine)")
    require(rig, (rig.root_point, spine.neck_point), points, "the points")
    root_joint = rig.joints[0].name
    base = points[rig.root_point] + world[root_joint].apply(lengths.offset_m(spine.chain[0]))
    fk_neck = base
    for joint, child in zip(spine.chain, (*spine.chain[1:], spine.neck)):
        fk_neck = fk_neck + world[joint].apply(lengths.offset_m(child))
    correction = rotation_from_to(fk_neck - base, points[spine.neck_point] - base)
    aimed = dict(world)
    for name in spine.chain:
        aimed[name] = correction * world[name]
    return aimed


def fit_body(
    rig: RigTemplate, points: dict[str, np.ndarray], seen: np.ndarray | None = None
) -> tuple[BoneLengths, FittedRig, dict[str, Rotation]]:
    """The fitting half of solve_pose: world orientations, bone lengths, spine aim and rest
    offsets from points (name -> (T, 3)). Returns (lengths, fitted, aimed world orientations).
    The live solve (mocap.live.causal) runs it on its first second and then holds it."""
    world = world_orientations(rig, points)
    lengths = fit_bone_lengths(rig, points, seen=seen)
    world = aim_spine(rig, lengths, world, points)
    fitted = fit_skeleton(rig, points, world, lengths, seen=seen)
    return lengths, fitted, world


def pose_rotations(rig: RigTemplate, lengths: BoneLengths, points: dict[str, np.ndarray]) -> dict[str, Rotation]:
    """The posing half for bone lengths already fitted: world orientations with the spine
    aimed (name -> Rotation (T)). One frame at a time in the live solve."""
    return aim_spine(rig, lengths, world_orientations(rig, points), points)


def local_rotations(skeleton: Skeleton, world: dict[str, Rotation]) -> np.ndarray:
    """(T, J, 4) local quaternions parent^-1 * world (xyzw) of every joint, as scipy
    returns them (make_continuous over time); one batched scipy product for all joints."""
    world_q = np.stack([world[n].as_quat() for n in skeleton.names], axis=1)  # (T, J, 4)
    parents = np.array([max(p, 0) for p in skeleton.parents])
    local = Rotation.from_quat(world_q[:, parents].reshape(-1, 4)).inv() * Rotation.from_quat(world_q.reshape(-1, 4))
    local_q = local.as_quat().reshape(world_q.shape)
    roots = [j for j, p in enumerate(skeleton.parents) if p < 0]
    local_q[:, roots] = world_q[:, roots]
    return local_q


def solve_pose(tracks: LandmarkTracks, rig: RigTemplate) -> BodyPose:
    """Fit the rig to smoothed, gap-filled tracks (mocap.smooth.smooth_tracks) and pose it.

    tracks.world_m: (T, L, 3) internal frame, hip-centred (levelled by the caller if it
    has a floor). Raises RigError if the tracks lack a landmark the rig needs.
    """
    points = point_positions(rig, tracks)
    _, fitted, world = fit_body(rig, points, seen=tracks.detected)
    sk = fitted.skeleton
    world = limit_twist_rate(sk, world, tracks.fps, rig.twist)
    local_q = make_continuous(local_rotations(sk, world))
    positions, world_xyzw = global_transforms(sk, np.zeros((tracks.n_frames, 3)), local_q)
    return BodyPose(fitted, local_q, positions, world_xyzw, points[rig.root_point], tracks.fps)


__all__ = ["BodyPose", "aim_spine", "contact_paths_m", "fit_body", "local_rotations", "motion_contact_paths_m",
           "pose_rotations", "solve_pose"]
