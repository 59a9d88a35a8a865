"""Depth refinement: a pose with wrong depths is pulled onto its 2D landmarks."""

import numpy as np
import pytest

from gt_fixtures import LANDMARK_OF_GT, load_ground_truth

from mocap.camera import cv_from_internal, internal_from_cv
from mocap.data import BLAZEPOSE_NAMES, LandmarkTracks
from mocap.rig import RigError, load_rig
from mocap.solve.refine import RefineConfig, refine_pose
from mocap.solve.root import CameraRoot

RIG = load_rig()
# BlazePose landmark -> the ground-truth joint at the same place (the limbs under test).
GT_OF = {landmark: joint for joint, landmark in LANDMARK_OF_GT.items()}
LIMBS = [("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"),
         ("right_elbow", "right_wrist"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
         ("right_hip", "right_knee"), ("right_knee", "right_ankle")]


# These tracks are built from skeletal joints, so their hips need no landmark -> joint correction.
SKELETAL = RefineConfig(hip_raise=0.0)


def _synthetic_tracks(shared_data, name, depth_error_deg, rng):
    """Tracks built from a GT clip: exact 3D in camera axes for the 14 limb landmarks (the
    rest placed rigidly near their parents), 2D = GT projection + 3 px noise, and a 3D pose
    whose bones are turned toward/away from the camera by a random depth error."""
    gt = load_ground_truth(shared_data, name)
    cam_cv = gt.joints_cv()
    n = len(cam_cv)
    idx = {nm: i for i, nm in enumerate(BLAZEPOSE_NAMES)}
    true_cv = np.zeros((n, 33, 3))
    for nm, joint in GT_OF.items():
        true_cv[:, idx[nm]] = cam_cv[:, gt.names.index(joint)]
    head = cam_cv[:, gt.names.index("head")]
    for nm in BLAZEPOSE_NAMES:  # face, hands, heels: small rigid offsets from a GT joint
        if nm in GT_OF:
            continue
        base = head if idx[nm] <= 10 else true_cv[:, idx[nm.replace("heel", "ankle").replace("pinky", "wrist")
                                                           .replace("index", "wrist").replace("thumb", "wrist")]]
        true_cv[:, idx[nm]] = base + rng.normal(0, 0.04, 3)
    cam = gt.camera()
    pixels = cam.project(true_cv) + rng.normal(0, 3.0, (n, 33, 2))
    true_int = internal_from_cv(true_cv)
    pelvis = 0.5 * (true_int[:, idx["left_hip"]] + true_int[:, idx["right_hip"]])
    # Corrupt depth: each child rotated about the camera's x/y axes around its parent.
    noisy_cv = true_cv.copy()
    for parent, child in RIG.depth_tree.bones:
        if parent in ("pelvis", "neck_base") or child not in GT_OF:
            continue
        p, c = idx[parent], idx[child]
        bone = true_cv[:, c] - true_cv[:, p]
        angle = np.radians(depth_error_deg) * rng.choice([-1, 1], size=(n, 1)) * rng.uniform(0.5, 1.5, (n, 1))
        bone_rot = bone.copy()
        bone_rot[:, 0] = bone[:, 0] * np.cos(angle[:, 0]) - bone[:, 2] * np.sin(angle[:, 0])
        bone_rot[:, 2] = bone[:, 0] * np.sin(angle[:, 0]) + bone[:, 2] * np.cos(angle[:, 0])
        noisy_cv[:, c] += bone_rot - bone  # (this also corrupts the bone to the child's child)
    world = internal_from_cv(noisy_cv)
    world = world - 0.5 * (world[:, [idx["left_hip"]]] + world[:, [idx["right_hip"]]])
    tracks = LandmarkTracks(BLAZEPOSE_NAMES, gt.fps, np.arange(n) / gt.fps, np.arange(n),
                            gt.image_size, pixels, world, np.ones((n, 33)), np.ones(n, bool))
    return tracks, true_int, pelvis, cam, idx


def refined_world(tracks, pelvis, cam, cfg):
    """The refined world landmarks (T, 33, 3) with the true hip path as the camera root."""
    return refine_pose(tracks, CameraRoot(pelvis, tracks.fps), cam, RIG, cfg).tracks.world_m


def _direction_error_deg(points, truth, idx):
    errs = []
    for a, b in LIMBS:
        u = points[:, idx[b]] - points[:, idx[a]]
        v = truth[:, idx[b]] - truth[:, idx[a]]
        cos = np.sum(u * v, 1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
        errs.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.mean(errs)


@pytest.mark.parametrize("name", ["dev_scifi_walk_45", "dev_bandai_punch_mannequin_front", "dev_bandai_dance_mannequin_45"])
def test_refinement_recovers_limb_directions_from_2d(shared_data, name):
    rng = np.random.default_rng(7)
    tracks, true_int, pelvis, cam, idx = _synthetic_tracks(shared_data, name, 25.0, rng)
    truth = true_int - pelvis[:, None]
    before = _direction_error_deg(tracks.world_m, truth, idx)
    refined = refined_world(tracks, pelvis, cam, SKELETAL)
    after = _direction_error_deg(refined, truth, idx)
    assert before > 12.0
    assert after < 0.6 * before
    # Refined landmarks re-project onto the 2D (within a few pixels on average).
    reproj = cam.project(cv_from_internal(refined + pelvis[:, None]))
    limbs = [idx[n] for n in GT_OF]
    assert np.nanmedian(np.linalg.norm(reproj[:, limbs] - tracks.image_xy_px[:, limbs], axis=-1)) < 8.0
    # Hip-centred, finite everywhere.
    assert np.isfinite(refined).all()
    assert np.abs(0.5 * (refined[:, idx["left_hip"]] + refined[:, idx["right_hip"]])).max() < 1e-9


def test_bone_lengths_are_constant_over_time(shared_data):
    rng = np.random.default_rng(2)
    tracks, true_int, pelvis, cam, idx = _synthetic_tracks(shared_data, "dev_scifi_walk_45", 20.0, rng)
    refined = refined_world(tracks, pelvis, cam, SKELETAL)
    for a, b in LIMBS:
        length = np.linalg.norm(refined[:, idx[b]] - refined[:, idx[a]], axis=1)
        assert length.std() < 1e-6 * length.mean() + 1e-9


def test_hip_landmarks_are_raised_to_the_skeletal_hip_joints(shared_data):
    rng = np.random.default_rng(3)
    tracks, true_int, pelvis, cam, idx = _synthetic_tracks(shared_data, "dev_scifi_walk_45", 20.0, rng)
    plain = refined_world(tracks, pelvis, cam, SKELETAL)
    raised = refined_world(tracks, pelvis, cam, RefineConfig(hip_raise=0.1))
    up_plain = 0.5 * (plain[:, idx["left_shoulder"]] + plain[:, idx["right_shoulder"]])  # pelvis at the origin
    # Both hips move up the trunk by 10% of its length; the result is hip-centred on the new hips.
    np.testing.assert_allclose(raised - raised[:, [idx["left_knee"]]], plain - plain[:, [idx["left_knee"]]] +
                               np.where(np.isin(np.arange(33), [idx["left_hip"], idx["right_hip"]])[None, :, None],
                                        0.1 * up_plain[:, None], 0.0), atol=1e-9)
    assert np.abs(0.5 * (raised[:, idx["left_hip"]] + raised[:, idx["right_hip"]])).max() < 1e-9


def test_2d_glitches_of_an_occluded_limb_do_not_stretch_its_bone(shared_data):
    """A far arm at 45 degrees is half hidden; its 2D elbow jumps away from the shoulder in
    a few frames. The 95th percentile of its projected length then overstates the bone
    (47 cm for a 25 cm upper arm on the dance clip); the length is capped near what image
    and BlazePose's depth agree on."""
    rng = np.random.default_rng(5)
    tracks, true_int, pelvis, cam, idx = _synthetic_tracks(shared_data, "dev_bandai_dance_mannequin_45", 10.0, rng)
    shoulder, elbow = idx["right_shoulder"], idx["right_elbow"]
    true_len = np.median(np.linalg.norm(true_int[:, elbow] - true_int[:, shoulder], axis=1))
    glitch = rng.random(tracks.n_frames) < 0.1
    away = tracks.image_xy_px[:, elbow] - tracks.image_xy_px[:, shoulder]
    pixels = tracks.image_xy_px.copy()
    pixels[glitch, elbow] += 1.5 * away[glitch]  # the elbow lands 2.5x as far from the shoulder
    glitched = LandmarkTracks(tracks.names, tracks.fps, tracks.times_s, tracks.frame_indices, tracks.image_size_px,
                              pixels, tracks.world_m, tracks.visibility, tracks.detected)

    def upper_arm(cfg):
        refined = refined_world(glitched, pelvis, cam, cfg)
        return np.median(np.linalg.norm(refined[:, elbow] - refined[:, shoulder], axis=1))

    assert upper_arm(RefineConfig(hip_raise=0.0, length_cap=np.inf)) > 1.3 * true_len  # the failure, uncapped
    assert upper_arm(SKELETAL) < 1.15 * true_len


def test_bone_lengths_are_a_named_output_and_capped(shared_data):
    """The refinement's own length fit (its 1.1x cap) is returned, one entry per bone it
    placed, and each length is what the bone has in the refined pose."""
    rng = np.random.default_rng(4)
    tracks, true_int, pelvis, cam, idx = _synthetic_tracks(shared_data, "dev_scifi_walk_45", 20.0, rng)
    refined = refine_pose(tracks, CameraRoot(pelvis, tracks.fps), cam, RIG, SKELETAL)
    assert set(refined.bone_lengths_m) == set(RIG.depth_tree.bones)
    world = refined.tracks.world_m
    for a, b in LIMBS:
        measured = np.linalg.norm(world[:, idx[b]] - world[:, idx[a]], axis=1)
        assert np.median(measured) == pytest.approx(refined.bone_lengths_m[(a, b)], rel=1e-9)
    # The refined tracks are the input tracks with only their world landmarks changed.
    assert refined.tracks.image_xy_px is tracks.image_xy_px and refined.tracks.fps == tracks.fps


def test_tracks_without_a_landmark_the_tree_needs_are_an_error(shared_data):
    rng = np.random.default_rng(6)
    tracks, true_int, pelvis, cam, idx = _synthetic_tracks(shared_data, "dev_scifi_walk_45", 20.0, rng)
    keep = [i for i, n in enumerate(tracks.names) if n != "left_elbow"]
    partial = LandmarkTracks(tuple(tracks.names[i] for i in keep), tracks.fps, tracks.times_s, tracks.frame_indices,
                             tracks.image_size_px, tracks.image_xy_px[:, keep], tracks.world_m[:, keep],
                             tracks.visibility[:, keep], tracks.detected)
    with pytest.raises(RigError, match="left_elbow"):
        refine_pose(partial, CameraRoot(pelvis, tracks.fps), cam, RIG)
