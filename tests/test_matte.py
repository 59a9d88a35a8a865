"""The segmentation matte (`--matte`): temporal smoothing, and the video it writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mocap.data import Frame
from mocap.errors import DetectionError
from mocap.matte import MatteConfig, gaussian_weights, smooth_masks, write_matte

CLIP = "synthetic/dev_scifi_wave_front.mp4"  # CC0 character, with ground truth beside it


def _frames(values: list[float]) -> list[tuple[Frame, np.ndarray]]:
    return [(Frame(i, i / 30.0, np.zeros((1, 1, 3), np.uint8)), np.full((3, 4), v, np.float32)) for i, v in enumerate(values)]


def test_smoothing_keeps_every_frame_in_order_and_steadies_flicker() -> None:
    flicker = [float(i % 2) for i in range(20)]
    out = list(smooth_masks(_frames(flicker), 30.0, 0.05))
    assert [f.index for f, _ in out] == list(range(20))
    values = np.array([m[0, 0] for _, m in out])
    assert np.abs(np.diff(values[3:-3])).max() < 0.1  # 0/1 flicker becomes ~0.5
    assert np.abs(values[3:-3] - 0.5).max() < 0.05


def test_smoothing_keeps_a_steady_mask_and_zero_sigma_is_identity() -> None:
    steady = list(smooth_masks(_frames([0.7] * 7), 30.0, 0.05))
    assert all(np.allclose(m, 0.7) for _, m in steady)
    values = [0.0, 1.0, 0.2, 0.9]
    assert [float(m[0, 0]) for _, m in smooth_masks(_frames(values), 30.0, 0.0)] == pytest.approx(values)
    assert len(gaussian_weights(30.0, 0.0)) == 1


def test_smoothing_is_centred_so_an_edge_does_not_lag() -> None:
    step = [0.0] * 10 + [1.0] * 10
    values = np.array([m[0, 0] for _, m in smooth_masks(_frames(step), 30.0, 0.05)])
    assert values[9] == pytest.approx(1 - values[10], abs=1e-6)  # symmetric about the step


@pytest.mark.mediapipe
def test_matte_video_matches_the_input_and_covers_the_person(shared_data, tmp_path: Path) -> None:
    import av

    from mocap.video import count_frames_in_range, probe_video

    clip = shared_data / CLIP
    if not clip.is_file():
        pytest.skip(f"test data not found at {clip} (../shared/data)")
    info = probe_video(clip)
    out = write_matte(info, tmp_path / "wave.matte.mkv", end_s=1.0)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "ffv1" and stream.codec_context.pix_fmt == "gray"
        assert float(stream.average_rate) == pytest.approx(info.fps)
        frames = [f.to_ndarray() for f in container.decode(video=0)]
    assert len(frames) == count_frames_in_range(info, None, 1.0) == 30
    assert frames[0].shape == (info.height_px, info.width_px)
    # Against the rendered clip's ground truth: the projected joints lie inside the matte, and
    # the background (left and right quarters of the frame, where the figure never goes) is empty.
    uv = np.load(clip.with_suffix(".gt.npz"))["joints_2d"][: len(frames)]
    inside = [np.mean(m[np.round(p[:, 1]).astype(int), np.round(p[:, 0]).astype(int)] >= 128) for m, p in zip(frames, uv)]
    assert np.mean(inside) > 0.8
    w = info.width_px
    assert max(float(m[:, : w // 4].mean()) for m in frames) < 1.0  # of 255
    assert max(float(m[:, -w // 4 :].mean()) for m in frames) < 1.0


def test_unknown_source_fails_and_writes_nothing(tmp_path: Path) -> None:
    from mocap.video import probe_video

    sample = Path(__file__).resolve().parents[1] / "samples" / "squats.mp4"
    with pytest.raises(DetectionError, match="unknown matte source"):
        write_matte(probe_video(sample), tmp_path / "x.matte.mkv", MatteConfig(source="green-screen"))
    assert not (tmp_path / "x.matte.mkv").exists()
    assert list(tmp_path.iterdir()) == []
