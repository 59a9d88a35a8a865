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
    image_margin: float = 0.02  # landmarks farther outside the image (share of its larger side) are unseen


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
    seen_all = seen_samples(tracks, cfg)
    in_frame = seen_samples(tracks, replace(cfg, min_visibility=-1.0))
    never = np.zeros(len(tracks.names), bool)
    for i in range(len(tracks.names)):
        seen = seen_all[:, i]
        if seen.sum() < 2:
            # Hidden behind the body all along, BlazePose's guess inside the image is still
            # the best there is (dev_scifi_idle_45's far elbow: visibility < 0.3 throughout,
            # its guess 4 mm better than a hanging arm); outside the image it is not.
            seen = in_frame[:, i]
            seen_all[:, i] = seen
        if seen.sum() < 2:  # never (or once) in the image: neutral_fill, not BlazePose's guess
            never[i] = True
            continue
        weights = np.where(seen, np.clip(vis[:, i], 0.05, 1.0), 0.0)
        weights = weights / weights[seen].mean()  # keep lam's meaning: mean weight 1
        both = np.concatenate([world[:, i], image[:, i]], axis=1)
        if seen.sum() == 1:
            filled = np.repeat(both[seen], len(seen), axis=0)
        else:
            filled = _hold_long_gaps(whittaker_smooth(both, weights, lam), seen, max_gap)
        world[:, i], image[:, i] = filled[:, :3], filled[:, 3:]
    if never.any():
        world = neutral_fill(world, never, tracks.names)
        image = np.where(never[None, :, None], np.nan_to_num(image), image)  # kept, but carries no weight
    # Unseen samples carry no weight downstream either (root fit, depth refinement).
    return replace(tracks, world_m=world, image_xy_px=image, visibility=np.where(seen_all, vis, 0.0))


def seen_samples(tracks: LandmarkTracks, cfg: SmoothingConfig = SmoothingConfig()) -> np.ndarray:
    """(T, L) bool: the landmark was seen. Not seen: no person, NaN, visibility below
    cfg.min_visibility, or a position outside the image by more than cfg.image_margin of its
    larger side (BlazePose still guesses legs below a waist-up frame, often with visibility
    above 0.3: the cropped tai chi clip's knees reached 0.33 at y = 506 px in a 380 px image)."""
    world, image = tracks.world_m, tracks.image_xy_px
    vis = np.nan_to_num(tracks.visibility, nan=0.0)
    finite = np.isfinite(world).all(axis=2) & np.isfinite(image).all(axis=2) & tracks.detected[:, None]
    w, h = tracks.image_size_px
    margin = cfg.image_margin * max(w, h)
    with np.errstate(invalid="ignore"):
        inside = (image[..., 0] >= -margin) & (image[..., 0] <= w - 1 + margin) & (
            image[..., 1] >= -margin) & (image[..., 1] <= h - 1 + margin)
    return finite & inside & (vis >= cfg.min_visibility)


