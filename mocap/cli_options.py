"""The options `mocap convert` and `mocap batch` share, each declared once, and their parsers.

Each shared option is a typer `Annotated` alias (name, help, validation); a command declares
it as `smoothing: Smoothing = "medium"` (typer takes the default from the signature, so the
defaults stand in each command, and tests/test_batch.py checks they agree). Each option value
that needs more than typer's own checks has one parser here (`parse_smoothing`, ...), raising
typer.BadParameter: one line, exit 2, before any work. `convert_options` turns a command's
values into the pipeline's ConvertOptions. No heavy import at module level (the CLI imports
this at start-up).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from mocap.choices import Depth, FootLock, RootMotion, Travel


class Model(str, enum.Enum):
    lite = "lite"
    full = "full"
    heavy = "heavy"


class Units(str, enum.Enum):
    cm = "cm"
    m = "m"


class HandsDetector(str, enum.Enum):
    holistic = "holistic"
    crops = "crops"


# ----------------------------------------------------------------------------- parsers


def parse_formats(text: str) -> tuple[str, ...]:
    """'bvh,fbx' -> ('bvh', 'fbx'): lower case, duplicates dropped, each one of pipeline.FORMATS."""
    from mocap.pipeline import FORMATS

    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in formats if f not in FORMATS]
    if not formats or bad:
        raise typer.BadParameter(
            f"unknown format {', '.join(bad) or text!r}; choose from {', '.join(FORMATS)}", param_hint="--format"
        )
    return formats


MIN_CUTOFF_HZ = 0.1  # the lowest --smoothing cut-off (a 10 s period); solvable up to --fps 1000


def parse_smoothing(text: str, fps: float | None = None):
    """'none' | 'light' | 'medium' | 'strong' | a cut-off in Hz ('4', '4hz') -> SmoothingConfig.

    A cut-off given in Hz must be a finite number of at least MIN_CUTOFF_HZ, and below half the output frame
    rate when that rate is known here (`fps`: --fps): at or above it the smoother can do
    nothing more than it does just under it. Where the rate is the clip's own, it is known
    only once the clip is probed: the pipeline then smooths as lightly as the rate allows and
    says so (pipeline.smoothing_warnings). A named preset is never an error.
    """
    from mocap.smooth import SMOOTHING_PRESETS_HZ, SmoothingConfig

    key = text.strip().lower()
    if key in SMOOTHING_PRESETS_HZ:
        return SmoothingConfig(cutoff_hz=SMOOTHING_PRESETS_HZ[key])
    try:
        hz = float(key.removesuffix("hz"))
    except ValueError:
        raise typer.BadParameter(
            param_hint="--smoothing", message=f"{text!r}: use none, light, medium, strong or a cut-off frequency in Hz such as 4"
        ) from None
    if not math.isfinite(hz):
        raise typer.BadParameter(f"{text!r}: the cut-off frequency must be a finite number of Hz (no smoothing: none)",
                                 param_hint="--smoothing")
    if hz <= 0:
        raise typer.BadParameter(f"{text!r}: the cut-off frequency must be positive", param_hint="--smoothing")
    if hz < MIN_CUTOFF_HZ:
        # Below 0.1 Hz the smoother flattens whole seconds of motion into a line, and far
        # below it (1e-5 Hz) its banded system is too ill-conditioned to solve.
        raise typer.BadParameter(f"{text!r}: the cut-off frequency must be at least {MIN_CUTOFF_HZ:g} Hz",
                                 param_hint="--smoothing")
    if fps is not None and hz >= fps / 2:
        raise typer.BadParameter(
            f"{text!r}: the cut-off frequency must be below half the frame rate (--fps {fps:g}: below {fps / 2:g} Hz)",
            param_hint="--smoothing",
        )
    return SmoothingConfig(cutoff_hz=hz)


def parse_rig(text: str) -> str:
    """A naming preset's name (mocap/rigs/presets), as load_preset spells it."""
    from mocap.presets import PresetError, load_preset

    try:
        return load_preset(text).name
    except PresetError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rig") from None


