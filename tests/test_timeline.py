"""Variable frame rate: frames are put on their true timeline at a constant rate (mocap.timeline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mocap.bvh import read_bvh
from mocap.cli import app
from mocap.data import BLAZEPOSE_NAMES, LandmarkTracks
from mocap.kinematics import joint_positions
from mocap.timeline import nominal_fps, resample_tracks, to_constant_rate

from conftest import write_test_video

runner = CliRunner()

# A phone in low light: 60 frames at 30 fps, then every second frame (15 fps) up to frame 124.
SOURCE_FRAMES = list(range(60)) + list(range(60, 125, 2))  # 93 frames
TRUE_TIMES_S = np.array(SOURCE_FRAMES) / 30.0


def _tracks(times_s: np.ndarray, fps: float) -> LandmarkTracks:
    """Tracks whose every coordinate is a known smooth function of time."""
    t = np.asarray(times_s)[:, None]
    n, L = len(times_s), len(BLAZEPOSE_NAMES)
    phase = np.arange(L)[None, :]
    world = np.stack([np.sin(2 * t + phase), np.cos(1.5 * t + phase), 0.1 * t + 0 * phase], axis=-1)
    image = np.stack([100 * np.sin(t + phase), 50 * t + 0 * phase], axis=-1)
    return LandmarkTracks(
        names=BLAZEPOSE_NAMES,
        fps=fps,
        times_s=np.asarray(times_s, float),
        frame_indices=np.arange(n),
        image_size_px=(640, 480),
        image_xy_px=image,
        world_m=world,
        visibility=np.ones((n, L)),
        detected=np.ones(n, bool),
    )


def test_variable_rate_is_resampled_on_the_true_timeline():
    tracks = _tracks(TRUE_TIMES_S, fps=93 / 4.133)  # the container's average rate
    out, retiming = to_constant_rate(tracks)
    assert retiming is not None and retiming.variable
    assert out.fps == pytest.approx(30.0)
    assert out.n_frames == 125 and retiming.n_frames == 125 and retiming.source_frames == 93
    np.testing.assert_allclose(out.times_s, np.arange(125) / 30.0, atol=1e-9)
    # Frame 60 (true time 2.000 s) stays at 2.000 s: output frame 60 holds source frame 60.
    assert out.frame_indices[60] == SOURCE_FRAMES.index(60)
    np.testing.assert_allclose(out.world_m[60], tracks.world_m[SOURCE_FRAMES.index(60)], atol=1e-12)
    # Between 15 fps frames the value is the time interpolation, close to the true function.
    truth = _tracks(np.arange(125) / 30.0, 30.0)
    err = np.abs(out.world_m - truth.world_m).max()
    assert err < 0.01, err  # linear interpolation of sin(2t) over 1/15 s: <= (1/15)^2 * 4 / 8
    assert "variable frame rate (15.0-30.0 fps)" in retiming.describe()
    assert "30.000 fps (125 frames)" in retiming.describe()


def test_constant_rate_is_left_alone_and_fps_option_resamples():
    tracks = _tracks(np.arange(50) / 25.0, 25.0)
    same, retiming = to_constant_rate(tracks)
    assert retiming is None and same is tracks
    at_50, retiming = to_constant_rate(tracks, fps=50.0)
    assert retiming is not None and not retiming.variable
    assert at_50.n_frames == 99 and at_50.fps == 50.0
    np.testing.assert_allclose(at_50.world_m[::2], tracks.world_m, atol=1e-12)


def test_gaps_stay_gaps_when_resampled():
    tracks = _tracks(TRUE_TIMES_S, 22.5)
    detected = tracks.detected.copy()
    detected[70] = False  # source frame 70 is true frame 80 (2.667 s)
    from dataclasses import replace

    out = resample_tracks(replace(tracks, detected=detected), 30.0)
    lost = np.flatnonzero(~out.detected)
    assert lost.tolist() == [79, 80, 81]  # the samples that needed frame 80
    assert np.isnan(out.world_m[lost]).all() and (out.visibility[lost] == 0).all()


def test_nominal_rate_snaps_to_standard_rates():
    assert nominal_fps(np.arange(10) / 29.97) == 29.97
    assert nominal_fps(np.cumsum([0, 1 / 24, 1 / 24, 1 / 12, 1 / 24])) == 24.0
    assert nominal_fps(np.arange(10) / 17.3) == pytest.approx(17.3)


def _vfr_clip(shared_data: Path, folder: Path) -> tuple[Path, Path]:
    """The VFR clip (93 frames with true timestamps) and the 30 fps original's first 125 frames."""
    import av

    source = shared_data / "synthetic" / "dev_scifi_wave_front.mp4"
    with av.open(str(source)) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(125), container.decode(video=0))]
    vfr = write_test_video(
        folder / "wave_vfr.mp4", [frames[i] for i in SOURCE_FRAMES], fps=30,
        pts=[i * 3000 for i in SOURCE_FRAMES], time_base_den=90000,
    )
    even = write_test_video(folder / "wave_30.mp4", frames, fps=30)
    return vfr, even


@pytest.mark.mediapipe
def test_variable_frame_rate_clip_converts_on_its_true_timeline(shared_data, tmp_path):
    vfr, even = _vfr_clip(shared_data, tmp_path)
    info = runner.invoke(app, ["info", str(vfr)])
    assert "variable" in info.stdout and "resamples to 30.000 fps" in info.stdout, info.output
    cache = tmp_path / "cache"
    result = runner.invoke(app, ["convert", str(vfr), "-o", str(tmp_path / "vfr.bvh"), "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    summary = " ".join(result.stderr.split())
    assert "variable frame rate (15.0-30.0 fps): 93 frames resampled" in summary, summary
    result = runner.invoke(app, ["convert", str(even), "-o", str(tmp_path / "even.bvh"), "--cache-dir", str(cache), "-q"])
    assert result.exit_code == 0, result.output
    got, ref = read_bvh(tmp_path / "vfr.bvh"), read_bvh(tmp_path / "even.bvh")
    assert got.n_frames == ref.n_frames == 125
    assert got.fps == pytest.approx(30.0)
    hand = got.skeleton.index("RightHand")
    pos_got, pos_ref = joint_positions(got), joint_positions(ref)
    # Hand path relative to the hips (the root's travel is a separate estimate).
    rel_got = pos_got[:, hand] - pos_got[:, 0]
    rel_ref = pos_ref[:, hand] - pos_ref[:, 0]
    err_m = np.linalg.norm(rel_got - rel_ref, axis=1)
    # Laid on an even clock the hand was off by ~0.14 m on average. What remains is BlazePose
    # itself: on the very same image its tracker, fed every second frame, can place the
    # wrist differently (source frame 112: 6 cm apart), which no timeline can undo.
    assert np.median(err_m) < 0.02, np.median(err_m)
    assert err_m.mean() < 0.05, err_m.mean()
