"""Rig templates: the data in mocap/rigs/*.json turned into typed objects.

A RigTemplate says which joints exist, how they are parented, which landmark-derived
point each sits at, how its rest offset is obtained (a fixed T-pose direction with a
fitted length, or a fitted offset), and how its world orientation follows from the
landmarks. The meaning of each field is in docs/conventions.md ("Rig data").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from mocap.data import LandmarkTracks

_AXES = {"x": 0, "y": 1, "z": 2}


@dataclass(frozen=True)
class AxisSpec:
    """One axis of a joint frame and the landmark-derived vector it follows."""

    axis: int  # 0, 1, 2 for x, y, z
    sign: float  # +1 or -1
    start: str  # point name
    end: str  # point name

    @classmethod
    def parse(cls, spec: list) -> AxisSpec:
        axis_name, start, end = spec
        sign = -1.0 if axis_name.startswith("-") else 1.0
        return cls(_AXES[axis_name.lstrip("-")], sign, start, end)


@dataclass(frozen=True)
class LengthSpec:
    direction: np.ndarray  # (3,) unit rest direction
    length_of: tuple[str, str] | None  # measure this segment ...
    fraction: float  # ... and scale it; None length_of = distance from the parent's point


@dataclass(frozen=True)
class JointTemplate:
    name: str
    parent: str | None
    at: str | None  # point the joint sits at (None: placed by forward kinematics only)
    mirror: str | None
    rest: LengthSpec | None  # None with fit_rest=True: offset fitted in the parent's frame
    fit_rest: bool
    primary: AxisSpec | None
    secondary: AxisSpec | None
    bend: AxisSpec | None
    interp: tuple[str, str, float] | None
    end_site: LengthSpec | None


@dataclass(frozen=True)
class RigTemplate:
    name: str
    points: dict[str, dict]
    joints: tuple[JointTemplate, ...]

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    def joint(self, name: str) -> JointTemplate:
        return self.joints[self.joint_names.index(name)]


def load_rig(name: str = "humanoid") -> RigTemplate:
    """Load mocap/rigs/<name>.json."""
    text = resources.files("mocap.rigs").joinpath(f"{name}.json").read_text()
    data = json.loads(text)
    joints = tuple(_joint_from_json(j) for j in data["joints"])
    names = [j.name for j in joints]
    for j in joints:
        if j.parent is not None and names.index(j.parent) >= names.index(j.name):
            raise ValueError(f"rig {name}: joint {j.name} is listed before its parent {j.parent}")
    return RigTemplate(data["name"], data.get("points", {}), joints)


def _length_spec(spec: dict | None) -> LengthSpec | None:
    if not spec or "dir" not in spec:
        return None
    direction = np.asarray(spec["dir"], dtype=float)
    length_of = tuple(spec["length_of"]) if "length_of" in spec else None
    return LengthSpec(direction / np.linalg.norm(direction), length_of, float(spec.get("fraction", 1.0)))


def _joint_from_json(j: dict) -> JointTemplate:
    orient = j.get("orient", {})
    rest = j.get("rest", {})
    return JointTemplate(
        name=j["name"],
        parent=j.get("parent"),
        at=j.get("at"),
        mirror=j.get("mirror"),
        rest=_length_spec(rest),
        fit_rest=bool(rest.get("fit", False)),
        primary=AxisSpec.parse(orient["primary"]) if "primary" in orient else None,
        secondary=AxisSpec.parse(orient["secondary"]) if "secondary" in orient else None,
        bend=AxisSpec.parse(orient["bend"]) if "bend" in orient else None,
        interp=(orient["interp"][0], orient["interp"][1], float(orient["interp"][2])) if "interp" in orient else None,
        end_site=_length_spec(j.get("end_site")),
    )


def point_positions(rig: RigTemplate, tracks: LandmarkTracks) -> dict[str, np.ndarray]:
    """Every landmark and every derived point of the rig: name -> (T, 3) world metres."""
    return points_from_world(rig, tracks.names, tracks.world_m)


def points_from_world(rig: RigTemplate, names: tuple[str, ...], world_m: np.ndarray) -> dict[str, np.ndarray]:
    """point_positions for bare arrays: landmark `names` (L) and world_m (T, L, 3) metres."""
    points: dict[str, np.ndarray] = {name: world_m[:, i] for i, name in enumerate(names)}
    for name, spec in rig.points.items():
        if "mid" in spec:
            a, b = spec["mid"]
            points[name] = 0.5 * (points[a] + points[b])
        elif "lerp" in spec:
            a, b, t = spec["lerp"]
            points[name] = (1.0 - t) * points[a] + t * points[b]
        else:
            raise ValueError(f"rig {rig.name}: point {name} has no rule (mid or lerp)")
    return points
