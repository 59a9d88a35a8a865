"""FBX, GLB (and BVH) writers checked by their consumers.

For every rig preset and format, the written file is read back by
- Blender's own importers (bpy, in a fresh factory scene): upright, facing forward
  (Blender -Y), the performer's height, the clip's frame count and rate, the preset's bone
  names and parents, and every joint within 1 cm of mocap's own FK on every frame;
- two independent readers nobody here wrote: assimp (command line, `assjson` dump) and
  three.js's FBXLoader/GLTFLoader/BVHLoader under Node (tests/readers/read.mjs): bone names,
  parents and duration, and (three.js) joint positions.
Readers are installed by scripts/install-readers.sh; without them these tests fail, by design.
The motion is real: a Bandai Namco capture retargeted to mocap's canonical rig
(tests/motion_fixtures.py).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from mocap.data import Motion
from mocap.errors import ExportError
from mocap.export import blender as blender_adapter
from mocap.export.fbx_glb import write_fbx, write_glb
from mocap.export.scene import C_BLENDER_FROM_INTERNAL, rest_positions_m
from mocap.kinematics import joint_positions
from mocap.presets import Preset, apply_preset, load_preset
from motion_fixtures import BANDAI, load_canonical_motion

pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(not BANDAI.is_dir(), reason=f"test data not found at {BANDAI} (../shared/data)"),
]
bpy = pytest.importorskip("bpy", reason="needs bpy (pip install 'mocap-video[blender]')")

REPO = Path(__file__).resolve().parents[1]
READER_JS = REPO / "tests" / "readers" / "read.mjs"
N_FRAMES = 60
TOL_M = 0.01
FORMATS = ("fbx", "glb", "bvh")
# preset key -> (preset name, bone-name prefix)
PRESETS = {"mixamo": ("mixamo", ""), "mixamo-prefixed": ("mixamo", "mixamorig:"), "ue5": ("ue5", ""),
           "unity": ("unity", ""), "rigify": ("rigify", ""), "vrm": ("vrm", "")}


def _preset(key: str) -> Preset:
    name, prefix = PRESETS[key]
    return load_preset(name).with_prefix(prefix)


@pytest.fixture(scope="module")
def motion() -> Motion:
    return load_canonical_motion(n_frames=N_FRAMES)


def write(motion: Motion, path: Path, fmt: str, preset: Preset, blender_exe: str | None = None) -> Path:
    if fmt == "fbx":
        return write_fbx(motion, path, preset, blender_exe=blender_exe)
    if fmt == "glb":
        return write_glb(motion, path, preset, blender_exe=blender_exe)
    from mocap.export.bvh import write_bvh

    return write_bvh(apply_preset(motion, preset), path, units="cm")


@pytest.fixture(scope="module")
def exported(motion: Motion, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    folder = tmp_path_factory.mktemp("exports")
    cache: dict[tuple[str, str], Path] = {}

    def get(key: str, fmt: str) -> Path:
        if (key, fmt) not in cache:
            cache[key, fmt] = write(motion, folder / f"{key}.{fmt}", fmt, _preset(key))
        return cache[key, fmt]

    return get


def expected_parents(motion: Motion, preset: Preset, fmt: str) -> dict[str, str | None]:
    """Bone -> parent bone (None at the top) the file must have."""
    sk = motion.skeleton
    top = preset.root_name() if fmt in ("fbx", "glb") else None
    parents: dict[str, str | None] = {} if top is None else {top: None}
    for j, name in enumerate(sk.names):
        p = sk.parents[j]
        parents[preset.bone_name(name)] = top if p < 0 else preset.bone_name(sk.names[p])
    return parents


# ---------------------------------------------------------------- Blender's importers


@dataclass
class Imported:
    parents: dict[str, str | None]
    rest: dict[str, np.ndarray]  # bone -> (3,) head, Blender world, metres
    posed: dict[str, np.ndarray]  # bone -> (T, 3) head on each keyed frame
    fps: float
    key_frames: np.ndarray  # (T,) frame numbers carrying keys


def _fcurves(obj: object) -> list:
    anim = obj.animation_data
    action = anim.action
    if hasattr(action, "layers") and action.layers:
        return list(action.layers[0].strips[0].channelbag(anim.action_slot).fcurves)
    return list(action.fcurves)


def blender_import(path: Path, fmt: str, clip_fps: float) -> Imported:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    if fmt == "fbx":
        result = bpy.ops.import_scene.fbx(filepath=str(path))
    elif fmt == "glb":
        # glTF stores seconds, not a rate: run the scene at the clip's rate; keys must land on
        # whole frames. Blender's glTF add-on reads the rate as fps * fps_base (not fps / fps_base,
        # see blender_job.build_armature), so give it a base that makes that product the clip's fps.
        scene.render.fps = round(clip_fps)
        scene.render.fps_base = clip_fps / round(clip_fps)
        result = bpy.ops.import_scene.gltf(filepath=str(path))
    else:
        result = bpy.ops.import_anim.bvh(filepath=str(path), global_scale=0.01, update_scene_fps=True,
                                         update_scene_duration=True)
    assert "FINISHED" in result
    arms = [o for o in scene.objects if o.type == "ARMATURE"]
    assert len(arms) == 1, f"{path.name}: {len(arms)} armatures"
    arm = arms[0]
    parents = {b.name: (b.parent.name if b.parent else None) for b in arm.data.bones}
    rest = {b.name: np.array(arm.matrix_world @ b.head_local) for b in arm.data.bones}
    frames = np.unique(np.concatenate([[k.co[0] for k in fc.keyframe_points] for fc in _fcurves(arm)]))
    posed: dict[str, list] = {name: [] for name in parents}
    for f in frames:
        scene.frame_set(int(np.floor(f)), subframe=float(f - np.floor(f)))
        for pb in arm.pose.bones:
            posed[pb.name].append(np.array(arm.matrix_world @ pb.head))
    fps = scene.render.fps * scene.render.fps_base if fmt == "glb" else scene.render.fps / scene.render.fps_base
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return Imported(parents, rest, {k: np.array(v) for k, v in posed.items()}, fps, frames)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("key", list(PRESETS))
def test_blender_reads_back_the_motion(motion: Motion, exported: Callable[[str, str], Path], key: str, fmt: str) -> None:
    preset = _preset(key)
    path = exported(key, fmt)
    got = blender_import(path, fmt, motion.fps)
    name = preset.bone_name

    # bone names and hierarchy
    assert got.parents == expected_parents(motion, preset, fmt)

    # frame count and rate
    assert len(got.key_frames) == motion.n_frames
    assert got.fps == pytest.approx(motion.fps, rel=1e-6)
    assert np.allclose(np.diff(got.key_frames), 1.0, atol=1e-3)

    # upright and facing Blender -Y, at rest and on the first frame
    for pose in ({n: v for n, v in got.rest.items()}, {n: v[0] for n, v in got.posed.items()}):
        feet = max(pose[name("LeftFoot")][2], pose[name("RightFoot")][2])
        assert pose[name("Head")][2] > pose[name("Hips")][2] > feet
        left = pose[name("LeftUpLeg")] - pose[name("RightUpLeg")]
        facing = np.cross(left, [0.0, 0.0, 1.0])
        assert np.dot(facing / np.linalg.norm(facing), [0.0, -1.0, 0.0]) > 0.9

    # the performer's height: head joint above the lowest toe, rest pose
    rest_internal = rest_positions_m(motion)
    sk = motion.skeleton
    ours = rest_internal[sk.index("Head"), 1] - rest_internal[[sk.index("LeftToeBase"), sk.index("RightToeBase")], 1].min()
    theirs = got.rest[name("Head")][2] - min(got.rest[name("LeftToeBase")][2], got.rest[name("RightToeBase")][2])
    assert theirs == pytest.approx(ours, rel=0.02)

    # every joint, every frame, within 1 cm of mocap's FK
    expected = joint_positions(motion) @ C_BLENDER_FROM_INTERNAL.T  # (T, J, 3) Blender frame
    errors = np.stack([np.linalg.norm(got.posed[name(n)] - expected[:, j], axis=-1) for j, n in enumerate(sk.names)])
    assert errors.max() < TOL_M, f"worst joint error {errors.max() * 100:.2f} cm"


@pytest.mark.parametrize("fmt", ["fbx", "glb", "bvh"])
def test_non_integer_frame_rate(motion: Motion, tmp_path: Path, fmt: str) -> None:
    ntsc = replace(motion, fps=24000 / 1001)
    path = write(ntsc, tmp_path / f"ntsc.{fmt}", fmt, load_preset("mixamo"))
    got = blender_import(path, fmt, ntsc.fps)
    assert got.fps == pytest.approx(ntsc.fps, rel=1e-5)
    assert len(got.key_frames) == ntsc.n_frames
    assert np.allclose(np.diff(got.key_frames), 1.0, atol=1e-3)
    duration = three_read(path)["clips"][0]["duration_s"]
    assert duration == pytest.approx((ntsc.n_frames - 1) / ntsc.fps, abs=1e-4)


def _fbx_global_settings(path: Path) -> dict[str, object]:
    from io_scene_fbx import parse_fbx  # Blender's FBX add-on's own binary parser

    root, _version = parse_fbx.parse(str(path))
    settings = next(e for e in root.elems if e.id == b"GlobalSettings")
    props = next(e for e in settings.elems if e.id == b"Properties70")
    return {p.props[0].decode(): p.props[-1] for p in props.elems}


def test_fbx_declares_engine_friendly_axes_units_and_rate(motion: Motion, tmp_path: Path) -> None:
    settings = _fbx_global_settings(write_fbx(replace(motion, fps=24000 / 1001), tmp_path / "a.fbx", "ue5"))
    assert settings["UnitScaleFactor"] == 100.0  # values in metres, declared as such: scale 1 in Unity/Unreal
    assert (settings["UpAxis"], settings["UpAxisSign"]) == (1, 1)  # +Y up
    assert (settings["FrontAxis"], settings["FrontAxisSign"]) == (2, 1)  # +Z front
    assert settings["CustomFrameRate"] == pytest.approx(24000 / 1001, rel=1e-6)


def test_writer_leaves_blender_empty(motion: Motion, tmp_path: Path) -> None:
    write_fbx(motion, tmp_path / "a.fbx", "ue5")
    assert len(bpy.data.objects) == 0 and len(bpy.data.actions) == 0 and len(bpy.data.armatures) == 0
    write_glb(motion, tmp_path / "b.glb", "vrm")
    bones = {b["name"] for b in three_read(tmp_path / "b.glb")["bones"]}
    assert bones == set(expected_parents(motion, load_preset("vrm"), "glb"))


def test_no_blender_is_a_clear_error(motion: Motion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blender_adapter, "bpy_available", lambda: False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExportError, match=r"out\.fbx: FBX/GLB export needs Blender"):
        write_fbx(motion, tmp_path / "out.fbx")
    assert list(tmp_path.iterdir()) == []


def test_failing_blender_leaves_no_file(motion: Motion, tmp_path: Path) -> None:
    false = shutil.which("false")
    assert false is not None
    with pytest.raises(ExportError, match=r"out\.glb: .*could not export GLB \(exit 1\)"):
        write_glb(motion, tmp_path / "out.glb", blender_exe=false)
    assert list(tmp_path.iterdir()) == []


def test_bad_motion_is_refused(motion: Motion, tmp_path: Path) -> None:
    rot = motion.rotations_xyzw.copy()
    rot[3, 2] = np.nan
    with pytest.raises(ExportError, match="NaN"):
        write_fbx(replace(motion, rotations_xyzw=rot), tmp_path / "nan.fbx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("blender") is None, reason="no `blender` executable on PATH")
@pytest.mark.parametrize("fmt", ["fbx", "glb"])
def test_blender_executable_writes_the_same_file(motion: Motion, exported: Callable[[str, str], Path],
                                                 tmp_path: Path, fmt: str) -> None:
    path = write(motion, tmp_path / f"sub.{fmt}", fmt, _preset("ue5"), blender_exe="blender")
    ours, theirs = three_read(exported("ue5", fmt), N_FRAMES), three_read(path, N_FRAMES)
    assert sorted(map(str, ours["bones"])) == sorted(map(str, theirs["bones"]))
    assert ours["clips"] == theirs["clips"]
    for bone, positions in ours["positions"].items():
        assert np.allclose(positions, theirs["positions"][bone], atol=1e-5)


# ---------------------------------------------------------------- independent readers


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"`{tool}` not found: run scripts/install-readers.sh")
    return found


def three_read(path: Path, frames: int = 0) -> dict:
    node = _need("node")
    if not (REPO / "tests" / "readers" / "node_modules" / "three").is_dir():
        pytest.fail("three.js not installed: run scripts/install-readers.sh")
    cmd = [node, str(READER_JS), str(path)] + (["--frames", str(frames)] if frames else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def assimp_read(path: Path, tmp_path: Path) -> dict:
    out = tmp_path / f"{path.stem}.{path.suffix[1:]}.assimp.json"
    proc = subprocess.run([_need("assimp"), "export", str(path), str(out), "-f", "assjson"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and out.exists(), proc.stdout + proc.stderr
    return json.loads(out.read_text())


def _node_parents(node: dict, bones: set[str], parent: str | None, out: dict[str, str | None]) -> None:
    name = node["name"]
    if name in bones:
        out[name] = parent
        parent = name
    for child in node.get("children", []):
        _node_parents(child, bones, parent, out)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("key", list(PRESETS))
def test_assimp_agrees(motion: Motion, exported: Callable[[str, str], Path], tmp_path: Path, key: str, fmt: str) -> None:
    expected = expected_parents(motion, _preset(key), fmt)
    scene = assimp_read(exported(key, fmt), tmp_path)
    parents: dict[str, str | None] = {}
    _node_parents(scene["rootnode"], set(expected), None, parents)
    assert parents == expected
    (anim,) = scene["animations"]
    assert set(expected) <= {ch["name"] for ch in anim["channels"]}
    assert anim["duration"] / anim["tickspersecond"] == pytest.approx((motion.n_frames - 1) / motion.fps, abs=1e-3)


def three_name(name: str, fmt: str) -> str:
    """A bone's name as three.js reports it: FBXLoader and GLTFLoader pass node names through
    PropertyBinding.sanitizeNodeName (whitespace -> _, [ ] . : / dropped); BVHLoader does not."""
    return name if fmt == "bvh" else re.sub(r"[\[\]\.:/]", "", re.sub(r"\s", "_", name))


def three_positions(report: dict, motion: Motion, preset: Preset, fmt: str) -> np.ndarray:
    """(T, J, 3) joint positions three.js computed, in mocap's internal frame (metres).

    three.js keeps the file's Y-up axes, so no axis change; BVH is in cm."""
    scale = 0.01 if fmt == "bvh" else 1.0
    return np.stack([np.array(report["positions"][three_name(preset.bone_name(n), fmt)]) * scale
                     for n in motion.skeleton.names], axis=1)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("key", list(PRESETS))
