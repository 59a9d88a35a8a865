"""The MediaPipe segmentation adapter: frames -> the person's mask, one per frame.

Two models ship in the mediapipe 0.10.21 wheel and both are offered:

pose:   BlazePose's own segmentation (legacy `solutions.pose` with enable_segmentation,
        full model, video mode), the mask of the person BlazePose tracks; a frame with no
        pose gets an empty mask. MediaPipe's own segmentation smoothing is off: mocap.matte
        smooths over time itself, zero-phase and at the clip's own rate.
selfie: Selfie Segmentation (landscape model, 144 x 256 input), which masks every person
        in view and needs no pose.

Masks are (H, W) float32 in [0, 1], the frame's displayed size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import numpy as np

from mocap import native_output
from mocap.data import Frame
from mocap.errors import DetectionError

SOURCES = ("pose", "selfie")


def person_masks(frames: Iterable[Frame], source: str = "pose") -> Iterator[tuple[Frame, np.ndarray]]:
    """(frame, mask) for every frame, in order (module docstring). Raises DetectionError for
    an unknown source or when the graph cannot start or fails on a frame."""
    if source not in SOURCES:
        raise DetectionError(f"unknown matte source {source!r} (choose from: {', '.join(SOURCES)})")
    try:
        from mediapipe.python.solutions import pose as mp_pose
        from mediapipe.python.solutions import selfie_segmentation as mp_selfie
    except ImportError as exc:
        raise DetectionError(f"mediapipe cannot be imported ({exc})") from exc
    quiet = contextlib.ExitStack()
    quiet.enter_context(native_output.silenced(2))
    try:
        try:
            if source == "pose":
                graph = mp_pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=False,
                                     enable_segmentation=True, smooth_segmentation=False)
            else:
                graph = mp_selfie.SelfieSegmentation(model_selection=1)
        except (RuntimeError, OSError, ValueError) as exc:
            raise DetectionError(f"cannot start the MediaPipe {source} segmentation graph: {exc}") from exc
        with graph:
            for frame in frames:
                try:
                    result = graph.process(frame.rgb)
                except RuntimeError as exc:
                    raise DetectionError(f"MediaPipe segmentation failed on frame {frame.index}: {exc}") from exc
                quiet.close()
                mask = result.segmentation_mask
                if mask is None:
                    mask = np.zeros(frame.rgb.shape[:2], dtype=np.float32)
                yield frame, np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
    finally:
        quiet.close()


__all__ = ["SOURCES", "person_masks"]
