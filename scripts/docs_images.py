"""Regenerate the pictures of docs/preview-and-report.md from the bundled samples.

Converts each sample with --preview and --report into a temporary folder, takes a screenshot
of the report in headless Chromium (the flags of tests/chromium.py) and saves one preview
frame as PNG:

    MOCAP_CACHE_DIR=/tmp/mocap-cache .venv/bin/python scripts/docs_images.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--virtual-time-budget=5000"]


def screenshot(html: Path, png: Path, width: int, height: int) -> None:
    exe = shutil.which("chromium")
    if exe is None:
        raise SystemExit("chromium not found: run scripts/install-readers.sh")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                        f"--screenshot={png}", html.resolve().as_uri()], check=True, capture_output=True, timeout=120)


def preview_frame(mp4: Path, index: int, png: Path) -> None:
    import av

    with av.open(str(mp4)) as c:
        for i, frame in enumerate(c.decode(c.streams.video[0])):
            if i == index:
                frame.to_image().save(png)
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    from mocap.pipeline import ConvertOptions, convert

    cache = Path(os.environ.get("MOCAP_CACHE_DIR", Path.home() / ".cache" / "mocap"))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "squats.html"
        convert(ROOT / "samples" / "squats.mp4", Path(tmp) / "squats",
                ConvertOptions(cache_dir=cache, preview=True, report_path=report))
        screenshot(report, args.out / "report_squats.png", 1000, 3900)
        result = convert(ROOT / "samples" / "dance_arms.mp4", Path(tmp) / "dance_arms",
                         ConvertOptions(cache_dir=cache, preview=True))
        preview_frame(result.preview.path, 60, args.out / "preview_dance_arms.png")
        print(args.out / "report_squats.png", args.out / "preview_dance_arms.png")


if __name__ == "__main__":
    main()
