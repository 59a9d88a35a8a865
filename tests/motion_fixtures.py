"""Real motion on mocap's canonical 22-joint rig, retargeted from a Bandai Namco BVH.

How: a tiny BVH reader (independent of mocap.bvh) and forward kinematics give the
captured joints' world positions and rotations. A canonical Skeleton is built in mocap's
T-pose (rest frames = world) with the capture's own bone lengths. Each canonical joint's
world rotation is then solved per frame with `Rotation.align_vectors`: its rest bone
direction is aimed exactly at the observed direction to its child (primary), and a second
rest axis is aimed as close as possible at an observed reference (the left-right line of
hips or shoulders for the trunk; for limbs, an axis fixed in the captured bone's own frame,
calibrated on the first frame), so twist follows the capture. Local rotations are
R_world[parent]^-1 * R_world[j]. The clip is turned about the vertical so the performer
faces +Z on its first frame (docs/conventions.md) and converted from cm to metres.

The canonical Motion's own FK (mocap.kinematics) is the reference the writers are checked
against; its bone directions equal the capture's by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from mocap.data import Motion, Skeleton
from mocap.kinematics import unit

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BANDAI = DATA / "bvh" / "bandai_namco"
WALK = BANDAI / "dataset-1_walk_normal_001.bvh"


@dataclass
class Bvh:
    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (J, 3) file units
    channels: list[list[str]]
    frame_time_s: float
    values: np.ndarray  # (T, C)


def read_bvh_minimal(path: Path) -> Bvh:
    """Hierarchy and motion of a BVH file (no validation beyond what this test data needs)."""
    tokens = path.read_text().split()
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    stack: list[int] = []
    i = 0
    in_end = False
    while tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            i += 2
        elif tok == "End":
            in_end = True
            i += 2
        elif tok == "{":
            if not in_end:
                stack.append(len(names) - 1)
            i += 1
        elif tok == "}":
            if in_end:
                in_end = False
            else:
                stack.pop()
            i += 1
        elif tok == "OFFSET":
            if not in_end:
                offsets.append([float(v) for v in tokens[i + 1 : i + 4]])
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            channels.append(tokens[i + 2 : i + 2 + n])
            i += 2 + n
        else:
            i += 1
    n_frames = int(tokens[i + 2])
    frame_time = float(tokens[i + 5])
    values = np.array(tokens[i + 6 :], dtype=float).reshape(n_frames, -1)
    return Bvh(names, parents, np.array(offsets), channels, frame_time, values)


def bvh_fk(bvh: Bvh) -> tuple[np.ndarray, list[Rotation]]:
    """World positions (T, J, 3) and world rotations (per joint, T each) of a BVH clip."""
    n_frames = bvh.values.shape[0]
    pos = np.zeros((n_frames, len(bvh.names), 3))
    rots: list[Rotation] = []
    col = 0
    for j, parent in enumerate(bvh.parents):
        chans = bvh.channels[j]
        block = bvh.values[:, col : col + len(chans)]
        col += len(chans)
        trans = np.tile(bvh.offsets[j], (n_frames, 1))
        rot_order = ""
        rot_cols = []
        for k, ch in enumerate(chans):
            if ch.endswith("position"):
                trans[:, "XYZ".index(ch[0])] = block[:, k]
            else:
                rot_order += ch[0]
                rot_cols.append(k)
        local = Rotation.from_euler(rot_order, block[:, rot_cols], degrees=True)
        if parent < 0:
            pos[:, j] = trans
            rots.append(local)
        else:
            pos[:, j] = pos[:, parent] + rots[parent].apply(trans)
            rots.append(rots[parent] * local)
    return pos, rots


# canonical limb part -> (canonical parent, Bandai joint it sits on), left side; the right mirrors it
_LEFT = {
    "Shoulder": ("Spine2", "Shoulder_L"), "Arm": ("LeftShoulder", "UpperArm_L"),
    "ForeArm": ("LeftArm", "LowerArm_L"), "Hand": ("LeftForeArm", "Hand_L"),
    "UpLeg": ("Hips", "UpperLeg_L"), "Leg": ("LeftUpLeg", "LowerLeg_L"),
    "Foot": ("LeftLeg", "Foot_L"), "ToeBase": ("LeftFoot", "Toes_L"),
}
CANONICAL = (
    "Hips", "Spine", "Spine1", "Spine2", "Neck", "Head",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand",
    "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase",
    "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase",
)


def _canonical_skeleton(bvh: Bvh, hip_height_m: float) -> Skeleton:
    """T-pose canonical skeleton with the capture's bone lengths (metres)."""
    length = {n: np.linalg.norm(bvh.offsets[bvh.names.index(n)]) / 100.0 for n in bvh.names}
    up = np.array([0.0, 1.0, 0.0])
    chest_to_shoulder = bvh.offsets[bvh.names.index("Shoulder_L")] / 100.0  # chest-local: x up, z lateral
    hips_to_upleg = bvh.offsets[bvh.names.index("UpperLeg_L")] / 100.0  # hips-local: x up, y lateral
    offsets = {
        "Hips": np.array([0.0, hip_height_m, 0.0]),
        "Spine": up * length["Spine"],
        "Spine1": up * length["Chest"] / 2,
        "Spine2": up * length["Chest"] / 2,
        "Neck": up * length["Neck"],
        "Head": up * length["Head"],
        "LeftShoulder": np.array([abs(chest_to_shoulder[2]), chest_to_shoulder[0], 0.0]),
        "LeftArm": np.array([length["UpperArm_L"], 0.0, 0.0]),
        "LeftForeArm": np.array([length["LowerArm_L"], 0.0, 0.0]),
        "LeftHand": np.array([length["Hand_L"], 0.0, 0.0]),
        "LeftUpLeg": np.array([abs(hips_to_upleg[1]), hips_to_upleg[0], 0.0]),
        "LeftLeg": np.array([0.0, -length["LowerLeg_L"], 0.0]),
        "LeftFoot": np.array([0.0, -length["Foot_L"], 0.0]),
        "LeftToeBase": np.array([0.0, -0.5, 1.0]) / np.sqrt(1.25) * length["Toes_L"],
    }
    for part in _LEFT:
        offsets["Right" + part] = offsets["Left" + part] * np.array([-1.0, 1.0, 1.0])
    names = CANONICAL
    parents = tuple(-1 if n == "Hips" else names.index(_parent(n)) for n in names)
    end_sites = {
        "Head": up * 0.12, "LeftHand": np.array([0.08, 0.0, 0.0]), "RightHand": np.array([-0.08, 0.0, 0.0]),
        "LeftToeBase": np.array([0.0, 0.0, 0.05]), "RightToeBase": np.array([0.0, 0.0, 0.05]),
    }
    return Skeleton(names, parents, np.array([offsets[n] for n in names]), end_sites)


