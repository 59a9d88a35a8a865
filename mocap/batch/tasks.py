"""The units of work a batch runs in worker processes (local pool or Ray tasks).

Each is a top-level function `fn(*args, progress=callable)` returning picklable data:

- run_convert(video, staging, options, final): one whole job, outputs written into `staging`;
- run_chunk(video, chunk, model): landmarks of one time chunk of a long video;
- run_finish(video, staging, options, final, tracks): smoothing, solving and writing for a
  job whose landmarks were detected in chunks (and stitched by the caller).

`final` is the folder the runner moves the job's outputs into (OUTDIR/<key's folder>): the
job's report names its files there, not in the staging folder.

Outputs are written into a job-private staging folder under OUTDIR; the batch runner
moves them into place only when the job has succeeded, so an ended or killed worker never
leaves a partial file among the outputs.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mocap.data import LandmarkTracks, VideoInfo

# ConvertOptions.report_path as the batch passes it: "write the report in the job's staging
# folder, named after the video" (the real path differs per job and per node).
REPORT_IN_STAGING = "<staging>/<stem>.report.html"


def _job_options(options: Any, video: str, staging: str, final: str) -> Any:
    from dataclasses import replace

    options = replace(options, final_dir=Path(final))
    if options.report_path is None:
        return options
    return replace(options, report_path=Path(staging) / f"{Path(video).stem}.report.html")


class Precomputed:
    """A detector (see detect_cached) that hands back tracks already detected."""

    def __init__(self, tracks: LandmarkTracks):
        self.tracks = tracks

    def __call__(self, info: VideoInfo, start_s, end_s, model: str, progress: Callable[[int], None] | None) -> LandmarkTracks:
        if progress is not None:
            progress(self.tracks.n_frames)
        return self.tracks


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _summary(result: Any, started: float) -> dict[str, Any]:
    timings = dict(result.timings_s)
    timings["total"] = time.perf_counter() - started
    return {
        "outputs": {fmt: str(path) for fmt, path in result.outputs.items()},
        "frames": int(result.n_frames),
        "detected": int(result.n_detected),
        "detection_rate": float(result.detection_rate),
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "height_m": round(float(result.height_m), 3),
        "worker": worker_name(),
    }


def run_convert(video: str, staging: str, options: Any, final: str,
                progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """convert() one video into the staging folder; returns the job's summary."""
    from mocap.pipeline import convert

    started = time.perf_counter()
    result = convert(Path(video), f"{staging}/", _job_options(options, video, staging, final), progress=progress)
    return _summary(result, started)


def run_chunk(video: str, chunk: Any, model: str, progress: Callable[[int], None] | None = None) -> LandmarkTracks:
    """Landmarks of one chunk (warm-up rows included; stitch_chunks drops them)."""
    from mocap.detect.chunks import detect_chunk

    return detect_chunk(Path(video), chunk, model=model, progress=progress)


def run_finish(
    video: str, staging: str, options: Any, final: str, tracks: LandmarkTracks,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """convert() with landmarks already detected (stored in the landmark cache as usual)."""
    from mocap.pipeline import convert

    started = time.perf_counter()
    result = convert(Path(video), f"{staging}/", _job_options(options, video, staging, final),
                     detector=Precomputed(tracks))
    return _summary(result, started)
