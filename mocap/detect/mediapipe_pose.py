"""The MediaPipe adapter: frames -> LandmarkTracks with BlazePose GHUM (33 landmarks).

The only module that imports `mediapipe`, lazily inside functions. It is also the one
place where MediaPipe's world frame is converted to mocap's internal frame
(docs/conventions.md): MediaPipe world landmarks are x right, y down, z away from the
camera, hip-centred; internal = (x, -y, -z).

Runs the legacy `mediapipe.solutions.pose` graph in video (tracking) mode with its own
landmark smoothing off: that filter assumes 30 fps (the solution API feeds simulated
timestamps 33.3 ms apart), while mocap's smoother runs later with the clip's true fps.
The `full` model ships in the mediapipe 0.10.21 wheel; `lite` and `heavy` are fetched
once into mediapipe's package folder (as mediapipe itself would) and raise
DetectionError when that is impossible (offline, read-only install).
"""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap import native_output
from mocap.data import BLAZEPOSE_NAMES, Frame, LandmarkTracks, VideoInfo
from mocap.errors import DetectionError, ExportError

MODEL_COMPLEXITY: dict[str, int] = {"lite": 0, "full": 1, "heavy": 2}
MODEL_URL = "https://storage.googleapis.com/mediapipe-assets/pose_landmark_{model}.tflite"
DOWNLOAD_TIMEOUT_S = 30.0
N_LANDMARKS = len(BLAZEPOSE_NAMES)  # L = 33

# MediaPipe world (x right, y down, z away from camera) -> internal (x right, y up, z toward camera)
_MP_TO_INTERNAL = np.array([1.0, -1.0, -1.0])


def mediapipe_version() -> str:
    """The installed mediapipe version, read from package metadata (no import of mediapipe)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mediapipe")
    except PackageNotFoundError as exc:
        raise DetectionError("mediapipe is not installed (pip install mediapipe==0.10.21)") from exc


def model_path(model: str) -> Path:
    """Where mediapipe's pose graph looks for the landmark model of this name (no import)."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise DetectionError("mediapipe is not installed (pip install mediapipe==0.10.21)")
    package = Path(list(spec.submodule_search_locations)[0])
    return package / "modules" / "pose_landmark" / f"pose_landmark_{model}.tflite"


def _check_model_name(model: str) -> None:
    if model not in MODEL_COMPLEXITY:
        raise DetectionError(f"unknown pose model {model!r} (choose from: {', '.join(MODEL_COMPLEXITY)})")


def ensure_model(model: str) -> Path:
    """Make sure the landmark model file exists, downloading it (with a timeout) if not.

    Raises DetectionError with a one-line message when the file is missing and cannot be
    fetched or stored. The download goes to a temporary file renamed into place, so an
    interrupted fetch never leaves a truncated model behind.
    """
    from mocap.atomic import atomic_path

    _check_model_name(model)
    target = model_path(model)
    if target.is_file() and target.stat().st_size > 0:
        return target
    url = MODEL_URL.format(model=model)
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, atomic_path(target) as tmp:
            tmp.write_bytes(response.read())
    except (urllib.error.URLError, OSError, ExportError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DetectionError(
            f"pose model {model!r} is not bundled with mediapipe and could not be downloaded from {url} "
            f"({reason}); connect once to fetch it, or use model 'full' (works offline)"
        ) from exc
    return target


def _empty_tracks(info: VideoInfo, n: int) -> dict[str, np.ndarray]:
    return {
        "image_xy_px": np.full((n, N_LANDMARKS, 2), np.nan),
        "world_m": np.full((n, N_LANDMARKS, 3), np.nan),
        "visibility": np.zeros((n, N_LANDMARKS)),
        "detected": np.zeros(n, dtype=bool),
    }


@dataclass(frozen=True)
class PoseSample:
    """BlazePose's answer for one frame. image_xy_px (L, 2) pixels; world_m (L, 3) metres,
    internal frame, hip-centred; visibility (L,); all NaN / 0 when detected is False."""

    image_xy_px: np.ndarray
    world_m: np.ndarray
    visibility: np.ndarray
    detected: bool


class PoseGraph:
    """BlazePose GHUM in video (tracking) mode, one frame at a time: a context manager.

    Used by detect_landmarks (offline) and mocap.live (frame by frame). `process(frame)`
    returns a PoseSample; the graph's own 30-fps landmark filter is off unless
    `mediapipe_smoothing`. Raises DetectionError if the model cannot be loaded or the
    graph fails on a frame.
    """

    def __init__(self, model: str = "full", *, mediapipe_smoothing: bool = False, name: str = "") -> None:
        _check_model_name(model)
        ensure_model(model)
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError as exc:
            raise DetectionError(f"mediapipe cannot be imported ({exc})") from exc
        self.model = model
        self._name = name
        # Native start-up chatter lasts until the first pose has gone through the graph.
        self._quiet = contextlib.ExitStack()
        self._quiet.enter_context(native_output.silenced(2))
        try:
            self._graph = mp_pose.Pose(
                static_image_mode=False,
                model_complexity=MODEL_COMPLEXITY[model],
                smooth_landmarks=mediapipe_smoothing,
                enable_segmentation=False,
                min_detection_confidence=0.5,
                min_tracking_confidence=0.5,
            )
        except (RuntimeError, OSError, ValueError) as exc:
            self._quiet.close()
            raise DetectionError(f"cannot start the MediaPipe pose graph for model {model!r}: {exc}") from exc

    def __enter__(self) -> PoseGraph:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._quiet.close()
        self._graph.close()

    def process(self, frame: Frame) -> PoseSample:
        """Landmarks of one Frame (rgb (H, W, 3) uint8, displayed orientation)."""
        height, width = frame.rgb.shape[:2]
        try:
            result = self._graph.process(frame.rgb)
        except RuntimeError as exc:
            raise DetectionError(f"{self._name}: MediaPipe failed on frame {frame.index}: {exc}") from exc
        finally:
            self._quiet.close()  # start-up chatter is over once a frame went through
        if result.pose_landmarks is None or result.pose_world_landmarks is None:
            return PoseSample(_NAN_XY, _NAN_XYZ, _ZERO_VIS, False)
        img = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark])
        wld = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
        return PoseSample(
            image_xy_px=img[:, :2] * (width, height) - 0.5,  # pixel centres at integers
            world_m=wld * _MP_TO_INTERNAL,
            visibility=np.clip(img[:, 2], 0.0, 1.0),
            detected=True,
        )


