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


def _pose_from(result, offset_px: tuple[float, float], size_px: tuple[int, int]):
    """(image (L, 2) px in the full frame, world (L, 3) internal, visibility (L,)) of a graph
    result on an image of size_px placed at offset_px in the frame; None when no pose."""
    if result.pose_landmarks is None or result.pose_world_landmarks is None:
        return None
    img = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark])
    wld = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
    xy = img[:, :2] * size_px + offset_px - 0.5  # pixel centres at integers
    return xy, wld * _MP_TO_INTERNAL, np.clip(img[:, 2], 0.0, 1.0)


def census(static_graph, rgb: np.ndarray, max_people: int = people.MAX_PEOPLE) -> list[np.ndarray]:
    """Boxes (x0, y0, x1, y1 px) of the people in an (H, W, 3) frame: BlazePose's detector and
    landmarks in single-image mode, the person found painted out, again (at most max_people)."""
    height, width = rgb.shape[:2]
    image = rgb
    boxes: list[np.ndarray] = []
    for _ in range(max_people):
        pose = _pose_from(static_graph.process(image), (0.0, 0.0), (width, height))
        if pose is None:
            break
        box = people.box_from_landmarks(pose[0], pose[2], (width, height))
        if box is None or any(people.iou(box, b) > 0.5 for b in boxes):
            break
        boxes.append(box)
        image = people.paint_out(rgb, [people.padded(b, (width, height)) for b in boxes])
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

    One person is followed (mocap.detect.people): the people in view are counted every
    CENSUS_INTERVAL_S; with several (or with `person` given) the one `person` picks
    (default: the largest) is followed with the others painted out of every frame; a pose that cannot be the same person as the frame before is rejected (the frame
    stays undetected, identity_lost True) and tracking restarts inside the person's box.
    With one person and no `person`, frames go to BlazePose whole, as they are.
    `mediapipe_smoothing=True` turns MediaPipe's own 30-fps landmark filter back on; it
    exists only to reproduce reference outputs made with MediaPipe's defaults.
    Raises DetectionError if the model cannot be loaded or the graph fails.
    """
    _check_model_name(model)
    ensure_model(model)
    try:
        from mediapipe.python.solutions import pose as mp_pose
    except ImportError as exc:
        raise DetectionError(f"mediapipe cannot be imported ({exc})") from exc

    def new_graph(static: bool):
        try:
            return mp_pose.Pose(
                static_image_mode=static,
                model_complexity=MODEL_COMPLEXITY[model],
                smooth_landmarks=mediapipe_smoothing and not static,
                enable_segmentation=False,
                min_detection_confidence=0.5,
                min_tracking_confidence=0.5,
            )
        except (RuntimeError, OSError, ValueError) as exc:
            raise DetectionError(f"cannot start the MediaPipe pose graph for model {model!r}: {exc}") from exc

    times: list[float] = []
    indices: list[int] = []
    image_rows: list[np.ndarray] = []
    world_rows: list[np.ndarray] = []
    vis_rows: list[np.ndarray] = []
    found: list[bool] = []
    counted: list[int] = []
    lost: list[bool] = []
    nan_xy = np.full((N_LANDMARKS, 2), np.nan)
    nan_xyz = np.full((N_LANDMARKS, 3), np.nan)
    zero_vis = np.zeros(N_LANDMARKS)
    size = (int(info.width_px), int(info.height_px))
    # Native start-up chatter lasts until the first pose has gone through the graph.
    quiet = contextlib.ExitStack()
    quiet.enter_context(native_output.silenced(2))
    graphs = contextlib.ExitStack()
    whole = None
    try:
        whole = new_graph(static=False)
        static = graphs.enter_context(new_graph(static=True))
        target: np.ndarray | None = None  # the followed person's box (None: whole frames)
        others: list[np.ndarray] = []  # the other people of the last census
        keep: np.ndarray | None = None  # the followed person's box in the last census
        prev: tuple[np.ndarray, float] | None = None  # last accepted pose (L, 2) and its time
        next_census_s = -np.inf
        for frame in frames:
            height, width = frame.rgb.shape[:2]
            n_people = -1
            try:
                if frame.time_s >= next_census_s - 1e-6:
                    boxes = census(static, frame.rgb)
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
                if target is None:
                    image = frame.rgb
                else:  # the same tracker, the other people painted out
                    image = people.paint_out(frame.rgb, [people.padded(b, (width, height)) for b in others], keep=keep)
                pose = _pose_from(whole.process(image), (0.0, 0.0), (width, height))
            except RuntimeError as exc:
                raise DetectionError(f"{info.path}: MediaPipe failed on frame {frame.index}: {exc}") from exc
            rejected = False
            if pose is not None and prev is not None:
                if not people.same_person(prev[0], pose[0], BLAZEPOSE_NAMES, frame.time_s - prev[1]):
                    rejected, pose = True, None
                    if target is None:  # the tracker jumped: follow the last box from now on
                        target = people.box_from_landmarks(prev[0], np.ones(N_LANDMARKS), (width, height))
                        keep = target
                    whole.close()  # start afresh: the detector, with the others painted out
                    whole = new_graph(static=False)
                    next_census_s = -np.inf  # count again now: who is where, to paint the others out
            times.append(frame.time_s)
            indices.append(frame.index)
            counted.append(n_people)
            lost.append(rejected)
            if pose is None:
                image_rows.append(nan_xy)
                world_rows.append(nan_xyz)
                vis_rows.append(zero_vis)
                found.append(False)
            else:
                image_rows.append(pose[0])
                world_rows.append(pose[1])
                vis_rows.append(pose[2])
                found.append(True)
                prev = (pose[0], frame.time_s)
                box = people.box_from_landmarks(pose[0], pose[2], (width, height))
                if target is not None and box is not None:
                    target = box
            quiet.close()  # start-up chatter is over once a pose went through
            if progress is not None:
                progress(1)
    finally:
        if whole is not None:
            whole.close()
        graphs.close()
        quiet.close()

    n = len(times)
    arrays = _empty_tracks(info, 0) if n == 0 else {
        "image_xy_px": np.stack(image_rows),
        "world_m": np.stack(world_rows),
        "visibility": np.stack(vis_rows),
        "detected": np.array(found, dtype=bool),
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
