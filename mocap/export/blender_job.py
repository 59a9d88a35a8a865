"""Build an armature from a scene description and export it as FBX, GLB or USD — inside Blender.

Self-contained: needs only Blender's Python (bpy, mathutils) and the standard library, so
a stand-alone Blender can run it without mocap installed:

    blender -b --factory-startup --python blender_job.py -- job.json

job.json: a `Job` of mocap/export/blender_schema.py (typed and versioned; this file reads
it with Job.from_json, which rejects another schema version or a malformed field before
Blender is touched). That schema module is standard-library only and sits beside this
file, which imports it from there when mocap itself is not importable. Exit status 0 on
success; on failure the last stderr line starts with "mocap-export-error:".
mocap.export.blender also imports this module and calls `run_job` with a Job when bpy is
importable in-process. bpy is imported inside functions only.

Conventions (Blender frame, bone axes, pose channels): see mocap/export/scene.py and
mocap/export/fbx_glb.py.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

if __package__:  # imported as mocap.export.blender_job
    from mocap.export.blender_schema import Job, Scene
else:  # run as a script (a stand-alone Blender, maybe without mocap): the schema file beside this one
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from blender_schema import Job, Scene  # type: ignore[no-redef]

ERROR_TAG = "mocap-export-error:"
REST_MATRIX_TOLERANCE = 1e-4

# FBX for game engines (see mocap/export/fbx_glb.py for the reasons behind each setting).
FBX_OPTIONS: dict[str, Any] = {
    "object_types": {"ARMATURE"},
    "use_selection": False,
    "apply_unit_scale": True,
    "global_scale": 1.0,
    "apply_scale_options": "FBX_SCALE_ALL",  # metres in the file + UnitScaleFactor=100: scale 1 in Unity/Unreal
    "axis_forward": "-Z",
    "axis_up": "Y",
    "add_leaf_bones": False,
    "primary_bone_axis": "Y",
    "secondary_bone_axis": "X",
    "armature_nodetype": "NULL",
    "use_armature_deform_only": False,
    "bake_anim": True,
    "bake_anim_use_all_bones": True,
    "bake_anim_use_nla_strips": False,
    "bake_anim_use_all_actions": True,  # one action: the take is named after it
    "bake_anim_force_startend_keying": True,
    "bake_anim_step": 1.0,
    "bake_anim_simplify_factor": 0.0,
    "use_metadata": True,
}

GLB_OPTIONS: dict[str, Any] = {
    "export_format": "GLB",
    "export_yup": True,
    "export_animations": True,
    "export_animation_mode": "ACTIONS",
    "export_force_sampling": True,
    "export_frame_range": True,
    "export_frame_step": 1,
    "export_optimize_animation_size": False,
    "export_optimize_animation_keep_anim_armature": True,
    "export_anim_slide_to_zero": False,
    "export_def_bones": False,
    "export_leaf_bone": False,
    "export_rest_position_armature": True,
    "export_cameras": False,
    "export_lights": False,
}


# USD (.usdc binary, .usda text; the extension picks): the armature becomes a UsdSkel Skeleton
# with one SkelAnimation, on a Y-up stage in metres (frames and time codes per second = the
# clip's rate, the first written by set_usd_frame_rate).
USD_OPTIONS: dict[str, Any] = {
    "export_animation": True,
    "export_armatures": True,
    "only_deform_bones": False,
    "convert_orientation": True,
    "export_global_forward_selection": "NEGATIVE_Z",
    "export_global_up_selection": "Y",
    "export_meshes": False,
    "export_materials": False,
    "export_lights": False,
    "export_cameras": False,
    "selected_objects_only": False,
}
# Without these a USD file would silently lack the skeleton or the Y-up stage (Blender < 3.6).
USD_REQUIRED = ("export_armatures", "convert_orientation", "export_global_up_selection")

# Blender's USD exporter (through 5.0.1) writes timeCodesPerSecond but not framesPerSecond,
# whose fallback is 24: pxr's Stage.GetFramesPerSecond(), usdview and other players then
# take a 30 fps take for 24 fps. set_usd_frame_rate authors both on the exported layer with
# Blender's own USD Python module (pxr, bundled with Blender), in a child Python so that it
# never meets another `pxr` (usd-core) imported in this process.
_USD_RATE_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from pxr import Sdf
layer = Sdf.Layer.FindOrOpen(sys.argv[2])
if layer is None:
    raise SystemExit("cannot open the exported file")
layer.timeCodesPerSecond = layer.framesPerSecond = float(sys.argv[3])
if not layer.Save():
    raise SystemExit("cannot save the exported file")
"""


