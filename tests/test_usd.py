"""USD writer checked by its consumers: Blender's own USD importer and usd-core's `pxr`.

For several rig presets and both USD encodings (.usdc binary, .usda text) the file must give
- in `pxr` (UsdSkel, an independent reader): a Y-up stage in metres, the preset's joint names
  and parents, one time sample per frame, framesPerSecond and timeCodesPerSecond = the clip's
  rate (so its duration), and every joint within 1 cm of mocap's own forward kinematics on
  every frame (internal frame = USD's Y up);
- in Blender (bpy.ops.wm.usd_import, a fresh factory scene): one armature with the preset's
  bones and parents, the clip's frame range and key count, every joint within 1 cm of mocap's
  FK on every frame (Blender frame). Blender's USD importer (5.0.1) reads neither rate into
  the scene (it keys the time codes as frames at the scene's own rate, checked below), so the
  rate is checked through `pxr`.
The motion is real: a Bandai Namco capture on mocap's canonical rig (tests/motion_fixtures.py).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mocap.data import Motion
from mocap.errors import ExportError
from mocap.export.fbx_glb import write_usd
from mocap.export.scene import C_BLENDER_FROM_INTERNAL
from mocap.kinematics import joint_positions
from mocap.presets import Preset, load_preset
from motion_fixtures import BANDAI, load_canonical_motion

pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(not BANDAI.is_dir(), reason=f"test data not found at {BANDAI} (../shared/data)"),
]
bpy = pytest.importorskip("bpy", reason="needs bpy (pip install 'mocap-video[blender]')")
pxr = pytest.importorskip("pxr", reason="needs usd-core (pip install 'mocap[test]')")

N_FRAMES = 40
TOL_M = 0.01
PRESETS = ("mixamo", "ue5", "rigify")
SUFFIXES = (".usdc", ".usda")


@pytest.fixture(scope="module")
def motion() -> Motion:
    return load_canonical_motion(n_frames=N_FRAMES)


def usd_name(name: str) -> str:
    """A bone's name in USD: prim and joint names are identifiers, so Blender's exporter turns
    every other character into '_' (Rigify's DEF-spine.001 -> DEF_spine_001)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def expected_parents(motion: Motion, preset: Preset) -> dict[str, str | None]:
    """Bone -> parent bone (None at the top), with the preset's extra root bone when it has one."""
    sk = motion.skeleton
    top = preset.root_name()
    parents: dict[str, str | None] = {} if top is None else {usd_name(top): None}
    for j, name in enumerate(sk.names):
        p = sk.parents[j]
        parent = top if p < 0 else preset.bone_name(sk.names[p])
        parents[usd_name(preset.bone_name(name))] = parent and usd_name(parent)
    return parents


def pxr_read(path: Path) -> dict:
    """Skeleton, time samples, rate and (T, B, 3) joint world positions through UsdSkel."""
    from pxr import Usd, UsdGeom, UsdSkel

    stage = Usd.Stage.Open(str(path))
    skeletons = [p for p in stage.Traverse() if p.IsA(UsdSkel.Skeleton)]
    assert len(skeletons) == 1, f"{path.name}: {len(skeletons)} skeletons"
    query = UsdSkel.Cache().GetSkelQuery(UsdSkel.Skeleton(skeletons[0]))
    paths = [str(j) for j in query.GetJointOrder()]
    names = [p.rsplit("/", 1)[-1] for p in paths]
    parent_idx = list(query.GetTopology().GetParentIndices())
    samples = list(query.GetAnimQuery().GetJointTransformTimeSamples())
    positions = []
    for t in samples:
        world = query.ComputeJointWorldTransforms(UsdGeom.XformCache(Usd.TimeCode(t)))
        positions.append([[m[3][0], m[3][1], m[3][2]] for m in world])
    return {
        "names": names,
        "parents": {n: (names[p] if p >= 0 else None) for n, p in zip(names, parent_idx)},
        "samples": np.array(samples),
        "fps": stage.GetTimeCodesPerSecond(),
        "frames_per_s": stage.GetFramesPerSecond(),
        "duration_s": (stage.GetEndTimeCode() - stage.GetStartTimeCode() + 1) / stage.GetFramesPerSecond(),
        "up": UsdGeom.GetStageUpAxis(stage),
        "metres_per_unit": UsdGeom.GetStageMetersPerUnit(stage),
        "positions": np.array(positions),
    }


def _fcurves(obj: object) -> list:
    anim = obj.animation_data
    action = anim.action
    if hasattr(action, "layers") and action.layers:
        return list(action.layers[0].strips[0].channelbag(anim.action_slot).fcurves)
    return list(action.fcurves)


def blender_read(path: Path, bone_names: list[str]) -> dict:
    """Import with Blender's USD importer; bones, frame range, keys and posed heads (T, B, 3)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert "FINISHED" in bpy.ops.wm.usd_import(filepath=str(path))
    scene = bpy.context.scene
    arms = [o for o in scene.objects if o.type == "ARMATURE"]
    assert len(arms) == 1, f"{path.name}: {len(arms)} armatures"
    arm = arms[0]
    parents = {b.name: (b.parent.name if b.parent else None) for b in arm.data.bones}
    keys = np.unique(np.concatenate([[k.co[0] for k in fc.keyframe_points] for fc in _fcurves(arm)]))
    posed = []
    for f in keys:
        scene.frame_set(int(round(f)))
        posed.append([np.array(arm.matrix_world @ arm.pose.bones[n].head) for n in bone_names])
    out = {"parents": parents, "keys": keys, "frame_range": (scene.frame_start, scene.frame_end),
           "positions": np.array(posed)}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return out


@pytest.fixture(scope="module")
def exported(motion: Motion, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("usd")
    cache: dict[tuple[str, str], Path] = {}

    def get(preset: str, suffix: str) -> Path:
        if (preset, suffix) not in cache:
            cache[preset, suffix] = write_usd(motion, folder / f"{preset}{suffix}", preset)
        return cache[preset, suffix]

    return get


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("preset_name", PRESETS)
def test_pxr_reads_back_the_motion(motion: Motion, exported, preset_name: str, suffix: str) -> None:
    preset = load_preset(preset_name)
    path = exported(preset_name, suffix)
    if suffix == ".usda":
        assert path.read_bytes().startswith(b"#usda")
    else:
        assert path.read_bytes().startswith(b"PXR-USDC")
    got = pxr_read(path)
    assert got["parents"] == expected_parents(motion, preset)
    assert got["up"] == "Y" and got["metres_per_unit"] == 1.0
    assert np.array_equal(got["samples"], np.arange(motion.n_frames))
    assert got["fps"] == pytest.approx(motion.fps) and got["frames_per_s"] == pytest.approx(motion.fps)
    cols = [got["names"].index(usd_name(preset.bone_name(n))) for n in motion.skeleton.names]
    errors = np.linalg.norm(got["positions"][:, cols] - joint_positions(motion), axis=-1)
    assert errors.max() < TOL_M, f"worst joint error {errors.max() * 100:.2f} cm"


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("preset_name", PRESETS)
def test_blender_reads_back_the_motion(motion: Motion, exported, preset_name: str, suffix: str) -> None:
    preset = load_preset(preset_name)
    bones = [usd_name(preset.bone_name(n)) for n in motion.skeleton.names]
    got = blender_read(exported(preset_name, suffix), bones)
    assert got["parents"] == expected_parents(motion, preset)
    assert len(got["keys"]) == motion.n_frames and np.allclose(np.diff(got["keys"]), 1.0)
    assert got["frame_range"] == (0, motion.n_frames - 1)
    expected = joint_positions(motion) @ C_BLENDER_FROM_INTERNAL.T
    errors = np.linalg.norm(got["positions"] - expected, axis=-1)
    assert errors.max() < TOL_M, f"worst joint error {errors.max() * 100:.2f} cm"


def test_non_integer_frame_rate(motion: Motion, tmp_path: Path) -> None:
    ntsc = replace(motion, fps=24000 / 1001)
    got = pxr_read(write_usd(ntsc, tmp_path / "ntsc.usdc"))
    assert got["fps"] == pytest.approx(ntsc.fps, rel=1e-9) and got["frames_per_s"] == pytest.approx(ntsc.fps, rel=1e-9)
    assert len(got["samples"]) == ntsc.n_frames


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("fps", [30.0, 25.0, 5.0])
def test_frame_rate_and_duration_at_other_rates_than_24(motion: Motion, tmp_path: Path, fps: float, suffix: str) -> None:
    """framesPerSecond (fallback 24) and timeCodesPerSecond both carry the take's rate, so pxr
    gives its true rate and duration; Blender keys every frame, frames 0..T-1, and played at
    that rate (its importer keeps the scene's) lasts T / fps seconds."""
    take = replace(motion, fps=fps)
    path = write_usd(take, tmp_path / f"take{suffix}")
    got = pxr_read(path)
    assert got["frames_per_s"] == fps and got["fps"] == fps
    assert got["duration_s"] == pytest.approx(take.n_frames / fps)
    assert np.array_equal(got["samples"], np.arange(take.n_frames))
    bones = [usd_name(load_preset("mixamo").bone_name(n)) for n in motion.skeleton.names]
    imported = blender_read(path, bones[:1])
    assert imported["frame_range"] == (0, take.n_frames - 1) and len(imported["keys"]) == take.n_frames


def test_wrong_suffix_is_refused(motion: Motion, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"clip\.usd: a USD file must end in \.usdc"):
        write_usd(motion, tmp_path / "clip.usd")
    assert list(tmp_path.iterdir()) == []


def test_failing_blender_leaves_no_file(motion: Motion, tmp_path: Path) -> None:
    import shutil

    false = shutil.which("false")
    assert false is not None
    with pytest.raises(ExportError, match=r"out\.usdc: .*could not export USD \(exit 1\)"):
        write_usd(motion, tmp_path / "out.usdc", blender_exe=false)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("preset_name", ["mixamo", "rigify"])
def test_fingers_read_back(tmp_path: Path, preset_name: str) -> None:
    """The 30 finger joints (--hands) keep their names, parents and motion through UsdSkel."""
    from hand_fixtures import fist_motion

    motion = fist_motion(20)
    preset = load_preset(preset_name)
    got = pxr_read(write_usd(motion, tmp_path / "hands.usdc", preset_name))
    assert got["parents"] == expected_parents(motion, preset)
    names = motion.skeleton.names
    fingers = [j for j, n in enumerate(names) if "Hand" in n and n not in ("LeftHand", "RightHand")]
    assert len(fingers) == 30
    cols = [got["names"].index(usd_name(preset.bone_name(names[j]))) for j in fingers]
    errors = np.linalg.norm(got["positions"][:, cols] - joint_positions(motion)[:, fingers], axis=-1)
    assert errors.max() < 0.002, f"worst finger joint error {errors.max() * 1000:.1f} mm"