_NAN_XY = np.full((N_LANDMARKS, 2), np.nan)
_NAN_XYZ = np.full((N_LANDMARKS, 3), np.nan)
_ZERO_VIS = np.zeros(N_LANDMARKS)
for _a in (_NAN_XY, _NAN_XYZ, _ZERO_VIS):
    _a.flags.writeable = False


def detect_landmarks(
    info: VideoInfo,
    frames: Iterable[Frame],
    model: str = "full",
    progress: Callable[[int], None] | None = None,
    *,
    mediapipe_smoothing: bool = False,
) -> LandmarkTracks:
    """Run BlazePose on every frame; one output row per input frame, none dropped.

    Returns LandmarkTracks with T = number of frames and L = 33 (BLAZEPOSE_NAMES):
    image_xy_px (T, L, 2) = (x*W, y*H) of MediaPipe's normalised landmarks on the
    displayed frame; world_m (T, L, 3) metres in the internal frame (x, -y, -z of
    MediaPipe's world landmarks); visibility (T, L); detected (T,). Undetected frames
    have NaN positions and visibility 0. `progress(1)` is called after each frame.
    `mediapipe_smoothing=True` turns MediaPipe's own 30-fps landmark filter back on; it
    exists only to reproduce reference outputs made with MediaPipe's defaults.
    Raises DetectionError if the model cannot be loaded or the graph fails.
    """
    times: list[float] = []
    indices: list[int] = []
    samples: list[PoseSample] = []
    with PoseGraph(model, mediapipe_smoothing=mediapipe_smoothing, name=str(info.path)) as graph:
        for frame in frames:
            samples.append(graph.process(frame))
            times.append(frame.time_s)
            indices.append(frame.index)
            if progress is not None:
                progress(1)

    n = len(times)
    arrays = _empty_tracks(info, 0) if n == 0 else {
        "image_xy_px": np.stack([s.image_xy_px for s in samples]),
        "world_m": np.stack([s.world_m for s in samples]),
        "visibility": np.stack([s.visibility for s in samples]),
        "detected": np.array([s.detected for s in samples], dtype=bool),
    }
    return LandmarkTracks(
        names=BLAZEPOSE_NAMES,
        fps=float(info.fps),
        times_s=np.asarray(times, dtype=np.float64),
        frame_indices=np.asarray(indices, dtype=np.int64),
        image_size_px=(int(info.width_px), int(info.height_px)),
        source=f"mediapipe-{mediapipe_version()}/blazepose-{model}" + ("+mp-smoothing" if mediapipe_smoothing else ""),
        **arrays,
    )


def limit_native_threads(n: int) -> None:
    """Cap OpenCV's thread pool in this process (MediaPipe brings cv2 and uses it for image
    conversions). TFLite's XNNPACK delegate already runs on one thread on desktop Linux
    (mediapipe's inference calculator: GetXnnpackDefaultNumThreads returns 1 off Android/iOS);
    BLAS threads are capped through the environment (mocap.batch.pool) before numpy loads."""
    import cv2

    cv2.setNumThreads(max(1, int(n)))
