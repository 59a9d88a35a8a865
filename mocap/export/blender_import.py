"""Read an armature's animation back through Blender's own importers (FBX, glTF, USD).

The import side of the Blender adapter (mocap.export.blender is the export side); bpy is
imported inside the function, in-process only (the `bpy` module, `pip install
'mocap-video[blender]'`). `mocap preview` uses it to draw an FBX/GLB/USD take.

    sample_armature("take.fbx", fps=30.0) -> SampledArmature

Frames: Blender is Z up; positions are returned in mocap's internal frame (Y up, metres):
internal = (x, z, -y) of Blender (docs/conventions.md). glTF stores seconds, so the scene is
run at `fps` before importing, with the frame-rate base that Blender's glTF add-on expects
(see mocap.export.blender_job.build_armature); FBX and USD keep their frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap import native_output
from mocap.errors import ExportError, InputError

SUFFIXES = (".fbx", ".glb", ".gltf", ".usd", ".usdc", ".usda")


@dataclass(frozen=True)
class SampledArmature:
    """names: (B,) bone names as imported; parents: (B,) parent index or -1;
    positions_m: (T, B, 3) bone heads on every keyed frame, internal frame, metres."""

    names: tuple[str, ...]
    parents: tuple[int, ...]
    positions_m: np.ndarray


def _fcurves(obj) -> list:  # noqa: ANN001 - a bpy Object
    anim = obj.animation_data
    action = anim.action if anim is not None else None
    if action is None:
        return []
    if hasattr(action, "layers") and action.layers:  # Blender 4.4+ slotted actions
        return list(action.layers[0].strips[0].channelbag(anim.action_slot).fcurves)
    return list(action.fcurves)


def sample_armature(path: str | Path, fps: float) -> SampledArmature:
    """Import `path` into an empty Blender scene and sample its one armature on every keyed
    frame. Raises InputError for an unsupported suffix or a file without exactly one
    animated armature, ExportError when bpy is not available or the importer fails."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{path}: Blender's importers read {', '.join(SUFFIXES)}")
    try:
        import bpy
    except ImportError as exc:
        raise ExportError(
            f"{path}: reading {suffix} needs the bpy module "
            "(pip install 'mocap-video[blender]', or pipx inject mocap-video bpy==5.0.1); or pass the .bvh"
        ) from exc
    with native_output.silenced(1, python_too=True):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        try:
            scene = bpy.context.scene
            try:
                if suffix == ".fbx":
                    result = bpy.ops.import_scene.fbx(filepath=str(path))
                elif suffix in (".glb", ".gltf"):
                    scene.render.fps = max(1, round(fps))
                    scene.render.fps_base = fps / scene.render.fps
                    result = bpy.ops.import_scene.gltf(filepath=str(path))
                else:
                    result = bpy.ops.wm.usd_import(filepath=str(path))
            except RuntimeError as exc:
                raise ExportError(f"{path}: Blender could not read it: {str(exc).strip().splitlines()[-1]}") from exc
            if "FINISHED" not in result:
                raise ExportError(f"{path}: Blender's importer returned {sorted(result)}")
            arms = [o for o in scene.objects if o.type == "ARMATURE"]
            if len(arms) != 1:
                raise InputError(f"{path}: {len(arms)} armatures; mocap preview draws exactly one")
            arm = arms[0]
            curves = _fcurves(arm)
            if not curves:
                raise InputError(f"{path}: the armature has no animation")
            keys = np.unique(np.concatenate([[k.co[0] for k in fc.keyframe_points] for fc in curves]))
            bones = list(arm.pose.bones)
            names = tuple(b.name for b in bones)
            index = {n: i for i, n in enumerate(names)}
            parents = tuple(index[b.parent.name] if b.parent is not None else -1 for b in bones)
            world = arm.matrix_world
            heads = np.empty((len(keys), len(bones), 3))
            for t, frame in enumerate(keys):
                whole = int(np.floor(frame))
                scene.frame_set(whole, subframe=float(frame - whole))
                for b, bone in enumerate(bones):
                    heads[t, b] = tuple(world @ bone.head)
        finally:
            bpy.ops.wm.read_factory_settings(use_empty=True)
    internal = np.stack([heads[..., 0], heads[..., 2], -heads[..., 1]], axis=-1)
    return SampledArmature(names, parents, internal)
