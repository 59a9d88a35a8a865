"""The preview: frame-accurate, drawn with the solver's camera, from memory and from files.

Frame accuracy is checked on a video made here: every source frame carries its own index as a
6-bit bar code, and a two-joint "skeleton" moves 6 px to the right per motion frame. In every
preview frame the bar code (which source frame is shown) and the drawn skeleton's position
(which motion frame is drawn) must agree, for a trimmed start and for irregular timestamps.
The camera pose is checked against the solver: with foot locking off, the exported hips
re-projected through CameraPose land on the image's hip landmarks.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import write_test_video
from mocap.camera import Camera, CameraPose
from mocap.cli import app
from mocap.preview import PreviewMotion, read_camera_file, render_preview
from mocap.video import probe_video

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "squats.mp4"
W, H = 320, 240
BITS = 6
runner = CliRunner()


def barcode_video(path: Path, n: int, fps: int = 25, pts: list[int] | None = None) -> Path:
    """n grey frames; frame i has i as 6 bars (white = 1) along the bottom 20 rows."""
    frames = []
    for i in range(n):
        rgb = np.full((H, W, 3), 60, np.uint8)
        for b in range(BITS):
            if (i >> b) & 1:
                rgb[H - 20:, b * 40 + 5: b * 40 + 35] = 255
        frames.append(rgb)
    return write_test_video(path, frames, fps=fps, pts=pts, time_base_den=1000 if pts else None)


def read_barcode(left: np.ndarray) -> int:
    row = left[H - 10, :, :].mean(axis=-1)
    return sum(1 << b for b in range(BITS) if row[b * 40 + 20] > 160)


# A camera 5 m in front of the origin, looking at it (-Z), level: world (x, 1, 0) is seen at
# u = cx + f x / 5, v = cy (the camera's own height is 1 m).
CAMERA = Camera.from_fov(W, H, 60.0)
POSE = CameraPose.look_at(np.array([0.0, 1.0, 5.0]), np.array([0.0, 1.0, 0.0]))
U0_PX, STEP_PX = 40.0, 6.0


def sliding_take(n: int, fps: float, start_time_s: float) -> PreviewMotion:
    """A vertical 'bone' (Hips at height 0.8 m, Head at 1.2 m) at u = U0 + STEP * k on frame k."""
    u = U0_PX + STEP_PX * np.arange(n)
    x = (u - CAMERA.cx_px) * 5.0 / CAMERA.focal_px
    joints = np.zeros((n, 2, 3))
    joints[:, :, 0] = x[:, None]
    joints[:, 0, 1], joints[:, 1, 1] = 0.8, 1.2
    return PreviewMotion(("Hips", "Head"), (-1, 0), joints, fps, start_time_s)


def decode(path: Path) -> list[tuple[float, np.ndarray]]:
    import av

    with av.open(str(path)) as c:
        return [(float(f.time), f.to_ndarray(format="rgb24")) for f in c.decode(c.streams.video[0])]


def drawn_u(left: np.ndarray) -> float:
    """Mean column of the yellow skeleton pixels (red and green high, blue low) above the bars."""
    img = left[30: H - 25].astype(int)
    mask = (img[..., 0] > 180) & (img[..., 1] > 170) & (img[..., 2] < 140)
    assert mask.sum() > 20, "no skeleton drawn"
    return float(np.nonzero(mask)[1].mean())


@pytest.mark.parametrize("irregular", [False, True])
def test_every_frame_shows_its_own_motion_frame(tmp_path: Path, irregular: bool) -> None:
    n_video, first, n_motion, fps = 40, 10, 20, 25
    pts = None
    if irregular:  # a phone's variable rate: steps of 30, 50 and 40 ms
        pts = list(np.cumsum([0] + [30, 50, 40] * 13)[:n_video])
    video = barcode_video(tmp_path / "bars.mp4", n_video, fps=fps, pts=pts)
    info = probe_video(video)
    times = [p / 1000 for p in pts] if irregular else [i / fps for i in range(n_video)]
    # the motion starts on source frame `first` and runs at a constant rate
    take = sliding_take(n_motion, fps, times[first])
    result = render_preview(info, take, CAMERA, POSE, tmp_path / "p.mp4", height_px=H, n_thumbnails=3)
    frames = decode(result.path)
    end_s = times[first] + (n_motion - 0.5) / fps
    expected_sources = [i for i, t in enumerate(times) if times[first] - 0.5 / fps <= t < end_s]
    assert result.n_frames == len(frames) == len(expected_sources)
    for (time_s, rgb), source in zip(frames, expected_sources):
        left = rgb[:, :W]
        assert read_barcode(left) == source
        assert time_s == pytest.approx(times[source] - times[expected_sources[0]], abs=1e-3)
        k = min(n_motion - 1, round((times[source] - times[first]) * fps))
        assert drawn_u(left) == pytest.approx(U0_PX + STEP_PX * k, abs=1.5), f"source frame {source}"
    assert [k for k, _ in result.thumbnails] == [0, 10, 19] or irregular
    assert all(im.shape[1] == 480 for _, im in result.thumbnails)


@pytest.mark.parametrize("irregular", [False, True])
@pytest.mark.parametrize("motion_fps", [10.0, 12.0, 20.0])
def test_a_resampled_take_shows_every_source_frame(tmp_path: Path, irregular: bool, motion_fps: float) -> None:
    """--fps (or a variable rate) resamples the motion: its last frame may fall up to one
    motion frame before the last source frame. Every source frame converted is still drawn,
    each with the nearest motion frame."""
    n_video, first, last = 40, 3, 36
    pts = list(np.cumsum([0] + [30, 50, 40] * 13)[:n_video]) if irregular else None
    video = barcode_video(tmp_path / "bars.mp4", n_video, fps=25, pts=pts)
    times = [p / 1000 for p in pts] if irregular else [i / 25 for i in range(n_video)]
    n_motion = int(np.floor((times[last] - times[first]) * motion_fps + 1e-6)) + 1  # mocap.timeline's grid
    take = replace(sliding_take(n_motion, motion_fps, times[first]), source_span_s=(times[first], times[last]))
    result = render_preview(probe_video(video), take, CAMERA, POSE, tmp_path / "p.mp4", height_px=H, n_thumbnails=0)
    frames = decode(result.path)
    assert [read_barcode(rgb[:, :W]) for _, rgb in frames] == list(range(first, last + 1))
    for (_, rgb), source in zip(frames, range(first, last + 1)):
        k = min(n_motion - 1, round((times[source] - times[first]) * motion_fps))
        assert drawn_u(rgb[:, :W]) == pytest.approx(U0_PX + STEP_PX * k, abs=1.5), f"source frame {source}"


@pytest.mark.mediapipe
def test_cli_preview_with_fps_and_from_json_shows_every_source_frame(tmp_path: Path, cache_dir: Path) -> None:
    """convert --fps 2 of the 5 fps squats sample (65 frames, 12.8 s; the motion's 26 frames
    end at 12.5 s): its preview, and `mocap preview` from the BVH and from the add-on's JSON
    motion file, show all 65 source frames and agree with each other."""
    out = tmp_path / "take"
    result = runner.invoke(app, ["convert", str(SAMPLE), "-o", str(out), "-f", "bvh,json", "--fps", "2",
                                 "--preview", "--cache-dir", str(cache_dir), "-q"])
    assert result.exit_code == 0, result.output
    info = probe_video(SAMPLE)
    assert read_camera_file(tmp_path / "take.camera.json").frame_count == 26
    in_memory = decode(tmp_path / "take.preview.mp4")
    assert len(in_memory) == info.frame_count == 65
    for motion_file in ("take.bvh", "take.json"):
        again = runner.invoke(app, ["preview", str(SAMPLE), str(tmp_path / motion_file), "-o",
                                    str(tmp_path / f"{motion_file}.mp4"), "-q"])
        assert again.exit_code == 0, again.output
        from_file = decode(tmp_path / f"{motion_file}.mp4")
        assert len(from_file) == 65, motion_file
        diff = [np.abs(a[1].astype(int) - b[1].astype(int)).mean() for a, b in zip(in_memory, from_file)]
        assert max(diff) < 0.5, motion_file


@pytest.mark.mediapipe
def test_no_output_may_overwrite_an_input_or_another_output(tmp_path: Path, cache_dir: Path) -> None:
    """`mocap preview -o VIDEO` replaced the source video with the preview, `-o take.bvh` the
    motion, and `convert --report VIDEO` (or a report on one of the outputs) the same: each is
    now a one-line usage error before any work, the files untouched. `-o` must be an .mp4 or
    a folder (existing, or with a trailing /), as for convert."""
    import hashlib
    import shutil

    video = shutil.copy(SAMPLE, tmp_path / "v.mp4")
    result = runner.invoke(app, ["convert", str(video), "-o", str(tmp_path / "take"), "-f", "bvh,json",
                                 "--cache-dir", str(cache_dir), "-q"])
    assert result.exit_code == 0, result.output
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    for out, problem in ((video, "is an input"), (tmp_path / "take.bvh", "ending in .mp4"),
                         (tmp_path / "take.camera.json", "ending in .mp4"), (tmp_path / "p.avi", "ending in .mp4")):
        bad = runner.invoke(app, ["preview", str(video), str(tmp_path / "take.bvh"), "-o", str(out)])
        assert bad.exit_code == 2 and problem in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.output
    for args, problem in (([], "is an input"), (["-o", str(tmp_path / "x"), "--report", str(tmp_path / "x.bvh")], "both"),
                          (["-o", str(tmp_path / "y"), "-f", "json", "--report", str(tmp_path / "y.camera.json")], "both")):
        report = args[-1] if args else str(video)
        bad = runner.invoke(app, ["convert", str(video), *args[:-2], *(args[-2:] if args else ["--report", report]),
                                  "--cache-dir", str(cache_dir), "-q"])
        assert bad.exit_code == 2 and problem in bad.stderr, bad.output
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()} == digest
    folder = runner.invoke(app, ["preview", str(video), str(tmp_path / "take.json"), "-o", f"{tmp_path / 'previews'}/", "-q"])
    assert folder.exit_code == 0, folder.output
    assert [p.name for p in (tmp_path / "previews").iterdir()] == ["take.preview.mp4"]


def test_failed_preview_leaves_no_file(tmp_path: Path) -> None:
    from mocap.errors import ExportError

    video = barcode_video(tmp_path / "bars.mp4", 5)
    folder = tmp_path / "p.mp4"
    folder.mkdir()  # the target is a folder: cannot be replaced by a file
    with pytest.raises(ExportError):
        render_preview(probe_video(video), sliding_take(5, 25, 0.0), CAMERA, POSE, folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bars.mp4", "p.mp4"]


def test_solver_camera_pose_reprojects_the_hips() -> None:
    """solve_full's CameraPose takes the exported root back to where the solver's camera saw
    the hips (root.path_m): exactly across the image; within settle_on_floor's height
    correction (a few cm) up and down. And it lands on the image's hip landmarks."""
    from motion_fixtures import WALK
    from synth import landmarks_from_bvh

    from mocap.camera import cv_from_internal
    from mocap.kinematics import joint_positions
    from mocap.smooth import smooth_tracks
    from mocap.solve import MotionConfig, solve_full

    if not WALK.is_file():
        pytest.skip(f"test data not found at {WALK}")
    tracks, truth = landmarks_from_bvh(WALK, fps=30, noise_m=0.005, end_s=3.0)
    w, h = tracks.image_size_px
    camera = Camera.from_K(truth["camera_K"], w, h)
    result = solve_full(smooth_tracks(tracks), camera, MotionConfig(foot_lock="off"))
    hips = joint_positions(result.motion)[:, result.motion.skeleton.index("Hips")]
    px = camera.project(result.camera_pose.cv_from_world(hips))
    seen_by_solver = camera.project(cv_from_internal(result.root.path_m))
    assert np.abs(px[:, 0] - seen_by_solver[:, 0]).max() < 0.05
    assert np.abs(px[:, 1] - seen_by_solver[:, 1]).max() < 6.0
    image_hips = 0.5 * (tracks.image("left_hip") + tracks.image("right_hip"))
    assert np.median(np.abs(px[:, 0] - image_hips[:, 0])) < 1.0