def _parent(name: str) -> str:
    trunk = {"Spine": "Hips", "Spine1": "Spine", "Spine2": "Spine1", "Neck": "Spine2", "Head": "Neck"}
    if name in trunk:
        return trunk[name]
    side = "Left" if name.startswith("Left") else "Right"
    parent = _LEFT[name[len(side):]][0]
    return parent.replace("Left", side)


def load_canonical_motion(path: Path = WALK, n_frames: int | None = 90, fps: float | None = None) -> Motion:
    """A canonical-rig Motion retargeted from a Bandai BVH (first `n_frames` frames)."""
    bvh = read_bvh_minimal(path)
    if n_frames is not None:
        bvh.values = bvh.values[:n_frames]
    pos_cm, rots = bvh_fk(bvh)
    idx = {n: i for i, n in enumerate(bvh.names)}
    # Face +Z on frame 0: yaw so that forward = left x up points along +Z.
    left0 = pos_cm[0, idx["UpperLeg_L"]] - pos_cm[0, idx["UpperLeg_R"]]
    forward0 = np.cross(left0, [0.0, 1.0, 0.0])
    yaw = np.arctan2(forward0[0], forward0[2])
    turn = Rotation.from_rotvec([0.0, -yaw, 0.0])
    n_t = pos_cm.shape[0]
    world = turn.apply(pos_cm.reshape(-1, 3)).reshape(pos_cm.shape) / 100.0  # (T, J, 3) metres
    brot = {n: turn * rots[i] for n, i in idx.items()}

    def p(name: str) -> np.ndarray:
        return world[:, idx[name]]

    def bone_x(name: str) -> np.ndarray:
        """Captured bone's own axis (bandai bones run along local +-X)."""
        sign = np.sign(bvh.offsets[idx[name]][0]) or 1.0
        return sign * brot[name].apply([1.0, 0.0, 0.0])

    hip_left = unit(p("UpperLeg_L") - p("UpperLeg_R"))
    sh_left = unit(p("UpperArm_L") - p("UpperArm_R"))
    mid_left = unit(hip_left + sh_left)
    spine_mid = (p("Spine") + p("Chest")) / 2
    X, Y, Z = np.eye(3)
    # canonical joint -> (rest primary, observed primary (T,3), rest secondary, observed secondary (T,3))
    targets: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {
        "Hips": (Y, p("Spine") - p("Hips"), X, hip_left),
        "Spine": (Y, spine_mid - p("Spine"), X, mid_left),
        "Spine1": (Y, p("Chest") - spine_mid, X, mid_left),
        "Spine2": (Y, p("Neck") - p("Chest"), X, sh_left),
        "Neck": (Y, p("Head") - p("Neck"), X, sh_left),
        "Head": (Y, bone_x("Head"), X, sh_left),
    }
    for side, s, sx in (("Left", "L", 1.0), ("Right", "R", -1.0)):
        chain = [("Shoulder", "Shoulder_L", "UpperArm_L", Z), ("Arm", "UpperArm_L", "LowerArm_L", Z),
                 ("ForeArm", "LowerArm_L", "Hand_L", Z), ("Hand", "Hand_L", None, Z),
                 ("UpLeg", "UpperLeg_L", "LowerLeg_L", Z), ("Leg", "LowerLeg_L", "Foot_L", Z),
                 ("Foot", "Foot_L", "Toes_L", Y), ("ToeBase", "Toes_L", None, Y)]
        forward0 = np.array([0.0, 0.0, 1.0])
        for part, joint, child, rest2 in chain:
            joint, child = joint.replace("_L", f"_{s}"), child and child.replace("_L", f"_{s}")
            observed = p(child) - p(joint) if child else bone_x(joint)
            rest1 = unit(_canonical_rest_dir(side + part, sx))
            # secondary: an axis fixed in the captured bone's frame, = rest2's image on frame 0
            ref0 = rest2 if rest2 is Y else forward0
            d0 = unit(observed[0])
            ref0 = unit(ref0 - np.dot(ref0, d0) * d0)
            local_axis = brot[joint][0].inv().apply(ref0)
            targets[side + part] = (rest1, observed, rest2, brot[joint].apply(local_axis))

    skeleton = _canonical_skeleton(bvh, hip_height_m=float(np.mean(p("Hips")[:, 1])))
    world_rot: dict[str, Rotation] = {}
    quats = np.zeros((n_t, len(CANONICAL), 4))
    for j, name in enumerate(CANONICAL):
        r1, o1, r2, o2 = targets[name]
        rot_t = [Rotation.align_vectors(np.stack([o1[t], o2[t]]), np.stack([r1, r2]), weights=[np.inf, 1.0])[0]
                 for t in range(n_t)]
        world_rot[name] = Rotation.concatenate(rot_t)
        parent = skeleton.parents[j]
        local = world_rot[name] if parent < 0 else world_rot[CANONICAL[parent]].inv() * world_rot[name]
        quats[:, j] = local.as_quat()
    clip_fps = 1.0 / bvh.frame_time_s
    clip_fps = float(round(clip_fps)) if abs(clip_fps - round(clip_fps)) < 1e-3 else clip_fps
    return Motion(skeleton=skeleton, fps=fps or clip_fps, root_position_m=p("Hips").copy(),
                  rotations_xyzw=quats, name=path.stem)


def _canonical_rest_dir(name: str, sx: float) -> np.ndarray:
    """Rest direction from a canonical joint to its child (or end site), internal frame."""
    part = name.removeprefix("Left").removeprefix("Right")
    if part in ("Shoulder", "Arm", "ForeArm", "Hand"):
        return np.array([sx, 0.0, 0.0])
    if part in ("UpLeg", "Leg"):
        return np.array([0.0, -1.0, 0.0])
    if part == "Foot":
        return np.array([0.0, -0.5, 1.0])
    return np.array([0.0, 0.0, 1.0])  # ToeBase -> end site
