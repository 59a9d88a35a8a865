"""A BVH made by `mocap convert` from real video, opened with Blender's own importer.

What a user sees when they drop the file into Blender: it must stand upright, face the
camera (Blender's front view looks along +Y, so the performer faces -Y), keep its feet
on the floor, have the clip's frame count and frame rate, and be the performer's height.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from blender_helpers import import_bvh_in_blender

from mocap.pipeline import ConvertOptions, convert

pytestmark = [pytest.mark.blender, pytest.mark.mediapipe]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def squats(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("squats")
    result = convert(REPO / "samples" / "squats.mp4", tmp / "squats.bvh", ConvertOptions(cache_dir=tmp / "cache"))
    scene = import_bvh_in_blender(result.outputs["bvh"], global_scale=0.01)
    return result, scene


def _bone(scene, name):
    return scene["bone_names"].index(name)


def test_frame_count_and_rate(squats):
    result, scene = squats
    assert scene["keyed_frames"] == result.n_frames == 65
    assert scene["fps"] == pytest.approx(5.0)


def test_upright_every_frame(squats):
    _, scene = squats
    heads = scene["heads"]
    z = heads[..., 2]
    head, hips = z[:, _bone(scene, "Head")], z[:, _bone(scene, "Hips")]
    feet = np.maximum(z[:, _bone(scene, "LeftFoot")], z[:, _bone(scene, "RightFoot")])
    assert (head > hips + 0.2).all() and (hips > feet + 0.2).all()


def test_faces_the_camera(squats):
    _, scene = squats
    heads = scene["heads"]
    left = heads[:, _bone(scene, "LeftUpLeg")] - heads[:, _bone(scene, "RightUpLeg")]
    up = heads[:, _bone(scene, "Neck")] - heads[:, _bone(scene, "Hips")]
    forward = np.cross(left, up)
    forward /= np.linalg.norm(forward, axis=1, keepdims=True)
    # The woman squats facing the camera: her forward is Blender's -Y, within ~35 degrees.
    assert np.median(forward[:, 1]) < -0.8


def test_feet_on_the_floor(squats):
    _, scene = squats
    foot_bones = [_bone(scene, n) for n in ("LeftToeBase", "RightToeBase")]
    lowest = np.minimum(scene["heads"][:, foot_bones, 2].min(axis=1), scene["tails"][:, foot_bones, 2].min(axis=1))
    # The lowest foot point (heel markers are not bones) is within 3 cm of the floor.
    assert np.abs(lowest).max() < 0.03


def test_height_matches_the_performer(squats):
    import bpy

    result, _ = squats
    armature = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
    rest = {b.name: (armature.matrix_world @ b.tail_local) for b in armature.data.bones}
    heads = {b.name: (armature.matrix_world @ b.head_local) for b in armature.data.bones}
    top = rest["Head"].z
    bottom = min(heads["LeftToeBase"].z, rest["LeftToeBase"].z, heads["RightToeBase"].z)
    # Blender's rest pose is our T-pose (placed with the hips at the origin, since the root
    # OFFSET is 0): head top above the toes ~ the fitted height (the heel marker sits
    # ~1-2 cm lower than the toe bones, hence 3%).
    assert top - bottom == pytest.approx(result.height_m, rel=0.03)
    assert 1.45 < result.height_m < 1.85  # an adult woman


def test_reads_back_through_mocaps_reader_identically(squats):
    from mocap.bvh import read_bvh
    from mocap.kinematics import joint_positions, quat_angle_deg

    result, _ = squats
    back = read_bvh(result.outputs["bvh"], units="cm")
    assert back.skeleton.names == result.motion.skeleton.names
    assert back.n_frames == result.motion.n_frames and back.fps == pytest.approx(result.motion.fps)
    # The root's OFFSET is written as 0 (absolute position channels); every other offset is kept.
    np.testing.assert_allclose(back.skeleton.offsets_m[1:], result.motion.skeleton.offsets_m[1:], atol=1e-7)
    np.testing.assert_allclose(joint_positions(back), joint_positions(result.motion), atol=1e-6)
    assert quat_angle_deg(back.rotations_xyzw, result.motion.rotations_xyzw).max() < 1e-4
