"""Time the add-on's retargeting: the pure solver (mocap/retarget) and its Blender side.

    .venv/bin/python benchmarks/bench_retarget.py [--frames 1800] [--runs 3]

Motion: the Bandai Namco dance (../shared/data) on mocap's canonical rig (tests/motion_fixtures.py),
cut to --frames frames at 30 fps. Targets, read with bpy from real rigs: mocap's own armature
(22 bones), the Quaternius Adventurer (62 bones, ../shared/data/characters) and a rig generated
by Rigify from its human metarig (700+ bones, FK controls under constraint-driven parents).
Prints medians of --runs runs: building the Retargeter, retargeting the clip, one pose_frame
(what live mode pays per frame), keying the action in Blender, and for Rigify the extra
constraint-aware pass per frame.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "scripts"))

import bpy  # noqa: E402
from motion_fixtures import BANDAI, DATA, load_canonical_motion  # noqa: E402

from mocap.retarget.motionfile import motion_from_dict, motion_to_dict  # noqa: E402

CLIP = BANDAI / "dataset-1_dance-short_normal_001.bvh"


def median_s(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1800)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from build_addon import build

    tmp = Path(tempfile.mkdtemp(prefix="mocap-bench-retarget-"))
    with zipfile.ZipFile(build(tmp / "dist", blender="/nonexistent")) as zf:
        zf.extractall(tmp / "mocap_addon")
    sys.path.insert(0, str(tmp))
    addon = importlib.import_module("mocap_addon")
    addon.register()
    rig_io = sys.modules["mocap_addon.rig_io"]
    ops = sys.modules["mocap_addon.operators"]
    rt_mod = sys.modules["mocap_addon.mocap_retarget"]

    m = load_canonical_motion(CLIP, n_frames=args.frames, fps=30.0)
    sk = m.skeleton
    motion = motion_from_dict(motion_to_dict(sk.names, sk.parents, sk.offsets_m, sk.end_sites_m, m.fps,
                                             m.root_position_m, m.rotations_xyzw))
    ctx = bpy.context
    targets = {}
    targets["mocap (22 bones)"] = rig_io.create_mocap_armature(ctx, motion.skeleton, "mocap")
    before = set(ctx.scene.objects)
    bpy.ops.import_scene.gltf(filepath=str(DATA / "characters" / "quaternius_modular_women" / "Adventurer.gltf"))
    adv = next(o for o in ctx.scene.objects if o.type == "ARMATURE" and o not in before)
    adv.animation_data.action = None
    targets[f"Adventurer ({len(adv.data.bones)} bones)"] = adv
    bpy.ops.preferences.addon_enable(module="rigify")
    bpy.ops.object.armature_human_metarig_add()
    meta = ctx.object
    bpy.ops.pose.rigify_generate()
    rigify = next(o for o in ctx.scene.objects if o.type == "ARMATURE" and o.name == "rig")
    meta.hide_set(True)
    targets[f"Rigify generated ({len(rigify.data.bones)} bones)"] = rigify

    print(f"{motion.n_frames} frames; medians of {args.runs} runs")
    print("| target | build Retargeter ms | retarget clip s | per frame ms | pose_frame ms | key action s | constraint pass ms/frame |")
    print("|---|---|---|---|---|---|---|")
    world = motion.world_xyzw()
    for label, obj in targets.items():
        rig = rig_io.armature_rig(obj)
        how, bone_map = rt_mod.map_armature(rig)
        build_s = median_s(lambda: rt_mod.Retargeter(motion.skeleton, rig, bone_map), args.runs)
        rt = rt_mod.Retargeter(motion.skeleton, rig, bone_map)
        holder = {}
        clip_s = median_s(lambda: holder.update(anim=rt.retarget(motion)), args.runs)
        n_pose = 200
        pose_s = median_s(lambda: [rt.pose_frame(world[t], motion.root_m[t], motion.root_m[0]) for t in range(n_pose)],
                          args.runs) / n_pose
        key_s = median_s(lambda: rig_io.write_action(obj, holder["anim"], "bench"), args.runs)
        extra = ""
        if rig_io.constrained_bones(obj, rt):
            n = 60
            short = rt_mod.SourceMotion(motion.skeleton, motion.fps, motion.root_m[:n], motion.local_xyzw[:n])
            anim = rt.retarget(short)
            extra = f"{1000 * median_s(lambda: rig_io.solve_through_constraints(ctx, obj, rt, anim), 1) / n:.1f}"
        print(f"| {label} ({how}) | {1000 * build_s:.1f} | {clip_s:.2f} | {1000 * clip_s / motion.n_frames:.2f} "
              f"| {1000 * pose_s:.2f} | {key_s:.2f} | {extra or '-'} |")
    addon.unregister()
    return 0


if __name__ == "__main__":
    sys.exit(main())
