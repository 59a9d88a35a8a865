"""Ground-truth accuracy of the exported BVH, side by side with raw BlazePose world landmarks.

For every synthetic clip (../shared/data/synthetic, exact 3D truth) the full pipeline runs
with the CLI's default options (landmark cache on); the motion is written with
mocap.export.bvh.write_bvh, read back with mocap.bvh.read_bvh and its joints measured,
so the numbers are those of the file a user gets. In the same run the raw BlazePose
world landmarks (hip-centred, unsmoothed: what peers consume) are measured the same way.
Metrics (mocap.evaluate; definitions and choices in docs/accuracy.md):

  PA-MPJPE mm        per-frame similarity alignment; shoulders, elbows, wrists, hips, knees, ankles
  limb deg           upper arms, forearms, thighs, shins; per-frame rotation of the 12 body joints removed
  accel mm/f²        root-relative, one rotation per clip (HMR/VIBE definition)
  skate mm/f         horizontal speed of ankles and toes during true (GT) contacts, one similarity per clip
  root mm            root path after one similarity per clip; clips whose pelvis travels >= 1 m

"overall" pools every frame (every contact pair for skate) of every clip, i.e. clips are
weighted by their length. On the real clips (no 3D truth) it reports re-projection
agreement (PCK at 5% of the person's height in pixels, against the detected 2D landmarks)
and jitter (mean root-relative acceleration, mm/frame²).

    .venv/bin/python benchmarks/accuracy.py [--clips GLOB] [--clip-dir DIR] [--real GLOB] [--out docs/accuracy.md]
                                            [--plots docs/img] [--fov-from-gt | --default-fov]
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mocap import evaluate as ev
from mocap.bvh import read_bvh
from mocap.camera import Camera, cv_from_internal
from mocap.data import LandmarkTracks, Motion, VideoInfo
from mocap.errors import MocapError
from mocap.export.bvh import write_bvh
from mocap.kinematics import joint_positions
from mocap.solve.root import RootConfig, fit_root_translation
from mocap.pipeline import ConvertOptions, camera_for, motion_from_tracks, probe_and_detect
from mocap.smooth import SmoothingConfig as SmoothingDefault

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SYNTHETIC = DATA / "synthetic"
REAL = DATA / "real"

# Evaluation joints, by GT name, with their raw BlazePose landmark and exported BVH joint.
JOINTS: dict[str, tuple[str, str]] = {
    "l_shoulder": ("left_shoulder", "LeftArm"),
    "r_shoulder": ("right_shoulder", "RightArm"),
    "l_elbow": ("left_elbow", "LeftForeArm"),
    "r_elbow": ("right_elbow", "RightForeArm"),
    "l_wrist": ("left_wrist", "LeftHand"),
    "r_wrist": ("right_wrist", "RightHand"),
    "l_hip": ("left_hip", "LeftUpLeg"),
    "r_hip": ("right_hip", "RightUpLeg"),
    "l_knee": ("left_knee", "LeftLeg"),
    "r_knee": ("right_knee", "RightLeg"),
    "l_ankle": ("left_ankle", "LeftFoot"),
    "r_ankle": ("right_ankle", "RightFoot"),
    "l_toe": ("left_foot_index", "LeftToeBase"),
    "r_toe": ("right_foot_index", "RightToeBase"),
}
NAMES = tuple(JOINTS)
POSE = [NAMES.index(n) for n in NAMES if not n.endswith("_toe")]  # the 12 PA-MPJPE / accel joints
HIPS = [NAMES.index("l_hip"), NAMES.index("r_hip")]
FEET = [NAMES.index(n) for n in ("l_ankle", "r_ankle", "l_toe", "r_toe")]
LIMBS = [
    (NAMES.index(f"{s}_{a}"), NAMES.index(f"{s}_{b}"))
    for s in ("l", "r")
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))
]

# Ground-truth contact detection and travel threshold (docs/accuracy.md explains them).
CONTACT_MAX_HEIGHT_M = 0.03
CONTACT_MAX_SPEED_M_PER_FRAME = 0.005
TRAVEL_MIN_M = 1.0
PCK_FRACTION = 0.05

# Targets for the exported motion, as a ratio to raw BlazePose (issue 4).
TARGETS = {"pa_mpjpe": 0.8, "limb": 0.6, "accel": 0.35, "skate": 0.3}
METRICS = (  # key, column title, unit
    ("pa_mpjpe", "PA-MPJPE", "mm"),
    ("limb", "limb", "deg"),
    ("accel", "accel", "mm/f²"),
    ("skate", "skate", "mm/f"),
    ("root", "root", "mm"),
)


# --------------------------------------------------------------------------- data


@dataclass
class Scores:
    """Per-sample values of each metric for one estimate on one clip (pooled later)."""

    values: dict[str, np.ndarray] = field(default_factory=dict)

    def mean(self, key: str) -> float:
        v = self.values.get(key)
        return float(np.nanmean(v)) if v is not None and np.isfinite(v).any() else float("nan")


@dataclass
class ClipResult:
    name: str
    n_frames: int
    n_detected: int
    travel_m: float
    n_contacts: int
    raw: Scores  # BlazePose world landmarks with MediaPipe's defaults (its own smoothing on)
    input: Scores  # the landmarks the pipeline consumes (MediaPipe's smoothing off)
    ours: Scores  # the exported BVH
    height_m: float
    seconds: float
    series: dict[str, np.ndarray]  # for the plots


def load_gt(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as npz:
        gt = {k: npz[k] for k in npz.files}
    names = [str(n) for n in gt["joint_names"]]
    gt["joints"] = np.stack([gt["joints_world"][:, names.index(n)] for n in NAMES], axis=1).astype(float)
    gt["pelvis"] = gt["joints_world"][:, names.index("pelvis")].astype(float)
    return gt


def raw_joints(tracks: LandmarkTracks) -> np.ndarray:
    """(T, 14, 3) raw BlazePose world landmarks (internal frame, hip-centred); NaN where unseen."""
    return np.stack([tracks.world(JOINTS[n][0]) for n in NAMES], axis=1)


def raw_image(tracks: LandmarkTracks) -> tuple[np.ndarray, np.ndarray]:
    """(T, 14, 2) detected pixels and (T, 14) visibilities of the evaluation landmarks."""
    idx = [tracks.index(JOINTS[n][0]) for n in NAMES]
    return tracks.image_xy_px[:, idx], tracks.visibility[:, idx]


def mediapipe_default_tracks(info: VideoInfo, options: ConvertOptions) -> LandmarkTracks:
    """BlazePose with MediaPipe's default settings (its own landmark smoothing on): what a
    peer calling `mediapipe.solutions.pose` gets. Cached beside the landmark cache, in
    `accuracy-mediapipe-defaults/`, keyed like it (plus the smoothing flag)."""
    from mocap.detect import read_tracks, write_tracks
    from mocap.detect.cache import cache_key, cache_path, default_cache_dir
    from mocap.detect.mediapipe_pose import detect_landmarks, mediapipe_version
    from mocap.errors import FormatError
    from mocap.video import read_frames

    folder = (options.cache_dir or default_cache_dir()) / "accuracy-mediapipe-defaults"
    key = cache_key(info, options.start_s, options.end_s, options.model, mediapipe_version() + "+mp-smoothing")
    path = cache_path(folder, info, key, options.model)
    if options.use_cache and path.is_file():
        try:
            return read_tracks(path)
        except FormatError:
            pass
    tracks = detect_landmarks(info, read_frames(info, options.start_s, options.end_s), model=options.model,
                              mediapipe_smoothing=True)
    if options.use_cache:
        write_tracks(tracks, path)
    return tracks


def _bvh_index(names: tuple[str, ...], joint: str) -> int:
    """Index of a BVH joint by its humanoid name, whatever naming preset prefixes it."""
    for i, n in enumerate(names):
        if n == joint or re.split(r"[:|]", n)[-1] == joint:
            return i
    raise KeyError(f"exported BVH has no joint {joint!r} (joints: {', '.join(names)})")


def exported_joints(motion: Motion, folder: Path, options: ConvertOptions) -> tuple[np.ndarray, np.ndarray]:
    """Write the BVH as the CLI does, read it back, FK: (T, 14, 3) joints and (T, 3) root, metres."""
    path = write_bvh(motion, folder / f"{motion.name or 'clip'}.bvh", rotation_order=options.rotation_order, units=options.units)
    back = read_bvh(path, units=options.units)
    pos = joint_positions(back)
    idx = [_bvh_index(back.skeleton.names, JOINTS[n][1]) for n in NAMES]
    return pos[:, idx], np.asarray(back.root_position_m, dtype=float)


def solve(tracks: LandmarkTracks, info: VideoInfo, options: ConvertOptions, name: str,
          camera_k: np.ndarray | None) -> tuple[Motion, float]:
    """The pipeline's motion_from_tracks: (motion, fitted height in metres).

    camera_k (the true intrinsics, --fov-from-gt) is given to the solver as its camera;
    None leaves the pipeline on its default camera, as for a user's video."""
    camera = None if camera_k is None else Camera.from_K(camera_k, *tracks.image_size_px)
    return motion_from_tracks(tracks, options, name=name, info=info, camera=camera)


