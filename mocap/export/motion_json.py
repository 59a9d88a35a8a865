"""`--format json`: mocap's canonical motion as a JSON file, the Blender add-on's input.

The format (`mocap-motion/1`) is defined and read in mocap.retarget.motionfile; this module
only writes it, atomically. Joint names are always the canonical ones (the add-on maps them
onto the user's own armature), so the rig preset does not apply.
"""

from __future__ import annotations

import json
from pathlib import Path

from mocap.data import Motion
from mocap.atomic import atomic_path
from mocap.retarget.motionfile import motion_to_dict


def write_motion_json(motion: Motion, path: Path) -> Path:
    """Write `motion` (canonical skeleton) to `path`; returns the path. ExportError if unwritable."""
    sk = motion.skeleton
    contacts = {}
    if motion.contacts is not None:
        contacts = {n: motion.contacts.in_contact[:, i] for i, n in enumerate(motion.contacts.names)}
    data = motion_to_dict(
        sk.names, sk.parents, sk.offsets_m, sk.end_sites_m, motion.fps, motion.root_position_m,
        motion.rotations_xyzw, contacts=contacts, start_time_s=motion.start_time_s, gaps=motion.gaps,
        name=motion.name or "mocap",
    )
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    return path
