"""The preview video: the motion re-projected onto its source video, beside a 3D view.

    render_preview(info, take, camera, pose, "clip.preview.mp4") -> PreviewResult

Left panel: the source frame (scaled to `height_px`) with the skeleton drawn where the
solver's camera (mocap.camera.Camera + CameraPose, the same objects solve_full used) sees
it. Right panel: the same pose from a fixed viewpoint with the floor grid, the root's path
and the planted foot points (mocap.preview.draw).

Frame accuracy: every source frame the motion was made from (PreviewMotion.source_span_s:
with --fps or a variable rate the motion is resampled, and its last frame may fall up to one
motion frame before the last source frame) is written with its own presentation time, and
shows motion frame k = round((t - start_time_s) * fps), clipped to the take — exact for a
constant-rate source, the nearest motion frame for a resampled one. Each frame is labelled
with its source index, its time and the motion frame drawn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap.camera import Camera, CameraPose
from mocap.data import FootContacts, Frame, Motion, VideoInfo
from mocap.kinematics import joint_positions

# Contact point (mocap.solve.contacts names) -> the canonical joint marked when it is planted.
CONTACT_JOINTS = {"left_heel": "LeftFoot", "left_toe": "LeftToeBase",
                  "right_heel": "RightFoot", "right_toe": "RightToeBase"}
DEFAULT_HEIGHT_PX = 720
# x264 for the preview: `ultrafast` at CRF 28 encodes about twice as fast as `superfast` at
# CRF 23 for about the same file size, 0.8 dB lower PSNR (docs/benchmarks.md, preview).
PREVIEW_PRESET, PREVIEW_CRF = "ultrafast", 28
SOURCE_TIME_TOLERANCE_S = 1e-3  # source_span_s ends: well under any frame interval (1/240 s = 4.2 ms)
THUMBNAIL_WIDTH_PX = 480


@dataclass(frozen=True)
class PreviewMotion:
    """What a preview draws: joint world positions on mocap's canonical names.

    names: (J,) canonical joint names; parents: (J,) parent index or -1; joints_m: (T, J, 3)
    world positions (internal frame, metres); motion frame k is at start_time_s + k / fps
    in the source video; contacts: (T, C) planted foot points, or None.
    source_span_s: (first, last) presentation times in seconds of the source frames the
    motion was made from (both included); None: the motion's own span, half a motion frame
    either side of its first and last frames (a take at the source's own rate).
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    joints_m: np.ndarray
    fps: float
    start_time_s: float
    contacts: FootContacts | None = None
    source_span_s: tuple[float, float] | None = None

    @classmethod
    def from_motion(cls, motion: Motion) -> PreviewMotion:
        """Forward kinematics of a Motion on the canonical rig (mocap.kinematics)."""
        sk = motion.skeleton
        return cls(sk.names, sk.parents, joint_positions(motion), motion.fps, motion.start_time_s, motion.contacts)

    @property
    def n_frames(self) -> int:
        return int(self.joints_m.shape[0])

    def source_window_s(self) -> tuple[float, float]:
        """[start, end) in source seconds that holds exactly the source frames to draw."""
        if self.source_span_s is not None:
            first, last = self.source_span_s
            return first - SOURCE_TIME_TOLERANCE_S, last + SOURCE_TIME_TOLERANCE_S
        half = 0.5 / self.fps
        return self.start_time_s - half, self.start_time_s + self.n_frames / self.fps - half

    def contact_joints(self, k: int) -> list[int]:
        """Joints whose contact point is planted on motion frame k."""
        if self.contacts is None:
            return []
        out = []
        for c, name in enumerate(self.contacts.names):
            joint = CONTACT_JOINTS.get(name)
            if joint in self.names and self.contacts.in_contact[k, c]:
                out.append(self.names.index(joint))
        return out


@dataclass(frozen=True)
class PreviewResult:
    """path written; n_frames written; elapsed_s wall time (decode, draw, encode);
    thumbnails: (motion frame, (h, THUMBNAIL_WIDTH_PX, 3) RGB composite) evenly over the clip."""

    path: Path
    n_frames: int
    elapsed_s: float
    thumbnails: tuple[tuple[int, np.ndarray], ...] = ()

    @property
    def frames_per_s(self) -> float:
        return self.n_frames / self.elapsed_s if self.elapsed_s > 0 else float("nan")


def _even(x: float) -> int:
    return max(2, int(round(x / 2.0)) * 2)


class _Compositor:
    """Builds the two-panel frames of one take: fixed sizes, 3D viewpoint and background."""

    def __init__(self, info: VideoInfo, take: PreviewMotion, camera: Camera, pose: CameraPose, height_px: int):
        from mocap.preview.draw import ViewCamera, side_colour

        self.take, self.camera, self.pose = take, camera, pose
        self.scale = min(1.0, height_px / info.height_px)
        self.out_h, self.out_w = _even(info.height_px * self.scale), _even(info.width_px * self.scale)
        self.sx, self.sy = self.out_w / info.width_px, self.out_h / info.height_px
        self.colours = [side_colour(n) for n in take.names]
        self.view = ViewCamera.framing(take.joints_m, self.out_h)
        self.background = self.view.background(take.joints_m, take.joints_m[:, 0])
        self.image = np.empty((self.out_h, self.out_w + self.out_h, 3), np.uint8)

    @property
    def decode_size_px(self) -> tuple[int, int]:
        """(width, height) to decode the source at: the left panel's."""
        return self.out_w, self.out_h

    def motion_frame(self, time_s: float) -> int:
        """The motion frame shown at a source time: round((t - start) * fps), clipped."""
        take = self.take
        return int(np.clip(round((time_s - take.start_time_s) * take.fps), 0, take.n_frames - 1))

    def compose(self, frame: Frame) -> tuple[np.ndarray, int]:
        """(the composite image, reused between calls; the motion frame drawn)."""
        import cv2

        from mocap.preview.draw import draw_skeleton, draw_view, put_label

        take, out_w = self.take, self.out_w
        k = self.motion_frame(frame.time_s)
        if frame.rgb.shape[:2] == (self.out_h, out_w):  # decoded at the panel's size (read_frames size_px)
            self.image[:, :out_w] = frame.rgb
        else:
            self.image[:, :out_w] = cv2.resize(frame.rgb, (out_w, self.out_h), interpolation=cv2.INTER_AREA)
        px = self.camera.project(self.pose.cv_from_world(take.joints_m[k]))
        px = np.stack([(px[:, 0] + 0.5) * self.sx - 0.5, (px[:, 1] + 0.5) * self.sy - 0.5], axis=-1)
        planted = take.contact_joints(k)
        overlay = self.image[:, :out_w]
        draw_skeleton(overlay, px, take.parents, self.colours, planted, thickness=max(1, self.out_h // 300))
        put_label(overlay, f"frame {frame.index}  {frame.time_s:.3f} s  motion {k}")
        self.image[:, out_w:] = draw_view(self.background, self.view, take.joints_m[k], take.parents, self.colours, planted)
        return self.image, k


def _thumbnail(image: np.ndarray) -> np.ndarray:
    import cv2

    w = THUMBNAIL_WIDTH_PX
    return cv2.resize(image, (w, _even(image.shape[0] * w / image.shape[1])), interpolation=cv2.INTER_AREA)


def thumbnail_frames(take: PreviewMotion, n: int) -> list[int]:
    """n motion frames evenly over the take, first and last included."""
    return sorted(set(np.linspace(0, take.n_frames - 1, n).round().astype(int).tolist())) if n else []


def render_preview(
    info: VideoInfo,
    take: PreviewMotion,
    camera: Camera,
    pose: CameraPose,
    path: Path,
    height_px: int = DEFAULT_HEIGHT_PX,
    n_thumbnails: int = 4,
    progress: Callable[[int], None] | None = None,
) -> PreviewResult:
    """Write the side-by-side preview of `take` over `info`'s video to `path` (.mp4, atomic).

    camera: the solver's intrinsics for the displayed image; pose: its place in the motion's
    world. height_px: output height (the source's, if smaller). Raises InputError when the
    video cannot be decoded, ExportError when the file cannot be written.
    """
    from mocap.video import VideoWriter, read_frames

    t_start = time.perf_counter()
    comp = _Compositor(info, take, camera, pose, height_px)
    wanted = set(thumbnail_frames(take, n_thumbnails))
    thumbnails: list[tuple[int, np.ndarray]] = []
    frames = read_frames(info, *take.source_window_s(), size_px=comp.decode_size_px)
    with VideoWriter(Path(path), comp.out_w + comp.out_h, comp.out_h, fps=info.fps,
                     preset=PREVIEW_PRESET, crf=PREVIEW_CRF) as writer:
        for frame in frames:
            image, k = comp.compose(frame)
            writer.write(image, frame.time_s)
            if k in wanted:
                wanted.discard(k)
                thumbnails.append((k, _thumbnail(image)))
            if progress is not None:
                progress(1)
        n = writer.n_frames
    return PreviewResult(Path(path), n, time.perf_counter() - t_start, tuple(thumbnails))


def preview_thumbnails(
    info: VideoInfo,
    take: PreviewMotion,
    camera: Camera,
    pose: CameraPose,
    n: int = 4,
    height_px: int = DEFAULT_HEIGHT_PX,
) -> tuple[tuple[int, np.ndarray], ...]:
    """The report's thumbnails without a preview video: n frames evenly over the take,
    each decoded on its own (a seek), composed as in the preview, THUMBNAIL_WIDTH_PX wide.
    Raises InputError when the video cannot be read."""
    from mocap.video import read_frames

    comp = _Compositor(info, take, camera, pose, height_px)
    half = 0.5 / take.fps
    out = []
    for k in thumbnail_frames(take, n):
        t = take.start_time_s + k / take.fps
        frame = next(read_frames(info, t - half, t + half, size_px=comp.decode_size_px), None)
        if frame is not None:
            image, drawn = comp.compose(frame)
            out.append((drawn, _thumbnail(image)))
    return tuple(out)


__all__ = ["CONTACT_JOINTS", "PreviewMotion", "PreviewResult", "preview_thumbnails", "render_preview"]
