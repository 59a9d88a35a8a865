"""BvhDocument <-> Motion, and exact forward kinematics for any BVH channel layout.

Semantics (the same as Blender's importer and most BVH readers):
- A joint's translation from its parent is its position channels where it has them
  (they *replace* the OFFSET; an axis without a channel keeps the OFFSET's value),
  otherwise its OFFSET. Hence a root with position channels sits at exactly those
  values and its OFFSET is ignored.
- A joint's local rotation is the product of its rotation channels in file order,
  intrinsic: "Zrotation Xrotation Yrotation" is R = Rz * Rx * Ry, which is scipy's
  Rotation.from_euler("ZXY", ...) (upper case = intrinsic). No rotation channels =
  identity.
- R_world[j] = R_world[parent] * R_local[j]; p[j] = p[parent] + R_world[parent] @ t[j].

Motion can only move its root, so motion_from_bvh treats non-root position channels
as follows (see its docstring): leading static root joints are folded into the first
joint that carries moving position channels (Bandai Namco's `joint_Root` -> `Hips`),
and other non-root position channels become fixed offsets (their mean over time; a
warning says so when they actually move).

See docs/conventions.md for frames, units and quaternion order.
"""

from __future__ import annotations

import warnings
from decimal import Decimal
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.spatial.transform import Rotation

from mocap.bvh.syntax import POSITION_CHANNELS, BvhDocument, BvhJoint, parse_bvh
from mocap.data import Motion, Skeleton
from mocap.errors import FormatError, InputError
from mocap.kinematics import make_continuous

Units = Literal["cm", "m"] | float
ROTATION_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
# Length of the End Site given to a leaf joint that has none (metres), along its offset.
DEFAULT_END_SITE_M = 0.05
# Non-root position channels that move by more than this (file units) trigger a warning.
_MOVING_TOLERANCE = 1e-4
MAX_BVH_BYTES = 1 << 30  # 1 GiB: past parse_bvh's MAX_VALUES anyway; refused before reading


def metres_per_unit(units: Units) -> float:
    """Metres per file unit: "cm" -> 0.01, "m" -> 1.0, a positive float as given."""
    if isinstance(units, str):
        if units == "cm":
            return 0.01
        if units == "m":
            return 1.0
        raise ValueError(f"units must be 'cm', 'm' or metres per unit, not {units!r}")
    if not float(units) > 0:
        raise ValueError(f"metres per unit must be positive, not {units!r}")
    return float(units)


def fps_from_frame_time(frame_time_s: float) -> float:
    """Frame rate for a BVH Frame Time, snapped to an integer or NTSC (n*1000/1001) rate
    when that rate's frame time rounds to the value as written.

    Files often print 6 or 7 decimals (0.033333 -> 30, 0.008333 -> 120); the written
    precision is read back from the float's shortest repr, so a long value such as
    1/23.976 = 0.0417083750417 stays 23.976 while 0.0417083 becomes 24000/1001.
    Values written with too few digits to tell (0.08, 0.0333) are taken as they are.
    """
    raw = 1.0 / frame_time_s
    decimals = -Decimal(repr(float(frame_time_s))).as_tuple().exponent
    tolerance = 0.5 * 10.0 ** -max(decimals, 0) * (1 + 1e-9) + 1e-15
    if tolerance > 1e-4 * frame_time_s:  # too few digits to tell (0.08 is 12.5 fps, not 12)
        return raw
    for n in {round(raw), round(raw * 1.001)}:
        for candidate in (float(n), n * 1000.0 / 1001.0):
            if n > 0 and abs(1.0 / candidate - frame_time_s) <= tolerance:
                return candidate
    return raw


def local_transforms(doc: BvhDocument) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame local translations (T, J, 3, file units) and rotations (T, J, 4, xyzw)."""
    n_frames, n_joints = doc.frame_count, len(doc.joints)
    translations = np.zeros((n_frames, n_joints, 3))
    rotations = np.zeros((n_frames, n_joints, 4))
    for j, joint in enumerate(doc.joints):
        values = doc.joint_channels(j)
        translations[:, j] = joint.offset
        rot_axes, rot_cols = "", []
        for col, channel in enumerate(joint.channels):
            if channel in POSITION_CHANNELS:
                translations[:, j, POSITION_CHANNELS.index(channel)] = values[:, col]
            else:
                rot_axes += channel[0]
                rot_cols.append(col)
        if rot_axes:
            rot = Rotation.from_euler(rot_axes.upper(), values[:, rot_cols], degrees=True)
            rotations[:, j] = rot.as_quat()
        else:
            rotations[:, j] = (0.0, 0.0, 0.0, 1.0)
    return translations, rotations


def bvh_forward_kinematics(doc: BvhDocument) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Exact FK of any BVH: (names (J), positions (T, J, 3) file units, world rotations (T, J, 4) xyzw)."""
    translations, local = local_transforms(doc)
    n_frames, n_joints = local.shape[:2]
    positions = np.zeros((n_frames, n_joints, 3))
    world: list[Rotation] = []
    for j, joint in enumerate(doc.joints):
        rot = Rotation.from_quat(local[:, j])
        if joint.parent < 0:
            positions[:, j] = translations[:, j]
            world.append(rot)
        else:
            positions[:, j] = positions[:, joint.parent] + world[joint.parent].apply(translations[:, j])
            world.append(world[joint.parent] * rot)
    quats = np.stack([r.as_quat() for r in world], axis=1) if world else np.zeros((n_frames, 0, 4))
    return doc.names, positions, quats


