"""FBX, GLB and USD writers: Motion -> file through Blender's own exporters.

    write_fbx(motion, "clip.fbx", preset="ue5")
    write_glb(motion, "clip.glb", preset="vrm", blender_exe="/opt/blender/blender")
    write_usd(motion, "clip.usdc")          # .usda for the text form

`motion` is on mocap's canonical rig (mocap/rigs/humanoid.json names); `preset` (a Preset,
a preset name, or None for mixamo) names the bones (mocap/presets.py). Blender is reached
through mocap.export.blender: bpy in-process when importable, else a Blender executable
(`blender_exe`, else `blender` on PATH; tested with 5.0.1 as bpy and 3.4.1 as executable).
Writes are atomic (mocap.atomic). The choices below are proven by tests/test_fbx_glb.py
(Blender's importers, assimp, three.js).

What the files contain
- One armature, no mesh, one animation: every frame keyed (no key reduction), frames
  0..T-1 at the clip's rate; glTF animation named Motion.name, FBX take
  "Armature|<Motion.name>" (Blender's object|action naming). FBX:
  TimeMode custom + CustomFrameRate = fps (23.976 stays 23.976). GLB: times k/fps.
- Armature object named "Armature" (preset.armature_name). Unreal (4.24+) drops an FBX
  top node named exactly "Armature" instead of making it an extra bone, so in Unreal the
  skeleton's top bone is the first real bone. In GLB it is a plain node above the bones.
- UE5 preset: a static `root` bone at the origin, pointing to the performer's front, parents
  `pelvis`, as on the UE5 mannequin;
  pelvis carries the translation (no root motion; Unreal extracts none). BVH never gets
  this bone (a BVH root must carry the motion).
- Bones: no leaf/end bones (FBX add_leaf_bones=False; glTF export_leaf_bone=False), so the
  bone list is exactly the preset's. Bone axes: Blender's own (bone +Y from the joint to its
  main child, primary_bone_axis='Y', secondary 'X'); roll: +Z to the performer's front on
  vertical bones, up on the others (mocap/export/scene.py). Engines retarget by name/humanoid
  mapping, not by bone roll, and rest orientation + pose compose to mocap's exact motion.
- Rest pose: mocap's T-pose (arms along +-X, palms down, feet forward). FBX: every bone's
  default transform (Lcl Translation/Rotation) is the T-pose, not the first frame, and the
  file carries a BindPose (armature + every bone at its T-pose world matrix), which Blender's
  exporter writes only for skinned meshes; blender_job.rest_pose_for_fbx/armature_bind_pose.
  GLB: export_rest_position_armature. Proven by Blender's importer (rest heads), three.js's
  FBXLoader (default transforms) and the FBX node tree (tests/test_fbx_glb.py).

Axes and units
- FBX: axis_up='Y', axis_forward='-Z' (FBX GlobalSettings: Y up, front +Z) and
  apply_scale_options='FBX_SCALE_ALL' with scene units 1 m: transforms in metres,
  UnitScaleFactor=100 (1 unit = 100 cm). Unity shows "1m (File)" and imports at scale 1
  with no 100x on the root; Unreal converts to cm itself. Blender re-imports at true size.
- GLB: glTF's Y up, metres; the performer faces glTF +Z (VRM 1.0's facing).

- USD (Blender's USD exporter, 3.6 or newer): a UsdSkel Skeleton (joint paths from the bone
  hierarchy, bind and rest transforms = the T-pose) and one SkelAnimation sampled on every
  frame; the stage is Y up (a root Xform turns Blender's Z up), metersPerUnit 1,
  framesPerSecond = timeCodesPerSecond = fps (Blender's exporter writes only the second, and
  readers take framesPerSecond's fallback of 24 without the first:
  blender_job.set_usd_frame_rate), time codes 0..T-1. Blender's USD importer (5.0.1) reads
  neither rate: it keys frames 0..T-1 at whatever rate the scene has, so set the scene to the
  file's framesPerSecond there. `.usdc` is binary, `.usda` text. USD names
  are identifiers, so the exporter writes `_` for any other character (Rigify's
  `DEF-spine.001` is `DEF_spine_001`, `mixamorig:Hips` is `mixamorig_Hips`).
  tests/test_usd.py checks it with Blender's USD importer and usd-core's `pxr`.

Frame rate caveat: Blender's glTF add-on (through 5.0.1) turns frames into seconds with
render.fps * fps_base instead of fps / fps_base; blender_job.build_armature compensates, so
GLB times are right at 23.976/29.97 fps (tests check with three.js's GLTFLoader).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mocap.data import Motion
from mocap.errors import ExportError
from mocap.atomic import atomic_path
from mocap.export.blender import export_scene
from mocap.export.scene import scene_from_motion
from mocap.presets import Preset, resolve_preset

USD_SUFFIXES = (".usdc", ".usda")


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


def write_usd(
    motion: Motion,
    path: str | os.PathLike[str],
    preset: Preset | str | None = None,
    blender_exe: str | os.PathLike[str] | None = None,
) -> Path:
    """Write `motion` as USD: binary crate for a `.usdc` path, text for `.usda`.

    Raises ExportError for any other suffix, without Blender, or when Blender fails.
    """
    path = Path(path)
    if path.suffix.lower() not in USD_SUFFIXES:
        raise ExportError(f"{path}: a USD file must end in .usdc (binary) or .usda (text)")
    return _write(motion, path, "usd", preset, blender_exe)


def _write(
    motion: Motion, path: Path, fmt: str, preset: Preset | str | None, blender_exe: str | os.PathLike[str] | None
) -> Path:
    preset = resolve_preset(preset)
    _check_motion(motion, path)
    scene = scene_from_motion(motion, preset)
    with atomic_path(path) as tmp:
        # Blender's exporters pick the container from the extension (.fbx/.glb, .usdc/.usda)
        # for some settings; give them a temporary name with the right one, then move it onto `tmp`.
        staged = tmp.with_name(f"{tmp.name}{path.suffix.lower() if fmt == 'usd' else '.' + fmt}")
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
