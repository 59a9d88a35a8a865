"""Foot locking: planted feet stay put; legs and hips follow by inverse kinematics.

For each contact (mocap.solve.contacts) of a heel or toe, the point is held at one place
for the whole contact: its mean horizontal position over the contact, on the floor
(height 0). When heel and toe are both planted, the foot is also turned (about the
ankle) so that its heel -> toe line matches the two held points, which flattens it.
The ankle goal follows from the held point(s) and the foot's orientation. Around each
contact the correction fades in and out over `blend_s` while the point keeps its own
motion, so nothing pops and nothing is braked.

The legs reach their ankle goals by analytic two-bone IK (hip -> knee -> ankle, bone
lengths fixed, the knee kept in the plane it was bending in). A goal out of reach
lowers the hips just enough (the drop smoothed over time), so the rest of the pose is
kept; a leg that is not planted goes down with the hips unchanged. Only the root height
and the local rotations of the thighs, shins and feet change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial.transform import Rotation

from mocap.data import FootContacts, Motion
from mocap.kinematics import global_transforms, make_continuous, rotation_from_to
from mocap.rig import require
from mocap.timeseries import run_ranges, whittaker_lambda, whittaker_smooth
from mocap.solve.fit import FittedRig

@dataclass(frozen=True)
class FootLockConfig:
    blend_s: float = 0.2  # fade in/out around each contact
    reach: float = 0.995  # fraction of the leg's full length an IK goal may use
    hip_cutoff_hz: float = 4.0  # smoothing of the hip drop


def lock_targets(path_m: np.ndarray, flags: np.ndarray, fps: float, blend_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Targets (T, 3) and lock weights (T,) in [0, 1] for one contact point; the point is
    moved by weight * (target - point).

    During a contact the target is the point's mean horizontal position over the contact,
    at height 0, with weight 1. Within blend_s of a contact the correction fades out: the
    point keeps its own motion, moved by a cubic Hermite curve that starts from the
    correction at the contact's end, with the slope that cancels the point's velocity
    there (so the foot leaves and lands at rest), and reaches 0 with zero slope after
    blend_s. The weight is that curve's smoothstep part. Easing the point toward the held
    position instead braked its whole velocity within the ramp: the jolt (about 2 w' v)
    came back amplified in the knee by the IK (docs/motion-quality.md).
    """
    n = len(path_m)
    target = path_m.copy()
    weight = np.zeros(n)
    ramp = max(1, int(round(blend_s * fps)))
    span = ramp + 1  # frames from a contact's end to where the correction is gone
    velocity = np.gradient(path_m, axis=0)  # per frame
    for first, last in run_ranges(flags):
        held = np.nanmean(path_m[first : last + 1], axis=0)
        held[1] = 0.0
        lo, hi = max(0, first - ramp), min(n - 1, last + ramp)
        for t in range(lo, hi + 1):
            if first <= t <= last:
                w, goal = 1.0, held
            else:
                end, away = (first, -1.0) if t < first else (last, 1.0)
                s = abs(t - end) / span  # 0 at the contact's end, 1 where the fade is over
                # correction(s) = h00(s) c0 + h10(s) d0: from c0 = held - point at the end, with
                # slope d0 = minus the point's motion per unit s there, to 0 with zero slope.
                # h00 = (1-s)^2 (1+2s) is the smoothstep weight; h10 = s (1-s)^2 = h00 s / (1+2s).
                w = (1.0 - s) ** 2 * (1.0 + 2.0 * s)
                d0 = -away * velocity[end] * span
                goal = path_m[t] + (held - path_m[end]) + s / (1.0 + 2.0 * s) * d0
            if w > weight[t]:
                weight[t] = w
                target[t] = goal
    return target, weight


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, goal: np.ndarray, pole_fallback: np.ndarray,
                reach: float = 0.995) -> tuple[Rotation, Rotation]:
    """Rotations (T) to pre-multiply onto the thigh's and the shin's world rotations so the
    ankle reaches `goal` (or as near as the leg allows), knee kept in its bend plane.

    hip, knee, ankle, goal, pole_fallback: (T, 3); pole_fallback is used where the leg is
    straight and its bend plane undefined (the knee's forward direction).
    """
    a = np.linalg.norm(knee - hip, axis=1)
    b = np.linalg.norm(ankle - knee, axis=1)
    to_goal = goal - hip
    dist = np.linalg.norm(to_goal, axis=1)
    u = to_goal / np.maximum(dist, 1e-9)[:, None]
    d = np.clip(dist, np.abs(a - b) + 1e-4, reach * (a + b))
    pole = knee - hip
    pole = pole - np.sum(pole * u, axis=1, keepdims=True) * u
    fallback = pole_fallback - np.sum(pole_fallback * u, axis=1, keepdims=True) * u
    weak = np.linalg.norm(pole, axis=1) < 0.02 * a
    pole = np.where(weak[:, None], fallback, pole)
    v = pole / np.maximum(np.linalg.norm(pole, axis=1, keepdims=True), 1e-9)
    cos_a = np.clip((a**2 + d**2 - b**2) / (2 * a * d), -1.0, 1.0)
    sin_a = np.sqrt(1.0 - cos_a**2)
    new_knee = hip + a[:, None] * (cos_a[:, None] * u + sin_a[:, None] * v)
    new_ankle = hip + d[:, None] * u
    r_thigh = rotation_from_to(knee - hip, new_knee - hip)
    r_shin = rotation_from_to(r_thigh.apply(ankle - knee), new_ankle - new_knee)
    return r_thigh, r_shin


