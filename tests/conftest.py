"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to the shared test material (../shared/data beside the repo); skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (only present in the dev workspace)")
    return SHARED_DATA


def write_test_video(
    path: Path,
    frames_rgb: list,
    fps: int = 25,
    rotation_ccw_deg: int = 0,
    pts: list[int] | None = None,
    time_base_den: int | None = None,
) -> Path:
    """Encode (H, W, 3) uint8 frames as H.264 with PyAV (test material made on the spot).

    rotation_ccw_deg sets the display matrix (counter-clockwise, PyAV's convention: a
    phone's portrait clip carries -90). `pts` with `time_base_den` gives explicit,
    possibly irregular timestamps (ticks of 1/time_base_den seconds).
    """
    from fractions import Fraction

    import av

    height, width = frames_rgb[0].shape[:2]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18"}
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, time_base_den or 1000)
        if rotation_ccw_deg:
            stream.set_display_rotation(rotation_ccw_deg)
        for i, rgb in enumerate(frames_rgb):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pts is not None:
                frame.pts = pts[i]
                frame.time_base = Fraction(1, time_base_den or 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture
def make_video(tmp_path: Path):
    """Factory: make_video(name, frames_rgb, **kw) -> Path of an H.264 .mp4 in tmp_path."""

    def _make(name: str, frames_rgb: list, **kwargs) -> Path:
        return write_test_video(tmp_path / name, frames_rgb, **kwargs)

    return _make
