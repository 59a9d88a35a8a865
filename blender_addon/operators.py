"""Operators: Convert (background process, progress, cancel), Apply a motion file, the bone
map's Detect / Save / Load, and Live (start, stop, record). Each turns the pure layer's errors
(EngineError, RetargetError, LiveError) into a report and {'CANCELLED'}, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import bpy
import numpy as np
from bpy_extras.io_utils import ExportHelper, ImportHelper

from . import engine as eng
from . import live
from .mocap_retarget import RetargetError, RetargetOptions, Retargeter, map_armature, read_motion
from .mocap_retarget.bonemap import load_map, save_map
from .props import preferences
from .rig_io import (
    apply_pose, armature_rig, constrained_bones, create_mocap_armature, read_bone_map, set_scene_timing,
    solve_through_constraints, store_bone_map, write_action,
)

_ACTIVE: dict = {"job": None, "target": None, "scene": None, "failed": False}
POLL_S = 0.2


def selected_armature(context):
    obj = context.active_object
    if obj is not None and obj.type == "ARMATURE" and obj.select_get():
        return obj
    return None


def find_engine(context) -> eng.Engine:
    """The engine the preferences name (else `mocap` on PATH), also shown in the panel's engine
    line. Raises EngineError, whose message the engine line shows instead."""
    settings = context.scene.mocap
    prefs = preferences(context)
    try:
        found = eng.find_engine(prefs.mocap_path if prefs is not None else "")
    except eng.EngineError as exc:
        settings.engine_status = str(exc)
        raise
    settings.engine_status = f"mocap {found.version_text} ({found.path})"
    return found


def cancelled(operator, message: str, settings=None, field: str = "status") -> set[str]:
    """Report `message` as the operator's error (and show it in the panel: settings.<field>,
    when given); returns {'CANCELLED'} for execute() to return."""
    if settings is not None:
        setattr(settings, field, message)
    operator.report({"ERROR"}, message)
    return {"CANCELLED"}


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
        try:
            find_engine(context)
        except eng.EngineError as exc:
            return cancelled(self, str(exc))
        return {"FINISHED"}


class _Ticking:
    """Mixin for an operator whose work goes on in a timer function after execute() returns.
    `wait` runs that function in place until it ends instead: background Blender (headless
    scripts, the tests) has no event loop, so its timers never fire."""

    wait: bpy.props.BoolProperty(
        name="Wait", description="Block until it ends (headless scripts); the panel never waits",
        default=False, options={"HIDDEN", "SKIP_SAVE"},
    )

    def keep_ticking(self, tick_function, interval_s: float) -> None:
        """Call tick_function (bpy.app.timers protocol: the next interval, or None when done)
        every interval_s: from a timer, or here until it returns None when `wait`."""
        if self.wait:
            while tick_function() is not None:
                time.sleep(interval_s)
        else:
            bpy.app.timers.register(tick_function, first_interval=interval_s)


class MOCAP_OT_convert(_Ticking, bpy.types.Operator):
    """Convert the video in a background process and put the motion on the selected armature"""

    bl_idname = "mocap.convert"
    bl_label = "Convert"

    def execute(self, context):
        settings = context.scene.mocap
        if _ACTIVE["job"] is not None:
            return cancelled(self, "a conversion is already running")
        try:
            found = find_engine(context)
        except eng.EngineError as exc:
            return cancelled(self, str(exc), settings)
        video = bpy.path.abspath(settings.video)
        if not settings.video or not Path(video).is_file():
            return cancelled(self, f"{video or 'no video chosen'}: no such video file", settings)
        trim = settings.use_trim
        options = eng.ConvertSettings(
            smoothing=settings.smoothing, root_motion=settings.root_motion, foot_lock=settings.foot_lock,
            start_s=settings.start_s if trim and settings.start_s > 0 else None,
            end_s=settings.end_s if trim and settings.end_s > 0 else None,
        )
        try:
            job = eng.ConvertJob(found, video, options).start()
        except eng.EngineError as exc:
            return cancelled(self, str(exc), settings)
        target = selected_armature(context)  # the armature selected now receives the motion
        _ACTIVE.update(job=job, target=target.name if target else None, scene=context.scene.name)
        settings.running, settings.progress, settings.status = True, 0.0, "Starting mocap..."
        self.keep_ticking(tick, POLL_S)
        if self.wait and _ACTIVE["failed"]:
            return cancelled(self, settings.status)
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


class _JsonFile:
    """Mixin for an operator whose file browser shows JSON files."""

    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})


class _OnSelectedArmature:
    """Mixin for an operator that works on the selected armature (greyed out without one)."""

    @classmethod
    def poll(cls, context):
        return selected_armature(context) is not None


class MOCAP_OT_apply_motion(_JsonFile, bpy.types.Operator, ImportHelper):
    """Put a motion file (mocap convert --format json) on the selected armature"""

    bl_idname = "mocap.apply_motion"
    bl_label = "Apply motion file"

    def execute(self, context):
        settings = context.scene.mocap
        try:
            target, action, anim, how = apply_motion(context, self.filepath)
        except RetargetError as exc:
            return cancelled(self, str(exc), settings)
        settings.status = f"{anim.basis_xyzw.shape[0]} frames on {target.name} (bone map: {how})"
        return {"FINISHED"}


class MOCAP_OT_map_detect(_OnSelectedArmature, bpy.types.Operator):
    """Fill the bone map from a preset or from bone names and hierarchy"""

    bl_idname = "mocap.map_detect"
    bl_label = "Detect"

    def execute(self, context):
        obj = selected_armature(context)
        try:
            how, bone_map = map_armature(armature_rig(obj))
        except RetargetError as exc:
            return cancelled(self, str(exc))
        store_bone_map(obj, bone_map, how)
        self.report({"INFO"}, f"{len(bone_map)} bones mapped ({how})")
        return {"FINISHED"}


class MOCAP_OT_map_save(_OnSelectedArmature, _JsonFile, bpy.types.Operator, ExportHelper):
    """Save the bone map as JSON"""

    bl_idname = "mocap.map_save"
    bl_label = "Save bone map"

    def execute(self, context):
        obj = selected_armature(context)
        try:
            save_map(read_bone_map(obj), self.filepath, armature=obj.name)
        except OSError as exc:
            return cancelled(self, f"{self.filepath}: cannot write ({exc.strerror or exc})")
        return {"FINISHED"}


class MOCAP_OT_map_load(_OnSelectedArmature, _JsonFile, bpy.types.Operator, ImportHelper):
    """Load a bone map saved as JSON"""

    bl_idname = "mocap.map_load"
    bl_label = "Load bone map"

    def execute(self, context):
        obj = selected_armature(context)
        try:
            bone_map = load_map(self.filepath)
        except RetargetError as exc:
            return cancelled(self, str(exc))
        absent = sorted(b for b in bone_map.values() if b not in obj.data.bones)
        store_bone_map(obj, bone_map, Path(self.filepath).name)
        if absent:
            self.report({"WARNING"}, f"{obj.name} has no bone {absent[0]!r} (and {len(absent) - 1} more)")
        return {"FINISHED"}


# -- Live mode (issue 16) ------------------------------------------------------------------------

_LIVE: dict = {"session": None, "poser": None, "target": None, "scene": None, "recording": False, "keys": [],
               "t0": None, "last_status": 0.0, "stopped": ""}
LIVE_TICK_S = 1 / 60  # the timer that applies the newest pose: faster frames are dropped, never queued
LIVE_STATUS_S = 0.25


def live_tick() -> float | None:
    """Apply the newest received pose to the target; while recording, turn every received frame
    into a key. Returns the next interval (bpy.app.timers), or None when Live has stopped."""
    session = _LIVE["session"]
    if session is None:
        return None
    scene = bpy.data.scenes.get(_LIVE.get("scene") or "") or bpy.context.scene
    settings = scene.mocap
    obj = bpy.data.objects.get(_LIVE.get("target") or "")
    if obj is None:
        _live_finish(settings, "the target armature was deleted")
        return None
    poser = _LIVE["poser"]
    try:
        if _LIVE["recording"]:
            _keep_recorded(session.receiver.drain_recorded())
        frame = session.receiver.take_latest()
        if frame is not None:
            basis, loc = poser.pose(frame)
            apply_pose(obj, poser.retargeter, basis, loc)
    except RetargetError as exc:
        _live_finish(settings, str(exc))
        return None
    now = time.monotonic()
    if now - _LIVE["last_status"] >= LIVE_STATUS_S:
        _LIVE["last_status"] = now
        settings.live_status = session.describe()
        _redraw()
    ended = session.poll()
    if ended is not None and session.receiver.take_latest() is None:
        _live_finish(settings, ended)
        return None
    return LIVE_TICK_S


def _keep_recorded(frames) -> None:
    """Keep received frames (mocap_receive.VmcFrame) as keys to bake: (time s, basis, location)."""
    poser = _LIVE["poser"]
    for frame in frames:
        _LIVE["keys"].append((frame.time_s, *poser.pose(frame)))


def _live_finish(settings, why: str) -> None:
    """Stop the engine and the receiver; bake the recording if there is one."""
    session = _LIVE["session"]
    _LIVE["session"] = None
    if session is not None:
        session.stop()
        if _LIVE["recording"]:
            _keep_recorded(session.receiver.stop_recording())
    baked = _bake_recording(settings)
    settings.live_running = False
    settings.live_recording = _LIVE["recording"] = False
    stats = session.describe() if session is not None else ""
    settings.live_status = "; ".join(p for p in (f"Live stopped: {why}", stats, baked) if p)
    _redraw()


def _bake_recording(settings) -> str:
    """Key the recorded poses as an action on the target, at the scene's frame rate, each at the
    time the stream stamped it (not its arrival order): one key per received frame."""
    keys, _LIVE["keys"] = sorted(_LIVE["keys"], key=lambda k: k[0]), []
    obj = bpy.data.objects.get(_LIVE.get("target") or "")
    poser = _LIVE["poser"]
    if not keys or obj is None or poser is None or poser.retargeter is None:
        return ""
    scene = bpy.data.scenes.get(_LIVE.get("scene") or "") or bpy.context.scene
    fps = scene.render.fps / scene.render.fps_base
    times = np.array([k[0] for k in keys])
    frames = scene.frame_current + (times - times[0]) * fps
    anim = live.live_animation(poser.retargeter, fps, [k[1] for k in keys], [k[2] for k in keys])
    action = write_action(obj, anim, name=f"live_{obj.name}", frames=frames)
    return f"recorded {len(keys)} frames into action {action.name}"


class MOCAP_OT_live_start(_Ticking, bpy.types.Operator):
    """Start Live: run `mocap live` on the camera or video and drive the selected armature"""
    bl_idname = "mocap.live_start"
    bl_label = "Start Live"

    def execute(self, context):
        settings = context.scene.mocap
        if _LIVE["session"] is not None:
            return cancelled(self, "Live is already running")
        target = selected_armature(context)
        if target is None:
            return cancelled(self, "select the armature Live should drive", settings, "live_status")
        try:
            found = find_engine(context)
            source = "video" if settings.live_source == "VIDEO" else "camera"
            video = bpy.path.abspath(settings.live_video) if settings.live_video else ""
            session = live.LiveSession(found, live.LiveSettings(
                source=source, camera=settings.live_camera, video=video,
                host=settings.live_host.strip() or "127.0.0.1", port=settings.live_port))
            session.start()
        except (eng.EngineError, live.LiveError) as exc:
            return cancelled(self, str(exc), settings, "live_status")
        _LIVE.update(session=session, poser=live.LivePoser(lambda sk: retargeter_for(target, sk)[0]),
                     target=target.name, scene=context.scene.name, recording=settings.live_recording, keys=[],
                     last_status=0.0)
        if settings.live_recording:
            session.receiver.start_recording()
        settings.live_running = True
        settings.live_network = session.listens_on_network
        settings.live_status = f"Listening on {session.settings.host}:{session.receiver.port}; starting mocap..."
        self.keep_ticking(live_tick, LIVE_TICK_S)
        return {"FINISHED"}


class MOCAP_OT_live_stop(bpy.types.Operator):
    """Stop Live (the recording, if on, becomes an action)"""
    bl_idname = "mocap.live_stop"
    bl_label = "Stop Live"

    def execute(self, context):
        if _LIVE["session"] is None:
            return {"CANCELLED"}
        _live_finish(context.scene.mocap, "stopped")
        return {"FINISHED"}


class MOCAP_OT_live_record(bpy.types.Operator):
    """Start or stop recording the live stream into an action"""
    bl_idname = "mocap.live_record"
    bl_label = "Record"

    def execute(self, context):
        settings = context.scene.mocap
        session = _LIVE["session"]
        if session is None:
            settings.live_recording = not settings.live_recording  # armed for the next start
            return {"FINISHED"}
        if not _LIVE["recording"]:
            session.receiver.start_recording()
            _LIVE["recording"] = settings.live_recording = True
        else:
            _keep_recorded(session.receiver.stop_recording())
            _LIVE["recording"] = settings.live_recording = False
            settings.live_status = _bake_recording(settings)
        return {"FINISHED"}


CLASSES = (MOCAP_OT_check_engine, MOCAP_OT_convert, MOCAP_OT_cancel, MOCAP_OT_apply_motion, MOCAP_OT_map_detect,
           MOCAP_OT_map_save, MOCAP_OT_map_load,
           MOCAP_OT_live_start, MOCAP_OT_live_stop, MOCAP_OT_live_record)


def cancel_running() -> None:
    """End a running conversion (unregister, file load): no orphan process, no files left."""
    job = _ACTIVE["job"]
    if job is not None:
        _ACTIVE["job"] = None
        job.cancel()
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    session = _LIVE["session"]  # Live: the engine process ends, the port is freed
    if session is not None:
        _LIVE["session"] = None
        _LIVE["keys"] = []
        session.stop()
    if bpy.app.timers.is_registered(live_tick):
        bpy.app.timers.unregister(live_tick)
