"""Retargeting mocap's motion onto any humanoid armature: pure Python (numpy only).

No bpy and no scipy here, and no import from the rest of mocap: the Blender add-on carries a
copy of this package (make addon) and runs it inside Blender's own Python. Only the add-on's
thin operator/panel layer (blender_addon/) touches bpy.

    motionfile.py   read_motion(path) -> SourceMotion          (`mocap convert --format json`)
    rig.py          SourceSkeleton, ArmatureRig                  (rest poses as arrays)
    bonemap.py      presets (maps/*.json), auto_map, map_armature, save_map/load_map
    solver.py       Retargeter(source, target, bone_map).retarget(motion) -> TargetAnimation
    quat.py         quaternions, scalar-last, numpy only
"""

from .bonemap import CANONICAL, REQUIRED, auto_map, check_map, list_map_presets, load_map, map_armature, save_map
from .errors import RetargetError
from .motionfile import SourceMotion, read_motion
from .rig import ArmatureRig, SourceSkeleton
from .solver import RetargetOptions, Retargeter, TargetAnimation

__all__ = [
    "CANONICAL", "REQUIRED", "ArmatureRig", "RetargetError", "RetargetOptions", "Retargeter", "SourceMotion",
    "SourceSkeleton", "TargetAnimation", "auto_map", "check_map", "list_map_presets", "load_map", "map_armature",
    "read_motion", "save_map",
]
