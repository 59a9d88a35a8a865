"""The landmark cache: detection is the slow stage, so its result is kept per video.

An entry is one `.npz` (no pickle) keyed by the video's content hash, the model, the
mediapipe version, the start/end trim and DETECT_FORMAT_VERSION. Entries are written
atomically; an unreadable or inconsistent entry is ignored and rewritten.
The cache folder is `cache_dir`, else $MOCAP_CACHE_DIR, else ~/.cache/mocap/landmarks.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mocap.data import LandmarkTracks, VideoInfo
from mocap.detect.people import PersonChoice
from mocap.errors import ExportError, FormatError

_log = logging.getLogger(__name__)

# Bump when detect_landmarks' output changes meaning (conversion, options, layout).
DETECT_FORMAT_VERSION = 4  # 2: people census, identity guard, person choice; 3: second look at a first pose; 4: torso colour guard
MAX_ENTRY_BYTES = 4 << 30  # an hour at 60 fps is about 230 MB
_FLOAT_ARRAYS = {"times_s": np.float64, "image_xy_px": np.float64, "world_m": np.float32, "visibility": np.float32}


def default_cache_dir() -> Path:
    """$MOCAP_CACHE_DIR, else ~/.cache/mocap/landmarks."""
    env = os.environ.get("MOCAP_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mocap" / "landmarks"


def _norm_range(start_s: float | None, end_s: float | None) -> tuple[float | None, float | None]:
    start = None if start_s is None or start_s <= 0 else round(float(start_s), 6)
    end = None if end_s is None else round(float(end_s), 6)
    return start, end


def cache_key(
    info: VideoInfo, start_s: float | None, end_s: float | None, model: str, mp_version: str, person: str = ""
) -> str:
    """A hex digest naming one detection result (`person`: PersonChoice.key(), "" for the default)."""
    start, end = _norm_range(start_s, end_s)
    fields = {
        "person": person,
        "video": info.content_hash,
        "model": model,
        "mediapipe": mp_version,
        "start_s": start,
        "end_s": end,
        "format": DETECT_FORMAT_VERSION,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def cache_path(cache_dir: Path, info: VideoInfo, key: str, model: str) -> Path:
    stem = Path(info.path).stem[:40] or "video"
    return Path(cache_dir) / f"{stem}.{model}.{key[:24]}.npz"


def write_tracks(tracks: LandmarkTracks, path: Path) -> Path:
    """Write tracks to an .npz atomically (no pickle). World/visibility are stored as
    float32 (MediaPipe's own precision, so the round trip is exact); pixels as float64."""
    from mocap.atomic import atomic_path

    path = Path(path)
    arrays = {
        "format_version": np.array(DETECT_FORMAT_VERSION),
        "names": np.array(tracks.names, dtype=str),
        "fps": np.array(float(tracks.fps)),
        "frame_indices": np.asarray(tracks.frame_indices, dtype=np.int64),
        "image_size_px": np.array(tracks.image_size_px, dtype=np.int64),
        "detected": np.asarray(tracks.detected, dtype=bool),
        "source": np.array(tracks.source, dtype=str),
    }
    for name, dtype in _FLOAT_ARRAYS.items():
        arrays[name] = np.asarray(getattr(tracks, name), dtype=dtype)
    if tracks.people_in_view is not None:
        arrays["people_in_view"] = np.asarray(tracks.people_in_view, dtype=np.int64)
    if tracks.identity_lost is not None:
        arrays["identity_lost"] = np.asarray(tracks.identity_lost, dtype=bool)
    buffer = io.BytesIO()  # built in memory: a failed file write cannot leave a half-closed zip behind
    np.savez(buffer, **arrays)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return path


def read_tracks(path: Path) -> LandmarkTracks:
    """Read tracks written by write_tracks. Raises FormatError if the file is not a
    complete, consistent landmark file of this format version."""
    path = Path(path)
    try:
        _check_members(path)
        with np.load(path, allow_pickle=False) as data:
            version = int(data["format_version"])
            if version != DETECT_FORMAT_VERSION:
                raise FormatError(f"{path}: landmark file format {version}, expected {DETECT_FORMAT_VERSION}")
            names = tuple(str(n) for n in data["names"])
            floats = {name: _real(data[name], name, path) for name in _FLOAT_ARRAYS}
            tracks = LandmarkTracks(
                names=names,
                fps=float(data["fps"]),
                frame_indices=np.asarray(data["frame_indices"], dtype=np.int64),
                image_size_px=tuple(int(v) for v in data["image_size_px"]),  # type: ignore[arg-type]
                detected=np.asarray(data["detected"], dtype=bool),
                source=str(data["source"]),
                people_in_view=np.asarray(data["people_in_view"], dtype=np.int64) if "people_in_view" in data else None,
                identity_lost=np.asarray(data["identity_lost"], dtype=bool) if "identity_lost" in data else None,
                **floats,
            )
    except FormatError:
        raise
    except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise FormatError(f"{path}: not a readable landmark file ({_one_line(exc)})") from exc
    _check_shapes(tracks, path)
    return tracks


def _real(array: np.ndarray, name: str, path: Path) -> np.ndarray:
    if array.dtype.kind not in "fiu":
        raise FormatError(f"{path}: {name} holds {array.dtype} values, expected real numbers")
    return np.asarray(array, dtype=np.float64)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _check_members(path: Path) -> None:
    """Refuse, before numpy allocates anything, an entry whose arrays would not fit: every
    member must be an .npy whose header's shape x itemsize matches its stored size, and all
    together at most MAX_ENTRY_BYTES (a hostile header could otherwise ask for terabytes)."""
    total = 0
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if not member.filename.endswith(".npy"):
                raise FormatError(f"{path}: unexpected member {member.filename!r}")
            total += member.file_size
            if total > MAX_ENTRY_BYTES:
                raise FormatError(f"{path}: more than {MAX_ENTRY_BYTES} bytes of arrays")
            with archive.open(member) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
                header_end = fh.tell()
            needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if dtype.hasobject or needed != member.file_size - header_end:
                raise FormatError(f"{path}: {member.filename} holds {member.file_size - header_end} bytes "
                                  f"for an array of shape {shape} {dtype}")


def _check_shapes(tracks: LandmarkTracks, path: Path) -> None:
    t, n = tracks.n_frames, len(tracks.names)
    expected = {
        "frame_indices": (t,),
        "detected": (t,),
        "image_xy_px": (t, n, 2),
        "world_m": (t, n, 3),
        "visibility": (t, n),
    }
    for name, shape in expected.items():
        got = getattr(tracks, name).shape
        if got != shape:
            raise FormatError(f"{path}: {name} has shape {got}, expected {shape}")
    if len(tracks.image_size_px) != 2 or not tracks.fps > 0:
        raise FormatError(f"{path}: bad image size or fps")


def detect_cached(
    info: VideoInfo,
    start_s: float | None = None,
    end_s: float | None = None,
    model: str = "full",
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    use_cache: bool = True,
    person: PersonChoice | None = None,
    detector: Callable[..., LandmarkTracks] | None = None,
) -> LandmarkTracks:
    """Landmarks for frames [start_s, end_s) of a video, from the cache or by detection.

    `person` chooses whom to follow when several people are in view (mocap.detect.people;
    None: the largest, and only when there are several).
    `detector(info, start_s, end_s, model, progress)`, when given, replaces the one-process
    detection on a miss (mocap.batch.chunked.ChunkedDetector runs time chunks in parallel);
    it is not told `person`.

    On a hit `progress(n_frames)` is called once; otherwise detect_landmarks reports per
    frame and the result is stored. use_cache=False neither reads nor writes the cache.
    A corrupt entry is ignored and replaced. Raises InputError / DetectionError from
    decoding and detection.
    """
    from mocap.detect.mediapipe_pose import detect_landmarks, mediapipe_version
    from mocap.video import read_frames

    path: Path | None = None
    if use_cache:
        if not info.content_hash:
            raise ValueError("VideoInfo.content_hash is empty; probe the video with probe_video()")
        key = cache_key(info, start_s, end_s, model, mediapipe_version(), person.key() if person else "")
        path = cache_path(cache_dir or default_cache_dir(), info, key, model)
        if path.is_file():
            try:
                tracks = read_tracks(path)
            except FormatError:
                tracks = None  # corrupt or stale: detect again and overwrite
            if tracks is not None:
                if progress is not None:
                    progress(tracks.n_frames)
                return tracks
    start, end = _norm_range(start_s, end_s)
    if detector is not None:
        tracks = detector(info, start, end, model, progress)
    else:
        tracks = detect_landmarks(info, read_frames(info, start, end), model=model, progress=progress, person=person)
    if path is not None:
        try:
            write_tracks(tracks, path)
        except (ExportError, OSError) as exc:  # an unwritable cache must not lose the result
            _log.warning("landmark cache not written: %s", exc)
    return tracks


def detect_hands_cached(
    info: VideoInfo,
    body: LandmarkTracks,
    start_s: float | None = None,
    end_s: float | None = None,
    model: str = "full",
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    use_cache: bool = True,
    method: str = "holistic",
) -> LandmarkTracks:
    """Both hands' landmarks (mocap.detect.mediapipe_hands, `method`) for the frames of `body`, the
    BlazePose tracks of the same video, trim and model, from the cache or by detection.
    Cached like the body's landmarks, under the body's key with "+hands" on the model
    (the crops follow the body's landmarks, which that key fixes). Raises InputError /
    DetectionError from decoding and detection."""
    from mocap.detect.mediapipe_hands import detect_hands
    from mocap.detect.mediapipe_pose import mediapipe_version
    from mocap.video import read_frames

    path: Path | None = None
    hand_model = f"{model}+hands-{method}"
    if use_cache:
        if not info.content_hash:
            raise ValueError("VideoInfo.content_hash is empty; probe the video with probe_video()")
        key = cache_key(info, start_s, end_s, hand_model, mediapipe_version())
        path = cache_path(cache_dir or default_cache_dir(), info, key, hand_model)
        if path.is_file():
            try:
                tracks = read_tracks(path)
            except FormatError:
                tracks = None
            if tracks is not None and np.array_equal(tracks.frame_indices, body.frame_indices):
                if progress is not None:
                    progress(tracks.n_frames)
                return tracks
    start, end = _norm_range(start_s, end_s)
    tracks = detect_hands(info, read_frames(info, start, end), body, progress=progress, method=method)
    if path is not None:
        try:
            write_tracks(tracks, path)
        except (ExportError, OSError) as exc:
            _log.warning("hand landmark cache not written: %s", exc)
    return tracks
