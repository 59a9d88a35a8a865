"""End-to-end speed of `mocap convert` against decode-only and decode+inference, one run.

For each clip, measured side by side in the same process, median of --runs runs:
  decode      PyAV decoding to RGB frames only
  detect      decoding + BlazePose inference (what any tool must pay)
  convert     the whole pipeline, cache off: decode + inference + smoothing + solving + writing
and the share of wall time spent after inference (smoothing, solving, writing), which
should stay under 5%. Prints a table; `--markdown` prints it for docs/benchmarks.md.

    .venv/bin/python benchmarks/bench_pipeline.py [--runs 3] [clip ...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mocap.detect.mediapipe_pose import detect_landmarks
from mocap.pipeline import ConvertOptions, convert
from mocap.video import probe_video, read_frames

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS = [
    ROOT / "samples" / "dance_arms.mp4",
    ROOT.parent / "shared" / "data" / "real" / "taiji_man_hybrik.mp4",
]


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_clip(path: Path, runs: int) -> dict:
    info = probe_video(path)
    n = info.frame_count
    decode, detect, total, post = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            decode.append(_time(lambda: sum(1 for _ in read_frames(info))))
            detect.append(_time(lambda: detect_landmarks(info, read_frames(info))))
            opts = ConvertOptions(formats=("bvh",), use_cache=False)
            t0 = time.perf_counter()
            result = convert(path, Path(tmp) / "out.bvh", opts)
            total.append(time.perf_counter() - t0)
            post.append(result.timings_s["solve"] + result.timings_s["write"])
    med = statistics.median
    return {
        "clip": path.name,
        "size": f"{info.width_px}x{info.height_px}",
        "frames": n,
        "decode_fps": n / med(decode),
        "detect_fps": n / med(detect),
        "convert_fps": n / med(total),
        "post_ms": 1000 * med(post),
        "post_share": med(p / t for p, t in zip(post, total)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    clips = args.clips or [c for c in DEFAULT_CLIPS if c.exists()]
    rows = [bench_clip(c, args.runs) for c in clips]
    head = "| clip | size | frames | decode fps | decode+detect fps | convert fps | after inference | share of wall |"
    print(head)
    print("|" + "---|" * 8)
    for r in rows:
        print(
            f"| {r['clip']} | {r['size']} | {r['frames']} | {r['decode_fps']:.1f} | {r['detect_fps']:.1f} "
            f"| {r['convert_fps']:.1f} | {r['post_ms']:.0f} ms | {100 * r['post_share']:.1f}% |"
        )


if __name__ == "__main__":
    main()
