"""Terminal progress and summaries (rich). Only the CLI and batch runner use this."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from mocap.data import VideoInfo

console = Console(stderr=True)


class FpsColumn(ProgressColumn):
    """Frames per second, from rich's own speed estimate."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("     fps" if speed is None else f"{speed:6.1f} fps", style="cyan")


class ConvertProgress:
    """A progress bar over the frames being detected. A no-op when disabled."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> ConvertProgress:
        return self

    def start(self, info: VideoInfo, total_frames: int) -> None:
        """Show the bar (only now: a run that fails before it knows its frames prints
        nothing but its one-line error)."""
        if self.enabled and self._progress is None:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                FpsColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._progress.start()
        if self._progress is not None:
            self._task = self._progress.add_task(f"detecting {info.path.name}", total=total_frames)

    def advance(self, n: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __exit__(self, *exc) -> None:
        self.stop()


def print_summary(result) -> None:
    """Closing summary of a conversion (pipeline.ConvertResult)."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")  # paths are folded, never cut short with an ellipsis
    info = result.video
    table.add_row("video", f"{info.path.name}: {info.width_px}x{info.height_px}, {info.fps:.3f} fps")
    table.add_row("frames", f"{result.n_frames} ({result.motion.duration_s:.2f} s)")
    if result.retiming is not None:
        table.add_row("timing", result.retiming.describe())
    table.add_row("detected", f"{result.n_detected}/{result.n_frames} ({100 * result.detection_rate:.1f}%)")
    if result.gaps:
        spans = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in result.gaps[:8])
        more = f" and {len(result.gaps) - 8} more" if len(result.gaps) > 8 else ""
        table.add_row("gaps", f"{len(result.gaps)} without a person (frames {spans}{more}); pose held/filled")
    else:
        table.add_row("gaps", "none")
    if result.several_people:
        table.add_row(
            "people",
            f"warning: up to {result.people_max} people in view; one was followed "
            "(choose with --person largest|centre|left|right|X,Y)",
        )
    if result.identity_lost:
        spans = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in result.identity_lost[:8])
        table.add_row("identity", f"frames {spans}: the pose was another person's; dropped and filled")
    for part, spans in result.unseen_parts.items():
        frames = sum(b - a + 1 for a, b in spans)
        listed = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in spans[:6])
        more = f" and {len(spans) - 6} more" if len(spans) > 6 else ""
        table.add_row("unseen", f"{part}: {frames} frames ({listed}{more}); held, or standing where never seen")
    table.add_row("performer", f"{result.height_m:.2f} m tall")
    hands_seen = getattr(result, "hands_seen", None)
    if hands_seen:
        found = ", ".join(f"{side} {100 * share:.0f}%" for side, share in hands_seen.items())
        table.add_row("hands", f"found in {found} of the frames; the rest relaxed or bridged")
    from mocap.pipeline import hands_warnings

    for line in getattr(result, "warnings", ()):
        if line not in hands_warnings(hands_seen):  # the hands row above says it
            table.add_row("warning", line)
    console.print(table)
    for fmt, path in result.outputs.items():  # whole paths on one line each, for copy and paste
        console.print(f"[bold]{fmt:<10}[/bold] {path}", soft_wrap=True, highlight=False)
