"""The typed, versioned job that crosses to Blender (mocap/export/blender_schema.py), checked
on mocap's side (construction) and on Blender's (blender_job.py reading the JSON), without bpy."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from motion_fixtures import load_canonical_motion

from mocap.export import blender_job
from mocap.export.blender_schema import SCHEMA, VERSION, Bone, Job, Scene, SchemaError
from mocap.export.scene import scene_from_motion

JOB_SCRIPT = Path(blender_job.__file__)


@pytest.fixture(scope="module")
def scene(shared_data) -> Scene:
    return scene_from_motion(load_canonical_motion(n_frames=12), "ue5")


def test_a_job_survives_json_and_comes_back_equal(scene, tmp_path):
    job = Job(scene, "fbx", str(tmp_path / "out.fbx"))
    data = json.loads(json.dumps(job.to_json()))
    assert data["schema"] == SCHEMA and data["version"] == VERSION
    back = Job.from_json(data)
    assert back == job
    assert back.scene.frame_end == back.scene.frame_start + back.scene.n_frames - 1
    # The UE5 preset's static root bone comes first and carries no translation; the hips do.
    assert back.scene.bones[0].name == "root" and back.scene.locations[0] is None
    assert back.scene.locations[1] is not None and len(back.scene.locations[1]) == 3 * scene.n_frames


def _broken(data: dict, path: tuple, value) -> dict:
    out = json.loads(json.dumps(data))
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("version",), 1, "version 1"),
        (("schema",), "something-else", "schema"),
        (("format",), "obj", "format 'obj'"),
        (("scene", "n_frames"), 0, "no frames"),
        (("scene", "fps"), -30.0, "fps"),
        (("scene", "bones", 2, "parent"), 5, "not an earlier bone"),
        (("scene", "bones", 1, "name"), "root", "share a name"),
        (("scene", "bones", 1, "head"), [0.0, 1.0], "head: expected 3 numbers"),
        (("scene", "rotations", 3), [1.0, 0.0, 0.0, 0.0], "rotations of"),
        (("scene", "locations", 1, 4), float("nan"), "not finite"),
        (("scene", "armature_name"), KeyError, "missing 'armature_name'"),
    ],
)
def test_blender_side_rejects_a_malformed_job_naming_the_field(scene, tmp_path, path, value, message):
    data = _broken(Job(scene, "glb", str(tmp_path / "x.glb")).to_json(), path, value)
    with pytest.raises(SchemaError, match=message):
        Job.from_json(data)


def test_mocap_side_refuses_to_build_a_bad_job(scene, tmp_path):
    with pytest.raises(SchemaError, match="format"):
        Job(scene, "obj", str(tmp_path / "x.obj"))
    with pytest.raises(SchemaError, match="rotations"):
        dataclasses.replace(scene, rotations=scene.rotations[:-1])
    with pytest.raises(SchemaError, match="rest_matrix"):
        Bone("Hips", -1, (0, 0, 1), (0, 0, 1.1), (0, -1, 0), (1.0, 0.0, 0.0))


def test_the_job_script_reads_the_schema_without_mocap_installed(scene, tmp_path):
    """A stand-alone Blender runs blender_job.py with no mocap on its path: the script finds
    blender_schema.py beside itself and rejects an old-version job before touching bpy."""
    job_path = tmp_path / "job.json"
    job_path.write_text(json.dumps(_broken(Job(scene, "fbx", str(tmp_path / "o.fbx")).to_json(), ("version",), 1)))
    # -S: no site-packages, so neither mocap nor numpy is importable (as in Blender's own Python).
    proc = subprocess.run([sys.executable, "-S", str(JOB_SCRIPT), "--", str(job_path)],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(blender_job.ERROR_TAG) and "SchemaError" in last and "version 1" in last
    assert not (tmp_path / "o.fbx").exists()


def test_scene_values_match_the_motion(scene):
    """Rotations are unit quaternions per frame; the hips' locations are finite metres."""
    for rot in scene.rotations:
        q = np.asarray(rot).reshape(-1, 4)
        assert np.allclose(np.linalg.norm(q, axis=1), 1.0)
    assert np.isfinite(np.asarray(scene.locations[1])).all()
