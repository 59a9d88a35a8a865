"""Real-time factor of `mocap convert` on a 720p30 clip of at least two minutes, made from
the real clips (benchmarks/clips.py), with one process and with `--jobs 2` (time chunks).

Measured side by side in one run (medians of --runs): decoding only (PyAV to RGB, FFmpeg's
threads, then one thread as a chunk worker decodes), decoding + BlazePose inference in one
process (what any tool pays), and the whole `mocap convert` with the cache off, as a user
runs it, `--jobs 1` and `--jobs 2`. Real-time factor = clip duration / wall time. Also the
ratio end-to-end frames/s / decode-plus-inference frames/s (one process, same run).

    .venv/bin/python benchmarks/bench_realtime.py [--seconds 120] [--runs 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from clips import make_720p30
from proc import MOCAP, load, run

from mocap.detect.mediapipe_pose import detect_landmarks
from mocap.video import probe_video, read_frames, set_decode_threads


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    clip = make_720p30(args.seconds)
    info = probe_video(clip)
    n, duration = info.frame_count, info.duration_s
    rows: dict[str, list[float]] = {k: [] for k in ("decode", "decode 1 thread", "decode+inference", "convert -j1", "convert -j2")}
    cpu: dict[str, list[float]] = {"convert -j1": [], "convert -j2": []}
    before = load()
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            set_decode_threads(0)
            rows["decode"].append(_timed(lambda: sum(1 for _ in read_frames(info))))
            set_decode_threads(1)
            rows["decode 1 thread"].append(_timed(lambda: sum(1 for _ in read_frames(info))))
            set_decode_threads(0)
            rows["decode+inference"].append(_timed(lambda: detect_landmarks(info, read_frames(info))))
            for jobs in (1, 2):
                r = run([MOCAP, "convert", str(clip), "-o", f"{tmp}/", "--no-cache", "-q", "--jobs", str(jobs)])
                rows[f"convert -j{jobs}"].append(r.wall_s)
                cpu[f"convert -j{jobs}"].append(r.cpu_s)
    after = load()
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"clip: {clip.name}, {info.width_px}x{info.height_px}, {info.fps:.0f} fps, {n} frames, {duration:.1f} s; "
          f"runs: {args.runs}; before: {before}; after: {after}")
    print("| measured | wall s | frames/s | ms/frame | real-time factor | CPU ms/frame |")
    print("|---|---|---|---|---|---|")
    for k, wall in med.items():
        cpu_ms = f"{1000 * statistics.median(cpu[k]) / n:.1f}" if k in cpu else ""
        print(f"| {k} | {wall:.1f} | {n / wall:.1f} | {1000 * wall / n:.2f} | {duration / wall:.2f} | {cpu_ms} |")
    print(f"\nend-to-end / decode+inference (one process): {med['decode+inference'] / med['convert -j1']:.2f}")
    print(f"--jobs 2 / --jobs 1 speed-up: {med['convert -j1'] / med['convert -j2']:.2f}x")


if __name__ == "__main__":
    main()
