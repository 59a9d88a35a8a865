"""User-facing choices shared by the CLI, the pipeline and the solver, defined once.

No dependencies (the CLI imports this at start-up). Each is a `str` enum, so a value
compares equal to its string ("full" == RootMotion.FULL) and typer lists the values.
"""

from __future__ import annotations

import enum


class RootMotion(str, enum.Enum):
    """How the hips travel (docs/motion-quality.md)."""

    FULL = "full"  # travel and height from the camera
    HORIZONTAL = "horizontal"  # travel over the floor; height from the pose (lowest foot on the floor)
    OFF = "off"  # hips in place; height from the pose


class FootLock(str, enum.Enum):
    """Whether planted feet are held still (legs by IK, hips steered by the feet)."""

    ON = "on"
    OFF = "off"


class Travel(str, enum.Enum):
    """Whose evidence sets how far the hips travel (mocap.solve.anchor.travel_blend)."""

    IMAGE = "image"  # the camera's view: a performer who stays in place in the image stays in place
    FEET = "feet"  # planted feet: every planted step moves the hips (a camera that pans to follow)


class Depth(str, enum.Enum):
    """Where the solver's depth prior comes from (docs/motion-quality.md, "Learned depth")."""

    BLAZEPOSE = "blazepose"  # BlazePose's own world landmarks
    LEARNED = "learned"  # a temporal network lifting BlazePose's 2D (mocap/lift.py)


def parse_choice(kind: type[enum.Enum], value: str | enum.Enum, what: str) -> enum.Enum:
    """`kind(value)`, with a ValueError naming `what` and the allowed values."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        raise ValueError(f"{what} {value!r}: choose from {allowed}") from None


__all__ = ["RootMotion", "FootLock", "Travel", "Depth", "parse_choice"]
