"""`mocap batch --executor ray` against a real Ray cluster of two node processes.

The test makes a private network namespace holding only the loopback interface, starts
`ray start --head` and a second `ray start` node in it (one CPU and a resource of its own
each, token authentication on), and runs `mocap batch --executor ray --ray-address` there
too. Nothing can reach, or be reached from, outside the namespace. While the batch runs,
the test SIGKILLs the worker process running the first task it sees: Ray must run that task
again on a live worker and the batch must finish with every output equal to a one-process
conversion of the same clip. Needs root (unshare, nsenter), as CI has.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mocap.bvh import read_bvh
from mocap.pipeline import ConvertOptions, convert
from ray_cluster import BIN, LoopbackCluster, NoNamespace, processes_with

pytestmark = [pytest.mark.ray, pytest.mark.mediapipe, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
CLIPS = [REPO / "samples" / "dance_arms.mp4", REPO / "samples" / "squats.mp4"]


@pytest.fixture(scope="module")
def cluster():
    try:
        c = LoopbackCluster()
    except NoNamespace as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        c.start(nodes=2)
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, Path]:
    """Each clip converted in this process, one-process detection."""
    out = tmp_path_factory.mktemp("reference")
    options = ConvertOptions(use_cache=False)
    return {clip.stem: convert(clip, out / f"{clip.stem}.bvh", options).outputs["bvh"] for clip in CLIPS}


class Killer(threading.Thread):
    """SIGKILLs the first Ray worker seen running one of mocap's tasks for `after_s`."""

    def __init__(self, after_s: float = 1.0):
        super().__init__(daemon=True)
        self.after_s, self.killed, self.stop = after_s, None, threading.Event()

    def run(self) -> None:
        seen: dict[int, float] = {}
        while not self.stop.is_set() and self.killed is None:
            for pid in processes_with("ray::_call"):
                first = seen.setdefault(pid, time.monotonic())
                if time.monotonic() - first >= self.after_s:
                    os.kill(pid, signal.SIGKILL)
                    self.killed = pid
                    return
            time.sleep(0.05)


def test_ray_batch_survives_a_killed_worker(cluster, reference, tmp_path):
    inputs = tmp_path / "takes"
    inputs.mkdir()
    for clip in CLIPS:
        shutil.copy(clip, inputs / clip.name)
    (inputs / "broken.mp4").write_bytes(b"not a video")
    out = tmp_path / "out"
    killer = Killer()
    killer.start()
    driver = cluster.run(
        [str(BIN / "mocap"), "batch", str(inputs), "-o", str(out), "--executor", "ray",
         "--ray-address", cluster.address, "--no-cache", "-q"],
        tmp_path / "driver.log",
    )
    try:
        code = driver.wait(timeout=600)
    finally:
        killer.stop.set()
        cluster.started.remove(driver)
    log = (tmp_path / "driver.log").read_text()
    assert code == 1, log  # the broken file fails, alone
    assert killer.killed is not None, "no worker was seen running a task"
    records = {}
    for line in (out / "mocap-batch.jsonl").read_text().splitlines():
        record = json.loads(line)
        records[record["job"]] = record
    assert records["broken"]["status"] == "failed" and "broken.mp4" in records["broken"]["error"]
    for clip in CLIPS:
        record = records[clip.stem]
        assert record["status"] == "done", record
        assert not record["worker"].endswith(f":{killer.killed}")  # finished by another worker
        got = read_bvh(out / record["outputs"]["bvh"])
        want = read_bvh(reference[clip.stem])
        assert got.n_frames == want.n_frames
        np.testing.assert_allclose(got.root_position_m, want.root_position_m, atol=1e-5)
        np.testing.assert_allclose(np.abs(np.sum(got.rotations_xyzw * want.rotations_xyzw, axis=-1)), 1.0, atol=1e-5)
    assert not (out / ".mocap-staging").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["mocap-batch.jsonl"] + [f"{c.stem}.{ext}" for c in CLIPS for ext in ("bvh", "camera.json", "contacts.json")]
    )
