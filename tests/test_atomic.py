"""Atomic output: all or nothing, with ordinary file permissions."""

import os
import stat

import pytest

from mocap.atomic import atomic_path


def test_success_renames_into_place_with_umask_permissions(tmp_path):
    target = tmp_path / "clip.bvh"
    with atomic_path(target) as tmp:
        tmp.write_text("HIERARCHY\n")
    assert target.read_text() == "HIERARCHY\n"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["clip.bvh"]


def test_failure_leaves_nothing_and_keeps_an_old_file(tmp_path):
    target = tmp_path / "clip.bvh"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a fi")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.bvh"]


def test_an_interrupt_during_the_commit_keeps_every_file_or_none(tmp_path, monkeypatch):
    """Ctrl-C arriving between two renames of one conversion's files (bvh renamed, fbx not
    yet) must not keep only some formats: the commit finishes, then the interrupt comes."""
    import signal

    import mocap.atomic
    from mocap.atomic import atomic_paths

    targets = {fmt: tmp_path / f"clip.{fmt}" for fmt in ("bvh", "fbx", "json")}
    real_replace = os.replace
    calls = []

    def interrupted_replace(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            signal.raise_signal(signal.SIGINT)  # the user presses Ctrl-C right now
        real_replace(src, dst)

    monkeypatch.setattr(mocap.atomic.os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        with atomic_paths(targets) as staged:
            for fmt, path in staged.items():
                path.write_text(fmt)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"clip.bvh": "bvh", "clip.fbx": "fbx", "clip.json": "json"}
