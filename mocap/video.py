"""Video input: probe a file, then decode its frames as RGB in displayed orientation.

This is the only module that imports PyAV (`av`), and it does so lazily inside
functions, so `import mocap.video` stays light.

Rotation: `VideoInfo.rotation_deg` is the **clockwise** rotation that turns the stored
image into the displayed one (the convention of the classic `rotate` metadata tag: a
portrait phone clip stored as 1920x1080 has rotation_deg 90). It is read from the display
matrix side data (PyAV's `VideoFrame.rotation`, counter-clockwise) or, failing that, the
`rotate` tag. `read_frames` applies it, so every `Frame.rgb` is (H, W, 3) uint8 in the
displayed orientation and `VideoInfo.width_px/height_px` are that displayed size.

Time: `Frame.time_s` is the presentation time relative to the stream's start time;
`Frame.index` is the frame's 0-based position in presentation order in the source.
Frame ranges are half-open: a frame belongs to [start_s, end_s) when
start_s <= time_s < end_s (to within a microsecond).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from mocap.data import Frame, VideoInfo
from mocap.errors import InputError

_EPS_S = 1e-6  # tolerance for comparing times, seconds
_HASH_CHUNK = 1 << 20
_decode_threads = 0  # 0: FFmpeg's own choice (one per core); see set_decode_threads


def set_decode_threads(n: int) -> None:
    """Decoder threads for read_frames in this process (0: one per core, FFmpeg's default).

    Batch and chunk workers set it so that N processes do not each start one decoding
    thread per core.
    """
    global _decode_threads
    _decode_threads = max(0, int(n))


def _open(path: Path) -> Any:
    """Open a container with PyAV, translating every failure into InputError."""
    import av

    try:
        return av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable video ({_short(exc)})") from exc


def _short(exc: BaseException) -> str:
    """A one-line description of an exception."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _check_not_an_image(container: Any, path: Path) -> None:
    """A still image opens as a one-frame video (FFmpeg's image2 / *_pipe demuxers); one
    frame is no motion, so say what the file is instead of reporting "no person"."""
    names = set((container.format.name or "").split(","))
    if "image2" in names or any(name.endswith("_pipe") for name in names):
        container.close()
        raise InputError(f"{path}: an image ({container.format.name}), not a video")


def _video_stream(container: Any, path: Path) -> Any:
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: no video stream")
    return container.streams.video[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=16)
def _packet_pts_cached(path_str: str, mtime_ns: int, size: int) -> tuple[np.ndarray, Fraction, int, int]:
    import av

    path = Path(path_str)
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        time_base = stream.time_base
        start = stream.start_time
        pts: list[int] = []
        n_packets = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the flush packet at the end
                    continue
                n_packets += 1
                value = packet.pts if packet.pts is not None else packet.dts
                if value is not None:
                    pts.append(int(value))
        except av.FFmpegError as exc:
            raise InputError(f"{path}: unreadable video data ({_short(exc)})") from exc
    finally:
        container.close()
    arr = np.sort(np.asarray(pts, dtype=np.int64))  # presentation order
    if start is None:
        start = int(arr[0]) if arr.size else 0
    return arr, Fraction(time_base), int(start), n_packets


def _packet_times_s(path: Path) -> np.ndarray:
    """(N,) presentation time of every video packet, sorted, relative to stream start.

    Demuxes without decoding (cheap); memoised per file path, size and mtime.
    """
    st = path.stat()
    pts, time_base, start, _ = _packet_pts_cached(str(path), st.st_mtime_ns, st.st_size)
    return (pts - start).astype(np.float64) * time_base.numerator / time_base.denominator


def frame_times_s(path: Path) -> np.ndarray:
    """(N,) presentation time in seconds of every frame of a video, relative to its start."""
    return _packet_times_s(Path(path)).copy()


def _rotation_cw_from_frame(frame: Any, stream: Any) -> int:
    """Clockwise display rotation in {0, 90, 180, 270} from a decoded frame or the stream tag."""
    ccw = getattr(frame, "rotation", 0) or 0
    if ccw:
        return int(round(-ccw / 90.0)) * 90 % 360
    tag = stream.metadata.get("rotate")
    if tag:
        try:
            return int(round(float(tag) / 90.0)) * 90 % 360
        except ValueError:
            return 0
    return 0


def _check_not_truncated(stream: Any, path: Path) -> None:
    """Raise InputError when the container's index points past the end of the file.

    A cut-off download whose index sits at the front (MP4 "faststart") still opens and
    demuxes, silently losing its tail; the index is what reveals it.
    """
    size = path.stat().st_size
    try:
        ends = [e.pos + e.size for e in stream.index_entries if e.pos >= 0 and not e.is_discard]
    except (AttributeError, TypeError):  # older PyAV without index_entries
        return
    if ends and max(ends) > size:
        raise InputError(f"{path}: file is truncated (its index reaches byte {max(ends)}, the file has {size})")


def _focal_length_35mm(*metadata: dict) -> float | None:
    """The 35 mm-equivalent focal length from container/stream tags, if any (iPhones write
    com.apple.quicktime.camera.focal_length.35mm_equivalent); None when absent or odd."""
    for tags in metadata:
        for key, value in (tags or {}).items():
            if "35mm" in key.lower():
                try:
                    focal = float(str(value).strip().split()[0])
                except (ValueError, IndexError):
                    continue
                if 5.0 <= focal <= 400.0:
                    return focal
    return None


def probe_video(path: Path) -> VideoInfo:
    """Read a video's metadata: displayed size, fps, exact frame count, rotation, hash.

    fps is the container's average rate, cross-checked with the packet timestamps
    (the median frame interval wins when the two disagree by more than 1% and the
    timestamps are regular). `variable_frame_rate` is set when frame intervals differ
    by more than 10% of the median (plus two timestamp ticks). frame_count counts the
    video packets (demuxed, not decoded). One frame is decoded to read the rotation.

    Raises InputError (one line, naming the file) for a missing file, a file that is
    not a readable video, a still image, a file without a video stream, or one with no frames.
    """
    import av

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a file")

    times_s = _packet_times_s(path)
    if times_s.size == 0:
        raise InputError(f"{path}: the video stream has no frames")

    container = _open(path)
    try:
        _check_not_an_image(container, path)
        stream = _video_stream(container, path)
        codec = stream.codec_context.name or ""
        _check_not_truncated(stream, path)
        average_rate = stream.average_rate
        time_base = float(stream.time_base)
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as exc:
            raise InputError(f"{path}: cannot decode video ({_short(exc)})") from exc
        if first is None:
            raise InputError(f"{path}: no decodable video frames")
        rotation = _rotation_cw_from_frame(first, stream)
        width, height = int(first.width), int(first.height)
        focal_35mm = _focal_length_35mm(container.metadata, stream.metadata)
    finally:
        container.close()

    st = path.stat()
    n = _packet_pts_cached(str(path), st.st_mtime_ns, st.st_size)[3]  # every packet, timestamped or not
    diffs = np.diff(times_s)
    variable = False
    ts_fps = None
    if diffs.size:
        median = float(np.median(diffs))
        if median > 0:
            ts_fps = 1.0 / median
            spread = float(np.max(np.abs(diffs - median)))
            variable = spread > 0.1 * median + 2 * time_base
    fps = float(average_rate) if average_rate else 0.0
    if ts_fps is not None and (fps <= 0 or (not variable and abs(fps - ts_fps) > 0.01 * ts_fps)):
        fps = ts_fps
    if fps <= 0:
        raise InputError(f"{path}: cannot determine the frame rate")

    if rotation in (90, 270):
        width, height = height, width
    duration = float(times_s[-1] - times_s[0]) + 1.0 / fps
    return VideoInfo(
        path=path,
        width_px=width,
        height_px=height,
        fps=fps,
        frame_count=n,
        duration_s=duration,
        rotation_deg=rotation,
        codec=codec,
        variable_frame_rate=variable,
        content_hash=_sha256(path),
        focal_length_35mm_mm=focal_35mm,
    )


def _in_range(t: float, start_s: float | None, end_s: float | None) -> bool:
    if start_s is not None and t < start_s - _EPS_S:
        return False
    return end_s is None or t < end_s - _EPS_S


def count_frames_in_range(info: VideoInfo, start_s: float | None = None, end_s: float | None = None) -> int:
    """How many frames `read_frames(info, start_s, end_s)` will yield (for a progress bar)."""
    times_s = _packet_times_s(Path(info.path))
    lo = 0 if start_s is None else int(np.searchsorted(times_s, start_s - _EPS_S, side="left"))
    hi = times_s.size if end_s is None else int(np.searchsorted(times_s, end_s - _EPS_S, side="left"))
    return max(0, hi - lo)


def read_frames(
    info: VideoInfo, start_s: float | None = None, end_s: float | None = None, size_px: tuple[int, int] | None = None
) -> Iterator[Frame]:
    """Decode frames in [start_s, end_s) as Frame(index, time_s, rgb (H, W, 3) uint8).

    Frames come in displayed orientation (rotation applied) and presentation order.
    Decoding is multi-threaded (`thread_type = "AUTO"`). With start_s, the decoder
    seeks to the key frame before start_s and drops the frames before it.
    size_px: (width, height) of the frames as displayed, scaled by FFmpeg (area averaging)
    in the same pass that turns the decoded picture into RGB, which costs about half of
    converting at full size and scaling after (the preview of a 1080p or portrait clip);
    None: the displayed size (info.width_px x info.height_px).
    Raises InputError when the file cannot be opened or its data cannot be decoded.
    """
    import av

    path = Path(info.path)
    if start_s is not None and start_s <= 0:
        start_s = None
    times_s = _packet_times_s(path)  # exact frame indices even after a seek
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        if _decode_threads:
            stream.codec_context.thread_count = _decode_threads
        tb_num, tb_den = stream.time_base.numerator, stream.time_base.denominator
        start_pts = stream.start_time or 0
        if start_s is not None:
            target = int(start_s * tb_den / tb_num) + start_pts
            container.seek(target, stream=stream, backward=True, any_frame=False)
        k = -(info.rotation_deg // 90) % 4  # np.rot90 turns counter-clockwise
        scaled: dict[str, Any] = {}
        if size_px is not None and tuple(size_px) != (info.width_px, info.height_px):
            width, height = (int(v) for v in size_px)
            if k % 2:  # scaled before the rotation: the stored picture's width is the displayed height
                width, height = height, width
            scaled = {"width": width, "height": height, "interpolation": "AREA"}
        try:
            for frame in container.decode(stream):
                pts = frame.pts if frame.pts is not None else frame.dts
                if pts is None:
                    continue
                t = (pts - start_pts) * tb_num / tb_den
                if end_s is not None and t >= end_s - _EPS_S:
                    break
                if not _in_range(t, start_s, end_s):
                    continue
                rgb = frame.to_ndarray(format="rgb24", **scaled)
                if k:
                    rgb = np.rot90(rgb, k)
                rgb = np.ascontiguousarray(rgb)  # PyAV hands back rows with the decoder's padding for some widths
                index = int(np.searchsorted(times_s, t - _EPS_S, side="left"))
                yield Frame(index=index, time_s=float(t), rgb=rgb)
        except av.FFmpegError as exc:
            raise InputError(f"{path}: video data cannot be decoded ({_short(exc)})") from exc
    finally:
        container.close()


def _yuv420_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> (3H/2, W) planar YUV 4:2:0 (I420; BT.601, video range, as ffmpeg
    assumes for untagged H.264). OpenCV's conversion is several times faster than the
    encoder's own (swscale) on these sizes."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)


class VideoWriter:
    """Encode RGB frames as an H.264 .mp4 (PyAV, libx264, yuv420p), written atomically.

        with VideoWriter(path, width_px, height_px) as out:
            out.write(rgb, time_s)          # (H, W, 3) uint8; times in seconds, increasing

    Each frame keeps its own presentation time (time_s minus the first frame's), so a
    variable-frame-rate source stays frame-accurate. Width and height must be even.
    `preset` is x264's speed preset: "superfast" encodes about 1.5x as fast as "veryfast" for
    about 1.8x the file size; the preview passes "ultrafast" at CRF 28, about twice as fast
    again for the same size (docs/benchmarks.md, preview); encoding is most of a preview's
    time. RGB is turned into YUV 4:2:0 by OpenCV before the encoder. The file appears at `path` only when the context exits without an error
    (mocap.atomic); raises ExportError when it cannot be written.

    grey=True writes (H, W) uint8 greyscale frames losslessly instead: FFV1 (pix_fmt gray)
    in a Matroska container (.mkv), any frame size (the segmentation matte, mocap.matte).
    """

    TIME_BASE = Fraction(1, 90000)  # the MPEG clock: exact for 23.976/25/29.97/30/60 fps

    def __init__(self, path: Path, width_px: int, height_px: int, fps: float = 30.0,
                 preset: str = "superfast", crf: int = 23, grey: bool = False) -> None:
        self.grey = bool(grey)
        if not self.grey and (width_px % 2 or height_px % 2):
            raise ValueError(f"H.264 needs an even frame size, got {width_px}x{height_px}")
        self.path = Path(path)
        self.width_px, self.height_px, self.fps = int(width_px), int(height_px), float(fps)
        self.preset, self.crf = preset, int(crf)
        self.n_frames = 0
        self._atomic: Any = None
        self._container: Any = None
        self._stream: Any = None
        self._t0: float | None = None
        self._last_pts = -1

    def __enter__(self) -> VideoWriter:
        import av

        from mocap.errors import ExportError
        from mocap.atomic import atomic_path

        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        try:
            self._container = av.open(str(tmp), mode="w", format="matroska" if self.grey else "mp4")
            rate = Fraction(self.fps).limit_denominator(1001)
            self._stream = self._container.add_stream("ffv1" if self.grey else "libx264", rate=rate)
            self._stream.width, self._stream.height = self.width_px, self.height_px
            self._stream.pix_fmt = "gray" if self.grey else "yuv420p"
            self._stream.codec_context.time_base = self.TIME_BASE
            if not self.grey:
                self._stream.options = {"preset": self.preset, "crf": str(self.crf)}
            self._stream.thread_type = "AUTO"
        except (av.FFmpegError, OSError, ValueError) as exc:
            self._abort(exc)
            raise ExportError(f"{self.path}: cannot encode video ({_short(exc)})") from exc
        return self

    def write(self, rgb: np.ndarray, time_s: float) -> None:
        """Append one (H, W, 3) uint8 frame ((H, W) with grey=True) shown at time_s (seconds)."""
        import av

        if self._t0 is None:
            self._t0 = float(time_s)
        pts = int(round((float(time_s) - self._t0) / self.TIME_BASE))
        pts = max(pts, self._last_pts + 1)  # strictly increasing, whatever the source did
        self._last_pts = pts
        if self.grey:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb, dtype=np.uint8), format="gray")
        else:
            frame = av.VideoFrame.from_ndarray(_yuv420_from_rgb(rgb), format="yuv420p")
        frame.pts, frame.time_base = pts, self.TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.n_frames += 1

    def _abort(self, exc: BaseException) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - already failing; the atomic path removes the file
                pass
        self._atomic.__exit__(type(exc), exc, exc.__traceback__)

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        if exc is not None:
            self._abort(exc)
            return
        from mocap.errors import ExportError

        try:
            if self.n_frames == 0:
                raise ExportError(f"{self.path}: no frames to write")
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
        except BaseException as err:
            self._atomic.__exit__(type(err), err, err.__traceback__)
            raise
        try:
            self._atomic.__exit__(None, None, None)
        except OSError as err:  # the rename into place failed (e.g. a folder of that name)
            raise ExportError(f"{self.path}: cannot write here ({err.strerror or err})") from err
