"""What live costs in quality: the causal solve (One Euro filter) against the offline one.

On every rendered clip with ground truth (../shared/data/synthetic), from the same cached
BlazePose landmarks, it runs

  offline   the pipeline's motion_from_tracks (zero-phase Whittaker smoother, whole-clip fits)
  live      mocap.live.causal.CausalSolver frame by frame, for each One Euro setting given

and scores both with benchmarks/accuracy.py's metrics (the same code as docs/accuracy.md):
PA-MPJPE (mm), acceleration error (mm/frame², root-relative: the jitter measure) and
lag: the delay (ms) that best aligns the estimate's root-relative joints with the truth
(a shift of 0-10 frames, refined to a fraction by a parabola through the best three). The
offline solve, which cannot lag, also scores about one frame: the renders' truth and
BlazePose are offset by that much, so "lag vs offline" is what live adds.
"raw" is the live solver with the filter opened up (min_cutoff 1000 Hz): causal with no
smoothing at all. Poses are forward kinematics of what is streamed (each frame with the
skeleton it was sent with), so this is the stream's own quality.

    .venv/bin/python benchmarks/live_filter.py [--clips GLOB] [--grid 1.5:2,1:1,...] [--out docs/live.md]
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import HIPS, JOINTS, NAMES, POSE, SYNTHETIC, load_gt, score  # noqa: E402

from mocap import evaluate as ev  # noqa: E402
from mocap.data import Motion  # noqa: E402
from mocap.kinematics import joint_positions  # noqa: E402
from mocap.live.causal import CausalSolver, LiveConfig  # noqa: E402
from mocap.live.one_euro import OneEuroConfig  # noqa: E402
from mocap.pipeline import ConvertOptions, camera_for, motion_from_tracks, probe_and_detect  # noqa: E402

DEFAULT_GRID = "1000:0,0.5:2,1:2,1.5:0,1.5:2,1.5:5,3:2"  # min_cutoff_hz:beta; 1000 Hz = no filter
MAX_LAG_FRAMES = 10


def motion_joints(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """(T, 14, 3) evaluation joints and (T, 3) root of a Motion."""
    pos = joint_positions(motion)
    idx = [motion.skeleton.index(JOINTS[n][1]) for n in NAMES]
    return pos[:, idx], motion.root_position_m


def live_joints(tracks, camera, cfg: LiveConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stream the tracks through CausalSolver: (T, 14, 3) joints, (T, 3) root (NaN where no
    pose was sent) and (T,) solve time per frame in ms."""
    solver = CausalSolver(camera, tracks.fps, cfg)
    joints = np.full((tracks.n_frames, len(NAMES), 3), np.nan)
    root = np.full((tracks.n_frames, 3), np.nan)
    ms = np.zeros(tracks.n_frames)
    for t in range(tracks.n_frames):
        t0 = time.perf_counter()
        pose = solver.step(int(tracks.frame_indices[t]), float(tracks.times_s[t]), tracks.world_m[t],
                           tracks.image_xy_px[t], tracks.visibility[t], bool(tracks.detected[t]))
        ms[t] = (time.perf_counter() - t0) * 1000
        if pose is None:
            continue
        one = Motion(pose.skeleton, tracks.fps, pose.root_position_m[None], pose.rotations_xyzw[None])
        j, r = motion_joints(one)
        joints[t], root[t] = j[0], r[0]
    return joints, root, ms


def lag_ms(est: np.ndarray, truth: np.ndarray, fps: float) -> float:
    """Delay of est behind truth: the shift s (frames) minimising the mean root-relative
    error |est[t] - truth[t - s]| after one rotation per clip, refined by a parabola."""
    hips = [POSE.index(h) for h in HIPS]
    ok = ~np.isnan(est).any(axis=(1, 2))
    rot = ev.clip_rotation(est[ok][:, POSE], truth[ok][:, POSE], hips)
    e = ev.root_relative(est[:, POSE], hips) @ rot.T
    g = ev.root_relative(truth[:, POSE], hips)
    errors = []
    for s in range(MAX_LAG_FRAMES + 1):
        a, b = e[s:], g[: len(g) - s]
        d = np.linalg.norm(a - b, axis=-1).mean(axis=-1)
        errors.append(np.nanmean(d))
    errors = np.array(errors)
    k = int(np.argmin(errors))
    frac = 0.0
    if 0 < k < MAX_LAG_FRAMES:
        y0, y1, y2 = errors[k - 1 : k + 2]
        denom = y0 - 2 * y1 + y2
        frac = 0.5 * (y0 - y2) / denom if denom > 0 else 0.0
    return (k + frac) / fps * 1000.0