def default_camera(tracks: LandmarkTracks, options: ConvertOptions, info: VideoInfo) -> Camera:
    """The camera the pipeline assumes for this video (mocap.pipeline.camera_for), for
    re-projection on real clips."""
    return camera_for(tracks, options, info)


# --------------------------------------------------------------------------- metrics per clip


def score(est: np.ndarray, gt: dict[str, np.ndarray], root_est: np.ndarray, contacts: np.ndarray, travels: bool) -> Scores:
    """All synthetic metrics for one estimate (T, 14, 3) against the truth (frames with NaN skipped)."""
    truth = gt["joints"]
    seen = ~np.isnan(est).any(axis=(1, 2))
    s = Scores()
    s.values["pa_joint"] = ev.pa_joint_errors_mm(est[seen][:, POSE], truth[seen][:, POSE])  # (T, 12)
    s.values["pa_mpjpe"] = s.values["pa_joint"].mean(axis=1)
    s.values["limb"] = ev.limb_direction_error_deg(est[seen], truth[seen], LIMBS, POSE).ravel()
    # consecutive-frame metrics: NaN frames give NaN samples, dropped by nanmean
    filled = np.where(seen[:, None, None], est, np.nan)
    rot_src = filled[seen]
    rot = ev.clip_rotation(rot_src[:, POSE], truth[seen][:, POSE], [POSE.index(h) for h in HIPS])
    p = ev.root_relative(filled[:, POSE], [POSE.index(h) for h in HIPS]) @ rot.T
    g = ev.root_relative(truth[:, POSE], [POSE.index(h) for h in HIPS])
    s.values["accel"] = np.linalg.norm(ev.second_difference(p) - ev.second_difference(g), axis=-1).mean(axis=-1) * 1000
    sim = ev.clip_similarity(est[seen], truth[seen], HIPS)
    aligned = sim.apply(filled)
    skate = [ev.foot_skate_mm(aligned[:, j], contacts[:, k]) for k, j in enumerate(FEET)]
    s.values["skate"] = np.concatenate(skate)
    s.values["aligned"] = aligned
    if travels:
        ok = ~np.isnan(root_est).any(axis=1)
        s.values["root"] = ev.root_trajectory_error_mm(root_est[ok], gt["pelvis"][ok], sim)
        s.values["root_aligned"] = sim.apply(root_est)
    return s