def parse_person_option(text: str | None) -> str | None:
    """--person, checked (mocap.detect.people.parse_person) and kept as written."""
    from mocap.detect.people import parse_person

    if text is None:
        return None
    try:
        parse_person(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--person") from None
    return text


def parse_rotation_order(text: str) -> str:
    """'zxy' -> 'ZXY': a permutation of XYZ (BVH channel order)."""
    order = text.strip().upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise typer.BadParameter(f"{text!r}: a rotation order is a permutation of XYZ, such as ZXY", param_hint="--rotation-order")
    return order


def finite(value: float | None) -> float | None:
    """typer callback: reject inf and nan, which typer's min/max let through when one bound is open."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value}: must be a finite number")
    return value


# ----------------------------------------------------------------------------- the shared options

Format = Annotated[
    str,
    typer.Option(
        "--format", "-f",
        help="Comma-separated: bvh, fbx, glb, usd (.usdc), usda (USD as text), json (motion for the Blender add-on).",
    ),
]
Smoothing = Annotated[
    str, typer.Option("--smoothing", help="none, light (8 Hz), medium (4 Hz), strong (2.5 Hz) or a cut-off in Hz.")
]
RotationOrder = Annotated[str, typer.Option("--rotation-order", help="BVH Euler order.")]
UnitsOption = Annotated[Units, typer.Option("--units", help="BVH units.")]
Rig = Annotated[str, typer.Option("--rig", help="Bone names: mixamo, ue5, unity, rigify or vrm (all formats).")]
Blender = Annotated[
    Path | None,
    typer.Option("--blender", dir_okay=False, help="Blender executable for FBX/GLB/USD when bpy is not installed."),
]
ModelOption = Annotated[Model, typer.Option("--model", help="BlazePose model; full is bundled, lite/heavy download.")]
CacheDir = Annotated[
    Path | None, typer.Option("--cache-dir", file_okay=False, help="Landmark cache folder (default ~/.cache/mocap).")
]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Always re-run detection.")]
RootMotionOption = Annotated[
    RootMotion,
    typer.Option("--root-motion", help="Hip travel: full (from the camera), horizontal (over the floor only) or off."),
]
TravelOption = Annotated[
    Travel,
    typer.Option(
        "--travel",
        help="How far the hips travel: image (default: as the camera sees; a performer who stays in place "
        "stays in place, feet slide as on a treadmill) or feet (every planted step moves the hips: "
        "a camera that pans to follow).",
    ),
]
FootLockOption = Annotated[
    FootLock, typer.Option("--foot-lock", help="on: hold planted feet still (legs by IK); off: leave them.")
]
Fov = Annotated[
    float | None,
    typer.Option(
        "--fov", min=1.0, max=179.0,
        help="Camera's diagonal field of view in degrees (default: file metadata, else 79.5, a phone's main camera).",
    ),
]
DepthOption = Annotated[
    Depth,
    typer.Option(
        "--depth",
        help="Depth prior for the pose: blazepose (its own 3D) or learned (a network lifting its 2D, averaged with "
        "BlazePose's 3D; see docs/motion-quality.md).",
    ),
]
Contacts = Annotated[bool, typer.Option("--contacts/--no-contacts", help="Write foot contacts to <name>.contacts.json.")]
Fps = Annotated[
    float | None,
    typer.Option(
        "--fps", min=1.0, max=1000.0,
        help="Output frame rate (frames resampled on their true timestamps). Default: the clip's own; "
        "a variable-rate clip gets its nominal rate.",
    ),
]
Person = Annotated[
    str | None,
    typer.Option(
        "--person",
        help="Whom to follow when several people are in view: largest (default), centre, left, right, "
        "or X,Y (pixels) of a point on the person in the first frame.",
    ),
]
Hands = Annotated[
    bool, typer.Option("--hands/--no-hands", help="Also solve the fingers (MediaPipe's hand model; a second, slower detection pass).")
]
HandsDetectorOption = Annotated[
    HandsDetector, typer.Option("--hands-detector", help="With --hands: holistic finds more hands; crops is faster.")
]


def _trim(name: str, help: str) -> Any:
    return Annotated[float | None, typer.Option(name, min=0.0, help=help)]


Start = _trim("--start", "Start time in seconds.")
End = _trim("--end", "End time in seconds.")
BatchStart = _trim("--start", "Start time in seconds (every video).")
BatchEnd = _trim("--end", "End time in seconds (every video).")


def convert_options(values: Mapping[str, Any], **fields: Any):
    """pipeline.ConvertOptions from a command's values of the shared options, by parameter
    name (the command's `locals()`); `fields` sets the rest (report_path) or overrides one.
    Raises typer.BadParameter for values that do not go together (--end not after --start;
    a cut-off in Hz not below half of --fps)."""
    from mocap.pipeline import ConvertOptions

    start, end, fps = values["start"], values["end"], values["fps"]
    if start is not None and end is not None and end <= start:
        raise typer.BadParameter(f"--end ({end}) must be after --start ({start})", param_hint="--end")
    options = dict(
        formats=parse_formats(values["format"]),
        start_s=start,
        end_s=end,
        model=values["model"].value,
        smoothing=parse_smoothing(values["smoothing"], fps=fps),
        rotation_order=parse_rotation_order(values["rotation_order"]),
        units=values["units"].value,
        rig=parse_rig(values["rig"]),
        blender_exe=values["blender"],
        cache_dir=values["cache_dir"],
        use_cache=not values["no_cache"],
        root_motion=values["root_motion"],
        foot_lock=values["foot_lock"],
        travel=values["travel"],
        person=parse_person_option(values["person"]),
        fov_deg=values["fov"],
        contacts_sidecar=values["contacts"],
        depth=values["depth"],
        fps=fps,
        preview=values["preview"],
        hands=values["hands"],
        hands_method=values["hands_detector"].value,
        matte=values["matte"],
    )
    options.update(fields)
    return ConvertOptions(**options)
