"""Rig templates: the data in mocap/rigs/*.json turned into typed objects.

A RigTemplate says which joints exist, how they are parented, which landmark-derived
point each sits at, how its rest offset is obtained (a fixed T-pose direction with a
fitted length, or a fitted offset), and how its world orientation follows from the
landmarks. The meaning of each field is in docs/conventions.md ("Rig data").

Besides the joints, the rig file names the parts the solver treats specially, so no stage
hard-codes a joint or landmark name: `head` (the top of the standing height), `spine`
(the chain turned so its end meets the neck base), `legs` (per side: thigh, shin, foot and
toe joints; ankle, heel and toe-tip landmarks; the names of its two contact points) and
`depth_tree` (the bones along which mocap.solve.refine re-projects depth). `hands` (optional,
added by load_rig(hands=True)) lists the finger joints, which replace each Hand joint's
orientation rule with the hand model's palm, and the relaxed pose (mocap.hands). Every name is
checked when the rig is loaded; a stage given data that lacks a name the rig needs raises
RigError instead of returning its input unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources

import numpy as np

from mocap.data import BLAZEPOSE_NAMES, LandmarkTracks, hand_landmark_names
from mocap.errors import FormatError

_AXES = {"x": 0, "y": 1, "z": 2}


class RigError(FormatError):
    """A rig file that names something that does not exist, or data that lacks a joint or
    landmark the rig needs. The message names the rig and the missing name."""


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
    rest_from: str | None = None  # fitted offsets: measured from this point instead of the parent's


@dataclass(frozen=True)
class HandSide:
    """One hand of the `hands` section: its Hand joint, BlazePose's points on that hand, and
    the orientation rule (from the hand model's landmarks) that replaces the Hand joint's."""

    side: str  # "left" / "right", the performer's own
    hand: str  # the Hand joint
    body_wrist: str  # BlazePose landmarks
    body_index: str
    body_pinky: str
    primary: AxisSpec
    secondary: AxisSpec


@dataclass(frozen=True)
class HandsTemplate:
    """The rig's hands: per side (HandSide), the finger joint names, and the relaxed pose
    (finger name -> {base, direction, lengths, flexion_deg}; see mocap.hands.relaxed_hand)."""

    sides: tuple[HandSide, ...]
    fingers: tuple[str, ...]
    relaxed: dict[str, dict]


@dataclass(frozen=True)
class LegTemplate:
    """One leg: its joints, the landmarks on its foot, and its two contact points' names."""

    side: str  # "left" / "right"
    thigh: str  # joints, hip -> toe
    shin: str
    foot: str
    toe: str
    ankle_point: str  # landmarks
    heel_point: str
    toe_tip_point: str
    heel_contact: str  # contact point names (FootContacts, the contacts sidecar)
    toe_contact: str

    @property
    def joints(self) -> tuple[str, str, str, str]:
        return (self.thigh, self.shin, self.foot, self.toe)


@dataclass(frozen=True)
class SpineTemplate:
    """The spine chain (pelvis side first) whose end, the neck joint, should meet neck_point."""

    chain: tuple[str, ...]
    neck: str
    neck_point: str


@dataclass(frozen=True)
class DepthTree:
    """The tree mocap.solve.refine walks: (parent, child) points, parents first, from the
    root point (the first bone's parent). keep_depth: children whose bone keeps the
    detector's depth; hips: the two hip landmarks raised onto the skeletal hip joints."""

    bones: tuple[tuple[str, str], ...]
    keep_depth: tuple[str, ...]
    hips: tuple[str, str]

    @property
    def root(self) -> str:
        return self.bones[0][0]


@dataclass(frozen=True)
class RigTemplate:
    name: str
    points: dict[str, dict]
    joints: tuple[JointTemplate, ...]
    head: str
    spine: SpineTemplate
    legs: tuple[LegTemplate, ...]
    depth_tree: DepthTree
    hands: HandsTemplate | None = None  # only when loaded with hands=True
    # joint -> (twist axis in its own rest frame (3,), largest twist rate deg/s): mocap.solve.twist
    twist: dict[str, tuple[np.ndarray, float]] = field(default_factory=dict)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    def joint(self, name: str) -> JointTemplate:
        return self.joints[self.joint_names.index(name)]

    @property
    def root_point(self) -> str:
        """The point the root joint sits at (the pelvis: the hip centre)."""
        return self.joints[0].at

    @property
    def trunk(self) -> tuple[str, str]:
        """(bottom, top) points of the trunk: the root joint's point and the neck base."""
        return (self.root_point, self.spine.neck_point)

    @property
    def contact_points(self) -> tuple[str, ...]:
        """Contact point names, per leg heel then toe: e.g. left_heel, left_toe, right_heel, right_toe."""
        return tuple(n for leg in self.legs for n in (leg.heel_contact, leg.toe_contact))

    @property
    def contact_landmarks(self) -> dict[str, str]:
        """Contact point name -> the landmark that shows it: the heel contact's heel landmark,
        the toe contact's toe-tip landmark."""
        return {n: lm for leg in self.legs for n, lm in ((leg.heel_contact, leg.heel_point),
                                                          (leg.toe_contact, leg.toe_tip_point))}

    @property
    def floor_points(self) -> tuple[str, ...]:
        """Landmarks that rest on the floor, per leg heel then toe tip."""
        return tuple(n for leg in self.legs for n in (leg.heel_point, leg.toe_tip_point))


def load_rig(name: str = "humanoid", hands: bool = False) -> RigTemplate:
    """Load mocap/rigs/<name>.json; with hands=True, add its `hands` section (finger joints
    after the body's, each Hand joint oriented by the hand model's palm). Raises RigError
    when it names a joint or point that does not exist (every name is checked here, so the
    stages can trust them), or when hands are asked of a rig without a hands section."""
    text = resources.files("mocap.rigs").joinpath(f"{name}.json").read_text()
    return rig_from_json(json.loads(text), name, hands)


def rig_from_json(data: dict, name: str = "rig", hands: bool = False) -> RigTemplate:
    """A RigTemplate from the parsed JSON of a rig file (`name` for messages); RigError as load_rig."""
    if hands and "hands" not in data:
        raise RigError(f"rig {name}: has no hands section")
    try:
        joints = tuple(_joint_from_json(j) for j in data["joints"])
        hands_template = None
        if hands:
            joints, hands_template = _with_hands(joints, data["hands"])
        spine = data["spine"]
        tree = data["depth_tree"]
        rig = RigTemplate(
            name=data["name"],
            points=data.get("points", {}),
            joints=joints,
            head=data["head"],
            spine=SpineTemplate(tuple(spine["chain"]), spine["neck"], spine["neck_point"]),
            legs=tuple(LegTemplate(**leg) for leg in data["legs"]),
            depth_tree=DepthTree(tuple((a, b) for a, b in tree["bones"]), tuple(tree["keep_depth"]), tuple(tree["hips"])),
            hands=hands_template,
            twist=_twist_limits(data.get("twist", {}).get("joints", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RigError(f"rig {name}: missing or malformed entry {exc}") from exc
    _check_rig(rig)
    return rig


def _with_hands(joints: tuple[JointTemplate, ...], spec: dict) -> tuple[tuple[JointTemplate, ...], HandsTemplate]:
    sides = tuple(
        HandSide(s["side"], s["hand"], s["body_wrist"], s["body_index"], s["body_pinky"],
                 AxisSpec.parse(s["orient"]["primary"]), AxisSpec.parse(s["orient"]["secondary"]))
        for s in spec["sides"]
    )
    by_hand = {s.hand: s for s in sides}
    body = tuple(
        replace(j, primary=by_hand[j.name].primary, secondary=by_hand[j.name].secondary, bend=None, end_site=None)
        if j.name in by_hand else j
        for j in joints
    )
    fingers = tuple(_joint_from_json(j) for j in spec["joints"])
    return body + fingers, HandsTemplate(sides, tuple(j.name for j in fingers), dict(spec["relaxed"]))


def _check_rig(rig: RigTemplate) -> None:
    names = list(rig.joint_names)
    known_points = set(BLAZEPOSE_NAMES) | set(rig.points)
    if rig.hands is not None:
        known_points |= set(hand_landmark_names())

    def joint(name: str, what: str) -> None:
        if name not in names:
            raise RigError(f"rig {rig.name}: {what} {name!r} is not one of its joints")

    def point(name: str, what: str) -> None:
        if name not in known_points:
            raise RigError(f"rig {rig.name}: {what} {name!r} is neither a landmark nor one of its points")

    for j in rig.joints:
        if j.parent is not None:
            joint(j.parent, f"parent of {j.name}")
            if names.index(j.parent) >= names.index(j.name):
                raise RigError(f"rig {rig.name}: joint {j.name} is listed before its parent {j.parent}")
        if j.at is not None:
            point(j.at, f"point of {j.name}")
        if j.rest_from is not None:
            point(j.rest_from, f"rest offset origin of {j.name}")
    for spec in rig.points.values():
        for ref in (spec.get("mid") or spec.get("lerp", [])[:2]):
            point(ref, "point")
    joint(rig.head, "head")
    for n in rig.twist:
        joint(n, "twist-limited joint")
    for n in (*rig.spine.chain, rig.spine.neck):
        joint(n, "spine joint")
    point(rig.spine.neck_point, "neck point")
    for leg in rig.legs:
        for n in leg.joints:
            joint(n, f"{leg.side} leg joint")
        for n in (leg.ankle_point, leg.heel_point, leg.toe_tip_point):
            point(n, f"{leg.side} foot point")
    placed = {rig.depth_tree.root}
    for parent, child in rig.depth_tree.bones:
        point(parent, "depth-tree point")
        point(child, "depth-tree point")
        if parent not in placed:
            raise RigError(f"rig {rig.name}: depth-tree bone {parent}->{child} comes before its parent is placed")
        placed.add(child)
    for n in (*rig.depth_tree.keep_depth, *rig.depth_tree.hips):
        point(n, "depth-tree point")
    if rig.hands is not None:
        for side in rig.hands.sides:
            joint(side.hand, f"{side.side} hand")
            for n in (side.body_wrist, side.body_index, side.body_pinky, side.primary.start, side.primary.end,
                      side.secondary.start, side.secondary.end):
                point(n, f"{side.side} hand point")


def _twist_limits(spec: dict) -> dict[str, tuple[np.ndarray, float]]:
    """The `twist` section's joints: name -> [axis ("x", "-y", ...), deg/s]."""
    out = {}
    for name, (axis_name, deg_s) in spec.items():
        axis = AxisSpec.parse([axis_name, "", ""])
        if not float(deg_s) > 0:
            raise ValueError(f"twist limit of {name} must be > 0 deg/s")
        out[name] = (axis.sign * np.eye(3)[axis.axis], float(deg_s))
    return out


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
        rest_from=rest.get("from"),
    )


def derived_point(rig: RigTemplate, name: str, values: Mapping[str, np.ndarray]) -> np.ndarray:
    """One point by name from per-landmark values (positions, pixels or visibilities: any
    array, combined linearly): values[name] for a landmark, else the rig's rule for it
    (`mid`: the mean of two points; `lerp`: (1 - t) a + t b), applied recursively. This is
    the only definition of the derived points (the pelvis is the hips' midpoint, etc.).
    Raises RigError for a name that is neither."""
    if name in values:
        return values[name]
    spec = rig.points.get(name)
    if spec is None:
        raise RigError(f"rig {rig.name}: needs {name!r}, which the data does not have")
    if "mid" in spec:
        a, b = spec["mid"]
        return 0.5 * (derived_point(rig, a, values) + derived_point(rig, b, values))
    if "lerp" in spec:
        a, b, t = spec["lerp"]
        return (1.0 - t) * derived_point(rig, a, values) + t * derived_point(rig, b, values)
    raise RigError(f"rig {rig.name}: point {name} has no rule (mid or lerp)")


def derived_points(rig: RigTemplate, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`values` plus every derived point of the rig (see derived_point)."""
    points = dict(values)
    for name in rig.points:
        points[name] = derived_point(rig, name, points)
    return points


def columns(names: tuple[str, ...], array: np.ndarray) -> dict[str, np.ndarray]:
    """name -> array[:, i] for per-landmark arrays shaped (T, L, ...) (views, no copies)."""
    return {name: array[:, i] for i, name in enumerate(names)}


def point_positions(rig: RigTemplate, tracks: LandmarkTracks) -> dict[str, np.ndarray]:
    """Every landmark and every derived point of the rig: name -> (T, 3) world metres."""
    return derived_points(rig, columns(tracks.names, tracks.world_m))


def require(rig: RigTemplate, names: tuple[str, ...] | list[str], have: object, what: str) -> None:
    """Raise RigError unless every name is `in have` (a skeleton's names, a dict of points...)."""
    missing = [n for n in names if n not in have]
    if missing:
        raise RigError(f"rig {rig.name}: {what} lacks {', '.join(repr(m) for m in missing)}")
