"""Tests for mocap.video: probing, decoding, rotation, trimming and bad input."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from mocap.data import VideoInfo
from mocap.errors import InputError
from mocap.video import count_frames_in_range, probe_video, read_frames


def _pattern(height: int, width: int, value: int = 0) -> np.ndarray:
    """A dark (H, W, 3) frame with one bright block in its top-left corner."""
    img = np.full((height, width, 3), value, np.uint8)
    img[: height // 4, : width // 4] = 255
    return img


def _bright_corner(rgb: np.ndarray) -> str:
    """Which quarter-size corner of a frame holds the bright block."""
    h, w = rgb.shape[:2]
    corners = {
        "top-left": rgb[: h // 4, : w // 4],
        "top-right": rgb[: h // 4, -(w // 4):],
        "bottom-left": rgb[-(h // 4):, : w // 4],
        "bottom-right": rgb[-(h // 4):, -(w // 4):],
    }
    means = {name: float(c.mean()) for name, c in corners.items()}
    best = max(means, key=means.get)
    assert means[best] > 200 and sorted(means.values())[-2] < 50, means
    return best


# --- real clips ----------------------------------------------------------------------------

REAL_EXPECTED = {
    # file: (W, H, fps, frames)
    "squats_woman_tfjs.mp4": (720, 1280, 5.0, 65),
    "taiji_man_hybrik.mp4": (1280, 720, 24000 / 1001, 412),
    "street_crowd_openpose.avi": (1280, 720, 50.0, 205),
    "two_people_3dpw_mmhuman3d.mp4": (1080, 1920, 12.0, 40),
    "dance_arms_woman_tfjs.mp4": (576, 576, 30.0, 120),
}


@pytest.mark.parametrize("name", sorted(REAL_EXPECTED))
def test_probe_real_clips(shared_data: Path, name: str) -> None:
    path = shared_data / "real" / name
    info = probe_video(path)
    width, height, fps, frames = REAL_EXPECTED[name]
    assert (info.width_px, info.height_px) == (width, height)
    assert info.fps == pytest.approx(fps, rel=1e-9)
    assert info.frame_count == frames
    assert info.duration_s == pytest.approx(frames / fps, abs=0.05)
    assert info.rotation_deg == 0 and not info.variable_frame_rate
    assert info.codec == "h264"
    assert info.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["squats_woman_tfjs.mp4", "street_crowd_openpose.avi"])
def test_read_all_frames_real(shared_data: Path, name: str) -> None:
    info = probe_video(shared_data / "real" / name)
    frames = list(read_frames(info))
    assert len(frames) == info.frame_count == count_frames_in_range(info)
    assert [f.index for f in frames] == list(range(info.frame_count))
    times = np.array([f.time_s for f in frames])
    assert times[0] == 0.0
    np.testing.assert_allclose(np.diff(times), 1.0 / info.fps, rtol=1e-6)
    for f in frames[:: max(1, len(frames) // 5)]:
        assert f.rgb.shape == (info.height_px, info.width_px, 3)
        assert f.rgb.dtype == np.uint8 and f.rgb.flags.c_contiguous
        assert 10 < f.rgb.mean() < 245  # real picture, not a blank frame


def test_trim_matches_full_decode(shared_data: Path) -> None:
    info = probe_video(shared_data / "real" / "squats_woman_tfjs.mp4")
    full = {f.index: f for f in read_frames(info)}
    part = list(read_frames(info, start_s=7.1, end_s=9.0))
    # 5 fps: frames at 7.2, 7.4, ..., 8.8 s (half-open range)
    assert [f.index for f in part] == list(range(36, 45))
    assert count_frames_in_range(info, 7.1, 9.0) == len(part) == 9
    for f in part:
        assert f.time_s == pytest.approx(full[f.index].time_s)
        np.testing.assert_array_equal(f.rgb, full[f.index].rgb)  # the seek landed right
    exact = list(read_frames(info, start_s=7.2, end_s=7.6))
    assert [f.index for f in exact] == [36, 37]
    assert count_frames_in_range(info, 12.0, None) == 5
    assert count_frames_in_range(info, 20.0, 30.0) == 0
    assert list(read_frames(info, start_s=20.0)) == []


def test_trim_avi(shared_data: Path) -> None:
    info = probe_video(shared_data / "real" / "street_crowd_openpose.avi")
    part = list(read_frames(info, start_s=2.0, end_s=2.5))
    assert [f.index for f in part] == list(range(100, 125))
    assert count_frames_in_range(info, 2.0, 2.5) == 25


# --- made-up clips ---------------------------------------------------------------------------


@pytest.mark.parametrize("fps", [25, 60])
def test_fps_of_made_clips(make_video, fps: int) -> None:
    frames = [_pattern(48, 64, value=i * 8) for i in range(fps // 5 * 2)]
    info = probe_video(make_video(f"clip{fps}.mp4", frames, fps=fps))
    assert info.fps == pytest.approx(fps)
    assert info.frame_count == len(frames)
    assert not info.variable_frame_rate
    got = list(read_frames(info))
    assert len(got) == len(frames)
    np.testing.assert_allclose([f.time_s for f in got], np.arange(len(frames)) / fps, atol=1e-9)
    # content survives: the mean brightness ramps as encoded
    means = [float(f.rgb[24:, 32:].mean()) for f in got]
    np.testing.assert_allclose(means, [i * 8 for i in range(len(frames))], atol=3)


@pytest.mark.parametrize(
    ("ccw", "rotation_cw", "corner"),
    [
        (-90, 90, "top-right"),  # phone portrait (`rotate` tag 90): turn the image clockwise
        (90, 270, "bottom-left"),
        (180, 180, "bottom-right"),
    ],
)
def test_rotation_metadata(make_video, ccw: int, rotation_cw: int, corner: str) -> None:
    stored = [_pattern(64, 128) for _ in range(4)]  # landscape as stored, block top-left
    info = probe_video(make_video("rot.mp4", stored, fps=30, rotation_ccw_deg=ccw))
    assert info.rotation_deg == rotation_cw
    expected_wh = (64, 128) if rotation_cw in (90, 270) else (128, 64)
    assert (info.width_px, info.height_px) == expected_wh
    for frame in read_frames(info):
        assert frame.rgb.shape == (info.height_px, info.width_px, 3)
        assert _bright_corner(frame.rgb) == corner


@pytest.mark.parametrize("ccw", [0, -90, 180])
def test_frames_decoded_at_a_smaller_size_are_the_full_frames_scaled(make_video, ccw: int) -> None:
    """read_frames(size_px=...) scales in the decoder's RGB conversion (the preview's path):
    displayed orientation kept, and the picture matches the full frame scaled by OpenCV."""
    import cv2

    stored = [_pattern(64, 128) for _ in range(3)]
    info = probe_video(make_video("rot.mp4", stored, fps=30, rotation_ccw_deg=ccw))
    size = (info.width_px // 2, info.height_px // 2)
    for full, small in zip(read_frames(info), read_frames(info, size_px=size), strict=True):
        assert small.rgb.shape == (size[1], size[0], 3) and small.rgb.flags.c_contiguous
        assert (small.index, small.time_s) == (full.index, full.time_s)
        expected = cv2.resize(full.rgb, size, interpolation=cv2.INTER_AREA)
        assert np.abs(small.rgb.astype(int) - expected.astype(int)).mean() < 3.0


def test_unrotated_pattern_stays(make_video) -> None:
    info = probe_video(make_video("plain.mp4", [_pattern(64, 128)] * 3))
    assert info.rotation_deg == 0 and (info.width_px, info.height_px) == (128, 64)
    assert all(_bright_corner(f.rgb) == "top-left" for f in read_frames(info))


def test_variable_frame_rate_flagged(make_video) -> None:
    frames = [_pattern(48, 64, value=i * 10) for i in range(8)]
    pts_ms = [0, 40, 80, 200, 240, 280, 320, 360]  # a 120 ms hole
    info = probe_video(make_video("vfr.mp4", frames, pts=pts_ms, time_base_den=1000))
    assert info.variable_frame_rate
    assert info.frame_count == 8
    got = list(read_frames(info))
    np.testing.assert_allclose([f.time_s for f in got], np.array(pts_ms) / 1000, atol=1e-9)
    assert [f.index for f in got] == list(range(8))
    assert [f.index for f in read_frames(info, 0.1, 0.3)] == [3, 4, 5]


# --- bad input -----------------------------------------------------------------------------


def _assert_one_line_naming(exc: pytest.ExceptionInfo, path: Path) -> None:
    message = str(exc.value)
    assert str(path) in message and "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.mp4"
    with pytest.raises(InputError, match="not found") as exc:
        probe_video(path)
    _assert_one_line_naming(exc, path)


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(InputError) as exc:
        probe_video(path)
    _assert_one_line_naming(exc, path)


@pytest.mark.parametrize("content", [b"", bytes(range(256)) * 64])
def test_empty_or_garbage_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.mp4"
    path.write_bytes(content)
    with pytest.raises(InputError) as exc:
        probe_video(path)
    _assert_one_line_naming(exc, path)


@pytest.mark.parametrize("keep", [0.002, 0.3])
def test_truncated_real_file(shared_data: Path, tmp_path: Path, keep: float) -> None:
    data = (shared_data / "real" / "squats_woman_tfjs.mp4").read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(InputError) as exc:
        info = probe_video(path)
        list(read_frames(info))
    _assert_one_line_naming(exc, path)


def test_no_video_stream(tmp_path: Path) -> None:
    import av

    path = tmp_path / "sound.wav"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(InputError, match="no video stream") as exc:
        probe_video(path)
    _assert_one_line_naming(exc, path)


def test_import_is_light() -> None:
    """`import mocap.video` must not import PyAV."""
    import subprocess

    code = "import sys, mocap.video; assert 'av' not in sys.modules, 'av imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_videoinfo_roundtrip_fields(make_video) -> None:
    info = probe_video(make_video("a.mp4", [_pattern(32, 32)] * 2))
    assert isinstance(info, VideoInfo)
    copy = Path(info.path).with_name("b.mp4")
    shutil.copy(info.path, copy)
    assert probe_video(copy).content_hash == info.content_hash


def test_truncated_faststart_file(shared_data: Path, tmp_path: Path) -> None:
    """A cut-off MP4 whose index is at the front still opens; probing must notice the loss."""
    import av

    whole = tmp_path / "faststart.mp4"
    with av.open(str(shared_data / "real" / "squats_woman_tfjs.mp4")) as src:
        video = src.streams.video[0]
        with av.open(str(whole), mode="w", options={"movflags": "faststart"}) as out:
            stream = out.add_stream_from_template(video)
            for packet in src.demux(video):
                if packet.size:
                    packet.stream = stream
                    out.mux(packet)
    assert probe_video(whole).frame_count == 65  # the remux itself is fine
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.6)])
    with pytest.raises(InputError, match="truncated") as exc:
        probe_video(cut)
    _assert_one_line_naming(exc, cut)


def _mov_with_tags(path, tags: dict[str, str]):
    import av

    with av.open(str(path), "w", format="mov", options={"movflags": "use_metadata_tags"}) as container:
        container.metadata.update(tags)
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_focal_length_from_iphone_style_metadata_sets_the_camera(tmp_path):
    from mocap.camera import diagonal_fov_deg_from_focal_35mm
    from mocap.pipeline import ConvertOptions, camera_for

    tele = probe_video(_mov_with_tags(tmp_path / "tele.mov", {
        "com.apple.quicktime.camera.focal_length.35mm_equivalent": "52"}))
    plain = probe_video(_mov_with_tags(tmp_path / "plain.mov", {}))
    assert tele.focal_length_35mm_mm == 52.0
    assert plain.focal_length_35mm_mm is None

    class _Tracks:  # camera_for needs only the image size
        image_size_px = (64, 48)

    cam_tele = camera_for(_Tracks(), ConvertOptions(), tele)
    cam_plain = camera_for(_Tracks(), ConvertOptions(), plain)
    assert cam_tele.focal_px > 1.9 * cam_plain.focal_px  # 52 mm vs the 26 mm phone default
    expected = diagonal_fov_deg_from_focal_35mm(52.0)
    diag_px = np.hypot(64, 48)
    assert np.degrees(2 * np.arctan(0.5 * diag_px / cam_tele.focal_px)) == pytest.approx(expected, abs=0.01)
    # --fov overrides the file
    forced = camera_for(_Tracks(), ConvertOptions(fov_deg=60.0), tele)
    assert np.degrees(2 * np.arctan(0.5 * diag_px / forced.focal_px)) == pytest.approx(60.0, abs=0.01)