class JobError(Exception):
    """The job cannot be done (bad description, Blender refused to build or export)."""


def one_line(exc: BaseException) -> str:
    """An exception as one line. bpy wraps an exporter's failure in a RuntimeError whose text
    is a whole Python traceback ("Error: Python: Traceback ... OSError: [Errno 27] File too
    large\nLocation: ..."); the line naming the final error is the one that matters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("Location:", "File ", "^"))]
    if len(lines) > 1:
        named = [line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line)]
        if named:
            return named[-1]
    return lines[0] if lines else type(exc).__name__


def reset_blender() -> None:
    """An empty factory-settings session (nothing left from an earlier job)."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)


def build_armature(scene: Scene, fmt: str = "fbx") -> Any:
    """Create the armature object and its animated action in the current (empty) scene.

    Frame rate: Blender's rate is render.fps / render.fps_base (23.976 = 24 / 1.001), which
    the FBX exporter honours. Blender's glTF add-on (5.0.1 and earlier) converts frames to
    seconds with render.fps * render.fps_base instead (io_scene_gltf2/blender/exp/animation/
    keyframes.py, sampled/armature/sampler.py), so for GLB the base is set to fps/fps_int,
    which makes the add-on write the true times k / fps.
    """
    import bpy
    from mathutils import Vector

    bl_scene = bpy.context.scene
    bl_scene.render.fps = scene.fps_int
    if fmt == "glb":
        bl_scene.render.fps_base = scene.fps / scene.fps_int
    else:
        bl_scene.render.fps_base = scene.fps_base
    bl_scene.frame_start = scene.frame_start
    bl_scene.frame_end = scene.frame_end
    bl_scene.unit_settings.system = "METRIC"
    bl_scene.unit_settings.scale_length = 1.0

    name = scene.armature_name
    data = bpy.data.armatures.new(name)
    arm = bpy.data.objects.new(name, data)
    bl_scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    arm.select_set(True)

    bpy.ops.object.mode_set(mode="EDIT")
    edit_bones = []
    for bone in scene.bones:
        eb = data.edit_bones.new(bone.name)
        eb.head = Vector(bone.head)
        eb.tail = Vector(bone.tail)
        eb.align_roll(Vector(bone.z_axis))
        eb.use_connect = False
        eb.use_deform = True
        if bone.parent >= 0:
            eb.parent = edit_bones[bone.parent]
        edit_bones.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    _check_rest_matrices(arm, scene)
    _keyframe(arm, scene)
    return arm


def _check_rest_matrices(arm: Any, scene: Scene) -> None:
    for bone in scene.bones:
        actual = arm.data.bones[bone.name].matrix_local.to_3x3()
        expected = bone.rest_matrix
        worst = max(abs(actual[r][c] - expected[3 * r + c]) for r in range(3) for c in range(3))
        if worst > REST_MATRIX_TOLERANCE:
            raise JobError(f"bone {bone.name}: Blender's rest matrix differs from the description by {worst:.2e}")


def _fcurve(action: Any, arm: Any, data_path: str, index: int, group: str) -> Any:
    if hasattr(action, "fcurve_ensure_for_datablock"):  # Blender >= 4.4 (slotted actions)
        return action.fcurve_ensure_for_datablock(arm, data_path, index=index, group_name=group)
    return action.fcurves.new(data_path, index=index, action_group=group)  # older Blender


def _fill(fcurve: Any, frames: list[float], values: list[float], linear: int) -> None:
    points = fcurve.keyframe_points
    points.add(len(frames))
    co = [0.0] * (2 * len(frames))
    co[0::2] = frames
    co[1::2] = values
    points.foreach_set("co", co)
    points.foreach_set("interpolation", [linear] * len(frames))
    fcurve.update()


