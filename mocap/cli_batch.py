"""`mocap batch INPUTS... -o OUTDIR`: the convert options over many videos (docs/batch.md).

Registered on the `mocap` app by cli.py. Exit codes: 0 every job done or skipped; 1 one or
more jobs failed (the closing table lists them); 2 bad usage or no input found; 130
interrupted by Ctrl-C (SIGINT), 143 by SIGTERM (the manifest marks the jobs that were running).
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Annotated

import typer

from mocap.cli import (
    Depth,
    FootLock,
    HandsDetector,
    Model,
    RootMotion,
    Travel,
    Units,
    _fail,
    _interrupt_code,
    _signal_name,
    _stop_on_sigterm,
    parse_formats,
    parse_person_option,
    parse_rig,
    parse_rotation_order,
    parse_smoothing,
)


class Executor(str, enum.Enum):
    local = "local"
    ray = "ray"


def batch(
    inputs: Annotated[list[str], typer.Argument(help="Video files, folders (searched recursively) and glob patterns.")],
    out: Annotated[str, typer.Option("-o", "--out", help="Output folder; its layout mirrors the inputs' folders.")],
    format: Annotated[str, typer.Option("--format", "-f", help="Comma-separated: bvh, fbx, glb, usd (.usdc), usda (USD as text).")] = "bvh",
    start: Annotated[float | None, typer.Option("--start", min=0.0, help="Start time in seconds (every video).")] = None,
    end: Annotated[float | None, typer.Option("--end", min=0.0, help="End time in seconds (every video).")] = None,
    smoothing: Annotated[
        str, typer.Option("--smoothing", help="none, light (8 Hz), medium (4 Hz), strong (2.5 Hz) or a cut-off in Hz.")
    ] = "medium",
    rotation_order: Annotated[str, typer.Option("--rotation-order", help="BVH Euler order.")] = "ZXY",
    units: Annotated[Units, typer.Option("--units", help="BVH units.")] = Units.cm,
    rig: Annotated[str, typer.Option("--rig", help="Bone names: mixamo, ue5, unity, rigify or vrm (all formats).")] = "mixamo",
    blender: Annotated[
        Path | None,
        typer.Option("--blender", dir_okay=False, help="Blender executable for FBX/GLB/USD when bpy is not installed."),
    ] = None,
    model: Annotated[Model, typer.Option("--model", help="BlazePose model; full is bundled, lite/heavy download.")] = Model.full,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", file_okay=False, help="Landmark cache folder (default ~/.cache/mocap).")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Always re-run detection.")] = False,
    root_motion: Annotated[
        RootMotion,
        typer.Option("--root-motion", help="Hip travel: full (from the camera), horizontal (over the floor only) or off."),
    ] = RootMotion.FULL,
    foot_lock: Annotated[
        FootLock, typer.Option("--foot-lock", help="on: hold planted feet still (legs by IK); off: leave them.")
    ] = FootLock.ON,
    travel: Annotated[
        Travel,
        typer.Option("--travel", help="How far the hips travel: image (as the camera sees; default) or feet (every "
                     "planted step moves the hips: a camera that pans to follow)."),
    ] = Travel.IMAGE,
    person: Annotated[
        str | None,
        typer.Option("--person", help="Whom to follow when several people are in view: largest (default), centre, "
                     "left, right, or X,Y pixels of a point on the person in the first frame."),
    ] = None,
    fov: Annotated[
        float | None,
        typer.Option("--fov", min=1.0, max=179.0, help="Camera's diagonal field of view in degrees (default: file metadata, else 79.5)."),
    ] = None,
    depth: Annotated[
        Depth,
        typer.Option("--depth", help="Depth prior for the pose: blazepose (its own 3D) or learned (a network lifting its 2D, averaged with BlazePose's 3D; see docs/motion-quality.md)."),
    ] = Depth.BLAZEPOSE,
    contacts: Annotated[
        bool, typer.Option("--contacts/--no-contacts", help="Write foot contacts to <name>.contacts.json.")
    ] = True,
    fps: Annotated[
        float | None,
        typer.Option(
            "--fps", min=1.0, max=1000.0,
            help="Output frame rate (frames resampled on their true timestamps). Default: each clip's own.",
        ),
    ] = None,
    preview: Annotated[
        bool, typer.Option("--preview/--no-preview", help="Also write <name>.preview.mp4 for every job.")
    ] = False,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Also write <name>.report.html for every job and OUTDIR/index.html.")
    ] = False,
    hands: Annotated[
        bool, typer.Option("--hands/--no-hands", help="Also solve the fingers (MediaPipe's hand model; a second, slower detection pass).")
    ] = False,
    hands_detector: Annotated[
        HandsDetector,
        typer.Option("--hands-detector", help="With --hands: holistic finds more hands; crops is faster."),
    ] = HandsDetector.holistic,
    matte: Annotated[
        bool, typer.Option("--matte/--no-matte", help="Also write <name>.matte.mkv (the person's mask, lossless greyscale) for every job.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars; the closing summary only.")] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Jobs (and chunks) at a time. Default: the number of cores.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Run jobs again even when the manifest says they are done.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would run or be skipped, and why; run nothing.")] = False,
    retries: Annotated[int, typer.Option("--retries", min=0, help="Re-runs of a task whose worker process died.")] = 2,
    chunk_s: Annotated[
        float, typer.Option("--chunk-s", min=15.0, help="Videos longer than this are detected in time chunks of about this length.")
    ] = 120.0,
    executor: Annotated[
        Executor, typer.Option("--executor", help="local: processes on this machine; ray: tasks on a Ray cluster (needs the package's ray extra, docs/batch.md).")
    ] = Executor.local,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="Ray cluster to join (HOST:PORT or 'auto'). Default: a private local Ray on 127.0.0.1."),
    ] = None,
) -> None:
    """Convert many videos: every core busy, resumable, on a Ray cluster if asked."""
    from mocap.batch.runner import BatchConfig, plan_batch, run_batch
    from mocap.batch.tasks import REPORT_IN_STAGING
    from mocap.errors import MocapError
    from mocap.pipeline import ConvertOptions, check_outputs_possible

    if start is not None and end is not None and end <= start:
        raise typer.BadParameter(f"--end ({end}) must be after --start ({start})", param_hint="--end")
    if ray_address is not None and executor is not Executor.ray:
        raise typer.BadParameter("--ray-address needs --executor ray", param_hint="--ray-address")
    options = ConvertOptions(
        formats=parse_formats(format),
        start_s=start,
        end_s=end,
        model=model.value,
        smoothing=parse_smoothing(smoothing),
        rotation_order=parse_rotation_order(rotation_order),
        units=units.value,
        rig=parse_rig(rig),
        blender_exe=blender,
        cache_dir=cache_dir.resolve() if cache_dir is not None else None,  # the same folder for every worker
        use_cache=not no_cache,
        root_motion=root_motion,
        foot_lock=foot_lock,
        travel=travel,
        person=parse_person_option(person),
        fov_deg=fov,
        contacts_sidecar=contacts,
        depth=depth,
        fps=fps,
        preview=preview,
        report_path=Path(REPORT_IN_STAGING) if report else None,
        hands=hands,
        hands_method=hands_detector.value,
        matte=matte,
    )
    config = BatchConfig(
        jobs=jobs or os.cpu_count() or 1,
        force=force,
        chunk_s=chunk_s,
        retries=retries,
        executor=executor.value,
        ray_address=ray_address,
    )
    out_dir = Path(out)
    _stop_on_sigterm()  # a SIGTERM (a scheduler's stop) ends the batch like Ctrl-C
    try:
        check_outputs_possible(options)
        plan, manifest = plan_batch(inputs, out_dir, options, config)
    except MocapError as exc:
        raise _fail(exc) from exc
    except KeyboardInterrupt:  # while probing and hashing the inputs: nothing ran yet
        typer.echo(f"error: {out_dir}: interrupted by {_signal_name()} before any job started", err=True)
        raise typer.Exit(_interrupt_code()) from None
    from mocap.batch.display import BatchDisplay, print_closing, print_plan

    if not plan:
        typer.echo(f"error: no video found in {' '.join(inputs)}", err=True)
        raise typer.Exit(2)
    if dry_run:
        print_plan(plan)
        return
    n_skipped = sum(job.action == "skip" for job in plan)
    display = None if quiet else BatchDisplay()
    records: list[dict] = []
    try:
        run_batch(plan, manifest, config, display, records=records)
    except KeyboardInterrupt:
        print_closing(records, n_skipped, manifest.path)
        typer.echo(f"error: {manifest.path}: interrupted by {_signal_name()}; finished jobs are kept, "
                   "run the same command again to resume", err=True)
        raise typer.Exit(_interrupt_code()) from None
    except MocapError as exc:  # the executor could not start (Ray missing or unreachable)
        raise _fail(exc) from exc
    if report:
        from mocap.batch.runner import write_batch_index

        write_batch_index(plan, manifest)
    print_closing(records, n_skipped, manifest.path)
    if any(r["status"] != "done" for r in records):
        raise typer.Exit(1)
