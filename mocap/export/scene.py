"""Motion -> the typed description of a Blender armature and its animation (blender_schema.Scene).

Pure Python (numpy/scipy, no bpy). Both ways of running Blender — bpy in-process and a
`blender` executable running mocap/export/blender_job.py — build the armature from this
one description (a versioned, validated mocap.export.blender_schema.Scene), so they
produce the same file.

Frames: Blender = (x, -z, y) of internal (docs/conventions.md), i.e. `v_blender = C @ v_internal`
with C below; metres. Bone conventions (mocap/export/fbx_glb.py):

- head = the joint's rest position; tail = the rest position of its *main child* (the child
  whose offset is best aligned with the joint's own bone direction; for the root, up), or
  its End Site, or, failing both, continues the parent's bone direction.
- roll ("anatomical"): bone +Z points to the performer's front on mostly vertical bones
  (spine, neck, head, legs) and up on the others (shoulders, arms, hands, feet, toes).
- rest matrix B (armature space, 3x3, columns = bone X, Y, Z) follows from head, tail and
  that Z hint exactly as Blender's `EditBone.align_roll` computes it; blender_job.py checks
  the matrices Blender ends up with against `rest_matrix` and refuses to export otherwise.

Pose channels (Blender's, per bone, relative to the rest pose):
  rotation_quaternion(t) = B^T · C · R_local(t) · C^T · B      (w, x, y, z)
  location(t) = B^T · (C · p_root(t) - head)                  (root joint only)
because mocap's rest frames are the world frame, so a joint's armature-space orientation
at frame t is C · R_world(t) · C^T · B.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from mocap.data import Motion
from mocap.export.blender_schema import Bone, Scene
from mocap.kinematics import make_continuous, unit
from mocap.presets import Preset, resolve_preset

# v_blender = C_BLENDER_FROM_INTERNAL @ v_internal: (x, y, z) -> (x, -z, y).
C_BLENDER_FROM_INTERNAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
_MIN_BONE_M = 0.01  # shortest bone Blender is given (zero-length bones are deleted by Blender)
_EXTRA_ROOT_LENGTH_M = 0.1


def blender_fps(fps: float) -> tuple[int, float]:
    """(render.fps, render.fps_base) for a frame rate: fps / fps_base == fps (23.976 -> 24, 1.001)."""
    if fps <= 0 or not np.isfinite(fps):
        raise ValueError(f"frame rate must be positive, got {fps}")
    fps_int = max(1, int(round(fps)))
    return fps_int, fps_int / fps


def rest_positions_m(motion: Motion) -> np.ndarray:
    """(J, 3) rest (T-pose) world positions in mocap's internal frame, metres."""
    sk = motion.skeleton
    pos = np.zeros((sk.n_joints, 3))
    for j, parent in enumerate(sk.parents):
        pos[j] = sk.offsets_m[j] if parent < 0 else pos[parent] + sk.offsets_m[j]
    return pos


def bone_matrix(head: np.ndarray, tail: np.ndarray, z_hint: np.ndarray) -> np.ndarray:
    """3x3 bone rest matrix (columns X, Y, Z): Y along head->tail, Z as close to z_hint as possible."""
    y = unit(tail - head)
    z = unit(z_hint - np.dot(z_hint, y) * y)
    return np.column_stack([np.cross(y, z), y, z])


def _tails_internal(motion: Motion, rest: np.ndarray) -> np.ndarray:
    """(J, 3) bone tail positions, internal frame (see module docstring)."""
    sk = motion.skeleton
    tails = np.zeros_like(rest)
    direction = np.zeros_like(rest)
    for j, parent in enumerate(sk.parents):
        incoming = np.array([0.0, 1.0, 0.0]) if parent < 0 else direction[parent]
        kids = [c for c in sk.children(j) if np.linalg.norm(sk.offsets_m[c]) >= _MIN_BONE_M]
        end = sk.end_sites_m.get(sk.names[j])
        if kids:
            best = max(kids, key=lambda c: float(np.dot(unit(sk.offsets_m[c]), incoming)))
            vec = sk.offsets_m[best]
        elif end is not None and np.linalg.norm(end) >= _MIN_BONE_M:
            vec = np.asarray(end, dtype=float)
        else:
            parent_len = np.linalg.norm(sk.offsets_m[j]) if parent >= 0 else 0.1
            vec = incoming * max(0.5 * parent_len, _MIN_BONE_M * 5)
        direction[j] = unit(vec)
        tails[j] = rest[j] + vec
    return tails


