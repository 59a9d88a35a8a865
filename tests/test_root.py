"""Root travel: the hip translation recovered from metric poses and their pixels."""

import numpy as np
import pytest

from gt_fixtures import load_ground_truth

from mocap.camera import Camera, cv_from_internal
from mocap.solve.root import RootConfig, fit_root_translation, smooth_root

CLIPS = ("dev_bandai_walk_mannequin_front", "dev_scifi_walk_45", "dev_adventurer_kick_front")


def _gt(shared_data, name):
    gt = load_ground_truth(shared_data, name)
    return gt, gt.joints_camera_internal(), gt.camera()


@pytest.mark.parametrize("name", CLIPS)
def test_exact_pixels_give_the_exact_root(shared_data, name):
    gt, joints, cam = _gt(shared_data, name)
    pelvis = joints[:, gt.names.index("pelvis")]
    root = fit_root_translation(joints - pelvis[:, None], gt.joints_2d, np.ones(joints.shape[:2]), cam)
    assert root == pytest.approx(pelvis, abs=1e-5)


@pytest.mark.parametrize("name", CLIPS)
def test_noisy_pixels_and_smoothing_recover_the_path(shared_data, name):
    gt, joints, cam = _gt(shared_data, name)
    rng = np.random.default_rng(1)
    pelvis = joints[:, gt.names.index("pelvis")]
    # BlazePose-like 2D noise (5 px) and a 3D pose with 2 cm noise per joint.
    pixels = gt.joints_2d + rng.normal(0, 5.0, gt.joints_2d.shape)
    pose = joints - pelvis[:, None] + rng.normal(0, 0.02, joints.shape)
    weights = rng.uniform(0.5, 1.0, joints.shape[:2])
    raw = fit_root_translation(pose, pixels, weights, cam)
    smooth = smooth_root(raw, gt.fps, RootConfig())
    err = np.linalg.norm(smooth - pelvis, axis=1)
    assert np.median(err) < 0.06  # metres, at 2.6-3.3 m from the camera
    # Sideways position is far better than depth.
    assert np.abs(smooth[:, 0] - pelvis[:, 0]).mean() < 0.02
    # Smoothing reduces frame-to-frame jitter below the raw fit's.
    jitter = lambda p: np.linalg.norm(np.diff(p, 2, axis=0), axis=1).mean()
    assert jitter(smooth) < 0.5 * jitter(raw)


def test_walking_toward_the_camera_moves_the_root_forward():
    cam = Camera.from_fov(640, 480, 60)
    n = 30
    pose = np.array([[0.0, 0.8, 0.0], [0.0, -0.9, 0.0], [0.2, 0.0, 0.0], [-0.2, 0.0, 0.1], [0.1, -0.5, 0.1]])
    path = np.stack([np.linspace(0.5, -0.5, n), np.zeros(n), np.linspace(-5.0, -3.0, n)], axis=1)  # internal
    pts = pose[None] + path[:, None]
    pixels = cam.project(cv_from_internal(pts))
    root = fit_root_translation(np.repeat(pose[None], n, 0), pixels, np.ones((n, len(pose))), cam)
    assert root == pytest.approx(path, abs=1e-6)
    assert root[-1, 2] > root[0, 2]  # toward the camera is +Z
    assert root[-1, 0] < root[0, 0]  # moved to the camera's left


def test_frames_without_landmarks_are_filled():
    cam = Camera.from_fov(640, 480, 60)
    raw = np.tile([0.1, 0.0, -3.0], (20, 1))
    raw[5:8] = np.nan
    out = smooth_root(raw, 30.0)
    assert np.isfinite(out).all()
    assert out == pytest.approx(raw[0][None].repeat(20, 0), abs=1e-6)
    pose = np.full((2, 4, 3), np.nan)
    assert np.isnan(fit_root_translation(pose, np.zeros((2, 4, 2)), np.ones((2, 4)), cam)).all()


def test_fit_recovers_a_known_translation_exactly_and_skips_unseen_points():
    """Random poses (no body shape assumed), one pixel missing: the exact translation."""
    rng = np.random.default_rng(0)
    cam = Camera.from_fov(640, 480, 60.0)
    pose = rng.normal(scale=0.15, size=(5, 12, 3))  # internal frame, metres
    true_t = np.array([[0.1, -0.2, -3.0], [0.3, 0.0, -2.5], [-0.4, 0.1, -4.0], [0.0, 0.0, -3.0], [0.2, 0.2, -5.0]])
    image = cam.project(cv_from_internal(pose + true_t[:, None]))
    image[1, 3] = np.nan
    got = fit_root_translation(pose, image, np.ones(pose.shape[:2]), cam)
    np.testing.assert_allclose(got, true_t, atol=1e-8)
