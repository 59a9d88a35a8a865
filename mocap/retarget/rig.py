"""The two skeletons a retarget joins, as plain arrays (no bpy, no scipy).

- `SourceSkeleton`: mocap's canonical rig (mocap/rigs/humanoid.json): Y up, metres, the
  performer faces +Z and their left is +X, rest pose a T-pose whose joint frames all equal
  the world frame (docs/conventions.md).
- `ArmatureRig`: any armature as Blender stores it, in *armature space* (the armature
  object's own axes and units; usually Z up, the character facing -Y): for each bone its
  rest head and tail and its rest orientation (the rotation part of `Bone.matrix_local`,
  columns = the bone's X, Y, Z axes, Y from head to tail). The add-on fills it from
  `armature.data.bones` (blender_addon/rig_io.py); tests build it the same way.

Pose convention (Blender's, reproduced by mocap.retarget.solver): a bone's armature-space
pose is P_b = P_parent · Rest_parent⁻¹ · Rest_b · Basis_b, where Rest is the 4x4 rest
matrix [R_rest | head] and Basis the bone's own channels (location, rotation_quaternion).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import quat
from .errors import RetargetError


@dataclass(frozen=True)
class SourceSkeleton:
    """mocap's canonical skeleton. names/parents (J,), parents-first (parents[j] < j, root -1);
    rest_m (J, 3): rest world positions, internal frame (Y up), metres; end_sites_m: joint name
    -> (3,) offset of its end point (hands, head, toes)."""

    names: tuple[str, ...]
    parents: tuple[int, ...]
    rest_m: np.ndarray
    end_sites_m: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_offsets(cls, names, parents, offsets_m, end_sites_m=None) -> SourceSkeleton:
        """From parent-relative rest offsets (J, 3) as in mocap.data.Skeleton."""
        offsets = np.asarray(offsets_m, dtype=float)
        rest = np.zeros_like(offsets)
        for j, p in enumerate(parents):
            rest[j] = offsets[j] if p < 0 else rest[p] + offsets[j]
        ends = {k: np.asarray(v, dtype=float) for k, v in (end_sites_m or {}).items()}
        return cls(tuple(names), tuple(int(p) for p in parents), rest, ends)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def world_rotations(self, local_xyzw: np.ndarray) -> np.ndarray:
        """(T, J, 4) world rotations from (T, J, 4) local rotations (R_world = R_parent · R_local)."""
        local = np.asarray(local_xyzw, dtype=float)
        world = np.empty_like(local)
        for j, p in enumerate(self.parents):
            world[:, j] = local[:, j] if p < 0 else quat.mul(world[:, p], local[:, j])
        return world

    def positions(self, root_m: np.ndarray, world_xyzw: np.ndarray) -> np.ndarray:
        """(T, J, 3) world joint positions from root positions (T, 3) and world rotations (T, J, 4)."""
        world = np.asarray(world_xyzw, dtype=float)
        pos = np.empty(world.shape[:2] + (3,))
        for j, p in enumerate(self.parents):
            if p < 0:
                pos[:, j] = root_m
            else:
                pos[:, j] = pos[:, p] + quat.rotate(world[:, p], self.rest_m[j] - self.rest_m[p])
        return pos


@dataclass(frozen=True)
class ArmatureRig:
    """An armature's rest pose in armature space (see the module docstring).

    names/parents (B,), parents-first (parents[b] < b, roots -1); head/tail (B, 3);
    rest_xyzw (B, 4) rest orientation of each bone (columns of its matrix: X, Y, Z axes);
    connected (B,) bool: the bone's head is glued to its parent's tail (Blender ignores
    its location channel). `name` is the armature's name (for messages only).
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    head: np.ndarray
    tail: np.ndarray
    rest_xyzw: np.ndarray
    connected: np.ndarray
    name: str = "Armature"

    def __post_init__(self) -> None:
        n = len(self.names)
        for label, arr, shape in (("head", self.head, (n, 3)), ("tail", self.tail, (n, 3)),
                                  ("rest_xyzw", self.rest_xyzw, (n, 4)), ("connected", self.connected, (n,))):
            if np.shape(arr) != shape:
                raise RetargetError(f"armature {self.name!r}: {label} has shape {np.shape(arr)}, expected {shape}")
        for b, p in enumerate(self.parents):
            if p >= b:
                raise RetargetError(f"armature {self.name!r}: bones are not ordered parents first at {self.names[b]!r}")

    @property
    def n_bones(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise RetargetError(f"armature {self.name!r} has no bone {name!r}") from None

    def children(self, b: int) -> list[int]:
        return [c for c, p in enumerate(self.parents) if p == b]

    def ancestors(self, b: int) -> list[int]:
        """Parents of b, nearest first."""
        out = []
        p = self.parents[b]
        while p >= 0:
            out.append(p)
            p = self.parents[p]
        return out

    @classmethod
    def from_bones(cls, bones: list[dict], name: str = "Armature") -> ArmatureRig:
        """From dicts {name, parent (name or None), head, tail, matrix (3x3 rows), connected};
        any order (sorted parents-first here)."""
        by_name = {b["name"]: b for b in bones}
        order: list[str] = []
        seen: set[str] = set()

        def visit(n: str, stack: tuple[str, ...] = ()) -> None:
            if n in seen:
                return
            if n in stack:
                raise RetargetError(f"armature {name!r}: bone parents form a loop at {n!r}")
            parent = by_name[n].get("parent")
            if parent is not None:
                if parent not in by_name:
                    raise RetargetError(f"armature {name!r}: bone {n!r} has unknown parent {parent!r}")
                visit(parent, stack + (n,))
            seen.add(n)
            order.append(n)

        for b in bones:
            visit(b["name"])
        index = {n: i for i, n in enumerate(order)}
        get = [by_name[n] for n in order]
        return cls(
            names=tuple(order),
            parents=tuple(-1 if b.get("parent") is None else index[b["parent"]] for b in get),
            head=np.array([b["head"] for b in get], dtype=float).reshape(-1, 3),
            tail=np.array([b["tail"] for b in get], dtype=float).reshape(-1, 3),
            rest_xyzw=quat.from_matrix(np.array([b["matrix"] for b in get], dtype=float).reshape(-1, 3, 3)),
            connected=np.array([bool(b.get("connected", False)) for b in get], dtype=bool),
            name=name,
        )

    def to_dict(self) -> dict:
        """JSON-able form (tests and bug reports); read back with from_dict."""
        return {
            "format": "mocap-armature/1",
            "name": self.name,
            "bones": [
                {"name": n, "parent": None if p < 0 else self.names[p], "head": h.tolist(), "tail": t.tolist(),
                 "matrix": m.tolist(), "connected": bool(c)}
                for n, p, h, t, m, c in zip(self.names, self.parents, self.head, self.tail,
                                            quat.to_matrix(self.rest_xyzw), self.connected)
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> ArmatureRig:
        return cls.from_bones(data["bones"], data.get("name", "Armature"))

    @classmethod
    def load(cls, path: str | Path) -> ArmatureRig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
