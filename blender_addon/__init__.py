"""Mocap for Blender: convert a video from a panel and retarget it onto your own armature.

The heavy work runs outside Blender in the `mocap` engine (pipx install mocap-video); this
add-on starts it in a background process (engine.py), then retargets its motion file onto the
selected armature with mocap_retarget (a numpy-only copy of mocap/retarget made by
`make addon`). Only props.py, operators.py, ui.py and rig_io.py import bpy.
"""

from __future__ import annotations

import bpy

from . import operators, props, ui

_CLASSES = props.CLASSES + operators.CLASSES + ui.CLASSES


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    props.register_properties()


def unregister() -> None:
    operators.cancel_running()
    props.unregister_properties()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
