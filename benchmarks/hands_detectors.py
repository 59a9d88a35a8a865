"""Which way of running MediaPipe's hand model `--hands` uses: crops, whole frame or Holistic.

For each clip, on the same frames (the first SECONDS), times each method and counts the
frames in which a hand was found and kept on each of the body's wrists (mocap.detect.
mediapipe_hands.hands_found_by: the product's detect_hands for holistic and crops). Body landmarks come from the
landmark cache. Timings are wall-clock seconds per frame of the hand pass alone (Holistic:
its whole graph, which runs its own pose model too), one run each, all methods side by side.

    MOCAP_CACHE_DIR=/tmp/mocap-cache .venv/bin/python benchmarks/hands_detectors.py CLIP [CLIP ...] [--seconds 4]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mocap.detect import detect_cached
from mocap.detect.mediapipe_hands import hands_found_by
from mocap.video import probe_video, read_frames

METHODS = ("holistic", "crops", "frame")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", type=Path, nargs="+")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    print("| clip | method | ms / frame | left hand found | right hand found |")
    print("|---|---|---|---|---|")
    for clip in args.clips:
        info = probe_video(clip)
        body = detect_cached(info, end_s=args.seconds)
        for method in METHODS:
            t0 = time.perf_counter()
            found = hands_found_by(method, info, read_frames(info, None, args.seconds), body)
            ms = 1000 * (time.perf_counter() - t0) / body.n_frames
            print(f"| {clip.stem} | {method} | {ms:.0f} | {found[:, 0].mean():.0%} | {found[:, 1].mean():.0%} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