def parse_grid(text: str) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in (item.split(":") for item in text.split(","))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", default="*")
    parser.add_argument("--grid", default=DEFAULT_GRID, help="min_cutoff_hz:beta pairs for the landmark filter")
    parser.add_argument("--out", type=Path, help="markdown file whose generated block is replaced")
    args = parser.parse_args(argv)
    options = ConvertOptions()
    grid = parse_grid(args.grid)
    videos = [v for v in sorted(SYNTHETIC.glob("*.mp4")) if fnmatch.fnmatch(v.stem, args.clips)]
    if not videos:
        print(f"no ground-truth clips at {SYNTHETIC} matching {args.clips}", file=sys.stderr)
        return 2
    pooled: dict[str, dict[str, list]] = {}
    ms_all: list[np.ndarray] = []

    def add(label: str, scores, lag: float, n: int) -> None:
        d = pooled.setdefault(label, {"pa_mpjpe": [], "accel": [], "lag": [], "n": []})
        d["pa_mpjpe"].append(scores.values["pa_mpjpe"])
        d["accel"].append(scores.values["accel"])
        d["lag"].append(lag)
        d["n"].append(n)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for v in videos:
            gt = load_gt(v.parent / f"{v.stem}.gt.npz")
            info, tracks = probe_and_detect(v, options)
            truth = gt["joints"]
            contacts = np.zeros((tracks.n_frames, 4), bool)
            camera = camera_for(tracks, options, info)
            motion, _ = motion_from_tracks(tracks, options, name=v.stem, info=info, camera=camera)
            est, root = motion_joints(motion)
            add("offline", score(est, gt, root, contacts, False), lag_ms(est, truth, tracks.fps), tracks.n_frames)
            for min_cutoff, beta in grid:
                cfg = LiveConfig(landmarks=OneEuroConfig(min_cutoff_hz=min_cutoff, beta=beta))
                est, root, ms = live_joints(tracks, camera, cfg)
                label = "live, no filter" if min_cutoff >= 1000 else f"live {min_cutoff:g} Hz, beta {beta:g}"
                add(label, score(est, gt, root, contacts, False), lag_ms(est, truth, tracks.fps), tracks.n_frames)
                ms_all.append(ms[int(tracks.fps * 1.5):])  # after settling
            print(f"{v.stem}: done", file=sys.stderr)
    rows = []
    offline_accel = np.nanmean(np.concatenate(pooled["offline"]["accel"]))
    offline_lag = np.average(pooled["offline"]["lag"], weights=pooled["offline"]["n"])
    for label, d in pooled.items():
        pa = np.nanmean(np.concatenate(d["pa_mpjpe"]))
        acc = np.nanmean(np.concatenate(d["accel"]))
        lag = np.average(d["lag"], weights=d["n"])
        rows.append([label, f"{pa:.1f}", f"{acc:.1f}", f"{acc / offline_accel:.2f}", f"{lag:.0f}", f"{lag - offline_lag:+.0f}"])
    header = ["solve", "PA-MPJPE mm", "accel mm/f²", "accel / offline", "lag ms", "lag vs offline ms"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    ms = np.concatenate(ms_all)
    lines.append("")
    lines.append(f"Causal solve per frame (after settling, {len(videos)} clips x {len(grid)} settings): "
                 f"median {np.median(ms):.1f} ms, 95th percentile {np.percentile(ms, 95):.1f} ms.")
    table = "\n".join(lines)
    print(table)
    if args.out:
        text = args.out.read_text()
        begin, end = "<!-- live_filter:begin -->", "<!-- live_filter:end -->"
        if begin not in text:
            raise SystemExit(f"{args.out}: no {begin} ... {end} block to replace")
        command = "benchmarks/live_filter.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        args.out.write_text(f"{head}{begin}\n`{command}` ({len(videos)} clips):\n\n{table}\n{end}{tail}")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
