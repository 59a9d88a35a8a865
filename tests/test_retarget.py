"""mocap/retarget without Blender: quaternions against scipy, bone maps, and the retarget itself
checked through an independent forward kinematics of Blender's pose formula (scipy, 4x4)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from motion_fixtures import WALK, load_canonical_motion
from scipy.spatial.transform import Rotation

from mocap.export.scene import scene_from_motion
from mocap.presets import load_preset
from mocap.retarget import (
    ArmatureRig, RetargetError, RetargetOptions, Retargeter, auto_map, check_map, list_map_presets, load_map,
    map_armature, save_map,
)
from mocap.retarget import quat
from mocap.retarget.motionfile import motion_from_dict, motion_to_dict, read_motion

REPO = Path(__file__).resolve().parents[1]
C = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # Blender from internal
needs_walk = pytest.mark.skipif(not WALK.exists(), reason="../shared/data (Bandai BVH) is not here")


# -- quaternions -------------------------------------------------------------------------------
def test_quaternions_agree_with_scipy():
    rng = np.random.default_rng(7)
    a, b = Rotation.random(200, random_state=1), Rotation.random(200, random_state=2)
    v = rng.normal(size=(200, 3))
    assert np.allclose(quat.angle_deg(quat.mul(a.as_quat(), b.as_quat()), (a * b).as_quat()), 0, atol=1e-6)
    assert np.allclose(quat.rotate(a.as_quat(), v), a.apply(v))
    assert np.allclose(quat.to_matrix(a.as_quat()), a.as_matrix())
    assert np.allclose(quat.angle_deg(quat.from_matrix(a.as_matrix()), a.as_quat()), 0, atol=1e-5)
    assert np.allclose(quat.angle_deg(quat.inv(a.as_quat()), a.inv().as_quat()), 0, atol=1e-6)
    d1, d2 = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
    d2[0] = -d1[0]  # opposite vectors: a half turn
    moved = quat.rotate(quat.between(d1, d2), d1)
    assert np.allclose(moved / np.linalg.norm(moved, axis=1)[:, None], d2 / np.linalg.norm(d2, axis=1)[:, None])
    half = Rotation.from_quat(quat.slerp(a.as_quat(), b.as_quat(), 0.5))
    assert np.allclose((half.inv() * a).magnitude(), (b.inv() * half).magnitude(), atol=1e-6)


def test_retarget_package_imports_nothing_but_numpy():
    """The add-on carries a copy of mocap/retarget into Blender, whose Python has numpy only."""
    allowed = {"__future__", "json", "re", "dataclasses", "importlib", "pathlib", "numpy"}
    for path in (REPO / "mocap" / "retarget").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = set() if node.level else {node.module.split(".")[0]}
            else:
                continue
            assert roots <= allowed, f"{path.name} imports {roots - allowed}"


def test_maps_agree_with_the_export_presets():
    # The body's joints; the finger joints of --hands are in the export presets but not (yet) retargeted.
    from mocap.rig import load_rig

    body = set(load_rig().joint_names)
    maps = {m.name: m for m in list_map_presets()}
    for name in ("mixamo", "ue5", "unity", "vrm"):
        assert maps[name].names == {k: v for k, v in load_preset(name).names.items() if k in body}, name
    rigify = {k: v for k, v in load_preset("rigify").names.items() if k in body}
    assert {k: "DEF-" + v for k, v in maps["rigify_deform"].names.items()} == rigify


# -- rigs built from mocap's own skeleton ------------------------------------------------------
def _canonical_rig(motion, names=None, a_pose_deg=0.0, roll_seed=None, twist=False, extra_spine=False,
                   scale=1.0, y_up=False, ik_feet=False, prefix=""):
    """An ArmatureRig made from the canonical skeleton, renamed and disturbed like real rigs are:
    A-pose arms, random rolls, twist bones, more spine bones, centimetres, a Y-up armature space,
    feet parented to a root bone (IK style)."""
    scene = scene_from_motion(motion, "mixamo")
    bones = {b.name: b for b in scene.bones}
    order = [b.name for b in scene.bones]
    parent = {b.name: (scene.bones[b.parent].name if b.parent >= 0 else None) for b in scene.bones}
    head = {n: np.array(bones[n].head) for n in order}
    tail = {n: np.array(bones[n].tail) for n in order}
    mat = {n: np.array(bones[n].rest_matrix).reshape(3, 3) for n in order}
    rng = np.random.default_rng(roll_seed)

    def subtree(n):
        out = [n]
        for c in order:
            if parent[c] in out and c not in out:
                out.append(c)
        return out

    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        if a_pose_deg:
            r = Rotation.from_rotvec([0.0, sign * np.radians(a_pose_deg), 0.0])
            pivot = head[f"{side}Arm"].copy()
            for n in subtree(f"{side}Arm"):
                head[n] = pivot + r.apply(head[n] - pivot)
                tail[n] = pivot + r.apply(tail[n] - pivot)
                mat[n] = r.as_matrix() @ mat[n]
    if roll_seed is not None:
        for n in order:
            y = (tail[n] - head[n]) / np.linalg.norm(tail[n] - head[n])
            mat[n] = Rotation.from_rotvec(y * rng.uniform(-np.pi, np.pi)).as_matrix() @ mat[n]
    if twist:
        for side in ("Left", "Right"):
            n = f"{side}ArmTwist"
            head[n] = (head[f"{side}Arm"] + head[f"{side}ForeArm"]) / 2
            tail[n] = head[f"{side}ForeArm"]
            mat[n] = mat[f"{side}Arm"]
            parent[n] = f"{side}Arm"
            parent[f"{side}ForeArm"] = n
            order.insert(order.index(f"{side}ForeArm"), n)
    if extra_spine:
        n = "SpineExtra"
        head[n] = (head["Spine1"] + head["Spine2"]) / 2
        tail[n] = head["Spine2"]
        mat[n] = mat["Spine1"]
        parent[n], parent["Spine2"] = "Spine1", n
        order.insert(order.index("Spine2"), n)
    if ik_feet:
        head["root"], tail["root"], mat["root"], parent["root"] = np.zeros(3), np.array([0, 0, 0.1]), np.eye(3), None
        order.insert(0, "root")
        parent["Hips"] = "root"
        for side in ("Left", "Right"):
            parent[f"{side}Foot"] = "root"
    turn = Rotation.from_rotvec([-np.pi / 2, 0, 0]) if y_up else Rotation.identity()  # Blender Z up -> Y up
    rename = (lambda n: prefix + names.get(n, n)) if names else (lambda n: prefix + n)
    out = [{"name": rename(n), "parent": None if parent[n] is None else rename(parent[n]),
            "head": turn.apply(head[n] * scale), "tail": turn.apply(tail[n] * scale),
            "matrix": turn.as_matrix() @ mat[n]} for n in order]
    return ArmatureRig.from_bones(out, "test-rig")


def _blender_fk(rig: ArmatureRig, basis_xyzw, location):
    """Armature-space heads (T, B, 3) from pose channels, by Blender's formula
    P_b = P_parent · Rest_parent⁻¹ · Rest_b · Basis_b with 4x4 matrices (scipy, not mocap.retarget)."""
    n_t, n_b = basis_xyzw.shape[:2]
    rest = np.zeros((n_b, 4, 4))
    rest[:, :3, :3] = Rotation.from_quat(rig.rest_xyzw).as_matrix()
    rest[:, :3, 3] = rig.head
    rest[:, 3, 3] = 1
    pose = np.zeros((n_t, n_b, 4, 4))
    for b, p in enumerate(rig.parents):
        basis = np.zeros((n_t, 4, 4))
        basis[:, :3, :3] = Rotation.from_quat(basis_xyzw[:, b]).as_matrix()
        basis[:, :3, 3] = location[:, b]
        basis[:, 3, 3] = 1
        local = rest[b] @ basis
        pose[:, b] = local if p < 0 else pose[:, p] @ np.linalg.inv(rest[p]) @ local
    return pose[:, :, :3, 3]


def _source(motion):
    from mocap.kinematics import joint_positions

    sk = motion.skeleton
    src = motion_from_dict(motion_to_dict(sk.names, sk.parents, sk.offsets_m, sk.end_sites_m, motion.fps,
                                          motion.root_position_m, motion.rotations_xyzw))
    return src, joint_positions(motion)


SEGMENTS = [("Hips", "Spine"), ("Spine", "Spine1"), ("Spine2", "Neck"), ("Neck", "Head"),
            *[(s + a, s + b) for s in ("Left", "Right") for a, b in
              (("Shoulder", "Arm"), ("Arm", "ForeArm"), ("ForeArm", "Hand"), ("UpLeg", "Leg"), ("Leg", "Foot"),
               ("Foot", "ToeBase"))]]


def _max_direction_error_deg(rig, bone_map, heads, src_pos, names, g):
    worst = 0.0
    for a, b in SEGMENTS:
        d_t = heads[:, rig.index(bone_map[b])] - heads[:, rig.index(bone_map[a])]
        d_s = (src_pos[:, names.index(b)] - src_pos[:, names.index(a)]) @ g.T
        cos = np.sum(d_t * d_s, 1) / np.linalg.norm(d_t, axis=1) / np.linalg.norm(d_s, axis=1)
        worst = max(worst, float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max()))
    return worst


@needs_walk
def test_onto_mocaps_own_rig_reproduces_the_fbx_channels():
    motion = load_canonical_motion(n_frames=40)
    src, _ = _source(motion)
    rig = _canonical_rig(motion)
    how, bone_map = map_armature(rig)
    assert how == "mixamo" and len(bone_map) == 22
    anim = Retargeter(src.skeleton, rig, bone_map).retarget(src, RetargetOptions(floor=False))
    scene = scene_from_motion(motion, "mixamo")
    expected = np.array(scene.rotations).reshape(len(scene.bones), -1, 4)[:, :, [1, 2, 3, 0]]
    got = anim.basis_xyzw[:, [rig.index(b.name) for b in scene.bones]].transpose(1, 0, 2)
    assert quat.angle_deg(got, expected).max() < 1e-4


@needs_walk
@pytest.mark.parametrize("case", ["a_pose_rolls_twist", "ue5_y_up_cm", "ik_feet_mixamorig"])
def test_limb_directions_follow_the_source_on_disturbed_rigs(case):
    motion = load_canonical_motion(n_frames=60)
    src, src_pos = _source(motion)
    ue5 = {m.name: m for m in list_map_presets()}["ue5"].names
    rigs = {
        "a_pose_rolls_twist": dict(a_pose_deg=45, roll_seed=3, twist=True, extra_spine=True),
        "ue5_y_up_cm": dict(names=ue5, a_pose_deg=30, roll_seed=4, scale=100.0, y_up=True),
        "ik_feet_mixamorig": dict(ik_feet=True, prefix="mixamorig:", roll_seed=5),
    }
    rig = _canonical_rig(motion, **rigs[case])
    how, bone_map = map_armature(rig)
    assert how == {"a_pose_rolls_twist": "mixamo", "ue5_y_up_cm": "ue5", "ik_feet_mixamorig": "mixamo"}[case]
    rt = Retargeter(src.skeleton, rig, bone_map)
    anim = rt.retarget(src, RetargetOptions(floor=False))
    heads = _blender_fk(rig, anim.basis_xyzw, anim.location)
    assert np.allclose(heads, anim.heads, atol=1e-6 * (100 if case == "ue5_y_up_cm" else 1))
    g = (Rotation.from_rotvec([-np.pi / 2, 0, 0]).as_matrix() if case == "ue5_y_up_cm" else np.eye(3)) @ C
    assert _max_direction_error_deg(rig, bone_map, heads, src_pos, src.skeleton.names, g) < 1e-3
    if case == "ue5_y_up_cm":  # root travel scaled by the leg ratio (100: centimetres)
        assert rt.scale == pytest.approx(100.0, rel=1e-6)
        hips = heads[:, rig.index(bone_map["Hips"])]
        travel_s = (src_pos[-1, 0] - src_pos[0, 0]) @ (g.T)
        assert np.allclose(hips[-1] - hips[0], 100.0 * travel_s, atol=1e-6)


@needs_walk
def test_root_travel_scales_with_leg_length():
    motion = load_canonical_motion(n_frames=60)
    src, src_pos = _source(motion)
    small, big = _canonical_rig(motion, scale=0.8), _canonical_rig(motion, scale=1.25)
    paths = []
    for rig in (small, big):
        rt = Retargeter(src.skeleton, rig, map_armature(rig)[1])
        heads = rt.retarget(src, RetargetOptions(floor=False)).heads[:, rig.index("Hips")]
        paths.append(heads[-1, :2] - heads[0, :2])
    assert np.linalg.norm(paths[1]) / np.linalg.norm(paths[0]) == pytest.approx(1.25 / 0.8, rel=1e-6)


@needs_walk
def test_floor_and_foot_lock_on_a_walk():
    motion = load_canonical_motion(n_frames=90)
    src, src_pos = _source(motion)
    names = src.skeleton.names
    feet = {}
    for side in ("left", "right"):
        toe = src_pos[:, names.index(side.title() + "ToeBase")]
        speed = np.r_[0, np.linalg.norm(np.diff(toe, axis=0), axis=1)] * motion.fps
        feet[side + "_toe"] = (toe[:, 1] < np.percentile(toe[:, 1], 40)) & (speed < 0.3)
    src = motion_from_dict({**motion_to_dict(names, src.skeleton.parents, motion.skeleton.offsets_m, {},
                                              motion.fps, motion.root_position_m, motion.rotations_xyzw,
                                              contacts=feet)})
    rig = _canonical_rig(motion, a_pose_deg=20, scale=1.1)
    rt = Retargeter(src.skeleton, rig, map_armature(rig)[1])
    anim = rt.retarget(src, RetargetOptions(floor=True, foot_lock=True))
    any_contact = feet["left_toe"] | feet["right_toe"]
    lowest = np.minimum(rt.lowest_foot(anim.heads, anim.world_xyzw, "Left"),
                        rt.lowest_foot(anim.heads, anim.world_xyzw, "Right"))
    assert np.abs(lowest[any_contact] - rt.floor).max() < 0.01
    for side in ("Left", "Right"):
        ankle = anim.heads[:, rig.index(side + "Foot")]
        flags = feet[side.lower() + "_toe"]
        edges = np.flatnonzero(np.diff(np.r_[0, flags.astype(int), 0]))
        for first, stop in zip(edges[::2], edges[1::2]):
            if stop - first > 8:
                core = ankle[first + 3:stop - 3]
                assert np.linalg.norm(core - core.mean(0), axis=1).max() < 1e-3


@needs_walk
def test_pose_frame_matches_the_clip():
    """Live mode applies one pose at a time through the same map."""
    motion = load_canonical_motion(n_frames=20)
    src, _ = _source(motion)
    rig = _canonical_rig(motion, a_pose_deg=30, roll_seed=9)
    rt = Retargeter(src.skeleton, rig, map_armature(rig)[1])
    anim = rt.retarget(src, RetargetOptions(floor=False))
    world = src.world_xyzw()
    for t in (0, 7, 19):
        basis, loc = rt.pose_frame(world[t], src.root_m[t], origin_m=src.root_m[0])
        assert quat.angle_deg(basis, anim.basis_xyzw[t]).max() < 1e-6
        assert np.allclose(loc, anim.location[t], atol=1e-9)


# -- automatic mapping -------------------------------------------------------------------------
STYLES = {
    "dot_LR": {"Hips": "pelvis", "Spine": "spine", "Spine1": "spine.001", "Spine2": "chest", "Neck": "neck",
               "Head": "head", **{f"{S}{k}": f"{v}.{S[0]}" for S in ("Left", "Right") for k, v in (
                   ("Shoulder", "clavicle"), ("Arm", "upper_arm"), ("ForeArm", "forearm"), ("Hand", "hand"),
                   ("UpLeg", "thigh"), ("Leg", "shin"), ("Foot", "foot"), ("ToeBase", "toe"))}},
    "underscore_lr": {"Hips": "Pelvis", "Spine": "Spine_A", "Spine1": "Spine_B", "Spine2": "Spine_C",
                      "Neck": "Neck", "Head": "Head", **{f"{S}{k}": f"{v}_{S[0].lower()}" for S in ("Left", "Right")
                                                          for k, v in (("Shoulder", "Collar"), ("Arm", "UpperArm"),
                                                                       ("ForeArm", "LowerArm"), ("Hand", "Hand"),
                                                                       ("UpLeg", "Thigh"), ("Leg", "Calf"),
                                                                       ("Foot", "Foot"), ("ToeBase", "Ball"))}},
    "left_right_words": {"Hips": "Root_Hips", "Spine": "Waist", "Spine1": "Abdomen", "Spine2": "UpperBody",
                         "Neck": "NeckBase", "Head": "HeadBone", **{f"{S}{k}": f"{S}{v}" for S in ("Left", "Right")
                                                                    for k, v in (("Shoulder", "Shoulder"),
                                                                                 ("Arm", "UpperArm"),
                                                                                 ("ForeArm", "Elbow"), ("Hand", "Wrist"),
                                                                                 ("UpLeg", "UpperLeg"),
                                                                                 ("Leg", "Knee"), ("Foot", "Ankle"),
                                                                                 ("ToeBase", "Toes"))}},
    "biped_prefix": {"Hips": "Bip01 Pelvis", "Spine": "Bip01 Spine", "Spine1": "Bip01 Spine1",
                     "Spine2": "Bip01 Spine2", "Neck": "Bip01 Neck", "Head": "Bip01 Head",
                     **{f"{S}{k}": f"Bip01 {S[0]} {v}" for S in ("Left", "Right") for k, v in (
                         ("Shoulder", "Clavicle"), ("Arm", "UpperArm"), ("ForeArm", "Forearm"), ("Hand", "Hand"),
                         ("UpLeg", "Thigh"), ("Leg", "Calf"), ("Foot", "Foot"), ("ToeBase", "Toe0"))}},
}


@needs_walk
@pytest.mark.parametrize("style", sorted(STYLES))
def test_auto_map_reads_common_naming_conventions(style):
    motion = load_canonical_motion(n_frames=2)
    names = STYLES[style]
    rig = _canonical_rig(motion, names=names, twist=True, a_pose_deg=35)
    how, found = map_armature(rig)
    assert how == "auto"
    expected = {k: v for k, v in names.items() if not (style == "biped_prefix" and k.endswith("ToeBase"))}
    assert {k: found[k] for k in expected} == expected


def test_auto_map_from_hierarchy_with_unnamed_trunk():
    """Trunk bones with meaningless names: hips and chest from where legs and arms branch."""
    bones = [("b0", None, (0, 0, 1.0)), ("b1", "b0", (0, 0, 1.1)), ("b2", "b1", (0, 0, 1.25)),
             ("b3", "b2", (0, 0, 1.4)), ("b4", "b3", (0, 0, 1.5)), ("b5", "b4", (0, 0, 1.6))]
    for s, x in (("L", 1), ("R", -1)):
        bones += [(f"clavicle_{s}", "b3", (0.05 * x, 0, 1.42)), (f"upperarm_{s}", f"clavicle_{s}", (0.2 * x, 0, 1.42)),
                  (f"lowerarm_{s}", f"upperarm_{s}", (0.45 * x, 0, 1.42)), (f"hand_{s}", f"lowerarm_{s}", (0.7 * x, 0, 1.42)),
                  (f"thigh_{s}", "b0", (0.1 * x, 0, 0.95)), (f"calf_{s}", f"thigh_{s}", (0.1 * x, 0, 0.5)),
                  (f"foot_{s}", f"calf_{s}", (0.1 * x, 0, 0.08)), (f"finger_{s}", f"hand_{s}", (0.8 * x, 0, 1.42))]
    tails = {n: np.array(h) for n, _, h in bones}
    rig = ArmatureRig.from_bones([{"name": n, "parent": p, "head": h, "tail": np.array(h) + [0, 0, 0.05],
                                   "matrix": np.eye(3)} for n, p, h in bones], "unnamed")
    found = auto_map(rig)
    assert (found["Hips"], found["Spine2"], found["Neck"], found["Head"]) == ("b0", "b3", "b4", "b5")
    assert (found["Spine"], found["Spine1"]) == ("b1", "b2")  # nearest to 27 % and 61 % of the way up
    assert found["LeftHand"] == "hand_L" and "finger_L" not in found.values()
    assert tails  # (tails unused: bones point up)


def test_map_errors_name_the_problem(tmp_path):
    rig = ArmatureRig.from_bones([{"name": "a", "parent": None, "head": (0, 0, 0), "tail": (0, 0, 1),
                                   "matrix": np.eye(3)}], "blob")
    with pytest.raises(RetargetError, match="blob.*could not find bones for Hips"):
        map_armature(rig)
    with pytest.raises(RetargetError, match="no bone 'nope'"):
        check_map({"Hips": "nope"}, rig)
    with pytest.raises(RetargetError, match="given to both"):
        check_map({"Hips": "a", "Spine": "a"}, rig)
    bad = tmp_path / "map.json"
    bad.write_text("{not json")
    with pytest.raises(RetargetError, match="map.json: not valid JSON"):
        load_map(bad)
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(RetargetError, match="not a mocap bone map"):
        load_map(bad)


def test_bone_map_json_round_trip(tmp_path):
    m = {"Hips": "pelvis", "LeftArm": "upperarm_l", "Head": "head"}
    path = save_map(m, tmp_path / "m.json", armature="Rig")
    assert load_map(path) == m
    data = json.loads(path.read_text())
    assert data["format"] == "mocap-bonemap/1" and data["bones"]["Spine"] == ""


def test_motion_file_errors_name_the_file(tmp_path):
    path = tmp_path / "clip.json"
    path.write_text(json.dumps({"format": "mocap-motion/1", "joints": [], "fps": 30}))
    with pytest.raises(RetargetError, match="clip.json: malformed"):
        read_motion(path)
    path.write_text(json.dumps({"format": "bvh"}))
    with pytest.raises(RetargetError, match="clip.json: not a mocap motion file"):
        read_motion(path)
    d = motion_to_dict(("Hips",), (-1,), np.zeros((1, 3)), {}, 30.0, np.zeros((2, 3)), np.tile([0, 0, 0, 1.0], (2, 1, 1)))
    d["rotations_xyzw"][1][0][0] = float("nan")
    path.write_text(json.dumps(d).replace("NaN", "NaN"))
    with pytest.raises(RetargetError, match="NaN"):
        read_motion(path)
