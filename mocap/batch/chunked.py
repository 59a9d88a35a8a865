"""`mocap convert --jobs N`: one video's detection split into time chunks run in parallel.

ChunkedDetector plugs into detect_cached (pipeline.convert(..., detector=...)): it plans
the chunks (mocap.detect.chunks: warm-up and blend before each seam), runs them on a
WorkerPool of N processes, each capped at its share of the cores, and stitches the result.
Smoothing and solving then see one clip, exactly as after a one-process detection.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from mocap import errors
from mocap.data import LandmarkTracks, VideoInfo
from mocap.detect.chunks import MIN_CHUNK_S, Chunk, frame_range, plan_chunks, stitch_chunks


def error_from(value: tuple[str, str, int]) -> errors.MocapError:
    """Rebuild the MocapError a worker reported as (class name, message, exit code)."""
    name, message, code = value
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, errors.MocapError):
        return cls(message)
    exc = errors.MocapError(message)
    exc.exit_code = code
    return exc


class OwnedProgress:
    """Turns a chunk's decoded-frame count into frames it owns (warm-up not counted), so
    a progress bar over the clip's frames ends exactly at its total."""

    def __init__(self, chunk: Chunk, progress: Callable[[int], None] | None):
        self.lead = chunk.first - chunk.decode_from
        self.owned = chunk.stop - chunk.first
        self.decoded = 0
        self.reported = 0
        self.progress = progress

    def __call__(self, n: int) -> None:
        self.decoded += n
        now = max(0, min(self.decoded - self.lead, self.owned))
        if now > self.reported and self.progress is not None:
            self.progress(now - self.reported)
        self.reported = max(self.reported, now)


class ChunkedDetector:
    """A detector for detect_cached that runs up to `jobs` chunks in parallel processes.

    Falls back to one in-process detection when the range is too short to split
    (plan_chunks' minimum chunk length). Raises the MocapError a chunk raised, or
    DetectionError when a worker process died.
    """

    def __init__(self, jobs: int, min_chunk_s: float = MIN_CHUNK_S):
        self.jobs = max(1, int(jobs))
        self.min_chunk_s = min_chunk_s
        self.chunks: list[Chunk] = []

    def __call__(
        self,
        info: VideoInfo,
        start_s: float | None,
        end_s: float | None,
        model: str,
        progress: Callable[[int], None] | None,
    ) -> LandmarkTracks:
        from mocap.batch.pool import WorkerPool
        from mocap.batch.tasks import run_chunk

        first, stop = frame_range(info, start_s, end_s)
        self.chunks = plan_chunks(first, stop, info.fps, self.jobs, min_chunk_s=self.min_chunk_s)
        if len(self.chunks) == 1:
            from mocap.detect.mediapipe_pose import detect_landmarks
            from mocap.video import read_frames

            return detect_landmarks(info, read_frames(info, start_s, end_s), model=model, progress=progress)
        threads = max(1, (os.cpu_count() or 1) // len(self.chunks))
        owned = {str(i): OwnedProgress(c, progress) for i, c in enumerate(self.chunks)}
        parts: dict[str, LandmarkTracks] = {}
        with WorkerPool(min(self.jobs, len(self.chunks)), threads_per_worker=threads) as pool:
            for i, chunk in enumerate(self.chunks):
                pool.submit(str(i), run_chunk, (str(info.path), chunk, model))
            for event in pool.events():
                if event.kind == "progress":
                    owned[event.task_id](event.value)
                elif event.kind == "done":
                    parts[event.task_id] = event.value
                elif event.kind == "error":
                    raise error_from(event.value)
                else:
                    raise errors.DetectionError(
                        f"{info.path}: a detection worker died (exit code {event.value}) on frames "
                        f"{self.chunks[int(event.task_id)].first}-{self.chunks[int(event.task_id)].stop - 1}"
                    )
        return stitch_chunks(self.chunks, [parts[str(i)] for i in range(len(self.chunks))], info.fps)
