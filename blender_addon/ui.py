"""The "Mocap" tab in the 3D viewport's sidebar."""

from __future__ import annotations

import bpy

from .operators import selected_armature


class MOCAP_UL_bone_map(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.label(text=item.joint)
        if data.type == "ARMATURE":
            row.prop_search(item, "bone", data.data, "bones", text="")
        else:
            row.prop(item, "bone", text="")


class _MocapTab:
    """Mixin: a panel in the 3D viewport sidebar's Mocap tab."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Mocap"


class VIEW3D_PT_mocap(_MocapTab, bpy.types.Panel):
    bl_label = "Mocap"

    def draw(self, context):
        layout = self.layout
        s = context.scene.mocap
        row = layout.row(align=True)
        row.label(text=s.engine_status or "Engine not checked yet", icon="CONSOLE")
        row.operator("mocap.check_engine", text="", icon="FILE_REFRESH")
        col = layout.column()
        col.enabled = not s.running
        col.prop(s, "video")
        col.prop(s, "smoothing")
        col.prop(s, "root_motion")
        col.prop(s, "foot_lock")
        row = col.row(align=True)
        row.prop(s, "use_trim")
        sub = row.row(align=True)
        sub.enabled = s.use_trim
        sub.prop(s, "start_s")
        sub.prop(s, "end_s")
        box = layout.box()
        target = selected_armature(context)
        box.label(text=f"Target: {target.name}" if target else "Target: none selected (mocap's own armature)",
                  icon="ARMATURE_DATA")
        box.prop(s, "floor")
        box.prop(s, "lock_feet")
        box.prop(s, "save_folder")
        if s.running:
            if hasattr(layout, "progress"):
                layout.progress(factor=s.progress, type="BAR", text=s.status)
            else:
                layout.label(text=s.status)
            layout.operator("mocap.cancel", icon="CANCEL")
        else:
            row = layout.row(align=True)
            row.scale_y = 1.4
            row.operator("mocap.convert", icon="PLAY")
            layout.operator("mocap.apply_motion", icon="FILE")
            _draw_status(layout, s.status)


class VIEW3D_PT_mocap_bone_map(_MocapTab, bpy.types.Panel):
    bl_label = "Bone map"
    bl_parent_id = "VIEW3D_PT_mocap"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        obj = selected_armature(context)
        if obj is None:
            layout.label(text="Select an armature")
            return
        row = layout.row(align=True)
        row.operator("mocap.map_detect", icon="VIEWZOOM")
        row.operator("mocap.map_load", text="", icon="IMPORT")
        row.operator("mocap.map_save", text="", icon="EXPORT")
        if obj.mocap_map_source:
            layout.label(text=f"From: {obj.mocap_map_source}")
        layout.template_list("MOCAP_UL_bone_map", "", obj, "mocap_bone_map", obj, "mocap_map_index", rows=8)


class VIEW3D_PT_mocap_live(_MocapTab, bpy.types.Panel):
    bl_label = "Live"
    bl_parent_id = "VIEW3D_PT_mocap"

    def draw(self, context):
        layout = self.layout
        s = context.scene.mocap
        col = layout.column()
        col.enabled = not s.live_running
        col.prop(s, "live_source", expand=True)
        col.prop(s, "live_camera" if s.live_source == "CAMERA" else "live_video")
        row = col.row(align=True)
        row.prop(s, "live_host")
        row.prop(s, "live_port", text="")
        if s.live_host.strip() not in ("127.0.0.1", "localhost", "::1", ""):
            layout.label(text=f"Listening on the network ({s.live_host}): other machines", icon="ERROR")
            layout.label(text="can send poses to this armature")
        target = selected_armature(context)
        if not s.live_running:
            layout.label(text=f"Drives: {target.name}" if target else "Drives: select an armature", icon="ARMATURE_DATA")
        row = layout.row(align=True)
        row.scale_y = 1.4
        if s.live_running:
            row.operator("mocap.live_stop", icon="PAUSE")
        else:
            row.operator("mocap.live_start", icon="PLAY")
        row.operator("mocap.live_record", text="Recording" if s.live_recording else "Record",
                     icon="RADIOBUT_ON" if s.live_recording else "RADIOBUT_OFF", depress=s.live_recording)
        _draw_status(layout, s.live_status)


def _draw_status(layout, text: str, width: int = 48) -> None:
    """A status message as labels, wrapped at `width` characters (nothing when empty)."""
    for line in _wrap(text, width):
        layout.label(text=line)


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return lines + ([line] if line else [])


CLASSES = (MOCAP_UL_bone_map, VIEW3D_PT_mocap, VIEW3D_PT_mocap_live, VIEW3D_PT_mocap_bone_map)
