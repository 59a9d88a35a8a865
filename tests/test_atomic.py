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
