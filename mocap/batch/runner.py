"""`mocap batch`: plan the jobs, skip what is done, run the rest on an executor, record.

plan_batch() turns inputs into Jobs and decides, against the manifest, which run:
a job whose newest record is `done`, with the same input content (sha256; size and
modification time first, to avoid re-hashing) and the same output-shaping options, and
whose outputs all exist, is skipped unless `force`. Everything else runs: new inputs,
changed inputs or options, `failed` and `interrupted` jobs, and jobs with no record (a
run killed outright leaves none for the jobs it had in flight).

run_batch() runs them on a WorkerPool (local processes) or RayExecutor, `jobs` at a time,
longest first (by frames to convert) so that no long job is left running alone at the end.
A video longer than `chunk_s` is split into time chunks (mocap.detect.chunks) run as
separate tasks, then stitched and solved as one clip. A job that raises fails alone,
with its one-line message in the manifest; a task whose worker process died is retried
`retries` times on a fresh worker. Outputs are staged under OUTDIR/.mocap-staging and
moved into place only when the whole job succeeded, and the move and the job's `done`
record happen with interrupts held back (mocap.interrupts), so an interrupt never parts
finished outputs from their record. On Ctrl-C (KeyboardInterrupt) the
workers are ended, staging is removed, the jobs in flight are recorded as `interrupted`
and the interrupt is re-raised.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mocap import __version__
from mocap.batch.inputs import BatchInput, expand_inputs
from mocap.batch.manifest import MANIFEST_NAME, Manifest, now_iso, options_hash, options_record
from mocap.data import LandmarkTracks, VideoInfo
from mocap.errors import MocapError
from mocap.interrupts import deferred_interrupts

STAGING = ".mocap-staging"


@dataclass(frozen=True)
class BatchConfig:
    jobs: int = 1  # tasks at a time (local processes, or Ray tasks in flight)
    force: bool = False  # run finished jobs again
    chunk_s: float = 120.0  # videos longer than this are detected in chunks of about this length
    retries: int = 2  # re-runs of a task whose worker process died
    executor: str = "local"  # "local" | "ray"
    ray_address: str | None = None


@dataclass
class Job:
    key: str
    input: Path
    out_dir: Path
    options: Any  # ConvertOptions
    size: int = 0
    mtime_ns: int = 0
    info: VideoInfo | None = None
    action: str = "run"  # "run" | "skip" | "failed" (could not even be probed)
    reason: str = ""  # why it runs or is skipped (dry-run listing)
    error: tuple[str, int] | None = None  # (message, exit code) of a planning failure
    chunks: list = field(default_factory=list)
    parts: dict[int, LandmarkTracks] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    started: float = 0.0

    @property
    def staging(self) -> Path:
        return self.out_dir / STAGING / self.key.replace("/", "__")

    @property
    def final_dir(self) -> Path:
        """The folder this job's outputs are moved into: OUTDIR/<the key's folder>."""
        return (self.out_dir / self.key).parent

    @property
    def frames(self) -> int:
        if self.info is None:
            return 0
        from mocap.video import count_frames_in_range

        return count_frames_in_range(self.info, self.options.start_s, self.options.end_s)


class Display(Protocol):
    def start(self, n_jobs: int, n_frames: int) -> None: ...
    def frames(self, n: int) -> None: ...
    def finished(self, record: dict[str, Any]) -> None: ...
    def stop(self) -> None: ...


class NoDisplay:
    def start(self, n_jobs: int, n_frames: int) -> None:
        pass

    def frames(self, n: int) -> None:
        pass

    def finished(self, record: dict[str, Any]) -> None:
        pass

    def stop(self) -> None:
        pass


def _outputs_exist(record: dict[str, Any], out_dir: Path) -> bool:
    outputs = record.get("outputs") or {}
    return bool(outputs) and all((out_dir / rel).is_file() for rel in outputs.values())


def plan_batch(inputs: list[str], out_dir: Path, options: Any, config: BatchConfig) -> tuple[list[Job], Manifest]:
    """Expand the inputs and decide each job's action against OUTDIR's manifest.

    Raises InputError when an input names nothing or two inputs collide (expand_inputs;
    mocap's own outputs and everything under OUTDIR are not inputs).
    A file that cannot be probed becomes a job with action 'failed' and its error.
    """
    from mocap.video import probe_video

    out_dir = Path(out_dir)
    manifest = Manifest(out_dir / MANIFEST_NAME)
    wanted = options_hash(options)
    jobs: list[Job] = []
    for entry in expand_inputs(inputs, out_dir):
        job = _job(entry, out_dir, options)
        previous = manifest.latest.get(job.key)
        done_before = (
            previous is not None
            and previous.get("status") == "done"
            and previous.get("options_hash") == wanted
            and _outputs_exist(previous, out_dir)
        )
        # The same file however its path was typed (relative to another folder, through a
        # link): the manifest records absolute paths. Otherwise the content hash decides.
        same_file = Path(previous.get("input", "") if previous else "").resolve() == job.input.resolve()
        if done_before and not config.force and same_file and (previous["size"], previous["mtime_ns"]) == (job.size, job.mtime_ns):
            job.action, job.reason = "skip", "done (same file, same options)"
            jobs.append(job)
            continue
        try:
            job.info = probe_video(job.input)
        except MocapError as exc:
            job.action, job.error = "failed", (str(exc), exc.exit_code)
            jobs.append(job)
            continue
        if done_before and not config.force and previous.get("content_hash") == job.info.content_hash:
            job.action, job.reason = "skip", "done (same content, same options)"
        elif config.force and previous is not None:
            job.reason = "forced"
        elif previous is None:
            job.reason = "new"
        elif previous.get("status") != "done":
            job.reason = f"was {previous.get('status')}"
        elif previous.get("options_hash") != wanted:
            job.reason = "options changed"
        elif previous.get("content_hash") != job.info.content_hash:
            job.reason = "input changed"
        else:
            job.reason = "outputs missing"
        jobs.append(job)
    return jobs, manifest


def _job(entry: BatchInput, out_dir: Path, options: Any) -> Job:
    st = entry.path.stat()
    return Job(key=entry.key, input=entry.path, out_dir=out_dir, options=options, size=st.st_size, mtime_ns=st.st_mtime_ns)


def _record(job: Job, status: str, summary: dict[str, Any] | None = None, error: tuple[str, int] | None = None) -> dict[str, Any]:
    summary = summary or {}
    return {
        "job": job.key,
        "input": str(job.input.resolve()),
        "content_hash": job.info.content_hash if job.info is not None else None,
        "size": job.size,
        "mtime_ns": job.mtime_ns,
        "options": options_record(job.options),
        "options_hash": options_hash(job.options),
        "outputs": summary.get("outputs", {}),
        "status": status,
        "timings_s": summary.get("timings_s", {}),
        "frames": summary.get("frames", job.frames if job.info is not None else None),
        "detection_rate": summary.get("detection_rate"),
        "error": error[0] if error else None,
        "exit_code": error[1] if error else 0,
        "attempts": max(job.attempts.values(), default=0),
        "worker": summary.get("worker"),
        "wall_s": round(time.perf_counter() - job.started, 3) if job.started else None,
        "finished_at": now_iso(),
        "mocap": __version__,
    }


def _commit(job: Job, summary: dict[str, Any]) -> dict[str, Any]:
    """Move a job's staged outputs into OUTDIR; returns the summary with OUTDIR-relative paths."""
    target = job.final_dir
    target.mkdir(parents=True, exist_ok=True)
    outputs = {}
    for fmt, staged in summary["outputs"].items():
        final = target / Path(staged).name
        Path(staged).replace(final)
        outputs[fmt] = final.relative_to(job.out_dir).as_posix()
    shutil.rmtree(job.staging, ignore_errors=True)
    return {**summary, "outputs": outputs}


def _cached(job: Job) -> bool:
    """True when the landmark cache already holds this job's detection."""
    if not job.options.use_cache or job.info is None:
        return False
    from mocap.detect.cache import cache_key, cache_path, default_cache_dir
    from mocap.detect.mediapipe_pose import mediapipe_version

    key = cache_key(job.info, job.options.start_s, job.options.end_s, job.options.model, mediapipe_version())
    return cache_path(job.options.cache_dir or default_cache_dir(), job.info, key, job.options.model).is_file()


def make_executor(config: BatchConfig):
    """The executor named by config: a local WorkerPool or a RayExecutor."""
    if config.executor == "ray":
        from mocap.batch.ray_executor import RayExecutor

        return RayExecutor(address=config.ray_address, max_in_flight=config.jobs, max_retries=config.retries)
    import os

    from mocap.batch.pool import WorkerPool

    threads = max(1, (os.cpu_count() or 1) // config.jobs)
    return WorkerPool(config.jobs, threads_per_worker=threads)


def run_batch(
    jobs: list[Job],
    manifest: Manifest,
    config: BatchConfig,
    display: Display | None = None,
    executor=None,
    records: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Run every job whose action is 'run'; returns the records written (one per job that
    ran or failed at planning), also appended to `records` as they come, so a caller
    still has them after a KeyboardInterrupt, which is re-raised once recorded."""
    from mocap.batch import tasks
    from mocap.batch.chunked import OwnedProgress, error_from
    from mocap.detect.chunks import frame_range, plan_chunks, stitch_chunks

    display = display or NoDisplay()
    records = [] if records is None else records
    for job in jobs:
        if job.action == "failed":
            record = _record(job, "failed", error=job.error)
            manifest.append(record)
            records.append(record)
    # Longest first (LPT scheduling, Graham 1969): a long job started last would run alone
    # on one worker while the others sit idle; ordering by frames keeps every worker busy
    # to the end. Ties keep the input order.
    todo = sorted((job for job in jobs if job.action == "run"), key=lambda job: -job.frames)
    if not todo:
        return records
    out_dir = todo[0].out_dir
    shutil.rmtree(out_dir / STAGING, ignore_errors=True)  # left by a run that was killed
    display.start(len(todo), sum(job.frames for job in todo))
    executor = executor or make_executor(config)
    by_task: dict[str, _Task] = {}
    live: dict[str, Job] = {}

    def submit(task: _Task) -> None:
        task.job.attempts[task.task_id] = task.job.attempts.get(task.task_id, 0) + 1
        by_task[task.task_id] = task
        executor.submit(task.task_id, task.fn, task.args)

    def finish(job: Job, status: str, summary=None, error=None) -> None:
        if status != "done":
            shutil.rmtree(job.staging, ignore_errors=True)
        live.pop(job.key, None)
        record = _record(job, status, summary, error)
        manifest.append(record)
        records.append(record)
        display.finished(record)

    try:
        for number, job in enumerate(todo):
            job.started = time.perf_counter()
            job.staging.mkdir(parents=True, exist_ok=True)
            live[job.key] = job
            fps = job.info.fps
            first, stop = frame_range(job.info, job.options.start_s, job.options.end_s)
            n = math.ceil((stop - first) / max(1.0, config.chunk_s * fps))
            chunks = plan_chunks(first, stop, fps, n) if n > 1 and not _cached(job) else []
            if len(chunks) > 1:
                job.chunks = chunks
                for i, chunk in enumerate(chunks):
                    submit(_Task(f"{number}.{i}", job, tasks.run_chunk, (str(job.input.resolve()), chunk, job.options.model),
                                 _Frames(display.frames, OwnedProgress(chunk, None)), chunk=i))
            else:
                submit(_Task(f"{number}", job, tasks.run_convert,
                             (str(job.input.resolve()), str(job.staging.resolve()), job.options, str(job.final_dir)),
                             _Frames(display.frames)))
        for event in executor.events():
            task = by_task[event.task_id]
            job = task.job
            if job.key not in live:
                continue  # a job that already failed through another of its chunks
            if event.kind == "progress":
                task.frames(event.value)
            elif event.kind == "error":
                finish(job, "failed", error=(str(error_from(event.value)), event.value[2]))
            elif event.kind == "crashed":
                task.frames.undo()
                if job.attempts[event.task_id] <= config.retries and not getattr(executor, "retries_crashes", False):
                    submit(task)
                else:
                    finish(job, "failed", error=(f"{job.input}: the worker process died ({_death(event.value)}) "
                                                 f"{job.attempts[event.task_id]} times", 1))
            elif task.chunk is not None:
                job.parts[task.chunk] = event.value
                if len(job.parts) == len(job.chunks):
                    try:
                        tracks = stitch_chunks(job.chunks, [job.parts[i] for i in range(len(job.chunks))], job.info.fps)
                    except ValueError as exc:  # a chunk came back short: the file's frames moved under us
                        finish(job, "failed", error=(f"{job.input}: {exc}", 2))
                        continue
                    job.parts.clear()
                    submit(_Task(f"{event.task_id.split('.')[0]}.finish", job, tasks.run_finish,
                                 (str(job.input.resolve()), str(job.staging.resolve()), job.options, str(job.final_dir),
                                  tracks), _Frames(None)))
            else:
                # Moving the outputs into place and recording the job as done are one step:
                # an interrupt between them would leave finished outputs under an
                # "interrupted" record (redone on resume) or only some formats in place.
                with deferred_interrupts():
                    try:
                        summary = _commit(job, event.value)
                    except OSError as exc:
                        finish(job, "failed", error=(f"{job.out_dir / job.key}: cannot move the outputs into place ({exc})", 5))
                        continue
                    finish(job, "done", summary)
    except KeyboardInterrupt:
        executor.terminate()
        for job in list(live.values()):
            finish(job, "interrupted", error=(f"{job.input}: interrupted", 130))
        shutil.rmtree(out_dir / STAGING, ignore_errors=True)
        display.stop()
        raise
    executor.close()
    shutil.rmtree(out_dir / STAGING, ignore_errors=True)
    display.stop()
    return records


@dataclass
class _Task:
    task_id: str
    job: Job
    fn: Any
    args: tuple
    frames: _Frames
    chunk: int | None = None


class _Frames:
    """Forwards a task's frame counts to the display (through OwnedProgress for a chunk,
    which leaves out its warm-up) and takes them back if the task's worker died."""

    def __init__(self, sink, owned: Any = None):
        self.sink, self.owned, self.sent = sink, owned, 0

    def __call__(self, n: int) -> None:
        if self.owned is not None:
            before = self.owned.reported
            self.owned(n)
            n = self.owned.reported - before
        self.sent += n
        if self.sink is not None and n:
            self.sink(n)

    def undo(self) -> None:
        if self.sink is not None and self.sent:
            self.sink(-self.sent)
        self.sent = 0
        if self.owned is not None:
            self.owned.decoded = self.owned.reported = 0


def write_batch_index(jobs: list[Job], manifest: Manifest) -> Path:
    """OUTDIR/index.html: one row per job (its report when it has one, its status), from
    the manifest's newest records (mocap.report.write_index)."""
    from mocap.report import IndexEntry, write_index

    entries = []
    for job in jobs:
        record = manifest.latest.get(job.key, {})
        report = (record.get("outputs") or {}).get("report")
        status = record.get("status", "not run")
        if record.get("error"):
            status = f"{status}: {record['error']}"
        entries.append(IndexEntry(job.key, job.out_dir / report if report else None, status))
    return write_index(entries, manifest.path.with_name("index.html"))


def _death(code: Any) -> str:
    if isinstance(code, str):
        return code
    if isinstance(code, int) and code < 0:
        import signal

        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