def _z_hint_internal(head: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """Anatomical roll: front (+Z internal) on mostly vertical bones, up (+Y) otherwise."""
    d = unit(tail - head)
    return np.array([0.0, 0.0, 1.0]) if abs(d[1]) > 0.7 else np.array([0.0, 1.0, 0.0])


def scene_from_motion(motion: Motion, preset: Preset | str | None = None) -> Scene:
    """The armature + animation description of `motion` named by `preset`.

    `motion` is on mocap's canonical rig (canonical names; the preset renames them).
    Returns a blender_schema.Scene (fields and units there): frames 0..T-1, bones in
    Blender's frame (metres) with their rest matrices, rotations (per bone: T*4 floats,
    w x y z per frame), locations (per bone: T*3 floats or None; only the hips, and only
    bone channels, carry translation). Raises ValueError for a motion with no frames and
    blender_schema.SchemaError (a ValueError) for values the schema refuses (NaN, ...).
    """
    preset = resolve_preset(preset)
    sk = motion.skeleton
    n_frames = motion.n_frames
    if n_frames < 1:
        raise ValueError("the motion has no frames")
    rest = rest_positions_m(motion)
    tails = _tails_internal(motion, rest)
    c = C_BLENDER_FROM_INTERNAL
    c_rot = Rotation.from_matrix(c)
    fps_int, fps_base = blender_fps(motion.fps)

    bones: list[Bone] = []
    rotations: list[list[float]] = []
    locations: list[list[float] | None] = []
    offset = 0
    root_name = preset.root_name()
    if root_name is not None:
        # Static bone at the origin pointing to the performer's front (Blender -Y), +Z up.
        # Not up: the hips sit straight above the origin at rest, and Blender's FBX importer
        # connects a child lying on its parent's bone axis, which would drop the hips'
        # translation on re-import.
        head, tail = np.zeros(3), np.array([0.0, -_EXTRA_ROOT_LENGTH_M, 0.0])
        b = bone_matrix(head, tail, np.array([0.0, 0.0, 1.0]))
        bones.append(_bone(root_name, -1, head, tail, b))
        rotations.append(np.tile([1.0, 0.0, 0.0, 0.0], n_frames).tolist())
        locations.append(None)
        offset = 1

    for j, name in enumerate(sk.names):
        parent = sk.parents[j]
        head_b = c @ rest[j]
        tail_b = c @ tails[j]
        z_b = c @ _z_hint_internal(rest[j], tails[j])
        b = bone_matrix(head_b, tail_b, z_b)
        parent_index = (parent + offset) if parent >= 0 else (0 if offset else -1)
        bones.append(_bone(preset.bone_name(name), parent_index, head_b, tail_b, b))
        b_rot = Rotation.from_matrix(b)
        local = Rotation.from_quat(motion.rotations_xyzw[:, j])
        basis = b_rot.inv() * c_rot * local * c_rot.inv() * b_rot
        q = make_continuous(basis.as_quat())  # (T, 4) xyzw
        rotations.append(q[:, [3, 0, 1, 2]].reshape(-1).tolist())
        if parent < 0:
            loc = (c @ motion.root_position_m.T).T - head_b  # (T, 3), armature space
            locations.append((loc @ b).reshape(-1).tolist())  # rows: B^T @ loc
        else:
            locations.append(None)

    return Scene(
        armature_name=preset.armature_name,
        action_name=motion.name or "mocap",
        fps=float(motion.fps),
        fps_int=fps_int,
        fps_base=fps_base,
        frame_start=0,
        n_frames=n_frames,
        bones=tuple(bones),
        rotations=tuple(rotations),
        locations=tuple(locations),
    )


def _bone(name: str, parent: int, head: np.ndarray, tail: np.ndarray, b: np.ndarray) -> Bone:
    return Bone(name, int(parent), head.tolist(), tail.tolist(), b[:, 2].tolist(), b.reshape(-1).tolist())
