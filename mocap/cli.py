"""The `mocap` command line (typer). Thin: parses options, shows progress, calls pipeline.

Exit codes: 0 success; 2 bad input or usage; 3 detection could not run; 4 no person;
5 an output could not be written; 6 a malformed file; 7 a live stream could not be sent
(no receiver listened for the whole stream, unknown host); 1 anything else (an unexpected
error: one line, the traceback with --debug); 130 interrupted by SIGINT (Ctrl-C), 143 by
SIGTERM, with nothing written. Every failure is one line on stderr, `error: <file>: <problem>`;
`--debug` (anywhere on the command line) adds the traceback.
`mocap batch` (cli_batch.py): 0 every job done or skipped; 1 one or more jobs failed;
2 bad usage; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import enum
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from mocap import __version__
from mocap.choices import Depth, FootLock, RootMotion, Travel
from mocap import cli_options as opts

_debug = False  # --debug: failures print their traceback too


class _App(typer.Typer):
    """The `mocap` entry point: every failure ends as one line on stderr and an exit code.

    Click's own handling would print a usage box for a bad option, `Aborted!` (exit 1) for
    Ctrl-C and a traceback for a bug. Here: a usage error is `error: <what>` and exit 2;
    an interrupt exits 128 + the signal's number (130 SIGINT, 143 SIGTERM); an unexpected
    exception is one line and exit 1. `--debug` anywhere on the line prints tracebacks.
    """

    def __call__(self, args: list[str] | None = None) -> None:
        try:  # typer 0.2x carries its own copy of click
            from typer._click.exceptions import UsageError
        except ImportError:  # pragma: no cover - older typer on click
            from click.exceptions import UsageError

        global _debug
        argv = list(sys.argv[1:] if args is None else args)
        _debug = "--debug" in argv
        argv = [a for a in argv if a != "--debug"]
        command = typer.main.get_command(self)
        try:
            code = command.main(args=argv, prog_name="mocap", standalone_mode=False)
        except typer.Exit as exc:
            code = exc.exit_code
        except UsageError as exc:
            where = f" (see mocap {exc.ctx.info_name} --help)" if exc.ctx is not None and exc.ctx.info_name else ""
            _report(exc, f"error: {_one_line_text(exc.format_message())}{where}")
            code = 2
        except (typer.Abort, KeyboardInterrupt) as exc:
            _report(exc, f"error: interrupted by {_signal_name()}; nothing was written")
            code = _interrupt_code()
        except Exception as exc:  # a bug: still one line, the traceback with --debug
            _report(exc, f"error: unexpected {type(exc).__name__}: {_one_line(exc)} "
                         "(run again with --debug for the traceback, and please report it)")
            code = 1
        if code == 130:  # typer's own answer to an interrupt it caught
            code = _interrupt_code()
        sys.exit(code if isinstance(code, int) else 0)


_interrupt_signal = signal.SIGINT


def _signal_name() -> str:
    return _interrupt_signal.name


def _interrupt_code() -> int:
    return 128 + int(_interrupt_signal)


def _one_line(exc: BaseException) -> str:
    return _one_line_text(str(exc)) or type(exc).__name__


def _one_line_text(text: str) -> str:
    return " ".join(text.split())


def _report(exc: BaseException, line: str) -> None:
    if _debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    typer.echo(line, err=True)


app = _App(
    name="mocap",
    help="Turn ordinary video of a person into motion-capture files (BVH, FBX, GLB, USD, and JSON for the Blender add-on).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class ProgressMode(str, enum.Enum):
    bar = "bar"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mocap {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[  # noqa: ARG001 - read from the raw command line by _App
        bool, typer.Option("--debug", help="Print the traceback of a failure (may also follow the command).")
    ] = False,
) -> None:
    """mocap: video in, motion capture out."""


def _fail(exc: Exception) -> typer.Exit:
    from mocap.errors import MocapError

    code = exc.exit_code if isinstance(exc, MocapError) else 1
    _report(exc, f"error: {_one_line(exc)}")
    return typer.Exit(code)


@app.command()
def convert(
    video: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Input video file.")],
    out: Annotated[
        str | None,  # a str, not a Path: Path("new/") would lose the slash that marks a folder
        typer.Option(
            "-o", "--out", help="Output file (its stem names every format) or folder (existing, or ending in /). "
            "Default: beside the video."
        ),
    ] = None,
    format: opts.Format = "bvh",
    start: opts.Start = None,
    end: opts.End = None,
    smoothing: opts.Smoothing = "medium",
    rotation_order: opts.RotationOrder = "ZXY",
    units: opts.UnitsOption = opts.Units.cm,
    rig: opts.Rig = "mixamo",
    blender: opts.Blender = None,
    model: opts.ModelOption = opts.Model.full,
    cache_dir: opts.CacheDir = None,
    no_cache: opts.NoCache = False,
    root_motion: opts.RootMotionOption = RootMotion.FULL,
    travel: opts.TravelOption = Travel.IMAGE,
    foot_lock: opts.FootLockOption = FootLock.ON,
    fov: opts.Fov = None,
    depth: opts.DepthOption = Depth.BLAZEPOSE,
    contacts: opts.Contacts = True,
    fps: opts.Fps = None,
    preview: Annotated[
        bool, typer.Option("--preview/--no-preview", help="Also write <name>.preview.mp4: the skeleton over the video beside a 3D view.")
    ] = False,
    report: Annotated[
        Path | None, typer.Option("--report", dir_okay=False, help="Also write this self-contained HTML report of the take.")
    ] = None,
    person: opts.Person = None,
    hands: opts.Hands = False,
    hands_detector: opts.HandsDetectorOption = opts.HandsDetector.holistic,
    matte: Annotated[
        bool, typer.Option("--matte/--no-matte", help="Also write <name>.matte.mkv: the person's mask as a lossless greyscale video (FFV1).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Processes: a long video is detected in that many time chunks at once.")
    ] = 1,
    progress: Annotated[
        ProgressMode,
        typer.Option("--progress", help="bar: on the terminal; json: one JSON event per line on stdout (docs/addon.md)."),
    ] = ProgressMode.bar,
) -> None:
    """Convert a video of one person into motion-capture files."""
    from mocap.errors import MocapError
    from mocap.pipeline import convert as run_convert

    options = opts.convert_options(locals(), report_path=report)
    _stop_on_sigterm()
    detector = None
    if jobs > 1:
        from mocap.batch.chunked import ChunkedDetector

        detector = ChunkedDetector(jobs)
    try:
        if progress is ProgressMode.json:
            _convert_json(video, out, options, detector)
            return
        from mocap.progress import ConvertProgress

        with ConvertProgress(enabled=not quiet) as bar:
            try:
                result = run_convert(video, out, options, progress=bar.advance, on_info=bar.start, detector=detector)
            except MocapError as exc:
                bar.stop()
                raise _fail(exc) from exc
    except KeyboardInterrupt as exc:  # staged files are already removed (mocap.atomic)
        _report(exc, f"error: {video}: interrupted by {_signal_name()}; nothing was written")
        raise typer.Exit(_interrupt_code()) from None
    if not quiet:
        from mocap.progress import print_summary

        print_summary(result)


def _stop_on_sigterm() -> None:
    """SIGTERM (the add-on's Cancel) unwinds like Ctrl-C, so atomic writers remove their temp files."""
    import signal

    def _interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
        global _interrupt_signal
        _interrupt_signal = signal.SIGTERM
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread (tests calling the command in a thread)
        pass


def _convert_json(video: Path, out: str | None, options, detector=None) -> None:
    """convert with the --progress json event stream (mocap/progress_json.py) on stdout."""
    from mocap.errors import MocapError
    from mocap.pipeline import convert as run_convert
    from mocap.progress_json import JsonProgress

    events = JsonProgress()
    try:
        result = run_convert(video, out, options, progress=events.advance, on_info=events.start, detector=detector)
    except MocapError as exc:
        events.fail(str(exc), exc.exit_code)
        raise _fail(exc) from exc
    events.finish(result)


@app.command("preview")
def preview_command(
    video: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The source video.")],
    motion: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The motion file mocap convert wrote from it (.bvh, .json; .fbx/.glb/.usdc/.usda need bpy).")],
    out: Annotated[str | None, typer.Option("-o", "--out", help="Output .mp4, or a folder (existing, or ending in /) for <motion>.preview.mp4 (default: beside the motion).")] = None,
    camera: Annotated[
        Path | None, typer.Option("--camera", dir_okay=False, help="Camera sidecar (default: <motion>.camera.json beside it).")
    ] = None,
    height: Annotated[int, typer.Option("--height", min=64, max=4320, help="Output height in pixels.")] = 720,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Draw a motion over the video it came from, with the solver's camera, beside a 3D view."""
    from mocap.atomic import check_distinct
    from mocap.errors import MocapError
    from mocap.preview import camera_file_path, read_camera_file, render_preview
    from mocap.preview.files import load_preview_motion
    from mocap.video import probe_video

    _stop_on_sigterm()
    try:
        out = _preview_target(out, motion)
        sidecar_path = camera or camera_file_path(motion)
        check_distinct({"preview": out}, inputs=(video, motion, sidecar_path))
        sidecar = read_camera_file(sidecar_path)
        take = load_preview_motion(motion, sidecar)
        info = probe_video(video)
        if (info.width_px, info.height_px) != (sidecar.camera.width_px, sidecar.camera.height_px):
            from mocap.errors import InputError

            raise InputError(
                f"{video}: {info.width_px}x{info.height_px} px, but the motion was solved on a "
                f"{sidecar.camera.width_px}x{sidecar.camera.height_px} video ({sidecar.video or 'unnamed'})"
            )
        if sidecar.video_sha256 and info.content_hash != sidecar.video_sha256:
            typer.echo(f"warning: {video} is not the video {motion.name} was solved from "
                       f"({sidecar.video or 'another file'}); the overlay will not match", err=True)
        result = render_preview(info, take, sidecar.camera, sidecar.pose, out, height_px=height)
    except MocapError as exc:
        raise _fail(exc) from exc
    except KeyboardInterrupt as exc:  # the half-written preview is already removed (mocap.atomic)
        _report(exc, f"error: {video}: interrupted by {_signal_name()}; nothing was written")
        raise typer.Exit(_interrupt_code()) from None
    if not quiet:
        typer.echo(f"{out}  ({result.n_frames} frames, {result.frames_per_s:.0f} frames/s)", err=True)


def _preview_target(out: str | None, motion: Path) -> Path:
    """`mocap preview -o`: a file ending in .mp4, or a folder (existing, or written with a
    trailing /) that gets <motion>.preview.mp4; default beside the motion. InputError otherwise."""
    from mocap.errors import InputError
    from mocap.pipeline import PREVIEW_SUFFIX

    name = f"{motion.stem}{PREVIEW_SUFFIX}"
    if out is None:
        return motion.with_name(name)
    if out.endswith(("/", os.sep)) or Path(out).is_dir():
        return Path(out) / name
    if Path(out).suffix.lower() != ".mp4":
        raise InputError(f"{out}: the preview is an H.264 MP4 video; give a path ending in .mp4 or a folder")
    return Path(out)


@app.command()
def info(
    video: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Input video file.")],
) -> None:
    """Show what mocap sees in a video: size, rotation, frame rate, frames, duration."""
    from mocap.errors import MocapError
    from mocap.video import probe_video

    try:
        meta = probe_video(video)
    except MocapError as exc:
        raise _fail(exc) from exc
    typer.echo(f"file:        {meta.path}")
    typer.echo(f"size:        {meta.width_px} x {meta.height_px} px (as displayed)")
    typer.echo(f"rotation:    {meta.rotation_deg} deg")
    if meta.variable_frame_rate:
        from mocap.timeline import nominal_fps
        from mocap.video import frame_times_s

        nominal = nominal_fps(frame_times_s(meta.path))
        typer.echo(f"frame rate:  variable, {meta.fps:.3f} fps on average (convert resamples to {nominal:.3f} fps)")
    else:
        typer.echo(f"frame rate:  {meta.fps:.3f} fps")
    typer.echo(f"frames:      {meta.frame_count}")
    typer.echo(f"duration:    {meta.duration_s:.3f} s")
    typer.echo(f"codec:       {meta.codec}")


def parse_receiver(text: str) -> tuple[str, int]:
    """'HOST:PORT' (IPv6: '[::1]:39539') -> (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"{text!r}: give a receiver as HOST:PORT, such as 192.168.1.20:39539")
    return host, int(port)


@app.command()
def live(
    camera: Annotated[int | None, typer.Option("--camera", min=0, help="Camera index (0 = the first camera).")] = None,
    video: Annotated[
        Path | None,
        typer.Option("--video", exists=True, dir_okay=False, readable=True, help="Stream a video file at real-time pace."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Receiver's address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Receiver's UDP port (VMC's default: 39539).")] = 39539,
    to: Annotated[
        list[str] | None, typer.Option("--to", help="Another receiver, HOST:PORT (repeat for several).")
    ] = None,
    model: opts.ModelOption = opts.Model.full,
    fov: Annotated[
        float | None, typer.Option("--fov", min=1.0, max=179.0, help="Camera's diagonal field of view in degrees (default 79.5).")
    ] = None,
    min_cutoff: Annotated[
        float, typer.Option("--min-cutoff", min=0.01, callback=opts.finite, help="One Euro filter: cut-off in Hz when still (lower: less jitter, more lag).")
    ] = 1.5,
    beta: Annotated[
        float, typer.Option("--beta", min=0.0, callback=opts.finite, help="One Euro filter: Hz added per m/s of speed (higher: less lag when moving).")
    ] = 2.0,
    root_motion: Annotated[
        RootMotion, typer.Option("--root-motion", help="Hip travel: full, horizontal or off.")
    ] = RootMotion.FULL,
    foot_lock: Annotated[
        FootLock, typer.Option("--foot-lock", help="on: planted feet carry the hips; off: the camera's hip path.")
    ] = FootLock.ON,
    every_frame: Annotated[
        bool, typer.Option("--every-frame", help="--video: process every frame even when behind (default: skip late frames).")
    ] = False,
    frames: Annotated[int | None, typer.Option("--frames", min=1, help="Stop after this many frames.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No status line or summary.")] = False,
) -> None:
    """Stream a camera or a video as a live skeleton over the VMC protocol (OSC/UDP).

    Receivers: VSeeFace, Warudo, VNyan, EVMC4U (Unity), VRM4U (Unreal), VMC4B and mocap's own
    Blender add-on. Ctrl-C stops. The stream is described in docs/live.md.
    """
    import sys

    from mocap.errors import MocapError
    from mocap.live import median_ms, percentile_ms, run_live
    from mocap.live.causal import LiveConfig
    from mocap.live.one_euro import OneEuroConfig

    if (camera is None) == (video is None):
        raise typer.BadParameter("give either --camera N or --video FILE")
    targets = [(host, port)] + [parse_receiver(t) for t in (to or [])]
    cfg = LiveConfig(landmarks=OneEuroConfig(min_cutoff_hz=min_cutoff, beta=beta), root_motion=root_motion,
                     foot_lock=foot_lock)

    def warn(text: str) -> None:
        typer.echo(f"warning: {text}", err=True)

    tty = sys.stderr.isatty() and not quiet

    def status(s) -> None:
        typer.echo(f"\r{s.frames} frames, {s.fps:.1f} fps, {s.dropped} skipped, {median_ms(s.process_ms[-60:]):.0f} ms/frame ",
                   err=True, nl=False)

    try:
        from mocap.live.source import CameraSource, VideoSource

        source = CameraSource(camera) if video is None else VideoSource(video, drop_late=not every_frame)
        where = ", ".join(f"{h}:{p}" for h, p in targets)
        if not quiet:
            typer.echo(f"streaming {source.name} ({source.width_px}x{source.height_px}, {source.fps:.0f} fps) "
                       f"to {where} (VMC); Ctrl-C stops", err=True)
        summary = run_live(source, targets, width_px=source.width_px, height_px=source.height_px, fps=source.fps,
                           cfg=cfg, model=model.value, fov_deg=fov, focal_length_35mm_mm=source.focal_length_35mm_mm,
                           max_frames=frames, warn=warn, status=status if tty else None, name=source.name)
    except MocapError as exc:
        if tty:
            typer.echo("", err=True)
        raise _fail(exc) from exc
    if tty:
        typer.echo("", err=True)
    if not quiet:
        ms = summary.process_ms
        typer.echo(
            f"sent {summary.sent} poses from {summary.frames} frames in {summary.wall_s:.1f} s ({summary.fps:.1f} fps); "
            f"{summary.dropped} frames skipped to keep pace; no person in {summary.no_person}; "
            f"per frame {median_ms(ms):.0f} ms median ({median_ms(summary.detect_ms):.0f} ms detection), "
            f"{percentile_ms(ms, 95):.0f} ms 95th percentile"
        )


from mocap.cli_batch import batch as _batch  # noqa: E402 - registered after the helpers it uses

app.command(name="batch")(_batch)
