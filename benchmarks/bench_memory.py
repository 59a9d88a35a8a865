"""Peak resident memory of `mocap convert` (the whole process tree, workers included) on
1, 5 and 10 minutes of 720p30 (benchmarks/clips.py), cache off, `--jobs 1` and `--jobs 2`.
Frames are streamed, so memory should stay flat with length; the goal is under 1.5 GB.

    .venv/bin/python benchmarks/bench_memory.py [--minutes 1,5,10] [--jobs 1,2]
"""

from __future__ import annotations

import argparse
import tempfile

from clips import make_720p30
from proc import MOCAP, load, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="1,5,10")
    parser.add_argument("--jobs", default="1,2")
    args = parser.parse_args()
    minutes = [float(m) for m in args.minutes.split(",")]
    jobs = [int(j) for j in args.jobs.split(",")]
    print(f"before: {load()}")
    print("| 720p30 length | --jobs | peak RSS (MB) | wall s | CPU s |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for m in minutes:
            clip = make_720p30(60.0 * m)
            for j in jobs:
                r = run([MOCAP, "convert", str(clip), "-o", f"{tmp}/", "--no-cache", "-q", "--jobs", str(j)])
                print(f"| {m:g} min | {j} | {r.peak_rss_mb:.0f} | {r.wall_s:.0f} | {r.cpu_s:.0f} |", flush=True)
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
