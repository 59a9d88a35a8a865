"""Temporal smoothing of landmark tracks: LandmarkTracks -> LandmarkTracks.

Offline, zero-phase and confidence-weighted: a Whittaker-Henderson smoother (the discrete
smoothing spline). For each landmark it solves, for all coordinates at once,

    (W + lam * D'D) z = W y          W = diag(visibility), D = second differences,

a banded system, so a clip of any length costs one pass per landmark (the smoother, and
its cut-off in Hz at the clip's own fps, are in mocap.timeseries). Unseen samples get
weight 0 and are filled smoothly; gaps longer than `max_gap_s` are not invented: the pose
is held from the nearest seen frame and the gap is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mocap.data import LandmarkTracks
from mocap.timeseries import runs, whittaker_lambda, whittaker_smooth

# Named presets for the CLI's --smoothing option: cut-off frequency in Hz.
SMOOTHING_PRESETS_HZ = {"none": None, "light": 8.0, "medium": 4.0, "strong": 2.5}


@dataclass(frozen=True)
class SmoothingConfig:
    cutoff_hz: float | None = 4.0  # = "medium"; None: no filtering (gaps are still filled)
    min_visibility: float = 0.3  # samples below this are treated as unseen
    max_gap_s: float = 0.5  # longer unseen stretches are held and reported, not interpolated


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
    for gap in runs(~seen):
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
