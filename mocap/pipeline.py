"""convert(): the whole pipeline, video -> files. The CLI, batch runner and Blender
add-on sit on top of this; each stage lives in its own module:

    probe_video  (video.py)          path -> VideoInfo
    detect       (detect/)           VideoInfo -> LandmarkTracks       (cached)
    smooth       (smooth.py)         LandmarkTracks -> LandmarkTracks
    lift         (lift.py)           LandmarkTracks -> LandmarkTracks  (--depth learned only)
    solve        (solve/)            LandmarkTracks -> Motion
    write_*      (export/)           Motion -> file
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mocap.camera import Camera, diagonal_fov_deg_from_focal_35mm
from mocap.choices import Depth, FootLock, RootMotion, Travel, parse_choice
from mocap.data import LandmarkTracks, Motion, VideoInfo
from mocap.errors import InputError, MocapError, NoPersonError
from mocap.smooth import SmoothingConfig, smooth_tracks, unseen_parts
from mocap.timeseries import runs
from mocap.solve import MotionConfig, Solution, solve_full
from mocap.timeline import Retiming, to_constant_rate

FORMATS = ("bvh", "fbx", "glb", "usd", "usda", "json")  # json: canonical motion for the Blender add-on
SUFFIXES = {"usd": "usdc"}  # file extension where it differs from the format's name
BLENDER_FORMATS = ("fbx", "glb", "usd", "usda")
# The videos convert writes beside the motion files (<stem> + suffix): never a take to convert.
PREVIEW_SUFFIX = ".preview.mp4"
MATTE_SUFFIX = ".matte.mkv"
VIDEO_OUTPUT_SUFFIXES = (PREVIEW_SUFFIX, MATTE_SUFFIX)
MIN_DETECTION_RATE = 0.1  # below this share of frames with a person, there is no motion to export


@dataclass(frozen=True)
class ConvertOptions:
    formats: tuple[str, ...] = ("bvh",)
    start_s: float | None = None
    end_s: float | None = None
    model: str = "full"
    smoothing: SmoothingConfig = SmoothingConfig()
    rotation_order: str = "ZXY"
    units: str = "cm"  # BVH units: "cm" or "m"
    rig: str = "mixamo"  # naming preset (mocap/rigs/presets)
    blender_exe: Path | None = None
    cache_dir: Path | None = None
    use_cache: bool = True
    root_motion: RootMotion = RootMotion.FULL  # docs/motion-quality.md
    foot_lock: FootLock = FootLock.ON
    travel: Travel = Travel.IMAGE  # whose evidence sets the travel: the image or planted feet (mocap.solve.anchor)
    fov_deg: float | None = None  # diagonal field of view; None: file metadata, else a phone's (mocap.camera)
    contacts_sidecar: bool = True  # write <stem>.contacts.json beside the motion files
    depth: Depth = Depth.BLAZEPOSE  # the solver's depth prior: BlazePose's 3D or the learned lifter
    depth_blend: float = 0.5  # with depth=learned: share of the learned pose, the rest BlazePose's (mocap.lift; 0.5 measured best)
    fps: float | None = None  # output rate; None: the clip's own (its nominal rate if variable, mocap.timeline)
    person: str | None = None  # whom to follow: largest | centre | left | right | "X,Y" px (mocap.detect.people)
    camera_sidecar: bool = True  # write <stem>.camera.json (the solver's camera, for `mocap preview`)
    preview: bool = False  # write <stem>.preview.mp4: skeleton over the video beside a 3D view
    preview_height_px: int = 720
    report_path: Path | None = None  # write this self-contained HTML report (mocap.report)
    hands: bool = False  # fingers from MediaPipe Hands (mocap.hands); off: the body rig alone
    hands_method: str = "holistic"  # mocap.detect.mediapipe_hands: "holistic" (finds more hands) or "crops" (faster)
    matte: bool = False  # write <stem>.matte.mkv: the person's segmentation mask (mocap.matte)
    # Where the outputs end up when convert writes them elsewhere first (the batch's staging
    # folder, moved into OUTDIR afterwards): the report names every file there. None: where written.
    final_dir: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", parse_choice(Depth, self.depth, "depth"))


@dataclass(frozen=True)
class ConvertResult:
    video: VideoInfo
    motion: Motion
    outputs: dict[str, Path]
    n_frames: int
    n_detected: int
    gaps: tuple[tuple[int, int], ...]
    height_m: float
    timings_s: dict[str, float] = field(default_factory=dict)
    retiming: Retiming | None = None  # set when frames were resampled to a constant rate
    people_max: int = 1  # most people counted in one frame (mocap.detect.people)
    identity_lost: tuple[tuple[int, int], ...] = ()  # frame ranges rejected as another person
    unseen_parts: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)  # smooth.unseen_parts
    # What the preview and the report look at (mocap.report.write_report takes a ConvertResult).
    tracks: LandmarkTracks | None = None  # as detected (on the output's constant rate), before smoothing
    smoothed: LandmarkTracks | None = None  # as solved
    solve: Solution | None = None
    camera: Camera | None = None
    warnings: tuple[str, ...] = ()  # one line each: things the user should know about this take
    preview: object | None = None  # mocap.preview.PreviewResult when a preview was written
    options: ConvertOptions | None = None  # what the conversion was asked to do
    hands_seen: dict[str, float] | None = None  # --hands: share of frames each hand was found in

    @property
    def several_people(self) -> bool:
        return self.people_max > 1

    @property
    def detection_rate(self) -> float:
        return self.n_detected / max(self.n_frames, 1)


def output_paths(video: Path, out: str | Path | None, formats: tuple[str, ...]) -> dict[str, Path]:
    """Where each format goes. `out` may be a folder (existing, or ending in '/') or a
    file path whose stem names every output; by default outputs go beside the video."""
    is_folder = out is not None and (str(out).endswith(("/", "\\")) or Path(out).is_dir())
    out = None if out is None else Path(out)
    if out is None:
        folder, stem = video.parent, video.stem
    elif is_folder:
        folder, stem = out, video.stem
    else:
        known = set(FORMATS) | set(SUFFIXES.values())
        folder, stem = out.parent, out.stem if out.suffix.lower().lstrip(".") in known else out.name
    return {fmt: folder / f"{stem}.{SUFFIXES.get(fmt, fmt)}" for fmt in formats}


def probe_and_detect(
    video: Path,
    options: ConvertOptions,
    progress: Callable[[int], None] | None = None,
    on_info: Callable[[VideoInfo, int], None] | None = None,
    detector: Callable[..., LandmarkTracks] | None = None,
) -> tuple[VideoInfo, LandmarkTracks]:
    """Probe and detect (through the landmark cache). on_info(info, n_frames) is called
    before decoding starts so a progress bar can know its total (twice the frames with
    options.hands: the hands are a second pass). With options.hands the tracks carry both
    hands' landmarks too (mocap.hands.merge_hands). `detector` replaces one-process body
    detection on a cache miss (see detect_cached)."""
    info, tracks, _ = detect_take(video, options, progress, on_info, detector)
    return info, tracks


HANDS_SEEN_WARNING = 0.9  # a hand found in fewer frames than this gets a warning


def hands_warnings(hands_seen: dict[str, float] | None) -> tuple[str, ...]:
    """One line per hand found in fewer than HANDS_SEEN_WARNING of the frames: its fingers
    there are the relaxed pose or bridged, not seen (mocap.hands)."""
    return tuple(
        f"The {side} hand was found in {100 * share:.0f}% of the frames; elsewhere its fingers hold a relaxed pose "
        "(or are bridged over dropouts under 0.25 s), not seen."
        for side, share in (hands_seen or {}).items()
        if share < HANDS_SEEN_WARNING
    )


def smoothing_warnings(smoothing: SmoothingConfig, fps: float) -> tuple[str, ...]:
    """One line when the smoothing cut-off (Hz) is not below half of `fps`, the output's frame
    rate: no cut-off there can be met, and the smoother smooths as lightly as the rate allows
    (mocap.timeseries.whittaker_lambda). A cut-off the user typed with --fps is refused by
    the CLI instead (cli_options.parse_smoothing); this is for the clip's own rate."""
    cutoff_hz = smoothing.cutoff_hz
    if cutoff_hz is None or cutoff_hz < fps / 2:
        return ()
    return (
        f"Smoothing: the cut-off ({cutoff_hz:g} Hz) is not below half the frame rate ({fps / 2:g} Hz at {fps:g} fps), "
        "so the motion was smoothed as lightly as this rate allows; --smoothing below that smooths more.",
    )


