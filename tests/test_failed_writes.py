"""A failed write: one line, exit 5, and no output of that conversion left behind.

The formats of one conversion (and its contacts sidecar) are committed together or not at
all (mocap.atomic.atomic_paths). Each way an output can fail is built for real where
the test machine allows it: a folder in the way, a file-size limit (RLIMIT_FSIZE, which fails
writes like a full disk: EFBIG instead of ENOSPC), Blender's exporter refusing; a read-only
folder by chmod when not root (root ignores permissions: there the OS call is made to fail).
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mocap.cli import app
from mocap.errors import ExportError
from mocap.atomic import atomic_paths

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "squats.mp4"
runner = CliRunner()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("landmark-cache")


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_all_files_are_committed_together(tmp_path):
    targets = {k: tmp_path / f"clip.{k}" for k in ("bvh", "fbx", "glb")}
    with atomic_paths(targets) as staged:
        assert _names(tmp_path) == sorted(p.name for p in staged.values())  # hidden staged files only
        for key, path in staged.items():
            assert path.suffix == f".{key}" and path.name.startswith(".clip.")
            path.write_text(key)
        assert not any(t.exists() for t in targets.values())
    assert {t.read_text() for t in targets.values()} == {"bvh", "fbx", "glb"}
    assert _names(tmp_path) == ["clip.bvh", "clip.fbx", "clip.glb"]


def test_disk_full_on_the_second_file_leaves_nothing_and_keeps_old_files(tmp_path):
    (tmp_path / "clip.bvh").write_text("yesterday's take")
    targets = {k: tmp_path / f"clip.{k}" for k in ("bvh", "fbx")}
    with pytest.raises(ExportError) as info:
        with atomic_paths(targets) as staged:
            staged["bvh"].write_text("new")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(staged["fbx"]))
    assert str(info.value) == f"{targets['fbx']}: cannot write (No space left on device)"
    assert _names(tmp_path) == ["clip.bvh"]
    assert (tmp_path / "clip.bvh").read_text() == "yesterday's take"


def test_a_failed_rename_restores_the_files_already_replaced(tmp_path, monkeypatch):
    (tmp_path / "clip.bvh").write_text("old bvh")
    targets = {k: tmp_path / f"clip.{k}" for k in ("bvh", "glb")}
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith("clip.glb"):
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(ExportError, match="clip.glb: cannot write .*no output of this conversion was kept"):
        with atomic_paths(targets) as staged:
            for key, path in staged.items():
                path.write_text(f"new {key}")
    assert _names(tmp_path) == ["clip.bvh"]
    assert (tmp_path / "clip.bvh").read_text() == "old bvh"


def test_a_new_folder_is_removed_again_on_failure(tmp_path):
    targets = {"bvh": tmp_path / "new" / "deeper" / "clip.bvh"}
    with pytest.raises(ExportError):
        with atomic_paths(targets):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert _names(tmp_path) == []


def test_read_only_folder(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    targets = {"bvh": tmp_path / "clip.bvh", "glb": folder / "clip.glb"}
    if os.geteuid() != 0:
        folder.chmod(0o555)
    else:  # root writes anywhere: make the OS call fail as it would for a user
        import tempfile

        real = tempfile.mkstemp

        def mkstemp(*args, dir=None, **kwargs):
            if Path(dir) == folder:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    try:
        with pytest.raises(ExportError, match=r"ro/clip.glb: cannot write here \(Permission denied\)"):
            with atomic_paths(targets):
                pass
    finally:
        folder.chmod(0o755)
    assert _names(tmp_path) == ["ro"] and _names(folder) == []


@pytest.mark.blender
def test_a_folder_where_the_fbx_should_go_fails_before_any_work(tmp_path):
    (tmp_path / "out" / "clip.fbx").mkdir(parents=True)
    result = runner.invoke(
        app, ["convert", str(SAMPLE), "-f", "bvh,fbx,glb", "-o", str(tmp_path / "out" / "clip"), "-q"]
    )
    assert result.exit_code == 5, result.output
    assert result.stderr == f"error: {tmp_path / 'out' / 'clip.fbx'}: is a folder, cannot write a file there\n"
    assert _names(tmp_path / "out") == ["clip.fbx"]


@pytest.mark.blender
def test_blender_exporter_error_leaves_nothing(tmp_path, monkeypatch):
    from motion_fixtures import load_canonical_motion

    from mocap.export import blender_job
    from mocap.pipeline import ConvertOptions, write_outputs

    def refuse(fmt, output):
        raise blender_job.JobError(f"Blender's {fmt} exporter returned ['CANCELLED']")

    monkeypatch.setattr(blender_job, "export", refuse)
    motion = load_canonical_motion(n_frames=5)
    paths = {k: tmp_path / f"clip.{k}" for k in ("bvh", "fbx")}
    with pytest.raises(ExportError) as info:
        write_outputs(motion, paths, ConvertOptions(formats=("bvh", "fbx")))
    assert str(info.value).startswith(f"{paths['fbx']}: Blender could not export FBX")
    assert "\n" not in str(info.value)
    assert _names(tmp_path) == []


def _limit_file_size(limit_bytes: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


@pytest.mark.mediapipe
@pytest.mark.blender
def test_full_disk_on_the_second_format_exits_5_and_leaves_nothing(tmp_path, cache_dir):
    exe = Path(sys.executable).parent / "mocap"
    env = dict(os.environ, MOCAP_CACHE_DIR=str(cache_dir))
    # Warm the landmark cache and learn the sizes without a limit.
    full = tmp_path / "full"
    proc = subprocess.run([str(exe), "convert", str(SAMPLE), "-f", "bvh,glb", "-o", str(full / "clip"), "-q"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    bvh_size, glb_size = (full / "clip.bvh").stat().st_size, (full / "clip.glb").stat().st_size
    assert glb_size > bvh_size
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [str(exe), "convert", str(SAMPLE), "-f", "bvh,glb", "-o", str(out / "clip"), "-q"],
        capture_output=True, text=True, env=env, timeout=300, preexec_fn=_limit_file_size(bvh_size + 1024),
    )
    assert proc.returncode == 5, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {out / 'clip.glb'}:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert _names(out) == []
