"""How fast do real bones twist? The measurement behind the rig's twist-rate limits.

For every clip of optical motion capture in ../shared/data/bvh (the 30 Bandai Namco clips and the
Mixamo-named one; the mocapbank and PyMO skeletons have no mapping onto mocap's joints here),
the twist of each bone about its own axis, frame to frame, in the world (its angular velocity
about its axis: mocap.solve.twist.frame_twist_rad, swing-twist decomposition), in deg/s,
measured two ways:

  source   the BVH's own world rotations, about the axis towards the child that is mocap's
           joint's child (Hips -> Spine, Chest -> Neck), or the only child / end site, or
           without one (Bandai's head) the line from its parent
  solved   mocap's rig solved from the clip's exact landmarks (tests/synth.py, no noise, no
           smoothing) with the twist limit off, about the rig's twist axes (humanoid.json)

Left and right are pooled, and so are Spine and Spine1. The limit is 1.5 x the source's maximum,
rounded up to 50 deg/s (humanoid.json's `twist` section holds it). The solve's own maxima are not
used: for the limbs whose turn about their axis the landmarks do not fix (the upper arm and thigh
take it from a bend plane, the forearm and shin borrow the hand's and the foot's) it twists up to
several thousand deg/s on exact landmarks, an artefact of those rules, not human motion. Last
column: the mean error (deg) of the bone's world rotation against the source (each relative to
its first frame, as in tests/test_roundtrip.py), solved without -> with the limit.

    .venv/bin/python benchmarks/twist_rates.py
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
BVH = ROOT.parent / "shared" / "data" / "bvh"

from synth import landmarks_from_bvh  # noqa: E402

from mocap.bvh import read_bvh  # noqa: E402
from mocap.kinematics import global_transforms  # noqa: E402
from mocap.rig import load_rig  # noqa: E402
from mocap.smooth import SmoothingConfig, smooth_tracks  # noqa: E402
from mocap.solve import solve_motion  # noqa: E402
from mocap.solve.twist import frame_twist_rad  # noqa: E402

BANDAI = {"Hips": "Hips", "Spine": "Spine", "Chest": "Spine2", "Neck": "Neck", "Head": "Head"}
for _s, _side in (("L", "Left"), ("R", "Right")):
    BANDAI.update({f"Shoulder_{_s}": f"{_side}Shoulder", f"UpperArm_{_s}": f"{_side}Arm",
                   f"LowerArm_{_s}": f"{_side}ForeArm", f"Hand_{_s}": f"{_side}Hand",
                   f"UpperLeg_{_s}": f"{_side}UpLeg", f"LowerLeg_{_s}": f"{_side}Leg",
                   f"Foot_{_s}": f"{_side}Foot"})
MARGIN = 1.5
TRUTH = {"Hips": "Hips", "Spine2": "Chest", "Head": "Head"}
for _s, _side in (("L", "Left"), ("R", "Right")):
    TRUTH.update({f"{_side}Arm": f"UpperArm_{_s}", f"{_side}ForeArm": f"LowerArm_{_s}", f"{_side}Hand": f"Hand_{_s}",
                  f"{_side}UpLeg": f"UpperLeg_{_s}", f"{_side}Leg": f"LowerLeg_{_s}", f"{_side}Foot": f"Foot_{_s}"})


def group(name: str) -> str:
    """Joint name -> its row: sides pooled, Spine and Spine1 pooled."""
    g = name.replace("Left", "").replace("Right", "")
    return "Spine" if g == "Spine1" else g


def mocap_name(source: str) -> str | None:
    bare = source.split(":")[-1]
    return BANDAI.get(bare, bare)


def source_rates(path: Path, rig_child: dict[str, str]) -> dict[str, np.ndarray]:
    """mocap joint name -> (T-1,) |twist rate| deg/s of the source BVH's bone."""
    motion = read_bvh(path)
    sk = motion.skeleton
    _, world = global_transforms(sk, motion.root_position_m, motion.rotations_xyzw)
    out = {}
    for j, source in enumerate(sk.names):
        ours = mocap_name(source)
        if ours not in rig_child:
            continue
        kids = sk.children(j)
        want = [c for c in kids if mocap_name(sk.names[c]) == rig_child[ours]]
        if want:
            offset = sk.offsets_m[want[0]]
        elif len(kids) == 1:
            offset = sk.offsets_m[kids[0]]
        else:
            offset = sk.end_sites_m.get(source, np.zeros(3))
        if np.linalg.norm(offset) < 1e-9:  # no end site (Bandai's head): the line it continues
            offset = sk.offsets_m[j]
        rot = Rotation.from_quat(world[:, j])
        out[ours] = np.degrees(np.abs(frame_twist_rad(rot, offset / np.linalg.norm(offset)))) * motion.fps
    return out