def evaluate_clip(video: Path, options: ConvertOptions, fov_from_gt: bool, bvh_dir: Path) -> ClipResult:
    t0 = time.perf_counter()
    gt = load_gt(video.parent / f"{video.stem}.gt.npz")
    info, tracks = probe_and_detect(video, options)
    if tracks.n_frames != gt["joints"].shape[0]:
        raise MocapError(f"{video.name}: {tracks.n_frames} frames decoded, ground truth has {gt['joints'].shape[0]}")
    camera_k = np.asarray(gt["camera_K"], dtype=float) if fov_from_gt else None
    motion, height = solve(tracks, info, options, video.stem, camera_k)
    ours, ours_root = exported_joints(motion, bvh_dir, options)
    estimates = {"raw": raw_joints(mediapipe_default_tracks(info, options)), "input": raw_joints(tracks), "ours": ours}
    roots = {k: v[:, HIPS].mean(axis=1) for k, v in estimates.items()}
    roots["ours"] = ours_root

    truth = gt["joints"]
    contacts = np.stack(
        [ev.ground_contacts(truth[:, j], 1, CONTACT_MAX_HEIGHT_M, CONTACT_MAX_SPEED_M_PER_FRAME) for j in FEET], axis=1
    )
    travel = ev.travel_m(gt["pelvis"])
    travels = travel >= TRAVEL_MIN_M
    scores = {k: score(v, gt, roots[k], contacts, travels) for k, v in estimates.items()}
    series = {"gt": truth, "contacts": contacts, "gt_pelvis": gt["pelvis"], "fps": np.array(tracks.fps),
              "camera_static": np.array(bool(gt.get("camera_static", True)))}
    for k, sc in scores.items():
        series[f"{k}_aligned"] = sc.values.pop("aligned")
        if "root_aligned" in sc.values:
            series[f"{k}_root_aligned"] = sc.values.pop("root_aligned")
    return ClipResult(
        name=video.stem,
        n_frames=tracks.n_frames,
        n_detected=int(tracks.detected.sum()),
        travel_m=travel,
        n_contacts=int(sum(np.sum(c[1:] & c[:-1]) for c in contacts.T)),
        raw=scores["raw"],
        input=scores["input"],
        ours=scores["ours"],
        height_m=height,
        seconds=time.perf_counter() - t0,
        series=series,
    )


