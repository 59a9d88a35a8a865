"""The add-on's settings: preferences (where mocap is), per-scene panel settings, and the
per-armature editable bone map."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty


class MocapPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    mocap_path: StringProperty(
        name="mocap executable",
        description="Path of the mocap command (installed with pipx); empty: find `mocap` on PATH",
        subtype="FILE_PATH",
        default="",
    )

    def draw(self, context):
        self.layout.prop(self, "mocap_path")
        self.layout.label(text="Install the engine once, outside Blender: pipx install mocap-video")


class MocapBoneMapItem(bpy.types.PropertyGroup):
    joint: StringProperty(name="Joint", description="mocap's canonical joint")
    bone: StringProperty(name="Bone", description="The bone of this armature that plays the joint (empty: none)")


class MocapSettings(bpy.types.PropertyGroup):
    video: StringProperty(name="Video", description="Video of one person to convert", subtype="FILE_PATH")
    smoothing: EnumProperty(
        name="Smoothing",
        items=[("none", "None", "No smoothing"), ("light", "Light", "8 Hz cut-off"),
               ("medium", "Medium", "4 Hz cut-off"), ("strong", "Strong", "2.5 Hz cut-off")],
        default="medium",
    )
    root_motion: EnumProperty(
        name="Root motion",
        items=[("full", "Full", "Hip travel from the camera"), ("horizontal", "Horizontal", "Over the floor only"),
               ("off", "Off", "In place")],
        default="full",
    )
    foot_lock: EnumProperty(
        name="Foot lock",
        description="mocap's own foot lock, on the performer's skeleton",
        items=[("on", "On", "Hold planted feet still"), ("off", "Off", "Leave the feet as detected")],
        default="on",
    )
    use_trim: BoolProperty(name="Trim", description="Convert only part of the video", default=False)
    start_s: FloatProperty(name="Start", description="Start time, seconds", min=0.0, default=0.0, unit="TIME_ABSOLUTE")
    end_s: FloatProperty(name="End", description="End time, seconds", min=0.0, default=0.0, unit="TIME_ABSOLUTE")
    floor: BoolProperty(name="Feet on floor", description="Keep contacting feet on the character's floor", default=True)
    lock_feet: BoolProperty(
        name="Lock feet after retargeting",
        description="Hold planted feet still on the character by IK (against sliding from different proportions)",
        default=False,
    )
    save_folder: StringProperty(
        name="Keep motion file in",
        description="Also keep the motion file (.json) in this folder; empty: keep nothing on disk",
        subtype="DIR_PATH",
        default="",
    )
    live_source: EnumProperty(
        name="Source",
        items=[("CAMERA", "Camera", "A camera, by index"), ("VIDEO", "Video", "A video file played at its own pace")],
        default="CAMERA",
    )
    live_camera: IntProperty(name="Camera", description="Camera index (0 = the first camera)", min=0, default=0)
    live_video: StringProperty(name="Video", description="Video to stream at real-time pace", subtype="FILE_PATH")
    live_host: StringProperty(
        name="Listen on",
        description="Address the stream is received on: 127.0.0.1 is this machine only; 0.0.0.0 accepts "
        "streams from other machines on the network",
        default="127.0.0.1",
    )
    live_port: IntProperty(name="Port", description="UDP port (VMC's default: 39539)", min=1, max=65535, default=39539)
    live_recording: BoolProperty(name="Record", description="Bake the stream into an action", default=False)
    live_running: BoolProperty(default=False)
    live_network: BoolProperty(default=False)
    live_status: StringProperty(default="")
    running: BoolProperty(default=False)
    progress: FloatProperty(default=0.0, min=0.0, max=1.0)
    status: StringProperty(default="")
    engine_status: StringProperty(default="")


CLASSES = (MocapPreferences, MocapBoneMapItem, MocapSettings)


def register_properties() -> None:
    bpy.types.Scene.mocap = PointerProperty(type=MocapSettings)
    bpy.types.Object.mocap_bone_map = CollectionProperty(type=MocapBoneMapItem)
    bpy.types.Object.mocap_map_index = IntProperty(default=0)
    bpy.types.Object.mocap_map_source = StringProperty(default="")


def unregister_properties() -> None:
    for owner, name in ((bpy.types.Object, "mocap_map_source"), (bpy.types.Object, "mocap_map_index"),
                        (bpy.types.Object, "mocap_bone_map"), (bpy.types.Scene, "mocap")):
        if hasattr(owner, name):
            delattr(owner, name)


def preferences(context):
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None
