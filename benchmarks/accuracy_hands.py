"""Finger accuracy of `--hands` on rendered clips with finger ground truth.

For each NAME.mp4 with a NAME.hands.npz beside it (benchmarks/synth_hands.py), runs the
product's own detection (through the landmark cache), smoothing and solve with hands on,
and compares each finger's three flexion angles with the character's finger bones:

    flexion at a joint = the angle between the segment into it and the segment out of it
    (0 = straight), e.g. index MCP = angle(wrist -> MCP, MCP -> PIP)

Joint angles are compared rather than rotations because the character's finger bones and
mocap's rig have different rest frames; the angles are rig-independent. Ground truth
(Quaternius rig): wrist = head of Wrist.*, finger MCP/PIP/DIP/tip = heads of Index2..4 and
tail of Index4 (Index1 is the metacarpal), thumb CMC/MCP/IP/tip = heads of Thumb1..3 and
tail of Thumb3. Spread = angle between the index's and the pinky's proximal segments.
Errors are mean absolute differences in degrees over the frames where that hand was found
(`seen`), and over every frame; `relaxed` is the error the rig's relaxed hand would have
(what an unseen hand shows), a reference for how much the detected fingers add.

    MOCAP_CACHE_DIR=/tmp/mocap-cache .venv/bin/python benchmarks/accuracy_hands.py DIR [--method crops|holistic] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from mocap.data import FINGERS, SIDES
from mocap.hands import relaxed_hand, unseen_hand_frames
from mocap.kinematics import global_transforms
from mocap.pipeline import ConvertOptions, probe_and_detect, solve_take
from mocap.rig import load_rig
from mocap.timeline import to_constant_rate

JOINT_LABELS = {"thumb": ("CMC", "MCP", "IP"), **{f: ("MCP", "PIP", "DIP") for f in FINGERS[1:]}}


def flexion_deg(chain: list[np.ndarray]) -> list[np.ndarray]:
    """Angles (T,) degrees at each inner point of a chain of (T, 3) points."""
    out = []
    for a, b, c in zip(chain, chain[1:], chain[2:]):
        u, v = b - a, c - b
        cos = np.sum(u * v, axis=-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
        out.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return out


def angle_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    cos = np.sum(u * v, axis=-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def truth_chains(gt: np.lib.npyio.NpzFile) -> dict[tuple[str, str], list[np.ndarray]]:
    """(side, finger) -> [wrist, base, j2, j3, tip] (T, 3) from the character's bones."""
    names = [str(n) for n in gt["bone_names"]]
    heads, tails = gt["heads_world"].astype(float), gt["tails_world"].astype(float)
    out = {}
    for side, s in (("left", "L"), ("right", "R")):
        head = lambda b: heads[:, names.index(f"{b}.{s}")]  # noqa: E731
        tail = lambda b: tails[:, names.index(f"{b}.{s}")]  # noqa: E731
        wrist = head("Wrist")
        out[(side, "thumb")] = [wrist, head("Thumb1"), head("Thumb2"), head("Thumb3"), tail("Thumb3")]
        for f in FINGERS[1:]:
            F = f.capitalize()
            out[(side, f)] = [wrist, head(f"{F}2"), head(f"{F}3"), head(f"{F}4"), tail(f"{F}4")]
    return out


def solved_chains(motion) -> dict[tuple[str, str], list[np.ndarray]]:
    """(side, finger) -> [wrist, base, j2, j3, tip] (T, 3) from the solved motion's FK."""
    sk = motion.skeleton
    pos, world = global_transforms(sk, motion.root_position_m, motion.rotations_xyzw)
    out = {}
    for side in SIDES:
        S = side.capitalize()
        for f in FINGERS:
            joints = [f"{S}Hand{f.capitalize()}{k}" for k in (1, 2, 3)]
            pts = [pos[:, sk.index(f"{S}Hand")]] + [pos[:, sk.index(j)] for j in joints]
            last = sk.index(joints[-1])
            pts.append(pos[:, last] + Rotation.from_quat(world[:, last]).apply(sk.end_sites_m[joints[-1]]))
            out[(side, f)] = pts
    return out


def relaxed_chains(rig) -> dict[str, list[np.ndarray]]:
    """finger -> [wrist, base, j2, j3, tip] (1, 3) of the rig's relaxed hand."""
    tmpl = relaxed_hand(rig)
    out = {}
    for f in FINGERS:
        names = ["wrist"] + [n for n in tmpl if n.startswith(f + "_")]
        out[f] = [tmpl[n][None] for n in names]
    return out