def test_three_js_agrees(motion: Motion, exported: Callable[[str, str], Path], key: str, fmt: str) -> None:
    preset = _preset(key)
    report = three_read(exported(key, fmt), motion.n_frames)
    # three's BVHLoader turns each End Site into a bone named ENDSITE; they are not joints.
    bones = {b["name"]: b["parent"] for b in report["bones"] if not (fmt == "bvh" and b["name"] == "ENDSITE")}
    expected_bones = {three_name(k, fmt): v and three_name(v, fmt) for k, v in expected_parents(motion, preset, fmt).items()}
    assert bones == expected_bones
    (clip,) = report["clips"]
    assert clip["keys"] == motion.n_frames
    assert clip["duration_s"] == pytest.approx((motion.n_frames - 1) / motion.fps, abs=1e-4)
    got = three_positions(report, motion, preset, fmt)
    expected = joint_positions(motion)
    # the pose (every joint relative to the hips), every frame
    rel_err = np.linalg.norm((got - got[:, :1]) - (expected - expected[:, :1]), axis=-1)
    assert rel_err.max() < TOL_M, f"worst joint error {rel_err.max() * 100:.2f} cm"
    assert np.linalg.norm(got - expected, axis=-1).max() < TOL_M


def test_three_js_bvh_root_position(motion: Motion, exported: Callable[[str, str], Path]) -> None:
    """three.js's BVHLoader adds the root OFFSET to the position channels (Blender and assimp
    do not): mocap writes ROOT OFFSET 0 0 0 with absolute channels so all of them agree."""
    report = three_read(exported("mixamo", "bvh"), motion.n_frames)
    got = three_positions(report, motion, _preset("mixamo"), "bvh")
    assert np.linalg.norm(got[:, 0] - motion.root_position_m, axis=-1).max() < TOL_M


