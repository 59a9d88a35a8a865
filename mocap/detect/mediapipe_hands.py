"""The MediaPipe Hands adapter: frames + the body's landmarks -> both hands' 21 landmarks.

Two ways of running the hand landmark model that ships in the mediapipe 0.10.21 wheel:

holistic (default): MediaPipe Holistic, whose hand model runs on regions its own BlazePose
    derives from the wrists, with no palm detector (_detect_holistic);
crops: `mediapipe.solutions.hands` (palm detector + hand landmark model, full complexity) on
    a square crop around each of BlazePose's wrists (not the whole frame: a performer seen
    whole is small, and the palm detector's 192 x 192 input misses hands a few dozen pixels
    tall); 1.4-1.7 times as fast, finds fewer hands.

benchmarks/hands_detectors.py and benchmarks/accuracy_hands.py chose between them (figures
in docs/hands-and-matte.md): on three rendered clips Holistic's finger angles were closer to
the truth over all frames on every clip, and it found more hands on the real clips.

Left and right come from the body, not from the hand model's handedness label: a hand
found in the crop around BlazePose's left wrist is kept as the left hand only if its wrist
is nearer that wrist than the other one and within `MAX_WRIST_DIST` crop sides of it
(`matches_wrist`); otherwise that hand is unseen in that frame. Hands together, or one
hand crossing the other, therefore never swap sides; they drop out instead.

Output: LandmarkTracks with the 42 names of mocap.data.hand_landmark_names (left hand
first); world_m (T, 42, 3) metres in the internal frame (x, -y, -z of MediaPipe's hand
world landmarks, as for the body) **relative to that hand's wrist**; image_xy_px (T, 42, 2)
in the full frame's pixels; visibility (T, 42) = the hand model's confidence in that
frame, 0 where the hand was not found; detected (T,) = either hand found.
mocap.hands.merge_hands puts them at the body's wrists.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable

import numpy as np

from mocap import native_output
from mocap.data import HAND_LANDMARKS, SIDES, Frame, LandmarkTracks, VideoInfo, hand_landmark_names
from mocap.errors import DetectionError

_MP_TO_INTERNAL = np.array([1.0, -1.0, -1.0])
N_HAND = len(HAND_LANDMARKS)
MIN_WRIST_VISIBILITY = 0.2  # BlazePose's wrist below this: no crop (the wrist is a guess)
MAX_WRIST_DIST = 0.3  # a hand's wrist further than this (crop sides) from the body's is rejected
# Crop side: the largest of these (pixels): it must hold the whole hand when the forearm
# points at the camera (shoulder width) and when it lies across the view (forearm).
CROP_FOREARM = 1.3
CROP_SHOULDERS = 0.8
CROP_HAND = 4.0
MIN_CROP_PX = 48


def crop_box(wrist: np.ndarray, tip: np.ndarray, elbow: np.ndarray, shoulders: tuple[np.ndarray, np.ndarray]) -> tuple[float, float, float]:
    """(x0, y0, side) pixels of the square crop around one hand: centred half-way from the
    wrist to BlazePose's hand tip (mean of index and pinky), its side the largest of
    CROP_FOREARM forearms, CROP_SHOULDERS shoulder widths and CROP_HAND wrist->tip lengths."""
    side = max(
        CROP_FOREARM * float(np.linalg.norm(wrist - elbow)),
        CROP_SHOULDERS * float(np.linalg.norm(shoulders[0] - shoulders[1])),
        CROP_HAND * float(np.linalg.norm(tip - wrist)),
        MIN_CROP_PX,
    )
    centre = wrist + 0.5 * (tip - wrist)
    return float(centre[0] - side / 2), float(centre[1] - side / 2), side


def matches_wrist(hand_wrist_px: np.ndarray, own_wrist_px: np.ndarray, other_wrist_px: np.ndarray, crop_side_px: float) -> bool:
    """Whether a detected hand belongs to the body's wrist its crop was centred on: its wrist
    is nearer that wrist than the other wrist (NaN other: not seen, no competition) and
    within MAX_WRIST_DIST crop sides of it."""
    own = float(np.linalg.norm(hand_wrist_px - own_wrist_px))
    other = float(np.linalg.norm(hand_wrist_px - other_wrist_px))
    return own <= MAX_WRIST_DIST * crop_side_px and not own > other


def _crop(rgb: np.ndarray, x0: float, y0: float, side: float) -> tuple[np.ndarray, int, int]:
    """The square crop (zero-padded where it leaves the image) and its integer origin."""
    h, w = rgb.shape[:2]
    ix, iy, n = int(round(x0)), int(round(y0)), int(round(side))
    out = np.zeros((n, n, 3), dtype=np.uint8)
    sx0, sy0, sx1, sy1 = max(ix, 0), max(iy, 0), min(ix + n, w), min(iy + n, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - iy : sy1 - iy, sx0 - ix : sx1 - ix] = rgb[sy0:sy1, sx0:sx1]
    return out, ix, iy


def detect_hands(
    info: VideoInfo,
    frames: Iterable[Frame],
    body: LandmarkTracks,
    progress: Callable[[int], None] | None = None,
    method: str = "holistic",
) -> LandmarkTracks:
    """Both hands' landmarks in every frame of `body` (module docstring for the output).

    frames: the same frames the body tracks were detected on (matched by index; frames
    not in `body` are skipped). `progress(1)` after each frame. method: "holistic" (the
    default: _detect_holistic) or "crops" (module docstring). Raises DetectionError if the model cannot
    be loaded or fails on a frame, or for another method.
    """
    if method == "holistic":
        return _detect_holistic(info, frames, body, progress)
    if method != "crops":
        raise DetectionError(f"unknown hand detection method {method!r} (crops or holistic)")
    try:
        from mediapipe.python.solutions import hands as mp_hands
    except ImportError as exc:
        raise DetectionError(f"mediapipe cannot be imported ({exc})") from exc

    n = body.n_frames
    row_of = {int(f): i for i, f in enumerate(body.frame_indices)}
    names = hand_landmark_names()
    world = np.full((n, len(names), 3), np.nan)
    image = np.full((n, len(names), 2), np.nan)
    vis = np.zeros((n, len(names)))
    side_names = {s: {k: f"{s}_{k}" for k in ("wrist", "index", "pinky", "elbow", "shoulder")} for s in SIDES}
    quiet = contextlib.ExitStack()
    quiet.enter_context(native_output.silenced(2))
    try:
        try:
            graphs = {s: mp_hands.Hands(static_image_mode=True, max_num_hands=2, model_complexity=1,
                                        min_detection_confidence=0.5) for s in SIDES}
        except (RuntimeError, OSError, ValueError) as exc:
            raise DetectionError(f"cannot start the MediaPipe hands graph: {exc}") from exc
        with contextlib.ExitStack() as stack:
            for graph in graphs.values():
                stack.enter_context(graph)
            for frame in frames:
                row = row_of.get(int(frame.index))
                if row is None:
                    continue
                if body.detected[row]:
                    for k, side in enumerate(SIDES):
                        _one_hand(graphs[side], frame, body, row, side, side_names, k, world, image, vis)
                quiet.close()
                if progress is not None:
                    progress(1)
    finally:
        quiet.close()
    from mocap.detect.mediapipe_pose import mediapipe_version

    return LandmarkTracks(
        names=names,
        fps=body.fps,
        times_s=body.times_s.copy(),
        frame_indices=body.frame_indices.copy(),
        image_size_px=body.image_size_px,
        image_xy_px=image,
        world_m=world,
        visibility=vis,
        detected=vis.max(axis=1) > 0,
        source=f"mediapipe-{mediapipe_version()}/hands-full-crops",
    )


HOLISTIC_VISIBILITY = 0.9  # Holistic gives no per-hand score; a found hand counts as well seen


def _detect_holistic(info: VideoInfo, frames: Iterable[Frame], body: LandmarkTracks,
                     progress: Callable[[int], None] | None) -> LandmarkTracks:
    """Hands from MediaPipe Holistic (video mode): its hand model runs on regions its own
    BlazePose derives from the wrists, with no palm detector, which finds more hands
    (docs/hands-and-matte.md). Its hand landmarks are image x, y and a relative depth z in
    the units of x, with no metric world landmarks: they are turned into the internal frame
    ((x, -y, -z), wrist-relative) and scaled to metres by the body's trunk, BlazePose's
    pelvis -> neck-base length in metres over the same length in pixels in that frame (the
    hands are assumed about as far from the camera as the trunk). Each hand is kept only on
    its own body wrist (matches_wrist, with the crop side the crops method would use)."""
    try:
        from mediapipe.python.solutions import holistic as mp_holistic
    except ImportError as exc:
        raise DetectionError(f"mediapipe cannot be imported ({exc})") from exc
    n = body.n_frames
    row_of = {int(f): i for i, f in enumerate(body.frame_indices)}
    names = hand_landmark_names()
    world = np.full((n, len(names), 3), np.nan)
    image = np.full((n, len(names), 2), np.nan)
    vis = np.zeros((n, len(names)))
    quiet = contextlib.ExitStack()
    quiet.enter_context(native_output.silenced(2))
    try:
        try:
            graph = mp_holistic.Holistic(static_image_mode=False, model_complexity=1, smooth_landmarks=False,
                                         refine_face_landmarks=False)
        except (RuntimeError, OSError, ValueError) as exc:
            raise DetectionError(f"cannot start the MediaPipe holistic graph: {exc}") from exc
        with graph:
            for frame in frames:
                row = row_of.get(int(frame.index))
                if row is None:
                    continue
                try:
                    result = graph.process(frame.rgb)
                except RuntimeError as exc:
                    raise DetectionError(f"MediaPipe holistic failed on frame {frame.index}: {exc}") from exc
                quiet.close()
                if body.detected[row]:
                    h, w = frame.rgb.shape[:2]
                    for k, side in enumerate(SIDES):
                        found = result.left_hand_landmarks if side == "left" else result.right_hand_landmarks
                        if found is not None:
                            pts = np.array([(p.x * w - 0.5, p.y * h - 0.5, p.z * w) for p in found.landmark])
                            _keep_holistic_hand(pts, body, row, k, world, image, vis)
                if progress is not None:
                    progress(1)
    finally:
        quiet.close()
    from mocap.detect.mediapipe_pose import mediapipe_version

    return LandmarkTracks(
        names=names, fps=body.fps, times_s=body.times_s.copy(), frame_indices=body.frame_indices.copy(),
        image_size_px=body.image_size_px, image_xy_px=image, world_m=world, visibility=vis,
        detected=vis.max(axis=1) > 0, source=f"mediapipe-{mediapipe_version()}/hands-holistic",
    )


def _keep_holistic_hand(pts: np.ndarray, body: LandmarkTracks, row: int, k: int,
                        world: np.ndarray, image: np.ndarray, vis: np.ndarray) -> None:
    side, other = SIDES[k], SIDES[1 - k]
    px = lambda name: body.image(name)[row]  # noqa: E731
    wx = lambda name: body.world(name)[row]  # noqa: E731
    own_wrist, other_wrist = px(f"{side}_wrist"), px(f"{other}_wrist")
    if body.visibility[row, body.index(f"{other}_wrist")] < MIN_WRIST_VISIBILITY:
        other_wrist = np.full(2, np.nan)
    tip = 0.5 * (px(f"{side}_index") + px(f"{side}_pinky"))
    _, _, size = crop_box(own_wrist, tip, px(f"{side}_elbow"), (px(f"{side}_shoulder"), px(f"{other}_shoulder")))
    if not matches_wrist(pts[0, :2], own_wrist, other_wrist, size):
        return
    mid = lambda f, a, b: 0.5 * (f(a) + f(b))  # noqa: E731
    trunk_px = np.linalg.norm(mid(px, "left_shoulder", "right_shoulder") - mid(px, "left_hip", "right_hip"))
    trunk_m = np.linalg.norm(mid(wx, "left_shoulder", "right_shoulder") - mid(wx, "left_hip", "right_hip"))
    if not trunk_px > 1.0 or not np.isfinite(trunk_m):
        return
    cols = slice(k * N_HAND, (k + 1) * N_HAND)
    rel = (pts - pts[0]) * (trunk_m / trunk_px) * _MP_TO_INTERNAL
    world[row, cols] = rel.astype(np.float32)
    image[row, cols] = pts[:, :2]
    vis[row, cols] = float(np.float32(HOLISTIC_VISIBILITY))  # as the cache stores it


def _one_hand(graph, frame: Frame, body: LandmarkTracks, row: int, side: str, side_names: dict, k: int,
              world: np.ndarray, image: np.ndarray, vis: np.ndarray) -> None:
    own, other = side_names[side], side_names[SIDES[1 - k]]
    px = lambda name: body.image(name)[row]  # noqa: E731
    if body.visibility[row, body.index(own["wrist"])] < MIN_WRIST_VISIBILITY:
        return
    wrist, other_wrist = px(own["wrist"]), px(other["wrist"])
    if body.visibility[row, body.index(other["wrist"])] < MIN_WRIST_VISIBILITY:
        other_wrist = np.full(2, np.nan)
    tip = 0.5 * (px(own["index"]) + px(own["pinky"]))
    x0, y0, size = crop_box(wrist, tip, px(own["elbow"]), (px(own["shoulder"]), px(other["shoulder"])))
    crop, ix, iy = _crop(frame.rgb, x0, y0, size)
    try:
        result = graph.process(crop)
    except RuntimeError as exc:
        raise DetectionError(f"MediaPipe hands failed on frame {frame.index}: {exc}") from exc
    if not result.multi_hand_landmarks:
        return
    n_px = crop.shape[0]
    best, best_dist = None, np.inf
    for i, landmarks in enumerate(result.multi_hand_landmarks):
        pts = np.array([(p.x, p.y) for p in landmarks.landmark]) * n_px + (ix, iy) - 0.5
        dist = float(np.linalg.norm(pts[0] - wrist))
        if dist < best_dist:
            best, best_dist = (i, pts), dist
    i, pts = best
    if not matches_wrist(pts[0], wrist, other_wrist, size):
        return
    wld = np.array([(p.x, p.y, p.z) for p in result.multi_hand_world_landmarks[i].landmark]) * _MP_TO_INTERNAL
    cols = slice(k * N_HAND, (k + 1) * N_HAND)
    world[row, cols] = (wld - wld[0]).astype(np.float32)  # what the cache stores, so a hit is exact
    image[row, cols] = pts
    vis[row, cols] = float(result.multi_handedness[i].classification[0].score)





def hands_found_by(method: str, info: VideoInfo, frames: Iterable[Frame], body: LandmarkTracks) -> np.ndarray:
    """(T, 2) bool, left then right: in which frames of `body` a hand was found on each of
    the body's wrists by one of three ways of running MediaPipe's hand model, for
    benchmarks/hands_detectors.py:

    holistic, crops: detect_hands with that method (module docstring);
    frame:    Hands on the whole frame in video mode (two hands), each kept on the body's
              wrist nearest its own wrist when matches_wrist holds (not offered to users:
              it finds almost nothing on full-body footage).
    Raises DetectionError for another method or a failing graph."""
    if method in ("crops", "holistic"):
        hands = detect_hands(info, frames, body, method=method)
        return np.stack([hands.visibility[:, k * N_HAND : (k + 1) * N_HAND].max(axis=1) > 0 for k in range(2)], axis=1)
    if method != "frame":
        raise DetectionError(f"unknown hand detection method {method!r}")
    from mediapipe.python.solutions import hands as mp_hands

    row_of = {int(f): i for i, f in enumerate(body.frame_indices)}
    found = np.zeros((body.n_frames, 2), dtype=bool)
    with native_output.silenced(2):
        graph = mp_hands.Hands(static_image_mode=False, max_num_hands=2, model_complexity=1)
    with graph:
        for frame in frames:
            row = row_of.get(int(frame.index))
            if row is None:
                continue
            result = graph.process(frame.rgb)
            h, w = frame.rgb.shape[:2]
            if not body.detected[row]:
                continue
            wrists = [body.image(f"{s}_wrist")[row] for s in SIDES]
            arm = float(np.linalg.norm(body.image("left_shoulder")[row] - body.image("right_shoulder")[row]))
            for landmarks in result.multi_hand_landmarks or []:
                wrist = np.array([landmarks.landmark[0].x * w, landmarks.landmark[0].y * h]) - 0.5
                k = int(np.argmin([np.linalg.norm(wrist - p) for p in wrists]))
                if matches_wrist(wrist, wrists[k], wrists[1 - k], max(CROP_SHOULDERS * arm, MIN_CROP_PX)):
                    found[row, k] = True
    return found


__all__ = ["crop_box", "detect_hands", "hands_found_by", "matches_wrist"]
