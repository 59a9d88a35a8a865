"""Fit the rig's bone lengths and rest offsets to the performer: points -> Skeleton.

Lengths are medians over the clip (robust to outlier frames), weighted towards frames
where the landmarks involved were seen, and left/right mirror pairs are made equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from mocap.data import Skeleton
from mocap.kinematics import global_transforms
from mocap.rig import LengthSpec, RigTemplate


@dataclass(frozen=True)
class FittedRig:
    """The performer's skeleton plus foot markers used to find the floor.

    heel_offsets_m: foot joint name -> (3,) heel position in that foot joint's frame.
    """

    skeleton: Skeleton
    heel_offsets_m: dict[str, np.ndarray]

    @property
    def height_m(self) -> float:
        """Standing height in the rest pose: lowest foot point to the top of the head."""
        sk = self.skeleton
        identity = np.tile([0.0, 0, 0, 1], (1, sk.n_joints, 1))
        pos, _ = global_transforms(sk, sk.offsets_m[0][None], identity)
        top = pos[0, sk.index("Head"), 1] + sk.end_sites_m.get("Head", np.zeros(3))[1]
        return float(top - floor_height(self, pos, identity)[0])


def _median_length(points: dict[str, np.ndarray], a: str, b: str, weights: np.ndarray | None = None) -> float:
    lengths = np.linalg.norm(points[b] - points[a], axis=-1)
    good = np.isfinite(lengths)
    if weights is not None:
        good &= weights > 0.5
        if good.sum() < 3:
            good = np.isfinite(lengths)
    return float(np.median(lengths[good]))


def _spec_length(spec: LengthSpec, points: dict[str, np.ndarray], default_pair: tuple[str, str] | None) -> float:
    pair = spec.length_of or default_pair
    if pair is None:
        raise ValueError("a rest direction needs length_of or a parent point")
    return spec.fraction * _median_length(points, *pair)


def fit_skeleton(
    rig: RigTemplate, points: dict[str, np.ndarray], world_rot: dict[str, Rotation], seen: np.ndarray | None = None
) -> FittedRig:
    """Bone lengths and rest offsets for `rig` from per-frame points (T, 3) and orientations.

    seen: (T,) bool, frames where the person was actually detected (filled frames are
    left out of the statistics).
    """
    names = rig.joint_names
    joint_of = {j.name: j for j in rig.joints}
    frames = np.flatnonzero(seen) if seen is not None and seen.any() else np.arange(len(points["pelvis"]))
    pts = {k: v[frames] for k, v in points.items()}
    rots = {k: v[frames] for k, v in world_rot.items()}
    offsets = np.zeros((len(names), 3))
    end_sites: dict[str, np.ndarray] = {}

    # 1. Fixed-direction bones: length from landmarks only; mirror pairs averaged.
    lengths: dict[str, float] = {}
    for j in rig.joints:
        if j.rest is not None:
            parent_point = joint_of[j.parent].at if j.parent else None
            default = (parent_point, j.at) if parent_point and j.at else None
            lengths[j.name] = _spec_length(j.rest, pts, default)
    for name in list(lengths):
        mirror = joint_of[name].mirror
        if mirror in lengths:
            lengths[name] = lengths[mirror] = 0.5 * (lengths[name] + lengths[mirror])
    for name, length in lengths.items():
        offsets[names.index(name)] = length * joint_of[name].rest.direction

    # 2. Fitted offsets, in the parent's frame, from the parent's point (or FK position).
    fk_pos = {names[0]: pts[rig.joints[0].at]}
    for i, j in enumerate(rig.joints):
        if j.parent is None:
            continue
        parent = joint_of[j.parent]
        if j.fit_rest:
            anchor = pts[parent.at] if parent.at else fk_pos[parent.name]
            local = rots[parent.name].inv().apply(pts[j.at] - anchor)
            offsets[i] = np.median(local, axis=0)
        fk_pos[j.name] = fk_pos[parent.name] + rots[parent.name].apply(offsets[i])
    for i, j in enumerate(rig.joints):
        if j.fit_rest and j.mirror and names.index(j.mirror) > i:
            k = names.index(j.mirror)
            mirrored = offsets[k] * np.array([-1.0, 1.0, 1.0])
            offsets[i] = 0.5 * (offsets[i] + mirrored)
            offsets[k] = offsets[i] * np.array([-1.0, 1.0, 1.0])

    # 3. End sites.
    for j in rig.joints:
        if j.end_site is not None:
            end_sites[j.name] = _spec_length(j.end_site, pts, None) * j.end_site.direction

    # 4. Heel markers in the foot frames, mirrored.
    heels: dict[str, np.ndarray] = {}
    for foot, heel, ankle in (("LeftFoot", "left_heel", "left_ankle"), ("RightFoot", "right_heel", "right_ankle")):
        if foot in rots and heel in pts:
            heels[foot] = np.median(rots[foot].inv().apply(pts[heel] - pts[ankle]), axis=0)
    if len(heels) == 2:
        left = 0.5 * (heels["LeftFoot"] + heels["RightFoot"] * np.array([-1.0, 1.0, 1.0]))
        heels = {"LeftFoot": left, "RightFoot": left * np.array([-1.0, 1.0, 1.0])}

    # 5. Root rest position: standing in the T-pose with the lowest foot point on the floor.
    skeleton = Skeleton(names, tuple(names.index(j.parent) if j.parent else -1 for j in rig.joints), offsets, end_sites)
    fitted = FittedRig(skeleton, heels)
    identity = np.tile([0.0, 0, 0, 1], (1, len(names), 1))
    pos, _ = global_transforms(skeleton, np.zeros((1, 3)), identity)
    offsets[0] = [0.0, -floor_height(fitted, pos, identity)[0], 0.0]
    return FittedRig(Skeleton(names, skeleton.parents, offsets, end_sites), heels)


def foot_points(fitted: FittedRig, positions: np.ndarray, world_rot_xyzw: np.ndarray) -> np.ndarray:
    """(T, P, 3) world positions of the foot points that can touch the floor:
    each foot's heel marker, toe joint and toe end site."""
    sk = fitted.skeleton
    out = []
    for foot, toe in (("LeftFoot", "LeftToeBase"), ("RightFoot", "RightToeBase")):
        if foot not in sk.names:
            continue
        f, t = sk.index(foot), sk.index(toe)
        if foot in fitted.heel_offsets_m:
            out.append(positions[:, f] + Rotation.from_quat(world_rot_xyzw[:, f]).apply(fitted.heel_offsets_m[foot]))
        out.append(positions[:, t])
        if toe in sk.end_sites_m:
            out.append(positions[:, t] + Rotation.from_quat(world_rot_xyzw[:, t]).apply(sk.end_sites_m[toe]))
    return np.stack(out, axis=1)


def floor_height(fitted: FittedRig, positions: np.ndarray, world_rot_xyzw: np.ndarray) -> np.ndarray:
    """(T,) height of the lowest foot point in each frame."""
    return foot_points(fitted, positions, world_rot_xyzw)[..., 1].min(axis=1)
