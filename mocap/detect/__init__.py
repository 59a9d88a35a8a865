"""Pose detection stage: VideoInfo -> LandmarkTracks, through the landmark cache.

Importing this package stays light: mediapipe and PyAV are imported only when a
function below actually runs (the adapters are mocap.detect.mediapipe_pose and mediapipe_hands).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mocap.data import Frame, LandmarkTracks, VideoInfo
from mocap.detect.cache import detect_cached, detect_hands_cached, read_tracks, write_tracks

__all__ = ["detect_cached", "detect_hands_cached", "detect_landmarks", "frames_in_range", "read_tracks", "write_tracks"]


def detect_landmarks(
    info: VideoInfo,
    frames: Iterable[Frame],
    model: str = "full",
    progress: Callable[[int], None] | None = None,
) -> LandmarkTracks:
    """Run BlazePose on frames; see mocap.detect.mediapipe_pose.detect_landmarks."""
    from mocap.detect.mediapipe_pose import detect_landmarks as _detect

    return _detect(info, frames, model=model, progress=progress)


def frames_in_range(info: VideoInfo, start_s: float | None = None, end_s: float | None = None) -> int:
    """How many frames detection will process for this trim (for a progress bar's total)."""
    from mocap.video import count_frames_in_range

    return count_frames_in_range(info, start_s, end_s)