def pooled(results: list[ClipResult], which: str, key: str) -> float:
    """Mean over every sample of every clip (clips weighted by their number of samples)."""
    chunks = [getattr(r, which).values.get(key) for r in results]
    chunks = [c for c in chunks if c is not None and len(c)]
    if not chunks:
        return float("nan")
    return float(np.nanmean(np.concatenate(chunks)))


# --------------------------------------------------------------------------- diagnostics

ESTIMATES = ("raw", "input", "ours")
TORSO = [NAMES.index(n) for n in ("l_shoulder", "r_shoulder", "l_hip", "r_hip")]
JOINT_GROUPS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
SKATE_GRID = ((0.02, 0.005), (0.03, 0.005), (0.05, 0.005), (0.03, 0.010), (0.03, 0.020), (0.05, 0.020))


def per_joint_rows(results: list[ClipResult]) -> tuple[list[str], list[list[str]]]:
    """Pooled per-frame-Procrustes error of each joint pair (left+right), and the mean without hips."""
    header = ["estimate"] + [f"{g}s" for g in JOINT_GROUPS] + ["mean", "mean without hips"]
    pose_names = [NAMES[i] for i in POSE]
    rows = []
    for w in ESTIMATES:
        err = np.concatenate([getattr(r, w).values["pa_joint"] for r in results])
        cols = [float(np.mean(err[:, [i for i, n in enumerate(pose_names) if n.endswith(g)]])) for g in JOINT_GROUPS]
        no_hips = [i for i, n in enumerate(pose_names) if not n.endswith("hip")]
        rows.append([w] + [_fmt(c) for c in cols] + [_fmt(float(err.mean())), _fmt(float(err[:, no_hips].mean()))])
    return header, rows


def _pool(values: list[np.ndarray]) -> float:
    v = np.concatenate([np.ravel(x) for x in values]) if values else np.array([np.nan])
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def sensitivity_rows(results: list[ClipResult]) -> tuple[list[str], list[list[str]]]:
    """The same quantities under other reasonable definitions, to show what the choices do."""
    header = ["variant", "raw", "input", "ours", "ours/raw", "truth itself", "samples"]
    rows = []

    def add(label: str, fn, truth: float = float("nan"), samples: str = "") -> None:
        vals = [_pool([fn(r, w) for r in results]) for w in ESTIMATES]
        rows.append([label, *(_fmt(v) for v in vals), _fmt(vals[2] / vals[0], 2), _fmt(truth), samples])

    hips12 = [POSE.index(h) for h in HIPS]
    add("limb deg, per-frame rotation of the 12 body joints (used)", lambda r, w: getattr(r, w).values["limb"])
    add("limb deg, per-frame rotation of the torso (shoulders + hips) only",
        lambda r, w: ev.limb_direction_error_deg(r.series[f"{w}_aligned"], r.series["gt"], LIMBS, TORSO))
    add("accel mm/f², root-relative, one rotation per clip (used)", lambda r, w: getattr(r, w).values["accel"])

    def accel_pa(r: ClipResult, w: str) -> np.ndarray:
        est, gt = r.series[f"{w}_aligned"][:, POSE], r.series["gt"][:, POSE]
        p = ev.procrustes_align(est, gt)
        return np.linalg.norm(ev.second_difference(p) - ev.second_difference(gt), axis=-1).mean(axis=-1) * 1000

    add("accel mm/f², per-frame Procrustes-aligned", accel_pa)
    add("jitter mm/f² (no truth: mean root-relative acceleration)",
        lambda r, w: ev.jitter_mm(r.series[f"{w}_aligned"][:, POSE], hips12),
        truth=_pool([ev.jitter_mm(r.series["gt"][:, POSE], hips12) for r in results]))
    for h, v in SKATE_GRID:
        def skate(r: ClipResult, w: str, h=h, v=v, est=True) -> np.ndarray:
            gt = r.series["gt"]
            src = r.series[f"{w}_aligned"] if est else gt
            return np.concatenate([
                ev.foot_skate_mm(src[:, j], ev.ground_contacts(gt[:, j], 1, h, v)) for j in FEET
            ])
        n = sum(len(skate(r, "raw", est=False)) for r in results)
        used = " (used)" if (h, v) == (CONTACT_MAX_HEIGHT_M, CONTACT_MAX_SPEED_M_PER_FRAME) else ""
        add(f"skate mm/f, contact = within {h * 100:.0f} cm of lowest and < {v * 1000:.0f} mm/f{used}", skate,
            truth=_pool([skate(r, "raw", est=False) for r in results]), samples=str(n))
    return header, rows


