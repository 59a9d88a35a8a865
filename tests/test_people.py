"""Several people in view: one consistent identity, a warning, and the user's choice (--person)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mocap.cli import app
from mocap.data import BLAZEPOSE_NAMES
from mocap.detect.people import PersonChoice, choose, parse_person, plausible_people, same_person, torso

runner = CliRunner()
SIZE = (1000, 800)
BOXES = [np.array([100.0, 100, 300, 700]), np.array([450.0, 300, 550, 500]), np.array([700.0, 150, 900, 650])]


def _pose(centre_xy, torso_px: float) -> np.ndarray:
    xy = np.zeros((len(BLAZEPOSE_NAMES), 2))
    cx, cy = centre_xy
    for name, (dx, dy) in {"left_shoulder": (20, -0.5), "right_shoulder": (-20, -0.5),
                           "left_hip": (15, 0.5), "right_hip": (-15, 0.5)}.items():
        xy[BLAZEPOSE_NAMES.index(name)] = (cx + dx, cy + dy * torso_px)
    return xy


def test_person_rules():
    assert choose(BOXES, PersonChoice("largest"), SIZE) == 0
    assert choose(BOXES, PersonChoice("left"), SIZE) == 0
    assert choose(BOXES, PersonChoice("right"), SIZE) == 2
    assert choose(BOXES, PersonChoice("centre"), SIZE) == 1
    assert choose(BOXES, parse_person("800,400"), SIZE) == 2  # the box holding the point
    assert choose(BOXES, parse_person("600, 100"), SIZE) == 1  # else the nearest centre
    assert parse_person("center") == PersonChoice("centre")
    with pytest.raises(ValueError, match="largest, centre, left, right"):
        parse_person("tallest")


def test_same_person_guard():
    a = _pose((500, 400), 100)
    assert same_person(a, _pose((520, 405), 105), BLAZEPOSE_NAMES, 1 / 30)
    assert not same_person(a, _pose((600, 400), 100), BLAZEPOSE_NAMES, 1 / 30)  # a torso length in 33 ms
    assert not same_person(a, _pose((500, 400), 200), BLAZEPOSE_NAMES, 1 / 30)  # twice the size
    assert same_person(a, _pose((600, 400), 100), BLAZEPOSE_NAMES, 0.5)  # after half a second: possible
    assert torso(a, BLAZEPOSE_NAMES)[1] == pytest.approx(100)


def test_census_drops_leftovers():
    hair = np.array([327.0, 207, 390, 238])  # what the squats sample once "found" above the painted-out woman
    woman = np.array([248.0, 240, 523, 1011])
    assert [b.tolist() for b in plausible_people([woman, hair])] == [woman.tolist()]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("landmark-cache")


def _torso_path(tracks):
    centres, lengths = zip(*(torso(tracks.image_xy_px[t], tracks.names) for t in range(tracks.n_frames)))
    return np.array(centres), np.array(lengths)


@pytest.mark.mediapipe
def test_two_people_each_followed_consistently(shared_data, cache_dir):
    from mocap.detect import detect_cached
    from mocap.video import probe_video

    info = probe_video(shared_data / "real" / "two_people_3dpw_mmhuman3d.mp4")
    paths = {}
    for rule in ("left", "right"):
        tracks = detect_cached(info, cache_dir=cache_dir, person=parse_person(rule))
        assert tracks.detected.all() and not tracks.identity_lost.any()
        assert tracks.people_in_view.max() == 2
        centres, lengths = _torso_path(tracks)
        jumps = np.linalg.norm(np.diff(centres, axis=0), axis=1) / lengths[1:]
        assert jumps.max() < 0.15, (rule, jumps.max())  # one body, no hop to the other
        paths[rule] = centres
    # The man on the left (x < 450 px) and the woman on the right (x > 700 px), on every frame.
    assert (paths["left"][:, 0] < 450).all() and (paths["right"][:, 0] > 700).all()


@pytest.mark.mediapipe
def test_crowd_is_reported_and_one_person_followed(shared_data, tmp_path, cache_dir):
    video = shared_data / "real" / "street_crowd_openpose.avi"
    result = runner.invoke(app, ["convert", str(video), "-o", str(tmp_path / "crowd.bvh"), "--cache-dir", str(cache_dir)])
    assert result.exit_code == 0, result.output
    summary = " ".join(result.stderr.split())
    assert "warning: up to 4 people in view; one was followed" in summary, summary
    result = runner.invoke(app, ["convert", str(video), "--person", "tallest", "-q"])
    assert result.exit_code == 2 and "largest, centre, left, right" in result.output


def _teal_torso(rgb: np.ndarray, xy_px: np.ndarray) -> bool:
    """Whether the torso centre (a square of a fifth of the torso length) shows the teal top
    of the second woman on the street clip (median green minus red > 100; the first woman's
    denim jacket: 30-60, in shade too)."""
    (cx, cy), length = torso(xy_px, BLAZEPOSE_NAMES)
    r = max(2, int(0.1 * length))
    patch = rgb[int(cy) - r:int(cy) + r + 1, int(cx) - r:int(cx) + r + 1].reshape(-1, 3).astype(float)
    red, green, _ = np.median(patch, axis=0)
    return green - red > 100


@pytest.mark.mediapipe
def test_embracing_women_never_switched(shared_data):
    """street_crowd_openpose.avi 2.0-3.4 s: two women embrace and are counted as one; before
    the torso colour guard the tracker came back on the other woman for frames 141-163.
    Expected: never her torso; the frames where only she is found are reported as identity
    gaps; the first woman is followed again afterwards."""
    from mocap.detect.mediapipe_pose import detect_landmarks
    from mocap.video import probe_video, read_frames

    info = probe_video(shared_data / "real" / "street_crowd_openpose.avi")
    tracks = detect_landmarks(info, read_frames(info, 2.0, 3.4))
    rgb = {f.index: f.rgb for f in read_frames(info, 2.0, 3.4)}
    teal = [int(i) for t, i in enumerate(tracks.frame_indices)
            if tracks.detected[t] and _teal_torso(rgb[int(i)], tracks.image_xy_px[t])]
    assert teal == [], f"the other woman's torso on frames {teal}"
    assert tracks.identity_lost.any()
    assert tracks.detected[tracks.frame_indices >= 150].all()  # the first woman again
