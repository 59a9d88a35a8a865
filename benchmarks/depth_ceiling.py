"""How far can depth refinement go? Oracle bounds for the pose targets of issue 4.

The refinement (mocap.solve.refine) takes each bone's direction across the view from the
2D landmarks and its toward/away component from BlazePose's depth, at a fixed length.
This script keeps everything the pipeline measures (2D rays, root, torso, bone lengths)
and replaces, for the eight limb bones only (upper arms, forearms, thighs, shins), the
one thing the image cannot give, using the ground truth:

  shipped          mocap.solve.refine.refine_pose as the pipeline runs it
  true sign        each limb points toward/away from the camera as in the truth;
                   the amount (|h| along the ray) stays the refinement's
  true depth       the limb's component along the ray is the truth's (direction exact
                   in depth; across the view it still comes from the detected 2D)
  + true lengths   the same with the truth's bone lengths

Scores are PA-MPJPE (12 joints) and limb-direction error (8 limbs), as in
benchmarks/accuracy.py, on the refined world landmarks (before the rig fit and foot
locking, which cost the exported BVH another 1-2 mm). A row that needs the truth is an
upper bound for any method that uses what that row keeps; e.g. "true sign" bounds every
method that decides signs better but keeps the measured amounts.

    .venv/bin/python benchmarks/depth_ceiling.py [--clips GLOB]
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy as acc  # noqa: E402  (benchmarks/accuracy.py, beside this script)

from mocap import evaluate as ev  # noqa: E402
from mocap.camera import cv_from_internal  # noqa: E402
from mocap.kinematics import unit  # noqa: E402
from mocap.pipeline import ConvertOptions, camera_for, probe_and_detect  # noqa: E402
from mocap.smooth import smooth_tracks  # noqa: E402
from mocap.rig import load_rig  # noqa: E402
from mocap.solve.refine import refine_pose  # noqa: E402
from mocap.solve.root import camera_root  # noqa: E402

CHAINS = [(f"{s}_{a}", f"{s}_{b}") for s in ("l", "r")
          for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))]
VARIANTS = ("shipped", "true sign", "true depth", "true depth + true lengths")


def truth_in_camera(gt: dict[str, np.ndarray]) -> np.ndarray:
    """(T, 14, 3) true joints in OpenCV camera axes."""
    m = np.asarray(gt["camera_world_from_cam"], dtype=float)
    m = m if m.ndim == 3 else np.repeat(m[None], len(gt["joints"]), axis=0)
    inv = np.linalg.inv(m)
    return np.einsum("tij,tkj->tki", inv[:, :3, :3], gt["joints"]) + inv[:, None, :3, 3]


def replace_limbs(est: np.ndarray, truth: np.ndarray, rays: np.ndarray, variant: str) -> np.ndarray:
    """Re-place the limb joints of est (T, 14, 3, camera axes) parent first, each child on
    its own detected ray, with the variant's depth along the ray."""
    out = est.copy()
    for a, b in CHAINS:
        ia, ib = acc.NAMES.index(a), acc.NAMES.index(b)
        p, r = out[:, ia], rays[:, ib]
        length = np.median(np.linalg.norm(est[:, ib] - est[:, ia], axis=1))
        if variant.endswith("true lengths"):
            length = np.median(np.linalg.norm(truth[:, ib] - truth[:, ia], axis=1))
        m = np.sum(r * p, axis=1)
        true_h = length * np.sum(unit(truth[:, ib] - truth[:, ia]) * r, axis=1)
        if variant == "true sign":
            h = np.sign(true_h) * np.abs(np.sum((est[:, ib] - est[:, ia]) * r, axis=1))
        else:
            h = true_h
        child = (m + h)[:, None] * r
        out[:, ib] = p + length * unit(child - p)
    return out


def evaluate(video: Path, options: ConvertOptions) -> dict[str, tuple[float, float, int]]:
    gt = acc.load_gt(video.parent / f"{video.stem}.gt.npz")
    info, tracks = probe_and_detect(video, options)
    smoothed = smooth_tracks(tracks, options.smoothing)
    camera = camera_for(smoothed, options, info)
    root = camera_root(smoothed, camera)
    refined = refine_pose(smoothed, root, camera, load_rig()).tracks.world_m
    idx = [tracks.index(acc.JOINTS[n][0]) for n in acc.NAMES]
    est = cv_from_internal(refined[:, idx] + root.path_m[:, None])
    rays = unit(camera.rays(smoothed.image_xy_px[:, idx]))
    truth = truth_in_camera(gt)
    scores = {}
    for variant in VARIANTS:
        x = est if variant == "shipped" else replace_limbs(est, truth, rays, variant)
        pa = ev.pa_joint_errors_mm(x[:, acc.POSE], truth[:, acc.POSE]).mean()
        limb = ev.limb_direction_error_deg(x, truth, acc.LIMBS, acc.POSE).mean()
        scores[variant] = (float(pa), float(limb), len(truth))
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default="*", help="glob over the synthetic clip names")
    args = parser.parse_args(argv)
    options = ConvertOptions()
    videos = [v for v in sorted(acc.SYNTHETIC.glob("*.mp4")) if fnmatch.fnmatch(v.stem, args.clips)]
    if not videos:
        print(f"no ground-truth clips at {acc.SYNTHETIC}", file=sys.stderr)
        return 2
    pooled: dict[str, list[tuple[float, float, int]]] = {v: [] for v in VARIANTS}
    print(f"{'clip':32s}" + "".join(f"{v:>28s}" for v in VARIANTS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for video in videos:
            scores = evaluate(video, options)
            print(f"{video.stem[4:]:32s}" + "".join(f"{s[0]:17.1f} mm {s[1]:5.1f}°" for s in scores.values()))
            for v, s in scores.items():
                pooled[v].append(s)
    print("\noverall (frame-weighted)   PA-MPJPE mm   limb deg")
    for v, rows in pooled.items():
        a = np.array(rows)
        print(f"  {v:26s} {np.sum(a[:, 0] * a[:, 2]) / a[:, 2].sum():10.1f} {np.sum(a[:, 1] * a[:, 2]) / a[:, 2].sum():10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
