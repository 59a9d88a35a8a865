"""Soak: the same clip converted N times (200 by default), in one process through the Python
API and as one `mocap batch` of N jobs. Memory, open file handles and temporary files must
stay flat: a leak of any of them grows linearly with the count and shows here.

One process: `mocap.pipeline.convert` N times on samples/squats.mp4 (the landmark cache is
warmed first, so each round is probe + cache hit + solve + write, the part a long-running
host such as the Blender add-on repeats). After rounds 1, N/4, N/2, 3N/4 and N it records
the process's RSS (/proc/self/status), its open file descriptors (/proc/self/fd) and the
files left in the temp folder and beside the outputs (`.*` staged names, `mocap-*`).

Batch: N copies of the clip in one folder, `mocap batch -j 2`; the batch's process tree is
sampled every 0.1 s for RSS, and its parent's open descriptors; temp files are counted
before and after.

    TMPDIR=$(mktemp -d) .venv/bin/python benchmarks/soak.py [--rounds 200] [--batch-jobs 200]

(a private TMPDIR, so that the temp files counted are this run's own on a shared machine)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from proc import MOCAP, ROOT, load, tree_rss_kb

CLIP = ROOT / "samples" / "squats.mp4"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds(pid: int | str = "self") -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def temp_files(*folders: Path) -> int:
    """Files a conversion could leave behind: anything in the temp folder named by mocap
    (mocap-*, *.staged.*, *.part) and hidden staged files beside the outputs."""
    n = 0
    tmp = Path(tempfile.gettempdir())
    for p in tmp.iterdir():
        if p.name.startswith("mocap-") or ".staged." in p.name or p.name.endswith(".part"):
            n += 1
    for folder in folders:
        n += sum(1 for p in folder.rglob(".*"))
    return n


def soak_api(rounds: int, cache: Path) -> list[tuple[int, float, int, int]]:
    from mocap.pipeline import ConvertOptions, convert

    options = ConvertOptions(cache_dir=cache)
    rows = []
    marks = {1, rounds // 4, rounds // 2, 3 * rounds // 4, rounds}
    with tempfile.TemporaryDirectory(prefix="soak-out-") as out:
        out = Path(out)
        for k in range(1, rounds + 1):
            convert(CLIP, str(out) + "/", options)
            if k in marks:
                rows.append((k, rss_mb(), open_fds(), temp_files(out)))
    return rows


def soak_batch(jobs: int, cache: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="soak-batch-") as tmp:
        src, out = Path(tmp) / "src", Path(tmp) / "out"
        src.mkdir()
        for k in range(jobs):
            shutil.copy(CLIP, src / f"take{k:03d}.mp4")
        before = temp_files()
        env = dict(os.environ, MOCAP_CACHE_DIR=str(cache))
        t0 = time.perf_counter()
        proc = subprocess.Popen([MOCAP, "batch", str(src), "-o", str(out), "-j", "2", "-q"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        samples: list[tuple[float, float, int]] = []
        while proc.poll() is None:
            samples.append((time.perf_counter() - t0, tree_rss_kb(proc.pid) / 1024, open_fds(proc.pid)))
            time.sleep(0.1)
        err = proc.stderr.read()
        if proc.returncode != 0:
            raise SystemExit(f"batch failed ({proc.returncode}): {err}")
        n_out = sum(1 for _ in out.glob("*.bvh"))
        after = temp_files(out)
    quarter = max(1, len(samples) // 4)
    first, last = samples[:quarter], samples[-quarter:]
    return {
        "jobs": jobs,
        "outputs": n_out,
        "wall_s": time.perf_counter() - t0,
        "rss_first_quarter_mb": max(s[1] for s in first),
        "rss_last_quarter_mb": max(s[1] for s in last),
        "fds_first_quarter": max(s[2] for s in first),
        "fds_last_quarter": max(s[2] for s in last),
        "temp_before": before,
        "temp_after": after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--batch-jobs", type=int, default=200)
    args = parser.parse_args()
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory(prefix="soak-cache-") as cache:
        cache = Path(cache)
        t0 = time.perf_counter()
        rows = soak_api(args.rounds, cache)
        wall = time.perf_counter() - t0
        print(f"\none process, {args.rounds} conversions of {CLIP.name} (Python API), {wall:.0f} s")
        print("| after conversion | RSS (MB) | open fds | temp files left |")
        print("|---|---|---|---|")
        for k, mb, fds, tmp in rows:
            print(f"| {k} | {mb:.0f} | {fds} | {tmp} |")
        result = soak_batch(args.batch_jobs, cache)
        print(f"\nmocap batch of {result['jobs']} jobs (-j 2): {result['outputs']} BVH, {result['wall_s']:.0f} s")
        print("| | first quarter | last quarter |")
        print("|---|---|---|")
        print(f"| peak RSS of the process tree (MB) | {result['rss_first_quarter_mb']:.0f} | {result['rss_last_quarter_mb']:.0f} |")
        print(f"| open fds of the batch process | {result['fds_first_quarter']} | {result['fds_last_quarter']} |")
        print(f"temp files before/after: {result['temp_before']} / {result['temp_after']}")
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
