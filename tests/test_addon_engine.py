"""The add-on's engine runner (blender_addon/engine.py, no bpy) and `mocap convert --progress json`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MOCAP = Path(sys.executable).with_name("mocap")
_spec = importlib.util.spec_from_file_location("addon_engine", REPO / "blender_addon" / "engine.py")
engine = importlib.util.module_from_spec(_spec)
sys.modules["addon_engine"] = engine  # dataclasses look their module up
_spec.loader.exec_module(engine)


def _fake_engine(tmp_path: Path, body: str, version: str = "0.1.0") -> Path:
    """A stand-in `mocap` that answers --version and runs `body` (sh) for convert."""
    exe = tmp_path / "fake-mocap"
    exe.write_text(f"""#!/bin/sh
if [ "$1" = "--version" ]; then echo "mocap {version}"; exit 0; fi
{body}
""")
    exe.chmod(0o755)
    return exe


def test_missing_engine_message_says_how_to_install(tmp_path):
    with pytest.raises(engine.EngineError, match=r"mocap engine not found at .*pipx install mocap-video"):
        engine.find_engine(str(tmp_path / "nowhere" / "mocap"))


def test_old_or_foreign_engine_is_refused(tmp_path):
    with pytest.raises(engine.EngineError, match="0.0.1 .* too old"):
        engine.find_engine(str(_fake_engine(tmp_path, "exit 0", version="0.0.1")))
    other = tmp_path / "other"
    other.write_text("#!/bin/sh\necho 'something else 1.0'\n")
    other.chmod(0o755)
    with pytest.raises(engine.EngineError, match="is not the mocap engine"):
        engine.find_engine(str(other))


def test_real_engine_is_found():
    found = engine.find_engine(str(MOCAP))
    assert found.version >= engine.MIN_ENGINE_VERSION


def test_cancel_ends_the_process_and_removes_its_files(tmp_path):
    # writes a partial file into the output folder, then reports progress slowly
    body = """out="$4"; echo partial > "${out}half.json.part"
echo '{"event": "start", "frames": 100, "fps": 30}'
i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo "{\\"event\\": \\"progress\\", \\"done\\": $i, \\"total\\": 100}"; sleep 0.05; done
"""
    job = engine.ConvertJob(engine.find_engine(str(_fake_engine(tmp_path, body))), tmp_path / "clip.mp4").start()
    t0 = time.monotonic()
    while job.poll().done < 5:
        assert time.monotonic() - t0 < 30
        time.sleep(0.02)
    assert job.folder.exists() and any(job.folder.iterdir())
    job.cancel()
    state = job.poll()
    assert state.status == "cancelled" and "nothing was written" in state.message
    assert job._proc.returncode is not None
    assert not job.folder.exists()


def test_failure_reports_the_engines_message(tmp_path):
    body = """echo '{"event": "error", "message": "clip.mp4: not a video", "exit_code": 2}'
echo 'error: clip.mp4: not a video' >&2; exit 2"""
    job = engine.ConvertJob(engine.find_engine(str(_fake_engine(tmp_path, body))), tmp_path / "clip.mp4").start()
    state = job.wait(0.05, timeout_s=30)
    assert state.status == "failed" and state.message == "mocap failed (exit 2): clip.mp4: not a video"
    job.cleanup()
    assert not job.folder.exists()


def test_keep_copy_is_atomic(tmp_path):
    src = tmp_path / "a" / "clip.json"
    src.parent.mkdir()
    src.write_text("{}")
    out = engine.keep_copy(src, tmp_path / "keep")
    assert out.read_text() == "{}" and [p.name for p in out.parent.iterdir()] == ["clip.json"]


@pytest.mark.mediapipe
def test_progress_json_stream(tmp_path):
    """`mocap convert --progress json`: start, monotonic progress to the total, solve, done."""
    import os

    cache = os.environ.get("MOCAP_CACHE_DIR", str(tmp_path / "cache"))
    proc = subprocess.run([str(MOCAP), "convert", str(REPO / "samples" / "squats.mp4"), "-o", f"{tmp_path}/",
                           "-f", "json", "--progress", "json", "--cache-dir", cache],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-2:] == ["stage", "done"] and set(kinds[1:-2]) == {"progress"}
    assert events[0]["frames"] == 65 and events[0]["fps"] == pytest.approx(5.0)
    done = [e["done"] for e in events if e["event"] == "progress"]
    assert done == sorted(done) and done[-1] == 65
    motion = Path(events[-1]["outputs"]["json"])
    from mocap.retarget import read_motion

    assert read_motion(motion).n_frames == 65 and events[-1]["frames"] == 65


def test_progress_json_error_event(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"not a video at all")
    proc = subprocess.run([str(MOCAP), "convert", str(bad), "-f", "json", "--progress", "json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[-1]["event"] == "error" and events[-1]["exit_code"] == 2 and "clip.mp4" in events[-1]["message"]
    assert list(tmp_path.iterdir()) == [bad]