def end_site_positions(doc: BvhDocument, positions: np.ndarray, rotations_xyzw: np.ndarray) -> dict[str, np.ndarray]:
    """World positions (T, 3, file units) of every End Site, keyed by its joint's name.

    positions/rotations_xyzw are bvh_forward_kinematics' (T, J, 3) and (T, J, 4).
    """
    return {
        joint.name: positions[:, j] + Rotation.from_quat(rotations_xyzw[:, j]).apply(joint.end_site)
        for j, joint in enumerate(doc.joints)
        if joint.end_site is not None
    }


def motion_from_bvh(doc: BvhDocument, units: Units = "cm", name: str = "") -> Motion:
    """A Motion (metres, joints in file order) from a BvhDocument.

    units: the file's length unit ("cm", "m" or metres per unit).
    Non-root position channels: Motion moves only its root, so
    - while the root has a single child whose position channels move (more than 1e-4
      file units) and the root itself has no other children, the root is folded into
      that child: the child becomes the root, with its world position and rotation
      (Bandai Namco files: the static `joint_Root` is dropped and `Hips` is the root);
    - any other joint's position channels become its fixed offset (their mean over the
      clip); a RuntimeWarning is issued if they move, since that motion is lost.
    For files with position channels on the root only (every file mocap writes) the
    result reproduces the file exactly.
    """
    scale = metres_per_unit(units)
    translations, local = local_transforms(doc)
    _, positions, world = bvh_forward_kinematics(doc)
    joints = list(doc.joints)
    keep = list(range(len(joints)))
    root_pos, root_rot = translations[:, 0], local[:, 0]
    root_rest = joints[0].offset.copy()
    while True:
        root = keep[0]
        kids = [j for j in keep if joints[j].parent == root]
        if len(kids) != 1 or not _moves(joints[kids[0]], doc.joint_channels(kids[0])):
            break
        child = kids[0]
        root_pos, root_rot = positions[:, child], world[:, child]
        root_rest = root_rest + joints[child].offset
        keep.remove(root)

    names, parents, offsets = [], [], []
    for new_index, j in enumerate(keep):
        joint = joints[j]
        names.append(joint.name)
        parents.append(-1 if new_index == 0 else keep.index(joint.parent))
        if new_index == 0:
            offsets.append(root_rest)
            continue
        has_position = any(c in POSITION_CHANNELS for c in joint.channels)
        offset = translations[:, j].mean(axis=0) if has_position and doc.frame_count else joint.offset
        spread = float(np.abs(translations[:, j] - offset).max()) if doc.frame_count else 0.0
        if spread > _MOVING_TOLERANCE:
            warnings.warn(
                f"{doc.source_name}: position channels of non-root joint '{joint.name}' move by up to "
                f"{spread:.4g} units; Motion keeps their mean as a fixed offset",
                RuntimeWarning,
                stacklevel=2,
            )
        offsets.append(offset)
    rotations = local[:, keep].copy()
    rotations[:, 0] = root_rot
    skeleton = Skeleton(
        names=tuple(names),
        parents=tuple(parents),
        offsets_m=np.array(offsets, dtype=float).reshape(-1, 3) * scale,
        end_sites_m={joints[j].name: joints[j].end_site * scale for j in keep if joints[j].end_site is not None},
    )
    return Motion(
        skeleton=skeleton,
        fps=fps_from_frame_time(doc.frame_time_s),
        root_position_m=np.asarray(root_pos, dtype=float) * scale,
        rotations_xyzw=make_continuous(rotations),
        name=name,
    )


