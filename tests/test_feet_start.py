"""Feet at the start of a clip, and planted feet that keep their orientation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mocap.kinematics import global_transforms
from mocap.pipeline import ConvertOptions, probe_and_detect, solve_take
from mocap.solve.footlock import hold_orientation
from mocap.solve.pose import motion_contact_paths_m
from mocap.timeseries import run_ranges

REPO = Path(__file__).resolve().parents[1]


def test_hold_orientation_holds_roll_and_fades():
    rng = np.random.default_rng(3)
    n = 40
    own = Rotation.from_rotvec(rng.normal(0.0, 0.15, (n, 3)))  # a foot wobbling by ~10 degrees
    weight = np.zeros(n)
    weight[10:30] = 1.0
    weight[7:10] = [0.25, 0.5, 0.75]
    held = hold_orientation(own, weight)
    spread = np.degrees((held[10:30] * held[10].inv()).magnitude())
    assert spread.max() < 1e-6
    np.testing.assert_allclose(held[:7].as_quat(), own[:7].as_quat())  # free frames untouched
    np.testing.assert_allclose(held[30:].as_quat(), own[30:].as_quat())
    half = np.degrees((held[8] * own[8].inv()).magnitude())
    full = np.degrees((held[10] * own[8].inv()).magnitude())  # own -> held, half way at w = 0.5
    assert half == pytest.approx(float(full) / 2, rel=0.01)


def _solve(video: Path, cache_dir: Path):
    options = ConvertOptions(cache_dir=cache_dir)
    info, tracks = probe_and_detect(video, options)
    return solve_take(tracks, options, info=info)[1]


@pytest.mark.mediapipe
def test_standing_feet_are_planted_from_the_first_frame(shared_data, tmp_path):
    """dev_scifi_idle_45: the true feet move <= 2 mm. Was: contacts from frames 1-2, the left
    toe 2.9 cm up moving 4.8 cm by frame 2, both feet turning ~20 degrees from frame 0 to 1."""
    solution = _solve(shared_data / "synthetic" / "dev_scifi_idle_45.mp4", tmp_path)
    contacts = solution.contacts
    assert contacts.in_contact[0].all(), dict(zip(contacts.names, contacts.in_contact[0]))
    assert contacts.in_contact[-1].all()
    paths = motion_contact_paths_m(solution.motion, solution.fitted)
    for name, path in paths.items():
        assert abs(path[0, 1]) < 0.005, (name, path[0, 1])
        assert np.linalg.norm(path[2, [0, 2]] - path[0, [0, 2]]) < 0.005, name
    sk = solution.motion.skeleton
    _, rot = global_transforms(sk, solution.motion.root_position_m, solution.motion.rotations_xyzw)
    for foot in ("LeftFoot", "RightFoot"):
        r = Rotation.from_quat(rot[:, sk.index(foot)])
        assert np.degrees((r[1] * r[0].inv()).magnitude()) < 3.0, foot


@pytest.mark.mediapipe
def test_planted_feet_keep_their_orientation(tmp_path):
    """samples/squats.mp4: feet planted throughout; they rolled by up to 12 degrees."""
    solution = _solve(REPO / "samples" / "squats.mp4", tmp_path)
    sk, contacts = solution.motion.skeleton, solution.contacts
    _, rot = global_transforms(sk, solution.motion.root_position_m, solution.motion.rotations_xyzw)
    for side, foot in (("left", "LeftFoot"), ("right", "RightFoot")):
        both = contacts.in_contact[:, contacts.names.index(f"{side}_heel")] & contacts.in_contact[
            :, contacts.names.index(f"{side}_toe")]
        assert both.sum() > 30
        r = Rotation.from_quat(rot[:, sk.index(foot)])
        for first, last in run_ranges(both):
            stretch = r[first : last + 1]
            assert np.degrees((stretch * stretch.mean().inv()).magnitude()).max() < 1.0, foot
