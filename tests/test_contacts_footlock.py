"""Foot contacts from ground truth, foot locking by IK, and the contacts sidecar."""

import json
from dataclasses import replace

import numpy as np
import pytest
from gt_fixtures import load_ground_truth
from pose_fixtures import t_pose_world, tracks_from

from mocap.data import FootContacts
from mocap.evaluate import ground_contacts
from mocap.export.contacts_json import read_contacts, write_contacts
from mocap.rig import RigError
from mocap.solve import MotionConfig, solve_motion
from mocap.solve.contacts import ContactConfig, clean_runs, detect_contacts, hysteresis
from mocap.solve.footlock import lock_feet, lock_targets, two_bone_ik
from mocap.solve.pose import motion_contact_paths_m
from mocap.timeseries import run_ranges

CONTACT_GT = {"left_toe": "l_toe", "right_toe": "r_toe", "left_heel": "l_ankle", "right_heel": "r_ankle"}


@pytest.mark.parametrize("name", ["dev_bandai_walk_mannequin_front", "dev_bandai_dance_mannequin_45"])
def test_contacts_of_a_gt_clip_agree_with_its_foot_heights_and_speeds(shared_data, name):
    gt = load_ground_truth(shared_data, name)
    rng = np.random.default_rng(0)
    noisy = gt.joints_world + rng.normal(0, 0.005, gt.joints_world.shape)  # 5 mm landmark noise
    paths = {point: noisy[:, gt.names.index(joint)] for point, joint in CONTACT_GT.items()}
    contacts = detect_contacts(paths, gt.fps)
    assert contacts.fps == gt.fps
    for point in ("left_toe", "right_toe"):
        true_path = gt.world(CONTACT_GT[point])
        truth = ground_contacts(true_path)  # independent: within 3 cm of its lowest, < 5 mm/frame
        found = contacts.in_contact[:, contacts.names.index(point)]
        assert truth.any() and found.any()
        # Nearly every true contact frame is found, and what is found is low and slow.
        assert (found & truth).sum() / truth.sum() > 0.85
        height = true_path[found, 1] - true_path[:, 1].min()
        assert np.percentile(height, 90) < 0.06


