"""What `mocap batch` shows: a rich bar for jobs and one for frames overall (frames/s,
ETA), a line per finished job, and the closing table of failures."""

from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from mocap.progress import FpsColumn, console


class _FramesFps(FpsColumn):
    """Frames per second on the frames bar only (jobs per second means little)."""

    def render(self, task):
        from rich.text import Text

        return super().render(task) if task.description == "frames" else Text("")


class BatchDisplay:
    """Implements runner.Display on stderr with rich."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._jobs = self._frames = None

    def start(self, n_jobs: int, n_frames: int) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<7}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            _FramesFps(),
            TimeRemainingColumn(),
            console=console,
        )
        self._progress.start()
        self._jobs = self._progress.add_task("jobs", total=n_jobs)
        self._frames = self._progress.add_task("frames", total=n_frames)

    def frames(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._frames, n)

    def finished(self, record: dict[str, Any]) -> None:
        if self._progress is None:
            return
        self._progress.advance(self._jobs, 1)
        status = record["status"]
        if status == "done":
            wall = record.get("wall_s") or 0.0
            self._progress.console.print(
                f"[green]done[/green]   {record['job']}  {record['frames']} frames, "
                f"{100 * (record['detection_rate'] or 0):.0f}% detected, {wall:.1f} s",
                highlight=False,
            )
        else:
            self._progress.console.print(f"[red]{status:<6}[/red] {record['job']}  {record['error']}", highlight=False)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def print_plan(jobs: list) -> None:
    """--dry-run: what would run and why, what would be skipped (on stdout: it is the answer)."""
    from rich.console import Console

    table = Table(box=None, pad_edge=False)
    table.add_column("action", style="bold")
    table.add_column("job")
    table.add_column("why", overflow="fold")
    for job in jobs:
        why = job.error[0] if job.error else job.reason
        style = {"run": "cyan", "skip": "dim", "failed": "red"}[job.action]
        table.add_row(f"[{style}]{job.action}[/{style}]", job.key, why)
    Console().print(table)


def print_closing(records: list[dict[str, Any]], n_skipped: int, manifest_path) -> None:
    """Counts, then one row per failed or interrupted job with its one-line reason."""
    done = sum(r["status"] == "done" for r in records)
    bad = [r for r in records if r["status"] != "done"]
    console.print(
        f"{done} done, {sum(r['status'] == 'failed' for r in bad)} failed, "
        f"{sum(r['status'] == 'interrupted' for r in bad)} interrupted, {n_skipped} skipped (already done); "
        f"manifest: {manifest_path}",
        highlight=False,
        soft_wrap=True,
    )
    if bad:
        table = Table(title="failed jobs", title_justify="left", show_lines=False)
        table.add_column("job", no_wrap=True)
        table.add_column("status")
        table.add_column("reason", overflow="fold")
        for r in bad:
            table.add_row(r["job"], r["status"], r["error"] or "")
        console.print(table)
