"""`mocap preview VIDEO MOTION`: the motion read back from the files mocap wrote.

A BVH is read with mocap's own reader (mocap.bvh.read_bvh); the add-on's JSON motion
(`--format json`, mocap-motion/1) with mocap.retarget.motionfile; FBX, GLB and USD through
Blender's importers (mocap.export.blender_import, needs bpy), keeping the bones mocap's rig
has. Bone names are turned back into canonical ones with the preset the camera sidecar
names (USD's identifier-safe spelling too: DEF-spine.001 is DEF_spine_001; the JSON file has
canonical names already); the foot contacts come from <stem>.contacts.json when it is
there (the JSON file carries its own).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from mocap.data import Skeleton
from mocap.errors import FormatError, InputError
from mocap.preview.camera_file import CameraFile
from mocap.preview.render import PreviewMotion


def load_preview_motion(motion_path: Path, camera_file: CameraFile) -> PreviewMotion:
    """The motion in `motion_path` (.bvh, .json, or .fbx/.glb/.usdc/.usda through Blender),
    on canonical names, timed by the camera sidecar.

    Raises InputError for a missing or unreadable file, FormatError when the file and the
    sidecar disagree on the frame count (they are not from the same conversion) or a JSON
    file is not a mocap motion, ExportError when an FBX/GLB/USD needs bpy and it is not
    installed.
    """
    motion_path = Path(motion_path)
    if not motion_path.is_file():
        raise InputError(f"{motion_path}: file not found")
    suffix = motion_path.suffix.lower()
    read = {".json": _from_json, ".bvh": _from_bvh}.get(suffix, _from_blender)
    return replace(read(motion_path, camera_file), source_span_s=camera_file.source_span_s)


def _from_bvh(motion_path: Path, camera_file: CameraFile) -> PreviewMotion:
    from mocap.bvh import read_bvh
    from mocap.presets import load_preset

    motion = read_bvh(motion_path, units=camera_file.bvh_units)
    _check_frames(motion_path, motion.n_frames, camera_file)
    preset = load_preset(camera_file.rig)
    canonical = {preset.bone_name(c): c for c in preset.names}
    sk = motion.skeleton
    names = tuple(canonical.get(n, n) for n in sk.names)
    motion = replace(motion, skeleton=Skeleton(names, sk.parents, sk.offsets_m, sk.end_sites_m),
                     fps=camera_file.fps, start_time_s=camera_file.start_time_s)
    contacts = _contacts(motion_path, motion.n_frames)
    if contacts is not None:
        motion = replace(motion, contacts=contacts)
    return PreviewMotion.from_motion(motion)


def _check_frames(motion_path: Path, n_frames: int, camera_file: CameraFile) -> None:
    if n_frames != camera_file.frame_count:
        raise FormatError(f"{motion_path}: {n_frames} frames, but its camera file says "
                          f"{camera_file.frame_count}; they are not from the same conversion")


def _from_json(motion_path: Path, camera_file: CameraFile) -> PreviewMotion:
    """The add-on's motion file (mocap-motion/1: canonical names, local rotations)."""
    import numpy as np

    from mocap.data import FootContacts, Motion
    from mocap.retarget.errors import RetargetError
    from mocap.retarget.motionfile import read_motion

    try:
        source = read_motion(motion_path)
    except RetargetError as exc:
        raise FormatError(str(exc)) from exc
    _check_frames(motion_path, source.n_frames, camera_file)
    sk = source.skeleton
    offsets = np.array([sk.rest_m[j] - (sk.rest_m[p] if p >= 0 else 0.0) for j, p in enumerate(sk.parents)])
    contacts = None
    if source.contacts:
        names = tuple(source.contacts)
        contacts = FootContacts(names, np.stack([source.contacts[n] for n in names], axis=1), source.fps)
    motion = Motion(Skeleton(sk.names, sk.parents, offsets, dict(sk.end_sites_m)), camera_file.fps, source.root_m,
                    source.local_xyzw, start_time_s=camera_file.start_time_s, contacts=contacts)
    if contacts is None:
        contacts = _contacts(motion_path, motion.n_frames)
        motion = replace(motion, contacts=contacts) if contacts is not None else motion
    return PreviewMotion.from_motion(motion)


def _contacts(motion_path: Path, n_frames: int):  # noqa: ANN202 - FootContacts | None
    from mocap.export.contacts_json import read_contacts

    path = motion_path.with_name(f"{motion_path.stem}.contacts.json")
    if not path.is_file():
        return None
    try:
        contacts = read_contacts(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise FormatError(f"{path}: malformed contacts file ({exc})") from exc
    return contacts if contacts.in_contact.shape[0] == n_frames else None


def usd_name(name: str) -> str:
    """A bone name as USD spells it: identifiers only, every other character '_'."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _from_blender(motion_path: Path, camera_file: CameraFile) -> PreviewMotion:
    from mocap.export.blender_import import sample_armature
    from mocap.presets import load_preset

    sampled = sample_armature(motion_path, camera_file.fps)
    n_frames = sampled.positions_m.shape[0]
    _check_frames(motion_path, n_frames, camera_file)
    preset = load_preset(camera_file.rig)
    canonical: dict[str, str] = {}
    for c in preset.names:
        canonical[preset.bone_name(c)] = c
        canonical[usd_name(preset.bone_name(c))] = c
    found = {canonical[n]: i for i, n in enumerate(sampled.names) if n in canonical}
    names = tuple(c for c in preset.names if c in found)  # canonical order: Hips first, parents first
    if "Hips" not in found:
        raise FormatError(f"{motion_path}: no bone of the {preset.name} preset's Hips; not a mocap take with that rig")

    def kept_parent(i: int) -> int:
        p = sampled.parents[i]
        while p >= 0 and sampled.names[p] not in canonical:
            p = sampled.parents[p]
        return -1 if p < 0 else names.index(canonical[sampled.names[p]])

    parents = tuple(kept_parent(found[c]) for c in names)
    joints = sampled.positions_m[:, [found[c] for c in names]]
    return PreviewMotion(names, parents, joints, camera_file.fps, camera_file.start_time_s,
                         _contacts(motion_path, n_frames))
