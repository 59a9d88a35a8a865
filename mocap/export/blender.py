"""The Blender adapter: run a scene description through Blender's FBX/glTF/USD exporters.

The only mocap module that imports bpy, and only inside functions (`import mocap` stays
light). Two ways to reach Blender, same result (both call blender_job.run_job):

1. in-process `bpy` (pip package bpy==5.0.1, `pip install 'mocap-video[blender]'`) when importable
   and no `blender_exe` is given;
2. a Blender executable (`blender_exe`, else `blender` on PATH) run in background:
   `blender -b --factory-startup --python-exit-code 1 --python blender_job.py -- job.json`.

Inside an interactive Blender session (the add-on) in-process export would wipe the user's
scene, so there the running Blender binary is used as a subprocess instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mocap import native_output
from mocap.interrupts import deferred_interrupts
from mocap.errors import ExportError
from mocap.export.blender_schema import Job, Scene, SchemaError

JOB_SCRIPT = Path(__file__).with_name("blender_job.py")
SUBPROCESS_TIMEOUT_S = 1800.0
_ERROR_TAG = "mocap-export-error:"


def bpy_available() -> bool:
    """True when `import bpy` would work in this Python."""
    return "bpy" in sys.modules or importlib.util.find_spec("bpy") is not None


def _inside_interactive_blender() -> str | None:
    """Path of the running Blender binary when we run inside Blender's UI, else None."""
    bpy = sys.modules.get("bpy")
    if bpy is None or bpy.app.background:
        return None
    return str(bpy.app.binary_path) or None


def find_blender(blender_exe: str | os.PathLike[str] | None = None) -> str | None:
    """The Blender executable to use: `blender_exe` (must exist) else `blender` on PATH, else None."""
    if blender_exe is not None:
        found = shutil.which(str(blender_exe))
        if found is None:
            raise ExportError(f"{blender_exe}: no such Blender executable")
        return found
    return shutil.which("blender")


def describe_backend(blender_exe: str | os.PathLike[str] | None = None) -> str:
    """'bpy' or the path of the Blender executable that export_scene would use; ExportError if none."""
    if blender_exe is None:
        ui_binary = _inside_interactive_blender()
        if ui_binary:
            return ui_binary
        if bpy_available():
            return "bpy"
    exe = find_blender(blender_exe)
    if exe is None:
        raise ExportError(
            "FBX/GLB export needs Blender: install the bpy module (pip install 'mocap-video[blender]', "
            "or pipx inject mocap-video bpy==5.0.1; Python 3.11) or Blender (3.4 or newer) and put `blender` on PATH or pass --blender PATH"
        )
    return exe


def export_scene(
    scene: Scene,
    fmt: str,
    output: Path,
    blender_exe: str | os.PathLike[str] | None = None,
    target: Path | None = None,
) -> None:
    """Build `scene` (mocap.export.scene) in an empty Blender scene and export it to `output`.

    fmt: "fbx", "glb" or "usd". `output` is written directly (callers make it atomic); `target`
    is the path named in error messages (default `output`).
    Raises ExportError when no Blender is available or Blender fails.
    """
    target = target or output
    try:
        backend = describe_backend(blender_exe)
    except ExportError as exc:
        raise ExportError(f"{target}: {exc}") from exc
    try:
        job = Job(scene, fmt, str(output))  # validated here; blender_job validates the JSON again
    except SchemaError as exc:
        raise ExportError(f"{target}: {exc}") from exc
    if backend == "bpy":
        _run_in_process(job, target)
    else:
        _run_subprocess(job, backend, output, target)


def _run_in_process(job: Job, target: Path) -> None:
    from mocap.export import blender_job

    try:
        # Blender's exporters print progress on stdout and their own tracebacks on stderr;
        # the failure is reported once, as one line, below.
        with (
            deferred_interrupts(),  # a KeyboardInterrupt inside bpy crashes Blender (SIGSEGV)
            native_output.silenced(1, python_too=True),
            native_output.silenced(2, python_too=True),
        ):
            blender_job.run_job(job)
    except Exception as exc:  # bpy raises RuntimeError/TypeError; JobError from the job itself
        raise ExportError(
            f"{target}: Blender could not export {job.format.upper()}: {blender_job.one_line(exc)}"
        ) from exc


def _run_subprocess(job: Job, exe: str, output: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="mocap-blender-") as tmp:
        job_path = Path(tmp) / "job.json"
        job_path.write_text(json.dumps(job.to_json()), encoding="utf-8")
        cmd = [exe, "-b", "--factory-startup", "--python-exit-code", "1",
               "--python", str(JOB_SCRIPT), "--", str(job_path)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ExportError(f"{target}: running {exe} failed: {exc}") from exc
    if proc.returncode != 0 or not output.exists() or output.stat().st_size == 0:
        tagged = [line for line in proc.stderr.splitlines() if line.startswith(_ERROR_TAG)]
        detail = tagged[-1][len(_ERROR_TAG):].strip() if tagged else (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ExportError(f"{target}: {exe} could not export {job.format.upper()} (exit {proc.returncode}): {detail}")
