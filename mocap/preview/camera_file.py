"""The camera sidecar: the solver's camera beside the motion files, so a preview can be drawn
later from the files alone (`mocap preview VIDEO MOTION`).

    {
      "format": "mocap-camera/1",
      "video": "dance.mp4", "video_sha256": "…",
      "image_size_px": [1920, 1080],            # displayed size (rotation applied)
      "focal_px": 1386.2, "principal_point_px": [959.5, 539.5],
      "R_cv_from_world": [[...], [...], [...]], # p_cv = R p_world + t (mocap.camera.CameraPose)
      "t_cv_from_world_m": [x, y, z],
      "fps": 30.0, "frame_count": 120, "start_time_s": 0.0,
      "rig": "mixamo",                          # the bone-name preset of the motion files
      "bvh_units": "cm",                        # the BVH's length unit
      "source_span_s": [0.0, 3.967]             # first and last source frame converted (optional)
    }

World = the motion files' frame (mocap's internal frame, metres, Y up); motion frame k is
shown at start_time_s + k / fps in the source video. source_span_s: the presentation times of
the first and last source frames the motion was made from (a resampled take, --fps or a
variable rate, may end up to one motion frame before its last source frame); files without it
are read as spanning the motion's own frames. Written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap.camera import Camera, CameraPose
from mocap.errors import FormatError, InputError
from mocap.atomic import atomic_path

CAMERA_FORMAT = "mocap-camera/1"


@dataclass(frozen=True)
class CameraFile:
    """What the sidecar holds."""

    camera: Camera
    pose: CameraPose
    fps: float
    frame_count: int
    start_time_s: float
    rig: str
    video: str = ""
    bvh_units: str = "cm"
    video_sha256: str = ""  # the source video's content hash (VideoInfo.content_hash)
    source_span_s: tuple[float, float] | None = None  # first, last source frame time (s) converted


def camera_file_path(motion_path: Path) -> Path:
    """Where the sidecar of a motion file lives: <stem>.camera.json beside it."""
    motion_path = Path(motion_path)
    return motion_path.with_name(f"{motion_path.stem}.camera.json")


def write_camera_file(path: Path, data: CameraFile) -> Path:
    """Write the sidecar atomically; returns `path`."""
    cam, pose = data.camera, data.pose
    doc = {
        "format": CAMERA_FORMAT,
        "video": data.video,
        "video_sha256": data.video_sha256,
        "image_size_px": [cam.width_px, cam.height_px],
        "focal_px": cam.focal_px,
        "principal_point_px": [cam.cx_px, cam.cy_px],
        "R_cv_from_world": np.asarray(pose.R_cv_from_world, float).tolist(),
        "t_cv_from_world_m": np.asarray(pose.t_cv_from_world_m, float).tolist(),
        "fps": float(data.fps),
        "frame_count": int(data.frame_count),
        "start_time_s": float(data.start_time_s),
        "rig": data.rig,
        "bvh_units": data.bvh_units,
    }
    if data.source_span_s is not None:
        doc["source_span_s"] = [float(t) for t in data.source_span_s]
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path


def read_camera_file(path: Path) -> CameraFile:
    """Read a sidecar. Raises InputError when missing, FormatError when malformed."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: camera file not found (mocap convert writes it beside the motion files)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != CAMERA_FORMAT:
            raise FormatError(f"{path}: not a {CAMERA_FORMAT} file (format {doc.get('format')!r})")
        width, height = (int(v) for v in doc["image_size_px"])
        cx, cy = (float(v) for v in doc["principal_point_px"])
        rot = np.array(doc["R_cv_from_world"], dtype=float)
        t = np.array(doc["t_cv_from_world_m"], dtype=float)
        if rot.shape != (3, 3) or t.shape != (3,):
            raise ValueError("R_cv_from_world must be 3x3 and t_cv_from_world_m 3 numbers")
        span = doc.get("source_span_s")
        if span is not None:
            first, last = (float(v) for v in span)
            if not first <= last:
                raise ValueError(f"source_span_s {span} does not run forward")
            span = (first, last)
        return CameraFile(
            camera=Camera(width, height, float(doc["focal_px"]), cx, cy),
            pose=CameraPose(rot, t),
            fps=float(doc["fps"]),
            frame_count=int(doc["frame_count"]),
            start_time_s=float(doc["start_time_s"]),
            rig=str(doc.get("rig", "mixamo")),
            video=str(doc.get("video", "")),
            bvh_units=str(doc.get("bvh_units", "cm")),
            video_sha256=str(doc.get("video_sha256", "")),
            source_span_s=span,
        )
    except FormatError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise FormatError(f"{path}: malformed camera file ({exc})") from exc
