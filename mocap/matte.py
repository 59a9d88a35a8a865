"""The segmentation matte (`--matte`): the person's mask as a greyscale video.

    masks   = MediaPipe's person segmentation per frame     mocap.detect.mediapipe_matte
    smooth  = zero-phase Gaussian over time, per pixel       smooth_masks (here)
    write   = FFV1 greyscale .mkv, lossless, atomic          mocap.video.VideoWriter(grey=True)

The matte has the input's frame count (of the trimmed range), size and timestamps: frame k
of the matte is frame k of the video, 255 = person, 0 = background. The masks flicker at
the edges from frame to frame (the models see each frame alone); a Gaussian over
`sigma_s` seconds (at the clip's own fps, window +-2.5 sigma, renormalised at the ends)
steadies them without lagging behind motion, because it is centred. benchmarks/bench_matte.py
measures the cost and the flicker (mean frame-to-frame change) before and after.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap.data import Frame, VideoInfo


@dataclass(frozen=True)
class MatteConfig:
    source: str = "pose"  # mocap.detect.mediapipe_matte.SOURCES
    sigma_s: float = 0.05  # temporal Gaussian; 0 = no smoothing


def gaussian_weights(fps: float, sigma_s: float) -> np.ndarray:
    """(2R+1,) normalised Gaussian taps over time, R = ceil(2.5 sigma) frames (R = 0: no smoothing)."""
    sigma = sigma_s * fps
    radius = int(np.ceil(2.5 * sigma)) if sigma > 0 else 0
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / max(sigma, 1e-9)) ** 2)
    return taps / taps.sum()


def smooth_masks(masks: Iterable[tuple[Frame, np.ndarray]], fps: float, sigma_s: float) -> Iterator[tuple[Frame, np.ndarray]]:
    """Per-pixel zero-phase Gaussian over time of (frame, (H, W) mask) pairs, streamed: holds
    2R+1 masks at most (gaussian_weights); at the clip's ends the taps that fall outside are
    dropped and the rest renormalised. Yields (frame, smoothed mask) in order."""
    taps = gaussian_weights(fps, sigma_s)
    radius = len(taps) // 2
    window: deque[tuple[Frame, np.ndarray]] = deque()
    emitted = 0
    received = 0

    def emit(centre: int) -> tuple[Frame, np.ndarray]:
        first = received - len(window)  # index of window[0]
        acc, total = None, 0.0
        for k, (_, mask) in enumerate(window):
            offset = first + k - centre
            if abs(offset) <= radius:
                w = taps[offset + radius]
                acc = mask * w if acc is None else acc + mask * w
                total += w
        return window[centre - first][0], acc / total

    for item in masks:
        window.append(item)
        received += 1
        while emitted + radius < received:
            yield emit(emitted)
            emitted += 1
            while window and (received - len(window)) < emitted - radius:
                window.popleft()
    while emitted < received:
        yield emit(emitted)
        emitted += 1
        while window and (received - len(window)) < emitted - radius:
            window.popleft()


def write_matte(
    info: VideoInfo,
    path: Path,
    cfg: MatteConfig = MatteConfig(),
    start_s: float | None = None,
    end_s: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write the matte of frames [start_s, end_s) of the video to `path` (.mkv), atomically.
    Returns the path. Raises DetectionError (segmentation), InputError (decoding) or
    ExportError (writing); nothing is left at `path` on failure."""
    from mocap.detect.mediapipe_matte import person_masks
    from mocap.video import VideoWriter, read_frames

    with VideoWriter(path, info.width_px, info.height_px, info.fps, grey=True) as out:
        for frame, mask in smooth_masks(person_masks(read_frames(info, start_s, end_s), cfg.source), info.fps, cfg.sigma_s):
            out.write(np.round(mask * 255.0).astype(np.uint8), frame.time_s)
            if progress is not None:
                progress(1)
    return Path(path)


__all__ = ["MatteConfig", "gaussian_weights", "smooth_masks", "write_matte"]