def lock_feet(motion: Motion, fitted: FittedRig, contacts: FootContacts, cfg: FootLockConfig = FootLockConfig()) -> Motion:
    """Motion with planted heels/toes held still; the result carries `contacts`.

    The legs (joints, contact point names) are fitted.rig.legs; a contact point missing
    from `contacts` counts as never planted. Raises RigError when the motion's skeleton
    lacks a leg joint. A motion shorter than 2 frames is returned with the contacts only.
    """
    sk = motion.skeleton
    fps = motion.fps
    n = motion.n_frames
    legs = fitted.rig.legs
    require(fitted.rig, [j for leg in legs for j in leg.joints], sk.names, f"the skeleton of {motion.name or 'the motion'}")
    if n < 2:
        return replace(motion, contacts=contacts)
    pos, rot_q = global_transforms(sk, motion.root_position_m, motion.rotations_xyzw)
    world = [Rotation.from_quat(rot_q[:, j]) for j in range(sk.n_joints)]
    goals: dict[str, np.ndarray] = {}
    locked: dict[str, np.ndarray] = {}
    foot_world_new: dict[str, Rotation] = {}
    for leg in legs:
        side = leg.side
        f, t = sk.index(leg.foot), sk.index(leg.toe)
        heel = pos[:, f] + world[f].apply(fitted.heel_offsets_m[leg.foot])
        toe_p = pos[:, t]
        names = contacts.names
        zeros = np.zeros(n, bool)
        heel_flags = contacts.in_contact[:, names.index(leg.heel_contact)] if leg.heel_contact in names else zeros
        toe_flags = contacts.in_contact[:, names.index(leg.toe_contact)] if leg.toe_contact in names else zeros
        heel_tgt, w_h = lock_targets(heel, heel_flags, fps, cfg.blend_s)
        toe_tgt, w_t = lock_targets(toe_p, toe_flags, fps, cfg.blend_s)
        # Turn the foot about the ankle so heel->toe matches the held pair (both planted).
        turn = rotation_from_to(toe_p - heel, toe_tgt - heel_tgt)
        both = np.minimum(w_h, w_t)
        turn = Rotation.from_rotvec(turn.as_rotvec() * both[:, None])
        foot_world_new[side] = turn * world[f]
        heel_new = pos[:, f] + turn.apply(heel - pos[:, f])
        toe_new = pos[:, f] + turn.apply(toe_p - pos[:, f])
        total = w_h + w_t
        shift = (w_h[:, None] * (heel_tgt - heel_new) + w_t[:, None] * (toe_tgt - toe_new)) / np.maximum(total, 1e-9)[:, None]
        locked[side] = np.maximum(w_h, w_t)
        shift *= locked[side][:, None]
        goals[side] = pos[:, f] + shift

    # Lower the hips where a goal is out of reach.
    drop = np.zeros(n)
    for leg in legs:
        side = leg.side
        i_up, i_leg, i_foot = sk.index(leg.thigh), sk.index(leg.shin), sk.index(leg.foot)
        full = cfg.reach * (np.linalg.norm(sk.offsets_m[i_leg]) + np.linalg.norm(sk.offsets_m[i_foot]))
        d = goals[side] - pos[:, i_up]
        disc = d[:, 1] ** 2 - np.sum(d * d, axis=1) + full**2
        need = np.where(disc >= 0, -d[:, 1] - np.sqrt(np.maximum(disc, 0.0)), -d[:, 1])
        drop = np.maximum(drop, np.where(np.linalg.norm(d, axis=1) > full, need, 0.0))
    root = motion.root_position_m.copy()
    if drop.any():
        drop = np.maximum(whittaker_smooth(drop[:, None], np.ones(n), whittaker_lambda(cfg.hip_cutoff_hz, fps))[:, 0], 0.0)
        root[:, 1] -= drop
        pos = pos - np.array([0.0, 1.0, 0.0]) * drop[:, None, None]
        for side in goals:  # what is not planted of a goal goes down with the hips (a free leg keeps its pose)
            goals[side] = goals[side] - np.array([0.0, 1.0, 0.0]) * ((1.0 - locked[side]) * drop)[:, None]

    local = motion.rotations_xyzw.copy()
    for leg in legs:
        side = leg.side
        i_up, i_leg, i_foot = sk.index(leg.thigh), sk.index(leg.shin), sk.index(leg.foot)
        parent = world[sk.parents[i_up]]
        pole = world[i_up].apply(np.tile([0.0, 0.0, 1.0], (n, 1)))  # the knee bends toward the thigh's +Z
        r_thigh, r_shin = two_bone_ik(pos[:, i_up], pos[:, i_leg], pos[:, i_foot], goals[side], pole, cfg.reach)
        up_world = r_thigh * world[i_up]
        leg_world = r_shin * r_thigh * world[i_leg]
        local[:, i_up] = (parent.inv() * up_world).as_quat()
        local[:, i_leg] = (up_world.inv() * leg_world).as_quat()
        local[:, i_foot] = (leg_world.inv() * foot_world_new[side]).as_quat()
    return replace(motion, root_position_m=root, rotations_xyzw=make_continuous(local), contacts=contacts)


__all__ = ["FootLockConfig", "lock_feet", "two_bone_ik", "lock_targets"]
