"""One long video, several processes: time chunks detected apart and stitched back.

BlazePose in video mode is a tracker: each frame's region of interest comes from the
previous frame's landmarks, and only the first frame (or a lost track) runs the person
detector. A chunk that starts cold therefore differs from a one-process run for its first
frames. Each chunk is decoded and detected from `WARMUP_S + BLEND_S` before the frames it
owns:

- **warm-up** (`WARMUP_S` = 1.0 s): frames thrown away while the tracker settles. Measured on
  the 720p taiji clip (benchmarks/bench_chunks.py, docs/benchmarks.md): a cold start differs
  from the one-process run by up to 12-28 px on its first frames and falls to the level at
  which two equally valid tracker histories keep differing (a few px, ~1-8 px max over the
  33 landmarks) within about 10 frames (0.4 s at 24 fps); 1 s leaves a margin for 60 fps.
- **blend** (`BLEND_S` = 0.5 s): the settled frames just before the seam exist in both
  chunks; their landmarks are cross-faded (weight of the later chunk rising linearly), so a
  residual difference between the two histories becomes a ramp over half a second instead
  of a step at one frame.

Chunks are planned in frame indices (exact, from the container's timestamps), so a frame
belongs to exactly one chunk and every frame of the range appears once in the stitched
tracks. Shapes follow docs/conventions.md (T frames, L landmarks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap.data import LandmarkTracks, VideoInfo

WARMUP_S = 1.0  # tracker settling time thrown away at a chunk's start (see module docstring)
BLEND_S = 0.5  # cross-fade between the two chunks' landmarks before a seam
MIN_CHUNK_S = 10.0  # shorter chunks spend too large a share on warm-up


@dataclass(frozen=True)
class Chunk:
    """Frames [first, stop) of a video are owned by this chunk; decoding starts at
    `decode_from` (<= first) so the tracker settles and the blend frames exist."""

    first: int
    stop: int
    decode_from: int

    @property
    def n_decoded(self) -> int:
        return self.stop - self.decode_from


def frame_range(info: VideoInfo, start_s: float | None, end_s: float | None) -> tuple[int, int]:
    """Frame indices [first, stop) that read_frames(info, start_s, end_s) yields."""
    from mocap.video import frame_times_s

    times = frame_times_s(info.path)
    eps = 1e-6
    first = 0 if start_s is None or start_s <= 0 else int(np.searchsorted(times, start_s - eps, side="left"))
    stop = times.size if end_s is None else int(np.searchsorted(times, end_s - eps, side="left"))
    return first, max(first, stop)


def plan_chunks(
    first: int,
    stop: int,
    fps: float,
    n_chunks: int,
    warmup_s: float = WARMUP_S,
    blend_s: float = BLEND_S,
    min_chunk_s: float = MIN_CHUNK_S,
) -> list[Chunk]:
    """Split frames [first, stop) into at most n_chunks equal chunks of >= min_chunk_s.

    Each chunk after the first decodes from ceil((warmup_s + blend_s) * fps) frames before
    its own first frame (never before `first`). Returns one chunk when the range is too short
    to split.
    """
    n_frames = stop - first
    longest = max(1, int(n_frames // max(1.0, min_chunk_s * fps)))
    n = max(1, min(int(n_chunks), longest))
    lead = int(math.ceil((warmup_s + blend_s) * fps))
    bounds = [first + round(i * n_frames / n) for i in range(n + 1)]
    return [
        Chunk(first=a, stop=b, decode_from=a if i == 0 else max(first, a - lead))
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))
    ]


def chunk_times_s(info: VideoInfo, chunk: Chunk) -> tuple[float | None, float | None]:
    """(start_s, end_s) for read_frames that decode exactly frames [decode_from, stop)."""
    from mocap.video import frame_times_s

    times = frame_times_s(info.path)
    start = None if chunk.decode_from == 0 else float(times[chunk.decode_from])
    end = None if chunk.stop >= times.size else float(times[chunk.stop])
    return start, end


def detect_chunk(
    video: Path | VideoInfo,
    chunk: Chunk,
    model: str = "full",
    progress: Callable[[int], None] | None = None,
) -> LandmarkTracks:
    """Decode and detect frames [decode_from, stop) of one chunk (in this process).

    Returns all decoded rows, warm-up included; stitch_chunks drops and blends them.
    Raises InputError / DetectionError like detect_landmarks.
    """
    from mocap.detect.mediapipe_pose import detect_landmarks
    from mocap.video import probe_video, read_frames

    info = video if isinstance(video, VideoInfo) else probe_video(Path(video))
    start, end = chunk_times_s(info, chunk)
    return detect_landmarks(info, read_frames(info, start, end), model=model, progress=progress)


def _rows(tracks: LandmarkTracks, first: int, stop: int) -> np.ndarray:
    """Row numbers of tracks.frame_indices within [first, stop), in order."""
    return np.flatnonzero((tracks.frame_indices >= first) & (tracks.frame_indices < stop))


def stitch_chunks(chunks: Sequence[Chunk], parts: Sequence[LandmarkTracks], fps: float, blend_s: float = BLEND_S) -> LandmarkTracks:
    """One LandmarkTracks over every chunk's own frames, cross-fading before each seam.

    parts[k] holds the rows detect_chunk returned for chunks[k]. For the B = round(blend_s
    * fps) frames before chunk k's first frame (frames chunk k-1 owns and chunk k has
    already settled on), positions and visibility are (1 - w) * earlier + w * later with w
    rising linearly from 1/(B+1) to B/(B+1); where only one chunk saw a person, that
    chunk's landmarks are kept. Raises ValueError if a part misses frames it must cover.
    """
    if len(chunks) != len(parts) or not parts:
        raise ValueError("one part per chunk is needed")
    pieces: list[dict[str, np.ndarray]] = []
    for chunk, part in zip(chunks, parts):
        rows = _rows(part, chunk.first, chunk.stop)
        if rows.size != chunk.stop - chunk.first:
            raise ValueError(f"chunk {chunk.first}-{chunk.stop} has {rows.size} of its {chunk.stop - chunk.first} frames")
        pieces.append({
            "times_s": part.times_s[rows],
            "frame_indices": part.frame_indices[rows],
            "image_xy_px": part.image_xy_px[rows].copy(),
            "world_m": part.world_m[rows].copy(),
            "visibility": part.visibility[rows].copy(),
            "detected": part.detected[rows].copy(),
        })
    n_blend = int(round(blend_s * fps))
    for k in range(1, len(chunks)):
        earlier, later_part, later = pieces[k - 1], parts[k], chunks[k]
        lo = max(later.decode_from, later.first - n_blend, chunks[k - 1].first)
        rows_later = _rows(later_part, lo, later.first)
        n = rows_later.size
        if n == 0:
            continue
        tail = slice(earlier["detected"].size - n, None)
        w = np.arange(1, n + 1) / (n + 1)
        both = earlier["detected"][tail] & later_part.detected[rows_later]
        only_later = ~earlier["detected"][tail] & later_part.detected[rows_later]
        for name in ("image_xy_px", "world_m", "visibility"):
            mine = earlier[name][tail]
            theirs = getattr(later_part, name)[rows_later]
            shape = (n,) + (1,) * (mine.ndim - 1)
            mixed = (1 - w).reshape(shape) * mine + w.reshape(shape) * theirs
            mine[both] = mixed[both]
            mine[only_later] = theirs[only_later]
        earlier["detected"][tail] |= only_later
    first = parts[0]
    joined = {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]}
    return LandmarkTracks(
        names=first.names,
        fps=first.fps,
        image_size_px=first.image_size_px,
        source=first.source,
        **joined,
    )
