"""A performer who stays in place stays in place; travel never depends on the frame rate."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mocap.choices import Travel
from mocap.data import FootContacts
from mocap.pipeline import ConvertOptions, motion_from_tracks, probe_and_detect
from mocap.solve.anchor import anchored_root, travel_blend


def _travel_m(motion) -> float:
    """Net horizontal displacement of the hips, first frame to last (m)."""
    root = motion.root_position_m
    return float(np.linalg.norm(root[-1, [0, 2]] - root[0, [0, 2]]))


def test_anchoring_does_not_depend_on_the_frame_rate():
    """The same walk sampled at 30 and at 60 fps: planted steps of 0.7 m a stride, a camera
    that sees nothing (a following camera): the feet's travel is the same at both rates."""
    duration_s, stride_s = 4.0, 1.0
    results = {}
    for fps in (30.0, 60.0):
        t = np.arange(int(duration_s * fps)) / fps
        phase = (t % stride_s) / stride_s
        planted = phase < 0.6
        # The planted foot moves backwards relative to the hips at 1 m/s while planted.
        rel = np.zeros((len(t), 3))
        rel[:, 2] = np.where(planted, 0.3 - (phase * stride_s), 0.0)
        camera = np.zeros((len(t), 3))
        contacts = FootContacts(("left_heel",), planted[:, None], fps)
        results[fps] = anchored_root(camera, {"left_heel": rel}, contacts)
    travel = {fps: float(root[-1, 2] - root[0, 2]) for fps, root in results.items()}
    assert travel[30.0] > 1.0
    assert travel[60.0] == pytest.approx(travel[30.0], rel=0.05)


def test_travel_blend_keeps_the_image_travel_and_the_feet_detail():
    fps = 30.0
    t = np.arange(120) / fps
    camera = np.zeros((120, 3))
    camera[:, 0] = 0.5 * t  # the image: 0.5 m/s sideways
    feet = np.zeros((120, 3))
    feet[:, 0] = 1.5 * t + 0.02 * np.sin(2 * np.pi * 2 * t)  # the feet: 1.5 m/s, and a 2 Hz sway
    feet[:, 1] = 0.9
    out = travel_blend(camera, feet, fps)
    assert out[-1, 0] - out[0, 0] == pytest.approx(camera[-1, 0] - camera[0, 0], abs=0.03)
    sway = out[:, 0] - 0.5 * t
    assert np.ptp(sway[30:90]) == pytest.approx(0.04, abs=0.01)
    np.testing.assert_array_equal(out[:, 1], feet[:, 1])


@pytest.mark.mediapipe
def test_treadmill_walker_stays_in_place_and_feet_option_travels(shared_data, tmp_path):
    video = shared_data / "real" / "walk_treadmill_hooligan_dme.mp4"
    options = ConvertOptions(cache_dir=tmp_path)
    info, tracks = probe_and_detect(video, options)
    image, _ = motion_from_tracks(tracks, options, info=info)
    feet, _ = motion_from_tracks(tracks, replace(options, travel=Travel.FEET), info=info)
    assert _travel_m(image) < 0.3, _travel_m(image)  # was 2.26 m
    assert _travel_m(feet) > 1.0, _travel_m(feet)  # the other choice: the feet's walk


@pytest.mark.mediapipe
def test_travel_is_the_same_at_any_frame_rate(shared_data, tmp_path):
    """The in-place walk at 30 fps and the same motion at 60 fps (resampled on its timeline)
    travel as far, whichever evidence decides; and the issue's case, the same frames labelled
    60 fps (the performer twice as fast), stays in place as at 30 fps."""
    from mocap.timeline import resample_tracks

    video = shared_data / "synthetic" / "dev_scifi_walk_45.mp4"
    options = ConvertOptions(cache_dir=tmp_path)
    info, tracks = probe_and_detect(video, options)
    at_60 = resample_tracks(tracks, 60.0)
    relabelled = replace(tracks, fps=2 * tracks.fps, times_s=tracks.times_s / 2)
    travel = {}
    for mode in (Travel.IMAGE, Travel.FEET):
        opts = replace(options, travel=mode)
        for name, clip in (("30", tracks), ("60", at_60), ("relabelled", relabelled)):
            travel[mode, name] = _travel_m(motion_from_tracks(clip, opts, info=info)[0])
    for mode in (Travel.IMAGE, Travel.FEET):
        assert travel[mode, "60"] == pytest.approx(travel[mode, "30"], abs=0.1), travel
    assert travel[Travel.IMAGE, "30"] < 0.3 and travel[Travel.IMAGE, "relabelled"] < 0.3, travel  # was 1.67 / 0.50 m
