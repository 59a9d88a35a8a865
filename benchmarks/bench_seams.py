"""Seams of `convert --jobs N`: is chunked detection indistinguishable from one process?

Two measurements on real 720p clips, each against a one-process detection of the same clip
in the same run (the product's own code: mocap.detect.chunks, mocap.batch.chunked):

1. Settling (why the warm-up is 1 s). At several seam frames a, BlazePose is started cold W
   frames before a (W = 0, 5, 10, 20, 30) and its landmarks on frames a..a+29 are compared
   with the one-process run's: max over the 33 landmarks of the 2D distance (px), median
   over seams. The level it falls to is how much two valid tracker histories keep
   differing; the tracker has settled when the cold start is down to that level.
2. The exported motion. The clip is converted from one-process landmarks and from chunked
   landmarks (`--jobs` chunks, warm-up and cross-fade as shipped; chunks made short so a
   short clip has several seams), both smoothed and solved the same way. Joint positions of
   the two motions (forward kinematics, mm) are compared within +-0.25 s of each seam and
   elsewhere; joint acceleration (mm/frame^2, second difference) at the seams is compared
   with the one-process motion's on the same frames.

    MOCAP_CACHE_DIR=/tmp/mocap-cache .venv/bin/python benchmarks/bench_seams.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mocap.batch.chunked import ChunkedDetector
from mocap.detect.cache import detect_cached
from mocap.detect.chunks import Chunk, detect_chunk
from mocap.kinematics import joint_positions
from mocap.pipeline import ConvertOptions, solve_take
from mocap.timeline import to_constant_rate
from mocap.video import probe_video

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
CLIPS = [(REAL / "taiji_man_hybrik.mp4", 4), (REAL / "soccer_juggle_sam2.mp4", 3)]  # (clip, chunks)
WARMUPS = (0, 5, 10, 20, 30)
AFTER = 30  # frames compared after each seam


def settling(info, one, seams: list[int]) -> dict[int, np.ndarray]:
    """{W: (AFTER,) median over seams of the per-frame max landmark distance (px)}."""
    out = {}
    for w in WARMUPS:
        rows = []
        for a in seams:
            cold = detect_chunk(info, Chunk(first=a, stop=a + AFTER, decode_from=a - w))
            keep = cold.frame_indices >= a
            rows.append(np.nan_to_num(_max_px_rows(cold, keep, one, a), nan=0.0))
        out[w] = np.median(np.stack(rows), axis=0)
    return out


def _max_px_rows(cold, keep, one, a) -> np.ndarray:
    d = cold.image_xy_px[keep] - one.image_xy_px[a : a + AFTER]
    return np.nanmax(np.linalg.norm(d, axis=-1), axis=1)


def motion_mm(info, tracks) -> np.ndarray:
    """(T, J, 3) joint positions in mm of the clip converted from these landmarks."""
    tracks, _ = to_constant_rate(tracks, None)
    _, solved, _ = solve_take(tracks, ConvertOptions(), name=info.path.stem, info=info)
    return joint_positions(solved.motion) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true")
    parser.parse_args()
    settle_rows, motion_rows = [], []
    for clip, n_chunks in CLIPS:
        info = probe_video(clip)
        one = detect_cached(info)  # one process, through the landmark cache
        detector = ChunkedDetector(n_chunks, min_chunk_s=2.0)
        chunked = detector(info, None, None, "full", None)
        seams = [c.first for c in detector.chunks[1:]]
        settle = settling(info, one, seams)
        settle_rows.append((clip.name, len(seams), settle))
        a_mm, b_mm = motion_mm(info, one), motion_mm(info, chunked)
        near = np.zeros(len(a_mm), bool)
        half = int(round(0.25 * info.fps))
        for s in seams:
            near[max(0, s - half) : s + half + 1] = True
        diff = np.linalg.norm(a_mm - b_mm, axis=-1).mean(axis=1)  # (T,) mean over joints
        acc_a = np.linalg.norm(np.diff(a_mm, 2, axis=0), axis=-1).mean(axis=1)
        acc_b = np.linalg.norm(np.diff(b_mm, 2, axis=0), axis=-1).mean(axis=1)
        near_acc = near[1:-1]
        motion_rows.append({
            "clip": clip.name, "frames": len(a_mm), "seams": len(seams),
            "diff_near": float(np.mean(diff[near])), "diff_else": float(np.mean(diff[~near])),
            "diff_max_near": float(np.max(diff[near])),
            "acc_one_near": float(np.mean(acc_a[near_acc])), "acc_chunked_near": float(np.mean(acc_b[near_acc])),
            "acc_one_else": float(np.mean(acc_a[~near_acc])), "acc_chunked_else": float(np.mean(acc_b[~near_acc])),
        })
    cols = [0, 1, 2, 5, 10, 20, 29]
    print("Settling: median over seams of the max landmark distance to the one-process run (px), by frame after the seam")
    print("| clip | seams | warm-up W (frames) | " + " | ".join(f"+{c}" for c in cols) + " |")
    print("|---|---|---|" + "---|" * len(cols))
    for name, n, settle in settle_rows:
        for w, row in settle.items():
            print(f"| {name} | {n} | {w} | " + " | ".join(f"{row[c]:.1f}" for c in cols) + " |")
    print()
    print("Exported motion, chunked vs one process (joint positions, mm; acceleration, mm/frame^2, mean over joints)")
    print("| clip | frames | seams | position diff near seams | elsewhere | max near seams | accel. near seams: one process | chunked | accel. elsewhere: one process | chunked |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in motion_rows:
        print(f"| {r['clip']} | {r['frames']} | {r['seams']} | {r['diff_near']:.1f} | {r['diff_else']:.1f} | {r['diff_max_near']:.1f} "
              f"| {r['acc_one_near']:.2f} | {r['acc_chunked_near']:.2f} | {r['acc_one_else']:.2f} | {r['acc_chunked_else']:.2f} |")


if __name__ == "__main__":
    main()
