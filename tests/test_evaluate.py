"""mocap.evaluate: every metric on cases whose answer is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mocap import evaluate as ev

RNG_SEED = 7


def random_poses(n_frames: int = 20, n_joints: int = 12, seed: int = RNG_SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(scale=0.3, size=(n_frames, n_joints, 3))


def test_similarity_recovers_known_transform() -> None:
    rng = np.random.default_rng(RNG_SEED)
    src = rng.normal(size=(30, 3))
    rot = Rotation.random(random_state=3).as_matrix()
    dst = 1.7 * src @ rot.T + np.array([0.5, -2.0, 3.0])
    sim = ev.similarity_from_points(src, dst)
    assert sim.scale == pytest.approx(1.7)
    np.testing.assert_allclose(sim.rotation, rot, atol=1e-10)
    np.testing.assert_allclose(sim.apply(src), dst, atol=1e-10)


def test_similarity_never_reflects() -> None:
    src = random_poses(1, 10)[0]
    mirrored = src * np.array([-1.0, 1.0, 1.0])
    sim = ev.similarity_from_points(src, mirrored)
    assert np.linalg.det(sim.rotation) == pytest.approx(1.0)


def test_pa_mpjpe_of_rotated_scaled_translated_copy_is_zero() -> None:
    gt = random_poses()
    rots = Rotation.random(len(gt), random_state=1)
    pred = np.stack([0.8 * r.apply(g) + np.array([1.0, 2.0, 3.0]) * t for t, (r, g) in enumerate(zip(rots, gt))])
    np.testing.assert_allclose(ev.pa_mpjpe_mm(pred, gt), 0.0, atol=1e-8)


def test_pa_mpjpe_known_offset() -> None:
    # gt: three joints on a line, (-1,0,0), (1,0,0), (0,0,0). The estimate lifts the
    # middle joint by 0.3 m. Centred, pred = (-1,-.1), (1,-.1), (0,.2); symmetry keeps
    # the rotation at identity and the best uniform scale is
    # s = cov/var = (2/3) / (2.06/3) = 1/1.03, so the residuals are
    # s*(-1,-.1)-(-1,0) (twice, length s*sqrt(.03^2+.1^2)) and s*(0,.2).
    gt = np.array([[[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    pred = gt.copy()
    pred[0, 2, 1] = 0.3
    s = 1 / 1.03
    expected_m = (2 * s * np.hypot(0.03, 0.1) + s * 0.2) / 3
    assert ev.pa_mpjpe_mm(pred, gt)[0] == pytest.approx(expected_m * 1000)
    # a rigid offset of the whole pose is absorbed completely
    assert ev.pa_mpjpe_mm(gt + 0.25, gt)[0] == pytest.approx(0.0, abs=1e-9)


def test_limb_direction_error_of_one_rotated_limb() -> None:
    # torso = 4 points; one limb from joint 0 to joint 4 rotated by 30 deg in the estimate.
    torso = np.array([[0.2, 0.5, 0.0], [-0.2, 0.5, 0.0], [0.1, 0.0, 0.0], [-0.1, 0.0, 0.0]])
    limb_gt = torso[0] + np.array([0.3, 0.0, 0.0])
    limb_pred = torso[0] + Rotation.from_euler("z", 30, degrees=True).apply([0.3, 0.0, 0.0])
    gt = np.concatenate([torso, [limb_gt]])[None]
    pred = np.concatenate([torso, [limb_pred]])[None]
    # the whole estimated body is also turned 90 deg about y: the torso alignment removes it
    turn = Rotation.from_euler("y", 90, degrees=True)
    pred = turn.apply(pred.reshape(-1, 3)).reshape(pred.shape) + 5.0
    err = ev.limb_direction_error_deg(pred, gt, limbs=[(0, 4), (0, 1)], align=[0, 1, 2, 3])
    np.testing.assert_allclose(err[0], [30.0, 0.0], atol=1e-6)


def test_acceleration_error_identical_is_zero_and_invariant_to_clip_rotation() -> None:
    gt = random_poses(30, 6)
    pred = Rotation.from_euler("xyz", [10, 70, -5], degrees=True).apply(gt.reshape(-1, 3)).reshape(gt.shape)
    pred += np.linspace(0, 3, 30)[:, None, None]  # root travel is removed by root-relative positions
    np.testing.assert_allclose(ev.acceleration_error_mm(pred, gt, root=[0, 1]), 0.0, atol=1e-8)


def test_acceleration_error_of_sinusoid_is_analytic() -> None:
    # One joint of three oscillates in the estimate by A sin(w t) along x, relative to
    # a root that stays put. Second difference of A sin(w t) is -4 sin^2(w/2) A sin(w t),
    # so the per-frame error is |that| / 3 (mean over the 3 joints).
    n = 200
    t = np.arange(n)
    amp, w = 0.01, 0.7
    gt = np.zeros((n, 3, 3))
    gt[:, 1, 1] = -0.5  # a fixed leg: its vertical offset keeps the clip rotation exact
    gt[:, 2, 0] = 0.4
    gt[:, 2, 1] = 0.3
    pred = gt.copy()
    pred[:, 2, 0] += amp * np.sin(w * t)
    expected = 4 * np.sin(w / 2) ** 2 * amp * np.abs(np.sin(w * t[1:-1])) / 3 * 1000
    got = ev.acceleration_error_mm(pred, gt, root=[0])
    # the clip rotation is fitted on the noisy estimate; with zero-mean wobble it is ~identity
    np.testing.assert_allclose(got, expected, atol=0.05)


def test_jitter_of_constant_velocity_is_zero() -> None:
    pos = random_poses(1, 5)[0][None] + np.linspace(0, 1, 10)[:, None, None] * np.array([1.0, 0.2, 0.0])
    np.testing.assert_allclose(ev.jitter_mm(pos, root=[0]), 0.0, atol=1e-9)


def test_ground_contacts_and_foot_skate_of_sliding_foot() -> None:
    n = 60
    gt = np.zeros((n, 3))
    gt[:, 1] = 0.02  # planted at 2 cm for the first half...
    gt[30:, 1] = 0.02 + 0.01 * np.arange(1, 31)  # ...then lifts
    contact = ev.ground_contacts(gt)
    assert contact[:29].all() and not contact[40:].any()
    # the estimate slides horizontally at 3 mm/frame along x and 4 along z: 5 mm/frame
    pred = gt.copy()
    pred[:, 0] += 0.003 * np.arange(n)
    pred[:, 2] += 0.004 * np.arange(n)
    skate = ev.foot_skate_mm(pred, contact)
    np.testing.assert_allclose(skate, 5.0, atol=1e-9)
    assert len(skate) == int(np.sum(contact[1:] & contact[:-1]))


def test_ground_contacts_reject_fast_low_point() -> None:
    gt = np.zeros((20, 3))
    gt[:, 0] = 0.02 * np.arange(20)  # 2 cm/frame along the floor: sliding, not a contact
    assert not ev.ground_contacts(gt).any()


def test_clip_similarity_keeps_sliding() -> None:
    gt = random_poses(40, 4)
    gt[:, :, 1] += 1.0
    rot = Rotation.from_euler("y", 40, degrees=True)
    pred = 1.1 * rot.apply(gt.reshape(-1, 3)).reshape(gt.shape) + np.array([3.0, 0.0, -1.0])
    sim = ev.clip_similarity(pred, gt, root=[0, 1])
    np.testing.assert_allclose(sim.apply(pred), gt, atol=1e-9)


def test_root_trajectory_error() -> None:
    t = np.linspace(0, 1, 50)
    gt = np.stack([t * 4.0, np.full_like(t, 0.9), np.zeros_like(t)], axis=1)
    pred = 0.5 * Rotation.from_euler("y", 30, degrees=True).apply(gt) + 2.0
    np.testing.assert_allclose(ev.root_trajectory_error_mm(pred, gt), 0.0, atol=1e-8)
    # a path that does not move is placed at the centroid: error = distance to the mean
    still = np.zeros_like(gt)
    err = ev.root_trajectory_error_mm(still, gt)
    np.testing.assert_allclose(err, np.abs(gt[:, 0] - 2.0) * 1000, atol=1e-8)
    assert ev.travel_m(gt) == pytest.approx(4.0)
    # with a given alignment (e.g. the body's), the path is not fitted to itself
    shift = ev.Similarity(1.0, np.eye(3), np.array([0.0, 0.1, 0.0]))
    np.testing.assert_allclose(ev.root_trajectory_error_mm(gt, gt, shift), 100.0, atol=1e-8)


def test_pck_counts_points_within_threshold_and_skips_nan() -> None:
    ref = np.zeros((2, 3, 2))
    pred = np.array([[[1, 0], [3, 0], [0, 0]], [[np.nan, 0], [0, 2.5], [0, 1.9]]], dtype=float)
    assert ev.pck(pred, ref, 2.0) == pytest.approx(3 / 5)
    assert ev.pck(pred, ref, np.array([[3.0], [1.0]])) == pytest.approx(3 / 5)
