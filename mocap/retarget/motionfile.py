"""The motion file the add-on reads: mocap's canonical motion as JSON (`--format json`).

    {
      "format": "mocap-motion/1",
      "name": "squats", "fps": 30.0, "start_time_s": 0.0, "frame_count": T,
      "frame": "internal: right-handed, Y up, metres; performer faces +Z, left is +X",
      "joints": [{"name": "Hips", "parent": null, "offset_m": [x, y, z], "end_site_m": null}, ...],
      "root_position_m": [[x, y, z], ...],                      # (T, 3)
      "rotations_xyzw": [[[x, y, z, w], ...], ...],             # (T, J, 4) local, scalar-last
      "contacts": {"left_heel": [0, 1, ...], ...},              # (T,) 0/1 per point, or {}
      "gaps": [[first, last], ...]                              # frames filled, not observed
    }

Canonical joint names always (mocap/rigs/humanoid.json), whatever `--rig` says: the
add-on maps them onto the user's armature itself. Pure Python (json + numpy); the writer
(mocap.export.motion_json) makes it atomic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import RetargetError
from .rig import SourceSkeleton

MOTION_FORMAT = "mocap-motion/1"
FRAME_NOTE = "internal: right-handed, Y up, metres; performer faces +Z, left is +X"


@dataclass(frozen=True)
class SourceMotion:
    """A canonical motion. root_m (T, 3) metres; local_xyzw (T, J, 4); contacts: point name ->
    (T,) bool (left_heel, left_toe, right_heel, right_toe); gaps: inclusive frame ranges."""

    skeleton: SourceSkeleton
    fps: float
    root_m: np.ndarray
    local_xyzw: np.ndarray
    contacts: dict[str, np.ndarray] = field(default_factory=dict)
    start_time_s: float = 0.0
    gaps: tuple[tuple[int, int], ...] = ()
    name: str = "mocap"

    @property
    def n_frames(self) -> int:
        return int(self.root_m.shape[0])

    def world_xyzw(self) -> np.ndarray:
        """(T, J, 4) world rotations."""
        return self.skeleton.world_rotations(self.local_xyzw)

    def side_contact(self, side: str) -> np.ndarray:
        """(T,) bool: any contact point of 'left' or 'right' foot on the floor (False if unknown)."""
        flags = [v for k, v in self.contacts.items() if k.startswith(side + "_")]
        if not flags:
            return np.zeros(self.n_frames, dtype=bool)
        return np.any(np.stack(flags), axis=0)


def motion_to_dict(names, parents, offsets_m, end_sites_m, fps, root_m, local_xyzw,
                   contacts=None, start_time_s=0.0, gaps=(), name="mocap") -> dict:
    """The file's content from plain arrays (see the module docstring for shapes)."""
    root_m = np.asarray(root_m, dtype=float)
    local = np.asarray(local_xyzw, dtype=float)
    joints = [
        {"name": n, "parent": None if p < 0 else names[p], "offset_m": np.round(o, 6).tolist(),
         "end_site_m": None if n not in end_sites_m else np.round(np.asarray(end_sites_m[n], float), 6).tolist()}
        for n, p, o in zip(names, parents, np.asarray(offsets_m, dtype=float))
    ]
    return {
        "format": MOTION_FORMAT,
        "name": name,
        "fps": float(fps),
        "start_time_s": float(start_time_s),
        "frame_count": int(root_m.shape[0]),
        "frame": FRAME_NOTE,
        "joints": joints,
        "root_position_m": np.round(root_m, 6).tolist(),
        "rotations_xyzw": np.round(local, 7).tolist(),
        "contacts": {k: np.asarray(v, bool).astype(int).tolist() for k, v in (contacts or {}).items()},
        "gaps": [[int(a), int(b)] for a, b in gaps],
    }


def motion_from_dict(data: dict, source: str = "motion") -> SourceMotion:
    """Parse and check a motion dict; RetargetError naming `source` when it is malformed."""
    if not isinstance(data, dict) or data.get("format") != MOTION_FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise RetargetError(f"{source}: not a mocap motion file (format {got!r}, expected {MOTION_FORMAT!r})")
    try:
        joints = data["joints"]
        names = tuple(j["name"] for j in joints)
        index = {n: i for i, n in enumerate(names)}
        parents = tuple(-1 if j["parent"] is None else index[j["parent"]] for j in joints)
        offsets = np.array([j["offset_m"] for j in joints], dtype=float).reshape(-1, 3)
        ends = {j["name"]: np.array(j["end_site_m"], float) for j in joints if j.get("end_site_m") is not None}
        root = np.array(data["root_position_m"], dtype=float).reshape(-1, 3)
        local = np.array(data["rotations_xyzw"], dtype=float)
        fps = float(data["fps"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RetargetError(f"{source}: malformed mocap motion file ({type(exc).__name__}: {exc})") from None
    n = root.shape[0]
    if local.shape != (n, len(names), 4) or not fps > 0 or n < 1:
        raise RetargetError(f"{source}: rotations have shape {local.shape}, expected ({n}, {len(names)}, 4)")
    if any(p >= j for j, p in enumerate(parents)):
        raise RetargetError(f"{source}: joints are not listed parents first")
    if not (np.all(np.isfinite(local)) and np.all(np.isfinite(root))):
        raise RetargetError(f"{source}: the motion holds NaN or infinite values")
    contacts = {k: np.asarray(v, dtype=bool) for k, v in (data.get("contacts") or {}).items()}
    bad = [k for k, v in contacts.items() if v.shape != (n,)]
    if bad:
        raise RetargetError(f"{source}: contact flags {bad[0]!r} do not have one value per frame")
    return SourceMotion(
        skeleton=SourceSkeleton.from_offsets(names, parents, offsets, ends),
        fps=fps,
        root_m=root,
        local_xyzw=local,
        contacts=contacts,
        start_time_s=float(data.get("start_time_s", 0.0)),
        gaps=tuple((int(a), int(b)) for a, b in data.get("gaps", [])),
        name=str(data.get("name") or "mocap"),
    )


def read_motion(path: str | Path) -> SourceMotion:
    """Read a motion file written by `mocap convert --format json`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RetargetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise RetargetError(f"{path}: not valid JSON ({exc})") from None
    return motion_from_dict(data, str(path))
