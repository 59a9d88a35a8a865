"""Cost of `--hands` and `--matte`, and the matte's flicker and agreement with ground truth.

Per clip (the first SECONDS), side by side in one run, each timed REPEATS times (median):

    body     BlazePose detection (mocap.detect.mediapipe_pose.detect_landmarks), the pass every
             conversion makes when the landmark cache misses
    hands    the extra pass of --hands (mocap.detect.mediapipe_hands.detect_hands), with the
             default detector (Holistic) and with --hands-detector crops
    matte    the extra pass of --matte (mocap.matte.write_matte, pose segmentation, FFV1 file),
             and the same with Selfie Segmentation

Flicker: mean absolute frame-to-frame change of the matte (0-255 scale, all pixels), raw and
after mocap.matte.smooth_masks. On rendered clips (NAME.gt.npz beside the video; the
renderer has no silhouette pass, so the matte is checked against the projected ground-truth
joints instead): `joints in matte` = share of the 17 projected joints where the matte is
>= 128, `matte in box` = share of the matte's mass inside the joints' bounding box grown by
15% of the figure's height.

    MOCAP_CACHE_DIR=/tmp/mocap-cache .venv/bin/python benchmarks/bench_hands_matte.py CLIP [CLIP ...] [--seconds 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mocap.detect.mediapipe_hands import detect_hands
from mocap.detect.mediapipe_matte import person_masks
from mocap.detect.mediapipe_pose import detect_landmarks
from mocap.matte import MatteConfig, smooth_masks, write_matte
from mocap.video import probe_video, read_frames

REPEATS = 3


def _timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def flicker(masks: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(masks, masks[1:])]) * 255)


def agreement(masks: list[np.ndarray], gt_path: Path) -> tuple[float, float]:
    gt = np.load(gt_path)
    uv = gt["joints_2d"][: len(masks)]
    inside, in_box = [], []
    for mask, pts in zip(masks, uv):
        h, w = mask.shape
        ij = np.clip(np.round(pts).astype(int), 0, [w - 1, h - 1])
        inside.append(np.mean(mask[ij[:, 1], ij[:, 0]] >= 0.5))
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        grow = 0.15 * (hi[1] - lo[1])
        x0, y0 = np.clip((lo - grow).astype(int), 0, None)
        x1, y1 = (hi + grow).astype(int) + 1
        in_box.append(mask[y0:y1, x0:x1].sum() / max(mask.sum(), 1e-9))
    return float(np.mean(inside)), float(np.mean(in_box))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", type=Path, nargs="+")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args(argv)
    end = args.seconds
    print("| clip | frames | body ms/frame | + hands (holistic) ms/frame | + hands (crops) ms/frame | + matte (pose) ms/frame | + matte (selfie) ms/frame "
          "| flicker raw / smoothed | joints in matte | matte in box |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for clip in args.clips:
        info = probe_video(clip)
        body = detect_landmarks(info, read_frames(info, None, end))
        n = body.n_frames
        with tempfile.TemporaryDirectory() as tmp:
            t_body = _timed(lambda: detect_landmarks(info, read_frames(info, None, end)), args.repeats)
            t_hands = _timed(lambda: detect_hands(info, read_frames(info, None, end), body), args.repeats)
            t_crops = _timed(lambda: detect_hands(info, read_frames(info, None, end), body, method="crops"), args.repeats)
            t_pose = _timed(lambda: write_matte(info, Path(tmp) / "m.mkv", end_s=end), args.repeats)
            t_selfie = _timed(lambda: write_matte(info, Path(tmp) / "s.mkv", MatteConfig(source="selfie"), end_s=end),
                              args.repeats)
        raw = [m for _, m in person_masks(read_frames(info, None, end))]
        smooth = [m for _, m in smooth_masks(((None, m) for m in raw), info.fps, MatteConfig().sigma_s)]
        gt = clip.with_suffix(".gt.npz")
        joints, box = agreement(smooth, gt) if gt.is_file() else (float("nan"), float("nan"))
        ms = lambda t: f"{1000 * t / n:.0f}"  # noqa: E731
        print(f"| {clip.stem} | {n} | {ms(t_body)} | {ms(t_hands)} | {ms(t_crops)} | {ms(t_pose)} | {ms(t_selfie)} | "
              f"{flicker(raw):.2f} / {flicker(smooth):.2f} | {joints:.0%} | {box:.1%} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
