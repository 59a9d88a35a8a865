"""Temporal smoothing of landmark tracks: LandmarkTracks -> LandmarkTracks.

Offline, zero-phase and confidence-weighted: a Whittaker-Henderson smoother (the discrete
smoothing spline). For each landmark it solves, for all coordinates at once,

    (W + lam * D'D) z = W y          W = diag(visibility), D = second differences,

a banded system (scipy.linalg.solveh_banded), so a clip of any length costs one pass per
landmark. Its frequency response is H(f) = 1 / (1 + lam * (2 - 2 cos(2 pi f / fps))^2);
we pick lam so that H(cutoff_hz) = 1/2 using the clip's own fps, so a cut-off means the
same at 24, 30 or 60 fps. Unseen samples get weight 0 and are filled smoothly; gaps
longer than `max_gap_s` are not invented: the pose is held from the nearest seen frame
and the gap is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.linalg import solveh_banded

from mocap.data import LandmarkTracks

# Named presets for the CLI's --smoothing option: cut-off frequency in Hz.
SMOOTHING_PRESETS_HZ = {"none": None, "light": 8.0, "medium": 4.0, "strong": 2.5}


@dataclass(frozen=True)
class SmoothingConfig:
    cutoff_hz: float | None = 4.0  # = "medium"; None: no filtering (gaps are still filled)
    min_visibility: float = 0.3  # samples below this are treated as unseen
    max_gap_s: float = 0.5  # longer unseen stretches are held and reported, not interpolated


@dataclass(frozen=True)
class Gap:
    """A stretch of frames, inclusive, where a landmark (or the whole person) was unseen."""

    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1


def find_gaps(seen: np.ndarray) -> list[Gap]:
    """Runs of False in a (T,) bool array, as inclusive frame ranges."""
    gaps: list[Gap] = []
    t = 0
    n = len(seen)
    while t < n:
        if not seen[t]:
            start = t
            while t < n and not seen[t]:
                t += 1
            gaps.append(Gap(start, t - 1))
        else:
            t += 1
    return gaps


def whittaker_lambda(cutoff_hz: float, fps: float) -> float:
    """Penalty giving a half-power point at cutoff_hz for samples at fps."""
    omega = 2.0 * np.pi * min(cutoff_hz / fps, 0.499)
    return 1.0 / (2.0 - 2.0 * np.cos(omega)) ** 2


def whittaker_smooth(values: np.ndarray, weights: np.ndarray, lam: float) -> np.ndarray:
    """Weighted second-order Whittaker smoothing along axis 0.

    values: (T, D) (NaN allowed where weight is 0); weights: (T,) >= 0, at least two > 0.
    Returns (T, D) smoothed and filled.
    """
    n = len(weights)
    y = np.where(weights[:, None] > 0, np.nan_to_num(values), 0.0)
    if n < 3:
        return np.repeat(np.average(y, axis=0, weights=weights)[None], n, axis=0)
    ab = lam * second_difference_gram(n)
    ab[2] += weights
    return solveh_banded(ab, weights[:, None] * y, check_finite=False)


def second_difference_gram(n: int) -> np.ndarray:
    """D'D for the (n-2, n) second-difference operator D, as scipy.linalg.solveh_banded's
    upper form (3, n): row 2 the diagonal, row 1 the first superdiagonal, row 0 the second.
    Rows of D'D are (1, -4, 6, -4, 1), trimmed at the ends. n >= 3."""
    ab = np.zeros((3, n))
    ab[2] = 6.0
    ab[2, [0, -1]] = 1.0
    ab[2, [1, -2]] = 5.0
    ab[1, 1:] = -4.0
    ab[1, [1, -1]] = -2.0
    ab[0, 2:] = 1.0
    return ab


def smooth_tracks(tracks: LandmarkTracks, cfg: SmoothingConfig = SmoothingConfig()) -> LandmarkTracks:
    """Smooth and fill every landmark's world and image positions.

    Returns tracks with no NaN wherever the person was seen at least once. Frames of
    `detected=False` keep that flag, so callers can still report them as gaps.
    """
    if not tracks.detected.any():
        return tracks
    max_gap = max(1, int(round(cfg.max_gap_s * tracks.fps)))
    lam = whittaker_lambda(cfg.cutoff_hz, tracks.fps) if cfg.cutoff_hz else 1e-9
    world = tracks.world_m.copy()
    image = tracks.image_xy_px.copy()
    vis = np.nan_to_num(tracks.visibility, nan=0.0)
    finite = np.isfinite(world).all(axis=2) & np.isfinite(image).all(axis=2) & tracks.detected[:, None]
    for i in range(len(tracks.names)):
        seen = finite[:, i] & (vis[:, i] >= cfg.min_visibility)
        if seen.sum() < 2:  # too little to trust: use whatever was detected at all
            seen = finite[:, i]
        if not seen.any():
            continue
        weights = np.where(seen, np.clip(vis[:, i], 0.05, 1.0), 0.0)
        weights = weights / weights[seen].mean()  # keep lam's meaning: mean weight 1
        both = np.concatenate([world[:, i], image[:, i]], axis=1)
        if seen.sum() == 1:
            filled = np.repeat(both[seen], len(seen), axis=0)
        else:
            filled = _hold_long_gaps(whittaker_smooth(both, weights, lam), seen, max_gap)
        world[:, i], image[:, i] = filled[:, :3], filled[:, 3:]
    return replace(tracks, world_m=world, image_xy_px=image)


def _hold_long_gaps(values: np.ndarray, seen: np.ndarray, max_gap: int) -> np.ndarray:
    """Across gaps longer than max_gap frames, and before the first / after the last seen
    frame, hold the nearest seen value instead of the smoother's guess."""
    out = values.copy()
    seen_idx = np.flatnonzero(seen)
    n = len(seen)
    for gap in find_gaps(seen):
        if gap.length <= max_gap and gap.first > 0 and gap.last < n - 1:
            continue
        for frame in range(gap.first, gap.last + 1):
            before = seen_idx[seen_idx < frame]
            after = seen_idx[seen_idx > frame]
            if before.size and (not after.size or frame - before[-1] <= after[0] - frame):
                out[frame] = values[before[-1]]
            else:
                out[frame] = values[after[0]]
    return out