def sweep_cutoffs(videos: list[Path], options: ConvertOptions, cutoffs: list[float | None], fov_from_gt: bool,
                  bvh_dir: Path) -> tuple[list[str], list[list[str]]]:
    """Overall metrics of the exported BVH for several smoothing cut-offs (the rest as the CLI)."""
    from dataclasses import replace

    header = ["cut-off"] + [f"{t} {u}" for _, t, u in METRICS] + [f"{t} ratio" for k, t, _ in METRICS if k in TARGETS]
    rows = []
    for cutoff in cutoffs:
        opts = replace(options, smoothing=replace(options.smoothing, cutoff_hz=cutoff))
        results = [evaluate_clip(v, opts, fov_from_gt, bvh_dir) for v in videos]
        ours = [pooled(results, "ours", key) for key, _, _ in METRICS]
        ratios = [pooled(results, "ours", k) / pooled(results, "raw", k) for k, _, _ in METRICS if k in TARGETS]
        label = "none" if cutoff is None else f"{cutoff:g} Hz"
        if cutoff == SmoothingDefault.cutoff_hz:
            label += " (default)"
        rows.append([label] + [_fmt(v) for v in ours] + [_fmt(r, 2) for r in ratios])
    return header, rows


# --------------------------------------------------------------------------- real clips


@dataclass
class RealResult:
    name: str
    n_frames: int
    n_detected: int
    fps: float
    person_height_px: float
    pck: dict[str, float] = field(default_factory=dict)  # by estimate: raw, input, ours
    jitter: dict[str, float] = field(default_factory=dict)  # mm/frame²
    note: str = ""


def person_height_px(tracks: LandmarkTracks) -> float:
    """The person's height in pixels: 95th percentile over detected frames of the vertical
    extent of all 33 landmarks (eyes/nose to heels, so a little under the full height;
    the high percentile picks the upright frames of a squat)."""
    ys = tracks.image_xy_px[tracks.detected, :, 1]
    if ys.size == 0:
        return float("nan")
    return float(np.percentile(np.nanmax(ys, axis=1) - np.nanmin(ys, axis=1), 95))


def reprojection_pck(joints: np.ndarray, camera_aligned: np.ndarray, image_px: np.ndarray, vis: np.ndarray,
                     camera: Camera, thr_px: float) -> tuple[float, np.ndarray]:
    """Re-project a pose (T, J, 3) onto the image and score PCK against the detections.

    The exported world is levelled and may be turned relative to the camera, so the pose
    is first turned by one rotation for the whole clip (Kabsch of its root-relative joints
    onto `camera_aligned`, the detector's own world landmarks, whose axes are the
    camera's; identity for those landmarks themselves). Each frame is then placed under
    its 2D detections by the product's own root fit (mocap.solve.root.fit_root_translation,
    visibility-weighted, unsmoothed), projected with `camera`, and scored."""
    seen = ~np.isnan(joints).any(axis=(1, 2)) & ~np.isnan(camera_aligned).any(axis=(1, 2))
    rot = ev.clip_rotation(joints[seen], camera_aligned[seen], HIPS) if seen.any() else np.eye(3)
    pose = ev.root_relative(joints, HIPS) @ rot.T  # internal frame, axes of the camera
    weights = np.nan_to_num(np.asarray(vis, dtype=float), nan=0.0)
    trans = fit_root_translation(pose, image_px, weights, camera, RootConfig().gauss_newton_steps)
    proj = camera.project(cv_from_internal(pose + trans[:, None]))
    return ev.pck(proj, image_px, thr_px), proj