def test_hysteresis_and_run_cleaning():
    on = np.array([0, 1, 0, 0, 0, 0, 0, 1, 0, 0], bool)
    stay = np.array([0, 1, 1, 1, 0, 0, 0, 1, 1, 0], bool)
    assert hysteresis(on, stay).tolist() == [0, 1, 1, 1, 0, 0, 0, 1, 1, 0]
    flags = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 1], bool)
    assert clean_runs(flags, min_len=3, max_gap=1).tolist() == [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert run_ranges(np.array([0, 1, 1, 0, 1], bool)) == [(1, 2), (4, 4)]


def test_two_sided_hysteresis_reaches_back_as_far_as_forward():
    on = np.array([0, 0, 0, 1, 0, 0, 0], bool)
    stay = np.array([1, 0, 1, 1, 1, 0, 1], bool)
    assert hysteresis(on, stay).tolist() == [0, 0, 0, 1, 1, 0, 0]
    assert hysteresis(on, stay, two_sided=True).tolist() == [0, 0, 1, 1, 1, 0, 0]
    # The speed-blind first pass has nothing to stop it reaching into a moving descent.
    assert not ContactConfig(two_sided=True).height_only().two_sided


def _walking_motion(n=60):
    """A solved T-pose standing person whose root sways forward and back: planted feet slide."""
    result = solve_motion(tracks_from(t_pose_world(n)))
    motion, fitted = result.motion, result.fitted
    root = motion.root_position_m.copy()
    root[:, 2] += 0.05 * np.sin(np.linspace(0, 2 * np.pi, n))  # 5 cm sway
    root[:, 1] -= 0.01  # and 1 cm too low: feet sink
    return replace(motion, root_position_m=root), fitted


def test_lock_feet_holds_planted_feet_and_keeps_the_rest():
    motion, fitted = _walking_motion()
    n = motion.n_frames
    names = ("left_heel", "left_toe", "right_heel", "right_toe")
    contacts = FootContacts(names, np.ones((n, 4), bool), motion.fps)
    locked = lock_feet(motion, fitted, contacts)
    before = motion_contact_paths_m(motion, fitted)
    after = motion_contact_paths_m(locked, fitted)
    for name in names:
        assert np.ptp(before[name][:, 2]) > 0.09  # sliding 10 cm before
        assert np.ptp(after[name], axis=0).max() < 1e-3  # held to a millimetre
        assert np.abs(after[name][:, 1]).max() < 1e-3  # on the floor, not sunk
    # Spine, arms and head untouched; hips keep their path (no drop needed here).
    sk = motion.skeleton
    legs = {sk.index(j) for j in ("LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot")}
    others = [j for j in range(sk.n_joints) if j not in legs]
    assert locked.rotations_xyzw[:, others] == pytest.approx(motion.rotations_xyzw[:, others])
    assert locked.root_position_m == pytest.approx(motion.root_position_m)
    assert locked.contacts is contacts


def test_out_of_reach_lowers_the_hips():
    motion, fitted = _walking_motion()
    lifted = replace(motion, root_position_m=motion.root_position_m + [0.0, 0.08, 0.0])  # feet 7 cm off the floor
    n = motion.n_frames
    contacts = FootContacts(("left_heel", "left_toe", "right_heel", "right_toe"), np.ones((n, 4), bool), motion.fps)
    locked = lock_feet(lifted, fitted, contacts)
    assert (locked.root_position_m[:, 1] < lifted.root_position_m[:, 1] - 0.05).all()
    after = motion_contact_paths_m(locked, fitted)
    assert np.abs(after["left_heel"][:, 1]).max() < 0.01


def test_a_free_leg_keeps_its_pose_when_the_hips_are_lowered():
    motion, fitted = _walking_motion()
    n = motion.n_frames
    left = FootContacts(("left_heel", "left_toe"), np.ones((n, 2), bool), motion.fps)  # right foot in the air
    lifted = replace(motion, root_position_m=motion.root_position_m + [0.0, 0.08, 0.0])
    low, high = lock_feet(motion, fitted, left), lock_feet(lifted, fitted, left)
    assert (high.root_position_m[:, 1] < lifted.root_position_m[:, 1] - 0.05).all()  # the planted leg lowered them
    sk = motion.skeleton
    free = [sk.index(j) for j in ("RightUpLeg", "RightLeg", "RightFoot")]
    assert np.abs(high.rotations_xyzw[:, free] - low.rotations_xyzw[:, free]).max() < 1e-6


def _moved(path, flags, fps, blend_s=0.2):
    target, weight = lock_targets(path, flags, fps, blend_s)
    return path + weight[:, None] * (target - path)


def test_lock_fades_in_and_out_without_braking_the_point():
    fps, n = 300.0, 800  # fine steps, so that velocities can be read off single frames
    t = np.arange(n) / fps
    path = np.stack([0.3 * t, 0.05 + 0.02 * np.sin(5.0 * t), 0.1 * t], axis=1)  # sliding, bobbing
    flags = np.zeros(n, bool)
    flags[300:501] = True
    ramp = round(0.2 * fps)
    moved = _moved(path, flags, fps)
    held = path[300:501].mean(axis=0)
    assert moved[300:501] == pytest.approx(np.tile([held[0], 0.0, held[2]], (201, 1)))
    assert moved[: 300 - ramp] == pytest.approx(path[: 300 - ramp])  # released: its own path
    assert moved[501 + ramp :] == pytest.approx(path[501 + ramp :])
    # It arrives and leaves at rest: its first step off the held position is a small
    # fraction of the 1 mm/frame it slides at (the fraction shrinks with the frame step).
    for a, b in ((299, 300), (501, 500)):
        assert np.linalg.norm(moved[a] - moved[b]) < 0.15 * np.linalg.norm(path[a] - path[b])
    # Within the ramp the correction does not depend on how the point moves there: a
    # motion of its own (a foot lifting off) passes through unchanged, not braked.
    bump = np.zeros_like(path)
    bump[520:541, 1] = 0.03 * np.sin(np.linspace(0.0, np.pi, 21))
    assert _moved(path + bump, flags, fps) - moved == pytest.approx(bump)


def test_two_bone_ik_reaches_and_keeps_bone_lengths():
    rng = np.random.default_rng(3)
    n = 50
    hip = np.zeros((n, 3))
    knee = np.array([0.0, -0.45, 0.08]) + rng.normal(0, 0.02, (n, 3))
    ankle = knee + np.array([0.0, -0.42, -0.05])
    goal = hip + rng.uniform([-0.2, -0.8, -0.2], [0.2, -0.5, 0.2], (n, 3))
    r_thigh, r_shin = two_bone_ik(hip, knee, ankle, goal, np.tile([0, 0, 1.0], (n, 1)))
    new_knee = hip + r_thigh.apply(knee - hip)
    new_ankle = new_knee + (r_shin * r_thigh).apply(ankle - knee)
    assert new_ankle == pytest.approx(goal, abs=1e-6)
    assert np.linalg.norm(new_knee - hip, axis=1) == pytest.approx(np.linalg.norm(knee - hip, axis=1))
    # The knee stays on the side of the hip -> goal line it was bending to.
    u = goal / np.linalg.norm(goal, axis=1, keepdims=True)
    perp = lambda v: v - np.sum(v * u, axis=1, keepdims=True) * u
    assert (np.sum(perp(new_knee - hip) * perp(knee - hip), axis=1) > 0).all()


def test_sidecar_round_trip(tmp_path):
    flags = np.zeros((10, 2), bool)
    flags[2:5, 0] = True
    flags[7:, 1] = True
    contacts = FootContacts(("left_heel", "right_toe"), flags, 30.0)
    path = write_contacts(contacts, tmp_path / "clip.contacts.json", 1.5)
    data = json.loads(path.read_text())
    assert data["fps"] == 30.0 and data["frame_count"] == 10 and data["start_time_s"] == 1.5
    assert data["points"]["left_heel"]["ranges"] == [[2, 4]]
    assert data["points"]["right_toe"]["ranges"] == [[7, 9]]
    back = read_contacts(path)
    assert back.names == contacts.names and (back.in_contact == flags).all() and back.fps == 30.0
    assert [p.name for p in tmp_path.iterdir()] == ["clip.contacts.json"]  # no temporary left behind


def test_config_rejects_unknown_modes():
    with pytest.raises(ValueError, match="root_motion 'sideways'"):
        MotionConfig(root_motion="sideways")
    with pytest.raises(ValueError, match="foot_lock 'auto'"):
        MotionConfig(foot_lock="auto")
    assert MotionConfig(root_motion="off", foot_lock="off") == MotionConfig(root_motion="off", foot_lock="off")


def test_lock_feet_on_a_skeleton_without_legs_is_an_error():
    motion, fitted = _walking_motion(10)
    sk = motion.skeleton
    renamed = replace(motion, skeleton=replace(sk, names=tuple("L_Foot" if n == "LeftFoot" else n for n in sk.names)))
    contacts = FootContacts(("left_heel",), np.ones((10, 1), bool), motion.fps)
    with pytest.raises(RigError, match="LeftFoot"):
        lock_feet(renamed, fitted, contacts)