# ---------------------------------------------------------------- FBX rest pose and bind pose


def fbx_bind_poses(path: Path) -> list[dict[str, np.ndarray]]:
    """Every Pose of type BindPose in an FBX file: {node name: (4, 4) global matrix}, read with
    the FBX *parser* that ships with Blender (io_scene_fbx.parse_fbx: the file's node tree,
    no importer logic)."""
    from io_scene_fbx import parse_fbx

    root, _version = parse_fbx.parse(str(path))
    objects = next(e for e in root.elems if e.id == b"Objects")
    names = {e.props[0]: e.props[1].split(b"\x00")[0].decode() for e in objects.elems if e.id == b"Model"}
    poses = []
    for pose in (e for e in objects.elems if e.id == b"Pose"):
        if pose.props[2] != b"BindPose":
            continue
        nodes = {}
        for node in (e for e in pose.elems if e.id == b"PoseNode"):
            fields = {e.id: e.props[0] for e in node.elems}
            nodes[names[fields[b"Node"]]] = np.array(fields[b"Matrix"], dtype=float).reshape(4, 4).T
        poses.append(nodes)
    return poses


@pytest.mark.parametrize("key", list(PRESETS))
def test_fbx_rests_in_the_t_pose_with_a_bind_pose(motion: Motion, exported: Callable[[str, str], Path], key: str) -> None:
    """Engines and MotionBuilder retarget from the rest/bind pose: the FBX's default bone
    transforms and its BindPose are mocap's T-pose, not the first frame (a clip whose first
    frame has the arms down)."""
    preset = _preset(key)
    path = exported(key, "fbx")
    sk = motion.skeleton
    rest = rest_positions_m(motion)  # (J, 3) internal frame = the FBX file's Y-up frame, metres
    assert np.linalg.norm(joint_positions(motion)[0] - joint_positions(motion)[0, :1] - (rest - rest[:1]), axis=-1).max() > 0.3

    # Blender's importer: the rest (edit-bone) heads are the T-pose, arms out along +-X, legs down.
    got = blender_import(path, "fbx", motion.fps)
    expected = rest @ C_BLENDER_FROM_INTERNAL.T
    heads = np.stack([got.rest[preset.bone_name(n)] for n in sk.names])
    assert np.linalg.norm(heads - expected, axis=-1).max() < TOL_M
    for a, b, axis in (("LeftArm", "LeftForeArm", [1, 0, 0]), ("RightArm", "RightForeArm", [-1, 0, 0]),
                       ("LeftUpLeg", "LeftLeg", [0, 0, -1])):
        bone = heads[sk.index(b)] - heads[sk.index(a)]
        assert np.degrees(np.arccos(np.dot(bone / np.linalg.norm(bone), axis))) < 2.0, (a, bone)

    # three.js's FBXLoader: the file's default node transforms are the T-pose.
    report = three_read(path)
    three_rest = np.stack([np.array(report["rest"][three_name(preset.bone_name(n), "fbx")]) for n in sk.names])
    assert np.linalg.norm(three_rest - rest, axis=-1).max() < TOL_M

    # One BindPose holding the armature and every bone at its T-pose world matrix.
    (bind,) = fbx_bind_poses(path)
    assert set(bind) == {preset.armature_name} | set(expected_parents(motion, preset, "fbx"))
    bind_heads = np.stack([bind[preset.bone_name(n)][:3, 3] for n in sk.names])
    assert np.linalg.norm(bind_heads - rest, axis=-1).max() < TOL_M


