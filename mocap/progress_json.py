"""`mocap convert --progress json`: a machine-readable progress stream on stdout.

One JSON object per line, flushed as it is written, for the Blender add-on and for scripts
(documented in docs/addon.md). Events, in order:

    {"event": "start", "video": PATH, "frames": N, "fps": 30.0, "version": "0.1.0"}
    {"event": "progress", "stage": "detect", "done": k, "total": N, "fps": 41.5, "eta_s": 2.1}
    {"event": "stage", "stage": "solve"}          # detection finished; solving and writing
    {"event": "done", "outputs": {"json": PATH, ...}, "frames": N, "fps": 30.0, "detected": k}
    {"event": "error", "message": "...", "exit_code": 4}      # instead of "done"

"progress" lines come at most every PROGRESS_INTERVAL_S (and always for the last frame);
`fps` there is the detection speed in frames per second, `eta_s` the time left for detection
at that speed (null until measurable). The same interface as mocap.progress.ConvertProgress.
"""

from __future__ import annotations

import json
import sys
import time

from mocap import __version__

PROGRESS_INTERVAL_S = 0.1


class JsonProgress:
    """Writes the events above to `stream` (default sys.stdout)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.total = 0
        self.done = 0
        self._t0 = 0.0
        self._last = 0.0

    def emit(self, event: str, **fields) -> None:
        self.stream.write(json.dumps({"event": event, **fields}) + "\n")
        self.stream.flush()

    def __enter__(self) -> JsonProgress:
        return self

    def start(self, info, total_frames: int) -> None:
        self.total = int(total_frames)
        self._t0 = self._last = time.perf_counter()
        self.emit("start", video=str(info.path), frames=self.total, fps=float(info.fps), version=__version__)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        last = self.done >= self.total > 0
        if now - self._last < PROGRESS_INTERVAL_S and not last:
            return
        self._last = now
        elapsed = now - self._t0
        speed = self.done / elapsed if elapsed > 0 else None
        eta = (self.total - self.done) / speed if speed else None
        self.emit("progress", stage="detect", done=self.done, total=self.total,
                  fps=None if speed is None else round(speed, 2), eta_s=None if eta is None else round(eta, 2))
        if last:
            self.emit("stage", stage="solve")

    def finish(self, result) -> None:
        self.emit("done", outputs={k: str(v) for k, v in result.outputs.items()}, frames=result.n_frames,
                  fps=float(result.motion.fps), detected=result.n_detected)

    def fail(self, message: str, exit_code: int) -> None:
        self.emit("error", message=message, exit_code=exit_code)

    def stop(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        pass
