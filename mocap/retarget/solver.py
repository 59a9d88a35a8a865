"""Retargeting: mocap's canonical motion onto any humanoid armature (pure numpy).

Method (world-space rotation offsets from the two rest poses, never copied local rotations):

1. **Axes.** G rotates mocap's internal frame (left +X, up +Y, facing +Z) onto the target's
   armature space. Its up is the target's hips->chest direction and its left the right->left
   thigh direction, each snapped to the nearest armature axis when within 35° of one (rigs
   stand along an axis; snapping keeps a slight rest lean out of the floor).
2. **Rest offsets.** For each mapped joint j -> bone b whose canonical child c is mapped too,
   the swing S_j = between(d_target, d_source) turns the target's rest segment (head of b to
   head of c's bone) onto the source's rest segment (in target axes). This is what absorbs
   T-pose vs A-pose, bent rest elbows and any bone roll or axis convention: the target keeps
   its own roll, and its segment is made to point where the source's points. Joints without
   a mapped child (hands, head, toes, feet without toes) take their parent's swing, so they
   stay rigid with the segment they hang from, as in the target's rest.
3. **Per frame.** The mapped bone's armature-space orientation is
       M_b(t) = G · W_j(t) · G⁻¹ · S_j · R_rest_b
   (W_j the source joint's world rotation; its rest is the identity). Unmapped bones follow
   their parents rigidly (basis = identity), so extra spine, twist, finger and face bones
   neither add nor lose rotation. Mapped bones that do not hang below their canonical
   parent's bone (IK-style feet parented to a root bone) are carried by that bone and get a
   location key as well.
4. **Root travel** is scaled by s = target leg length / performer leg length (thigh + shin,
   mean of both sides), horizontally from the first frame's position and vertically above
   the target's floor, so strides land where the target's feet can reach.
5. **Floor** (on by default): in frames where the source has a foot contact, the hips move
   vertically so the lowest point (bone heads and tails) of the target's feet sits at the
   target's rest floor level (the contacting foot, or a swinging foot that would otherwise
   sink into the floor); the shift is interpolated linearly between such frames.
6. **Foot lock** (optional): during each contact range the ankle is held at the range's
   mean position (faded in and out over FOOT_LOCK_BLEND_S), thigh and shin solved by
   two-bone IK in the leg's own bend plane; the foot keeps its orientation. Where a held
   ankle is out of the leg's reach the hips come down just enough to reach it.

`Retargeter` is built once per (skeleton, armature, bone map); `retarget()` does a whole
clip and `pose_frame()` one pose, for a live stream (issue 16) applied from a timer.
Blender's channel formulas are in mocap.retarget.rig.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import quat
from .bonemap import BoneMap, check_map
from .errors import RetargetError
from .motionfile import SourceMotion
from .rig import ArmatureRig, SourceSkeleton

SNAP_DEG = 35.0
FOOT_LOCK_BLEND_S = 0.1
_MAIN_CHILD = {"Hips": "Spine", "Spine": "Spine1", "Spine1": "Spine2", "Spine2": "Neck", "Neck": "Head"}


@dataclass(frozen=True)
class RetargetOptions:
    """root_travel: move the target's hips with the performer's (scaled); floor: keep contacting
    feet on the target's floor; foot_lock: hold planted feet still by IK after retargeting."""

    root_travel: bool = True
    floor: bool = True
    foot_lock: bool = False


@dataclass(frozen=True)
class TargetAnimation:
    """Blender channels for every bone of the target (B bones, T frames), armature space.

    basis_xyzw (T, B, 4): pose-bone rotation (relative to rest), sign-continuous over time;
    location (T, B, 3): pose-bone location (armature units); keyed_rotation / keyed_location
    (B,) bool: which channels to key; heads (T, B, 3) and world_xyzw (T, B, 4): the resulting
    armature-space bone heads and orientations (for checks); scale: root-travel ratio s.
    """

    names: tuple[str, ...]
    fps: float
    basis_xyzw: np.ndarray
    location: np.ndarray
    keyed_rotation: np.ndarray
    keyed_location: np.ndarray
    heads: np.ndarray
    world_xyzw: np.ndarray
    scale: float
    warnings: tuple[str, ...] = ()


