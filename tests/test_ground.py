"""Ground: the floor plane under the feet and the rotation that levels it."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from gt_fixtures import load_ground_truth

from mocap.kinematics import rotation_from_to
from mocap.rig import RigError, load_rig
from mocap.solve.ground import fit_ground, fit_plane

RIG = load_rig()
# BlazePose-named points the floor fit needs -> the GT joint standing in for each.
GT_OF = {"left_hip": "l_hip", "right_hip": "r_hip", "left_shoulder": "l_shoulder", "right_shoulder": "r_shoulder",
         "left_heel": "l_ankle", "left_foot_index": "l_toe", "right_heel": "r_ankle", "right_foot_index": "r_toe"}


def _gt_points(shared_data, name, tilt: Rotation, offset=np.array([0.2, 1.3, -2.5])):
    """Ground-truth joints as BlazePose-named points in a tilted, shifted frame (like a
    camera's), and the levelled truth of each point (T, 3). Heels: the ankles lowered to
    the sole (by their resting height above the toes)."""
    gt = load_ground_truth(shared_data, name)
    truth = {n: gt.world(j).copy() for n, j in GT_OF.items()}
    for heel, toe in (("left_heel", "left_foot_index"), ("right_heel", "right_foot_index")):
        truth[heel][:, 1] -= truth[heel][:, 1].min() - truth[toe][:, 1].min()
    return {n: tilt.apply(p) - offset for n, p in truth.items()}, gt.fps, truth


# Clips whose performer travels over the floor (the Quaternius walks are on the spot).
@pytest.mark.parametrize("name", ["dev_bandai_walk_mannequin_front", "dev_bandai_run_adventurer_45", "dev_bandai_dance_mannequin_45"])
@pytest.mark.parametrize("tilt_deg", [(12.0, 0.0), (-8.0, 5.0)])
def test_levelling_undoes_a_camera_tilt(shared_data, name, tilt_deg):
    pitch, roll = tilt_deg
    tilt = Rotation.from_euler("xz", [pitch, roll], degrees=True)
    points, fps, truth = _gt_points(shared_data, name, tilt)
    ground = fit_ground(points, fps, RIG)
    true_up = tilt.apply([0.0, 1.0, 0.0])
    assert np.degrees(np.arccos(ground.normal @ true_up)) < 3.0
    assert ground.tilt_deg == pytest.approx(np.hypot(pitch, roll), abs=3.0)
    # Levelled heights follow the true ones over the whole clip (no tilt left to turn
    # travel into climbing), and the floor sits where the feet rest (within 3 cm).
    for name_bp in ("left_foot_index", "right_heel"):
        diff = ground.apply(points[name_bp])[:, 1] - truth[name_bp][:, 1]
        assert diff.std() < 0.01
    # Resting feet are at height 0: the toes, in the frames where they are truly lowest.
    for name_bp in ("left_foot_index", "right_foot_index"):
        height = truth[name_bp][:, 1]
        resting = height <= np.percentile(height, 20)
        assert abs(np.median(ground.apply(points[name_bp])[resting, 1])) < 0.03


def test_points_without_the_feet_are_an_error(shared_data):
    points, fps, _ = _gt_points(shared_data, "dev_bandai_walk_mannequin_front", Rotation.identity())
    del points["right_heel"]
    with pytest.raises(RigError, match="right_heel"):
        fit_ground(points, fps, RIG)


def test_plane_fit_ignores_outliers_and_keeps_the_prior_when_degenerate():
    rng = np.random.default_rng(0)
    normal = Rotation.from_euler("x", 10, degrees=True).apply([0.0, 1.0, 0.0])
    basis = np.linalg.svd(normal[None])[2][1:]
    pts = rng.uniform(-1.5, 1.5, (200, 2)) @ basis + 0.4 * normal + rng.normal(0, 0.005, (200, 3))
    pts[:20] += normal * rng.uniform(0.1, 0.4, (20, 1))  # feet caught mid-step
    fitted, height, inliers = fit_plane(pts, np.array([0.0, 1.0, 0.0]))
    assert np.degrees(np.arccos(fitted @ normal)) < 1.0
    assert height == pytest.approx(0.4, abs=0.01)
    assert not inliers[:20].any()
    # Four points in a 20 cm patch say nothing about tilt: the prior (body up) stays.
    patch = np.array([[0.0, 0, 0], [0.2, 0.01, 0], [0, -0.01, 0.2], [0.2, 0, 0.2]])
    fitted, _, _ = fit_plane(patch, np.array([0.0, 1.0, 0.0]))
    assert fitted[1] > np.cos(np.radians(3.0))


def test_levelling_is_the_smallest_turn():
    a, b = np.array([0.0, 0.9, 0.3]), np.array([0.0, 1.0, 0.0])
    r = rotation_from_to(a[None], b[None])[0].as_matrix()
    assert r @ (a / np.linalg.norm(a)) == pytest.approx(b)
    assert r @ np.array([1.0, 0, 0]) == pytest.approx([1.0, 0, 0])  # heading unchanged
