"""The typed, versioned description that crosses from mocap to Blender (blender_job.py).

Standard library only: a stand-alone Blender runs blender_job.py, which imports this file
from beside itself, without mocap or numpy installed. Both sides validate: mocap builds a
`Job` (mocap.export.scene makes its `Scene`), whose constructor checks every field, and
`Job.to_json()` is what is written; blender_job.py reads the JSON back with
`Job.from_json()`, which checks the schema name and version before anything else and then
builds the same frozen objects, so a description that one side would reject never reaches
Blender. (The idea follows glTF-Blender-IO's generated `gltf2_io` model: plain classes
with typed fields and from_dict/to_dict, instead of an untyped dict.)

    {"schema": "mocap-blender-job", "version": 2,
     "format": "fbx" | "glb" | "usd", "output": "<path>",
     "scene": {"armature_name": str, "action_name": str,
               "fps": float, "fps_int": int, "fps_base": float,
               "frame_start": int, "n_frames": int,
               "bones": [{"name", "parent" (index of an earlier bone, or -1), "head", "tail",
                          "z_axis" (3 floats each, Blender frame, metres),
                          "rest_matrix" (9 floats, row-major 3x3)}, ...],
               "rotations": [[w, x, y, z per frame: 4 * n_frames floats] per bone],
               "locations": [[x, y, z per frame: 3 * n_frames floats] or null, per bone]}}

Version history: 1 was an unchecked dict with the scene's version inside it; 2 is this
schema (frame_end is derived: frame_start + n_frames - 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SCHEMA = "mocap-blender-job"
VERSION = 2
JOB_FORMATS = ("fbx", "glb", "usd")


class SchemaError(ValueError):
    """A job description that does not follow this schema; the message names the field."""


def _floats(value: Any, n: int, where: str) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise SchemaError(f"{where}: expected {n} numbers")
    out = tuple(float(v) for v in value)
    if not all(math.isfinite(v) for v in out):
        raise SchemaError(f"{where}: not finite")
    return out


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SchemaError(message)


@dataclass(frozen=True)
class Bone:
    """One armature bone, Blender frame (Z up), metres."""

    name: str
    parent: int  # index of an earlier bone, -1 for a root
    head: tuple[float, float, float]
    tail: tuple[float, float, float]
    z_axis: tuple[float, float, float]  # the bone's +Z (roll), as EditBone.align_roll takes it
    rest_matrix: tuple[float, ...]  # (9,) row-major 3x3, columns = bone X, Y, Z in armature space

    def __post_init__(self) -> None:
        _check(isinstance(self.name, str) and bool(self.name), f"bone name {self.name!r}: not a non-empty string")
        _check(isinstance(self.parent, int) and self.parent >= -1, f"bone {self.name}: parent {self.parent!r}")
        for field_name, n in (("head", 3), ("tail", 3), ("z_axis", 3), ("rest_matrix", 9)):
            object.__setattr__(self, field_name, _floats(getattr(self, field_name), n, f"bone {self.name}: {field_name}"))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "parent": self.parent, "head": list(self.head), "tail": list(self.tail),
                "z_axis": list(self.z_axis), "rest_matrix": list(self.rest_matrix)}

    @classmethod
    def from_json(cls, data: Any) -> Bone:
        _check(isinstance(data, dict), "bone: not an object")
        try:
            return cls(data["name"], data["parent"], data["head"], data["tail"], data["z_axis"], data["rest_matrix"])
        except KeyError as exc:
            raise SchemaError(f"bone {data.get('name', '?')}: missing {exc}") from None


@dataclass(frozen=True)
class Scene:
    """An armature and its one animation, every frame keyed.

    rotations[b]: 4 * n_frames floats, bone b's pose quaternion (w, x, y, z) per frame;
    locations[b]: 3 * n_frames floats of pose location per frame, or None (no translation).
    """

    armature_name: str
    action_name: str
    fps: float  # the clip's true rate; Blender's is fps_int / fps_base
    fps_int: int
    fps_base: float
    frame_start: int
    n_frames: int
    bones: tuple[Bone, ...]
    rotations: tuple[tuple[float, ...], ...]
    locations: tuple[tuple[float, ...] | None, ...]

    def __post_init__(self) -> None:
        _check(isinstance(self.armature_name, str) and bool(self.armature_name), "armature_name: empty")
        _check(isinstance(self.action_name, str), "action_name: not a string")
        _check(math.isfinite(self.fps) and self.fps > 0, f"fps {self.fps!r}: not positive")
        _check(isinstance(self.fps_int, int) and self.fps_int >= 1, f"fps_int {self.fps_int!r}")
        _check(math.isfinite(self.fps_base) and self.fps_base > 0, f"fps_base {self.fps_base!r}")
        _check(isinstance(self.frame_start, int), f"frame_start {self.frame_start!r}")
        _check(isinstance(self.n_frames, int) and self.n_frames >= 1, f"n_frames {self.n_frames!r}: no frames")
        bones = tuple(b if isinstance(b, Bone) else Bone.from_json(b) for b in self.bones)
        _check(len(bones) >= 1, "bones: none")
        names = [b.name for b in bones]
        _check(len(set(names)) == len(names), "bones: two bones share a name")
        for i, b in enumerate(bones):
            _check(b.parent < i, f"bone {b.name}: parent {b.parent} is not an earlier bone")
        _check(len(self.rotations) == len(bones), f"rotations: {len(self.rotations)} for {len(bones)} bones")
        _check(len(self.locations) == len(bones), f"locations: {len(self.locations)} for {len(bones)} bones")
        rotations = tuple(_floats(r, 4 * self.n_frames, f"rotations of {b.name}") for r, b in zip(self.rotations, bones))
        locations = tuple(
            None if loc is None else _floats(loc, 3 * self.n_frames, f"locations of {b.name}")
            for loc, b in zip(self.locations, bones)
        )
        object.__setattr__(self, "bones", bones)
        object.__setattr__(self, "rotations", rotations)
        object.__setattr__(self, "locations", locations)

    @property
    def frame_end(self) -> int:
        return self.frame_start + self.n_frames - 1

    def to_json(self) -> dict[str, Any]:
        return {
            "armature_name": self.armature_name, "action_name": self.action_name,
            "fps": self.fps, "fps_int": self.fps_int, "fps_base": self.fps_base,
            "frame_start": self.frame_start, "n_frames": self.n_frames,
            "bones": [b.to_json() for b in self.bones],
            "rotations": [list(r) for r in self.rotations],
            "locations": [None if loc is None else list(loc) for loc in self.locations],
        }

    @classmethod
    def from_json(cls, data: Any) -> Scene:
        _check(isinstance(data, dict), "scene: not an object")
        try:
            return cls(
                armature_name=data["armature_name"], action_name=data["action_name"], fps=float(data["fps"]),
                fps_int=data["fps_int"], fps_base=float(data["fps_base"]), frame_start=data["frame_start"],
                n_frames=data["n_frames"], bones=tuple(Bone.from_json(b) for b in data["bones"]),
                rotations=tuple(data["rotations"]), locations=tuple(data["locations"]),
            )
        except KeyError as exc:
            raise SchemaError(f"scene: missing {exc}") from None
        except TypeError as exc:
            raise SchemaError(f"scene: {exc}") from None


@dataclass(frozen=True)
class Job:
    """Build `scene` in an empty Blender scene and export it as `format` to `output`."""

    scene: Scene
    format: str
    output: str

    def __post_init__(self) -> None:
        _check(isinstance(self.scene, Scene), "scene: not a Scene")
        _check(self.format in JOB_FORMATS, f"format {self.format!r}: choose from {', '.join(JOB_FORMATS)}")
        _check(isinstance(self.output, str) and bool(self.output), "output: empty path")

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "version": VERSION, "format": self.format, "output": self.output,
                "scene": self.scene.to_json()}

    @classmethod
    def from_json(cls, data: Any) -> Job:
        _check(isinstance(data, dict), "job: not an object")
        _check(data.get("schema") == SCHEMA, f"job: schema {data.get('schema')!r} is not {SCHEMA!r}")
        _check(data.get("version") == VERSION,
               f"job: version {data.get('version')!r}; this Blender job reads version {VERSION} (mocap and "
               f"blender_job.py come from different mocap versions)")
        try:
            return cls(Scene.from_json(data["scene"]), data["format"], data["output"])
        except KeyError as exc:
            raise SchemaError(f"job: missing {exc}") from None


__all__ = ["Bone", "Job", "JOB_FORMATS", "SCHEMA", "Scene", "SchemaError", "VERSION"]
