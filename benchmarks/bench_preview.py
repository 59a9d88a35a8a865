"""Cost of the preview video and the HTML report, beside the cost of detection, one process.

For each clip, median of --runs runs of `convert` (landmark cache on, so detection is a
cache read) with --preview and --report:
  preview fps   frames written per second by render_preview (decode, draw, encode)
  report s      write_report (the first run also pays matplotlib's import: "first"), and
                without a preview (it then decodes and draws its own four thumbnails)
and, once per clip in the same process, decoding + BlazePose inference with the cache off
(what every conversion pays), to give the preview's cost as a share of a whole conversion.

    MOCAP_CACHE_DIR=/tmp/mocap-cache .venv/bin/python benchmarks/bench_preview.py [--runs 3] [--markdown] [clip ...]
"""

from __future__ import annotations

import argparse
import os
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
    ROOT / "samples" / "squats.mp4",
    ROOT.parent / "shared" / "data" / "real" / "taiji_man_hybrik.mp4",
]


def bench_clip(path: Path, runs: int, detect: bool) -> dict:
    info = probe_video(path)
    cache = Path(os.environ.get("MOCAP_CACHE_DIR", tempfile.gettempdir() + "/mocap-bench-cache"))
    preview_fps, report_s, sizes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            opts = ConvertOptions(formats=("bvh",), cache_dir=cache, preview=True,
                                  report_path=Path(tmp) / "report.html")
            result = convert(path, Path(tmp) / "out.bvh", opts)
            preview_fps.append(result.preview.n_frames / result.timings_s["preview"])
            report_s.append(result.timings_s["report"])
            sizes.append((Path(tmp) / "report.html").stat().st_size)
            n_written = result.preview.n_frames
            out_size = result.preview.path.stat().st_size
        alone = []
        for _ in range(runs):  # the report alone draws its own four thumbnails
            opts = ConvertOptions(formats=("bvh",), cache_dir=cache, report_path=Path(tmp) / "alone.html")
            alone.append(convert(path, Path(tmp) / "alone.bvh", opts).timings_s["report"])
    row = {
        "clip": f"{path.parent.name}/{path.name}",
        "size": f"{info.width_px}x{info.height_px}",
        "frames": n_written,
        "preview_fps": statistics.median(preview_fps),
        "report_first_s": report_s[0],
        "report_s": statistics.median(report_s[1:] or report_s),
        "report_alone_s": statistics.median(alone),
        "report_kib": statistics.median(sizes) / 1024,
        "preview_kib": out_size / 1024,
    }
    if detect:
        t0 = time.perf_counter()
        detect_landmarks(info, read_frames(info))
        row["detect_fps"] = info.frame_count / (time.perf_counter() - t0)
        # a conversion at detect_fps, plus the preview: the preview's share of the wall time
        per_frame_detect, per_frame_preview = 1 / row["detect_fps"], 1 / row["preview_fps"]
        row["preview_share"] = per_frame_preview / (per_frame_detect + per_frame_preview)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-detect", action="store_true", help="skip the uncached detection run")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    rows = [bench_clip(c, args.runs, not args.no_detect) for c in (args.clips or DEFAULT_CLIPS)]
    head = ["clip", "size", "frames", "preview fps", "detect fps", "preview share", "preview KiB",
            "report s (first)", "report s", "report s, no preview", "report KiB"]
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["clip"], r["size"], str(r["frames"]), f"{r['preview_fps']:.1f}",
                 f"{r.get('detect_fps', float('nan')):.1f}", f"{100 * r.get('preview_share', float('nan')):.0f}%",
                 f"{r['preview_kib']:.0f}", f"{r['report_first_s']:.2f}", f"{r['report_s']:.2f}", f"{r['report_alone_s']:.2f}",
                 f"{r['report_kib']:.0f}"]
        print(("| " + " | ".join(cells) + " |") if args.markdown else "  ".join(cells))


if __name__ == "__main__":
    main()
