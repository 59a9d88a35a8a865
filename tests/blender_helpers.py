"""Test helpers that run Blender's own BVH importer (bpy) as an independent reader.

bpy is imported inside the functions, so importing this module costs nothing.
Blender's frame is Z up: Blender = (x, -z, y) of mocap's internal (Y up) frame,
which is what the importer's axis_forward='-Z', axis_up='Y' produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def blender_from_internal(points: np.ndarray) -> np.ndarray:
    """(..., 3) internal (Y up) -> Blender (Z up): (x, y, z) -> (x, -z, y)."""
    p = np.asarray(points, dtype=float)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def import_bvh_in_blender(path: str | Path, global_scale: float = 0.01, frames: Sequence[int] | None = None) -> dict:
    """Import `path` with Blender's BVH importer in a fresh empty scene and sample it.

    global_scale: Blender metres per file unit (0.01 for a cm file).
    frames: BVH frame indices (0-based) to sample; None = all.
    Returns a dict:
      bone_names (B,) tuple; frame_start, frame_end (scene range) and keyed_frames
      (number of keys on the animation curves = BVH frames imported); fps (scene
      fps / fps_base); frames (F,) the sampled BVH frame indices;
      heads, tails (F, B, 3) world positions in Blender's frame (metres, Z up),
      from armature.matrix_world @ pose_bone.head/tail after scene.frame_set.
    """
    import bpy  # lazy: only the Blender tests need it

    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.import_anim.bvh(
        filepath=str(path),
        target="ARMATURE",
        global_scale=global_scale,
        frame_start=1,
        use_fps_scale=False,
        update_scene_fps=True,
        update_scene_duration=True,
        rotate_mode="NATIVE",
        axis_forward="-Z",
        axis_up="Y",
    )
    if result != {"FINISHED"}:
        raise RuntimeError(f"Blender's BVH importer returned {result} for {path}")
    scene = bpy.context.scene
    armature = next(o for o in scene.objects if o.type == "ARMATURE")
    action = armature.animation_data.action
    keyed = _keyed_frame_count(action)
    frame_start = 1
    indices = list(range(keyed)) if frames is None else [int(f) for f in frames]
    names = tuple(pb.name for pb in armature.pose.bones)
    heads = np.zeros((len(indices), len(names), 3))
    tails = np.zeros_like(heads)
    world = armature.matrix_world
    for k, f in enumerate(indices):
        scene.frame_set(frame_start + f)
        for b, pose_bone in enumerate(armature.pose.bones):
            heads[k, b] = tuple(world @ pose_bone.head)
            tails[k, b] = tuple(world @ pose_bone.tail)
    return {
        "bone_names": names,
        "frame_start": scene.frame_start,
        "frame_end": scene.frame_end,
        "keyed_frames": keyed,
        "fps": scene.render.fps / scene.render.fps_base,
        "frames": np.array(indices, dtype=int),
        "heads": heads,
        "tails": tails,
    }


def _keyed_frame_count(action) -> int:  # noqa: ANN001 - a bpy.types.Action
    """Keys per F-curve of the imported action (the importer keys every frame on every curve)."""
    curves = list(getattr(action, "fcurves", []) or [])
    if not curves:  # Blender 4.4+ layered actions keep curves in channel bags
        for layer in action.layers:
            for strip in layer.strips:
                for bag in strip.channelbags:
                    curves.extend(bag.fcurves)
    counts = {len(c.keyframe_points) for c in curves}
    if len(counts) != 1:
        raise RuntimeError(f"imported curves have different key counts: {sorted(counts)}")
    return counts.pop()
