"""The bpy side of retargeting: read an armature's rest pose, write an action, build mocap's
own armature. The maths is in mocap_retarget (a copy of mocap/retarget, numpy only)."""

from __future__ import annotations

import bpy
import numpy as np

from .mocap_retarget import ArmatureRig, SourceSkeleton, TargetAnimation
from .mocap_retarget.bonemap import CANONICAL

# v_blender = C @ v_internal: (x, y, z) -> (x, -z, y) (docs/conventions.md)
C_BLENDER_FROM_INTERNAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def armature_rig(obj) -> ArmatureRig:
    """The rest pose of armature object `obj` in armature space (mocap_retarget.rig)."""
    bones = []
    for b in obj.data.bones:
        m = b.matrix_local
        bones.append({
            "name": b.name,
            "parent": b.parent.name if b.parent else None,
            "head": tuple(b.head_local),
            "tail": tuple(b.tail_local),
            "matrix": [[m[r][c] for c in range(3)] for r in range(3)],
            "connected": bool(b.use_connect),
        })
    return ArmatureRig.from_bones(bones, obj.name)


def set_scene_timing(scene, fps: float, n_frames: int, frame_start: int = 1) -> None:
    """Scene frame rate (fps / fps_base == fps) and frame range frame_start .. frame_start + n - 1."""
    fps_int = max(1, int(round(fps)))
    scene.render.fps = fps_int
    scene.render.fps_base = fps_int / fps
    scene.frame_start = frame_start
    scene.frame_end = frame_start + n_frames - 1
    scene.frame_set(frame_start)


def _fcurve_factory(obj, action):
    """A function (data_path, index, group) -> new F-curve, for layered (4.4+) and legacy actions."""
    ad = obj.animation_data_create()
    ad.action = action
    if hasattr(action, "slots") and hasattr(action, "layers"):
        slot = ad.action_slot
        if slot is None:
            slot = action.slots.new(id_type="OBJECT", name=obj.name)
            ad.action_slot = slot
        layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
        strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
        bag = strip.channelbag(slot, ensure=True)
        return lambda path, index, group: bag.fcurves.new(path, index=index, group_name=group)
    return lambda path, index, group: action.fcurves.new(path, index=index, action_group=group)


def write_action(obj, anim: TargetAnimation, name: str, frame_start: int = 1, frames=None):
    """Key `anim` on armature `obj` as a new action named `name` (frames frame_start ..); returns it.

    Rotations are keyed as quaternions (the keyed bones' rotation mode is set to QUATERNION),
    locations only where anim.keyed_location says; other bones are left as they are.
    frames: (T,) explicit scene frame of each key (a live recording keys each received pose at
    its stream time, possibly between whole frames); default frame_start, frame_start + 1, ..."""
    action = bpy.data.actions.new(name)
    new_curve = _fcurve_factory(obj, action)
    n = anim.basis_xyzw.shape[0]
    if frames is None:
        frames = np.arange(frame_start, frame_start + n, dtype=np.float32)
    frames = np.asarray(frames, dtype=np.float32)
    co = np.empty((n, 2), dtype=np.float32)
    co[:, 0] = frames
    for b, bone in enumerate(anim.names):
        pb = obj.pose.bones.get(bone)
        if pb is None:
            continue
        esc = bpy.utils.escape_identifier(bone)
        channels = []
        if anim.keyed_rotation[b]:
            pb.rotation_mode = "QUATERNION"
            wxyz = anim.basis_xyzw[:, b][:, [3, 0, 1, 2]]
            channels += [(f'pose.bones["{esc}"].rotation_quaternion', i, wxyz[:, i]) for i in range(4)]
        if anim.keyed_location[b]:
            channels += [(f'pose.bones["{esc}"].location', i, anim.location[:, b, i]) for i in range(3)]
        for path, index, values in channels:
            fc = new_curve(path, index, bone)
            fc.keyframe_points.add(n)
            co[:, 1] = values
            fc.keyframe_points.foreach_set("co", co.ravel())
            fc.keyframe_points.foreach_set("interpolation", np.full(n, 1, dtype=np.int32))  # LINEAR
            fc.update()
    return action


def constrained_bones(obj, retargeter) -> list[str]:
    """Bones whose pose Blender's constraints change, among the keyed bones and their ancestors
    (Rigify's MCH parents of its FK controls): where the pure solver's forward kinematics cannot
    know the parents' evaluated pose."""
    keyed_rot, _ = retargeter.keyed()
    names = retargeter.target.names
    out = []
    for b in np.flatnonzero(keyed_rot):
        pb = obj.pose.bones.get(names[b])
        chain = [pb] + (list(pb.parent_recursive) if pb is not None else [])
        out += [p.name for p in chain if p is not None and any(c.enabled and c.influence > 0 for c in p.constraints)]
    return sorted(set(out))


