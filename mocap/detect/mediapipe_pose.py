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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mocap import native_output
from mocap.data import BLAZEPOSE_NAMES, Frame, LandmarkTracks, VideoInfo
from mocap.detect import people
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
    `mediapipe_smoothing`. `static=True`: every frame is a new image (detector and
    landmarks each time, no tracking; mocap.detect.people's census). Raises DetectionError
    if the model cannot be loaded or the graph fails on a frame.
    """

    def __init__(self, model: str = "full", *, mediapipe_smoothing: bool = False, name: str = "",
                 static: bool = False) -> None:
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
                static_image_mode=static,
                model_complexity=MODEL_COMPLEXITY[model],
                smooth_landmarks=mediapipe_smoothing and not static,
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
            self._quiet.close()
            raise DetectionError(f"{self._name}: MediaPipe failed on frame {frame.index}: {exc}") from exc
        if result.pose_landmarks is None or result.pose_world_landmarks is None:
            # The landmark stage has not run yet: its own start-up chatter (a glog warning from
            # its projection calculator) comes with the first person found. `mocap live` warms
            # the graph up on a blank frame, so that is not the first frame there.
            return PoseSample(_NAN_XY, _NAN_XYZ, _ZERO_VIS, False)
        self._quiet.close()  # start-up chatter is over once a pose went through the whole graph
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


def census(static_graph: PoseGraph, frame: Frame, max_people: int = people.MAX_PEOPLE) -> list[np.ndarray]:
    """Boxes (x0, y0, x1, y1 px) of the people in a frame: BlazePose's detector and landmarks
    in single-image mode (`static_graph`), the person found painted out, again (at most
    max_people); mocap.detect.people."""
    height, width = frame.rgb.shape[:2]
    image = frame
    boxes: list[np.ndarray] = []
    for _ in range(max_people):
        sample = static_graph.process(image)
        if not sample.detected:
            break
        box = people.box_from_landmarks(sample.image_xy_px, sample.visibility, (width, height))
        if box is None or any(people.iou(box, b) > 0.5 for b in boxes):
            break
        boxes.append(box)
        painted = people.paint_out(frame.rgb, [people.padded(b, (width, height)) for b in boxes])
        image = replace(frame, rgb=painted)
    return people.plausible_people(boxes)


def detect_landmarks(
    info: VideoInfo,
    frames: Iterable[Frame],
    model: str = "full",
    progress: Callable[[int], None] | None = None,
    *,
    mediapipe_smoothing: bool = False,
    person: people.PersonChoice | None = None,
) -> LandmarkTracks:
    """Run BlazePose on every frame; one output row per input frame, none dropped.

    Returns LandmarkTracks with T = number of frames and L = 33 (BLAZEPOSE_NAMES):
    image_xy_px (T, L, 2) = (x*W, y*H) of MediaPipe's normalised landmarks on the
    displayed frame; world_m (T, L, 3) metres in the internal frame (x, -y, -z of
    MediaPipe's world landmarks); visibility (T, L); detected (T,); people_in_view (T,)
    (-1 between counts) and identity_lost (T,). Undetected frames have NaN positions and
    visibility 0. `progress(1)` is called after each frame.

    The first pose after none (the clip's first frame, after a gap, after a restart) is
    looked at twice: BlazePose's first answer comes from its person detector's coarse box
    and is measurably worse (dev_scifi_idle_45, frame 0: the left toe 30 px off, which the
    smoother spread over frames 0-3 as a foot moving by 5 cm and turning by 20 degrees); the
    second starts from the landmarks' own box, like every tracked frame.

    One person is followed (mocap.detect.people): the people in view are counted every
    CENSUS_INTERVAL_S; with several (or with `person` given) the one `person` picks
    (default: the largest) is followed with the others painted out of every frame; a pose
    that cannot be the same person as the frame before (torso position and size), or,
    while following and within COLOUR_WATCH_S of the tracker losing its person, is dressed
    otherwise (torso colour), is rejected (the frame stays
    undetected, identity_lost True) and tracking restarts. With one person and no
    `person`, frames go to BlazePose whole, as they are.
    `mediapipe_smoothing=True` turns MediaPipe's own 30-fps landmark filter back on; it
    exists only to reproduce reference outputs made with MediaPipe's defaults.
    Raises DetectionError if the model cannot be loaded or the graph fails.
    """
    times: list[float] = []
    indices: list[int] = []
    samples: list[PoseSample] = []
    counted: list[int] = []
    lost: list[bool] = []
    size = (int(info.width_px), int(info.height_px))
    empty = PoseSample(_NAN_XY, _NAN_XYZ, _ZERO_VIS, False)

    def new_tracker() -> PoseGraph:
        return PoseGraph(model, mediapipe_smoothing=mediapipe_smoothing, name=str(info.path))

    graph = new_tracker()
    try:
        with PoseGraph(model, name=str(info.path), static=True) as static:
            target: np.ndarray | None = None  # the followed person's box (None: frames go whole)
            others: list[np.ndarray] = []  # the other people of the last census
            keep: np.ndarray | None = None  # the followed person's box in the last census
            prev: tuple[np.ndarray, float] | None = None  # last accepted pose (L, 2) and its time
            colour_ref: np.ndarray | None = None  # running torso colour of the accepted poses
            lost_s = -np.inf  # when the tracker last lost its person or a pose was rejected
            odd_colour: list[int] = []  # the last tracked frames whose torso colour was off (pending)
            prev_before_odd: tuple[np.ndarray, float] | None = None  # prev before those frames
            next_census_s = -np.inf
            tracking = False  # the tracker had a pose on the frame before
            for frame in frames:
                width, height = frame.rgb.shape[1], frame.rgb.shape[0]
                n_people = -1
                if frame.time_s >= next_census_s - 1e-6:
                    boxes = census(static, frame)
                    n_people = len(boxes)
                    next_census_s = frame.time_s + people.CENSUS_INTERVAL_S
                    if target is None and boxes and (len(boxes) > 1 or person is not None):
                        if prev is None:  # nobody followed yet: the rule picks
                            target = boxes[people.choose(boxes, person or people.PersonChoice(), (width, height))]
                        else:  # keep following the person followed so far
                            target = people.box_from_landmarks(prev[0], np.ones(N_LANDMARKS), (width, height))
                    if target is not None and boxes:
                        mine = int(np.argmax([people.iou(b, target) for b in boxes]))
                        others = [b for i, b in enumerate(boxes) if i != mine]
                        keep = boxes[mine]  # the census' own box: the followed person alone
                    if len(boxes) > 1:
                        next_census_s = frame.time_s + people.CENSUS_INTERVAL_CROWD_S
                seen = frame
                if target is not None:  # the same tracker, the other people painted out
                    painted = people.paint_out(frame.rgb, [people.padded(b, (width, height)) for b in others], keep=keep)
                    seen = replace(frame, rgb=painted)
                sample = graph.process(seen)
                fresh = not tracking  # a pose now would be the detector's, not the tracker's
                if tracking and not sample.detected:
                    lost_s = frame.time_s  # the tracker lost its person: whoever comes back is watched
                if sample.detected and not tracking:
                    # A first pose (clip start, after a gap or a restart) comes from the person
                    # detector's coarse box; a second look at the same frame starts from the
                    # landmarks' own box, as every later frame does.
                    sample = graph.process(seen)
                tracking = sample.detected
                rejected = False
                colour = people.torso_colour(frame.rgb, sample.image_xy_px, BLAZEPOSE_NAMES) if sample.detected else None
                if sample.detected and prev is not None:
                    jumped = not people.same_person(prev[0], sample.image_xy_px, BLAZEPOSE_NAMES, frame.time_s - prev[1])
                    watched = target is not None and frame.time_s - lost_s <= people.COLOUR_WATCH_S + 1e-6
                    dressed = not watched or people.same_clothes(colour_ref, colour)
                    if not dressed and not fresh and len(odd_colour) + 1 < people.COLOUR_FRAMES:
                        odd_colour.append(len(samples))  # tracked: an arm or a bag may cover the torso briefly
                        dressed = True
                    elif dressed:
                        odd_colour.clear()
                    if jumped or not dressed:
                        rejected, sample = True, empty
                        for i in odd_colour:  # the frames before, dressed otherwise too: not ours
                            samples[i], lost[i] = empty, True
                        if odd_colour:
                            prev = prev_before_odd
                        odd_colour.clear()
                        if target is None:  # the tracker jumped: follow the last box from now on
                            target = people.box_from_landmarks(prev[0], np.ones(N_LANDMARKS), (width, height))
                            keep = target
                        lost_s = frame.time_s
                        graph.close()  # start afresh: the detector, with the others painted out
                        graph = new_tracker()
                        tracking = False
                        next_census_s = -np.inf  # count again now: who is where, to paint the others out
                if sample.detected:
                    if not odd_colour:
                        prev_before_odd = (sample.image_xy_px, frame.time_s)
                        if colour is not None:
                            colour_ref = colour if colour_ref is None else colour_ref + people.COLOUR_MEAN_RATE * (colour - colour_ref)
                    prev = (sample.image_xy_px, frame.time_s)
                    box = people.box_from_landmarks(sample.image_xy_px, sample.visibility, (width, height))
                    if target is not None and box is not None:
                        target = box
                samples.append(sample)
                times.append(frame.time_s)
                indices.append(frame.index)
                counted.append(n_people)
                lost.append(rejected)
                if progress is not None:
                    progress(1)
    finally:
        graph.close()
        return_freed_memory()

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
        image_size_px=size,
        source=f"mediapipe-{mediapipe_version()}/blazepose-{model}" + ("+mp-smoothing" if mediapipe_smoothing else ""),
        people_in_view=np.asarray(counted, dtype=np.int64),
        identity_lost=np.asarray(lost, dtype=bool),
        **arrays,
    )


def return_freed_memory() -> bool:
    """Hand the heap pages freed by a detection back to the system (glibc's malloc_trim(0));
    True when that was done, False where libc has no malloc_trim (not glibc).

    MediaPipe's graph threads allocate in glibc arenas of their own, and glibc returns
    freed memory only from the top of the main heap: after a detection, ~220 MB that nothing
    holds any more stayed resident through smoothing and solving, so a long clip's solve
    (~14 KB per frame) came on top of it and the peak grew with length (docs/benchmarks.md,
    "Peak memory": 548 MB for 1 min of 720p30, 858 MB for 10 min with one process).
    Trimming once, when both graphs are closed, costs a few milliseconds."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
    return True


def limit_native_threads(n: int) -> None:
    """Cap OpenCV's thread pool in this process (MediaPipe brings cv2 and uses it for image
    conversions). TFLite's XNNPACK delegate already runs on one thread on desktop Linux
    (mediapipe's inference calculator: GetXnnpackDefaultNumThreads returns 1 off Android/iOS);
    BLAS threads are capped through the environment (mocap.batch.pool) before numpy loads."""
    import cv2

    cv2.setNumThreads(max(1, int(n)))
