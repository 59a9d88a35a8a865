"""Smoothing: cut-off in Hz honoured at any fps, confidence weighting, gap filling."""

import numpy as np
import pytest

from mocap.data import BLAZEPOSE_NAMES, LandmarkTracks
from mocap.smooth import SmoothingConfig, smooth_tracks
from mocap.timeseries import runs, whittaker_lambda, whittaker_smooth


def _tracks(signal: np.ndarray, fps: float, visibility: np.ndarray | None = None) -> LandmarkTracks:
    """Tracks whose every landmark's x follows `signal` (T,)."""
    n = len(signal)
    world = np.zeros((n, 33, 3))
    world[:, :, 0] = signal[:, None]
    vis = np.ones((n, 33)) if visibility is None else np.repeat(visibility[:, None], 33, axis=1)
    detected = np.ones(n, bool)
    return LandmarkTracks(
        BLAZEPOSE_NAMES, fps, np.arange(n) / fps, np.arange(n), (640, 480),
        world[..., :2] * 100 + (320, 240), world, vis, detected,  # pixels inside the 640x480 image
    )


def _gain(freq_hz: float, fps: float, cutoff_hz: float) -> float:
    t = np.arange(int(20 * fps)) / fps
    x = np.sin(2 * np.pi * freq_hz * t)
    y = smooth_tracks(_tracks(x, fps), SmoothingConfig(cutoff_hz=cutoff_hz)).world_m[:, 0, 0]
    core = slice(len(t) // 4, 3 * len(t) // 4)  # away from the ends
    return float(np.std(y[core]) / np.std(x[core]))


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0, 120.0])
def test_cutoff_is_in_hz_whatever_the_fps(fps):
    # Half amplitude gain (|H| = 1/2) at the cut-off; passband kept, stopband removed.
    assert _gain(4.0, fps, cutoff_hz=4.0) == pytest.approx(0.5, abs=0.03)
    assert _gain(0.5, fps, cutoff_hz=4.0) > 0.98
    assert _gain(10.0, fps, cutoff_hz=4.0) < 0.08  # exact response is 0.067 at 24 fps (near Nyquist)


def test_lambda_grows_with_fps():
    assert whittaker_lambda(5.0, 60.0) > whittaker_lambda(5.0, 30.0)


def test_a_cut_off_not_below_half_the_rate_smooths_as_lightly_as_the_rate_allows_and_says_so():
    from mocap.pipeline import smoothing_warnings

    x = np.random.default_rng(0).normal(size=300)
    lightest = smooth_tracks(_tracks(x, 30.0), SmoothingConfig(cutoff_hz=0.499 * 30.0)).world_m
    for cutoff_hz in (15.0, 1000.0):  # at and far above 15 Hz: the same as just under it
        np.testing.assert_allclose(smooth_tracks(_tracks(x, 30.0), SmoothingConfig(cutoff_hz=cutoff_hz)).world_m, lightest)
        (line,) = smoothing_warnings(SmoothingConfig(cutoff_hz=cutoff_hz), 30.0)
        assert f"the cut-off ({cutoff_hz:g} Hz) is not below half the frame rate (15 Hz at 30 fps)" in line
    assert smoothing_warnings(SmoothingConfig(cutoff_hz=14.9), 30.0) == ()
    assert smoothing_warnings(SmoothingConfig(cutoff_hz=None), 30.0) == ()
    assert smoothing_warnings(SmoothingConfig(cutoff_hz=4.0), 5.0)  # medium on a 5 fps clip


def test_low_confidence_outlier_is_suppressed_more_than_a_confident_one():
    n = 90
    x = np.zeros(n)
    x[45] = 1.0  # one wild sample
    confident = smooth_tracks(_tracks(x, 30.0), SmoothingConfig(5.0)).world_m[45, 0, 0]
    vis = np.ones(n)
    vis[45] = 0.35  # above min_visibility, but weak
    weak = smooth_tracks(_tracks(x, 30.0, vis), SmoothingConfig(5.0)).world_m[45, 0, 0]
    assert 0 < weak < 0.5 * confident


def test_short_gap_is_filled_smoothly_and_long_gap_is_held():
    fps = 30.0
    t = np.arange(150) / fps
    x = 0.3 * t  # a steady drift, 0.3 m/s
    tracks = _tracks(x, fps)
    world = tracks.world_m.copy()
    vis = tracks.visibility.copy()
    det = tracks.detected.copy()
    world[40:45] = np.nan
    vis[40:45] = 0
    det[40:45] = False  # 5 frames: short
    world[80:130] = np.nan
    vis[80:130] = 0
    det[80:130] = False  # 50 frames = 1.67 s: long
    from dataclasses import replace

    holey = replace(tracks, world_m=world, visibility=vis, detected=det)
    out = smooth_tracks(holey, SmoothingConfig(cutoff_hz=5.0, max_gap_s=0.5)).world_m[:, 0, 0]
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[40:45], x[40:45], atol=2e-3)  # interpolated through the short gap
    assert np.ptp(out[80:105]) == 0.0 and np.ptp(out[105:130]) == 0.0  # held, not invented
    assert [(g.first, g.last) for g in runs(~det)] == [(40, 44), (80, 129)]


def test_whittaker_matches_data_when_lambda_is_tiny():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 3))
    np.testing.assert_allclose(whittaker_smooth(y, np.ones(50), 1e-9), y, atol=1e-6)
