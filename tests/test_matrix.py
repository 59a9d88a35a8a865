"""The fault matrix: every kind of bad input, fault and interruption a user meets, one row each.

Every input is made here, from the first second of samples/squats.mp4 re-encoded (small, so
detection is quick) or written from nothing. Each row runs the real `mocap` command in a
subprocess and checks, for a failure:

- exit code: the documented code of its class (docs/troubleshooting.md, "Exit codes");
- stderr: exactly one line, `error: ...`, naming the file and the problem, no traceback;
- the output folder: nothing new in it (no partial file, no staged temp file), and an
  earlier output of the same name byte-for-byte untouched;

and for a row that must succeed: exit 0 and a BVH that mocap's own reader reads. Batch rows
also check that the other jobs finish and that a re-run resumes. docs/troubleshooting.md
documents every row with its cause and remedy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "squats.mp4"
MOCAP = Path(sys.executable).parent / "mocap"
EARLIER = b"an earlier output of the same name\n"

pytestmark = pytest.mark.mediapipe


# ----------------------------------------------------------------------------- inputs


def _sample_frames(n: int, height: int = 240) -> list[np.ndarray]:
    """The first n frames of samples/squats.mp4 as RGB, scaled to `height` pixels."""
    import av

    frames = []
    with av.open(str(SAMPLE)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            width = round(frame.width * height / frame.height / 2) * 2
            frames.append(frame.to_ndarray(format="rgb24", width=width, height=height))
            if len(frames) == n:
                break
    return frames


def _encode(path: Path, frames: list[np.ndarray], codec: str = "libx264", pix_fmt: str = "yuv420p",
            fps: int = 25, options: dict | None = None, container_options: dict | None = None,
            rotation_ccw_deg: int = 0, pts: list[int] | None = None) -> Path:
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), mode="w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = options or {}
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation_ccw_deg:
            stream.set_display_rotation(rotation_ccw_deg)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _has_encoder(name: str) -> bool:
    import av

    return name in av.codecs_available


def _audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=44100)
        t = np.arange(44100) / 44100
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        for start in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(samples[:, start:start + 1024], format="fltp", layout="mono")
            frame.sample_rate = 44100
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _png(path: Path, rgb: np.ndarray) -> Path:
    import av

    with av.open(str(path), mode="w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = rgb.shape[1], rgb.shape[0], "rgb24"
        for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _truncate(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


@dataclass
class Inputs:
    """The generated clips (module scope) and the landmark cache they share."""

    folder: Path
    cache: Path
    person: Path  # 20 frames of one person: the clip most rows convert
    frames: list[np.ndarray]
    made: dict[str, Path] = field(default_factory=dict)

    def get(self, name: str, make: Callable[[Path], Path]) -> Path:
        """A clip made once on first use (so a row only pays for what it needs)."""
        if name not in self.made:
            self.made[name] = make(self.folder / name)
        return self.made[name]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Inputs:
    folder = tmp_path_factory.mktemp("matrix-inputs")
    frames = _sample_frames(20)
    person = _encode(folder / "person.mp4", frames)
    return Inputs(folder, tmp_path_factory.mktemp("matrix-cache"), person, frames)


# ----------------------------------------------------------------------------- running


@dataclass
class Run:
    """One row's world: its output folder, and how to call mocap."""

    inputs: Inputs
    tmp: Path

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    def env(self) -> dict[str, str]:
        return dict(os.environ, MOCAP_CACHE_DIR=str(self.inputs.cache))

    def mocap(self, *args: str | Path, wrap: list[str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        cmd = [*(wrap or []), str(MOCAP), *map(str, args)]
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=timeout)

    def convert(self, video: Path, *opts: str | Path, out: Path | str | None = None, **kw) -> subprocess.CompletedProcess:
        target = str(self.out) + "/" if out is None else str(out)
        return self.mocap("convert", video, "-o", target, "-q", *opts, **kw)


@dataclass(frozen=True)
class Row:
    """One case. `run(r)` returns the process; a failure row gives its exit code, a regex
    for the problem and the file the message must name (`names(r)`); `earlier` names the
    output (relative to r.out) that exists before the run and must be kept."""

    id: str
    run: Callable[[Run], subprocess.CompletedProcess]
    code: int = 0
    problem: str = ""
    names: Callable[[Run], Path | str] | None = None
    earlier: str | None = "person.bvh"
    check: Callable[[Run, subprocess.CompletedProcess], None] | None = None


def _bvh_frames(path: Path) -> int:
    from mocap.bvh import read_bvh

    return read_bvh(path).n_frames


# --- inputs made by the rows


def _missing(r: Run):
    return r.convert(r.tmp / "no such clip.mp4")


def _directory(r: Run):
    (r.tmp / "clips.mp4").mkdir()
    return r.convert(r.tmp / "clips.mp4")


def _empty(r: Run):
    (r.tmp / "empty.mp4").write_bytes(b"")
    return r.convert(r.tmp / "empty.mp4")


def _text(r: Run):
    (r.tmp / "notes.mp4").write_text("this is not a video\n" * 50)
    return r.convert(r.tmp / "notes.mp4")


def _truncated_moov_at_end(r: Run):
    return r.convert(_truncate(r.inputs.person, r.tmp / "cut.mp4", 0.5))


def _truncated_moov_at_front(r: Run):
    fast = r.inputs.get("faststart.mp4", lambda p: _encode(p, r.inputs.frames, container_options={"movflags": "faststart"}))
    return r.convert(_truncate(fast, r.tmp / "cut.mp4", 0.5))


def _zero_frames(r: Run):
    import av

    path = r.tmp / "zero.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()  # a header and an index, and no frame
    return r.convert(path)


def _one_frame(r: Run):
    return r.convert(r.inputs.get("one.mp4", lambda p: _encode(p, r.inputs.frames[:1])))


def _audio(r: Run):
    return r.convert(r.inputs.get("audio.m4a", _audio_only))


def _image(r: Run):
    return r.convert(r.inputs.get("photo.png", lambda p: _png(p, r.inputs.frames[0])))


def _no_person(r: Run):
    rng = np.random.default_rng(0)
    frames = [np.full_like(r.inputs.frames[0], 90) + rng.integers(0, 8, r.inputs.frames[0].shape, dtype=np.uint8)
              for _ in range(10)]
    return r.convert(r.inputs.get("empty_room.mp4", lambda p: _encode(p, frames)))


def _leaves_halfway(r: Run):
    frames = r.inputs.frames + [np.full_like(r.inputs.frames[0], 90)] * 20
    return r.convert(r.inputs.get("leaves.mp4", lambda p: _encode(p, frames)))


def _two_people(r: Run):
    frames = [np.concatenate([f, f[:, ::-1]], axis=1) for f in r.inputs.frames]
    return r.convert(r.inputs.get("two.mp4", lambda p: _encode(p, frames)))


def _four_k(r: Run):
    import av

    big = []
    for rgb in r.inputs.frames[:4]:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        big.append(frame.to_ndarray(format="rgb24", width=3840, height=2160))
    return r.convert(r.inputs.get("uhd.mp4", lambda p: _encode(p, big, options={"preset": "ultrafast"})))


def _portrait(r: Run):
    # a phone's portrait clip: stored landscape (the person lying on the side), displayed upright
    stored = [np.ascontiguousarray(np.rot90(f, k=1)) for f in r.inputs.frames]
    return r.convert(r.inputs.get("portrait.mp4", lambda p: _encode(p, stored, rotation_ccw_deg=-90)))


def _vfr(r: Run):
    steps = [40 if i < 10 else 80 for i in range(len(r.inputs.frames))]  # 25 fps, then 12.5 fps
    pts = list(np.cumsum([0] + steps[:-1]))
    return r.convert(r.inputs.get("vfr.mp4", lambda p: _encode(p, r.inputs.frames, pts=pts)))


def _container(name: str, codec: str, pix_fmt: str, options: dict | None = None):
    def run(r: Run):
        if not _has_encoder(codec):
            pytest.skip(f"this FFmpeg build has no {codec} encoder")
        return r.convert(r.inputs.get(name, lambda p: _encode(p, r.inputs.frames, codec, pix_fmt, options=options)))

    return run


def _odd_path(r: Run):
    folder = r.tmp / "my clips" / "Überstunden – 走る"
    folder.mkdir(parents=True)
    video = shutil.copy(r.inputs.person, folder / "squat take 1 é.mp4")
    return r.convert(Path(video), out=f"{folder / 'résultat'}/")


def _check_odd_path(r: Run, proc) -> None:
    assert _bvh_frames(r.tmp / "my clips" / "Überstunden – 走る" / "résultat" / "squat take 1 é.bvh") > 0


def _collide(r: Run):
    # clip.mov and clip.mkv in one folder: both would write OUT/clip.*
    src = r.tmp / "src"
    src.mkdir()
    shutil.copy(r.inputs.person, src / "clip.mov")
    mkv = r.inputs.get("clip.mkv", lambda p: _encode(p, r.inputs.frames))
    shutil.copy(mkv, src / "clip.mkv")
    return r.mocap("batch", src, "-o", r.out, "-q", "-j", "1")


def _folder_missing(r: Run):
    return r.convert(r.inputs.person, out=f"{r.tmp / 'new' / 'deeper'}/")


def _check_folder_missing(r: Run, proc) -> None:
    assert _bvh_frames(r.tmp / "new" / "deeper" / "person.bvh") > 0


def _mount_wrap(r: Run, options: str) -> list[str]:
    """A command prefix that runs mocap with r.out as a fresh tmpfs mounted with `options`, in
    a private mount namespace (root ignores permission bits, so read-only must be a mount)."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) to make a private mount")
    probe = subprocess.run(["unshare", "-Urm", "true"], capture_output=True)
    prefix = ["unshare", "-Urm"] if probe.returncode == 0 else ["unshare", "-m"]
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("this machine allows no private mount namespace (unshare)")
    # mount, put the earlier output there, remount with the options, run mocap, then record
    # what the folder holds afterwards (the mount vanishes with the namespace)
    script = ('mount -t tmpfs -o size=1m tmpfs "$2" && printf %s "$3" > "$2/person.bvh" && '
              'mount -o "remount,$1" "$2" && shift 4 && "$@"; rc=$?; '
              'ls -A "$OUTDIR" > "$LISTING"; cat "$OUTDIR/person.bvh" > "$LISTING.earlier"; exit $rc')
    env_script = f'OUTDIR="{r.out}"; LISTING="{r.tmp / "listing.txt"}"; ' + script
    return [*prefix, "sh", "-c", env_script, "sh", options, str(r.out), EARLIER.decode(), "-"]


def _read_only(r: Run):
    return r.convert(r.inputs.person, wrap=_mount_wrap(r, "ro,size=1m"))


def _full_disk(r: Run):
    return r.convert(r.inputs.person, "-f", "bvh,json", wrap=_mount_wrap(r, "size=48k"))


def _out_is_folder(r: Run):
    # a folder where the FBX should go; the BVH of an earlier run stays
    (r.out / "person.fbx").mkdir()
    return r.convert(r.inputs.person, "-f", "bvh,fbx")


def _out_under_a_file(r: Run):
    (r.tmp / "notafolder").write_text("x")
    return r.convert(r.inputs.person, out=r.tmp / "notafolder" / "clip.bvh")


def _interrupt(sig: int, formats: str = "bvh", stage: str = "detect"):
    """Send `sig` once the conversion reaches `stage` of its --progress json stream."""

    def run(r: Run):
        long = r.inputs.get("long.mp4", lambda p: _encode(p, _sample_frames(150, height=480)))
        cmd = [str(MOCAP), "convert", str(long), "-o", str(r.out) + "/", "-f", formats, "--progress", "json", "--no-cache"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=r.env())
        try:
            for line in proc.stdout:
                event = json.loads(line)
                if event.get("stage") == stage and (stage != "detect" or event.get("done", 0) >= 3):
                    if stage == "solve":
                        _wait_for_staged(r.out, proc, formats.split(",")[0])
                    proc.send_signal(sig)
                    break
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)

    return run


def _preview_interrupt(sig: int, new_folder: bool = False):
    """Send `sig` while `mocap preview` is encoding (its temporary .part file has data).
    new_folder: the output goes into a folder that does not exist yet, which must not be
    left behind either."""

    def run(r: Run):
        long = r.inputs.get("long.mp4", lambda p: _encode(p, _sample_frames(150, height=480)))
        motion = r.inputs.get("long.bvh", lambda p: _converted(r, long, p))
        folder = r.out / "new" if new_folder else r.out
        cmd = [str(MOCAP), "preview", str(long), str(motion), "-o", str(folder / "long.preview.mp4")]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=r.env())
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                if folder.is_dir() and any(p.name.endswith(".mp4.part") and p.stat().st_size > 0 for p in folder.iterdir()):
                    break
                time.sleep(0.01)
            assert proc.poll() is None, "the preview ended before it could be interrupted"
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert not (r.out / "new").exists(), "the output folder the preview made is left behind"
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)

    return run


def _converted(r: Run, video: Path, bvh: Path) -> Path:
    """The BVH and camera sidecar of `video` (for `mocap preview`), made once."""
    proc = r.mocap("convert", video, "-o", bvh, "-q")
    assert proc.returncode == 0, proc.stderr
    return bvh


def _wait_for_staged(folder: Path, proc: subprocess.Popen, fmt: str, timeout_s: float = 120) -> None:
    """Wait until the writer of `fmt` has filled its staged file in `folder` (mocap.atomic
    stages `.<stem>.XXXX.staged.<fmt>` beside the target; the formats are written in the
    order asked, so with `-f bvh,fbx` a written BVH means Blender's FBX export has begun)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.startswith(".") and p.name.endswith(f".staged.{fmt}") and p.stat().st_size > 0
               for p in folder.iterdir()):
            time.sleep(0.3)  # into Blender's export
            return
        time.sleep(0.01)
    raise AssertionError("the export never started")


def _cache_entry(r: Run) -> Path:
    """The person clip's landmark cache entry (made by a first, clean conversion)."""
    first = r.convert(r.inputs.person, out=r.tmp / "warm/")
    assert first.returncode == 0, first.stderr
    (entry,) = [p for p in r.inputs.cache.iterdir() if p.name.startswith("person.") and p.suffix == ".npz"]
    return entry


def _cache_fault(damage: Callable[[Path], None]):
    def run(r: Run):
        entry = _cache_entry(r)
        good = entry.read_bytes()
        try:
            damage(entry)
            proc = r.convert(r.inputs.person)
            from mocap.detect.cache import read_tracks

            read_tracks(entry)  # detection ran again and replaced the bad entry
        finally:
            entry.write_bytes(good)
        return proc

    return run


def _older_cache(entry: Path) -> None:
    with np.load(entry) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["format_version"] = np.array(0)
    with open(entry, "wb") as fh:
        np.savez(fh, **arrays)


def _option(*opts: str):
    return lambda r: r.convert(r.inputs.person, *opts)


def _batch_one_bad(r: Run):
    src = r.tmp / "src"
    src.mkdir()
    shutil.copy(r.inputs.person, src / "a.mp4")
    (src / "b.mp4").write_text("not a video")
    shutil.copy(r.inputs.person, src / "c.mp4")
    first = r.mocap("batch", src, "-o", r.out, "-q", "-j", "1")
    assert (r.out / "a.bvh").is_file() and (r.out / "c.bvh").is_file(), first.stderr
    (src / "b.mp4").unlink()
    shutil.copy(r.inputs.person, src / "b.mp4")
    again = r.mocap("batch", src, "-o", r.out, "-j", "1")
    assert again.returncode == 0, again.stderr
    assert _bvh_frames(r.out / "b.bvh") > 0
    assert "a" in again.stdout + again.stderr
    return first


def _batch_interrupt(sig: int):
    def run(r: Run):
        src = r.tmp / "src"
        src.mkdir()
        long = r.inputs.get("long.mp4", lambda p: _encode(p, _sample_frames(150, height=480)))
        for name in ("a", "b", "c"):
            shutil.copy(long, src / f"{name}.mp4")
        cmd = [str(MOCAP), "batch", str(src), "-o", str(r.out), "-q", "-j", "1", "--no-cache"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=r.env())
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None and not (r.out / "a.bvh").exists():
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
        first = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
        assert (r.out / "a.bvh").is_file(), err
        done_before = (r.out / "a.bvh").stat().st_mtime_ns
        again = r.mocap("batch", src, "-o", r.out, "-q", "-j", "1")
        assert again.returncode == 0, again.stderr
        assert (r.out / "a.bvh").stat().st_mtime_ns == done_before  # resumed: a was not redone
        assert all(_bvh_frames(r.out / f"{n}.bvh") > 0 for n in "abc")
        return first

    return run


ROWS = [
    # --- the input file
    Row("missing path", _missing, 2, "does not exist", lambda r: "no such clip.mp4"),
    Row("a directory", _directory, 2, "is a directory", lambda r: r.tmp / "clips.mp4"),
    Row("empty file", _empty, 2, "empty", lambda r: r.tmp / "empty.mp4"),
    Row("text named .mp4", _text, 2, "not a readable video", lambda r: r.tmp / "notes.mp4"),
    Row("truncated mp4, index at the end", _truncated_moov_at_end, 2, "not a readable video|truncated", lambda r: r.tmp / "cut.mp4"),
    Row("truncated mp4, index at the front", _truncated_moov_at_front, 2, "truncated", lambda r: r.tmp / "cut.mp4"),
    Row("zero frames", _zero_frames, 2, "no video stream|no frames", lambda r: r.tmp / "zero.mp4"),
    Row("one frame", _one_frame, 4, "frame", lambda r: r.inputs.made["one.mp4"]),
    Row("audio only", _audio, 2, "no video stream", lambda r: r.inputs.made["audio.m4a"]),
    Row("image file", _image, 2, "image", lambda r: r.inputs.made["photo.png"]),
    Row("no person", _no_person, 4, "person was detected in only 0", lambda r: r.inputs.made["empty_room.mp4"]),
    # --- clips that must convert
    Row("person leaves halfway", _leaves_halfway),
    Row("several people", _two_people),
    Row("4K", _four_k),
    Row("portrait with rotation metadata", _portrait),
    Row("variable frame rate", _vfr),
    Row("mkv", _container("clip.mkv", "libx264", "yuv420p")),
    Row("webm VP9", _container("clip.webm", "libvpx-vp9", "yuv420p", {"deadline": "realtime", "cpu-used": "8"})),
    Row("MJPEG avi", _container("clip.avi", "mjpeg", "yuvj420p")),
    Row("ProRes mov", _container("clip.mov", "prores_ks", "yuv422p10le")),
    Row("spaces and non-ASCII in paths", _odd_path, check=_check_odd_path),
    Row("missing output folder", _folder_missing, check=_check_folder_missing),
    # --- the outputs
    Row("outputs collide (clip.mov, clip.mkv)", _collide, 2, "would both write", lambda r: "clip.m", earlier=None),
    Row("read-only output folder", _read_only, 5, "read-only|Permission denied|cannot write", lambda r: r.out / "person.bvh"),
    Row("full disk", _full_disk, 5, "No space left", lambda r: r.out / "person"),
    Row("output path is a folder", _out_is_folder, 5, "is a folder", lambda r: r.out / "person.fbx"),
    Row("output folder is a file", _out_under_a_file, 5, "not a folder", lambda r: r.tmp / "notafolder"),
    # --- interruptions
    Row("SIGINT during conversion", _interrupt(signal.SIGINT), 130, "interrupted by SIGINT", lambda r: "long.mp4", earlier="long.bvh"),
    Row("SIGTERM during conversion", _interrupt(signal.SIGTERM), 143, "interrupted by SIGTERM", lambda r: "long.mp4", earlier="long.bvh"),
    Row("SIGINT during FBX export", _interrupt(signal.SIGINT, "bvh,fbx", "solve"), 130, "interrupted by SIGINT", lambda r: "long.mp4", earlier="long.bvh"),
    Row("SIGTERM during FBX export", _interrupt(signal.SIGTERM, "bvh,fbx", "solve"), 143, "interrupted by SIGTERM", lambda r: "long.mp4", earlier="long.bvh"),
    Row("SIGINT during preview", _preview_interrupt(signal.SIGINT), 130, "interrupted by SIGINT", lambda r: "long.mp4", earlier="long.preview.mp4"),
    Row("SIGTERM during preview", _preview_interrupt(signal.SIGTERM), 143, "interrupted by SIGTERM", lambda r: "long.mp4", earlier="long.preview.mp4"),
    Row("SIGINT during preview into a new folder", _preview_interrupt(signal.SIGINT, new_folder=True), 130, "interrupted by SIGINT", lambda r: "long.mp4", earlier=None),
    Row("SIGINT during batch", _batch_interrupt(signal.SIGINT), 130, "interrupted", lambda r: "", earlier=None),
    Row("SIGTERM during batch", _batch_interrupt(signal.SIGTERM), 143, "interrupted", lambda r: "", earlier=None),
    Row("a bad file in a batch", _batch_one_bad, 1, "b.mp4", lambda r: "b.mp4", earlier=None),
    # --- the landmark cache (it is rebuilt, the conversion succeeds)
    Row("corrupt landmark cache", _cache_fault(lambda p: p.write_bytes(b"\x00garbage" * 100))),
    Row("truncated landmark cache", _cache_fault(lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]))),
    Row("landmark cache from an older version", _cache_fault(_older_cache)),
    # --- options out of range
    Row("negative trim", _option("--start", "-1"), 2, "--start", lambda r: "--start"),
    Row("end before start", _option("--start", "2", "--end", "1"), 2, "--end", lambda r: "--end"),
    Row("trim past the end", _option("--start", "30"), 2, "no frames", lambda r: r.inputs.person),
    Row("unknown rig", _option("--rig", "nosuchrig"), 2, "nosuchrig", lambda r: "--rig"),
    Row("--fov 0", _option("--fov", "0"), 2, "--fov", lambda r: "--fov"),
    Row("smoothing 0 Hz", _option("--smoothing", "0"), 2, "positive", lambda r: "--smoothing"),
    Row("smoothing not a number", _option("--smoothing", "nan"), 2, "finite", lambda r: "--smoothing"),
    Row("smoothing far too low", _option("--smoothing", "1e-5"), 2, "at least 0.1 Hz", lambda r: "--smoothing"),
    Row("smoothing at half --fps", _option("--fps", "30", "--smoothing", "15"), 2, "below half the frame rate",
        lambda r: "--smoothing"),
    Row("rotation order not a permutation", _option("--rotation-order", "XYX"), 2, "permutation", lambda r: "--rotation-order"),
    Row("unknown format", _option("-f", "bvh,obj"), 2, "obj", lambda r: "--format"),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_matrix(row: Row, inputs: Inputs, tmp_path: Path) -> None:
    r = Run(inputs, tmp_path)
    r.out.mkdir()
    if row.earlier:
        (r.out / row.earlier).write_bytes(EARLIER)
    proc = row.run(r)
    if row.code == 0:
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        if row.check is not None:
            row.check(r, proc)
        else:
            assert _bvh_frames(r.out / f"{_stem(proc)}.bvh") > 0
        return
    lines = proc.stderr.rstrip("\n").splitlines()  # a blank line before the error counts too
    assert proc.returncode == row.code, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in lines if line.startswith("error: ")]
    if "batch" in row.id:  # a batch lists its jobs; its failure lines still name file and problem
        assert any(re.search(row.problem, line) for line in lines), proc.stderr
    else:
        assert len(lines) == 1 and len(errors) == 1, proc.stderr
        named = str(row.names(r)) if row.names else ""
        assert named in errors[0], (named, errors[0])
        assert re.search(row.problem, errors[0]), errors[0]
    listing = r.tmp / "listing.txt"
    if listing.exists():  # the folder was a private mount: its listing was recorded inside
        assert listing.read_text().split() == ["person.bvh"]
        assert Path(f"{listing}.earlier").read_bytes() == EARLIER
    elif "batch" not in row.id:
        made = sorted(p.name for p in r.out.iterdir() if p.is_file() or p.name.startswith("."))
        assert made == ([row.earlier] if row.earlier else [])  # nothing new, no temp file
        if row.earlier:
            assert (r.out / row.earlier).read_bytes() == EARLIER


def _stem(proc: subprocess.CompletedProcess) -> str:
    video = Path(proc.args[proc.args.index("convert") + 1])
    return video.stem


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    """--debug, anywhere on the line, prints the traceback before the same one line."""
    (tmp_path / "notes.mp4").write_text("not a video")
    for argv in (["--debug", "convert", tmp_path / "notes.mp4"], ["convert", tmp_path / "notes.mp4", "--debug"]):
        proc = subprocess.run([str(MOCAP), *map(str, argv)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert lines[0] == "Traceback (most recent call last):", proc.stderr
        assert lines[-1].startswith(f"error: {tmp_path / 'notes.mp4'}: not a readable video"), proc.stderr