def evaluate_real(video: Path, options: ConvertOptions, bvh_dir: Path) -> RealResult:
    """Re-projection PCK and jitter for raw (MediaPipe defaults), input (smoothing off) and ours.

    Every estimate is scored on the frames where the pipeline's detection found the
    person, against the same detected 2D landmarks (the pipeline's input)."""
    info, tracks = probe_and_detect(video, options)
    img, vis = raw_image(tracks)
    height_px = person_height_px(tracks)
    thr = PCK_FRACTION * height_px
    camera = default_camera(tracks, options, info)
    seen = tracks.detected[:, None, None]
    result = RealResult(video.stem, tracks.n_frames, int(tracks.detected.sum()), tracks.fps, height_px)
    estimates = {"raw": raw_joints(mediapipe_default_tracks(info, options)), "input": raw_joints(tracks)}
    try:
        motion, _ = solve(tracks, info, options, video.stem, None)
        estimates["ours"] = exported_joints(motion, bvh_dir, options)[0]
    except MocapError as exc:
        result.note = f"not converted: {exc}"
    hips = [POSE.index(h) for h in HIPS]
    for key, est in estimates.items():
        est = np.where(seen, est, np.nan)
        result.pck[key] = reprojection_pck(est, estimates["input"], img, vis, camera, thr)[0]
        result.jitter[key] = float(np.nanmean(ev.jitter_mm(est[:, POSE], hips)))
    return result


# --------------------------------------------------------------------------- reporting


def _fmt(v: float, digits: int = 1) -> str:
    return "–" if not np.isfinite(v) else f"{v:.{digits}f}"