def _snap(v: np.ndarray) -> np.ndarray:
    v = v / np.linalg.norm(v)
    k = int(np.argmax(np.abs(v)))
    axis = np.zeros(3)
    axis[k] = np.sign(v[k])
    return axis if np.degrees(np.arccos(min(1.0, abs(v[k])))) <= SNAP_DEG else v


class Retargeter:
    """A bone map made ready to apply: source skeleton + target armature + map, checked once.

    Raises RetargetError when the map is invalid (mocap.retarget.bonemap.check_map) or the rest
    poses are degenerate (coincident thighs, zero-length legs)."""

    def __init__(self, source: SourceSkeleton, target: ArmatureRig, bone_map: BoneMap):
        self.source = source
        self.target = target
        self.bone_map = check_map(bone_map, target)
        missing = [c for c in self.bone_map if c not in source.names]
        if missing:
            raise RetargetError(f"the motion's skeleton has no joint {missing[0]!r}")
        self.pairs: dict[int, int] = {source.index(c): target.index(t) for c, t in self.bone_map.items()}
        self._b = {c: target.index(t) for c, t in self.bone_map.items()}
        warnings: list[str] = []
        head = target.head

        # 1. axes
        chest = next((self._b[c] for c in ("Spine2", "Neck", "Head", "Spine1", "Spine") if c in self._b), None)
        hips = self._b["Hips"]
        up_raw = (head[chest] - head[hips]) if chest is not None else np.array([0.0, 0.0, 1.0])
        if np.linalg.norm(up_raw) < 1e-9:
            up_raw = np.array([0.0, 0.0, 1.0])
        up = _snap(up_raw)
        left_raw = head[self._b["LeftUpLeg"]] - head[self._b["RightUpLeg"]]
        left_raw = left_raw - np.dot(left_raw, up) * up
        if np.linalg.norm(left_raw) < 1e-9:
            raise RetargetError(f"armature {target.name!r}: the left and right thighs start at the same point")
        left = _snap(left_raw)
        left = left - np.dot(left, up) * up
        left /= np.linalg.norm(left)
        forward = np.cross(left, up)
        self.up = up
        self.forward = forward
        self.G = quat.from_matrix(np.column_stack([left, up, forward]))  # internal -> armature space
        g_inv = quat.inv(self.G)

        # 2. rest offsets
        src_rest = quat.rotate(self.G, source.rest_m)  # (J, 3) in target axes
        swing: dict[int, np.ndarray] = {}
        for j, name in enumerate(source.names):
            if j not in self.pairs:
                continue
            child = _MAIN_CHILD.get(name)
            if child is None:
                kids = [source.names[c] for c in range(len(source.names)) if source.parents[c] == j]
                child = kids[0] if len(kids) == 1 else None
            s = None
            if child is not None and child in self.bone_map:
                c = source.index(child)
                d_t = head[self._b[child]] - head[self.pairs[j]]
                d_s = src_rest[c] - src_rest[j]
                if np.linalg.norm(d_t) > 1e-6 and np.linalg.norm(d_s) > 1e-6:
                    s = quat.between(d_t, d_s)
            if s is None:
                p = source.parents[j]
                while p >= 0 and p not in swing:
                    p = source.parents[p]
                s = swing[p] if p >= 0 else quat.IDENTITY.copy()
            swing[j] = s
        # M_b = G W G^-1 S R_rest = G W · pre_j  with pre_j = G^-1 S R_rest
        self._pre = {j: quat.mul(g_inv, quat.mul(swing[j], target.rest_xyzw[b])) for j, b in self.pairs.items()}
        self._pre_array = np.array([self._pre[j] for j in self.pairs])  # (P, 4), in pairs order
        self._rest_inv = quat.inv(target.rest_xyzw)

        # 3. which mapped bones need a location key: the hips, and bones not below their
        # canonical parent's bone (they are carried by it).
        self.hips_bone = hips
        self.carry: dict[int, int] = {}
        for j, b in self.pairs.items():
            if b == hips:
                continue
            p = source.parents[j]
            while p >= 0 and p not in self.pairs:
                p = source.parents[p]
            if p >= 0 and self.pairs[p] not in target.ancestors(b):
                self.carry[b] = self.pairs[p]
                if target.connected[b]:
                    warnings.append(f"bone {target.names[b]!r} is connected to its parent and cannot be moved")
        if target.connected[hips]:
            warnings.append(f"hips bone {target.names[hips]!r} is connected to its parent: no root travel")
        self.order = self._dependency_order()
        self._level_cache = self._levels()

        # 4. scale
        def leg(points) -> float:
            return float(np.mean([
                np.linalg.norm(points(s + "Leg") - points(s + "UpLeg")) + np.linalg.norm(points(s + "Foot") - points(s + "Leg"))
                for s in ("Left", "Right")
            ]))

        leg_s = leg(lambda n: source.rest_m[source.index(n)])
        leg_t = leg(lambda n: head[self._b[n]])
        if leg_s < 1e-6 or leg_t < 1e-9:
            raise RetargetError(f"armature {target.name!r}: legs of zero length in the rest pose")
        self.scale = leg_t / leg_s
        self.foot_bones = {side: [self._b[c] for c in (side + "Foot", side + "ToeBase") if c in self._b]
                           for side in ("Left", "Right")}
        rest_feet = np.concatenate([np.stack([head[b], target.tail[b]]) for bs in self.foot_bones.values() for b in bs])
        self.floor = float(np.min(rest_feet @ up))
        self._hips_rest_h = head[hips] - np.dot(head[hips], up) * up
        self.warnings = tuple(warnings)

    # -- building blocks -------------------------------------------------------------------
    def _dependency_order(self) -> list[int]:
        tgt = self.target
        order: list[int] = []
        state = [0] * tgt.n_bones

        def visit(b: int) -> None:
            if state[b] == 2:
                return
            if state[b] == 1:
                raise RetargetError(f"armature {tgt.name!r}: the bone map carries {tgt.names[b]!r} in a loop")
            state[b] = 1
            for dep in (tgt.parents[b], self.carry.get(b, -1)):
                if dep >= 0:
                    visit(dep)
            state[b] = 2
            order.append(b)

        for b in range(tgt.n_bones):
            visit(b)
        return order

    def mapped_rotations(self, world_xyzw: np.ndarray) -> dict[int, np.ndarray]:
        """Target bone -> (T, 4) armature-space orientation, from source world rotations (T, J, 4)."""
        joints = list(self.pairs)
        rots = quat.mul(quat.mul(self.G, world_xyzw[:, joints]), self._pre_array)  # (T, P, 4), one product
        return {self.pairs[j]: rots[:, k] for k, j in enumerate(joints)}

    def root_path(self, root_m: np.ndarray, origin_m: np.ndarray | None = None, travel: bool = True) -> np.ndarray:
        """(T, 3) armature-space hips positions from source root positions (T, 3) (internal, metres).

        Horizontal travel is measured from origin_m (default: the first frame) and starts at the
        target's rest hips; height is s times the source's, above the target's floor."""
        root_m = np.asarray(root_m, dtype=float)
        origin = root_m[0] if origin_m is None else np.asarray(origin_m, dtype=float)
        rel = quat.rotate(self.G, root_m - origin) * self.scale
        height = self.floor + self.scale * (quat.rotate(self.G, root_m) @ self.up)
        horizontal = rel - (rel @ self.up)[:, None] * self.up
        if not travel:
            horizontal = np.zeros_like(horizontal)
        return self._hips_rest_h + horizontal + height[:, None] * self.up

    def _levels(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Bones grouped by dependency depth (parent and carrying bone first), each group as
        (bones, parents, position sources), so a pose is built with one vectorised step per level."""
        tgt = self.target
        depth = {}
        for b in self.order:
            deps = [d for d in (tgt.parents[b], self.carry.get(b, -1)) if d >= 0]
            depth[b] = 1 + max((depth[d] for d in deps), default=-1)
        levels = []
        for d in range(max(depth.values()) + 1):
            bones = np.array([b for b in self.order if depth[b] == d], dtype=int)
            parents = np.array([tgt.parents[b] for b in bones], dtype=int)
            sources = np.array([self.carry.get(b, tgt.parents[b]) for b in bones], dtype=int)
            levels.append((bones, parents, sources))
        return levels

    def assemble(self, mapped: dict[int, np.ndarray], hips_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Armature-space orientations (T, B, 4) and heads (T, B, 3) of every bone."""
        tgt = self.target
        n = hips_pos.shape[0]
        rot = np.empty((n, tgt.n_bones, 4))
        pos = np.empty((n, tgt.n_bones, 3))
        is_mapped = np.zeros(tgt.n_bones, dtype=bool)
        wanted = np.empty((n, tgt.n_bones, 4))
        for b, r in mapped.items():
            is_mapped[b] = True
            wanted[:, b] = r
        rest, rest_inv, head = tgt.rest_xyzw, self._rest_inv, tgt.head
        for bones, parents, sources in self._level_cache:
            # heads: carried by the source bone (the parent, or the carrying bone), or at rest for roots
            has = sources >= 0
            pos[:, bones[~has]] = head[bones[~has]]
            if np.any(has):
                b, src = bones[has], sources[has]
                pos[:, b] = pos[:, src] + quat.rotate(quat.mul(rot[:, src], rest_inv[src]), head[b] - head[src])
            hip = bones == self.hips_bone
            if np.any(hip):
                pos[:, self.hips_bone] = hips_pos
            # orientations: the mapped one, or rigid with the parent (rest for roots)
            m = is_mapped[bones]
            rot[:, bones[m]] = wanted[:, bones[m]]
            root = ~m & (parents < 0)
            rot[:, bones[root]] = rest[bones[root]]
            follow = ~m & (parents >= 0)
            if np.any(follow):
                b, p = bones[follow], parents[follow]
                rot[:, b] = quat.mul(quat.mul(rot[:, p], rest_inv[p]), rest[b])
        return rot, pos

    def channels(self, rot: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Blender pose channels (basis rotation (T, B, 4), location (T, B, 3)) for assembled poses."""
        tgt = self.target
        rest, rest_inv, head = tgt.rest_xyzw, self._rest_inv, tgt.head
        parents = np.array(tgt.parents, dtype=int)
        basis = np.empty_like(rot)
        loc = np.zeros_like(pos)
        root = parents < 0
        r = np.flatnonzero(root)
        basis[:, r] = quat.mul(rest_inv[r], rot[:, r])
        loc[:, r] = quat.rotate(rest_inv[r], pos[:, r] - head[r])
        c = np.flatnonzero(~root)
        p = parents[c]
        to_rest = quat.mul(rest[p], quat.inv(rot[:, p]))  # posed armature space -> rest armature space
        basis[:, c] = quat.mul(rest_inv[c], quat.mul(to_rest, rot[:, c]))
        loc[:, c] = quat.rotate(rest_inv[c], quat.rotate(to_rest, pos[:, c] - pos[:, p]) + head[p] - head[c])
        return basis, loc

    def keyed(self) -> tuple[np.ndarray, np.ndarray]:
        """(keyed_rotation, keyed_location) masks (B,): mapped bones and their unmapped ancestors;
        locations on the hips and carried bones."""
        tgt = self.target
        rot = np.zeros(tgt.n_bones, dtype=bool)
        for b in self.pairs.values():
            rot[b] = True
            rot[tgt.ancestors(b)] = True
        loc = np.zeros(tgt.n_bones, dtype=bool)
        loc[self.hips_bone] = True
        loc[list(self.carry)] = True
        return rot, loc

    # -- feet ------------------------------------------------------------------------------
    def lowest_foot(self, pos: np.ndarray, rot: np.ndarray, side: str) -> np.ndarray:
        """(T,) height along up of the lowest head/tail of a side's foot and toe bones."""
        tgt = self.target
        heights = []
        for b in self.foot_bones[side]:
            tail = pos[:, b] + quat.rotate(quat.mul(rot[:, b], quat.inv(tgt.rest_xyzw[b])), tgt.tail[b] - tgt.head[b])
            heights += [pos[:, b] @ self.up, tail @ self.up]
        return np.min(np.stack(heights), axis=0)

    def floor_correction(self, pos, rot, contacts: dict[str, np.ndarray]) -> np.ndarray:
        """(T,) vertical hips shift: in frames where the source has any foot contact, the lowest
        point of both target feet goes onto the floor (so a contacting foot touches it and no foot
        sinks through it); interpolated linearly between those frames."""
        n = pos.shape[0]
        any_contact = np.zeros(n, dtype=bool)
        for side in ("Left", "Right"):
            any_contact |= np.asarray(contacts.get(side, np.zeros(n, bool)), dtype=bool)
        if not np.any(any_contact):
            return np.zeros(n)
        lowest = np.minimum(self.lowest_foot(pos, rot, "Left"), self.lowest_foot(pos, rot, "Right"))
        t = np.arange(n)
        return np.interp(t, t[any_contact], (self.floor - lowest)[any_contact])

    def lock_targets(self, pos, contacts, fps: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per side: (goal (T, 3), weight (T,)) for the ankle (the Foot bone's head): the mean ankle
        position of each contact range, faded in and out over FOOT_LOCK_BLEND_S inside the range."""
        n = pos.shape[0]
        blend = max(1, int(round(FOOT_LOCK_BLEND_S * fps)))
        out = {}
        for side in ("Left", "Right"):
            ankle = pos[:, self._b[side + "Foot"]]
            goal = ankle.copy()
            weight = np.zeros(n)
            for first, last in _ranges(contacts.get(side, np.zeros(n, bool))):
                goal[first:last + 1] = ankle[first:last + 1].mean(axis=0)
                w = np.ones(last - first + 1)
                ramp = min(blend, (last - first + 2) // 2)
                w[:ramp] = np.minimum(w[:ramp], (np.arange(ramp) + 1) / (ramp + 1))
                w[len(w) - ramp:] = np.minimum(w[len(w) - ramp:], (np.arange(ramp)[::-1] + 1) / (ramp + 1))
                weight[first:last + 1] = w
            out[side] = (goal, weight)
        return out

    def hip_drop(self, pos, targets) -> np.ndarray:
        """(T,) how far the hips must come down (along -up) so every locked ankle is within reach
        (thigh + shin, less 0.1 %); 0 where it already is."""
        drop = np.zeros(pos.shape[0])
        for side, (goal, weight) in targets.items():
            hip = pos[:, self._b[side + "UpLeg"]]
            knee = pos[:, self._b[side + "Leg"]]
            ankle = pos[:, self._b[side + "Foot"]]
            reach = 0.999 * (np.linalg.norm(knee - hip, axis=1) + np.linalg.norm(ankle - knee, axis=1))
            v = ankle + weight[:, None] * (goal - ankle) - hip
            a = v @ self.up  # negative: the goal is below the hip
            disc = a * a - (np.sum(v * v, axis=1) - reach ** 2)
            need = np.where(disc >= 0, -a - np.sqrt(np.maximum(disc, 0.0)), -a)
            drop = np.maximum(drop, np.where(np.linalg.norm(v, axis=1) > reach, np.maximum(need, 0.0), 0.0))
        return drop

    def lock_feet(self, mapped: dict[int, np.ndarray], pos, rot, targets) -> dict[int, np.ndarray]:
        """Mapped rotations with thigh and shin re-solved by two-bone IK so each ankle reaches its
        lock target (see lock_targets); the feet keep their orientation."""
        mapped = dict(mapped)
        for side, (goal, weight) in targets.items():
            if not np.any(weight > 0):
                continue
            b_thigh, b_shin, b_foot = (self._b[side + k] for k in ("UpLeg", "Leg", "Foot"))
            hip, knee, ankle = pos[:, b_thigh], pos[:, b_shin], pos[:, b_foot]
            target = ankle + weight[:, None] * (goal - ankle)
            new_knee = _two_bone_knee(hip, knee, ankle, target, self.forward)
            r1 = quat.between(knee - hip, new_knee - hip)
            shin_after = quat.rotate(r1, ankle - knee)
            r2 = quat.between(shin_after, target - new_knee)
            mapped[b_thigh] = quat.mul(r1, rot[:, b_thigh])
            mapped[b_shin] = quat.mul(r2, quat.mul(r1, rot[:, b_shin]))
            mapped[b_foot] = rot[:, b_foot]
        return mapped

    # -- public ----------------------------------------------------------------------------
    def retarget(self, motion: SourceMotion, options: RetargetOptions = RetargetOptions()) -> TargetAnimation:
        """The whole clip on the target. Shapes in TargetAnimation."""
        world = motion.world_xyzw()
        mapped = self.mapped_rotations(world)
        hips = self.root_path(motion.root_m, travel=options.root_travel)
        rot, pos = self.assemble(mapped, hips)
        contacts = {"Left": motion.side_contact("left"), "Right": motion.side_contact("right")}
        if options.floor:
            hips = hips + self.floor_correction(pos, rot, contacts)[:, None] * self.up
            rot, pos = self.assemble(mapped, hips)
        if options.foot_lock:
            targets = self.lock_targets(pos, contacts, motion.fps)
            hips = hips - self.hip_drop(pos, targets)[:, None] * self.up
            rot, pos = self.assemble(mapped, hips)
            mapped = self.lock_feet(mapped, pos, rot, targets)
            rot, pos = self.assemble(mapped, hips)
        basis, loc = self.channels(rot, pos)
        keyed_rot, keyed_loc = self.keyed()
        return TargetAnimation(
            names=self.target.names, fps=motion.fps, basis_xyzw=quat.make_continuous(basis), location=loc,
            keyed_rotation=keyed_rot, keyed_location=keyed_loc, heads=pos, world_xyzw=rot, scale=self.scale,
            warnings=self.warnings,
        )

    def pose_frame(self, world_xyzw: np.ndarray, root_m: np.ndarray, origin_m: np.ndarray | None = None,
                   root_travel: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """One pose, for a live stream: source world rotations (J, 4) and root (3,) -> Blender channels
        basis (B, 4) and location (B, 3). origin_m: the root position that maps onto the target's
        rest hips (a stream's first frame). No floor or foot lock (they need contacts over time)."""
        world = np.asarray(world_xyzw, dtype=float)[None]
        root = np.asarray(root_m, dtype=float)[None]
        origin = root[0] if origin_m is None else origin_m
        rot, pos = self.assemble(self.mapped_rotations(world), self.root_path(root, origin, root_travel))
        basis, loc = self.channels(rot, pos)
        return basis[0], loc[0]


def _ranges(flags: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (first, last) runs of True."""
    f = np.concatenate([[False], np.asarray(flags, bool), [False]])
    d = np.diff(f.astype(int))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1))


def _two_bone_knee(hip, knee, ankle, goal, forward) -> np.ndarray:
    """(T, 3) knee positions that put the ankle on `goal` with thigh and shin lengths kept,
    in the plane of the current bend (forward, the knee's bend direction, if the leg is straight)."""
    l1 = np.linalg.norm(knee - hip, axis=1)
    l2 = np.linalg.norm(ankle - knee, axis=1)
    reach = goal - hip
    d = np.linalg.norm(reach, axis=1)
    d_c = np.clip(d, np.abs(l1 - l2) + 1e-6, l1 + l2 - 1e-6)
    u = reach / np.maximum(d, 1e-12)[:, None]
    v = (knee - hip) - np.sum((knee - hip) * u, axis=1)[:, None] * u
    straight = np.linalg.norm(v, axis=1) < 1e-4 * np.maximum(l1, 1e-12)
    v = np.where(straight[:, None], forward - (u @ forward)[:, None] * u, v)
    v /= np.maximum(np.linalg.norm(v, axis=1), 1e-12)[:, None]
    cos_a = np.clip((l1 ** 2 + d_c ** 2 - l2 ** 2) / (2 * l1 * d_c), -1.0, 1.0)
    return hip + l1[:, None] * (cos_a[:, None] * u + np.sqrt(1 - cos_a ** 2)[:, None] * v)
