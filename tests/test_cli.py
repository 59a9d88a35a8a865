"""The `mocap` command, through typer's CliRunner and as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mocap import __version__
from mocap.bvh import read_bvh
from mocap.cli import app

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "squats.mp4"
runner = CliRunner()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("landmark-cache")


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"mocap {__version__}"


def test_info_reports_the_sample():
    result = runner.invoke(app, ["info", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "720 x 1280" in result.stdout
    assert "5.000 fps" in result.stdout
    assert "frames:      65" in result.stdout


@pytest.mark.mediapipe
def test_convert_writes_a_bvh_that_reads_back(tmp_path, cache_dir):
    out = tmp_path / "squats.bvh"
    result = runner.invoke(app, ["convert", str(SAMPLE), "-o", str(out), "--cache-dir", str(cache_dir)])
    assert result.exit_code == 0, result.output
    motion = read_bvh(out, units="cm")
    assert motion.n_frames == 65
    assert motion.fps == pytest.approx(5.0)
    assert motion.skeleton.names[0] == "Hips"
    assert "LeftToeBase" in motion.skeleton.names
    # Summary goes to stderr with the detection rate and where the file went.
    assert "65/65" in result.stderr and str(out) in result.stderr.replace("\n", "")
    # medium is 4 Hz; a 5 fps clip can hold nothing above 2.5 Hz: the summary says so
    flat = " ".join(result.stderr.split())
    assert "warning Smoothing: the cut-off (4 Hz) is not below half the frame rate (2.5 Hz at 5 fps)" in flat


@pytest.mark.mediapipe
def test_convert_options_trim_units_order(tmp_path, cache_dir):
    out = tmp_path / "trim"
    args = ["convert", str(SAMPLE), "-o", str(out), "--start", "2", "--end", "6", "--units", "m",
            "--rotation-order", "xyz", "--smoothing", "3hz", "--cache-dir", str(cache_dir), "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "trim.bvh").read_text()
    assert "CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation" in text
    motion = read_bvh(tmp_path / "trim.bvh", units="m")
    assert motion.n_frames == 20  # 4 s at 5 fps: frames at 2.0, 2.2, ..., 5.8
    # metres: the hips are about a metre above the floor, not a hundred
    assert 0.3 < np.median(motion.root_position_m[:, 1]) < 1.5


@pytest.mark.mediapipe
def test_convert_with_learned_depth(tmp_path, cache_dir):
    """--depth learned runs the lifter (mocap/lift.py) and gives a motion of the same shape
    whose pose differs from the default's."""
    outs = {}
    for depth in ("blazepose", "learned"):
        out = tmp_path / f"{depth}.bvh"
        result = runner.invoke(app, ["convert", str(SAMPLE), "-o", str(out), "--depth", depth,
                                     "--cache-dir", str(cache_dir), "-q"])
        assert result.exit_code == 0, result.output
        outs[depth] = read_bvh(out, units="cm")
    a, b = outs["blazepose"], outs["learned"]
    assert a.n_frames == b.n_frames == 65 and a.skeleton.names == b.skeleton.names
    assert np.isfinite(b.rotations_xyzw).all()
    assert not np.allclose(a.rotations_xyzw, b.rotations_xyzw, atol=1e-3)


def test_missing_file_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["convert", str(tmp_path / "nope.mp4")])
    assert result.exit_code == 2
    assert "nope.mp4" in result.output


def test_not_a_video_fails_in_one_line_and_writes_nothing(tmp_path, cache_dir):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("this is not a video\n")
    result = runner.invoke(app, ["convert", str(bogus), "--cache-dir", str(cache_dir)])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "notes.mp4" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "obj"], "unknown format"),
        (["--smoothing", "silky"], "cut-off frequency"),
        (["--rotation-order", "XXY"], "permutation of XYZ"),
        (["--start", "5", "--end", "2"], "must be after"),
        (["--depth", "stereo"], "'stereo' is not one of"),
        # at or above half the output rate a cut-off cannot be met (the clip's own rate: a warning)
        (["--fps", "30", "--smoothing", "15"], "--smoothing: '15': the cut-off frequency must be below half the "
                                               "frame rate (--fps 30: below 15 Hz)"),
        (["--smoothing", "nan"], "must be a finite number of Hz"),
        (["--smoothing", "inf"], "must be a finite number of Hz"),
        (["--person", "somebody"], "--person: 'somebody'"),
    ],
)
def test_bad_options_are_rejected_before_any_work(args, message):
    result = runner.invoke(app, ["convert", str(SAMPLE), *args])
    assert result.exit_code == 2
    flat = " ".join(result.output.replace("│", " ").split())  # typer boxes and wraps the message
    assert message in flat


@pytest.mark.mediapipe
def test_no_person_exits_4_and_writes_nothing(tmp_path, cache_dir):
    from conftest import write_test_video

    frames = [np.full((240, 320, 3), 90, np.uint8) for _ in range(12)]
    video = write_test_video(tmp_path / "empty_room.mp4", frames, fps=12)
    result = runner.invoke(app, ["convert", str(video), "--cache-dir", str(cache_dir), "-q"])
    assert result.exit_code == 4, result.output
    assert "empty_room" in result.stderr and "0 of 12 frames" in result.stderr
    assert not (tmp_path / "empty_room.bvh").exists()


