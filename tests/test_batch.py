"""`mocap batch` on local processes: inputs, manifest, resume, failures, Ctrl-C, the pool,
and time chunks (`convert --jobs`)."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mocap.batch.inputs import expand_inputs
from mocap.batch.manifest import Manifest
from mocap.batch.pool import Event, WorkerPool
from mocap.cli import app
from mocap.data import BLAZEPOSE_NAMES, LandmarkTracks
from mocap.detect.chunks import Chunk, plan_chunks, stitch_chunks
from mocap.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
runner = CliRunner()


# ---------------------------------------------------------------- inputs


def test_inputs_files_folders_globs(tmp_path):
    (tmp_path / "day1" / "cam").mkdir(parents=True)
    for name in ("day1/a.mp4", "day1/cam/b.MOV", "day1/notes.txt", "day1/.hidden.mp4", "c.avi"):
        (tmp_path / name).write_bytes(b"x")
    found = expand_inputs([str(tmp_path / "day1"), str(tmp_path / "c.avi")])
    assert [(i.path.name, i.key) for i in found] == [("a.mp4", "a"), ("b.MOV", "cam/b"), ("c.avi", "c")]
    globbed = expand_inputs([str(tmp_path / "**" / "*.mp4"), str(tmp_path / "day1" / "a.mp4")])
    assert [(i.path.name, i.key) for i in globbed] == [("a.mp4", "day1/a")]  # the same file once


def test_inputs_that_name_nothing_or_collide_are_usage_errors(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        expand_inputs([str(tmp_path / "missing.mp4")])
    with pytest.raises(InputError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.mp4")])
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "take.mp4").write_bytes(b"x")
    with pytest.raises(InputError, match="would both write take"):
        expand_inputs([str(tmp_path / "x" / "take.mp4"), str(tmp_path / "y" / "take.mp4")])


def test_clash_hint_fits_where_the_two_files_are(tmp_path):
    """Two files of one folder that differ in suffix cannot be kept apart by giving folders:
    the hint says to rename one. Files of two folders get their common folder as the hint."""
    (tmp_path / "src").mkdir()
    for name in ("a.mp4", "a.mov"):
        (tmp_path / "src" / name).write_bytes(b"x")
    with pytest.raises(InputError) as same:
        expand_inputs([str(tmp_path / "src")])
    assert str(same.value) == (f"{tmp_path / 'src' / 'a.mov'} and {tmp_path / 'src' / 'a.mp4'} would both write a.*: "
                               "they differ only in their suffix; rename one of them")
    for folder in ("x", "y"):
        (tmp_path / "shoot" / folder).mkdir(parents=True)
        (tmp_path / "shoot" / folder / "take.mp4").write_bytes(b"x")
    for items in ([tmp_path / "shoot" / "x" / "take.mp4", tmp_path / "shoot" / "y" / "take.mp4"],
                  [tmp_path / "shoot" / "x", tmp_path / "shoot" / "y"]):
        with pytest.raises(InputError) as apart:
            expand_inputs([str(i) for i in items])
        assert str(apart.value).endswith(f"would both write take.*; give the folder that holds both "
                                         f"({tmp_path / 'shoot'}) as the input, so the layout keeps them apart")
    # and the hint works: the common folder keeps them apart
    assert [i.key for i in expand_inputs([str(tmp_path / "shoot")])] == ["x/take", "y/take"]


def test_mocap_outputs_and_outdir_are_never_inputs(tmp_path):
    """With -o inside the input folder, a second run must not convert the first run's
    previews and mattes, nor anything else under OUTDIR (or a batch's hidden staging)."""
    from mocap.batch.runner import BatchConfig, plan_batch
    from mocap.pipeline import ConvertOptions

    src, out = tmp_path / "src", tmp_path / "src" / "mocap_out"
    for name in ("a.mp4", "day2/b.mov", "a.preview.mp4", "a.matte.mkv", "day2/b.Preview.MP4",
                 "mocap_out/a.preview.mp4", "mocap_out/c.mp4", "mocap_out/.mocap-staging/a/a.matte.mkv",
                 ".cache/d.mp4"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(b"x")
    for items in ([str(src)], [str(src / "**" / "*.m*")]):
        assert [i.key for i in expand_inputs(items, out)] == ["a", "day2/b"], items
        jobs, _ = plan_batch(items, out, ConvertOptions(), BatchConfig())
        assert [j.key for j in jobs] == ["a", "day2/b"], items
    # OUTDIR's own files when OUTDIR itself is the input folder: still no preview or matte
    assert [i.key for i in expand_inputs([str(out)], out)] == ["c"]
    # files named one by one (a shell's unquoted `src/*.mp4`): the preview is still left out
    assert [i.key for i in expand_inputs([str(src / "a.mp4"), str(src / "a.preview.mp4")], out)] == ["a"]


def test_batch_has_every_convert_option():
    from mocap.cli import convert
    from mocap.cli_batch import batch

    # --progress json is the add-on's stream for one take; batch reports jobs and frames itself.
    convert_options = set(inspect.signature(convert).parameters) - {"video", "progress"}
    assert convert_options <= set(inspect.signature(batch).parameters)


# Options both commands take whose meaning differs in a batch: per job (--preview, --matte,
# --quiet), a flag instead of a path (--report), jobs instead of chunks (--jobs), a folder
# (--out), applied to every video (--start, --end).
PER_COMMAND = {"out", "start", "end", "preview", "report", "matte", "quiet", "jobs"}


def test_shared_options_are_declared_alike_in_convert_and_batch():
    """Every other option both commands take is one declaration (mocap/cli_options.py): the
    same names, default, help, type and range in `mocap convert --help` and `mocap batch --help`."""
    import typer

    commands = typer.main.get_command(app).commands

    def declared(command: str) -> dict[str, tuple]:
        def what(p) -> tuple:
            info = p.type_descriptor.parameter_info
            return (tuple(p.opts), tuple(p.secondary_opts), p.default, p.help, p.type_descriptor.annotation,
                    p.min, p.max, p.callback, info.file_okay, info.dir_okay, info.exists)

        return {p.name: what(p) for p in commands[command].params}

    convert, batch = declared("convert"), declared("batch")
    shared = (set(convert) & set(batch)) - PER_COMMAND
    assert len(shared) >= 18, sorted(shared)
    for name in sorted(shared):
        assert convert[name] == batch[name], name


def test_batch_refuses_a_cut_off_above_half_of_fps_before_any_job(tmp_path):
    result = runner.invoke(app, ["batch", str(SAMPLES / "squats.mp4"), "-o", str(tmp_path / "out"),
                                 "--fps", "24", "--smoothing", "12hz"])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.replace("│", " ").split())  # typer boxes and wraps the message
    assert "--smoothing: '12hz': the cut-off frequency must be below half the frame rate (--fps 24: below 12 Hz)" in flat
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- manifest


def test_manifest_newest_record_wins_and_a_cut_line_is_ignored(tmp_path):
    path = tmp_path / "m.jsonl"
    m = Manifest(path)
    m.append({"job": "a", "status": "failed"})
    m.append({"job": "b", "status": "done"})
    with open(path, "a") as fh:
        fh.write('{"job": "a", "sta')  # a run killed in the middle of a write
    m2 = Manifest(path)
    assert m2.latest == {"a": {"job": "a", "status": "failed"}, "b": {"job": "b", "status": "done"}}
    m2.append({"job": "a", "status": "done"})
    assert Manifest(path).latest["a"]["status"] == "done"


# ---------------------------------------------------------------- the pool


def _square(x, progress=None):
    progress(2)
    return x * x


def _die(x, progress=None):
    if x == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    raise InputError(f"{x}: not a video")


def test_pool_reports_results_errors_and_a_dead_worker_without_losing_the_others():
    events = []
    with WorkerPool(2) as pool:
        pool.submit("a", _square, (3,))
        pool.submit("b", _die, ("die",))
        pool.submit("c", _die, ("bad.mp4",))
        pool.submit("d", _square, (4,))
        events = list(pool.events())
    final = {e.task_id: e for e in events if e.kind != "progress"}
    assert final["a"].kind == "done" and final["a"].value == 9
    assert final["d"].kind == "done" and final["d"].value == 16
    assert final["b"].kind == "crashed" and final["b"].value == -signal.SIGKILL
    assert final["c"].kind == "error" and final["c"].value == ("InputError", "bad.mp4: not a video", 2)
    assert sum(e.value for e in events if e.kind == "progress" and e.task_id in "ad") == 4


# ---------------------------------------------------------------- chunks


def test_chunks_cover_every_frame_once_and_start_early_enough():
    chunks = plan_chunks(10, 1010, fps=25.0, n_chunks=4, min_chunk_s=5.0)
    assert [(c.first, c.stop) for c in chunks] == [(10, 260), (260, 510), (510, 760), (760, 1010)]
    assert chunks[0].decode_from == 10
    assert all(c.first - c.decode_from == 38 for c in chunks[1:])  # ceil((1.0 + 0.5) s * 25 fps)
    assert len(plan_chunks(0, 200, fps=25.0, n_chunks=4, min_chunk_s=5.0)) == 1  # too short to split


def _part(values: np.ndarray, chunk: Chunk) -> LandmarkTracks:
    """Tracks whose every coordinate of frame i is values[i], for the rows a chunk decodes."""
    rows = np.arange(chunk.decode_from, chunk.stop)
    v = values[rows]
    n = len(BLAZEPOSE_NAMES)
    return LandmarkTracks(
        names=BLAZEPOSE_NAMES, fps=10.0, times_s=rows / 10.0, frame_indices=rows, image_size_px=(64, 64),
        image_xy_px=np.repeat(v[:, None, None], n, 1).repeat(2, 2), world_m=np.repeat(v[:, None, None], n, 1).repeat(3, 2),
        visibility=np.ones((rows.size, n)), detected=np.ones(rows.size, bool),
    )


def test_stitching_keeps_each_chunks_frames_and_ramps_across_the_seam():
    truth = np.arange(100, dtype=float)
    chunks = plan_chunks(0, 100, fps=10.0, n_chunks=2, min_chunk_s=2.0)
    same = stitch_chunks(chunks, [_part(truth, c) for c in chunks], fps=10.0)
    np.testing.assert_array_equal(same.frame_indices, np.arange(100))
    np.testing.assert_allclose(same.image_xy_px[:, 0, 0], truth)  # equal parts: nothing changes
    shifted = truth + 10.0  # the later chunk's tracker history disagrees by 10
    parts = [_part(truth, chunks[0]), _part(shifted, chunks[1])]
    seam = chunks[1].first
    x = stitch_chunks(chunks, parts, fps=10.0).image_xy_px[:, 0, 0] - truth
    assert np.all(x[: seam - 5] == 0) and np.all(x[seam:] == 10)
    np.testing.assert_allclose(x[seam - 5 : seam], 10 * np.arange(1, 6) / 6)  # 0.5 s ramp, no step


@pytest.mark.mediapipe
def test_chunked_detection_matches_one_process_away_from_the_seam():
    from mocap.batch.chunked import ChunkedDetector
    from mocap.detect.mediapipe_pose import detect_landmarks
    from mocap.video import probe_video, read_frames

    info = probe_video(SAMPLES / "squats.mp4")  # 65 frames at 5 fps
    one = detect_landmarks(info, read_frames(info))
    counted = []
    detector = ChunkedDetector(2, min_chunk_s=5.0)
    two = detector(info, None, None, "full", counted.append)
    assert len(detector.chunks) == 2 and sum(counted) == 65
    np.testing.assert_array_equal(two.frame_indices, one.frame_indices)
    seam = detector.chunks[1].first
    blend = 3  # round(0.5 s * 5 fps) frames before the seam are cross-faded
    np.testing.assert_array_equal(two.image_xy_px[: seam - blend], one.image_xy_px[: seam - blend])
    error_px = np.nanmax(np.linalg.norm(two.image_xy_px - one.image_xy_px, axis=-1), axis=1)
    # The later chunk settled during its warm-up: at the seam it is as close to the
    # one-process run as a tracker with another history gets (tens of px, not a re-detection jump)
    assert np.all(error_px[seam - blend : seam + 3] < 40.0), error_px[seam - blend : seam + 3]


# ---------------------------------------------------------------- the command


@pytest.fixture
def takes(tmp_path) -> Path:
    folder = tmp_path / "takes"
    (folder / "day2").mkdir(parents=True)
    shutil.copy(SAMPLES / "squats.mp4", folder / "squats.mp4")
    shutil.copy(SAMPLES / "dance_arms.mp4", folder / "day2" / "dance.mp4")
    (folder / "day2" / "broken.mp4").write_bytes(b"this is not a video")
    return folder


def _records(out: Path) -> dict[str, dict]:
    latest = {}
    for line in (out / "mocap-batch.jsonl").read_text().splitlines():
        record = json.loads(line)
        latest[record["job"]] = record
    return latest


@pytest.mark.mediapipe
def test_batch_runs_resumes_and_fails_only_the_bad_file(takes, tmp_path):
    out = tmp_path / "out"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    result = runner.invoke(app, ["batch", str(takes), "-o", str(out), "-j", "2", *cache])
    assert result.exit_code == 1, result.output  # one job failed
    records = _records(out)
    assert records["day2/broken"]["status"] == "failed"
    assert records["day2/broken"]["error"].startswith(str(takes / "day2" / "broken.mp4"))
    assert "broken" in result.stderr and "failed jobs" in result.stderr
    for key, frames in (("squats", 65), ("day2/dance", 120)):
        r = records[key]
        assert r["status"] == "done" and r["frames"] == frames and r["detection_rate"] > 0.9
        assert set(r["timings_s"]) >= {"detect", "solve", "write", "total"}
        assert len(r["content_hash"]) == 64 and r["options"]["formats"] == ["bvh"]
        assert (out / r["outputs"]["bvh"]).is_file() and (out / r["outputs"]["contacts"]).is_file()
    assert records["day2/dance"]["outputs"]["bvh"] == "day2/dance.bvh"
    assert not (out / ".mocap-staging").exists()

    def plan(*extra):
        r = runner.invoke(app, ["batch", str(takes), "-o", str(out), "--dry-run", *cache, *extra])
        assert r.exit_code == 0, r.output
        return {line.split()[1]: line.split()[0] for line in r.stdout.splitlines()[1:] if line.strip() and line[0] != " "}

    assert plan() == {"squats": "skip", "day2/dance": "skip", "day2/broken": "failed"}
    assert plan("--smoothing", "light") == {"squats": "run", "day2/dance": "run", "day2/broken": "failed"}
    assert plan("--force")["squats"] == "run"
    os.utime(takes / "squats.mp4")  # touched, same content: still done
    assert plan()["squats"] == "skip"
    (takes / "day2" / "broken.mp4").unlink()
    shutil.copy(SAMPLES / "squats.mp4", takes / "day2" / "broken.mp4")  # fixed: the failed job runs again
    assert plan()["day2/broken"] == "run"
    again = runner.invoke(app, ["batch", str(takes), "-o", str(out), "-j", "2", "-q", *cache])
    assert again.exit_code == 0, again.output
    assert "1 done, 0 failed, 0 interrupted, 2 skipped" in again.stderr
    assert _records(out)["day2/broken"]["status"] == "done"


@pytest.mark.mediapipe
def test_a_batch_report_names_the_files_where_they_end_up(tmp_path):
    """Jobs write into OUTDIR/.mocap-staging and are moved into place; each job's report
    must name the files at their final paths (OUTDIR/<the key's folder>/...)."""
    src = tmp_path / "takes"
    (src / "day2").mkdir(parents=True)
    shutil.copy(SAMPLES / "squats.mp4", src / "day2" / "squats.mp4")
    out = tmp_path / "out"
    cache = os.environ.get("MOCAP_CACHE_DIR") or str(tmp_path / "cache")
    result = runner.invoke(app, ["batch", str(src), "-o", str(out), "-j", "1", "--report", "--preview",
                                 "--cache-dir", cache, "-q"])
    assert result.exit_code == 0, result.output
    record = _records(out)["day2/squats"]
    report = (out / record["outputs"]["report"]).read_text()
    assert ".mocap-staging" not in report
    for name in ("bvh", "contacts", "camera", "preview", "report"):
        final = out / record["outputs"][name]
        assert final.is_file() and f"<td>{final}</td>" in report, name
    assert f"Full preview: {out / 'day2' / 'squats.preview.mp4'}" in report


@pytest.mark.mediapipe
def test_ctrl_c_ends_the_workers_and_records_interrupted_jobs(takes, tmp_path):
    (takes / "day2" / "broken.mp4").unlink()
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mocap"), "batch", str(takes), "-o", str(out), "-j", "2", "--no-cache", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    staging = out / ".mocap-staging"
    deadline = time.monotonic() + 120
    while not (staging.is_dir() and len(list(staging.iterdir())) == 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2.0)  # both jobs are decoding and detecting now
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    records = _records(out)
    assert {r["status"] for r in records.values()} == {"interrupted"}, records
    assert sorted(p.name for p in out.iterdir()) == ["mocap-batch.jsonl"]  # no partial output, no staging
    assert "interrupted" in err
    r = runner.invoke(app, ["batch", str(takes), "-o", str(out), "--dry-run"])
    assert r.stdout.count("was interrupted") == 2


class _FinishedAtOnce:  # an executor whose one task has already written its outputs
    def submit(self, task_id, fn, args):
        staging = Path(args[1])
        self.summary = {"outputs": {}}
        for fmt, name in (("bvh", "a.bvh"), ("contacts", "a.contacts.json"), ("camera", "a.camera.json")):
            (staging / name).write_text(fmt)
            self.summary["outputs"][fmt] = str(staging / name)
        self.task_id = task_id

    def events(self):
        yield Event("done", self.task_id, self.summary)

    def terminate(self):
        return []

    def close(self):
        pass


def test_a_finished_job_is_skipped_however_its_paths_are_typed(tmp_path, monkeypatch):
    """Resume must not depend on the folder the command runs from: a batch run as
    `mocap batch in -o in/out` from one folder skips its done jobs when run again as
    `/abs/in -o /abs/in/out`, or as `t/in -o t/in/out` from the folder above."""
    from mocap.batch.runner import BatchConfig, plan_batch, run_batch
    from mocap.pipeline import ConvertOptions

    (tmp_path / "t" / "in").mkdir(parents=True)
    shutil.copy(SAMPLES / "squats.mp4", tmp_path / "t" / "in" / "a.mp4")
    options = ConvertOptions(use_cache=False)
    monkeypatch.chdir(tmp_path / "t")
    jobs, manifest = plan_batch(["in"], Path("in/out"), options, BatchConfig())
    run_batch(jobs, manifest, BatchConfig(), executor=_FinishedAtOnce())
    assert Manifest(Path("in/out/mocap-batch.jsonl")).latest["a"]["status"] == "done"
    for where, inputs, out in ((tmp_path / "t", "in", "in/out"),
                               (tmp_path, "t/in", "t/in/out"),
                               (tmp_path / "t" / "in", str(tmp_path / "t" / "in"), str(tmp_path / "t" / "in" / "out"))):
        monkeypatch.chdir(where)
        again, _ = plan_batch([inputs], Path(out), options, BatchConfig())
        assert [(job.action, job.reason) for job in again] == [("skip", "done (same file, same options)")], where


def test_longest_jobs_start_first_so_none_runs_alone_at_the_end(tmp_path):
    """LPT order: with a short clip first on the command line, the longer one is still
    submitted first (a long job started last keeps one worker busy while the others idle)."""
    from conftest import write_test_video

    from mocap.batch.runner import BatchConfig, plan_batch, run_batch
    from mocap.pipeline import ConvertOptions
    from mocap.video import probe_video, read_frames

    short, long = SAMPLES / "squats.mp4", tmp_path / "long.mp4"
    frames = [f.rgb for f in read_frames(probe_video(short))]
    write_test_video(long, frames * 2, fps=5)
    jobs, manifest = plan_batch([str(short), str(long)], tmp_path / "out", ConvertOptions(use_cache=False), BatchConfig())
    assert [job.input.name for job in jobs] == ["squats.mp4", "long.mp4"] and jobs[1].frames == 2 * jobs[0].frames

    class Recorder:  # takes the submissions, runs nothing
        submitted: list = []

        def submit(self, task_id, fn, args):
            self.submitted.append(Path(args[0]).name)

        def events(self):
            return iter(())

        def close(self):
            pass

    executor = Recorder()
    run_batch(jobs, manifest, BatchConfig(jobs=2), executor=executor)
    assert executor.submitted == ["long.mp4", "squats.mp4"]


def test_an_interrupt_while_outputs_move_into_place_still_records_the_job_done(tmp_path, monkeypatch):
    """An interrupt (Ctrl-C or SIGTERM) the moment a job's first output appears (what the failure matrix does) must
    leave that job `done`, all its outputs in place, so a resumed batch does not redo it."""
    from mocap.batch.runner import BatchConfig, plan_batch, run_batch
    from mocap.pipeline import ConvertOptions

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SAMPLES / "squats.mp4", src / "a.mp4")
    out = tmp_path / "out"
    jobs, manifest = plan_batch([str(src)], out, ConvertOptions(use_cache=False), BatchConfig())

    real_replace = Path.replace

    def replace_then_interrupt(self, target):
        moved = real_replace(self, target)
        if Path(target).suffix == ".bvh":
            signal.raise_signal(signal.SIGINT)  # arrives after a.bvh, before the others
        return moved

    monkeypatch.setattr(Path, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_batch(jobs, manifest, BatchConfig(), executor=_FinishedAtOnce())
    record = Manifest(out / "mocap-batch.jsonl").latest["a"]
    assert record["status"] == "done", record
    assert sorted(p.name for p in out.iterdir()) == ["a.bvh", "a.camera.json", "a.contacts.json", "mocap-batch.jsonl"]
    again, _ = plan_batch([str(src)], out, ConvertOptions(use_cache=False), BatchConfig())
    assert again[0].action == "skip"


@pytest.fixture(scope="module")
def long_take(tmp_path_factory) -> Path:
    """39 s of real footage at 5 fps: the squats sample three times over (195 frames)."""
    from conftest import write_test_video

    from mocap.video import probe_video, read_frames

    frames = [f.rgb for f in read_frames(probe_video(SAMPLES / "squats.mp4"))]
    return write_test_video(tmp_path_factory.mktemp("long") / "long_take.mp4", frames * 3, fps=5)


@pytest.mark.mediapipe
def test_long_videos_run_in_chunks_in_batch_and_convert(long_take, tmp_path):
    from mocap.bvh import read_bvh

    out = tmp_path / "out"
    result = runner.invoke(app, ["batch", str(long_take), "-o", str(out), "-j", "2", "--chunk-s", "15", "--no-cache",
                                 "--report", "-q"])
    assert result.exit_code == 0, result.output
    record = _records(out)["long_take"]
    assert record["status"] == "done" and record["frames"] == 195
    assert read_bvh(out / record["outputs"]["bvh"]).n_frames == 195
    assert (out / record["outputs"]["report"]).is_file() and "long_take.report.html" in (out / "index.html").read_text()
    report = (out / record["outputs"]["report"]).read_text()  # a job finished from chunks names its files too
    assert ".mocap-staging" not in report and f"<td>{out / 'long_take.bvh'}</td>" in report
    single = tmp_path / "convert.bvh"
    result = runner.invoke(app, ["convert", str(long_take), "-o", str(single), "--jobs", "2", "--no-cache", "-q"])
    assert result.exit_code == 0, result.output
    assert read_bvh(single).n_frames == 195