def detect_take(
    video: Path,
    options: ConvertOptions,
    progress: Callable[[int], None] | None = None,
    on_info: Callable[[VideoInfo, int], None] | None = None,
    detector: Callable[..., LandmarkTracks] | None = None,
) -> tuple[VideoInfo, LandmarkTracks, dict[str, float] | None]:
    """probe_and_detect, plus with options.hands the share of frames (0-1) in which each
    hand ("left", "right") was found; None without hands."""
    from mocap.detect import detect_cached
    from mocap.video import count_frames_in_range, probe_video

    info = probe_video(video)
    n_frames = count_frames_in_range(info, options.start_s, options.end_s)
    if n_frames == 0:
        raise InputError(
            f"{video}: no frames between --start {options.start_s or 0:g} s and "
            f"--end {'the end' if options.end_s is None else f'{options.end_s:g} s'} "
            f"(the video is {info.duration_s:.2f} s long)"
        )
    if on_info is not None:
        on_info(info, n_frames * (2 if options.hands else 1))
    from mocap.detect.people import parse_person

    try:
        person = parse_person(options.person) if options.person else None
    except ValueError as exc:
        raise InputError(f"--person {exc}") from exc
    tracks = detect_cached(
        info,
        person=person,
        start_s=options.start_s,
        end_s=options.end_s,
        model=options.model,
        cache_dir=options.cache_dir if options.use_cache else None,
        use_cache=options.use_cache,
        progress=progress,
        detector=detector,
    )
    if options.hands:
        from mocap.detect import detect_hands_cached
        from mocap.hands import merge_hands, unseen_hand_frames
        from mocap.rig import load_rig

        hands = detect_hands_cached(
            info, tracks, start_s=options.start_s, end_s=options.end_s, model=options.model,
            cache_dir=options.cache_dir if options.use_cache else None, use_cache=options.use_cache, progress=progress,
            method=options.hands_method,
        )
        tracks = merge_hands(tracks, hands, load_rig(hands=True))
        seen = {side: float(np.mean(~unseen)) if len(unseen) else 0.0 for side, unseen in unseen_hand_frames(hands).items()}
        return info, tracks, seen
    return info, tracks, None


