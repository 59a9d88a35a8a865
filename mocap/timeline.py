"""Time base of the landmark tracks: LandmarkTracks -> LandmarkTracks at a constant rate.

Every later stage (smoothing cut-offs in Hz, contact speeds, the writers' `Frame Time`)
assumes one sample every 1/fps seconds. Phones record a *variable* frame rate when the
light is low (30 fps drops to 15 or 20 fps for a while), and a clip cut from several
sources can switch rates. Laying those frames on an even clock would play them at the
wrong times (a 30 -> 15 fps clip comes out too fast in its second half).

So the detected landmarks are resampled onto a constant-rate grid on their *true*
timeline (the container's presentation timestamps, `LandmarkTracks.times_s`):

    t_k = t_0 + k / fps,   k = 0 .. floor((t_last - t_0) * fps + 1e-6)

Each grid sample is the linear interpolation, in time, of the two detected frames that
bracket it (image pixels, world metres and visibility alike); a grid time that falls on a
frame takes that frame. A grid sample is "detected" when both bracketing frames are (or
the frame it falls on is), so gaps stay gaps and `smooth.py` fills and reports them as
usual. Linear interpolation adds no detail; the zero-phase smoother that follows (4 Hz by
default, far below the 7.5 Hz Nyquist rate of the slowest phone rate, 15 fps) then shapes
the motion at the new rate.

The target rate is `fps` when the user gives one (`--fps`); otherwise the clip's
*nominal* rate: the rate of its short frame intervals (10th percentile), snapped to the
nearest standard rate within 0.5 % (23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60, 90,
100, 120, 240). Using the short intervals keeps every recorded frame's information
(a 30 -> 15 fps phone clip is written at 30 fps, not at its 22.5 fps average).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mocap.data import LandmarkTracks

STANDARD_FPS = (23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0, 90.0, 100.0, 120.0, 240.0)
SNAP_TOLERANCE = 0.005  # relative: a measured rate this close to a standard one is that rate
IRREGULAR_TOLERANCE = 0.1  # relative: intervals differing more than this from 1/fps are irregular
_TICK_S = 1e-4  # timestamp rounding allowance (containers store ticks of 1/90000 .. 1/1000 s)


@dataclass(frozen=True)
class Retiming:
    """What to_constant_rate did, for the summary: the source's frame count and rate range
    (frames per second from its longest and shortest intervals) and the output rate and count."""

    source_frames: int
    source_min_fps: float
    source_max_fps: float
    fps: float
    n_frames: int
    variable: bool  # True: the source's frame intervals were irregular

    def describe(self) -> str:
        """One line for the CLI summary."""
        if self.variable:
            rate = f"variable frame rate ({self.source_min_fps:.1f}-{self.source_max_fps:.1f} fps)"
        else:
            rate = f"{self.source_max_fps:.3f} fps"
        return (
            f"{rate}: {self.source_frames} frames resampled on their true timestamps "
            f"to a constant {self.fps:.3f} fps ({self.n_frames} frames)"
        )


def nominal_fps(times_s: np.ndarray) -> float:
    """The clip's nominal rate from its (T,) frame times in seconds (T >= 2): the rate of
    its short intervals (10th percentile), snapped to a standard rate within 0.5 %."""
    intervals = np.diff(np.asarray(times_s, dtype=np.float64))
    intervals = intervals[intervals > 0]
    if intervals.size == 0:
        raise ValueError("nominal_fps needs at least two distinct frame times")
    fps = 1.0 / float(np.percentile(intervals, 10))
    closest = min(STANDARD_FPS, key=lambda s: abs(s - fps))
    return closest if abs(closest - fps) <= SNAP_TOLERANCE * closest else fps


def is_constant_rate(times_s: np.ndarray, fps: float) -> bool:
    """True when every interval of the (T,) frame times is 1/fps to within 10 % (and a
    timestamp tick)."""
    intervals = np.diff(np.asarray(times_s, dtype=np.float64))
    period = 1.0 / fps
    return bool(np.all(np.abs(intervals - period) <= IRREGULAR_TOLERANCE * period + _TICK_S))


def resample_tracks(tracks: LandmarkTracks, fps: float) -> LandmarkTracks:
    """Tracks at a constant `fps` on the source's true timeline (module docstring).

    Input: T source frames with times_s (T,) increasing. Output: K = floor((t_last - t_0)
    * fps + 1e-6) + 1 frames at t_0 + k / fps; arrays (K, L, 2|3), visibility (K, L),
    detected (K,); frame_indices (K,) name the nearest source frame. Raises ValueError for
    a non-positive fps or non-increasing times.
    """
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"frame rate must be positive, got {fps}")
    times = np.asarray(tracks.times_s, dtype=np.float64)
    if times.size and np.any(np.diff(times) <= 0):
        raise ValueError("frame times must increase")
    if times.size < 2:
        return replace(tracks, fps=float(fps))
    n_out = int(np.floor((times[-1] - times[0]) * fps + 1e-6)) + 1
    grid = times[0] + np.arange(n_out) / fps
    right = np.clip(np.searchsorted(times, grid - 1e-9, side="left"), 1, times.size - 1)
    left = right - 1
    span = times[right] - times[left]
    w_right = np.clip((grid - times[left]) / span, 0.0, 1.0)
    on_left = w_right <= 1e-6
    on_right = w_right >= 1.0 - 1e-6
    detected = np.asarray(tracks.detected, bool)
    found = np.where(on_left, detected[left], np.where(on_right, detected[right], detected[left] & detected[right]))

    def lerp(values: np.ndarray) -> np.ndarray:
        wr = w_right.reshape((-1,) + (1,) * (values.ndim - 1))
        a, b = values[left], values[right]
        out = (1.0 - wr) * a + wr * b
        out = np.where(on_left.reshape(wr.shape), a, out)
        out = np.where(on_right.reshape(wr.shape), b, out)
        return out

    image = lerp(tracks.image_xy_px)
    world = lerp(tracks.world_m)
    vis = lerp(np.nan_to_num(tracks.visibility, nan=0.0))
    image[~found] = np.nan
    world[~found] = np.nan
    vis[~found] = 0.0
    nearest = np.where(w_right < 0.5, left, right)
    return replace(
        tracks,
        fps=float(fps),
        times_s=grid,
        frame_indices=np.asarray(tracks.frame_indices)[nearest],
        image_xy_px=image,
        world_m=world,
        visibility=vis,
        detected=found,
    )


def to_constant_rate(tracks: LandmarkTracks, fps: float | None = None) -> tuple[LandmarkTracks, Retiming | None]:
    """The tracks on a constant-rate grid, and what was done (None: nothing was needed).

    With fps=None, tracks whose frames are already evenly spaced at their own fps are
    returned unchanged; irregular ones are resampled to nominal_fps(times_s). With an fps,
    tracks are resampled to it unless they are already at that constant rate.
    """
    times = np.asarray(tracks.times_s, dtype=np.float64)
    if times.size < 2:
        return tracks, None
    current = float(tracks.fps)
    if fps is None:
        if current > 0 and is_constant_rate(times, current):
            return tracks, None
        fps = nominal_fps(times)
    elif abs(fps - current) <= 1e-6 * fps and is_constant_rate(times, current):
        return tracks, None
    intervals = np.diff(times)
    out = resample_tracks(tracks, fps)
    retiming = Retiming(
        source_frames=int(times.size),
        source_min_fps=float(1.0 / intervals.max()),
        source_max_fps=float(1.0 / intervals.min()),
        fps=float(fps),
        n_frames=out.n_frames,
        variable=not is_constant_rate(times, 1.0 / float(np.median(intervals))),
    )
    return out, retiming