def _moves(joint: BvhJoint, values: np.ndarray) -> bool:
    cols = [c for c, ch in enumerate(joint.channels) if ch in POSITION_CHANNELS]
    if not cols or values.shape[0] == 0:
        return False
    v = values[:, cols]
    return bool(np.abs(v - v[0]).max() > _MOVING_TOLERANCE)


def bvh_from_motion(motion: Motion, rotation_order: str = "ZXY", units: Units = "cm") -> BvhDocument:
    """A BvhDocument for `motion`.

    The root gets 6 channels (Xposition Yposition Zposition + 3 rotations in
    `rotation_order`), every other joint 3 rotation channels. Joints are written
    depth-first (children in skeleton order), which may reorder a skeleton that is
    parents-first but not depth-first. End Sites come from skeleton.end_sites_m; a
    leaf joint without one gets an End Site 5 cm long along its own offset direction
    (straight up if that offset is zero). The root's OFFSET is written as 0 0 0 and its
    position channels are absolute, as Mixamo's and mocapbank's files do: every reader
    (Blender, assimp, three.js, MotionBuilder) then agrees on where the hips are, whereas
    a non-zero root OFFSET is added to the channels by some readers and not by others.
    Euler angles are scipy's
    as_euler(rotation_order) (intrinsic), unwrapped over time per channel (period 360
    degrees) so no channel jumps by 360. Lengths are divided by metres_per_unit(units).
    """
    order = validate_rotation_order(rotation_order)
    scale = metres_per_unit(units)
    sk = motion.skeleton
    order_idx = _depth_first(sk)
    remap = {old: new for new, old in enumerate(order_idx)}
    rot_channels = tuple(f"{axis}rotation" for axis in order)
    joints, columns = [], []
    quats = make_continuous(np.asarray(motion.rotations_xyzw, dtype=float))
    for old in order_idx:
        name = sk.names[old]
        parent = sk.parents[old]
        end_site = sk.end_sites_m.get(name)
        if end_site is None and not sk.children(old):
            direction = sk.offsets_m[old] if parent >= 0 else np.zeros(3)
            norm = float(np.linalg.norm(direction))
            end_site = direction / norm * DEFAULT_END_SITE_M if norm > 1e-9 else np.array([0.0, DEFAULT_END_SITE_M, 0.0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # gimbal lock: angles still exact
            euler = Rotation.from_quat(quats[:, old]).as_euler(order, degrees=True)
        euler = np.unwrap(euler, period=360.0, axis=0)
        if parent < 0:
            channels = POSITION_CHANNELS + rot_channels
            columns.append(np.asarray(motion.root_position_m, dtype=float) / scale)
        else:
            channels = rot_channels
        columns.append(euler)
        joints.append(
            BvhJoint(
                name=name,
                parent=-1 if parent < 0 else remap[parent],
                offset=np.zeros(3) if parent < 0 else np.asarray(sk.offsets_m[old], dtype=float) / scale,
                channels=channels,
                end_site=None if end_site is None else np.asarray(end_site, dtype=float) / scale,
            )
        )
    motion_matrix = np.concatenate(columns, axis=1) if columns else np.zeros((motion.n_frames, 0))
    return BvhDocument(tuple(joints), 1.0 / motion.fps, motion_matrix, motion.name or "<motion>")


def validate_rotation_order(rotation_order: str) -> str:
    """Upper-case permutation of "XYZ"; ValueError otherwise."""
    order = str(rotation_order).upper()
    if order not in ROTATION_ORDERS:
        raise ValueError(f"rotation order must be a permutation of XYZ ({', '.join(ROTATION_ORDERS)}), not {rotation_order!r}")
    return order


def _depth_first(skeleton: Skeleton) -> list[int]:
    roots = [j for j, p in enumerate(skeleton.parents) if p < 0]
    if len(roots) != 1:
        raise ValueError(f"a BVH needs exactly one root joint, the skeleton has {len(roots)}")
    order: list[int] = []
    stack = [roots[0]]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(skeleton.children(j)))
    if len(order) != skeleton.n_joints:
        raise ValueError("skeleton parents do not form one tree")
    return order


def read_bvh(path: str | Path, units: Units = "cm") -> Motion:
    """Read a BVH file into a Motion named after the file's stem.

    units: the file's length unit ("cm" = what write_bvh writes by default).
    Raises InputError if the file cannot be read, FormatError if it is malformed or larger
    than MAX_BVH_BYTES (see parse_bvh for the limits on depth and frames).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BVH_BYTES:
            raise FormatError(f"{path}: {size} bytes, more than the {MAX_BVH_BYTES} a BVH mocap reads may have")
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return motion_from_bvh(parse_bvh(text, str(path)), units=units, name=path.stem)