def camera_for(tracks: LandmarkTracks, options: ConvertOptions, info: VideoInfo | None = None) -> Camera:
    """The video's pinhole camera: options.fov_deg, else the file's 35 mm-equivalent focal
    length when its metadata had one, else a phone's main camera (mocap.camera)."""
    fov = options.fov_deg
    focal_35mm = info.focal_length_35mm_mm if info is not None else None
    if fov is None and focal_35mm:
        fov = diagonal_fov_deg_from_focal_35mm(float(focal_35mm))
    width, height = tracks.image_size_px
    return Camera.from_fov(width, height, fov)


def motion_from_tracks(
    tracks: LandmarkTracks,
    options: ConvertOptions,
    name: str = "",
    info: VideoInfo | None = None,
    camera: Camera | None = None,
) -> tuple[Motion, float]:
    """Put on a constant rate, smooth and solve; returns the motion and the performer's
    fitted height (m).

    Tracks with irregular timestamps (variable frame rate), or at a rate other than
    options.fps, are first resampled on their true timeline (mocap.timeline); convert()
    does that itself beforehand so it can report it. The camera is `camera` if given, else
    camera_for(tracks, options, info).
    """
    tracks, _ = to_constant_rate(tracks, options.fps)
    _, result, _ = solve_take(tracks, options, name, info, camera)
    return result.motion, result.fitted.height_m


def solve_take(
    tracks: LandmarkTracks,
    options: ConvertOptions,
    name: str = "",
    info: VideoInfo | None = None,
    camera: Camera | None = None,
) -> tuple[LandmarkTracks, Solution, Camera]:
    """Smooth and solve, keeping what the preview and report need: (smoothed tracks, the
    solver's full result, the camera it used). Raises NoPersonError when too few frames
    have a person. `tracks` must be on a constant rate already (mocap.timeline)."""
    n_detected = int(tracks.detected.sum())
    if n_detected < max(2, MIN_DETECTION_RATE * tracks.n_frames):
        where = info.path if info is not None else (name or "clip")
        raise NoPersonError(
            f"{where}: a person was detected in only {n_detected} of {tracks.n_frames} frames"
            + (" (at least 2 are needed for motion)" if tracks.n_frames < 2 else "")
        )
    smoothed = smooth_tracks(tracks, options.smoothing)
    camera = camera or camera_for(tracks, options, info)
    if options.depth is Depth.LEARNED:
        from mocap.lift import lift_tracks

        smoothed = lift_tracks(smoothed, camera, blend=options.depth_blend)
    cfg = MotionConfig(root_motion=options.root_motion, foot_lock=options.foot_lock, travel=options.travel)
    from mocap.rig import load_rig

    return smoothed, solve_full(smoothed, camera, cfg, rig=load_rig(hands=options.hands), name=name), camera


