"""Rig presets: data files, loading, renaming (no Blender needed)."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from mocap.data import Motion, Skeleton
from mocap.presets import DEFAULT_PRESET, PresetError, apply_preset, list_presets, load_preset, resolve_preset

_RIG = json.loads((resources.files("mocap") / "rigs" / "humanoid.json").read_text())
# Every joint the rig can have: the body's, and the fingers that --hands adds.
CANONICAL = tuple(j["name"] for j in _RIG["joints"] + _RIG["hands"]["joints"])


def _motion() -> Motion:
    parents = {j["name"]: j["parent"] for j in _RIG["joints"] + _RIG["hands"]["joints"]}
    names = CANONICAL
    rng = np.random.default_rng(3)
    skeleton = Skeleton(
        names=names,
        parents=tuple(-1 if parents[n] is None else names.index(parents[n]) for n in names),
        offsets_m=rng.normal(size=(len(names), 3)),
        end_sites_m={"Head": np.array([0.0, 0.1, 0.0])},
    )
    quats = rng.normal(size=(4, len(names), 4))
    return Motion(skeleton=skeleton, fps=30.0, root_position_m=rng.normal(size=(4, 3)),
                  rotations_xyzw=quats / np.linalg.norm(quats, axis=-1, keepdims=True), name="x")


def test_shipped_presets() -> None:
    assert list_presets() == ["mixamo", "rigify", "ue5", "unity", "vrm"]
    assert resolve_preset(None) == load_preset(DEFAULT_PRESET)  # no preset given: the default one


@pytest.mark.parametrize("name", ["mixamo", "rigify", "ue5", "unity", "vrm"])
def test_preset_maps_every_canonical_joint_to_a_distinct_name(name: str) -> None:
    preset = load_preset(name)
    assert set(preset.names) == set(CANONICAL)
    targets = [preset.bone_name(n) for n in CANONICAL]
    assert len(set(targets)) == len(targets)
    assert preset.root_name() not in targets
    assert preset.description


def test_mixamo_is_the_canonical_naming() -> None:
    preset = load_preset("mixamo")
    assert all(preset.bone_name(n) == n for n in CANONICAL)
    assert preset.with_prefix("mixamorig:").bone_name("Hips") == "mixamorig:Hips"


@pytest.mark.parametrize(
    ("name", "canonical", "expected"),
    [
        ("ue5", "Hips", "pelvis"), ("ue5", "LeftForeArm", "lowerarm_l"), ("ue5", "RightToeBase", "ball_r"),
        ("ue5", "Spine2", "spine_05"), ("unity", "LeftUpLeg", "LeftUpperLeg"), ("unity", "Spine2", "UpperChest"),
        ("rigify", "Hips", "DEF-spine"), ("rigify", "LeftForeArm", "DEF-forearm.L"), ("rigify", "RightLeg", "DEF-shin.R"),
        ("rigify", "Head", "DEF-spine.006"), ("vrm", "Spine1", "chest"), ("vrm", "RightToeBase", "rightToes"),
        ("vrm", "LeftArm", "leftUpperArm"), ("mixamo", "LeftHandThumb1", "LeftHandThumb1"),
        ("ue5", "RightHandIndex3", "index_03_r"), ("unity", "LeftHandPinky1", "LeftLittleProximal"),
        ("rigify", "LeftHandMiddle2", "DEF-f_middle.02.L"), ("vrm", "RightHandThumb1", "rightThumbMetacarpal"),
    ],
)
def test_known_target_names(name: str, canonical: str, expected: str) -> None:
    assert load_preset(name).bone_name(canonical) == expected


def test_only_ue5_adds_a_root_bone() -> None:
    assert load_preset("ue5").root_name() == "root"
    assert [load_preset(n).extra_root for n in ("mixamo", "unity", "rigify", "vrm")] == [None] * 4


def test_unknown_preset_lists_valid_ones() -> None:
    with pytest.raises(PresetError, match="unknown rig preset 'maya'.*mixamo, rigify, ue5, unity, vrm"):
        load_preset("maya")


def test_preset_names_are_case_insensitive() -> None:
    assert load_preset("UE5").name == "ue5"


def test_apply_preset_renames_and_keeps_the_motion() -> None:
    motion = _motion()
    renamed = apply_preset(motion, "ue5")
    assert renamed.skeleton.names[:3] == ("pelvis", "spine_01", "spine_03")
    assert renamed.skeleton.parents == motion.skeleton.parents
    assert np.array_equal(renamed.skeleton.offsets_m, motion.skeleton.offsets_m)
    assert np.array_equal(renamed.rotations_xyzw, motion.rotations_xyzw)
    assert np.array_equal(renamed.root_position_m, motion.root_position_m)
    assert renamed.fps == motion.fps and renamed.name == motion.name
    assert set(renamed.skeleton.end_sites_m) == {"head"}
    assert motion.skeleton.names == CANONICAL  # the input is not modified


def test_apply_preset_refuses_a_non_canonical_skeleton() -> None:
    motion = apply_preset(_motion(), "ue5")
    with pytest.raises(PresetError, match="canonical joints.*pelvis"):
        apply_preset(motion, "unity")