def solve_through_constraints(context, obj, retargeter, anim: TargetAnimation) -> TargetAnimation:
    """Re-express each mapped bone's target orientation (and head, where keyed) against the parents'
    pose *as Blender evaluates it* (constraints included), top-down, frame by frame.

    Used when constrained_bones() is not empty. The mapped bones get the same armature-space
    orientations as anim.world_xyzw; only their channels change. Costs one depsgraph update per
    hierarchy level per frame."""
    from mathutils import Matrix, Quaternion

    from .mocap_retarget import quat

    tgt = retargeter.target
    keyed_rot, keyed_loc = retargeter.keyed()
    mapped = sorted(set(retargeter.pairs.values()), key=lambda b: len(tgt.ancestors(b)))
    levels: dict[int, list[int]] = {}
    for b in mapped:
        levels.setdefault(len(tgt.ancestors(b)), []).append(b)
    basis = anim.basis_xyzw.copy()
    loc = anim.location.copy()
    bones = {b: obj.pose.bones[tgt.names[b]] for b in np.flatnonzero(keyed_rot | keyed_loc)}
    for pb in bones.values():
        pb.rotation_mode = "QUATERNION"
    for t in range(basis.shape[0]):
        for b, pb in bones.items():
            x, y, z, w = basis[t, b]
            pb.rotation_quaternion = (w, x, y, z)
            if keyed_loc[b]:
                pb.location = tuple(loc[t, b])
        for depth in sorted(levels):
            context.view_layer.update()
            for b in levels[depth]:
                pb = bones[b]
                x, y, z, w = anim.world_xyzw[t, b]
                m = Quaternion((w, x, y, z)).to_matrix().to_4x4()
                m.translation = tuple(anim.heads[t, b]) if keyed_loc[b] else pb.matrix.translation
                local = obj.convert_space(pose_bone=pb, matrix=m, from_space="POSE", to_space="LOCAL")
                q = local.to_quaternion()
                basis[t, b] = (q.x, q.y, q.z, q.w)
                pb.rotation_quaternion = q
                if keyed_loc[b]:
                    loc[t, b] = tuple(local.translation)
                    pb.location = local.translation
    return TargetAnimation(**{**anim.__dict__, "basis_xyzw": quat.make_continuous(basis), "location": loc})


def apply_pose(obj, retargeter, basis_xyzw: np.ndarray, location: np.ndarray) -> None:
    """Set one retargeted pose (Retargeter.pose_frame: basis (B, 4), location (B, 3)) directly on the
    pose bones, without keys: what a live stream's timer calls (issue 16), with the same map."""
    keyed_rot, keyed_loc = retargeter.keyed()
    for b, bone in enumerate(retargeter.target.names):
        pb = obj.pose.bones.get(bone)
        if pb is None:
            continue
        if keyed_rot[b]:
            pb.rotation_mode = "QUATERNION"
            x, y, z, w = basis_xyzw[b]
            pb.rotation_quaternion = (w, x, y, z)
        if keyed_loc[b]:
            pb.location = tuple(location[b])


def _main_child(sk: SourceSkeleton, j: int) -> int | None:
    kids = [c for c, p in enumerate(sk.parents) if p == j]
    central = [c for c in kids if not sk.names[c].startswith(("Left", "Right"))]
    if central:
        return central[0]
    return kids[0] if len(kids) == 1 else None


def create_mocap_armature(context, sk: SourceSkeleton, name: str = "mocap"):
    """mocap's own armature (canonical joint names, T-pose rest, Blender Z up) in the scene; returns it.

    Bone tails point at the main child (or the end site); rolls follow Blender's convention of
    mocap's FBX export: +Z to the front on vertical bones, up on the others."""
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    context.collection.objects.link(obj)
    prev_active = context.view_layer.objects.active
    context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    rest = sk.rest_m @ C_BLENDER_FROM_INTERNAL.T
    edit = {}
    for j, joint in enumerate(sk.names):
        eb = data.edit_bones.new(joint)
        head = rest[j]
        child = _main_child(sk, j)
        if child is not None and np.linalg.norm(rest[child] - head) > 1e-3:
            tail = rest[child]
        elif joint in sk.end_sites_m:
            tail = head + C_BLENDER_FROM_INTERNAL @ sk.end_sites_m[joint]
        else:
            p = sk.parents[j]
            direction = head - rest[p] if p >= 0 else np.array([0.0, 0.0, 1.0])
            tail = head + 0.1 * direction / max(np.linalg.norm(direction), 1e-9)
        eb.head, eb.tail = tuple(head), tuple(tail)
        d = (tail - head) / np.linalg.norm(tail - head)
        eb.align_roll((0.0, -1.0, 0.0) if abs(d[2]) > 0.7 else (0.0, 0.0, 1.0))
        if sk.parents[j] >= 0:
            eb.parent = edit[sk.parents[j]]
        edit[j] = eb
    bpy.ops.object.mode_set(mode="OBJECT")
    for other in context.selected_objects:
        other.select_set(False)
    obj.select_set(True)
    if prev_active is None:
        context.view_layer.objects.active = obj
    return obj


def store_bone_map(obj, bone_map: dict[str, str], source: str) -> None:
    """Show `bone_map` in the armature's editable list (Object.mocap_bone_map)."""
    items = obj.mocap_bone_map
    items.clear()
    for c in CANONICAL:
        item = items.add()
        item.joint = c
        item.bone = bone_map.get(c, "")
    obj.mocap_map_source = source


def read_bone_map(obj) -> dict[str, str]:
    return {item.joint: item.bone for item in obj.mocap_bone_map if item.bone}
