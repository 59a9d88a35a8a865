"""Runs the Blender add-on in headless bpy, in a fresh process (tests/test_addon.py).

    python tests/addon_driver.py ZIP COMMAND ARGS_JSON OUT

The zip is installed as a user extension the way Blender's "Install from Disk" does
(BLENDER_USER_RESOURCES points at a temporary folder, so the real user config is untouched);
then COMMAND runs and its results are written to OUT (.json, or .npz for sampled poses).
Everything sampled here comes from Blender's own evaluation (scene.frame_set + pose bones),
not from the add-on's arrays.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import bpy
import numpy as np

MODULE = "bl_ext.user_default.mocap"


def install(zip_path: str) -> None:
    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}, result


def registered() -> dict:
    return {
        "addon_enabled": MODULE in bpy.context.preferences.addons,
        "scene_settings": hasattr(bpy.types.Scene, "mocap"),
        "convert_operator": hasattr(bpy.types, "MOCAP_OT_convert"),
        "panel": hasattr(bpy.types, "VIEW3D_PT_mocap"),
    }


def fresh_scene() -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)  # disables extensions: enable ours again
    bpy.ops.preferences.addon_enable(module=MODULE)


def select_only(obj) -> None:
    for o in bpy.context.scene.objects:
        o.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def cmd_lifecycle(args: dict) -> dict:
    out = {"after_install": registered()}
    bpy.ops.preferences.addon_disable(module=MODULE)
    out["after_disable"] = registered()
    bpy.ops.preferences.addon_enable(module=MODULE)
    out["after_enable"] = registered()
    return {"json": out}


# -- targets ---------------------------------------------------------------------------------
def _rotate_subtree(arm, root_name: str, axis, angle_deg: float) -> None:
    from mathutils import Matrix

    eb = arm.data.edit_bones
    pivot = eb[root_name].head.copy()
    rot = Matrix.Rotation(np.radians(angle_deg), 4, axis)
    move = Matrix.Translation(pivot) @ rot @ Matrix.Translation(-pivot)
    bones = [eb[root_name]] + list(eb[root_name].children_recursive)
    for b in bones:
        b.transform(move, scale=False, roll=True)


def make_target(kind: str):
    if kind in ("adventurer", "scifi"):
        name = "Adventurer" if kind == "adventurer" else "SciFi"
        bpy.ops.import_scene.gltf(filepath=str(Path(ARGS["characters"]) / f"{name}.gltf"))
        arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
        arm.animation_data.action = None  # its own built-in clips stay in the file, unassigned
        for pb in arm.pose.bones:
            pb.rotation_quaternion = (1, 0, 0, 0)
            pb.location = (0, 0, 0)
        return arm
    if kind == "mixamo":
        # A real Mixamo skeleton (mixamorig: names, 55 joints with fingers and eyes), turned into
        # an A-pose target with rolled forearms: arms 40 degrees down, forearm rolls +90 degrees.
        bpy.ops.import_anim.bvh(filepath=ARGS["mixamo_bvh"], global_scale=0.01, axis_forward="-Z", axis_up="Y")
        arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
        arm.animation_data_clear()
        select_only(arm)
        bpy.ops.object.mode_set(mode="EDIT")
        _rotate_subtree(arm, "mixamorig:LeftArm", (0, 1, 0), 40.0)
        _rotate_subtree(arm, "mixamorig:RightArm", (0, 1, 0), -40.0)
        for side in ("Left", "Right"):
            arm.data.edit_bones[f"mixamorig:{side}ForeArm"].roll += np.radians(90.0)
        bpy.ops.object.mode_set(mode="OBJECT")
        for pb in arm.pose.bones:
            pb.rotation_mode = "QUATERNION"
            pb.rotation_quaternion = (1, 0, 0, 0)
            pb.location = (0, 0, 0)
        return arm
    if kind == "rigify":
        bpy.ops.preferences.addon_enable(module="rigify")
        bpy.ops.object.armature_human_metarig_add()
        return bpy.context.object
    raise ValueError(kind)


def cmd_retarget(args: dict) -> dict:
    fresh_scene()
    arm = make_target(args["target"])
    select_only(arm)
    settings = bpy.context.scene.mocap
    settings.lock_feet = bool(args.get("lock_feet", False))
    result = bpy.ops.mocap.apply_motion(filepath=args["motion"])
    assert result == {"FINISHED"}, result
    bone_map = {i.joint: i.bone for i in arm.mocap_bone_map if i.bone}
    names = sorted(set(bone_map.values()))
    scene = bpy.context.scene
    frames = list(range(scene.frame_start, scene.frame_end + 1))
    heads = np.zeros((len(frames), len(names), 3))
    tails = np.zeros_like(heads)
    rots = np.zeros((len(frames), len(names), 4))
    world = arm.matrix_world
    for k, f in enumerate(frames):
        scene.frame_set(f)
        for b, n in enumerate(names):
            pb = arm.pose.bones[n]
            heads[k, b] = tuple(world @ pb.head)
            tails[k, b] = tuple(world @ pb.tail)
            rots[k, b] = tuple((world @ pb.matrix).to_quaternion())
    rest_heads = np.array([tuple(world @ arm.data.bones[n].head_local) for n in names])
    rest_tails = np.array([tuple(world @ arm.data.bones[n].tail_local) for n in names])
    action = arm.animation_data.action
    return {
        "npz": dict(heads=heads, tails=tails, rots_wxyz=rots, rest_heads=rest_heads, rest_tails=rest_tails,
                    fps=scene.render.fps / scene.render.fps_base, frame_start=scene.frame_start,
                    frame_end=scene.frame_end),
        "json": {"bone_map": bone_map, "names": names, "map_source": arm.mocap_map_source,
                 "action": action.name if action else None, "status": settings.status,
                 "n_bones": len(arm.data.bones)},
    }


def cmd_live_pose(args: dict) -> dict:
    """One pose applied without keys through the same map (the live-mode path) vs the keyed action."""
    fresh_scene()
    arm = make_target(args["target"])
    select_only(arm)
    bpy.context.scene.mocap.floor = False  # a single pose has no contacts to put on the floor
    assert bpy.ops.mocap.apply_motion(filepath=args["motion"]) == {"FINISHED"}
    frame = int(args["frame"])
    scene = bpy.context.scene
    scene.frame_set(frame + 1)
    keyed = {pb.name: tuple(arm.matrix_world @ pb.head) for pb in arm.pose.bones}
    arm.animation_data.action = None
    ops = sys.modules[MODULE + ".operators"]
    rig_io = sys.modules[MODULE + ".rig_io"]
    motion = sys.modules[MODULE + ".mocap_retarget"].read_motion(args["motion"])
    rt, how = ops.retargeter_for(arm, motion.skeleton)
    basis, loc = rt.pose_frame(motion.world_xyzw()[frame], motion.root_m[frame], origin_m=motion.root_m[0])
    rig_io.apply_pose(arm, rt, basis, loc)
    bpy.context.view_layer.update()
    live = {pb.name: tuple(arm.matrix_world @ pb.head) for pb in arm.pose.bones}
    return {"json": {"keyed": keyed, "live": live, "how": how}}


def _key_counts(obj) -> list[int]:
    action = obj.animation_data.action
    curves = list(getattr(action, "fcurves", []) or [])
    for layer in getattr(action, "layers", []):
        for strip in layer.strips:
            for bag in strip.channelbags:
                curves.extend(bag.fcurves)
    return sorted({len(c.keyframe_points) for c in curves})


def cmd_convert(args: dict) -> dict:
    fresh_scene()
    prefs = bpy.context.preferences.addons[MODULE].preferences
    prefs.mocap_path = args["mocap"]
    settings = bpy.context.scene.mocap
    settings.video = args["video"]
    settings.save_folder = args.get("save_folder", "")
    ops = sys.modules[MODULE + ".operators"]
    if args.get("cancel_after_frames"):
        assert bpy.ops.mocap.convert(wait=False) == {"FINISHED"}
        job = ops._ACTIVE["job"]
        folder = job.folder
        t0 = time.monotonic()
        while ops.tick() is not None and job.poll().done < args["cancel_after_frames"]:
            assert time.monotonic() - t0 < 300, "no progress from mocap"
            time.sleep(0.05)
        progress_seen = job.poll().done
        folder_existed = folder.exists()
        assert bpy.ops.mocap.cancel() == {"FINISHED"}
        return {"json": {"progress_seen": progress_seen, "folder_existed": folder_existed,
                         "folder_left": folder.exists(), "returncode": job._proc.returncode,
                         "status": settings.status, "running": settings.running,
                         "objects": [o.name for o in bpy.context.scene.objects]}}
    try:
        result = sorted(bpy.ops.mocap.convert(wait=True))
        error = ""
    except RuntimeError as exc:  # an operator's ERROR report, as a script sees it
        result, error = ["CANCELLED"], str(exc)
    arms = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    scene = bpy.context.scene
    return {"json": {
        "result": result, "error": error, "status": settings.status, "engine_status": settings.engine_status,
        "armatures": [a.name for a in arms], "key_counts": _key_counts(arms[0]) if arms else [],
        "fps": scene.render.fps / scene.render.fps_base, "frame_start": scene.frame_start,
        "frame_end": scene.frame_end, "bones": [b.name for b in arms[0].data.bones] if arms else [],
    }}


def cmd_check_engine(args: dict) -> dict:
    fresh_scene()
    bpy.context.preferences.addons[MODULE].preferences.mocap_path = args["mocap"]
    try:
        result, error = sorted(bpy.ops.mocap.check_engine()), ""
    except RuntimeError as exc:
        result, error = ["CANCELLED"], str(exc)
    return {"json": {"result": result, "error": error, "engine_status": bpy.context.scene.mocap.engine_status}}


if __name__ == "__main__":
    zip_path, command, args_json, out = sys.argv[1:5]
    ARGS = json.loads(args_json)
    install(zip_path)
    res = globals()[f"cmd_{command}"](ARGS)
    out = Path(out)
    out.write_text(json.dumps(res.get("json", {})), encoding="utf-8")
    if "npz" in res:
        np.savez(out.with_suffix(".npz"), **res["npz"])