def check_outputs_possible(options: ConvertOptions, paths: dict[str, Path] | None = None,
                           inputs: tuple[Path, ...] = ()) -> None:
    """Fail before any detection work if the options cannot produce their outputs:
    an unknown rig preset, FBX/GLB requested with no Blender to write them, an output
    path that cannot be a file (a folder is there, or a file where a folder should be),
    or an output that would overwrite an input or another output (atomic.check_distinct)."""
    from mocap.atomic import check_distinct, check_target
    from mocap.presets import load_preset

    load_preset(options.rig)
    if set(options.formats) & set(BLENDER_FORMATS):
        from mocap.export.blender import describe_backend

        describe_backend(options.blender_exe)
    for path in (paths or {}).values():
        check_target(path)
    check_distinct(paths or {}, inputs)


def contacts_path(paths: dict[str, Path]) -> Path:
    """Where the contacts sidecar goes: beside the first motion file, <stem>.contacts.json."""
    first = next(iter(paths.values()))
    return first.with_name(f"{first.stem}.contacts.json")


def write_outputs(
    motion: Motion,
    paths: dict[str, Path],
    options: ConvertOptions,
    contacts: Path | None = None,
    camera: tuple[Path, object] | None = None,
    extra: dict[str, tuple[Path, Callable[[Path], object]]] | None = None,
) -> dict[str, Path]:
    """Write every requested format with the rig preset's bone names, the contacts
    sidecar to `contacts` when given and the motion has contacts, the camera sidecar
    when `camera` = (path, mocap.preview.CameraFile) is given, and each `extra` file
    (name -> (path, writer)): writer(staged_path) writes it, in the order given, after the
    others (convert's preview and report).

    All files are committed together or none is (mocap.atomic.atomic_paths): on any
    failure (a folder in the way, permission denied, disk full, Blender's exporter) no file
    of this call is left behind and earlier files at those paths are untouched.
    Raises ExportError (one line) for every way a write can fail.
    """
    from mocap.atomic import atomic_paths
    from mocap.presets import apply_preset, load_preset

    preset = load_preset(options.rig)
    for fmt, path in paths.items():
        if fmt not in FORMATS:
            raise MocapError(f"{path}: unknown output format {fmt!r} (choose from: {', '.join(FORMATS)})")
    targets = dict(paths)
    if contacts is not None and motion.contacts is not None:
        targets["contacts"] = Path(contacts)
    if camera is not None:
        targets["camera"] = Path(camera[0])
    extra = extra or {}
    for name, (path, _) in extra.items():
        targets[name] = Path(path)
    with atomic_paths(targets) as staged:
        for fmt, path in staged.items():
            if fmt == "bvh":
                from mocap.export.bvh import write_bvh

                named = apply_preset(motion, preset)
                write_bvh(named, path, rotation_order=options.rotation_order, units=options.units)
            elif fmt in BLENDER_FORMATS:
                from mocap.export.fbx_glb import write_fbx, write_glb, write_usd

                writer = {"fbx": write_fbx, "glb": write_glb}.get(fmt, write_usd)
                writer(motion, path, preset, blender_exe=options.blender_exe)
            elif fmt == "json":
                from mocap.export.motion_json import write_motion_json

                write_motion_json(motion, path)
            elif fmt == "camera":
                from mocap.preview.camera_file import write_camera_file

                write_camera_file(path, camera[1])
            elif fmt in extra:
                extra[fmt][1](path)
            else:  # the contacts sidecar
                from mocap.export.contacts_json import write_contacts

                write_contacts(motion.contacts, path, motion.start_time_s)
    return targets


