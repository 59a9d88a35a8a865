"""Limbs out of frame: unseen landmarks do not drive the solve; unseen limbs stand; the summary says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pose_fixtures import t_pose_world

from mocap.cli import app
from mocap.data import BLAZEPOSE_NAMES, LandmarkTracks
from mocap.smooth import SmoothingConfig, neutral_fill, seen_samples, smooth_tracks, unseen_parts

runner = CliRunner()
LEGS = ("left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
        "left_foot_index", "right_foot_index")


def _waist_up_tracks(n: int = 30) -> LandmarkTracks:
    """A standing person whose legs BlazePose guesses below a 640 x 300 image, crouched."""
    idx = {name: i for i, name in enumerate(BLAZEPOSE_NAMES)}
    world = t_pose_world(n)  # hips at (+-0.1, 0, 0), shoulders at (+-0.18, 0.5, 0)
    for name, pos in {"left_knee": (0.1, -0.25, 0.3), "right_knee": (-0.1, -0.25, 0.3),  # a crouch
                      "left_ankle": (0.1, -0.5, 0), "right_ankle": (-0.1, -0.5, 0),
                      "left_heel": (0.1, -0.55, -0.05), "right_heel": (-0.1, -0.55, -0.05),
                      "left_foot_index": (0.1, -0.55, 0.15), "right_foot_index": (-0.1, -0.55, 0.15)}.items():
        world[:, idx[name]] = pos
    image = np.stack([320 + 400 * world[..., 0], 250 - 300 * world[..., 1]], axis=-1)
    vis = np.ones((n, 33))
    vis[:, [idx[name] for name in LEGS]] = 0.35  # BlazePose's guess below the frame is not always "invisible"
    return LandmarkTracks(BLAZEPOSE_NAMES, 30.0, np.arange(n) / 30.0, np.arange(n), (640, 300),
                          image, world, vis, np.ones(n, bool))


def test_landmarks_outside_the_image_are_unseen():
    tracks = _waist_up_tracks()
    seen = seen_samples(tracks)
    assert seen[:, BLAZEPOSE_NAMES.index("left_hip")].all()
    for name in LEGS[:4]:  # knees at y = 325 px, ankles at 400 px: outside a 300 px image (+2 %)
        assert not seen[:, BLAZEPOSE_NAMES.index(name)].any(), name
    assert set(unseen_parts(tracks)) == {"left leg", "right leg"}
    assert unseen_parts(tracks)["left leg"] == ((0, 29),)


def test_never_seen_legs_stand_below_the_hips():
    smoothed = smooth_tracks(_waist_up_tracks(), SmoothingConfig())
    w = smoothed.world_m
    i = BLAZEPOSE_NAMES.index
    torso = 0.5
    for side in ("left", "right"):
        hip, knee, ankle = w[:, i(f"{side}_hip")], w[:, i(f"{side}_knee")], w[:, i(f"{side}_ankle")]
        np.testing.assert_allclose(knee - hip, np.tile([0, -0.85 * torso, 0], (len(w), 1)), atol=1e-9)
        np.testing.assert_allclose(ankle - knee, np.tile([0, -0.85 * torso, 0], (len(w), 1)), atol=1e-9)
        toe = w[:, i(f"{side}_foot_index")]
        assert (toe[:, 2] > ankle[:, 2]).all()  # feet point forward (+Z: the performer faces the camera)
        assert (smoothed.visibility[:, i(f"{side}_knee")] == 0).all()  # and carry no weight downstream


def test_neutral_fill_without_hips_hangs_them_below_the_shoulders():
    tracks = _waist_up_tracks(5)
    never = np.zeros(33, bool)
    never[[BLAZEPOSE_NAMES.index(n) for n in ("left_hip", "right_hip", "left_knee")]] = True
    out = neutral_fill(tracks.world_m, never, BLAZEPOSE_NAMES)
    hips = out[:, BLAZEPOSE_NAMES.index("left_hip")]
    assert np.allclose(hips[:, 1], 0.5 - 1.4 * 0.36)  # torso from the shoulder width


def _taiji_rows(shared_data, path, rows: int):
    """taiji_man_hybrik.mp4 source frames 96-167 (3 s), each cut to its top `rows` rows, as an mp4."""
    import av

    from conftest import write_test_video

    frames = []
    with av.open(str(shared_data / "real" / "taiji_man_hybrik.mp4")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if 96 <= i <= 167:
                frames.append(np.ascontiguousarray(frame.to_ndarray(format="rgb24")[:rows]))
            if i > 167:
                break
    return write_test_video(path, frames, fps=24)


def _convert(video, tmp_path):
    from mocap.bvh import read_bvh

    out = tmp_path / f"{video.stem}.bvh"
    result = runner.invoke(app, ["convert", str(video), "-o", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    return " ".join(result.stderr.split()), read_bvh(out)


def _knee_deg(pos, sk, side):
    thigh = pos[:, sk.index(f"{side}Leg")] - pos[:, sk.index(f"{side}UpLeg")]
    shin = pos[:, sk.index(f"{side}Foot")] - pos[:, sk.index(f"{side}Leg")]
    cos = np.sum(thigh * shin, 1) / np.linalg.norm(thigh, axis=1) / np.linalg.norm(shin, axis=1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


@pytest.mark.mediapipe
def test_waist_up_tai_chi_stands(shared_data, tmp_path):
    """taiji_man_hybrik.mp4 frames 96-167, rows 0-379 (waist up). Was: hips from 0.78 m down to
    0.45 m, a knee bent to 68-110 degrees, nothing said; then hips at 0.47 m in frame 0 (no
    person found in frame 1: the legs pointed at pixel (0, 0)) and a standing thigh turning by
    up to 129 degrees within one frame, twice."""
    from scipy.spatial.transform import Rotation

    from mocap.kinematics import global_transforms
    from mocap.rig import load_rig
    from mocap.solve.twist import frame_twist_rad

    summary, motion = _convert(_taiji_rows(shared_data, tmp_path / "taiji_waist_up.mp4", 380), tmp_path)
    assert "unseen left leg:" in summary and "unseen right leg:" in summary, summary
    pos, world = global_transforms(motion.skeleton, motion.root_position_m, motion.rotations_xyzw)
    sk = motion.skeleton
    assert pos[:, 0, 1].min() > 0.8, pos[:8, 0, 1]  # the hips stand, from the first frame to the last
    assert np.ptp(pos[:, 0, 1]) < 0.1, np.ptp(pos[:, 0, 1])
    for side in ("Left", "Right"):
        assert _knee_deg(pos, sk, side).max() < 20.0, side  # legs never seen: standing
    for joint, (axis, deg_s) in load_rig().twist.items():
        twist = np.degrees(np.abs(frame_twist_rad(Rotation.from_quat(world[:, sk.index(joint)]), axis)))
        assert twist.max() <= deg_s / motion.fps + 0.01, (joint, twist.max())  # no bone twists faster than a human
        if "UpLeg" in joint or joint.endswith("Leg"):
            assert twist.max() < 15.0, (joint, twist.max())  # the standing legs hardly turn at all


@pytest.mark.mediapipe
def test_chest_up_webcam_shot_moves_the_arms_and_stands(shared_data, tmp_path):
    """A desk/webcam framing: the same tai chi frames cut to rows 0-299, so the hips and legs are
    never in the picture. The arms move as in the uncut clip (directions in the chest's frame;
    measured medians 11-12 degrees for the upper arms, 19-22 for the forearms, whose hands leave
    the picture now and then), the legs stand straight under hips at a standing height."""
    from mocap.kinematics import global_transforms
    from scipy.spatial.transform import Rotation

    summary, motion = _convert(_taiji_rows(shared_data, tmp_path / "taiji_chest_up.mp4", 300), tmp_path)
    assert "unseen left leg: 72 frames" in summary and "unseen right leg: 72 frames" in summary, summary
    _, full = _convert(_taiji_rows(shared_data, tmp_path / "taiji_full.mp4", 720), tmp_path)
    pos, world = global_transforms(motion.skeleton, motion.root_position_m, motion.rotations_xyzw)
    sk = motion.skeleton
    hips = pos[:, 0, 1]
    assert 0.8 < hips.min() and hips.max() < 1.05 and np.ptp(hips) < 0.1, (hips.min(), hips.max())
    for side in ("Left", "Right"):
        assert _knee_deg(pos, sk, side).max() < 20.0, side
        thigh = pos[:, sk.index(f"{side}Leg")] - pos[:, sk.index(f"{side}UpLeg")]
        assert (-thigh[:, 1] / np.linalg.norm(thigh, axis=1)).min() > np.cos(np.radians(15)), side  # hanging down
    pos_full, world_full = global_transforms(full.skeleton, full.root_position_m, full.rotations_xyzw)
    chest, chest_full = (Rotation.from_quat(w[:, sk.index("Spine2")]) for w in (world, world_full))
    for a, b, limit in (("LeftArm", "LeftForeArm", 20), ("RightArm", "RightForeArm", 20),
                        ("LeftForeArm", "LeftHand", 30), ("RightForeArm", "RightHand", 30)):
        ours = chest.inv().apply(pos[:, sk.index(b)] - pos[:, sk.index(a)])
        theirs = chest_full.inv().apply(pos_full[:, sk.index(b)] - pos_full[:, sk.index(a)])
        cos = np.sum(ours * theirs, 1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
        assert np.median(np.degrees(np.arccos(np.clip(cos, -1, 1)))) < limit, a


@pytest.mark.parametrize("gap", [False, True], ids=["every frame", "no person in frame 1"])
def test_unseen_legs_keep_their_standing_pose_through_the_solve(gap):
    """The depth refinement put every landmark on the camera ray of its 2D position, the
    unseen ones too: on the cropped tai chi clip BlazePose found no person in frame 1, the
    never-seen legs' missing 2D became pixel (0, 0) there, the legs pointed up to it and the
    hips started at 0.47 m (0.33 m in frame 1) instead of standing."""
    from dataclasses import replace

    from mocap.camera import Camera
    from mocap.rig import load_rig
    from mocap.solve import solve_full
    from mocap.solve.refine import refine_pose
    from mocap.solve.root import camera_root

    tracks = _waist_up_tracks()
    if gap:
        image, world, vis, detected = (tracks.image_xy_px.copy(), tracks.world_m.copy(), tracks.visibility.copy(),
                                       tracks.detected.copy())
        image[1], world[1], vis[1], detected[1] = np.nan, np.nan, 0.0, False
        tracks = replace(tracks, image_xy_px=image, world_m=world, visibility=vis, detected=detected)
    smoothed = smooth_tracks(tracks, SmoothingConfig())
    camera = Camera.from_fov(640, 300, None)
    refined = refine_pose(smoothed, camera_root(smoothed, camera), camera, load_rig()).tracks.world_m
    i = BLAZEPOSE_NAMES.index
    for side in ("left", "right"):
        for a, b in ((f"{side}_hip", f"{side}_knee"), (f"{side}_knee", f"{side}_ankle")):
            bone = refined[:, i(b)] - refined[:, i(a)]
            cos = -bone[:, 1] / np.linalg.norm(bone, axis=1)
            assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 2.0, (a, b)  # straight down
    motion = solve_full(smoothed, camera).motion
    hips = motion.root_position_m[:, 1]
    assert hips.min() > 0.75 and np.ptp(hips) < 0.01, hips  # standing, first frame to last
