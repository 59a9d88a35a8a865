"""Learned depth: lift BlazePose's 2D landmarks to 3D with a temporal network (`--depth learned`).

A stage LandmarkTracks -> LandmarkTracks: it replaces the body joints of `world_m` (BlazePose's
metric 3D, the solver's depth prior) by the output of a small network trained on real motion
capture, or averages the two (`blend`; the pipeline's `--depth learned` uses 0.5, which scored
best on the benchmark) (CMU, 8.5 h, projected through random virtual cameras; training/train_depth.py, the
data, split and figures are in docs/motion-quality.md). The solver (mocap.solve) is unchanged:
it fits the root, refines the pose onto the 2D and builds the rig from whatever `world_m` holds.

Method (after Pavllo et al. 2019, "3D human pose estimation in video with temporal convolutions
and semi-supervised training", VideoPose3D): a 1-D convolution over time with a receptive field
of 27 frames at 24 fps (about 1.1 s) maps per-frame normalised 2D keypoints to per-frame
root-relative 3D. What differs:

- Inputs are camera rays, not pixels, so the network is independent of the focal length and
  the image size. Each frame is turned into a *view frame* by the smallest rotation that puts
  the ray through the hip centre on the optical axis (a virtual camera looking straight at the
  performer); the rays are projected in that frame and divided by the performer's size in the
  image (a 2 s running median), so the input says "what the body looks like", not where it is.
- Each keypoint carries its visibility as a third channel; hidden points (visibility < 0.1)
  are zeroed, as in training, where dropouts and occlusions are simulated.
- Outputs are metres in the view frame, relative to the hip centre, rotated back into the
  camera's axes, then converted to the internal frame (docs/conventions.md).
- The picture is also lifted mirrored (left and right swapped, x negated in the view frame),
  the result mirrored back and the two averaged (test-time flipping, as in VideoPose3D).
- The network runs at 24 fps (the training data's rate): the inputs are resampled to a 24 fps
  grid and the outputs interpolated back onto the clip's own timestamps.

Landmarks the network does not lift (face, hands, feet) keep BlazePose's offset from the body
point they hang from (the rig's depth tree, mocap/rigs/humanoid.json), so the rig still gets a head, hands and feet.

Weights: `mocap/models/depth_lifter.npz` (float16, loaded lazily on first use, numpy only).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np

from mocap.camera import Camera, internal_from_cv
from mocap.data import LandmarkTracks
from mocap.errors import MocapError

MODEL_FPS = 24.0
WEIGHTS = Path(__file__).with_name("models") / "depth_lifter.npz"

# The network's keypoints (BlazePose names), in the order of its input and output channels.
# Inputs: all 14; outputs written back to world_m: the 12 body joints (the eyes only help the input).
LIFT_POINTS: tuple[str, ...] = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_eye", "right_eye",
)
BODY_POINTS = LIFT_POINTS[:12]
HIPS = (LIFT_POINTS.index("left_hip"), LIFT_POINTS.index("right_hip"))
MIRROR = tuple(LIFT_POINTS.index(n.replace("left_", "#").replace("right_", "left_").replace("#", "right_"))
               for n in LIFT_POINTS)  # channel of each point's left/right twin
HIDDEN_VISIBILITY = 0.1  # below this a keypoint is treated as not seen
SIZE_WINDOW_S = 2.0  # running median of the performer's image size


def view_rotations(pelvis_rays: np.ndarray) -> np.ndarray:
    """R_view_from_cam (T, 3, 3): the smallest rotation taking each unit ray (T, 3), OpenCV
    camera axes, onto +Z (Rodrigues' formula; rays point forward, so u.z > -1)."""
    u = pelvis_rays / np.linalg.norm(pelvis_rays, axis=-1, keepdims=True)
    k = np.cross(u, np.array([0.0, 0.0, 1.0]))  # axis * sin(angle)
    c = u[:, 2]  # cos(angle)
    kx = np.zeros((len(u), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx[:, 1, 0], kx[:, 2, 0], kx[:, 2, 1] = k[:, 2], -k[:, 1], k[:, 0]
    return np.eye(3) + kx + (kx @ kx) / (1.0 + c)[:, None, None]


def _running_median(x: np.ndarray, width: int) -> np.ndarray:
    width = max(1, min(width, len(x)) | 1)
    half = width // 2
    padded = np.pad(x, (half, half), mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=-1)


def network_inputs(rays_cv: np.ndarray, visibility: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised network inputs from camera rays.

    rays_cv: (T, K, 3) ray directions through the K = len(LIFT_POINTS) keypoints, OpenCV camera
    axes (any length, z > 0; NaN where unseen); visibility: (T, K) in [0, 1]; fps of the frames.
    Returns features (T, 3K): per keypoint (x, y, visibility), x and y the keypoint's position
    in the view frame (module docstring) over the performer's image size, 0 where hidden; and
    R_view_from_cam (T, 3, 3). Frames where a hip is unseen use the nearest frame's view.
    """
    n = len(rays_cv)
    vis = np.where(np.isfinite(rays_cv).all(-1), np.nan_to_num(visibility, nan=0.0), 0.0)
    pelvis = rays_cv[:, HIPS[0]] / rays_cv[:, HIPS[0], 2:3] + rays_cv[:, HIPS[1]] / rays_cv[:, HIPS[1], 2:3]
    good = np.isfinite(pelvis).all(-1)
    if not good.any():
        raise MocapError("depth lifting: the hips are never seen")
    idx = np.arange(n)
    nearest = np.interp(idx, idx[good], idx[good]).round().astype(int)
    pelvis = pelvis[nearest]
    R = view_rotations(pelvis)
    v = np.einsum("tij,tkj->tki", R, np.nan_to_num(rays_cv, nan=0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        xy = v[..., :2] / v[..., 2:3]
    seen = vis >= HIDDEN_VISIBILITY
    xy = np.where(seen[..., None] & np.isfinite(xy), xy, 0.0)
    body = list(range(12))
    w = seen[:, body].astype(float)
    radius = np.sqrt(np.sum(w * np.sum(xy[:, body] ** 2, -1), 1) / np.maximum(w.sum(1), 1.0))
    ok = w.sum(1) >= 6
    if ok.any():
        radius = np.where(ok, radius, np.median(radius[ok]))
    else:
        radius = np.full(n, 0.1)
    size = _running_median(radius, int(round(SIZE_WINDOW_S * fps)))
    feats = np.concatenate([xy / np.maximum(size, 1e-6)[:, None, None], np.where(seen, vis, 0.0)[..., None]], -1)
    return feats.reshape(n, -1).astype(np.float32), R


class DepthLifter:
    """The temporal convolution network in numpy: layers of (weights (k, C_in, C_out), bias,
    dilation), ReLU between them, residual blocks as in training/train_depth.py."""

    def __init__(self, path: Path = WEIGHTS):
        try:
            z = np.load(path)
        except (OSError, ValueError) as exc:
            raise MocapError(f"{path}: cannot read the depth model ({exc})") from None
        self.layers = []
        i = 0
        while f"w{i}" in z.files:
            self.layers.append((z[f"w{i}"].astype(np.float32), z[f"b{i}"].astype(np.float32), int(z[f"d{i}"])))
            i += 1
        self.points = tuple(str(s) for s in z["points"])
        if self.points != LIFT_POINTS or not self.layers:
            raise MocapError(f"{path}: depth model does not match this version of mocap")
        self.receptive_field = 1 + sum((w.shape[0] - 1) * d for w, _, d in self.layers)

    @staticmethod
    def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, d: int) -> np.ndarray:
        k = w.shape[0]
        n = x.shape[0] - (k - 1) * d
        out = np.broadcast_to(b, (n, w.shape[2])).copy()
        for j in range(k):
            out += x[j * d: j * d + n] @ w[j]
        return out

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        """feats (T, 3K) -> (T, K, 3) metres, view frame, hip-centred; edges padded by repetition."""
        pad = (self.receptive_field - 1) // 2
        x = np.pad(feats.astype(np.float32), ((pad, pad), (0, 0)), mode="edge")
        layers = iter(self.layers)
        x = np.maximum(self._conv(x, *next(layers)), 0.0)
        rest = list(layers)
        for (w1, b1, d1), (w2, b2, d2) in zip(rest[:-1:2], rest[1:-1:2]):
            trim = (w1.shape[0] - 1) * d1 // 2
            y = np.maximum(self._conv(x, w1, b1, d1), 0.0)
            y = np.maximum(self._conv(y, w2, b2, d2), 0.0)
            x = x[trim: len(x) - trim] + y
        w, b, d = rest[-1]
        return self._conv(x, w, b, d).reshape(len(x), -1, 3)


@functools.lru_cache(maxsize=1)
def load_lifter(path: Path = WEIGHTS) -> DepthLifter:
    """The shipped network, read once per process."""
    return DepthLifter(path)


def lift_points_cv(rays_cv: np.ndarray, visibility: np.ndarray, times_s: np.ndarray,
                   lifter: DepthLifter | None = None) -> np.ndarray:
    """3D keypoints (T, K, 3) in the camera's OpenCV axes, metres, hip-centred, from the rays
    (T, K, 3) and visibility (T, K) of LIFT_POINTS at times_s (T,) seconds."""
    lifter = lifter or load_lifter()
    times_s = np.asarray(times_s, float)
    n = len(times_s)
    span = float(times_s[-1] - times_s[0]) if n > 1 else 0.0
    grid = times_s[0] + np.arange(int(np.floor(span * MODEL_FPS + 1e-6)) + 1) / MODEL_FPS
    feats, R = network_inputs(rays_cv, visibility, n / max(span, 1e-6) if n > 1 else MODEL_FPS)
    feats_grid = np.stack([np.interp(grid, times_s, f) for f in feats.T], axis=1) if n > 1 else feats
    out_grid = lifter(feats_grid)
    # test-time mirroring: lift the mirrored picture too, mirror it back and average
    mirrored = feats_grid.reshape(len(feats_grid), -1, 3)[:, MIRROR] * np.array([-1.0, 1.0, 1.0], np.float32)
    out_grid = 0.5 * (out_grid + lifter(mirrored.reshape(len(feats_grid), -1))[:, MIRROR] * np.array([-1.0, 1.0, 1.0]))
    out_grid = out_grid.reshape(len(feats_grid), -1)
    out = np.stack([np.interp(times_s, grid, o) for o in out_grid.T], axis=1) if n > 1 else out_grid
    out = out.reshape(n, -1, 3)
    out -= 0.5 * (out[:, HIPS[0]] + out[:, HIPS[1]])[:, None]
    return np.einsum("tji,tkj->tki", R, out)  # R^T: view -> camera


def lift_tracks(tracks: LandmarkTracks, camera: Camera, lifter: DepthLifter | None = None,
                blend: float = 1.0) -> LandmarkTracks:
    """Tracks whose world_m body joints come from the depth network (module docstring).

    tracks: smoothed, gap-filled (mocap.smooth.smooth_tracks); camera: the video's camera.
    Returns a copy with world_m (T, L, 3) replaced for the 12 body joints (internal frame,
    metres, hip-centred); other landmarks keep BlazePose's offset from their parent point
    in the rig's depth tree.
    blend < 1 fuses instead: blend x learned + (1 - blend) x BlazePose's joints, the latter
    scaled to the learned pose's size (median over the clip).
    Raises MocapError if the weights cannot be read or the hips are never seen.
    """
    from mocap.rig import columns, derived_point, load_rig

    rig = load_rig()

    index = {n: i for i, n in enumerate(tracks.names)}
    missing = [n for n in LIFT_POINTS if n not in index]
    if missing:
        raise MocapError(f"depth lifting needs the landmarks {', '.join(missing)}")
    cols = [index[n] for n in LIFT_POINTS]
    rays = camera.rays(tracks.image_xy_px[:, cols])
    lifted = internal_from_cv(lift_points_cv(rays, tracks.visibility[:, cols], tracks.times_s, lifter))

    bp = tracks.world_m
    out = bp.copy()
    body = [index[n] for n in BODY_POINTS]
    lifted = lifted[:, : len(BODY_POINTS)]
    if blend < 1.0:
        size = lambda a: np.nanmedian(np.sqrt(np.nanmean(np.sum(a**2, -1), 1)))  # noqa: E731
        scaled = bp[:, body] * (size(lifted) / size(bp[:, body]))
        lifted = np.where(np.isfinite(scaled), blend * lifted + (1.0 - blend) * scaled, lifted)
    out[:, body] = lifted

    for parent, child in rig.depth_tree.bones:  # parents first: hang the rest on the lifted body
        if child in BODY_POINTS or child not in index:
            continue
        offset = tracks.world_m[:, index[child]] - derived_point(rig, parent, columns(tracks.names, bp))
        out[:, index[child]] = derived_point(rig, parent, columns(tracks.names, out)) + offset
    bad = ~np.isfinite(out)
    out[bad] = bp[bad]
    return replace(tracks, world_m=out)


__all__ = ["LIFT_POINTS", "MODEL_FPS", "DepthLifter", "load_lifter", "lift_points_cv", "lift_tracks",
           "network_inputs", "view_rotations"]
