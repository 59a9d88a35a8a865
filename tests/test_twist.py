"""Twist-rate limit (mocap/solve/twist.py): no bone turns about its own axis faster than a human can,
real fast rotations pass untouched, and the limit is in deg/s, not per frame."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pose_fixtures import t_pose_world, tracks_from

from mocap.data import BLAZEPOSE_NAMES
from mocap.kinematics import joint_positions
from mocap.rig import load_rig
from mocap.solve import solve_motion
from mocap.solve.twist import frame_twist_rad, rate_limited, twist_angles_rad

I = {name: i for i, name in enumerate(BLAZEPOSE_NAMES)}


def test_swing_twist_recovers_the_twist_of_a_swung_and_twisted_rotation():
    axis = np.array([1.0, 0, 0])
    twist = np.radians([-170.0, -30.0, 0.0, 45.0, 120.0])
    swing = Rotation.from_rotvec([[0, 0.3, 0.2], [0, -0.5, 0.1], [0, 0, 0.9], [0, 0.2, -0.4], [0, 0.7, 0]])
    r = swing * Rotation.from_rotvec(twist[:, None] * axis)
    np.testing.assert_allclose(twist_angles_rad(r, axis), twist, atol=1e-9)
    # q and -q are the same rotation and give the same twist.
    np.testing.assert_allclose(twist_angles_rad(Rotation.from_quat(-r.as_quat()), axis), twist, atol=1e-9)


def test_rate_limited_leaves_compliant_frames_alone_and_clips_a_spike():
    y = np.concatenate([np.linspace(0, 0.5, 20), [2.5], np.linspace(0.55, 1.0, 20)])
    x = rate_limited(y, 0.1)
    assert np.abs(np.diff(x)).max() <= 0.1 + 1e-12
    changed = np.flatnonzero(np.abs(x - y) > 1e-9)
    np.testing.assert_array_equal(changed, [20])  # only the spike moves (least absolute deviation)
    smooth = np.sin(np.linspace(0, 3, 50))
    np.testing.assert_array_equal(rate_limited(smooth, 0.1), smooth)


def test_rate_limited_by_windows_reaches_the_whole_sequences_optimum():
    from mocap.solve.twist import _l1_rate_limited

    for seed in range(5):
        rng = np.random.default_rng(seed)
        y = np.cumsum(rng.normal(0, 0.05, 3000))
        y[rng.integers(0, 3000, 15)] += rng.normal(0, 3, 15)  # flips, some at the clip's ends
        y[[0, 2999]] += 2.0
        y[1500:1540] += 5.0  # and one that lasts
        x = rate_limited(y, 0.3)
        assert np.abs(np.diff(x)).max() <= 0.3 + 1e-12
        assert np.abs(x - y).sum() == pytest.approx(np.abs(_l1_rate_limited(y, 0.3) - y).sum(), rel=1e-9)


def _forearm_flip(n: int, fps: float, flip_frames: tuple[int, ...], flip_deg: float = 150.0):
    """A T-pose whose left hand's index/pinky/thumb turn by flip_deg about the forearm for some frames."""
    world = t_pose_world(n)
    wrist = world[0, I["left_wrist"]]
    turn = Rotation.from_rotvec(np.radians(flip_deg) * np.array([1.0, 0, 0]))
    for t in flip_frames:
        for name in ("left_index", "left_pinky", "left_thumb"):
            world[t, I[name]] = wrist + turn.apply(world[0, I[name]] - wrist)
    return tracks_from(world, fps)


def _world_twist_deg(motion, joint: str, axis) -> np.ndarray:
    """(T - 1,) degrees: the joint's frame-to-frame turn about its own axis, in the world."""
    from mocap.kinematics import global_transforms

    _, world = global_transforms(motion.skeleton, motion.root_position_m, motion.rotations_xyzw)
    return np.degrees(frame_twist_rad(Rotation.from_quat(world[:, motion.skeleton.index(joint)]), np.asarray(axis, float)))


@pytest.mark.parametrize("fps", [24.0, 60.0])
def test_a_one_frame_hand_flip_twists_no_bone_faster_than_its_limit(fps):
    rig = load_rig()
    tracks = _forearm_flip(40, fps, (20,))
    unlimited = solve_motion(tracks, replace(rig, twist={})).motion
    # The fault this guards against: the straight arm takes its twist from the hand, so the
    # upper arm, forearm and hand all turn by 150 degrees in one frame and back.
    assert max(np.abs(_world_twist_deg(unlimited, j, rig.twist[j][0])).max() for j in ("LeftArm", "LeftHand")) > 100
    motion = solve_motion(tracks).motion
    for joint, (axis, deg_s) in rig.twist.items():
        assert np.abs(_world_twist_deg(motion, joint, axis)).max() <= deg_s / fps + 1e-6, joint
    # Only the turns about the bones' own axes changed: every joint stays where it was.
    np.testing.assert_allclose(joint_positions(motion), joint_positions(unlimited), atol=1e-9)


