"""Limbs out of frame: unseen landmarks do not drive the solve; unseen limbs stand; the summary says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mocap.cli import app
from mocap.data import BLAZEPOSE_NAMES, LandmarkTracks
from mocap.smooth import SmoothingConfig, neutral_fill, seen_samples, smooth_tracks, unseen_parts

runner = CliRunner()
LEGS = ("left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
        "left_foot_index", "right_foot_index")


def _waist_up_tracks(n: int = 30) -> LandmarkTracks:
    """A standing person whose legs BlazePose guesses below a 640 x 300 image, crouched."""
    idx = {name: i for i, name in enumerate(BLAZEPOSE_NAMES)}
    world = np.zeros((n, 33, 3))
    for name, pos in {"left_shoulder": (0.18, 0.5, 0), "right_shoulder": (-0.18, 0.5, 0),
                      "left_hip": (0.1, 0, 0), "right_hip": (-0.1, 0, 0),
                      "left_knee": (0.1, -0.25, 0.3), "right_knee": (-0.1, -0.25, 0.3),  # a crouch
                      "left_ankle": (0.1, -0.5, 0), "right_ankle": (-0.1, -0.5, 0),
                      "left_heel": (0.1, -0.55, -0.05), "right_heel": (-0.1, -0.55, -0.05),
                      "left_foot_index": (0.1, -0.55, 0.15), "right_foot_index": (-0.1, -0.55, 0.15)}.items():
        world[:, idx[name]] = pos
    image = np.stack([320 + 400 * world[..., 0], 250 - 500 * world[..., 1]], axis=-1)
    vis = np.ones((n, 33))
    vis[:, [idx[name] for name in LEGS]] = 0.35  # BlazePose's guess below the frame is not always "invisible"
    return LandmarkTracks(BLAZEPOSE_NAMES, 30.0, np.arange(n) / 30.0, np.arange(n), (640, 300),
                          image, world, vis, np.ones(n, bool))


def test_landmarks_outside_the_image_are_unseen():
    tracks = _waist_up_tracks()
    seen = seen_samples(tracks)
    assert seen[:, BLAZEPOSE_NAMES.index("left_hip")].all()
    for name in LEGS[:4]:  # knees at y = 375 px, ankles at 500 px: outside a 300 px image (+2 %)
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


@pytest.mark.mediapipe
def test_waist_up_tai_chi_stands(shared_data, tmp_path):
    """taiji_man_hybrik.mp4 frames 96-167, rows 0-379 (waist up). Was: hips from 0.78 m down to
    0.45 m, a knee bent to 68-110 degrees, nothing said."""
    import av

    from conftest import write_test_video
    from mocap.bvh import read_bvh
    from mocap.kinematics import joint_positions

    frames = []
    with av.open(str(shared_data / "real" / "taiji_man_hybrik.mp4")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if 96 <= i <= 167:
                frames.append(np.ascontiguousarray(frame.to_ndarray(format="rgb24")[:380]))
            if i > 167:
                break
    video = write_test_video(tmp_path / "taiji_waist_up.mp4", frames, fps=24)
    out = tmp_path / "taiji.bvh"
    result = runner.invoke(app, ["convert", str(video), "-o", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    summary = " ".join(result.stderr.split())
    assert "unseen left leg:" in summary and "unseen right leg:" in summary, summary
    motion = read_bvh(out)
    pos = joint_positions(motion)
    sk = motion.skeleton
    assert np.median(pos[:, 0, 1]) > 0.75, np.median(pos[:, 0, 1])
    for side in ("Left", "Right"):
        thigh = pos[:, sk.index(f"{side}Leg")] - pos[:, sk.index(f"{side}UpLeg")]
        shin = pos[:, sk.index(f"{side}Foot")] - pos[:, sk.index(f"{side}Leg")]
        cos = np.sum(thigh * shin, 1) / np.linalg.norm(thigh, axis=1) / np.linalg.norm(shin, axis=1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 50.0, side
