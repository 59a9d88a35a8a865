"""The take report: one self-contained HTML file to judge a conversion by eye.

    write_report(result, "dance.report.html")   # result: mocap.pipeline.ConvertResult

The batch runner calls write_report once per job (and write_index once per batch). The page
holds a summary, the warnings, four thumbnails of the preview (drawn for the report when no
preview video was rendered), and six plots made with matplotlib (mocap.report.figures),
embedded as PNG data: URIs, so the file needs no network and no other file:

- detection confidence over time (BlazePose landmark visibility), frames without a person;
- body parts unseen over time (mean visibility of each part's landmarks);
- jitter before and after smoothing (mean landmark acceleration, mocap.evaluate.jitter_mm);
- foot heights above the floor with the planted frames (mocap.solve.pose.motion_contact_paths_m);
- the hips' path from above, with the camera and the planted feet;
- the fitted bone lengths.

An inline script (no library) records on <body> how many plots loaded (data-plots,
data-plots-loaded) and any script or resource error (data-errors), which the test reads
in headless Chromium. Written atomically (mocap.atomic).
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mocap.pipeline import ConvertResult

# BlazePose landmarks of each body part (mocap.data.BLAZEPOSE_NAMES).
BODY_PARTS: dict[str, tuple[str, ...]] = {
    "head": ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left", "mouth_right"),
    "left arm": ("left_shoulder", "left_elbow", "left_wrist", "left_pinky", "left_index", "left_thumb"),
    "right arm": ("right_shoulder", "right_elbow", "right_wrist", "right_pinky", "right_index", "right_thumb"),
    "left leg": ("left_hip", "left_knee", "left_ankle", "left_heel", "left_foot_index"),
    "right leg": ("right_hip", "right_knee", "right_ankle", "right_heel", "right_foot_index"),
}
UNSEEN_VISIBILITY = 0.5  # a part is "unseen" on a frame when its landmarks' mean visibility is below this
UNSEEN_SHARE_WARNING = 0.1  # report a part unseen on more than this share of the frames with a person


@dataclass(frozen=True)
class IndexEntry:
    """One job of a batch for write_index: its name, report (or None when it failed), status
    line, and an optional thumbnail (RGB array) shown beside it."""

    name: str
    report: Path | None
    status: str
    thumbnail: np.ndarray | None = None


def _data_uri_png(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png_from_rgb(rgb: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise ValueError("could not encode a thumbnail")
    return buf.tobytes()


def part_visibility(tracks) -> dict[str, np.ndarray]:  # noqa: ANN001 - LandmarkTracks
    """Body part -> (T,) mean visibility of its landmarks (0 where no person was found)."""
    return {part: tracks.visibility[:, [tracks.index(n) for n in names]].mean(axis=1)
            for part, names in BODY_PARTS.items()}


def notes(result: ConvertResult) -> list[str]:
    """The warnings to show: the conversion's own (result.warnings; the resampling of a
    variable frame rate, result.retiming; several people in view and frames dropped as
    another person's, result.people_max / identity_lost, where the conversion tracks people),
    then what the report finds in the data (frames without a person, body parts unseen)."""
    out = list(result.warnings)
    if result.retiming is not None:
        out.append(result.retiming.describe())
    people = getattr(result, "people_max", 1)  # person tracking (mocap.detect.people), when present
    if people > 1:
        out.append(f"Up to {people} people in view; one was followed "
                   "(choose with --person largest|centre|left|right|X,Y).")
    lost = getattr(result, "identity_lost", ())
    if lost:
        spans = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in lost[:8])
        out.append(f"Frames {spans}: the pose was another person's; dropped and filled.")
    tracks = result.tracks
    if result.gaps:
        n = sum(b - a + 1 for a, b in result.gaps)
        spans = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in result.gaps[:6])
        more = f" and {len(result.gaps) - 6} more" if len(result.gaps) > 6 else ""
        out.append(f"No person in {n} of {result.n_frames} frames (frames {spans}{more}): the pose there is filled, not seen.")
    if tracks is not None:
        seen = tracks.detected
        for part, vis in part_visibility(tracks).items():
            unseen = (vis < UNSEEN_VISIBILITY) & seen
            share = unseen.sum() / max(seen.sum(), 1)
            if share > UNSEEN_SHARE_WARNING:
                first = float(tracks.times_s[np.argmax(unseen)])
                out.append(f"The {part} is unseen (out of the image or hidden) in {100 * share:.0f}% of the "
                           f"frames with a person, first at {first:.2f} s: its motion there is a guess.")
    if result.video.variable_frame_rate and not any("frame rate" in w for w in out):  # not resampled
        out.append(f"The video has a variable frame rate (about {result.video.fps:.2f} fps on average).")
    return out


def _summary_rows(result: ConvertResult) -> list[tuple[str, str]]:
    info, motion = result.video, result.motion
    rows = [
        ("video", f"{info.path.name}: {info.width_px}×{info.height_px} px, {info.fps:.3f} fps, {info.codec}"),
        ("frames", f"{result.n_frames} ({motion.duration_s:.2f} s from {motion.start_time_s:.2f} s)"),
        ("person found", f"{result.n_detected} of {result.n_frames} frames ({100 * result.detection_rate:.1f}%)"),
        ("performer", f"{result.height_m:.2f} m tall"),
    ]
    if result.camera is not None:
        rows.append(("camera", f"{result.camera.fov_deg:.1f}° diagonal field of view"))
    if result.solve is not None and result.solve.ground is not None:
        rows.append(("floor", f"tilted {result.solve.ground.tilt_deg:.1f}° from the camera's level"))
    root = motion.root_position_m
    rows.append(("hips travel", f"{float(np.sum(np.linalg.norm(np.diff(root[:, [0, 2]], axis=0), axis=1))):.2f} m over the floor"))
    rows += [(name, str(path)) for name, path in result.outputs.items()]
    if result.timings_s:
        rows.append(("time", ", ".join(f"{k} {v:.2f} s" for k, v in result.timings_s.items())))
    return rows


def plots(result: ConvertResult) -> list[tuple[str, str, bytes]]:
    """(id, caption, PNG) of every plot the data allows, in page order."""
    from mocap.evaluate import jitter_mm
    from mocap.kinematics import joint_positions
    from mocap.report import figures as P
    from mocap.solve.pose import motion_contact_paths_m

    motion, tracks, smoothed = result.motion, result.tracks, result.smoothed
    times = motion.start_time_s + np.arange(motion.n_frames) / motion.fps
    if tracks is not None:
        times = tracks.times_s
    out: list[tuple[str, str, bytes]] = []
    if tracks is not None:
        out.append(("confidence", "Detection confidence: how sure BlazePose is of the landmarks, frame by frame. "
                    "Grey: no person found.", P.detection_confidence(times, tracks.visibility, result.gaps)))
        out.append(("unseen", "Body parts seen (green) and unseen (red) over time: out of the image, hidden, "
                    "or no person.", P.unseen_parts(times, part_visibility(tracks), result.gaps)))
    if tracks is not None and smoothed is not None:
        hips = [tracks.index("left_hip"), tracks.index("right_hip")]
        raw, smooth = jitter_mm(tracks.world_m, hips), jitter_mm(smoothed.world_m, hips)
        cutoff = result.options.smoothing.cutoff_hz if result.options is not None else None
        out.append(("jitter", "Jitter before and after smoothing: mean acceleration of the landmarks relative "
                    "to the hips (lower is steadier).", P.jitter(times, raw, smooth, cutoff)))
    contacts = motion.contacts
    if result.solve is not None:
        paths = motion_contact_paths_m(motion, result.solve.fitted)
        flags = {} if contacts is None else {n: contacts.in_contact[:, c] for c, n in enumerate(contacts.names)}
        out.append(("feet", "Foot heights above the floor; ticks mark the frames each point is planted "
                    "(held still by foot locking).", P.foot_heights(times, {n: p[:, 1] for n, p in paths.items()}, flags)))
        planted = [p[flags[n]] for n, p in paths.items() if n in flags]
        planted_m = np.concatenate(planted) if planted else None
        camera_m = result.solve.camera_pose.position_m if result.solve.camera_pose is not None else None
        out.append(("path", "The hips' path seen from above, with the camera and the planted foot points.",
                    P.root_path(motion.root_position_m, camera_m, planted_m)))
        sk = result.solve.fitted.skeleton
        bones = [j for j, p in enumerate(sk.parents) if p >= 0]
        out.append(("bones", "Bone lengths fitted to the performer (each bone from its parent joint).",
                    P.bone_lengths([sk.names[j] for j in bones], np.linalg.norm(sk.offsets_m[bones], axis=1),
                                   result.height_m)))
    else:
        pos = joint_positions(motion)
        out.append(("path", "The hips' path seen from above.", P.root_path(pos[:, 0], None, None)))
    return out


def thumbnails(result: ConvertResult) -> tuple[tuple[tuple[int, np.ndarray], ...], str]:
    """(motion frame, RGB) thumbnails of the preview, and why there are none ("" if there are).

    From the preview when one was rendered; else drawn for the report alone
    (mocap.preview.render.preview_thumbnails: four frames decoded from the source video)."""
    from mocap.errors import MocapError
    from mocap.preview.render import PreviewMotion, preview_thumbnails

    if result.preview is not None and getattr(result.preview, "thumbnails", ()):
        return tuple(result.preview.thumbnails), ""
    if result.solve is None or result.camera is None:
        return (), ""
    try:
        return preview_thumbnails(result.video, PreviewMotion.from_motion(result.motion), result.camera,
                                  result.solve.camera_pose), ""
    except MocapError as exc:
        return (), f"No thumbnails: {exc}"


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:16px;color:#222;background:#fafafa}
h1{font-size:22px;margin:4px 0 12px} h2{font-size:17px;margin:22px 0 6px}
table{border-collapse:collapse} td{padding:2px 12px 2px 0;vertical-align:top} td:first-child{font-weight:600;white-space:nowrap}
.warn{background:#fff4e5;border-left:4px solid #ff9800;padding:6px 10px;margin:4px 0}
.ok{background:#e8f5e9;border-left:4px solid #4caf50;padding:6px 10px}
figure{margin:10px 0;background:#fff;border:1px solid #ddd;padding:6px}
figure img{max-width:100%;height:auto;display:block} figcaption{font-size:12px;color:#555;margin-top:4px}
.thumbs{display:flex;flex-wrap:wrap;gap:8px} .thumbs figure{margin:0;flex:1 1 45%}
"""