def _keyframe(arm: Any, scene: Scene) -> None:
    import bpy

    n = scene.n_frames
    start = scene.frame_start
    frames = [float(start + t) for t in range(n)]
    linear = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value
    arm.animation_data_create()
    action = bpy.data.actions.new(scene.action_name)
    arm.animation_data.action = action
    for bone, rot, loc in zip(scene.bones, scene.rotations, scene.locations):
        pose_bone = arm.pose.bones[bone.name]
        pose_bone.rotation_mode = "QUATERNION"
        base = f'pose.bones["{_escape(bone.name)}"]'
        for i in range(4):
            _fill(_fcurve(action, arm, base + ".rotation_quaternion", i, bone.name), frames, rot[i::4], linear)
        if loc is not None:
            for i in range(3):
                _fill(_fcurve(action, arm, base + ".location", i, bone.name), frames, loc[i::3], linear)
    bpy.context.scene.frame_set(start)


def _escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


def supported_options(op: Any, options: dict[str, Any]) -> dict[str, Any]:
    """`options` less those this Blender's exporter lacks (older Blenders: their default
    behaviour is what the missing option asks for, e.g. glTF export_animation_mode='ACTIONS')."""
    known = {p.identifier for p in op.get_rna_type().properties}
    dropped = sorted(set(options) - known)
    if dropped:
        print(f"mocap-export: this Blender's {op.idname_py()} lacks {', '.join(dropped)}; using its defaults", file=sys.stderr)
    return {k: v for k, v in options.items() if k in known}


def export(fmt: str, output: str) -> None:
    """Export the current scene to `output` ('fbx', 'glb' or 'usd')."""
    import bpy

    if fmt == "fbx":
        op, options = bpy.ops.export_scene.fbx, FBX_OPTIONS
    elif fmt == "glb":
        op, options = bpy.ops.export_scene.gltf, GLB_OPTIONS
    elif fmt == "usd":
        op, options = bpy.ops.wm.usd_export, USD_OPTIONS
        known = {p.identifier for p in op.get_rna_type().properties}
        missing = [k for k in USD_REQUIRED if k not in known]
        if missing:
            raise JobError(f"this Blender's USD exporter cannot write armatures on a Y-up stage "
                           f"(lacks {', '.join(missing)}); use Blender 3.6 or newer")
    else:
        raise JobError(f"unknown format {fmt!r} (fbx, glb or usd)")
    result = op(filepath=output, check_existing=False, **supported_options(op, options))
    if "FINISHED" not in result:
        raise JobError(f"Blender's {fmt} exporter returned {sorted(result)}")


def blender_pxr_path() -> str | None:
    """The folder holding Blender's bundled USD Python module (`pxr`), or None."""
    import bpy

    local = bpy.utils.resource_path("LOCAL")
    candidates = glob.glob(os.path.join(local, "python", "lib*", "python3*", "site-packages"))
    candidates.append(os.path.join(local, "python", "lib", "site-packages"))  # Windows layout
    return next((c for c in candidates if os.path.isdir(os.path.join(c, "pxr"))), None)


