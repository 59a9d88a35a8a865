"""The HTML report: rendered in headless Chromium, it loads without errors and shows its plots.

The page is made by the real pipeline on the bundled sample (MediaPipe, landmark cache),
with a preview, so it carries every plot and the preview's thumbnails. The checker is shown
to fail on a broken copy (a script error, a plot that cannot load), so passing means something.
The warnings are checked on synthetic landmarks with a known unseen limb and known gaps.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from chromium import render, screenshot
from mocap.cli import app
from mocap.report import IndexEntry, notes, write_index

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "squats.mp4"
PLOT_IDS = ("confidence", "unseen", "jitter", "feet", "path", "bones")
runner = CliRunner()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    cache = os.environ.get("MOCAP_CACHE_DIR") or str(tmp_path_factory.mktemp("cache"))
    path = folder / "squats.report.html"
    result = runner.invoke(app, ["convert", str(SAMPLE), "-o", str(folder / "squats"), "--preview",
                                 "--report", str(path), "--cache-dir", cache, "-q"])
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.mediapipe
def test_report_loads_in_chromium_and_shows_its_plots(report: Path, tmp_path: Path) -> None:
    text = report.read_text(encoding="utf-8")
    # self-contained: nothing fetched from anywhere
    assert not re.search(r"""(src|href)\s*=\s*['"](?!data:)""", text)
    assert "http://" not in text and "https://" not in text
    page = render(report)
    assert page.console_errors == []
    assert page.body_attrs.get("data-errors") == "0"
    assert page.body_attrs.get("data-plots") == str(len(PLOT_IDS))
    assert page.body_attrs.get("data-plots-loaded") == str(len(PLOT_IDS))
    for plot_id in PLOT_IDS:
        assert f'id="{plot_id}"' in page.dom
    assert page.dom.count('class="thumb"') == 4  # preview thumbnails
    shot = screenshot(report, tmp_path / "shot.png")
    import cv2

    img = cv2.imread(str(shot))
    assert img is not None and img.shape[0] > 1000
    assert img.std() > 20  # not a blank page


@pytest.mark.mediapipe
def test_report_without_a_preview_still_has_thumbnails(tmp_path: Path) -> None:
    cache = os.environ.get("MOCAP_CACHE_DIR") or str(tmp_path / "cache")
    path = tmp_path / "only.html"
    result = runner.invoke(app, ["convert", str(SAMPLE), "-o", str(tmp_path / "take"), "--report", str(path),
                                 "--cache-dir", cache, "-q"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "take.preview.mp4").exists()
    page = render(path)
    assert page.console_errors == [] and page.body_attrs.get("data-plots-loaded") == str(len(PLOT_IDS))
    assert page.dom.count('class="thumb"') == 4


@pytest.mark.mediapipe
def test_the_checker_catches_a_broken_page(report: Path, tmp_path: Path) -> None:
    text = report.read_text(encoding="utf-8")
    broken = tmp_path / "broken.html"
    first_plot = text.index("class='plot'")
    start = text.index("base64,", first_plot) + len("base64,")
    text = text[:start] + "AAAA" + text[start + 200:]  # one plot's PNG cut: it cannot load
    broken.write_text(text.replace("</body>", "<script>noSuchFunction();</script></body>"), encoding="utf-8")
    page = render(broken)
    assert any("noSuchFunction" in line for line in page.console_errors)
    assert int(page.body_attrs["data-plots-loaded"]) == len(PLOT_IDS) - 1
    assert int(page.body_attrs["data-errors"]) >= 1


@pytest.mark.mediapipe
def test_batch_index_links_each_report(report: Path, tmp_path: Path) -> None:
    thumb = np.full((60, 80, 3), 128, np.uint8)
    index = write_index([IndexEntry("squats", report, "ok: 65 frames", thumb),
                         IndexEntry("broken", None, "failed: no person (exit 4)")], tmp_path / "index.html")
    page = render(index)
    assert page.console_errors == [] and page.body_attrs.get("data-plots-loaded") == "1"
    link = re.search(r'href="([^"]+)"', page.dom).group(1)
    assert (index.parent / link).resolve() == report.resolve()
    assert "failed: no person (exit 4)" in page.dom


def test_notes_report_unseen_limbs_gaps_and_the_conversion_warnings(tmp_path: Path) -> None:
    from motion_fixtures import WALK
    from synth import landmarks_from_bvh

    from conftest import write_test_video
    from mocap.camera import Camera
    from mocap.pipeline import ConvertOptions, ConvertResult, solve_take
    from mocap.report import build_report
    from mocap.video import probe_video

    if not WALK.is_file():
        pytest.skip(f"test data not found at {WALK}")
    tracks, truth = landmarks_from_bvh(WALK, fps=30, noise_m=0.005, end_s=3.0)
    n = tracks.n_frames
    vis = tracks.visibility.copy()
    leg = [tracks.index(f"left_{p}") for p in ("knee", "ankle", "heel", "foot_index")]
    vis[30:60, leg] = 0.0  # the left leg leaves the image for a second
    detected = tracks.detected.copy()
    detected[70:75] = False  # and nobody is seen for five frames
    tracks = replace(tracks, visibility=vis, detected=detected)
    video = write_test_video(tmp_path / "walk.mp4", [np.zeros((72, 128, 3), np.uint8)] * 4, fps=30)
    smoothed, solved, camera = solve_take(tracks, ConvertOptions(), "walk",
                                          camera=Camera.from_K(truth["camera_K"], *tracks.image_size_px))
    result = ConvertResult(
        video=probe_video(video), motion=solved.motion, outputs={}, n_frames=n, n_detected=int(detected.sum()),
        gaps=((70, 74),), height_m=solved.fitted.height_m, tracks=tracks, smoothed=smoothed, solve=solved,
        camera=camera, warnings=("Several people in frames 10-20: following the largest.",),
        options=ConvertOptions(),
    )
    found = notes(result)
    assert found[0] == "Several people in frames 10-20: following the largest."
    assert any(w.startswith("No person in 5 of") and "70-74" in w for w in found)
    leg_notes = [w for w in found if "left leg" in w]
    assert len(leg_notes) == 1 and "1.00 s" in leg_notes[0]
    assert not any("right leg" in w for w in found)
    page = build_report(result)
    assert "Several people in frames 10-20" in page and page.count("class='plot'") == len(PLOT_IDS)
    # person tracking's findings (ConvertResult.people_max / identity_lost) are shown too
    object.__setattr__(result, "people_max", 3)
    object.__setattr__(result, "identity_lost", ((40, 44),))
    found = notes(result)
    assert any(w.startswith("Up to 3 people in view") for w in found)
    assert any(w.startswith("Frames 40-44: the pose was another person's") for w in found)
