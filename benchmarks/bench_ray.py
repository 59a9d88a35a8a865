"""Ray on a loopback cluster: throughput with one node vs two, and scheduling overhead.

Each node is a `ray start` process with one CPU, pinned to its own core (taskset), in a
private network namespace holding only the loopback interface (tests/ray_cluster.py; needs
root). Throughput: `mocap batch --executor ray` over ten of ../shared/data/synthetic's clips
(--repeat K: each clip K times under other names, a batch K times as long), cache off, on a
one-node cluster and then on a two-node cluster (frames/s, ratio). Fixed cost of a batch
(starting `mocap`, planning, joining the cluster, the workers' first model load): one
65-frame clip on the two-node cluster. Overhead:
on the two-node cluster, 200 no-op tasks through mocap's RayExecutor all at once (wall per
task) and 50 one after the other (round trip per task), beside the same through the local
WorkerPool.

    .venv/bin/python benchmarks/bench_ray.py [--repeat 1]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from proc import MOCAP, ROOT, load

sys.path.insert(0, str(ROOT / "tests"))
from ray_cluster import LoopbackCluster  # noqa: E402

SYNTH = ROOT.parent / "shared" / "data" / "synthetic"

PROBE = '''
import sys, time
from mocap.batch.ray_executor import RayExecutor
from mocap.batch.pool import WorkerPool


def noop(progress=None):
    return 0


def overhead(ex, n_all=200, n_seq=50):
    for i in range(4):
        ex.submit(f"w{i}", noop, ())
    list(ex.events())
    t = time.perf_counter()
    for i in range(n_all):
        ex.submit(str(i), noop, ())
    list(ex.events())
    wall_all = (time.perf_counter() - t) / n_all
    t = time.perf_counter()
    for i in range(n_seq):
        ex.submit(f"s{i}", noop, ())
        list(ex.events())
    return 1000 * wall_all, 1000 * (time.perf_counter() - t) / n_seq


if __name__ == "__main__":
    ray_all, ray_seq = overhead(RayExecutor(sys.argv[1]))
    with WorkerPool(2) as pool:
        pool_all, pool_seq = overhead(pool)
    print(f"{ray_all:.3f} {ray_seq:.3f} {pool_all:.3f} {pool_seq:.3f}")
'''


def batch_wall(cluster: LoopbackCluster, takes: Path, out: Path) -> float:
    t0 = time.perf_counter()
    proc = cluster.run([MOCAP, "batch", str(takes), "-o", str(out), "--executor", "ray", "--ray-address",
                        cluster.address, "--no-cache", "-q"], out.with_suffix(".log"))
    code = proc.wait()
    cluster.started.remove(proc)
    if code != 0:
        raise SystemExit(out.with_suffix(".log").read_text()[-3000:])
    return time.perf_counter() - t0


def work_per_frame_ms(out: Path) -> dict[str, float]:
    """From the batch's manifest: each worker process's conversion time per frame (ms),
    timings_s.total over frames, so a node's speed can be told from the batch's wall."""
    import json

    per: dict[str, list[float]] = {}
    for line in (out / "mocap-batch.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r.get("status") == "done":
            s = per.setdefault(r["worker"], [0.0, 0.0])
            s[0] += r["timings_s"]["total"]
            s[1] += r["frames"]
    return {worker: 1000 * t / n for worker, (t, n) in per.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="each clip this many times (a longer batch)")
    args = parser.parse_args()
    shorts = sorted(SYNTH.glob("dev_*.mp4"))[:10]
    from mocap.video import probe_video

    n_frames = args.repeat * sum(probe_video(s).frame_count for s in shorts)
    print(f"before: {load()}")
    walls, per_frame = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        takes = Path(tmp) / "takes"
        takes.mkdir()
        for k in range(args.repeat):
            for s in shorts:
                target = takes / f"{s.stem}_{k}{s.suffix}"  # a copy: links to one file are one input
                if k == 0:
                    target.symlink_to(s)
                else:
                    shutil.copy(s, target)
        one = Path(tmp) / "one"
        one.mkdir()
        (one / "squats.mp4").symlink_to(ROOT / "samples" / "squats.mp4")
        for nodes in (1, 2):
            cluster = LoopbackCluster()
            try:
                cluster.start(nodes=nodes, pin=True)
                walls[nodes] = batch_wall(cluster, takes, Path(tmp) / f"out{nodes}")
                per_frame[nodes] = work_per_frame_ms(Path(tmp) / f"out{nodes}")
                if nodes == 2:
                    fixed = batch_wall(cluster, one, Path(tmp) / "out_one")
                    probe = Path(tmp) / "probe.py"
                    probe.write_text(PROBE)
                    log = Path(tmp) / "probe.log"
                    proc = cluster.run([sys.executable, str(probe), cluster.address], log)
                    proc.wait()
                    cluster.started.remove(proc)
                    overhead = [float(x) for x in log.read_text().strip().splitlines()[-1].split()]
            finally:
                cluster.stop()
    print(f"after: {load()}")
    print(f"| nodes (1 CPU each, pinned) | wall s | frames/s |\n|---|---|---|")
    for nodes, wall in walls.items():
        print(f"| {nodes} | {wall:.1f} | {n_frames / wall:.1f} |")
    print(f"\ntwo nodes / one node throughput: {walls[1] / walls[2]:.2f}x ({args.repeat * len(shorts)} clips, {n_frames} frames)")
    for nodes, workers in per_frame.items():
        rates = ", ".join(f"{ms:.1f}" for ms in sorted(workers.values()))
        print(f"{nodes} node(s): conversion time per frame of each worker process (ms): {rates}")
    print(f"a batch of one 65-frame clip on two nodes (the fixed cost, plus about 2 s of work): {fixed:.1f} s")
    print("| scheduling overhead per no-op task | Ray (2 nodes) ms | local WorkerPool (2) ms |\n|---|---|---|")
    print(f"| 200 at once, wall per task | {overhead[0]:.2f} | {overhead[2]:.2f} |")
    print(f"| 50 one after another, round trip | {overhead[1]:.2f} | {overhead[3]:.2f} |")


if __name__ == "__main__":
    main()