# ---------------------------------------------------------------- fingers (--hands)


@pytest.fixture(scope="module")
def hand_motion() -> Motion:
    from hand_fixtures import fist_motion

    return fist_motion(20)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("key", ["mixamo", "ue5", "unity"])
def test_fingers_read_back(hand_motion: Motion, tmp_path: Path, key: str, fmt: str) -> None:
    """The 30 finger joints (--hands) keep their names, parents and motion in every format."""
    preset = _preset(key)
    path = write(hand_motion, tmp_path / f"hands.{fmt}", fmt, preset)
    got = blender_import(path, fmt, hand_motion.fps)
    assert got.parents == expected_parents(hand_motion, preset, fmt)
    sk = hand_motion.skeleton
    fingers = [j for j, n in enumerate(sk.names) if "Hand" in n and n not in ("LeftHand", "RightHand")]
    assert len(fingers) == 30
    expected = joint_positions(hand_motion) @ C_BLENDER_FROM_INTERNAL.T
    errors = np.stack([np.linalg.norm(got.posed[preset.bone_name(sk.names[j])] - expected[:, j], axis=-1) for j in fingers])
    assert errors.max() < 0.002, f"worst finger joint error {errors.max() * 1000:.1f} mm"
    # the fist closes: the index's last joint comes 3 cm nearer the wrist than in the open hand
    mid = hand_motion.n_frames // 2
    dist = np.linalg.norm(got.posed[preset.bone_name("LeftHandIndex3")] - got.posed[preset.bone_name("LeftHand")], axis=-1)
    assert dist[mid] < dist[0] - 0.03
