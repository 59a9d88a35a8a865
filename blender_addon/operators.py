"""Operators: Convert (background process, progress, cancel), Apply a motion file, and the bone
map's Detect / Save / Load. Each turns the pure layer's errors (EngineError, RetargetError)
into a report and {'CANCELLED'}, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import bpy
from bpy_extras.io_utils import ExportHelper, ImportHelper

from . import engine as eng
from .mocap_retarget import RetargetError, RetargetOptions, Retargeter, map_armature, read_motion
from .mocap_retarget.bonemap import load_map, save_map
from .props import preferences
from .rig_io import armature_rig, constrained_bones, create_mocap_armature, solve_through_constraints, read_bone_map, set_scene_timing, store_bone_map, write_action

_ACTIVE: dict = {"job": None, "target": None, "scene": None, "failed": False}
POLL_S = 0.2


def selected_armature(context):
    obj = context.active_object
    if obj is not None and obj.type == "ARMATURE" and obj.select_get():
        return obj
    return None


def find_engine(context) -> eng.Engine:
    prefs = preferences(context)
    return eng.find_engine(prefs.mocap_path if prefs is not None else "")


def retargeter_for(obj, skeleton) -> tuple[Retargeter, str]:
    """The Retargeter for armature `obj`, from its bone-map list (detected and shown when empty).
    Built once per take; offline conversion and a live stream (issue 16) both use it."""
    rig = armature_rig(obj)
    bone_map = read_bone_map(obj)
    if bone_map:
        how = obj.mocap_map_source or "edited"
    else:
        how, bone_map = map_armature(rig)
        store_bone_map(obj, bone_map, how)
    return Retargeter(skeleton, rig, bone_map), how


def apply_motion(context, path: str | Path, target=None, scene=None):
    """Read a motion file and put it on the selected armature (else a new mocap armature).

    Returns (armature object, action, TargetAnimation, how the map was found). The bone map
    shown in the armature's list is used when filled; otherwise it is detected and shown."""
    scene = scene or context.scene
    settings = scene.mocap
    motion = read_motion(path)
    target = target if target is not None else selected_armature(context)
    if target is None:
        target = create_mocap_armature(context, motion.skeleton, name=f"{motion.name}_mocap")
    retargeter, how = retargeter_for(target, motion.skeleton)
    anim = retargeter.retarget(motion, RetargetOptions(floor=settings.floor, foot_lock=settings.lock_feet))
    if constrained_bones(target, retargeter):  # e.g. Rigify's FK controls under constraint-driven MCH parents
        anim = solve_through_constraints(context, target, retargeter, anim)
    action = write_action(target, anim, name=f"{motion.name}_{target.name}", frame_start=1)
    set_scene_timing(scene, motion.fps, motion.n_frames, frame_start=1)
    return target, action, anim, how


class MOCAP_OT_check_engine(bpy.types.Operator):
    """Look for the mocap engine and show its version"""

    bl_idname = "mocap.check_engine"
    bl_label = "Check mocap engine"

    def execute(self, context):
        settings = context.scene.mocap
        try:
            found = find_engine(context)
        except eng.EngineError as exc:
            settings.engine_status = str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        settings.engine_status = f"mocap {found.version_text} ({found.path})"
        return {"FINISHED"}


class MOCAP_OT_convert(bpy.types.Operator):
    """Convert the video in a background process and put the motion on the selected armature"""

    bl_idname = "mocap.convert"
    bl_label = "Convert"

    wait: bpy.props.BoolProperty(
        name="Wait", description="Block until the conversion ends (headless scripts); the panel never waits",
        default=False, options={"HIDDEN", "SKIP_SAVE"},
    )

    def execute(self, context):
        settings = context.scene.mocap
        if _ACTIVE["job"] is not None:
            self.report({"ERROR"}, "a conversion is already running")
            return {"CANCELLED"}
        try:
            found = find_engine(context)
        except eng.EngineError as exc:
            settings.status = settings.engine_status = str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        settings.engine_status = f"mocap {found.version_text} ({found.path})"
        video = bpy.path.abspath(settings.video)
        if not settings.video or not Path(video).is_file():
            settings.status = f"{video or 'no video chosen'}: no such video file"
            self.report({"ERROR"}, settings.status)
            return {"CANCELLED"}
        trim = settings.use_trim
        options = eng.ConvertSettings(
            smoothing=settings.smoothing, root_motion=settings.root_motion, foot_lock=settings.foot_lock,
            start_s=settings.start_s if trim and settings.start_s > 0 else None,
            end_s=settings.end_s if trim and settings.end_s > 0 else None,
        )
        try:
            job = eng.ConvertJob(found, video, options).start()
        except eng.EngineError as exc:
            settings.status = str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        target = selected_armature(context)  # the armature selected now receives the motion
        _ACTIVE.update(job=job, target=target.name if target else None, scene=context.scene.name)
        settings.running, settings.progress, settings.status = True, 0.0, "Starting mocap..."
        if self.wait:  # headless: background Blender has no event loop, so timers never fire there
            while tick() is not None:
                time.sleep(POLL_S)
            if _ACTIVE["failed"]:
                self.report({"ERROR"}, settings.status)
                return {"CANCELLED"}
            return {"FINISHED"}
        bpy.app.timers.register(tick, first_interval=POLL_S)
        return {"FINISHED"}


