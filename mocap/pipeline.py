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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mocap.camera import Camera, diagonal_fov_deg_from_focal_35mm
from mocap.choices import Depth, FootLock, RootMotion, parse_choice
from mocap.data import LandmarkTracks, Motion, VideoInfo
from mocap.errors import MocapError, NoPersonError
from mocap.smooth import SmoothingConfig, smooth_tracks
from mocap.timeseries import runs
from mocap.solve import MotionConfig, solve_full

FORMATS = ("bvh", "fbx", "glb", "usd", "usda")
SUFFIXES = {"usd": "usdc"}  # file extension where it differs from the format's name
BLENDER_FORMATS = ("fbx", "glb", "usd", "usda")
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
    fov_deg: float | None = None  # diagonal field of view; None: file metadata, else a phone's (mocap.camera)
    contacts_sidecar: bool = True  # write <stem>.contacts.json beside the motion files
    depth: Depth = Depth.BLAZEPOSE  # the solver's depth prior: BlazePose's 3D or the learned lifter
    depth_blend: float = 1.0  # with depth=learned: share of the learned pose (1: learned only; mocap.lift)

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
) -> tuple[VideoInfo, LandmarkTracks]:
    """Probe and detect (through the landmark cache). on_info(info, n_frames) is called
    before decoding starts so a progress bar can know its total."""
    from mocap.detect import detect_cached
    from mocap.video import count_frames_in_range, probe_video

    info = probe_video(video)
    if on_info is not None:
        on_info(info, count_frames_in_range(info, options.start_s, options.end_s))
    tracks = detect_cached(
        info,
        start_s=options.start_s,
        end_s=options.end_s,
        model=options.model,
        cache_dir=options.cache_dir if options.use_cache else None,
        use_cache=options.use_cache,
        progress=progress,
    )
    return info, tracks


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
    """Smooth and solve; returns the motion and the performer's fitted height (m).

    The camera is `camera` if given, else camera_for(tracks, options, info).
    """
    n_detected = int(tracks.detected.sum())
    if n_detected < max(2, MIN_DETECTION_RATE * tracks.n_frames):
        raise NoPersonError(
            f"{name or 'clip'}: a person was detected in only {n_detected} of {tracks.n_frames} frames"
        )
    smoothed = smooth_tracks(tracks, options.smoothing)
    camera = camera or camera_for(tracks, options, info)
    if options.depth is Depth.LEARNED:
        from mocap.lift import lift_tracks

        smoothed = lift_tracks(smoothed, camera, blend=options.depth_blend)
    cfg = MotionConfig(root_motion=options.root_motion, foot_lock=options.foot_lock)
    result = solve_full(smoothed, camera, cfg, name=name)
    return result.motion, result.fitted.height_m


def check_outputs_possible(options: ConvertOptions) -> None:
    """Fail before any detection work if the options cannot produce their outputs:
    an unknown rig preset, or FBX/GLB requested with no Blender to write them."""
    from mocap.presets import load_preset

    load_preset(options.rig)
    if set(options.formats) & set(BLENDER_FORMATS):
        from mocap.export.blender import describe_backend

        describe_backend(options.blender_exe)


def write_outputs(motion: Motion, paths: dict[str, Path], options: ConvertOptions) -> dict[str, Path]:
    """Write every requested format with the rig preset's bone names; each file atomically."""
    from mocap.presets import apply_preset, load_preset

    preset = load_preset(options.rig)
    written: dict[str, Path] = {}
    for fmt, path in paths.items():
        if fmt == "bvh":
            from mocap.export.bvh import write_bvh

            named = apply_preset(motion, preset)
            written[fmt] = write_bvh(named, path, rotation_order=options.rotation_order, units=options.units)
        elif fmt in BLENDER_FORMATS:
            from mocap.export.fbx_glb import write_fbx, write_glb, write_usd

            writer = {"fbx": write_fbx, "glb": write_glb}.get(fmt, write_usd)
            written[fmt] = writer(motion, path, preset, blender_exe=options.blender_exe)
        else:
            raise MocapError(f"{path}: unknown output format {fmt!r} (choose from: {', '.join(FORMATS)})")
    return written


def convert(
    video: Path,
    out: str | Path | None = None,
    options: ConvertOptions = ConvertOptions(),
    progress: Callable[[int], None] | None = None,
    on_info: Callable[[VideoInfo, int], None] | None = None,
) -> ConvertResult:
    """Video file -> motion files. Raises a MocapError subclass on bad input."""
    video = Path(video)
    check_outputs_possible(options)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    info, tracks = probe_and_detect(video, options, progress, on_info)
    timings["detect"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    motion, height_m = motion_from_tracks(tracks, options, name=video.stem, info=info)
    timings["solve"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    paths = output_paths(video, out, options.formats)
    outputs = write_outputs(motion, paths, options)
    if options.contacts_sidecar and motion.contacts is not None:
        from mocap.export.contacts_json import write_contacts

        first = next(iter(paths.values()))
        outputs["contacts"] = write_contacts(
            motion.contacts, first.with_name(f"{first.stem}.contacts.json"), motion.fps, motion.start_time_s
        )
    timings["write"] = time.perf_counter() - t2
    return ConvertResult(
        video=info,
        motion=motion,
        outputs=outputs,
        n_frames=tracks.n_frames,
        n_detected=int(np.sum(tracks.detected)),
        gaps=tuple((g.first, g.last) for g in runs(~tracks.detected)),
        height_m=height_m,
        timings_s=timings,
    )
