"""The mocap engine seen from Blender: find the `mocap` executable and run a conversion in a
background process. No bpy here (tested without Blender), and no ML inside Blender: MediaPipe
runs in mocap's own environment (pipx), never in Blender's Python.

A `ConvertJob` runs `mocap convert VIDEO -o TMP/ -f json --progress json ...`, reads the
JSON event stream (mocap/progress_json.py) on a thread, and exposes the latest state for a
timer to poll. Outputs go to a private temporary folder: cancelling ends the process and
deletes that folder, so nothing half-written is left anywhere; a finished motion file is
copied into a user folder only on request, atomically.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

MIN_ENGINE_VERSION = (0, 1, 0)
INSTALL_HINT = "install it with `pipx install mocap-video` (docs/addon.md) or set its path in the add-on preferences"
VERSION_TIMEOUT_S = 60.0


class EngineError(Exception):
    """The engine is missing, too old, or failed; the message is what the panel shows."""


@dataclass(frozen=True)
class Engine:
    path: str
    version: tuple[int, int, int]

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def start_engine(command: list[str], stdout: int) -> subprocess.Popen:
    """Start the engine in the background: stdin closed, stderr piped, text lines, no console
    window on Windows. `stdout` is subprocess.PIPE or DEVNULL. Raises OSError."""
    kwargs = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NO_WINDOW  # type: ignore[attr-defined]
    return subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            bufsize=1, **kwargs)


def keep_lines(stream, lines: collections.deque) -> None:
    """Thread target: append every non-blank line of `stream` (an engine's stderr) to `lines`."""
    for line in stream:
        if line.strip():
            lines.append(line.rstrip())


def end_process(proc: subprocess.Popen | None, timeout_s: float) -> None:
    """End a still-running process: SIGTERM, then kill when it has not ended after timeout_s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)


def find_engine(configured: str = "") -> Engine:
    """The mocap executable: `configured` (a path or a command name) if set, else `mocap` on PATH.

    Raises EngineError with a one-line message when it is missing, does not run, or is older
    than MIN_ENGINE_VERSION."""
    name = configured.strip() or "mocap"
    exe = shutil.which(os.path.expanduser(name))
    if exe is None:
        where = f"at {name}" if configured.strip() else "on PATH"
        raise EngineError(f"mocap engine not found {where}: {INSTALL_HINT}")
    try:
        proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"mocap engine at {exe} does not run ({exc}): {INSTALL_HINT}") from None
    match = re.search(r"mocap (\d+)\.(\d+)\.(\d+)", proc.stdout)
    if proc.returncode != 0 or match is None:
        raise EngineError(f"{exe} is not the mocap engine (`--version` said {proc.stdout.strip()[:60]!r}): {INSTALL_HINT}")
    version = tuple(int(g) for g in match.groups())
    if version < MIN_ENGINE_VERSION:
        need = ".".join(map(str, MIN_ENGINE_VERSION))
        raise EngineError(f"mocap engine {'.'.join(map(str, version))} at {exe} is too old (need {need}): "
                          "upgrade it with `pipx upgrade mocap-video`")
    return Engine(exe, version)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ConvertSettings:
    """What the panel passes to `mocap convert` (names as the CLI's options)."""

    smoothing: str = "medium"
    root_motion: str = "full"
    foot_lock: str = "on"
    start_s: float | None = None
    end_s: float | None = None
    extra_args: tuple[str, ...] = ()


@dataclass
class JobState:
    status: str = "starting"  # starting | running | done | failed | cancelled
    done: int = 0
    total: int = 0
    eta_s: float | None = None
    speed_fps: float | None = None
    stage: str = "starting"
    message: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    exit_code: int | None = None

    @property
    def fraction(self) -> float:
        if self.status == "done":
            return 1.0
        return self.done / self.total if self.total else 0.0

    def describe(self) -> str:
        """One line for the panel."""
        if self.status == "running" and self.stage == "detect" and self.total:
            eta = f", {self.eta_s:.0f} s left" if self.eta_s is not None else ""
            return f"Detecting: {self.done}/{self.total} frames{eta}"
        if self.status == "running" and self.stage == "solve":
            return "Solving and writing the motion..."
        if self.status in ("failed", "cancelled", "done"):
            return self.message
        return "Starting mocap..."


class ConvertJob:
    """One background conversion. start() launches it; poll() returns the latest JobState;
    cancel() ends it and removes every file it made; cleanup() removes the temporary folder."""

    def __init__(self, engine: Engine, video: str | Path, settings: ConvertSettings = ConvertSettings()):
        self.engine = engine
        self.video = Path(video)
        self.settings = settings
        self.folder = Path(tempfile.mkdtemp(prefix="mocap-addon-"))
        self.state = JobState()
        self._lock = threading.Lock()
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._proc: subprocess.Popen | None = None
        self._threads: list[threading.Thread] = []

    def command(self) -> list[str]:
        s = self.settings
        cmd = [self.engine.path, "convert", str(self.video), "-o", str(self.folder) + os.sep, "--format", "json",
               "--progress", "json", "--no-contacts", "--smoothing", s.smoothing, "--root-motion", s.root_motion,
               "--foot-lock", s.foot_lock]
        if s.start_s is not None:
            cmd += ["--start", f"{s.start_s:g}"]
        if s.end_s is not None:
            cmd += ["--end", f"{s.end_s:g}"]
        return cmd + list(s.extra_args)

    def start(self) -> ConvertJob:
        try:
            self._proc = start_engine(self.command(), subprocess.PIPE)
        except OSError as exc:
            self.cleanup()
            raise EngineError(f"could not start {self.engine.path}: {exc}") from None
        self.state.status = "running"
        for target, args in ((self._read_events, (self._proc.stdout,)), (keep_lines, (self._proc.stderr, self._stderr))):
            t = threading.Thread(target=target, args=args, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _read_events(self, stream) -> None:
        for line in stream:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a stray print from a library: not part of the stream
            if not isinstance(event, dict):
                continue
            with self._lock:
                kind = event.get("event")
                st = self.state
                if kind == "start":
                    st.total = int(event.get("frames") or 0)
                    st.stage = "detect"
                elif kind == "progress":
                    st.done, st.total = int(event.get("done", 0)), int(event.get("total", st.total))
                    st.eta_s, st.speed_fps = event.get("eta_s"), event.get("fps")
                    st.stage = event.get("stage", "detect")
                elif kind == "stage":
                    st.stage = str(event.get("stage"))
                elif kind == "done":
                    st.outputs = {str(k): str(v) for k, v in (event.get("outputs") or {}).items()}
                elif kind == "error":
                    st.message = str(event.get("message", ""))
                    st.exit_code = event.get("exit_code")

    def poll(self) -> JobState:
        """The latest state; notices when the process has ended."""
        proc = self._proc
        if proc is not None and self.state.status == "running" and proc.poll() is not None:
            for t in self._threads:
                t.join(timeout=5.0)
            with self._lock:
                st = self.state
                st.exit_code = proc.returncode
                motion = st.outputs.get("json")
                if proc.returncode == 0 and motion and Path(motion).is_file():
                    st.status = "done"
                    st.message = f"Converted {st.total} frames"
                else:
                    st.status = "failed"
                    detail = st.message or next((ln for ln in reversed(self._stderr) if ln.startswith("error:")), "")
                    detail = detail or (self._stderr[-1] if self._stderr else "no output")
                    st.message = f"mocap failed (exit {proc.returncode}): {detail.removeprefix('error: ')}"
        with self._lock:
            return JobState(**vars(self.state))

    @property
    def motion_path(self) -> Path | None:
        path = self.state.outputs.get("json")
        return Path(path) if self.state.status == "done" and path else None

    def cancel(self, timeout_s: float = 10.0) -> None:
        """End the process (SIGTERM, then kill) and delete everything it wrote."""
        end_process(self._proc, timeout_s)
        for t in self._threads:
            t.join(timeout=2.0)
        with self._lock:
            self.state.status = "cancelled"
            self.state.message = "Conversion cancelled; nothing was written"
        self.cleanup()

    def wait(self, poll_s: float = 0.2, timeout_s: float | None = None) -> JobState:
        """Block until the job ends (headless use); returns the final state."""
        t0 = time.monotonic()
        while True:
            state = self.poll()
            if state.status not in ("starting", "running"):
                return state
            if timeout_s is not None and time.monotonic() - t0 > timeout_s:
                self.cancel()
                return self.poll()
            time.sleep(poll_s)

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def keep_copy(src: Path, folder: str | Path) -> Path:
    """Copy a finished motion file into `folder` atomically (temp file + rename); returns the new path."""
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / src.name
    fd, tmp = tempfile.mkstemp(prefix=f".{src.stem}.", suffix=".part", dir=folder)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