_SCRIPT = """
(function(){
  var errors=[];
  window.addEventListener('error',function(e){errors.push(e.message||('cannot load '+(e.target&&e.target.src||'').slice(0,40)));
    if(document.body){document.body.dataset.errors=errors.length;}},true);
  window.addEventListener('load',function(){
    var imgs=document.querySelectorAll('img.plot'),ok=0;
    for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0){ok++;}}
    document.body.dataset.plots=imgs.length; document.body.dataset.plotsLoaded=ok;
    document.body.dataset.errors=errors.length;
  });
})();
"""


def build_report(result: ConvertResult, title: str | None = None) -> str:
    """The report page of one conversion, as an HTML string (self-contained)."""
    esc = html.escape
    title = title or f"mocap report: {result.video.path.name}"
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>",
             "<meta name='viewport' content='width=device-width,initial-scale=1'>",
             f"<style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>", f"<h1>{esc(title)}</h1>"]
    parts.append("<table>" + "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in _summary_rows(result)) + "</table>")
    parts.append("<h2>Warnings</h2>")
    found = notes(result)
    parts += [f"<div class='warn'>{esc(w)}</div>" for w in found] or ["<div class='ok'>None: the person was found in every frame and every body part was seen.</div>"]
    preview = result.preview
    thumbs, missing = thumbnails(result)
    if missing:
        parts.append(f"<h2>Preview</h2><div class='warn'>{esc(missing)}</div>")
    if thumbs:
        parts.append("<h2>Preview</h2><div class='thumbs'>")
        for k, rgb in thumbs:
            t = result.motion.start_time_s + k / result.motion.fps
            parts.append(f"<figure><img class='thumb' alt='preview frame {k}' src='{_data_uri_png(_png_from_rgb(rgb))}'>"
                         f"<figcaption>motion frame {k} ({t:.2f} s)</figcaption></figure>")
        parts.append("</div>" + (f"<p>Full preview: {esc(str(preview.path))}</p>" if preview is not None else ""))
    for plot_id, caption, png in plots(result):
        parts.append(f"<figure id='{plot_id}'><img class='plot' alt='{esc(caption)}' src='{_data_uri_png(png)}'>"
                     f"<figcaption>{esc(caption)}</figcaption></figure>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_report(result: ConvertResult, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Write build_report(result) to `path` atomically; returns the path.

    Raises ExportError when the file cannot be written.
    """
    from mocap.atomic import atomic_path

    path = Path(path)
    text = build_report(result, title)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_index(entries: Sequence[IndexEntry], path: str | os.PathLike[str], title: str = "mocap batch") -> Path:
    """An index page for a batch: one row per job linking its report (relative links), with
    its status and thumbnail. Written atomically; returns the path."""
    from mocap.atomic import atomic_path

    esc = html.escape
    path = Path(path)
    rows = []
    for e in entries:
        link = esc(os.path.relpath(e.report, path.parent)) if e.report is not None else None
        name = f"<a href='{link}'>{esc(e.name)}</a>" if link else esc(e.name)
        thumb = (f"<img class='plot' alt='{esc(e.name)}' style='height:90px' src='{_data_uri_png(_png_from_rgb(e.thumbnail))}'>"
                 if e.thumbnail is not None else "")
        rows.append(f"<tr><td>{name}</td><td>{esc(e.status)}</td><td>{thumb}</td></tr>")
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{_STYLE}</style><script>{_SCRIPT}</script></head><body><h1>{esc(title)}</h1>"
            f"<table>{''.join(rows)}</table></body></html>\n")
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


__all__ = ["BODY_PARTS", "IndexEntry", "build_report", "notes", "plots", "thumbnails", "write_index", "write_report"]