def synthetic_rows(results: list[ClipResult]) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, one row per clip, and the overall row (raw | ours | ratio per metric)."""
    header = ["clip", "frames"]
    for _, title, unit in METRICS:
        header += [f"{title} raw {unit}", "ours", "ratio"]
    rows = []
    for r in results:
        row = [r.name.removeprefix("dev_"), str(r.n_frames)]
        for key, _, _ in METRICS:
            a, b = r.raw.mean(key), r.ours.mean(key)
            row += [_fmt(a), _fmt(b), _fmt(b / a, 2) if np.isfinite(a) and a > 0 else "–"]
        rows.append(row)
    total = ["**overall**", str(sum(r.n_frames for r in results))]
    for key, _, _ in METRICS:
        a, b = pooled(results, "raw", key), pooled(results, "ours", key)
        total += [_fmt(a), _fmt(b), _fmt(b / a, 2) if np.isfinite(a) and a > 0 else "–"]
    return header, rows, total


def verdicts(results: list[ClipResult]) -> list[tuple[str, float, float, float, float, float, bool]]:
    """Per target metric: title, raw, input, ours, ours/raw, target ratio, pass."""
    out = []
    for key, title, unit in METRICS:
        if key not in TARGETS:
            continue
        a, i, b = (pooled(results, w, key) for w in ("raw", "input", "ours"))
        ratio = b / a
        out.append((f"{title} ({unit})", a, i, b, ratio, TARGETS[key], bool(ratio <= TARGETS[key])))
    return out


def summary_rows(results: list[ClipResult]) -> list[list[str]]:
    """Overall (pooled) value of every metric for each estimate, incl. the unsmoothed input."""
    labels = (("raw", "raw BlazePose, MediaPipe defaults"), ("input", "BlazePose, MediaPipe smoothing off (pipeline input)"),
              ("ours", "exported BVH"))
    return [[label] + [_fmt(pooled(results, w, key)) for key, _, _ in METRICS] for w, label in labels]


def real_rows(results: list[RealResult]) -> tuple[list[str], list[list[str]]]:
    header = ["clip", "frames", "detected", "fps", "height px",
              "PCK@5% raw", "input", "ours", "jitter raw mm/f²", "input", "ours", "ours/raw", "note"]
    rows = []
    for r in results:
        pck = [_fmt(100 * r.pck[k]) + "%" if np.isfinite(r.pck.get(k, np.nan)) else "–" for k in ("raw", "input", "ours")]
        jit = [_fmt(r.jitter.get(k, np.nan)) for k in ("raw", "input", "ours")]
        ratio = r.jitter.get("ours", np.nan) / r.jitter["raw"] if r.jitter.get("raw") else np.nan
        rows.append([r.name, str(r.n_frames), str(r.n_detected), _fmt(r.fps, 2), _fmt(r.person_height_px, 0),
                     *pck, *jit, _fmt(ratio, 2), r.note])
    if results:  # frame-weighted means over clips (every detected frame counts once)
        w = np.array([r.n_detected for r in results], dtype=float)

        def avg(d: str, k: str) -> float:
            v = np.array([getattr(r, d).get(k, np.nan) for r in results])
            ok = np.isfinite(v)
            return float(np.sum(v[ok] * w[ok]) / np.sum(w[ok])) if ok.any() else float("nan")

        rows.append(["**overall** (frame-weighted)", str(sum(r.n_frames for r in results)), str(int(w.sum())), "", "",
                     *(_fmt(100 * avg("pck", k)) + "%" for k in ("raw", "input", "ours")),
                     *(_fmt(avg("jitter", k)) for k in ("raw", "input", "ours")),
                     _fmt(avg("jitter", "ours") / avg("jitter", "raw"), 2), ""])
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def print_tables(results: list[ClipResult], real: list[RealResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(240, Console().width))
    if results:
        header, rows, total = synthetic_rows(results)
        table = Table(title="Synthetic clips: raw BlazePose (MediaPipe defaults) vs exported BVH (ratio = ours / raw)")
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i == 0 else "right", no_wrap=True)
        for row in rows:
            table.add_row(*row)
        table.add_row(*[c.strip("*") for c in total], style="bold")
        console.print(table)
        summary = Table(title="Overall (pooled over all frames; clips weighted by length)")
        summary.add_column("estimate")
        for _, title, unit in METRICS:
            summary.add_column(f"{title} {unit}", justify="right")
        for row in summary_rows(results):
            summary.add_row(*row)
        console.print(summary)
        verdict = Table(title="Targets: exported BVH vs raw BlazePose (MediaPipe defaults)")
        for h in ("metric", "raw", "input", "ours", "ours/raw", "target", "result"):
            verdict.add_column(h, justify="right")
        for title, a, i, b, ratio, target, ok in verdicts(results):
            verdict.add_row(title, _fmt(a), _fmt(i), _fmt(b), _fmt(ratio, 2), f"<= {target}",
                            "[green]PASS[/green]" if ok else "[red]FAIL[/red]")
        console.print(verdict)
    if real:
        header, rows = real_rows(real)
        table = Table(title="Real clips: re-projection agreement and jitter")
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i in (0, len(header) - 1) else "right")
        for row in rows:
            table.add_row(*[c.replace("**", "") for c in row])
        console.print(table)


BEGIN, END = "<!-- accuracy:begin (written by benchmarks/accuracy.py) -->", "<!-- accuracy:end -->"


def markdown_report(results: list[ClipResult], real: list[RealResult], command: str, fov_from_gt: bool,
                    extra: list[tuple[str, list[str], list[list[str]]]] = ()) -> str:
    parts = [BEGIN, "", f"Generated by `{command}` "
             f"(camera for the solver: {'ground-truth K' if fov_from_gt else 'pipeline default'}).", ""]
    if results:
        header, rows, total = synthetic_rows(results)
        parts += ["#### Synthetic clips: raw BlazePose (MediaPipe defaults) vs exported BVH", "",
                  markdown_table(header, rows + [total]), "",
                  "#### Overall (pooled over all frames, i.e. clips weighted by length)", "",
                  markdown_table(["estimate"] + [f"{t} {u}" for _, t, u in METRICS], summary_rows(results)), "",
                  "#### Targets: exported BVH vs raw BlazePose (MediaPipe defaults)", "",
                  markdown_table(["metric", "raw", "input (unsmoothed)", "ours", "ours/raw", "target", "result"],
                                 [[t, _fmt(a), _fmt(i), _fmt(b), _fmt(r, 2), f"≤ {g}", "PASS" if ok else "FAIL"]
                                  for t, a, i, b, r, g, ok in verdicts(results)]), ""]
    if real:
        header, rows = real_rows(real)
        parts += ["#### Real clips: re-projection agreement (PCK at 5% of height) and jitter", "",
                  markdown_table(header, rows), ""]
    for title, header, rows in extra:
        parts += [f"#### {title}", "", markdown_table(header, rows), ""]
    parts.append(END)
    return "\n".join(parts)


def write_report(path: Path, block: str) -> None:
    """Replace the generated block in `path` (between the markers), keeping the prose around it."""
    from mocap.atomic import atomic_path

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = (text.rstrip() + "\n\n" if text else "# Accuracy against ground truth\n\n") + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", default="*", help="glob over synthetic clip names (default: all)")
    parser.add_argument("--clip-dir", type=Path, default=SYNTHETIC,
                        help="folder of rendered clips (.mp4 + .gt.npz), e.g. from benchmarks/render_heldout.sh "
                             "(default: ../shared/data/synthetic, the 13 dev clips)")
    parser.add_argument("--real", default="*", help="glob over real clip names; 'none' to skip")
    parser.add_argument("--out", type=Path, help="markdown file whose generated block is updated (e.g. docs/accuracy.md)")
    parser.add_argument("--plots", type=Path, help="folder for the plots (e.g. docs/img)")
    parser.add_argument("--diagnostics", action="store_true",
                        help="also per-joint errors and the metrics under other definitions/thresholds")
    parser.add_argument("--cutoffs", help="comma-separated smoothing cut-offs in Hz ('none' = off) to sweep, e.g. none,8,5,3,2")
    fov = parser.add_mutually_exclusive_group()
    fov.add_argument("--fov-from-gt", dest="fov_from_gt", action="store_true",
                     help="give the solver the clip's true intrinsics (if it takes a camera)")
    fov.add_argument("--default-fov", dest="fov_from_gt", action="store_false",
                     help="let the pipeline use its default camera, as for a user's video (default)")
    args = parser.parse_args(argv)

    if not args.clip_dir.is_dir():
        print(f"error: {args.clip_dir}: no such folder of ground-truth clips", file=sys.stderr)
        return 2
    options = ConvertOptions()  # the CLI's defaults (BVH, cm, ZXY, medium smoothing, cache on)
    videos = [v for v in sorted(args.clip_dir.glob("*.mp4")) if fnmatch.fnmatch(v.stem, args.clips)]
    real_videos = [] if args.real == "none" else [
        v for v in sorted(REAL.glob("*")) if v.suffix in (".mp4", ".avi") and fnmatch.fnmatch(v.stem, args.real)
    ]
    results: list[ClipResult] = []
    real: list[RealResult] = []
    with tempfile.TemporaryDirectory(prefix="mocap-accuracy-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for v in videos:
            r = evaluate_clip(v, options, args.fov_from_gt, Path(tmp))
            print(f"{r.name}: {r.n_frames} frames, {r.seconds:.1f} s", file=sys.stderr)
            results.append(r)
        for v in real_videos:
            real.append(evaluate_real(v, options, Path(tmp)))
            print(f"{v.stem}: done", file=sys.stderr)
    print_tables(results, real)
    extra: list[tuple[str, list[str], list[list[str]]]] = []
    if args.diagnostics and results:
        extra.append(("Per-joint error after per-frame Procrustes (mm, pooled)", *per_joint_rows(results)))
        extra.append(("Other definitions and thresholds (pooled over all clips)", *sensitivity_rows(results)))
    if args.cutoffs and videos:
        cutoffs = [None if c.strip().lower() == "none" else float(c) for c in args.cutoffs.split(",")]
        with tempfile.TemporaryDirectory(prefix="mocap-accuracy-") as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            extra.append(("Exported BVH by smoothing cut-off (ratios to raw BlazePose, MediaPipe defaults)",
                          *sweep_cutoffs(videos, options, cutoffs, args.fov_from_gt, Path(tmp))))
    if extra:
        from rich.console import Console
        from rich.table import Table

        console = Console(width=max(240, Console().width))
        for title, header, rows in extra:
            table = Table(title=title)
            for i, h in enumerate(header):
                table.add_column(h, justify="left" if i == 0 else "right")
            for row in rows:
                table.add_row(*row)
            console.print(table)
    if args.plots and results:
        from plots import make_plots  # benchmarks/plots.py, beside this script

        for p in make_plots(results, args.plots):
            print(f"wrote {p}", file=sys.stderr)
    if args.out:
        command = "benchmarks/accuracy.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
        write_report(args.out, markdown_report(results, real, command, args.fov_from_gt, extra))
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