def tick() -> float | None:
    """Poll the running conversion: update the panel, and when it ends apply or report.
    Returns the next interval (bpy.app.timers protocol), or None when there is nothing to poll."""
    job = _ACTIVE["job"]
    if job is None:
        return None
    scene = bpy.data.scenes.get(_ACTIVE.get("scene") or "") or bpy.context.scene
    settings = scene.mocap
    state = job.poll()
    settings.progress = state.fraction
    settings.status = state.describe()
    _redraw()
    if state.status in ("starting", "running"):
        return POLL_S
    _ACTIVE["job"] = None
    settings.running = False
    _ACTIVE["failed"] = True
    try:
        if state.status != "done":
            settings.status = state.message
            return None
        target = bpy.data.objects.get(_ACTIVE.get("target") or "")
        obj, action, anim, how = apply_motion(bpy.context, job.motion_path, target=target, scene=scene)
        kept = ""
        if settings.save_folder:
            kept = f"; motion kept in {eng.keep_copy(job.motion_path, bpy.path.abspath(settings.save_folder))}"
        warn = f" ({'; '.join(anim.warnings)})" if anim.warnings else ""
        settings.status = (f"{anim.basis_xyzw.shape[0]} frames at {anim.fps:g} fps on {obj.name} "
                           f"(bone map: {how}){kept}{warn}")
        settings.progress = 1.0
        _ACTIVE["failed"] = False
    except (RetargetError, OSError) as exc:
        settings.status = str(exc)
    finally:
        job.cleanup()
        _redraw()
    return None


def _redraw() -> None:
    wm = bpy.context.window_manager
    for window in wm.windows if wm else ():
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


class MOCAP_OT_cancel(bpy.types.Operator):
    """Stop the running conversion; nothing is written"""

    bl_idname = "mocap.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        job = _ACTIVE["job"]
        settings = context.scene.mocap
        if job is None:
            return {"CANCELLED"}
        _ACTIVE["job"] = None
        job.cancel()
        settings.running, settings.progress = False, 0.0
        settings.status = job.poll().message
        self.report({"INFO"}, settings.status)
        return {"FINISHED"}


class MOCAP_OT_apply_motion(bpy.types.Operator, ImportHelper):
    """Put a motion file (mocap convert --format json) on the selected armature"""

    bl_idname = "mocap.apply_motion"
    bl_label = "Apply motion file"
    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        settings = context.scene.mocap
        try:
            target, action, anim, how = apply_motion(context, self.filepath)
        except RetargetError as exc:
            settings.status = str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        settings.status = f"{anim.basis_xyzw.shape[0]} frames on {target.name} (bone map: {how})"
        return {"FINISHED"}


class MOCAP_OT_map_detect(bpy.types.Operator):
    """Fill the bone map from a preset or from bone names and hierarchy"""

    bl_idname = "mocap.map_detect"
    bl_label = "Detect"

    @classmethod
    def poll(cls, context):
        return selected_armature(context) is not None

    def execute(self, context):
        obj = selected_armature(context)
        try:
            how, bone_map = map_armature(armature_rig(obj))
        except RetargetError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        store_bone_map(obj, bone_map, how)
        self.report({"INFO"}, f"{len(bone_map)} bones mapped ({how})")
        return {"FINISHED"}


class MOCAP_OT_map_save(bpy.types.Operator, ExportHelper):
    """Save the bone map as JSON"""

    bl_idname = "mocap.map_save"
    bl_label = "Save bone map"
    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    @classmethod
    def poll(cls, context):
        return selected_armature(context) is not None

    def execute(self, context):
        obj = selected_armature(context)
        try:
            save_map(read_bone_map(obj), self.filepath, armature=obj.name)
        except OSError as exc:
            self.report({"ERROR"}, f"{self.filepath}: cannot write ({exc.strerror or exc})")
            return {"CANCELLED"}
        return {"FINISHED"}


class MOCAP_OT_map_load(bpy.types.Operator, ImportHelper):
    """Load a bone map saved as JSON"""

    bl_idname = "mocap.map_load"
    bl_label = "Load bone map"
    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    @classmethod
    def poll(cls, context):
        return selected_armature(context) is not None

    def execute(self, context):
        obj = selected_armature(context)
        try:
            bone_map = load_map(self.filepath)
        except RetargetError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        absent = sorted(b for b in bone_map.values() if b not in obj.data.bones)
        store_bone_map(obj, bone_map, Path(self.filepath).name)
        if absent:
            self.report({"WARNING"}, f"{obj.name} has no bone {absent[0]!r} (and {len(absent) - 1} more)")
        return {"FINISHED"}


CLASSES = (MOCAP_OT_check_engine, MOCAP_OT_convert, MOCAP_OT_cancel, MOCAP_OT_apply_motion, MOCAP_OT_map_detect,
           MOCAP_OT_map_save, MOCAP_OT_map_load)


def cancel_running() -> None:
    """End a running conversion (unregister, file load): no orphan process, no files left."""
    job = _ACTIVE["job"]
    if job is not None:
        _ACTIVE["job"] = None
        job.cancel()
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
