"""Rig naming presets (Mixamo, UE5, Unity, Rigify, VRM): data in mocap/rigs/presets/*.json.

A preset renames mocap's canonical joints (mocap/rigs/humanoid.json, Mixamo names) for a
target application. It changes names only, never the motion: BVH, FBX and GLB all use it.
Target-specific armature details that only exist in FBX/GLB (an extra static root bone,
the armature object's name, the bone-axis convention) are fields of the preset too and
are applied by mocap.export.scene. See mocap/export/fbx_glb.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources
from importlib.resources.abc import Traversable

from mocap.data import Motion, Skeleton
from mocap.errors import MocapError

DEFAULT_PRESET = "mixamo"
BONE_AXES = ("anatomical",)


class PresetError(MocapError):
    """An unknown preset name, or a preset that does not fit the motion's skeleton."""

    exit_code = 2


@dataclass(frozen=True)
class Preset:
    """A naming preset.

    names: canonical joint name -> target bone name (all 22 canonical joints).
    extra_root: name of a static bone added at the origin above the hips in FBX/GLB
        (UE5's `root`), or None. BVH has no such bone (a BVH root must carry the motion).
    armature_name: name of the armature object (and of the FBX null above the bones).
    bone_axes: bone-axis convention of the FBX/GLB bones; "anatomical" = Blender's
        own: each bone's local +Y runs from its head to its main child, local +Z points
        to the performer's front on vertical bones (spine, neck, head, legs) and up on
        the others (shoulders, arms, hands, feet, toes).
    prefix: prepended to every bone name (e.g. "mixamorig:"); "" by default.
    """

    name: str
    description: str
    names: dict[str, str]
    extra_root: str | None = None
    armature_name: str = "Armature"
    bone_axes: str = "anatomical"
    prefix: str = ""

    def bone_name(self, canonical: str) -> str:
        """Target name of a canonical joint; joints the preset does not know keep their name."""
        return self.prefix + self.names.get(canonical, canonical)

    def root_name(self) -> str | None:
        return None if self.extra_root is None else self.prefix + self.extra_root

    def with_prefix(self, prefix: str) -> Preset:
        """The same preset with `prefix` on every bone name (Mixamo's own files: "mixamorig:")."""
        return replace(self, prefix=prefix)


def _preset_folder() -> Traversable:
    return resources.files("mocap") / "rigs" / "presets"


def list_presets() -> list[str]:
    """Names of the shipped presets, sorted."""
    folder = _preset_folder()
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


def load_preset(name: str = DEFAULT_PRESET) -> Preset:
    """Load a shipped preset by name (case-insensitive). Unknown name -> PresetError listing valid ones."""
    valid = list_presets()
    key = name.strip().lower()
    if key not in valid:
        raise PresetError(f"unknown rig preset {name!r}; valid presets: {', '.join(valid)}")
    text = (_preset_folder() / f"{key}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    names = dict(data["names"])
    if len(set(names.values())) != len(names):
        raise PresetError(f"rig preset {key!r}: two joints map to the same bone name")
    if data.get("extra_root") in names.values():
        raise PresetError(f"rig preset {key!r}: extra_root {data['extra_root']!r} clashes with a bone name")
    bone_axes = data.get("bone_axes", "anatomical")
    if bone_axes not in BONE_AXES:
        raise PresetError(f"rig preset {key!r}: bone_axes {bone_axes!r} is not one of {BONE_AXES}")
    return Preset(
        name=data["name"],
        description=data.get("description", ""),
        names=names,
        extra_root=data.get("extra_root"),
        armature_name=data.get("armature_name", "Armature"),
        bone_axes=bone_axes,
    )


def resolve_preset(preset: Preset | str | None) -> Preset:
    """A Preset from a Preset, a preset name, or None (the default, mixamo)."""
    if preset is None:
        return load_preset(DEFAULT_PRESET)
    if isinstance(preset, Preset):
        return preset
    return load_preset(preset)


def apply_preset(motion: Motion, preset: Preset | str | None) -> Motion:
    """The same motion on a skeleton whose joints carry the preset's names.

    Joint order, offsets, rotations and root positions are unchanged (arrays are shared,
    not copied). Raises PresetError if the skeleton's joints are not the canonical ones the
    preset maps, or if renaming would give two joints the same name.
    """
    preset = resolve_preset(preset)
    skeleton = motion.skeleton
    unknown = [n for n in skeleton.names if n not in preset.names]
    if unknown:
        raise PresetError(
            f"rig preset {preset.name!r} maps mocap's canonical joints; this skeleton has others: "
            + ", ".join(unknown[:5])
        )
    new_names = tuple(preset.bone_name(n) for n in skeleton.names)
    end_sites = {preset.bone_name(k): v for k, v in skeleton.end_sites_m.items()}
    renamed = Skeleton(names=new_names, parents=skeleton.parents, offsets_m=skeleton.offsets_m, end_sites_m=end_sites)
    return replace(motion, skeleton=renamed)
