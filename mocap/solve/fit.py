"""Fit the rig's bones to the performer, in two named steps: points -> BoneLengths -> FittedRig.

1. fit_bone_lengths: the bones with a fixed rest direction (spine, neck, head, arms, legs)
   get their length from landmark distances alone; no orientation is needed.
2. fit_skeleton: the rest offsets that are fitted in the parent's frame (clavicles, hips,
   toes) need the joints' world orientations; with them come the end sites, the heel
   markers and the root's rest height.

Between the two, the solver turns the spine (mocap.solve.pose.aim_spine), which needs the
spine's lengths and changes the orientations the second step uses; splitting the fit there
is what lets each step run once. Lengths are medians over the clip (robust to outlier
frames), taken over frames where the person was seen, and left/right mirror pairs are
made equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from mocap.data import Skeleton
from mocap.kinematics import global_transforms
from mocap.rig import LengthSpec, RigTemplate, require


@dataclass(frozen=True)
class BoneLengths:
    """Lengths (metres) of the rig's fixed-direction bones, mirror pairs equal.

    lengths_m: joint name -> distance from its parent; offset_m(name) is that joint's rest
    offset (length along its T-pose direction, in the parent's frame).
    """

    rig: RigTemplate
    lengths_m: dict[str, float]

    def offset_m(self, name: str) -> np.ndarray:
        """(3,) rest offset of a fixed-direction joint, metres."""
        return self.lengths_m[name] * self.rig.joint(name).rest.direction


@dataclass(frozen=True)
class FittedRig:
    """The performer's skeleton plus the foot markers used to find the floor.

    rig: the template it was fitted from (names of legs, head...); heel_offsets_m: foot
    joint name -> (3,) heel position in that foot joint's frame.
    """

    rig: RigTemplate
    skeleton: Skeleton
    heel_offsets_m: dict[str, np.ndarray]

    @property
    def height_m(self) -> float:
        """Standing height in the rest pose: lowest foot point to the top of the head."""
        sk = self.skeleton
        identity = np.tile([0.0, 0, 0, 1], (1, sk.n_joints, 1))
        pos, _ = global_transforms(sk, sk.offsets_m[0][None], identity)
        head = self.rig.head
        top = pos[0, sk.index(head), 1] + sk.end_sites_m.get(head, np.zeros(3))[1]
        return float(top - floor_height(self, pos, identity)[0])


def _median_length(points: dict[str, np.ndarray], a: str, b: str) -> float:
    lengths = np.linalg.norm(points[b] - points[a], axis=-1)
    return float(np.median(lengths[np.isfinite(lengths)]))


def _spec_length(spec: LengthSpec, points: dict[str, np.ndarray], default_pair: tuple[str, str] | None) -> float:
    pair = spec.length_of or default_pair
    if pair is None:
        raise ValueError("a rest direction needs length_of or a parent point")
    return spec.fraction * _median_length(points, *pair)


def _seen_frames(points: dict[str, np.ndarray], rig: RigTemplate, seen: np.ndarray | None) -> dict[str, np.ndarray]:
    n = len(points[rig.root_point])
    frames = np.flatnonzero(seen) if seen is not None and seen.any() else np.arange(n)
    return {k: v[frames] for k, v in points.items()}


def fit_bone_lengths(rig: RigTemplate, points: dict[str, np.ndarray], seen: np.ndarray | None = None) -> BoneLengths:
    """Step 1: fixed-direction bone lengths from per-frame points (name -> (T, 3) metres).

    seen: (T,) bool, frames where the person was actually detected (filled frames are
    left out of the statistics).
    """
    joint_of = {j.name: j for j in rig.joints}
    pts = _seen_frames(points, rig, seen)
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
    return BoneLengths(rig, lengths)


def fit_skeleton(
    rig: RigTemplate,
    points: dict[str, np.ndarray],
    world_rot: dict[str, Rotation],
    lengths: BoneLengths,
    seen: np.ndarray | None = None,
) -> FittedRig:
    """Step 2: the Skeleton (rest offsets, end sites, root rest height) and heel markers.

    points: name -> (T, 3) metres; world_rot: joint name -> Rotation (T), the joints' world
    orientations; lengths: step 1's; seen: as in fit_bone_lengths.
    """
    names = rig.joint_names
    pts = _seen_frames(points, rig, seen)
    frames = np.flatnonzero(seen) if seen is not None and seen.any() else np.arange(len(points[rig.root_point]))
    rots = {k: v[frames] for k, v in world_rot.items()}
    offsets = np.zeros((len(names), 3))
    end_sites: dict[str, np.ndarray] = {}
    for name in lengths.lengths_m:
        offsets[names.index(name)] = lengths.offset_m(name)

    # Fitted offsets, in the parent's frame, from the parent's point (or FK position).
    joint_of = {j.name: j for j in rig.joints}
    fk_pos = {names[0]: pts[rig.root_point]}
    for i, j in enumerate(rig.joints):
        if j.parent is None:
            continue
        parent = joint_of[j.parent]
        if j.fit_rest:
            anchor = pts[j.rest_from] if j.rest_from else pts[parent.at] if parent.at else fk_pos[parent.name]
            local = rots[parent.name].inv().apply(pts[j.at] - anchor)
            offsets[i] = np.median(local, axis=0)
        fk_pos[j.name] = fk_pos[parent.name] + rots[parent.name].apply(offsets[i])
    for i, j in enumerate(rig.joints):
        if j.fit_rest and j.mirror and names.index(j.mirror) > i:
            k = names.index(j.mirror)
            mirrored = offsets[k] * np.array([-1.0, 1.0, 1.0])
            offsets[i] = 0.5 * (offsets[i] + mirrored)
            offsets[k] = offsets[i] * np.array([-1.0, 1.0, 1.0])

    # End sites.
    for j in rig.joints:
        if j.end_site is not None:
            end_sites[j.name] = _spec_length(j.end_site, pts, None) * j.end_site.direction

    # Heel markers in the foot frames, mirrored between the two legs.
    heels: dict[str, np.ndarray] = {}
    for leg in rig.legs:
        require(rig, (leg.heel_point, leg.ankle_point), pts, "the points for the heel markers")
        heels[leg.foot] = np.median(rots[leg.foot].inv().apply(pts[leg.heel_point] - pts[leg.ankle_point]), axis=0)
    if len(rig.legs) == 2:
        a, b = (leg.foot for leg in rig.legs)
        mean = 0.5 * (heels[a] + heels[b] * np.array([-1.0, 1.0, 1.0]))
        heels = {a: mean, b: mean * np.array([-1.0, 1.0, 1.0])}

    # Root rest position: standing in the T-pose with the lowest foot point on the floor.
    skeleton = Skeleton(names, tuple(names.index(j.parent) if j.parent else -1 for j in rig.joints), offsets, end_sites)
    fitted = FittedRig(rig, skeleton, heels)
    identity = np.tile([0.0, 0, 0, 1], (1, len(names), 1))
    pos, _ = global_transforms(skeleton, np.zeros((1, 3)), identity)
    offsets[0] = [0.0, -floor_height(fitted, pos, identity)[0], 0.0]
    return FittedRig(rig, Skeleton(names, skeleton.parents, offsets, end_sites), heels)


def foot_points(fitted: FittedRig, positions: np.ndarray, world_rot_xyzw: np.ndarray) -> np.ndarray:
    """(T, P, 3) world positions of the foot points that can touch the floor: each leg's
    heel marker, toe joint and toe end site. positions (T, J, 3) and world_rot_xyzw
    (T, J, 4) are forward kinematics of fitted.skeleton (any root: the points follow it)."""
    sk = fitted.skeleton
    out = []
    for leg in fitted.rig.legs:
        f, t = sk.index(leg.foot), sk.index(leg.toe)
        out.append(positions[:, f] + Rotation.from_quat(world_rot_xyzw[:, f]).apply(fitted.heel_offsets_m[leg.foot]))
        out.append(positions[:, t])
        if leg.toe in sk.end_sites_m:
            out.append(positions[:, t] + Rotation.from_quat(world_rot_xyzw[:, t]).apply(sk.end_sites_m[leg.toe]))
    return np.stack(out, axis=1)


def floor_height(fitted: FittedRig, positions: np.ndarray, world_rot_xyzw: np.ndarray) -> np.ndarray:
    """(T,) height of the lowest foot point in each frame (same frame as `positions`)."""
    return foot_points(fitted, positions, world_rot_xyzw)[..., 1].min(axis=1)