def convert(
    video: Path,
    out: str | Path | None = None,
    options: ConvertOptions = ConvertOptions(),
    progress: Callable[[int], None] | None = None,
    on_info: Callable[[VideoInfo, int], None] | None = None,
    detector: Callable[..., LandmarkTracks] | None = None,
) -> ConvertResult:
    """Video file -> motion files. Raises a MocapError subclass on bad input.

    `detector` replaces one-process detection on a landmark-cache miss: see detect_cached
    and mocap.batch.chunked (time chunks on several cores)."""
    video = Path(video)
    paths = output_paths(video, out, options.formats)
    first = next(iter(paths.values()))
    planned = dict(paths)
    if options.preview:
        planned["preview"] = first.with_name(f"{first.stem}{PREVIEW_SUFFIX}")
    if options.report_path is not None:
        planned["report"] = Path(options.report_path)
    if options.matte:
        planned["matte"] = first.with_name(f"{first.stem}{MATTE_SUFFIX}")
    planned["contacts"] = contacts_path(paths)
    if options.camera_sidecar:
        from mocap.preview.camera_file import camera_file_path

        planned["camera"] = camera_file_path(first)
    check_outputs_possible(options, planned, inputs=(video,))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    info, tracks, hands_seen = detect_take(video, options, progress, on_info, detector)
    timings["detect"] = time.perf_counter() - t0
    # the source frames converted (first, last presentation time): after resampling the
    # motion may end before the last of them, and the preview still shows every one
    source_span_s = (float(tracks.times_s[0]), float(tracks.times_s[-1]))
    tracks, retiming = to_constant_rate(tracks, options.fps)
    t1 = time.perf_counter()
    smoothed, solved, camera = solve_take(tracks, options, name=video.stem, info=info)
    motion = solved.motion
    timings["solve"] = time.perf_counter() - t1
    sidecar = contacts_path(paths) if options.contacts_sidecar else None
    camera_file = None
    if options.camera_sidecar:
        from mocap.preview.camera_file import CameraFile, camera_file_path

        camera_file = (camera_file_path(first),
                       CameraFile(camera, solved.camera_pose, motion.fps, motion.n_frames, motion.start_time_s,
                                  options.rig, video.name, options.units, info.content_hash, source_span_s))
    outputs = dict(paths)
    if sidecar is not None and motion.contacts is not None:
        outputs["contacts"] = sidecar
    if camera_file is not None:
        outputs["camera"] = camera_file[0]
    outputs.update({k: planned[k] for k in ("preview", "report", "matte") if k in planned})
    result = ConvertResult(
        video=info,
        motion=motion,
        outputs=outputs,
        n_frames=tracks.n_frames,
        n_detected=int(np.sum(tracks.detected)),
        gaps=tuple((g.first, g.last) for g in runs(~tracks.detected)),
        height_m=solved.fitted.height_m,
        timings_s=timings,
        retiming=retiming,
        people_max=int(np.max(tracks.people_in_view, initial=1)) if tracks.people_in_view is not None else 1,
        identity_lost=tuple(
            (r.first, r.last) for r in runs(np.asarray(tracks.identity_lost, bool))
        ) if tracks.identity_lost is not None else (),
        unseen_parts=unseen_parts(tracks, options.smoothing),
        tracks=tracks,
        smoothed=smoothed,
        solve=solved,
        camera=camera,
        options=options,
        hands_seen=hands_seen,
        warnings=hands_warnings(hands_seen) + smoothing_warnings(options.smoothing, tracks.fps),
    )
    # The preview and the report are written inside the same transaction as the motion
    # files: all of them appear, or none (mocap.atomic.atomic_paths).
    made: dict[str, object] = {}

    def write_preview(path: Path) -> None:
        from mocap.preview.render import PreviewMotion, render_preview

        t = time.perf_counter()
        take = replace(PreviewMotion.from_motion(motion), source_span_s=source_span_s)
        made["preview"] = render_preview(info, take, camera, solved.camera_pose, path, height_px=options.preview_height_px)
        timings["preview"] = time.perf_counter() - t

    def final(path: Path) -> Path:
        """Where an output will be found: options.final_dir when the caller moves them there."""
        return Path(path) if options.final_dir is None else Path(options.final_dir) / Path(path).name

    def write_report_to(path: Path) -> None:
        from mocap.report import write_report

        t = time.perf_counter()
        preview = made.get("preview")
        if preview is not None:  # thumbnails yes; the path the user will find, not the staged one
            preview = replace(preview, path=final(planned["preview"]))
        shown = {name: final(p) for name, p in result.outputs.items()}
        write_report(replace(result, outputs=shown, preview=preview), path)
        timings["report"] = time.perf_counter() - t

    def write_matte_to(path: Path) -> None:
        from mocap.matte import write_matte

        t = time.perf_counter()
        write_matte(info, path, start_s=options.start_s, end_s=options.end_s)
        timings["matte"] = time.perf_counter() - t

    extra = {}
    if "matte" in planned:
        extra["matte"] = (planned["matte"], write_matte_to)
    if "preview" in planned:
        extra["preview"] = (planned["preview"], write_preview)
    if "report" in planned:
        extra["report"] = (planned["report"], write_report_to)
    t2 = time.perf_counter()
    write_outputs(motion, paths, options, contacts=sidecar, camera=camera_file, extra=extra)
    timings["write"] = (time.perf_counter() - t2 - timings.get("preview", 0.0) - timings.get("report", 0.0)
                        - timings.get("matte", 0.0))
    preview = made.get("preview")
    if preview is not None:
        preview = replace(preview, path=planned["preview"])
    return replace(result, preview=preview)
