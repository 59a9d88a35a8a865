"""FBX and GLB writers: Motion -> file through Blender's own exporters.

    write_fbx(motion, "clip.fbx", preset="ue5")
    write_glb(motion, "clip.glb", preset="vrm", blender_exe="/opt/blender/blender")

`motion` is on mocap's canonical rig (mocap/rigs/humanoid.json names); `preset` (a Preset,
a preset name, or None for mixamo) names the bones. Blender is reached through
mocap.export.blender (bpy in-process, else a `blender` executable). Writes are atomic.
Settings and conventions: docs/export-fbx-glb.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mocap.data import Motion
from mocap.errors import ExportError
from mocap.export.atomic import atomic_path
from mocap.export.blender import export_scene
from mocap.export.scene import scene_from_motion
from mocap.presets import Preset, resolve_preset

FORMATS = ("fbx", "glb")


def write_fbx(
    motion: Motion,
    path: str | os.PathLike[str],
    preset: Preset | str | None = None,
    blender_exe: str | os.PathLike[str] | None = None,
) -> Path:
    """Write `motion` as a binary FBX (armature + one baked take); returns the path written."""
    return _write(motion, Path(path), "fbx", preset, blender_exe)


def write_glb(
    motion: Motion,
    path: str | os.PathLike[str],
    preset: Preset | str | None = None,
    blender_exe: str | os.PathLike[str] | None = None,
) -> Path:
    """Write `motion` as a binary glTF 2.0 (.glb: node hierarchy + one sampled animation)."""
    return _write(motion, Path(path), "glb", preset, blender_exe)


def _write(
    motion: Motion, path: Path, fmt: str, preset: Preset | str | None, blender_exe: str | os.PathLike[str] | None
) -> Path:
    preset = resolve_preset(preset)
    _check_motion(motion, path)
    scene = scene_from_motion(motion, preset)
    with atomic_path(path) as tmp:
        # Blender's exporters pick the container from the extension (.fbx/.glb) for some
        # settings; give them a temporary name with the right one, then move it onto `tmp`.
        staged = tmp.with_name(f"{tmp.name}.{fmt}")
        try:
            export_scene(scene, fmt, staged, blender_exe, target=path)
            os.replace(staged, tmp)
        finally:
            if staged.exists():
                staged.unlink()
    return path


def _check_motion(motion: Motion, path: Path) -> None:
    if motion.n_frames < 1:
        raise ExportError(f"{path}: the motion has no frames")
    if not (np.isfinite(motion.fps) and motion.fps > 0):
        raise ExportError(f"{path}: invalid frame rate {motion.fps}")
    if not (np.all(np.isfinite(motion.rotations_xyzw)) and np.all(np.isfinite(motion.root_position_m))):
        raise ExportError(f"{path}: the motion contains NaN/inf values")
