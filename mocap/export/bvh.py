"""write_bvh: Motion -> BVH file, written atomically (mocap.atomic).

Numbers are fixed-point with trailing zeros trimmed: angles to 1e-6 degree, lengths to
1e-8 m (6 decimals in cm, 8 in m), so a write/read round trip is exact to well below
0.01 mm and 1e-4 degree. Frame Time is 1/fps to 12 significant digits.
"""

from __future__ import annotations

import math
from pathlib import Path

from mocap.bvh.convert import Units, bvh_from_motion, metres_per_unit, validate_rotation_order
from mocap.bvh.syntax import format_bvh
from mocap.data import Motion
from mocap.errors import ExportError
from mocap.atomic import atomic_path

ANGLE_DECIMALS = 6


def write_bvh(motion: Motion, path: str | Path, rotation_order: str = "ZXY", units: Units = "cm") -> Path:
    """Write `motion` to `path` as BVH and return the path.

    rotation_order: any permutation of "XYZ" (case-insensitive), the Euler order of every
    joint's rotation channels (intrinsic; "ZXY" = channels Zrotation Xrotation Yrotation).
    units: "cm" (the BVH habit, Blender imports it with scale 0.01), "m", or metres per unit.
    Raises ExportError for a bad rotation order or units, or if the file cannot be written;
    on any error no file and no temporary file are left behind.
    """
    try:
        validate_rotation_order(rotation_order)
        scale = metres_per_unit(units)
    except ValueError as exc:
        raise ExportError(f"{path}: {exc}") from exc
    doc = bvh_from_motion(motion, rotation_order=rotation_order, units=units)
    position_decimals = max(0, 8 + round(math.log10(scale)))
    text = format_bvh(doc, position_decimals=position_decimals, angle_decimals=ANGLE_DECIMALS)
    target = Path(path)
    with atomic_path(target) as tmp:
        try:
            tmp.write_text(text, encoding="utf-8", newline="\n")
        except OSError as exc:
            raise ExportError(f"{target}: cannot write ({exc.strerror or exc})") from exc
    return target
