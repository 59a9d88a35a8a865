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

from mocap.choices import Depth, FootLock, RootMotion, Travel
from mocap.cli import _fail, _interrupt_code, _signal_name, _stop_on_sigterm
from mocap import cli_options as opts


class Executor(str, enum.Enum):
    local = "local"
    ray = "ray"


def batch(
    inputs: Annotated[list[str], typer.Argument(help="Video files, folders (searched recursively) and glob patterns.")],
    out: Annotated[str, typer.Option("-o", "--out", help="Output folder; its layout mirrors the inputs' folders.")],
    format: opts.Format = "bvh",
    start: opts.BatchStart = None,
    end: opts.BatchEnd = None,
    smoothing: opts.Smoothing = "medium",
    rotation_order: opts.RotationOrder = "ZXY",
    units: opts.UnitsOption = opts.Units.cm,
    rig: opts.Rig = "mixamo",
    blender: opts.Blender = None,
    model: opts.ModelOption = opts.Model.full,
    cache_dir: opts.CacheDir = None,
    no_cache: opts.NoCache = False,
    root_motion: opts.RootMotionOption = RootMotion.FULL,
    foot_lock: opts.FootLockOption = FootLock.ON,
    travel: opts.TravelOption = Travel.IMAGE,
    person: opts.Person = None,
    fov: opts.Fov = None,
    depth: opts.DepthOption = Depth.BLAZEPOSE,
    contacts: opts.Contacts = True,
    fps: opts.Fps = None,
    preview: Annotated[
        bool, typer.Option("--preview/--no-preview", help="Also write <name>.preview.mp4 for every job.")
    ] = False,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Also write <name>.report.html for every job and OUTDIR/index.html.")
    ] = False,
    hands: opts.Hands = False,
    hands_detector: opts.HandsDetectorOption = opts.HandsDetector.holistic,
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
    from mocap.pipeline import check_outputs_possible

    if ray_address is not None and executor is not Executor.ray:
        raise typer.BadParameter("--ray-address needs --executor ray", param_hint="--ray-address")
    options = opts.convert_options(
        locals(),
        cache_dir=cache_dir.resolve() if cache_dir is not None else None,  # the same folder for every worker
        report_path=Path(REPORT_IN_STAGING) if report else None,
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
