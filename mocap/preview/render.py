"""The preview video: the motion re-projected onto its source video, beside a 3D view.

    render_preview(info, take, camera, pose, "clip.preview.mp4") -> PreviewResult

Left panel: the source frame (scaled to `height_px`) with the skeleton drawn where the
solver's camera (mocap.camera.Camera + CameraPose, the same objects solve_full used) sees
it. Right panel: the same pose from a fixed viewpoint with the floor grid, the root's path
and the planted foot points (mocap.preview.draw).

Frame accuracy: every decoded source frame in the motion's span is written with its own
presentation time, and shows motion frame k = round((t - start_time_s) * fps) — exact for a
constant-rate source, the nearest motion frame for a resampled variable-rate one. Each
frame is labelled with its source index, its time and the motion frame drawn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap.camera import Camera, CameraPose
from mocap.data import FootContacts, Motion, VideoInfo
from mocap.kinematics import joint_positions

# Contact point (mocap.solve.contacts names) -> the canonical joint marked when it is planted.
CONTACT_JOINTS = {"left_heel": "LeftFoot", "left_toe": "LeftToeBase",
                  "right_heel": "RightFoot", "right_toe": "RightToeBase"}
DEFAULT_HEIGHT_PX = 720
THUMBNAIL_WIDTH_PX = 480


@dataclass(frozen=True)
class PreviewMotion:
    """What a preview draws: joint world positions on mocap's canonical names.

    names: (J,) canonical joint names; parents: (J,) parent index or -1; joints_m: (T, J, 3)
    world positions (internal frame, metres); motion frame k is at start_time_s + k / fps
    in the source video; contacts: (T, C) planted foot points, or None.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    joints_m: np.ndarray
    fps: float
    start_time_s: float
    contacts: FootContacts | None = None

    @classmethod
    def from_motion(cls, motion: Motion) -> PreviewMotion:
        """Forward kinematics of a Motion on the canonical rig (mocap.kinematics)."""
        sk = motion.skeleton
        return cls(sk.names, sk.parents, joint_positions(motion), motion.fps, motion.start_time_s, motion.contacts)

    @property
    def n_frames(self) -> int:
        return int(self.joints_m.shape[0])

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
    import cv2

    from mocap.preview.draw import ViewCamera, draw_skeleton, draw_view, put_label, side_colour
    from mocap.video import VideoWriter, read_frames

    t_start = time.perf_counter()
    scale = min(1.0, height_px / info.height_px)
    out_h, out_w = _even(info.height_px * scale), _even(info.width_px * scale)
    sx, sy = out_w / info.width_px, out_h / info.height_px
    colours = [side_colour(n) for n in take.names]
    view = ViewCamera.framing(take.joints_m, out_h)
    root = take.joints_m[:, 0]
    background = view.background(take.joints_m, root)
    thumb_frames = set(np.linspace(0, take.n_frames - 1, n_thumbnails).round().astype(int).tolist()) if n_thumbnails else set()
    thumbnails: list[tuple[int, np.ndarray]] = []
    half = 0.5 / take.fps
    frames = read_frames(info, take.start_time_s - half, take.start_time_s + take.n_frames / take.fps - half)
    composite = np.empty((out_h, out_w + out_h, 3), np.uint8)
    with VideoWriter(Path(path), out_w + out_h, out_h, fps=info.fps) as writer:
        for frame in frames:
            k = int(np.clip(round((frame.time_s - take.start_time_s) * take.fps), 0, take.n_frames - 1))
            left = frame.rgb if scale == 1.0 and frame.rgb.shape[:2] == (out_h, out_w) else \
                cv2.resize(frame.rgb, (out_w, out_h), interpolation=cv2.INTER_AREA)
            composite[:, :out_w] = left
            px = camera.project(pose.cv_from_world(take.joints_m[k]))
            px = np.stack([(px[:, 0] + 0.5) * sx - 0.5, (px[:, 1] + 0.5) * sy - 0.5], axis=-1)
            planted = take.contact_joints(k)
            overlay = composite[:, :out_w]
            draw_skeleton(overlay, px, take.parents, colours, planted, thickness=max(1, out_h // 300))
            put_label(overlay, f"frame {frame.index}  {frame.time_s:.3f} s  motion {k}")
            composite[:, out_w:] = draw_view(background, view, take.joints_m[k], take.parents, colours, planted)
            writer.write(composite, frame.time_s)
            if k in thumb_frames and all(k != f for f, _ in thumbnails):
                w = THUMBNAIL_WIDTH_PX
                h = _even(composite.shape[0] * w / composite.shape[1])
                thumbnails.append((k, cv2.resize(composite, (w, h), interpolation=cv2.INTER_AREA)))
            if progress is not None:
                progress(1)
        n = writer.n_frames
    return PreviewResult(Path(path), n, time.perf_counter() - t_start, tuple(thumbnails))


__all__ = ["CONTACT_JOINTS", "PreviewMotion", "PreviewResult", "render_preview"]