def solved_rates(path: Path, errors: dict[str, dict[str, list]]) -> dict[str, np.ndarray]:
    """mocap joint name -> (T-1,) |twist rate| deg/s of mocap's solve of the exact landmarks,
    limit off. Bandai clips also add, per joint, the rotation error against the source with the
    limit off and on to `errors` (joint -> {"off": [...], "on": [...]})."""
    rig = load_rig()
    tracks, truth = landmarks_from_bvh(path, noise_m=0.0, dropout=0.0)
    smoothed = smooth_tracks(tracks, SmoothingConfig(cutoff_hz=None))
    out = {}
    for kind, r in (("off", replace(rig, twist={})), ("on", rig)):
        motion = solve_motion(smoothed, r).motion
        _, world = global_transforms(motion.skeleton, motion.root_position_m, motion.rotations_xyzw)
        if kind == "off":
            for name, (axis, _) in rig.twist.items():
                rot = Rotation.from_quat(world[:, motion.skeleton.index(name)])
                out[name] = np.degrees(np.abs(frame_twist_rad(rot, axis))) * motion.fps
        true_names = list(truth["joint_names"])
        if not all(t in true_names for t in TRUTH.values()):
            continue
        for ours, theirs in TRUTH.items():
            a = Rotation.from_quat(world[:, motion.skeleton.index(ours)])
            b = Rotation.from_quat(truth["joint_rotations_xyzw"][:, true_names.index(theirs)])
            err = np.degrees(((a * a[0].inv()).inv() * (b * b[0].inv())).magnitude())
            errors.setdefault(group(ours), {"off": [], "on": []})[kind].append(err)
    return out


def main() -> int:
    rig = load_rig()
    skeleton_children = {j.name: [k.name for k in rig.joints if k.parent == j.name] for j in rig.joints}
    rig_child = {n: (skeleton_children[n] or [""])[0] for n in rig.twist}
    clips = sorted((BVH / "bandai_namco").glob("*.bvh")) + [BVH / "misc" / "test_freebvh_20tab.bvh"]
    table: dict[str, dict[str, list]] = {}
    errors: dict[str, dict[str, list]] = {}
    for path in clips:
        for kind, rates in (("source", source_rates(path, rig_child)), ("solved", solved_rates(path, errors))):
            for name, r in rates.items():
                if len(r):
                    table.setdefault(group(name), {"source": [], "solved": []})[kind].append((r, path.stem))
        print(f"  {path.stem}", file=sys.stderr)
    print(f"{len(clips)} clips of optical motion capture; twist rate about the bone's own axis, in the world, deg/s\n")
    print("| bone | source max (clip) | source p99 | solved max (clip) | solved p99 | limit | error vs source, off -> on |")
    print("|---|---|---|---|---|---|---|")
    for g in dict.fromkeys(group(n) for n in rig.twist):
        cells, peaks = [], []
        for kind in ("source", "solved"):
            entries = table.get(g, {}).get(kind, [])
            if not entries:
                cells += ["–", "–"]
                continue
            peak, clip = max(((float(r.max()), c) for r, c in entries), key=lambda x: x[0])
            p99 = float(np.percentile(np.concatenate([r for r, _ in entries]), 99))
            cells += [f"{peak:.0f} ({clip.replace('dataset-', '').replace('_001', '')})", f"{p99:.0f}"]
            if kind == "source":
                peaks.append(peak)
        limit = 50 * math.ceil(MARGIN * max(peaks) / 50) if peaks else float("nan")
        err = errors.get(g)
        fidelity = (f"{np.concatenate(err['off']).mean():.2f} -> {np.concatenate(err['on']).mean():.2f}" if err else "–")
        print(f"| {g} | " + " | ".join(cells) + f" | {limit} | {fidelity} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
