"""Time FBX and GLB export (Blender) against BVH write for a one-minute clip.

    .venv/bin/python benchmarks/bench_export.py [--frames 1800] [--fps 30] [--runs 3] [--blender PATH]

The clip is real motion: the Bandai Namco dance (63 s) (../shared/data), retargeted to mocap's
canonical rig by tests/motion_fixtures.py, cut to --frames frames. Prints the median of
--runs runs per writer, and the file sizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from motion_fixtures import BANDAI, load_canonical_motion  # noqa: E402

from mocap.export.blender import describe_backend  # noqa: E402
from mocap.export.bvh import write_bvh  # noqa: E402
from mocap.export.fbx_glb import write_fbx, write_glb  # noqa: E402

CLIP = BANDAI / "dataset-1_dance-short_normal_001.bvh"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1800)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--blender", default=None, help="Blender executable (default: bpy in-process)")
    args = parser.parse_args()

    clip = CLIP
    motion = load_canonical_motion(clip, n_frames=args.frames, fps=args.fps)
    if motion.n_frames < args.frames:
        print(f"note: {clip.name} has only {motion.n_frames} frames", file=sys.stderr)
    writers = {
        "bvh": lambda p: write_bvh(motion, p),
        "fbx": lambda p: write_fbx(motion, p, blender_exe=args.blender),
        "glb": lambda p: write_glb(motion, p, blender_exe=args.blender),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, write in writers.items():
            times = []
            for run in range(args.runs):
                path = Path(tmp) / f"bench{run}.{fmt}"
                start = time.perf_counter()
                write(path)
                times.append(time.perf_counter() - start)
            rows.append((fmt, statistics.median(times), min(times), path.stat().st_size))
    backend = describe_backend(args.blender)
    print(f"clip: {clip.name}, {motion.n_frames} frames @ {motion.fps:g} fps, "
          f"{motion.skeleton.n_joints} joints; Blender: {backend}; median of {args.runs}")
    print(f"{'format':<8}{'median s':>10}{'min s':>10}{'size KiB':>10}{'x BVH':>8}")
    bvh_time = rows[0][1]
    for fmt, median, best, size in rows:
        print(f"{fmt:<8}{median:>10.3f}{best:>10.3f}{size / 1024:>10.0f}{median / bvh_time:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
