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
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mocap.bvh import read_bvh
from mocap.pipeline import ConvertOptions, convert

pytestmark = [pytest.mark.ray, pytest.mark.mediapipe, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
CLIPS = [REPO / "samples" / "dance_arms.mp4", REPO / "samples" / "squats.mp4"]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_with(text: str) -> list[int]:
    """Pids whose command line contains `text` (only processes this test started do)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class LoopbackCluster:
    """Head + one more node in a private network namespace; see the module docstring."""

    def __init__(self) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="mocap-ray-", dir="/tmp"))  # short: Ray's socket paths
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(16),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self.started: list[subprocess.Popen] = []
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec sleep 3600"],
            start_new_session=True,
        )
        time.sleep(0.5)
        if self.holder.poll() is not None:
            shutil.rmtree(self.temp, ignore_errors=True)
            message = "a private network namespace is needed (unshare --net: root)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)

    def run(self, argv: list[str], log: Path, **kw) -> subprocess.Popen:
        """Start argv inside the namespace, in a session of its own."""
        proc = subprocess.Popen(
            ["nsenter", "-t", str(self.holder.pid), "-n", "--", *argv],
            env=self.env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True, **kw,
        )
        self.started.append(proc)
        return proc

    def start(self) -> None:
        common = ["--num-cpus=1", "--disable-usage-stats", "--block"]
        self.run(["ray", "start", "--head", f"--port={self.port}", "--include-dashboard=false",
                  f"--temp-dir={self.temp}", '--resources={"head_node": 1}', *common], self.temp / "head.log")
        self._wait_nodes(1)
        self.run(["ray", "start", f"--address={self.address}", '--resources={"second_node": 1}', *common],
                 self.temp / "node2.log")
        self._wait_nodes(2)

    def _wait_nodes(self, n: int, timeout_s: float = 180.0) -> None:
        probe = (
            "import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False); "
            "nodes = [x for x in ray.nodes() if x['Alive']]; "
            "print(len(nodes), sorted({x['NodeManagerAddress'] for x in nodes}))"
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            log = self.temp / "probe.log"
            proc = self.run([sys.executable, "-c", probe, self.address], log)
            proc.wait(timeout=120)
            self.started.remove(proc)
            words = log.read_text().strip().splitlines()[-1:] or [""]
            if words[0].startswith(f"{n} "):
                assert "['127.0.0.1']" in words[0], words[0]  # every node on loopback
                return
            time.sleep(2)
        raise AssertionError(f"the Ray cluster did not reach {n} nodes: {(self.temp / 'head.log').read_text()[-2000:]}")

    def stop(self) -> None:
        for proc in reversed(self.started):
            with_group = proc.pid
            try:
                os.killpg(with_group, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.started:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for pid in _processes_with(str(self.temp)):  # raylets, GCS and workers of this cluster only
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.holder.kill()
        self.holder.wait()
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    c = LoopbackCluster()
    try:
        c.start()
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
            for pid in _processes_with("ray::_call"):
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
        ["mocap-batch.jsonl"] + [f"{c.stem}.{ext}" for c in CLIPS for ext in ("bvh", "contacts.json")]
    )
