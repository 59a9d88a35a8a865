"""BVH: the file syntax (syntax.py) and its conversion to and from Motion (convert.py).

Pure Python + numpy/scipy; writing files lives in mocap.export.bvh.
"""

from mocap.bvh.convert import (
    bvh_forward_kinematics,
    bvh_from_motion,
    end_site_positions,
    fps_from_frame_time,
    motion_from_bvh,
    read_bvh,
)
from mocap.bvh.syntax import BvhDocument, BvhJoint, format_bvh, parse_bvh

__all__ = [
    "BvhDocument",
    "BvhJoint",
    "bvh_forward_kinematics",
    "bvh_from_motion",
    "end_site_positions",
    "format_bvh",
    "fps_from_frame_time",
    "motion_from_bvh",
    "parse_bvh",
    "read_bvh",
]
