"""Sanity checks of the landmark synthesiser (tests/synth.py) on real BVH clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from synth import landmarks_from_bvh, project

WALK = "bvh/bandai_namco/dataset-1_walk_normal_001.bvh"
WALK_BACK = "bvh/bandai_namco/dataset-1_walk-back_normal_001.bvh"
DANCE = "bvh/bandai_namco/dataset-1_dance-short_normal_001.bvh"
PUNCH = "bvh/bandai_namco/dataset-1_punch_normal_001.bvh"
BOW = "bvh/bandai_namco/dataset-1_bow_normal_001.bvh"
MIXAMO = "bvh/misc/test_freebvh_20tab.bvh"
MOCAPBANK = "bvh/misc/test_mocapbank_20tab.bvh"
BONES = [("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_hip", "right_knee"),
         ("right_knee", "right_ankle"), ("left_hip", "right_hip")]
RIGID = [("nose", "left_ear"), ("left_eye", "mouth_right"), ("left_wrist", "left_index"), ("right_pinky", "right_thumb"),
         ("left_ankle", "left_heel"), ("right_ankle", "right_foot_index"), ("right_heel", "right_foot_index")]


def at(tracks, name: str) -> int:  # noqa: ANN001
    return tracks.index(name)


@pytest.mark.parametrize("relative", [WALK, MIXAMO, MOCAPBANK])
def test_performer_faces_plus_z_with_left_on_plus_x(shared_data: Path, relative: str) -> None:
    tracks, truth = landmarks_from_bvh(shared_data / relative)
    L = truth["landmarks_m"]
    assert L.shape == (tracks.n_frames, 33, 3) and np.isfinite(L).all()
    for part in ("shoulder", "hip", "eye", "ear"):
        assert L[0, at(tracks, f"left_{part}"), 0] > L[0, at(tracks, f"right_{part}"), 0] + 0.03, part
    # seen from the camera in front, the performer's left is image-right
    img = tracks.image_xy_px[0]
    assert img[at(tracks, "left_shoulder"), 0] > img[at(tracks, "right_shoulder"), 0]
    assert img[at(tracks, "nose"), 1] < img[at(tracks, "left_hip"), 1] < img[at(tracks, "left_ankle"), 1]


def test_left_right_agree_with_the_capture_itself(shared_data: Path) -> None:
    """Independent of the synthesiser's own axes: a forward walk goes +Z, a backward walk -Z,
    and Mixamo's own eye joints sit in front of the head on the performer's left/right."""
    for relative, sign in ((WALK, 1.0), (WALK_BACK, -1.0)):
        tracks, truth = landmarks_from_bvh(shared_data / relative)
        L = truth["landmarks_m"]
        mid_hip = 0.5 * (L[:, at(tracks, "left_hip")] + L[:, at(tracks, "right_hip")])
        travel = mid_hip[-1] - mid_hip[0]
        assert sign * travel[2] > 1.0 and abs(travel[0]) < 0.5 * abs(travel[2]), relative
    tracks, truth = landmarks_from_bvh(shared_data / MIXAMO)
    joints = {n: truth["joint_positions_m"][0, j] for j, n in enumerate(truth["joint_names"])}
    eye_l, eye_r, head = joints["mixamorig:LeftEye"], joints["mixamorig:RightEye"], joints["mixamorig:Head"]
    assert eye_l[0] > eye_r[0] + 0.03 and min(eye_l[2], eye_r[2]) > head[2] + 0.03


@pytest.mark.parametrize("relative", [WALK, PUNCH, BOW, MIXAMO])
def test_face_is_in_front_of_the_head(shared_data: Path, relative: str) -> None:
    """In front of the ears along the trunk's forward (from shoulders and hips) on every
    frame. (Not in the dance or the kick: there the head turns ~90 deg from the trunk.)"""
    tracks, truth = landmarks_from_bvh(shared_data / relative)
    L = truth["landmarks_m"]
    left = L[:, at(tracks, "left_shoulder")] - L[:, at(tracks, "right_shoulder")]
    up = 0.5 * (L[:, at(tracks, "left_shoulder")] + L[:, at(tracks, "right_shoulder")])
    up = up - 0.5 * (L[:, at(tracks, "left_hip")] + L[:, at(tracks, "right_hip")])
    forward = np.cross(left, up)
    forward /= np.linalg.norm(forward, axis=1, keepdims=True)
    ears = 0.5 * (L[:, at(tracks, "left_ear")] + L[:, at(tracks, "right_ear")])
    for names in (["nose"], ["left_eye", "right_eye"], ["mouth_left", "mouth_right"]):
        face = np.mean([L[:, at(tracks, n)] for n in names], axis=0)
        ahead = np.sum((face - ears) * forward, axis=1)
        assert ahead.min() > 0.03, names


@pytest.mark.parametrize("fps", [None, 24.0])
def test_lengths_are_constant_over_time(shared_data: Path, fps: float | None) -> None:
    tracks, truth = landmarks_from_bvh(shared_data / WALK, fps=fps, start_s=0.5, end_s=5.0)
    L = truth["landmarks_m"]
    for a, b in BONES + RIGID:
        d = np.linalg.norm(L[:, at(tracks, a)] - L[:, at(tracks, b)], axis=1)
        assert np.ptp(d) < 1e-9 and d[0] > 0.01, (a, b)


def test_crop_and_resample(shared_data: Path) -> None:
    full, full_truth = landmarks_from_bvh(shared_data / WALK)
    part, part_truth = landmarks_from_bvh(shared_data / WALK, fps=24.0, start_s=1.0, end_s=3.0)
    assert part.fps == 24.0 and part.n_frames == 49 and np.allclose(np.diff(part.times_s), 1 / 24)
    assert np.allclose(part_truth["source_times_s"], 1.0 + np.arange(49) / 24)
    # frame k of the 24 fps crop at 1 s + k/24 is source frame 30 + 1.25 k; k = 4m is frame 30 + 5m
    joints = [at(full, n) for n in ("left_shoulder", "right_elbow", "left_wrist", "right_knee", "left_ankle")]

    def unturned(truth: dict, frames: np.ndarray) -> np.ndarray:
        yaw = Rotation.from_euler("Y", -truth["yaw_deg"], degrees=True)
        return yaw.apply(truth["landmarks_m"][frames][:, joints].reshape(-1, 3))

    k = np.arange(0, 49, 4)
    assert np.abs(unturned(part_truth, k) - unturned(full_truth, 30 + 5 * k // 4)).max() < 1e-9


def test_noise_statistics(shared_data: Path) -> None:
    sigma = 0.02
    tracks, truth = landmarks_from_bvh(shared_data / DANCE, noise_m=sigma, seed=3)
    clean = truth["landmarks_m"]
    mid = 0.5 * (clean[:, at(tracks, "left_hip")] + clean[:, at(tracks, "right_hip")])
    residual = tracks.world_m - (clean - mid[:, None])
    others = [i for i, n in enumerate(tracks.names) if not n.endswith("_hip")]
    # world = (clean + n) - mid(clean + n): std sigma * sqrt(1 + 1/2) off the hips, sigma / sqrt(2) on them
    assert abs(residual[:, others].std() / (sigma * np.sqrt(1.5)) - 1) < 0.03
    assert abs(residual[:, at(tracks, "left_hip")].std() / (sigma / np.sqrt(2)) - 1) < 0.05
    assert np.abs(residual[:, others].mean(axis=(0, 1))).max() < 0.002
    assert np.allclose(tracks.world("left_hip"), -tracks.world("right_hip"))  # hip-centred
    assert tracks.detected.all() and (tracks.visibility == 1).all()
    # the pixels carry the same noise, seen through the pinhole: px error ~ focal * sigma / depth
    K, camera = truth["camera_K"], truth["camera_position_m"]
    depth = camera[2] - clean[..., 2]
    metres = (tracks.image_xy_px - project(clean, camera, K)) * depth[..., None] / K[0, 0]
    assert abs(metres.std() / sigma - 1) < 0.05


def test_no_noise_gives_exact_centred_landmarks_and_projection(shared_data: Path) -> None:
    tracks, truth = landmarks_from_bvh(shared_data / MOCAPBANK)
    clean = truth["landmarks_m"]
    mid = 0.5 * (clean[:, at(tracks, "left_hip")] + clean[:, at(tracks, "right_hip")])
    assert np.array_equal(tracks.world_m, clean - mid[:, None])
    K, camera = truth["camera_K"], truth["camera_position_m"]
    assert np.allclose(tracks.image_xy_px, project(clean, camera, K))
    # a point straight ahead of the camera at its height lands on the image centre
    centre = project(camera + np.array([0.0, 0.0, -2.0]), camera, K)
    assert np.allclose(centre, ((tracks.image_size_px[0] - 1) / 2, (tracks.image_size_px[1] - 1) / 2))
    assert (camera[2] - clean[..., 2]).min() >= 3.0 - 1e-9


def test_dropout_statistics(shared_data: Path) -> None:
    tracks, truth = landmarks_from_bvh(shared_data / DANCE, dropout=0.2, frame_dropout=0.1, seed=11)
    seen = ~np.isnan(tracks.world_m[..., 0])
    assert np.array_equal(seen, ~np.isnan(tracks.image_xy_px[..., 0]))
    assert np.array_equal(seen, tracks.visibility > 0) and np.array_equal(~seen, truth["dropped"])
    missing_frames = ~tracks.detected
    assert abs(missing_frames.mean() - 0.1) < 0.05
    assert not seen[missing_frames].any()
    assert abs(1 - seen[tracks.detected].mean() - 0.2) < 0.01
    # undetected frames come in gaps of about 3 frames
    starts = np.flatnonzero(np.diff(missing_frames.astype(int)) == 1)
    assert 2.0 < missing_frames.sum() / max(len(starts), 1) < 4.5
    # and nothing is dropped when nothing is asked for
    quiet, _ = landmarks_from_bvh(shared_data / WALK, seed=11)
    assert quiet.detected.all() and np.isfinite(quiet.world_m).all() and np.isfinite(quiet.image_xy_px).all()


def test_seed_makes_it_reproducible(shared_data: Path) -> None:
    a, _ = landmarks_from_bvh(shared_data / WALK, noise_m=0.01, dropout=0.1, seed=5)
    b, _ = landmarks_from_bvh(shared_data / WALK, noise_m=0.01, dropout=0.1, seed=5)
    c, _ = landmarks_from_bvh(shared_data / WALK, noise_m=0.01, dropout=0.1, seed=6)
    assert np.array_equal(a.world_m, b.world_m, equal_nan=True)
    assert not np.array_equal(a.world_m, c.world_m, equal_nan=True)


def test_unknown_skeleton_is_refused(shared_data: Path) -> None:
    with pytest.raises(ValueError, match="no landmark mapping"):
        landmarks_from_bvh(shared_data / "bvh/misc/AV_8Walk_Meredith_HVHA_Rep1_pymo.bvh")
