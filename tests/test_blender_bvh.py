"""Blender's own BVH importer as the independent reader of mocap's BVH code.

Positions are compared in Blender's frame (Z up): Blender = (x, -z, y) of internal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from blender_helpers import blender_from_internal, import_bvh_in_blender

from mocap.bvh import bvh_forward_kinematics, parse_bvh, read_bvh
from mocap.export.bvh import write_bvh
from mocap.kinematics import joint_positions

pytestmark = pytest.mark.blender

WALK = "bvh/bandai_namco/dataset-1_walk_normal_001.bvh"
MIXAMO = "bvh/misc/test_freebvh_20tab.bvh"


@pytest.mark.parametrize("relative", [WALK, MIXAMO])
def test_forward_kinematics_matches_blender_on_third_party_files(shared_data: Path, relative: str) -> None:
    """Bandai: 6 channels on every joint (ZXY); Mixamo: 3-channel joints in ZYX order."""
    path = shared_data / relative
    doc = parse_bvh(path.read_text(), str(path))
    names, positions, _ = bvh_forward_kinematics(doc)
    frames = np.arange(0, doc.frame_count, 7)
    blender = import_bvh_in_blender(path, global_scale=0.01, frames=frames)
    assert blender["keyed_frames"] == doc.frame_count
    idx = [names.index(n) for n in blender["bone_names"]]
    ours = blender_from_internal(positions[frames][:, idx] * 0.01)
    assert np.abs(ours - blender["heads"]).max() < 1e-5  # metres; Blender works in float32


@pytest.mark.parametrize(("order", "units"), [("ZXY", "cm"), ("YXZ", "m"), ("XZY", "cm")])
def test_written_bvh_imports_into_blender_as_mocap_sees_it(
    shared_data: Path, tmp_path: Path, order: str, units: str
) -> None:
    motion = read_bvh(shared_data / WALK, units="cm")  # real motion; Hips is its root
    motion = type(motion)(motion.skeleton, 24000 / 1001, motion.root_position_m, motion.rotations_xyzw, name="walk")
    path = write_bvh(motion, tmp_path / "walk.bvh", rotation_order=order, units=units)
    frames = np.arange(0, motion.n_frames, 5)
    blender = import_bvh_in_blender(path, global_scale=0.01 if units == "cm" else 1.0, frames=frames)
    assert blender["keyed_frames"] == motion.n_frames
    assert blender["frame_end"] >= blender["frame_start"] + motion.n_frames - 1
    assert abs(blender["fps"] - motion.fps) < 1e-5 * motion.fps  # Blender keeps fps_base in float32
    assert set(blender["bone_names"]) == set(motion.skeleton.names)
    idx = [motion.skeleton.index(n) for n in blender["bone_names"]]
    ours = blender_from_internal(joint_positions(motion)[frames][:, idx])
    error_m = np.abs(ours - blender["heads"]).max()
    assert error_m < 1e-3, f"Blender's bone heads differ from mocap's FK by {error_m * 1000:.3f} mm"