def evaluate(video: Path, options: ConvertOptions) -> dict:
    gt = np.load(video.with_suffix(".hands.npz"))
    info, tracks = probe_and_detect(video, options)
    tracks, _ = to_constant_rate(tracks, options.fps)
    _, solution, _ = solve_take(tracks, options, name=video.stem, info=info)
    hands_raw = _raw_hands(video, options, info)
    unseen = unseen_hand_frames(hands_raw)
    truth, ours, relaxed = truth_chains(gt), solved_chains(solution.motion), relaxed_chains(load_rig(hands=True))
    n = min(len(truth[("left", "thumb")][0]), solution.motion.n_frames)
    rows = []
    for side in SIDES:
        seen = ~unseen[side][:n]
        for f in FINGERS:
            a_true = flexion_deg([p[:n] for p in truth[(side, f)]])
            a_ours = flexion_deg([p[:n] for p in ours[(side, f)]])
            a_relax = flexion_deg(relaxed[f])
            for label, t, o, r in zip(JOINT_LABELS[f], a_true, a_ours, a_relax):
                err = np.abs(o - t)
                rows.append(dict(side=side, finger=f, joint=label, true_mean_deg=float(t.mean()),
                                 seen_err_deg=float(err[seen].mean()) if seen.any() else None,
                                 all_err_deg=float(err.mean()), relaxed_err_deg=float(np.abs(r[0] - t).mean())))
        spread_true = angle_deg(truth[(side, "index")][2] - truth[(side, "index")][1], truth[(side, "pinky")][2] - truth[(side, "pinky")][1])[:n]
        spread_ours = angle_deg(ours[(side, "index")][2] - ours[(side, "index")][1], ours[(side, "pinky")][2] - ours[(side, "pinky")][1])[:n]
        err = np.abs(spread_ours - spread_true)
        rows.append(dict(side=side, finger="index-pinky", joint="spread", true_mean_deg=float(spread_true.mean()),
                         seen_err_deg=float(err[seen].mean()) if seen.any() else None, all_err_deg=float(err.mean()),
                         relaxed_err_deg=None))
    seen_rate = {side: float((~unseen[side][:n]).mean()) for side in SIDES}
    return dict(clip=video.stem, frames=n, seen=seen_rate, rows=rows)


def _raw_hands(video: Path, options: ConvertOptions, info):
    """The hand detector's own output (cached by probe_and_detect), to know which frames were seen."""
    from mocap.detect import detect_cached, detect_hands_cached

    body = detect_cached(info, options.start_s, options.end_s, options.model, options.cache_dir)
    return detect_hands_cached(info, body, options.start_s, options.end_s, options.model, options.cache_dir,
                               method=options.hands_method)


def summary_table(results: list[dict]) -> str:
    lines = ["| clip | hand found L / R | flexion error, seen frames (°) | all frames (°) | relaxed hand (°) | spread error (°) |",
             "|---|---|---|---|---|---|"]
    for r in results:
        flex = [row for row in r["rows"] if row["joint"] != "spread"]
        seen = [row["seen_err_deg"] for row in flex if row["seen_err_deg"] is not None]
        spread = [row["seen_err_deg"] for row in r["rows"] if row["joint"] == "spread" and row["seen_err_deg"] is not None]
        lines.append(
            f"| {r['clip']} | {r['seen']['left']:.0%} / {r['seen']['right']:.0%} | "
            f"{np.mean(seen):.1f} | {np.mean([row['all_err_deg'] for row in flex]):.1f} | "
            f"{np.mean([row['relaxed_err_deg'] for row in flex]):.1f} | {np.mean(spread) if spread else float('nan'):.1f} |"
        )
    return "\n".join(lines)


def per_joint_table(results: list[dict]) -> str:
    lines = ["| finger | joint | true mean (°) | error, seen (°) | relaxed (°) |", "|---|---|---|---|---|"]
    keys = sorted({(row["finger"], row["joint"]) for r in results for row in r["rows"]},
                  key=lambda k: ([*FINGERS, "index-pinky"].index(k[0]), k[1]))
    for finger, joint in keys:
        rows = [row for r in results for row in r["rows"] if (row["finger"], row["joint"]) == (finger, joint)]
        seen = [row["seen_err_deg"] for row in rows if row["seen_err_deg"] is not None]
        relax = [row["relaxed_err_deg"] for row in rows if row["relaxed_err_deg"] is not None]
        lines.append(f"| {finger} | {joint} | {np.mean([row['true_mean_deg'] for row in rows]):.0f} | "
                     f"{np.mean(seen) if seen else float('nan'):.1f} | {np.mean(relax) if relax else float('nan'):.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--method", default="holistic", help="hand detection: crops or holistic (mocap.detect.mediapipe_hands)")
    args = parser.parse_args(argv)
    options = ConvertOptions(hands=True, hands_method=args.method)
    clips = sorted(p for p in args.folder.glob("*.mp4") if p.with_suffix(".hands.npz").is_file())
    if not clips:
        print(f"{args.folder}: no NAME.mp4 with NAME.hands.npz", file=sys.stderr)
        return 2
    results = [evaluate(c, options) for c in clips]
    print(summary_table(results))
    print()
    print(per_joint_table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
