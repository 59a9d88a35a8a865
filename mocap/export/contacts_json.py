"""The contacts sidecar: a small JSON file beside the motion files.

    {
      "format": "mocap-contacts/1",
      "fps": 30.0,
      "frame_count": 120,
      "start_time_s": 0.0,
      "points": {
        "left_heel": {"ranges": [[0, 14], [40, 61]], "frames": [1, 1, ..., 0]},
        ...
      }
    }

Frames are 0-based output frames (the same numbering as the BVH/FBX frames); ranges are
inclusive [first, last]; `frames` has one 0/1 flag per frame. Written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mocap.data import FootContacts
from mocap.atomic import atomic_path
from mocap.timeseries import run_ranges

SIDECAR_FORMAT = "mocap-contacts/1"


def contacts_to_dict(contacts: FootContacts, start_time_s: float = 0.0) -> dict:
    """The sidecar's content as plain Python data."""
    flags = np.asarray(contacts.in_contact, bool)
    return {
        "format": SIDECAR_FORMAT,
        "fps": float(contacts.fps),
        "frame_count": int(flags.shape[0]),
        "start_time_s": float(start_time_s),
        "points": {
            name: {
                "ranges": [[int(a), int(b)] for a, b in run_ranges(flags[:, c])],
                "frames": [int(x) for x in flags[:, c]],
            }
            for c, name in enumerate(contacts.names)
        },
    }


def write_contacts(contacts: FootContacts, path: Path, start_time_s: float = 0.0) -> Path:
    """Write the contacts sidecar JSON to `path` atomically; returns `path`."""
    path = Path(path)
    data = contacts_to_dict(contacts, start_time_s)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    return path


def read_contacts(path: Path) -> FootContacts:
    """Read a sidecar back."""
    data = json.loads(Path(path).read_text())
    names = tuple(data["points"])
    flags = np.array([data["points"][n]["frames"] for n in names], dtype=bool).T.reshape(data["frame_count"], len(names))
    return FootContacts(names, flags, float(data["fps"]))


__all__ = ["write_contacts", "read_contacts", "contacts_to_dict", "SIDECAR_FORMAT"]
