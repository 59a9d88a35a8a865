"""`mocap preview VIDEO MOTION`: the motion read back from the files mocap wrote.

The motion file is read with mocap's own BVH reader (mocap.bvh.read_bvh); its bone names
are turned back into canonical ones with the preset the camera sidecar names; the foot
contacts come from <stem>.contacts.json when it is there. FBX, GLB and USD files are not
read here: preview the BVH written with them (same motion; tests/test_fbx_glb.py and
tests/test_usd.py hold every format to the same joint positions within 1 cm).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mocap.data import Skeleton
from mocap.errors import FormatError, InputError
from mocap.preview.camera_file import CameraFile
from mocap.preview.render import PreviewMotion


def load_preview_motion(motion_path: Path, camera_file: CameraFile) -> PreviewMotion:
    """The motion in `motion_path` (.bvh), on canonical names, timed by the camera sidecar.

    Raises InputError for a missing or non-BVH file, FormatError when the file and the
    sidecar disagree on the frame count (they are not from the same conversion).
    """
    from mocap.bvh import read_bvh
    from mocap.presets import load_preset
    from mocap.export.contacts_json import read_contacts

    motion_path = Path(motion_path)
    if not motion_path.is_file():
        raise InputError(f"{motion_path}: file not found")
    if motion_path.suffix.lower() != ".bvh":
        raise InputError(f"{motion_path}: mocap preview reads BVH; pass the .bvh written with this file "
                         "(mocap convert -f bvh,...)")
    motion = read_bvh(motion_path, units=camera_file.bvh_units)
    if motion.n_frames != camera_file.frame_count:
        raise FormatError(f"{motion_path}: {motion.n_frames} frames, but its camera file says "
                          f"{camera_file.frame_count}; they are not from the same conversion")
    preset = load_preset(camera_file.rig)
    canonical = {preset.bone_name(c): c for c in preset.names}
    sk = motion.skeleton
    names = tuple(canonical.get(n, n) for n in sk.names)
    motion = replace(motion, skeleton=Skeleton(names, sk.parents, sk.offsets_m, sk.end_sites_m),
                     fps=camera_file.fps, start_time_s=camera_file.start_time_s)
    contacts_path = motion_path.with_name(f"{motion_path.stem}.contacts.json")
    if contacts_path.is_file():
        try:
            contacts = read_contacts(contacts_path)
        except (ValueError, KeyError, TypeError) as exc:
            raise FormatError(f"{contacts_path}: malformed contacts file ({exc})") from exc
        if contacts.in_contact.shape[0] == motion.n_frames:
            motion = replace(motion, contacts=contacts)
    return PreviewMotion.from_motion(motion)
