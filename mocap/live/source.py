"""Frames for the live mode: a camera (OpenCV) or a video file played at real-time pace.

The only module of mocap.live that touches pixels' sources: `cv2` is imported lazily in
CameraSource, PyAV through mocap.video for files. Both yield LiveFrame(frame, wall_s):
`wall_s` is the wall clock (time.time()) when the frame became available — grabbed from
the camera, or due on the file's timeline — which the stream carries so receivers can
measure end-to-end latency.

Pace: a file's frame t is handed out no earlier than start + t (its presentation time).
When processing falls behind, a camera simply delivers its newest frame; a file does the
same by default (`drop_late`): a frame already more than one frame period late is
skipped and counted, so the stream stays live instead of drifting behind. With
`drop_late=False` every frame is processed (replaying a take frame-exactly), never ahead
of real time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mocap import native_output
from mocap.data import Frame
from mocap.errors import InputError

CAMERA_SIZE_PX = (640, 480)  # asked of the camera; it may deliver another size


@dataclass(frozen=True)
class LiveFrame:
    frame: Frame
    wall_s: float


class VideoSource:
    """A video file at real-time pace. Raises InputError for an unreadable file."""

    def __init__(self, path: Path, drop_late: bool = True) -> None:
        from mocap.video import probe_video

        self.info = probe_video(Path(path))
        self.name = str(path)
        self.width_px, self.height_px, self.fps = self.info.width_px, self.info.height_px, self.info.fps
        self.drop_late = drop_late
        self.dropped = 0
        self.focal_length_35mm_mm = self.info.focal_length_35mm_mm

    def __iter__(self) -> Iterator[LiveFrame]:
        from mocap.video import read_frames

        period = 1.0 / self.fps
        start_wall = start_mono = first_t = None
        for frame in read_frames(self.info):
            if start_mono is None:
                start_mono, start_wall, first_t = time.monotonic(), time.time(), frame.time_s
            due = start_mono + (frame.time_s - first_t)
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            elif self.drop_late and now > due + period:
                self.dropped += 1
                continue
            yield LiveFrame(frame, start_wall + max(due, now) - start_mono)


class CameraSource:
    """A camera by index (OpenCV). Raises InputError when there is no such camera."""

    def __init__(self, index: int, size_px: tuple[int, int] = CAMERA_SIZE_PX) -> None:
        try:
            import cv2
        except ImportError as exc:
            raise InputError(f"camera {index}: OpenCV (cv2) cannot be imported ({exc})") from exc
        self._cv2 = cv2
        self.name = f"camera {index}"
        with native_output.silenced(2):  # OpenCV's own warnings about a missing device
            cap = cv2.VideoCapture(index)
            ok = cap.isOpened()
            if ok:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, size_px[0])
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size_px[1])
                cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of old ones
                ok, first = cap.read()
        if not ok:
            cap.release()
            raise InputError(
                f"camera {index}: no camera found or it cannot be opened (is it connected, and not in use "
                f"by another program?); use --video FILE to stream a file instead"
            )
        self._cap = cap
        self._first = first
        self.height_px, self.width_px = first.shape[:2]
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1.0 <= fps <= 240.0 else 30.0
        self.dropped = 0
        self.focal_length_35mm_mm = None

    def __iter__(self) -> Iterator[LiveFrame]:
        cv2 = self._cv2
        t0 = time.monotonic()
        index = 0
        bgr = self._first
        try:
            while True:
                if bgr is None:
                    ok, bgr = self._cap.read()
                    if not ok:
                        raise InputError(f"{self.name}: the camera stopped delivering frames")
                wall, mono = time.time(), time.monotonic()
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                yield LiveFrame(Frame(index=index, time_s=mono - t0, rgb=rgb), wall)
                index += 1
                bgr = None
        finally:
            self._cap.release()


__all__ = ["CameraSource", "VideoSource", "LiveFrame", "CAMERA_SIZE_PX"]