def test_the_limit_is_per_second_not_per_frame():
    """The same flip (0 -> 150 degrees about the bone for 0.25 s, then back) at 30 and 60 fps:
    the limited bone turns at the same rate in deg/s and reaches the same angle."""
    from mocap.data import Skeleton
    from mocap.solve.twist import limit_twist_rate

    skeleton = Skeleton(("Root", "Bone"), (-1, 0), np.array([[0, 0, 0], [0.0, 0.3, 0]]))
    axis, limit = np.array([0.0, 1.0, 0.0]), 300.0
    peaks = []
    for fps in (30.0, 60.0):
        t = np.arange(int(2 * fps)) / fps
        angle = np.where((t >= 1.0) & (t < 1.25), np.radians(150.0), 0.0)
        world = {"Root": Rotation.identity(len(t)), "Bone": Rotation.from_rotvec(angle[:, None] * axis)}
        limited = limit_twist_rate(skeleton, world, fps, {"Bone": (axis, limit)})["Bone"]
        steps = np.degrees(frame_twist_rad(limited, axis))
        assert np.abs(steps).max() <= limit / fps + 1e-9
        peaks.append(np.abs(np.cumsum(steps)).max())
    assert peaks[0] == pytest.approx(peaks[1], abs=limit / 30.0), peaks  # within one 30 fps step
    assert peaks[0] < 150.0


def test_a_real_twist_within_human_rates_passes_untouched():
    # The whole forearm and hand roll by 90 degrees over 0.5 s (180 deg/s): nothing is limited.
    n, fps = 45, 30.0
    world = t_pose_world(n)
    wrist = world[0, I["left_wrist"]]
    angle = np.radians(np.clip(np.arange(n) - 10, 0, 15) * 6.0)
    for t in range(n):
        turn = Rotation.from_rotvec(angle[t] * np.array([1.0, 0, 0]))
        for name in ("left_index", "left_pinky", "left_thumb"):
            world[t, I[name]] = wrist + turn.apply(world[0, I[name]] - wrist)
    tracks = tracks_from(world, fps)
    rig = load_rig()
    np.testing.assert_array_equal(solve_motion(tracks).motion.rotations_xyzw,
                                  solve_motion(tracks, replace(rig, twist={})).motion.rotations_xyzw)


TRUTH = {"Hips": "Hips", "Spine2": "Chest", "Head": "Head", "LeftArm": "UpperArm_L", "RightArm": "UpperArm_R",
         "LeftForeArm": "LowerArm_L", "RightForeArm": "LowerArm_R", "LeftHand": "Hand_L", "RightHand": "Hand_R",
         "LeftUpLeg": "UpperLeg_L", "RightUpLeg": "UpperLeg_R", "LeftLeg": "LowerLeg_L", "RightLeg": "LowerLeg_R",
         "LeftFoot": "Foot_L", "RightFoot": "Foot_R"}


@pytest.mark.parametrize("clip", ["dataset-1_dance-short_normal_001", "dataset-1_kick_normal_001",
                                  "dataset-1_punch_normal_001", "dataset-1_respond_normal_001"])
def test_fast_real_motion_keeps_its_rotations(shared_data, clip):
    """The clips with the fastest twists of the optical-mocap set (benchmarks/twist_rates.py:
    upper arm 1464 deg/s in the dance, forearm 756 in the punch, thigh 580 in the kick, hand 661
    in `respond`), solved from their exact landmarks: with the limit, every bone's rotation is
    as close to the source's as without it (each relative to its first frame, as in
    test_roundtrip), within 1 degree (measured: at most +0.5, the punch's upper arm, whose turn the
    landmarks do not fix: it is 18.7 degrees off the source either way), and the bones the
    landmarks fix exactly stay exact."""
    from synth import landmarks_from_bvh

    from mocap.kinematics import global_transforms
    from mocap.smooth import SmoothingConfig, smooth_tracks

    tracks, truth = landmarks_from_bvh(shared_data / "bvh" / "bandai_namco" / f"{clip}.bvh", noise_m=0.0, dropout=0.0)
    smoothed = smooth_tracks(tracks, SmoothingConfig(cutoff_hz=None))
    rig = load_rig()
    true_names = list(truth["joint_names"])
    errors = {}
    for kind, r in (("limited", rig), ("unlimited", replace(rig, twist={}))):
        motion = solve_motion(smoothed, r).motion
        _, world = global_transforms(motion.skeleton, motion.root_position_m, motion.rotations_xyzw)
        for ours, theirs in TRUTH.items():
            a = Rotation.from_quat(world[:, motion.skeleton.index(ours)])
            b = Rotation.from_quat(truth["joint_rotations_xyzw"][:, true_names.index(theirs)])
            errors[kind, ours] = np.degrees(((a * a[0].inv()).inv() * (b * b[0].inv())).magnitude()).mean()
    for ours in TRUTH:
        assert errors["limited", ours] <= errors["unlimited", ours] + 1.0, (ours, errors["limited", ours],
                                                                          errors["unlimited", ours])
    for exact in ("Head", "LeftHand", "RightHand", "LeftFoot", "RightFoot"):
        assert errors["limited", exact] <= 2.0, (exact, errors["limited", exact])


def test_rig_refuses_a_twist_limit_on_an_unknown_joint():
    import json
    from importlib import resources

    from mocap.rig import RigError, rig_from_json

    data = json.loads(resources.files("mocap.rigs").joinpath("humanoid.json").read_text())
    data["twist"]["joints"]["Tail"] = ["y", 100]
    with pytest.raises(RigError, match="Tail"):
        rig_from_json(data)
    data["twist"]["joints"] = {"Hips": ["y", 0]}
    with pytest.raises(RigError, match="Hips"):
        rig_from_json(data)
