"""Learned depth against BlazePose's depth, side by side with raw BlazePose, in one run (issue 14).

For every clip of each set, the full pipeline runs once per depth prior (`--depth blazepose`,
`--depth learned`, fused with BlazePose's 3D at the default share, and `learned:W`, W the
learned share: 1.0 = in place of BlazePose's) and the exported BVH
is measured exactly as benchmarks/accuracy.py measures it (its evaluate_clip, same metrics,
same raw BlazePose reference). Sets: the 13 dev clips (../shared/data/synthetic) and any folder
of clips rendered with ../shared/tools/synth (benchmarks/render_heldout.sh). On the real clips:
re-projection PCK at 5% of height, as in accuracy.py. Also the solve time per frame of each
prior (landmark cache on, so detection is not timed; docs/benchmarks.md has the convert total).

    MOCAP_CACHE_DIR=/tmp/mocap-cache .venv/bin/python benchmarks/depth_compare.py \\
        --set dev=../shared/data/synthetic --set heldout=/tmp/depth-heldout \\
        --depth blazepose,learned:1.0,learned [--real '*'] [--out docs/accuracy.md]
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy as acc  # noqa: E402  (benchmarks/accuracy.py, beside this script)

from mocap.pipeline import ConvertOptions  # noqa: E402

KEYS = ("pa_mpjpe", "limb", "accel", "skate", "root")
TITLES = {"pa_mpjpe": "PA-MPJPE mm", "limb": "limb °", "accel": "accel mm/f²", "skate": "skate mm/f", "root": "root mm"}
BAR = {"pa_mpjpe": 0.8, "limb": 0.6}  # issue 14; accel and skate: no worse than blazepose


def options_for(depth: str) -> ConvertOptions:
    """`blazepose`, `learned` (the product's default blend), or `learned:W` (W = share of the
    learned pose; 1.0 = the learned pose in place of BlazePose's)."""
    if ":" in depth:
        mode, w = depth.split(":")
        return ConvertOptions(depth=mode, depth_blend=float(w))
    return ConvertOptions(depth=depth)


def run_set(videos: list[Path], depths: list[str], bvh_dir: Path) -> dict:
    """Per depth: list of ClipResult; plus solve seconds per frame."""
    out = {d: [] for d in depths}
    timing = {d: [] for d in depths}
    for v in videos:
        for d in depths:
            opts = options_for(d)
            t0 = time.perf_counter()
            r = acc.evaluate_clip(v, opts, False, bvh_dir)
            out[d].append(r)
            timing[d].append((time.perf_counter() - t0, r.n_frames))
            print(f"{v.stem} [{d}]: PA {r.ours.mean('pa_mpjpe'):.1f} / raw {r.raw.mean('pa_mpjpe'):.1f} mm, "
                  f"limb {r.ours.mean('limb'):.1f} / {r.raw.mean('limb'):.1f}°", file=sys.stderr, flush=True)
    return {"results": out, "timing": timing}


def lift_cost_ms_per_frame(videos: list[Path], repeats: int = 5) -> list[float]:
    """Median wall time of lift_tracks per frame, per clip (cached landmarks, smoothed as in
    the pipeline, the pipeline's default camera; the weights are loaded before timing)."""
    from mocap.lift import lift_tracks, load_lifter
    from mocap.pipeline import camera_for, probe_and_detect
    from mocap.smooth import smooth_tracks

    options = ConvertOptions()
    load_lifter()
    out = []
    for v in videos:
        info, tracks = probe_and_detect(v, options)
        smoothed = smooth_tracks(tracks, options.smoothing)
        camera = camera_for(tracks, options, info)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            lift_tracks(smoothed, camera)
            times.append(time.perf_counter() - t0)
        out.append(1000 * float(np.median(times)) / tracks.n_frames)
    return out


def fmt(v: float, digits: int = 1) -> str:
    return "–" if not np.isfinite(v) else f"{v:.{digits}f}"


def overall_rows(results: dict[str, list], depths: list[str]) -> list[list[str]]:
    first = results[depths[0]]
    rows = [["raw BlazePose"] + [fmt(acc.pooled(first, "raw", k)) for k in KEYS] + ["" for _ in BAR]]
    for d in depths:
        rs = results[d]
        vals = [acc.pooled(rs, "ours", k) for k in KEYS]
        ratios = [acc.pooled(rs, "ours", k) / acc.pooled(rs, "raw", k) for k in BAR]
        rows.append([f"exported, --depth {d}"] + [f"{fmt(v)} ({fmt(v / acc.pooled(rs, 'raw', k), 2)}×)"
                                                  for v, k in zip(vals, KEYS)]
                    + [f"{fmt(r, 2)} {'PASS' if r <= BAR[k] else 'FAIL'}" for r, k in zip(ratios, BAR)])
    return rows


def clip_rows(results: dict[str, list], depths: list[str]) -> list[list[str]]:
    rows = []
    for i, r0 in enumerate(results[depths[0]]):
        row = [r0.name, str(r0.n_frames), fmt(r0.raw.mean("pa_mpjpe")), fmt(r0.raw.mean("limb"))]
        for d in depths:
            r = results[d][i]
            row += [fmt(r.ours.mean("pa_mpjpe")), fmt(r.ours.mean("limb"))]
        rows.append(row)
    return rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    return acc.markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", action="append", required=True, help="NAME=FOLDER of rendered clips (.mp4 + .gt.npz)")
    ap.add_argument("--clips", default="*", help="glob over clip names")
    ap.add_argument("--depth", default="blazepose,learned", help="comma-separated depth priors to compare")
    ap.add_argument("--real", default="none", help="glob over real clip names ('none' to skip)")
    ap.add_argument("--out", type=Path, help="markdown file whose depth block is replaced")
    args = ap.parse_args(argv)
    depths = [d.strip() for d in args.depth.split(",")]

    blocks = [f"Generated by `benchmarks/depth_compare.py {' '.join(argv if argv is not None else sys.argv[1:])}`", ""]
    timing_all = {d: [] for d in depths}
    all_videos: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="mocap-depth-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for spec in args.set:
            name, folder = spec.split("=", 1)
            videos = [v for v in sorted(Path(folder).glob("*.mp4")) if fnmatch.fnmatch(v.stem, args.clips)
                      and (v.parent / f"{v.stem}.gt.npz").is_file()]
            all_videos += videos
            res = run_set(videos, depths, Path(tmp))
            for d in depths:
                timing_all[d] += res["timing"][d]
            header = ["estimate"] + [TITLES[k] for k in KEYS] + [f"{k} ratio (bar ≤ {b})" for k, b in BAR.items()]
            blocks += [f"#### {name}: {len(videos)} clips, {sum(r.n_frames for r in res['results'][depths[0]])} frames "
                       "(pooled over frames; ratio to raw BlazePose in brackets)", "",
                       markdown_table(header, overall_rows(res["results"], depths)), "",
                       f"Per clip (PA-MPJPE mm, limb °): raw, then " + ", ".join(f"`{d}`" for d in depths), "",
                       markdown_table(["clip", "frames", "raw PA", "raw limb"]
                                      + [f"{d} {m}" for d in depths for m in ("PA", "limb")],
                                      clip_rows(res["results"], depths)), ""]
            print("\n".join(blocks[-8:]), file=sys.stderr, flush=True)
        if args.real != "none":
            reals = [v for v in sorted(acc.REAL.glob("*")) if v.suffix in (".mp4", ".avi")
                     and fnmatch.fnmatch(v.stem, args.real)]
            rows = []
            for v in reals:
                row = [v.stem]
                for d in depths:
                    r = acc.evaluate_real(v, options_for(d), Path(tmp))
                    if len(row) == 1:
                        row += [fmt(100 * r.pck.get("raw", np.nan)) + "%"]
                    row += [fmt(100 * r.pck.get("ours", np.nan)) + "%" + (f" ({r.note})" if r.note else "")]
                rows.append(row)
                print(" | ".join(row), file=sys.stderr, flush=True)
            blocks += ["#### Real clips: re-projection PCK at 5% of height", "",
                       markdown_table(["clip", "raw"] + [d for d in depths], rows), ""]
    if any(d.startswith("learned") for d in depths):
        ms = lift_cost_ms_per_frame(all_videos)
        blocks += [f"Cost of the lifting step (mocap.lift.lift_tracks, weights already loaded): median "
                   f"{fmt(float(np.median(ms)), 2)} ms per frame over {len(ms)} clips (max {fmt(float(np.max(ms)), 2)}); "
                   "BlazePose inference is about 27-30 ms per frame on these cores (docs/benchmarks.md).", ""]
    text = "\n".join(blocks)
    print(text)
    if args.out:
        begin, end = "<!-- depth:begin (written by benchmarks/depth_compare.py) -->", "<!-- depth:end -->"
        doc = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        block = f"{begin}\n\n{text}\n{end}"
        if begin in doc and end in doc:
            head, rest = doc.split(begin, 1)
            doc = head + block + rest.split(end, 1)[1]
        else:
            doc = doc.rstrip() + "\n\n" + block + "\n"
        from mocap.atomic import atomic_path

        with atomic_path(args.out) as tmp_path:
            tmp_path.write_text(doc, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