def set_usd_frame_rate(output: str, fps: float) -> None:
    """Author framesPerSecond and timeCodesPerSecond = fps (frames per second) on the USD
    layer at `output` (.usdc or .usda, the encoding kept). Raises JobError when this
    Blender has no USD Python module or the layer cannot be rewritten."""
    where = blender_pxr_path()
    if where is None:
        raise JobError("this Blender has no USD Python module (pxr) to write the file's frame rate with; "
                       "use Blender 4.0 or newer (or the bpy module)")
    proc = subprocess.run([sys.executable, "-S", "-c", _USD_RATE_SCRIPT, where, output, repr(float(fps))],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise JobError(f"cannot write the USD file's frame rate ({lines[-1] if lines else f'exit {proc.returncode}'})")


def rest_pose_for_fbx(arm: Any) -> None:
    """Leave the armature in its rest (T-) pose, its action kept but not assigned.

    Blender's FBX exporter writes each bone's default transform (Lcl Translation/Rotation)
    from the *current* pose, and engines, MotionBuilder and Blender's own importer take a
    bone's rest from it when there is no skinned mesh. With the action assigned that is frame
    0's pose. Unassigned, the exporter still bakes the action as the take
    (bake_anim_use_all_actions: every action whose paths fit the object), then restores this
    rest pose before writing the defaults.
    """
    action = arm.animation_data.action
    action.use_fake_user = True  # keep it while unassigned
    arm.animation_data.action = None
    for pose_bone in arm.pose.bones:
        pose_bone.rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
        pose_bone.location = (0.0, 0.0, 0.0)
        pose_bone.scale = (1.0, 1.0, 1.0)


@contextlib.contextmanager
def armature_bind_pose() -> Iterator[None]:
    """While active, Blender's FBX exporter also writes a BindPose for an armature that no
    mesh is skinned to (it writes one only per skinned mesh): one Pose of type BindPose whose
    PoseNodes are the armature and every bone with its rest (edit-bone) world matrix, through
    the exporter's own fbx_data_bindpose_element, and the matching "Pose" definition count.
    Patched module functions are restored on exit."""
    from io_scene_fbx import export_fbx_bin as fbx

    write_armature, from_scene = fbx.fbx_data_armature_elements, fbx.fbx_data_from_scene

    def armature_elements(root: Any, arm_obj: Any, scene_data: Any) -> None:
        write_armature(root, arm_obj, scene_data)
        if not scene_data.data_deformers_skin.get(arm_obj):
            bones = tuple(bo for bo in arm_obj.bones if bo in scene_data.objects)
            fbx.fbx_data_bindpose_element(root, arm_obj, arm_obj.bdata.data, scene_data, bones=bones)

    def data_from_scene(scene: Any, depsgraph: Any, settings: Any) -> Any:
        data = from_scene(scene, depsgraph, settings)
        armatures = [o for o in data.objects if o.is_object and o.type == "ARMATURE"]
        skinned = {arm for arm, deformers in data.data_deformers_skin.items() if deformers}
        extra = len([a for a in armatures if a not in skinned])
        if extra:
            current = data.templates.get(b"BindPose")
            users = (current.nbr_users if current is not None else 0) + extra
            data.templates[b"BindPose"] = fbx.fbx_template_def_pose(scene, settings, nbr_users=users)
        return data

    fbx.fbx_data_armature_elements, fbx.fbx_data_from_scene = armature_elements, data_from_scene
    try:
        yield
    finally:
        fbx.fbx_data_armature_elements, fbx.fbx_data_from_scene = write_armature, from_scene


def run_job(job: Job) -> None:
    """Reset Blender, build the armature, export, and reset again (leaves nothing behind).

    `job` is validated (a blender_schema.Job; main() builds it with Job.from_json).
    FBX: the file's default bone transforms are the rest (T-) pose and it carries a BindPose
    (rest_pose_for_fbx, armature_bind_pose); the animation is the take. USD: the layer's
    framesPerSecond and timeCodesPerSecond are the take's rate (set_usd_frame_rate).
    """
    if not isinstance(job, Job):
        raise JobError(f"run_job needs a blender_schema.Job, got {type(job).__name__}")
    reset_blender()
    try:
        arm = build_armature(job.scene, job.format)
        if job.format == "fbx":
            rest_pose_for_fbx(arm)
            with armature_bind_pose():
                export(job.format, job.output)
        else:
            export(job.format, job.output)
        if job.format == "usd":
            set_usd_frame_rate(job.output, job.scene.fps)
    finally:
        reset_blender()


def main(argv: list[str]) -> int:
    args = argv[argv.index("--") + 1 :] if "--" in argv else []
    if len(args) != 1:
        print(f"{ERROR_TAG} usage: blender -b --factory-startup --python blender_job.py -- job.json", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as f:
            job = Job.from_json(json.load(f))  # SchemaError (a ValueError) before Blender is touched
        run_job(job)
    except Exception as exc:  # report every failure as one tagged line for the caller
        print(f"{ERROR_TAG} {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
