"""`--jobs 2` over `--jobs 1`: a batch of ten short clips, and one long video in time chunks.

Side by side in one run, medians of --runs, cache off, as a user runs them:
  batch   `mocap batch` over ten of ../shared/data/synthetic's clips (640x480, 100-150 frames)
  chunked `mocap convert` of the first --long-s seconds of the 720p30 clip (benchmarks/clips.py)
The order of the two settings alternates between runs.

    .venv/bin/python benchmarks/bench_scaling.py [--runs 1] [--long-s 60]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from clips import make_720p30
from proc import MOCAP, ROOT, load, run

SYNTH = ROOT.parent / "shared" / "data" / "synthetic"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--long-s", type=float, default=60.0)
    args = parser.parse_args()
    shorts = sorted(SYNTH.glob("dev_*.mp4"))[:10]
    if len(shorts) < 10:
        raise SystemExit(f"needs ten clips in {SYNTH}")
    clip = make_720p30(120.0)
    walls: dict[tuple[str, int], list[float]] = {(k, j): [] for k in ("batch", "chunked") for j in (1, 2)}
    cpus: dict[tuple[str, int], list[float]] = {(k, j): [] for k in ("batch", "chunked") for j in (1, 2)}
    before = load()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "takes"
        folder.mkdir()
        for s in shorts:
            (folder / s.name).symlink_to(s)
        for i in range(args.runs):
            for jobs in ((1, 2) if i % 2 == 0 else (2, 1)):
                out = Path(tmp) / f"out{i}-{jobs}"
                r = run([MOCAP, "batch", str(folder), "-o", str(out), "--no-cache", "-q", "--jobs", str(jobs)])
                walls[("batch", jobs)].append(r.wall_s)
                cpus[("batch", jobs)].append(r.cpu_s)
                r = run([MOCAP, "convert", str(clip), "-o", f"{out}/", "--end", str(args.long_s), "--no-cache", "-q",
                         "--jobs", str(jobs)])
                walls[("chunked", jobs)].append(r.wall_s)
                cpus[("chunked", jobs)].append(r.cpu_s)
    after = load()
    med = {k: statistics.median(v) for k, v in walls.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    print(f"runs: {args.runs}; before: {before}; after: {after}")
    print("| workload | --jobs 1 wall s | --jobs 2 wall s | speed-up | --jobs 1 CPU s | --jobs 2 CPU s |")
    print("|---|---|---|---|---|---|")
    for key, name in (("batch", "batch of 10 short clips"), ("chunked", f"one {args.long_s:.0f} s 720p30 video, chunked")):
        print(f"| {name} | {med[(key, 1)]:.1f} | {med[(key, 2)]:.1f} | {med[(key, 1)] / med[(key, 2)]:.2f}x "
              f"| {cpu[(key, 1)]:.1f} | {cpu[(key, 2)]:.1f} |")


if __name__ == "__main__":
    main()