# Neutral pose for landmarks never seen: (parent landmark or point, direction, length as a share
# of the torso length). Directions: "down" (-Y), "forward" (the performer's facing), "side"
# (toward the landmark's own side). Proportions of an adult (thigh ~ shin ~ 0.85 torso).
_NEUTRAL: tuple[tuple[str, str, tuple[tuple[str, float], ...]], ...] = (
    ("left_hip", "hips", ()), ("right_hip", "hips", ()),
    ("left_knee", "left_hip", (("down", 0.85),)), ("right_knee", "right_hip", (("down", 0.85),)),
    ("left_ankle", "left_knee", (("down", 0.85),)), ("right_ankle", "right_knee", (("down", 0.85),)),
    ("left_heel", "left_ankle", (("down", 0.1), ("forward", -0.1))),
    ("right_heel", "right_ankle", (("down", 0.1), ("forward", -0.1))),
    ("left_foot_index", "left_ankle", (("down", 0.12), ("forward", 0.3))),
    ("right_foot_index", "right_ankle", (("down", 0.12), ("forward", 0.3))),
    ("left_elbow", "left_shoulder", (("down", 0.6),)), ("right_elbow", "right_shoulder", (("down", 0.6),)),
    ("left_wrist", "left_elbow", (("down", 0.5),)), ("right_wrist", "right_elbow", (("down", 0.5),)),
    ("left_pinky", "left_wrist", (("down", 0.15),)), ("right_pinky", "right_wrist", (("down", 0.15),)),
    ("left_index", "left_wrist", (("down", 0.17), ("forward", 0.02))),
    ("right_index", "right_wrist", (("down", 0.17), ("forward", 0.02))),
    ("left_thumb", "left_wrist", (("down", 0.1), ("forward", 0.05))),
    ("right_thumb", "right_wrist", (("down", 0.1), ("forward", 0.05))),
)
BODY_PARTS: dict[str, tuple[str, ...]] = {  # a part is unseen in a frame when all its landmarks are
    "left arm": ("left_elbow", "left_wrist"),
    "right arm": ("right_elbow", "right_wrist"),
    "left leg": ("left_knee", "left_ankle"),
    "right leg": ("right_knee", "right_ankle"),
}


def unseen_parts(tracks: LandmarkTracks, cfg: SmoothingConfig = SmoothingConfig()) -> dict[str, tuple[tuple[int, int], ...]]:
    """Body part -> inclusive frame ranges where none of its landmarks was seen (seen_samples),
    in frames where a person was detected; parts never unseen are left out."""
    seen = seen_samples(tracks, cfg)
    out = {}
    for part, names in BODY_PARTS.items():
        idx = [tracks.names.index(n) for n in names if n in tracks.names]
        if not idx:
            continue
        hidden = ~seen[:, idx].any(axis=1) & tracks.detected
        spans = tuple((r.first, r.last) for r in runs(hidden))
        if spans:
            out[part] = spans
    return out


_HIP_HALF_WIDTH = 0.2  # hip half-width as a share of the torso length
_TORSO_PER_SHOULDER_WIDTH = 1.4  # torso length when the hips were never seen either


def neutral_fill(world_m: np.ndarray, never: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(T, L, 3) world positions with the landmarks flagged in `never` (L,) put in a neutral
    standing pose, limb by limb from the trunk: legs straight down with the feet forward, arms
    hanging. Lengths scale with the torso (shoulder centre to hip centre; from the shoulder
    width when the hips were never seen). Landmarks the rig does not know are left alone."""
    out = world_m.copy()
    index = {n: i for i, n in enumerate(names)}
    if not all(n in index for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")):
        return out
    ls, rs = out[:, index["left_shoulder"]], out[:, index["right_shoulder"]]
    across = ls - rs
    up = np.array([0.0, 1.0, 0.0])
    forward = np.cross(across, up)
    forward /= np.maximum(np.linalg.norm(forward, axis=1, keepdims=True), 1e-9)
    shoulders = (ls + rs) / 2
    hips_seen = not (never[index["left_hip"]] or never[index["right_hip"]])
    if hips_seen:
        hips = (out[:, index["left_hip"]] + out[:, index["right_hip"]]) / 2
        torso = np.median(np.linalg.norm(shoulders - hips, axis=1))
    else:
        torso = _TORSO_PER_SHOULDER_WIDTH * float(np.median(np.linalg.norm(across, axis=1)))
        hips = shoulders - up * torso
    side_unit = across / np.maximum(np.linalg.norm(across, axis=1, keepdims=True), 1e-9)
    for name, parent, steps in _NEUTRAL:
        i = index.get(name)
        if i is None or not never[i]:
            continue
        sign = 1.0 if name.startswith("left") else -1.0
        if parent == "hips":
            out[:, i] = hips + sign * side_unit * _HIP_HALF_WIDTH * torso
            continue
        p = out[:, index[parent]]
        for direction, share in steps:
            vec = {"down": -up, "forward": forward}[direction]
            p = p + vec * share * torso
        out[:, i] = p
    return out


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
