"""Long 720p30 clips for the batch benchmarks, made from the real clips of ../shared/data/real.

The two 1280x720 one-person real clips (tai chi, football juggling) are decoded, looped in
order until the requested length, stamped at exactly 30 fps
(the footage plays a little faster than it was shot; every frame is real) and encoded with
libx264 (CRF 20, `veryfast`). Made once and kept in benchmarks/.clips (ignored by git).

    .venv/bin/python benchmarks/clips.py 120     # prints the path of a 2-minute clip
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
SOURCES = ("taiji_man_hybrik.mp4", "soccer_juggle_sam2.mp4")
CACHE = ROOT / "benchmarks" / ".clips"
FPS = 30


def _frames(path: Path):
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24")


def make_720p30(seconds: float, folder: Path = CACHE) -> Path:
    """A clip of `seconds` at 1280x720, 30 fps from the real clips; cached by length."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"real720p30_{int(seconds)}s.mp4"
    if target.is_file():
        return target
    missing = [s for s in SOURCES if not (REAL / s).is_file()]
    if missing:
        raise SystemExit(f"needs ../shared/data/real/{missing[0]}")
    n_frames = int(round(seconds * FPS))
    part = target.with_suffix(".part.mp4")
    written = 0
    with av.open(str(part), mode="w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        while written < n_frames:
            for name in SOURCES:
                for rgb in _frames(REAL / name):
                    if rgb.shape[:2] != (720, 1280):
                        raise SystemExit(f"{name} is not 1280x720")
                    for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                        out.mux(packet)
                    written += 1
                    if written >= n_frames:
                        break
                if written >= n_frames:
                    break
        for packet in stream.encode():
            out.mux(packet)
    part.rename(target)
    return target


if __name__ == "__main__":
    print(make_720p30(float(sys.argv[1]) if len(sys.argv) > 1 else 120.0))