@pytest.mark.mediapipe
@pytest.mark.blender
@pytest.mark.parametrize("fmt", ["bvh", "fbx", "glb", "usd"])
def test_cli_convert_preview_then_preview_from_files(tmp_path: Path, cache_dir: Path, fmt: str) -> None:
    out = tmp_path / "take"
    result = runner.invoke(app, ["convert", str(SAMPLE), "-o", str(out), "-f", f"bvh,{fmt}", "--rig", "ue5",
                                 "--preview", "--cache-dir", str(cache_dir), "-q"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    written = {"bvh": "take.bvh", "fbx": "take.fbx", "glb": "take.glb", "usd": "take.usdc"}
    assert names == sorted({"take.bvh", written[fmt], "take.camera.json", "take.contacts.json", "take.preview.mp4"})
    sidecar = read_camera_file(tmp_path / "take.camera.json")
    info = probe_video(SAMPLE)
    assert (sidecar.camera.width_px, sidecar.camera.height_px) == (info.width_px, info.height_px)
    in_memory = decode(tmp_path / "take.preview.mp4")
    assert len(in_memory) == info.frame_count

    again = runner.invoke(app, ["preview", str(SAMPLE), str(tmp_path / written[fmt]), "-o", str(tmp_path / "again.mp4"), "-q"])
    assert again.exit_code == 0, again.output
    from_files = decode(tmp_path / "again.mp4")
    assert len(from_files) == len(in_memory)
    # the file holds the same motion (every format within 1 cm): the two previews agree
    diff = [np.abs(a[1].astype(int) - b[1].astype(int)).mean() for a, b in zip(in_memory, from_files)]
    # measured: 0.001 (BVH) to 0.04 (GLB); a misplaced skeleton gives several. With planted feet
    # held from frame 0 (issue 9) the UE5 FBX take of this sample measures 0.04-0.07, 0.32 on one
    # frame, while its joints match the motion to 0.00 cm (the difference is in the drawing).
    assert max(diff) < 0.5


def test_cli_preview_without_camera_file_fails_cleanly(tmp_path: Path) -> None:
    bvh = tmp_path / "take.bvh"
    bvh.write_text("HIERARCHY\n")
    result = runner.invoke(app, ["preview", str(SAMPLE), str(bvh), "-o", str(tmp_path / "p.mp4")])
    assert result.exit_code == 2
    assert "take.camera.json: camera file not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p.mp4").exists()


@pytest.fixture
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    shared = os.environ.get("MOCAP_CACHE_DIR")
    return Path(shared) if shared else tmp_path_factory.mktemp("cache")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))


@pytest.mark.mediapipe
def test_a_failed_preview_or_report_leaves_no_output_of_the_run(tmp_path: Path, cache_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The preview and the report are committed with the motion files, or nothing is."""
    import mocap.preview.render as render_module
    from mocap.errors import ExportError
    from mocap.pipeline import ConvertOptions, convert

    (tmp_path / "report.html").mkdir()  # a folder where the report should go: refused before any work
    with pytest.raises(ExportError, match="report.html: is a folder"):
        convert(SAMPLE, tmp_path / "take", ConvertOptions(cache_dir=cache_dir, report_path=tmp_path / "report.html"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]

    def broken(*args, **kwargs):
        raise ExportError("preview.mp4: disk full")

    monkeypatch.setattr(render_module, "render_preview", broken)
    with pytest.raises(ExportError, match="disk full"):
        convert(SAMPLE, tmp_path / "take", ConvertOptions(cache_dir=cache_dir, preview=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