@pytest.mark.mediapipe
@pytest.mark.blender
def test_subprocess_convert(tmp_path, cache_dir):
    exe = Path(sys.executable).parent / "mocap"
    out = tmp_path / "sub.bvh"
    env = dict(os.environ, MOCAP_CACHE_DIR=str(cache_dir))
    env.pop("MOCAP_NATIVE_LOGS", None)
    proc = subprocess.run(
        [str(exe), "convert", str(SAMPLE), "-o", str(out), "-f", "bvh,fbx,glb"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("HIERARCHY")
    assert "Frame Time: 0.2" in out.read_text()
    # Nothing on stdout (Blender's exporters print there), and no MediaPipe/TFLite log lines.
    assert proc.stdout == ""
    assert "XNNPACK" not in proc.stderr and "W0000" not in proc.stderr
    assert str(tmp_path / "sub.fbx") in proc.stderr


@pytest.mark.parametrize(
    "out, expected",
    [
        (None, "videos/dance.bvh"),
        ("new/", "new/dance.bvh"),  # a folder that does not exist yet
        ("existing", "existing/dance.bvh"),
        ("renamed.bvh", "renamed.bvh"),
        ("take2", "take2.bvh"),
        ("take3.usdc", "take3.bvh"),
    ],
)
def test_output_paths(tmp_path, monkeypatch, out, expected):
    from mocap.pipeline import output_paths

    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing").mkdir()
    paths = output_paths(Path("videos/dance.mp4"), out, ("bvh", "fbx", "usd", "usda"))
    assert paths["bvh"] == Path(expected)
    assert paths["fbx"] == Path(expected).with_suffix(".fbx")
    assert paths["usd"] == Path(expected).with_suffix(".usdc")  # binary USD
    assert paths["usda"] == Path(expected).with_suffix(".usda")


@pytest.mark.mediapipe
@pytest.mark.blender
def test_convert_every_format_with_a_rig_preset(tmp_path, cache_dir):
    out = tmp_path / "new" / ""
    args = ["convert", str(SAMPLE), "-o", str(out) + "/", "--format", "bvh,fbx,glb,usd,usda", "--rig", "ue5",
            "--cache-dir", str(cache_dir), "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "new").iterdir())
    assert written == ["squats.bvh", "squats.camera.json", "squats.contacts.json", "squats.fbx", "squats.glb",
                       "squats.usda", "squats.usdc"]
    assert (tmp_path / "new" / "squats.usdc").read_bytes()[:8] == b"PXR-USDC"
    assert (tmp_path / "new" / "squats.usda").read_bytes()[:5] == b"#usda"
    text = (tmp_path / "new" / "squats.bvh").read_text()
    assert "ROOT pelvis" in text and "JOINT thigh_l" in text  # UE5 names in the BVH too
    assert (tmp_path / "new" / "squats.fbx").read_bytes()[:18] == b"Kaydara FBX Binary"
    assert (tmp_path / "new" / "squats.glb").read_bytes()[:4] == b"glTF"


def test_unknown_rig_is_rejected_before_any_work():
    result = runner.invoke(app, ["convert", str(SAMPLE), "--rig", "maya"])
    assert result.exit_code == 2
    flat = " ".join(result.output.replace("│", " ").split())
    assert "mixamo" in flat and "ue5" in flat


@pytest.mark.mediapipe
def test_convert_with_hands_adds_fingers_and_keeps_the_body(tmp_path, cache_dir):
    """--hands adds the 30 finger joints; every body joint keeps its channels except the
    hands (oriented by the hand model); without --hands the file has no fingers."""
    plain, hands = tmp_path / "plain.bvh", tmp_path / "hands.bvh"
    base = ["convert", str(SAMPLE), "--end", "4", "--cache-dir", str(cache_dir), "-q"]
    assert runner.invoke(app, [*base, "-o", str(plain)]).exit_code == 0
    result = runner.invoke(app, [*base, "-o", str(hands), "--hands", "--rig", "ue5"])
    assert result.exit_code == 0, result.output
    a, b = read_bvh(plain, units="cm"), read_bvh(hands, units="cm")
    assert not any("Thumb" in n for n in a.skeleton.names)
    assert len(b.skeleton.names) == len(a.skeleton.names) + 30
    assert "thumb_01_l" in b.skeleton.names and "pinky_03_r" in b.skeleton.names
    assert a.n_frames == b.n_frames == 20
    assert np.isfinite(b.rotations_xyzw).all()
    assert "hands" in runner.invoke(app, [*base[:-1], "-o", str(hands), "--hands"]).stderr  # the summary says how often


@pytest.mark.mediapipe
def test_convert_with_matte_writes_one_matte_frame_per_frame(tmp_path, cache_dir):
    import av

    out = tmp_path / "squats"
    result = runner.invoke(app, ["convert", str(SAMPLE), "--end", "3", "-o", str(out), "--matte", "--cache-dir", str(cache_dir)])
    assert result.exit_code == 0, result.output
    matte = tmp_path / "squats.matte.mkv"
    assert str(matte) in result.stderr.replace("\n", "")
    with av.open(str(matte)) as container:
        frames = [f.to_ndarray() for f in container.decode(video=0)]
    assert len(frames) == read_bvh(tmp_path / "squats.bvh", units="cm").n_frames == 15
    assert frames[0].shape == (1280, 720) and frames[0].dtype == np.uint8
    assert 0.02 < np.mean([f.mean() / 255 for f in frames]) < 0.6  # a person, not all or nothing
