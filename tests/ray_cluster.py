"""A real Ray cluster on loopback for tests and benchmarks: `ray start --head` plus more
`ray start` node processes, each with one CPU (optionally pinned to one core with taskset)
and a resource of its own, all inside a private network namespace that holds only the
loopback interface, with token authentication on. Nothing can reach, or be reached from,
outside the namespace. Needs root (unshare, nsenter).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


class NoNamespace(RuntimeError):
    """A private network namespace could not be made (not root)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_with(text: str) -> list[int]:
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
            raise NoNamespace("a private network namespace is needed (unshare --net: root)")

    def run(self, argv: list[str], log: Path, **kw) -> subprocess.Popen:
        """Start argv inside the namespace, in a session of its own."""
        proc = subprocess.Popen(
            ["nsenter", "-t", str(self.holder.pid), "-n", "--", *argv],
            env=self.env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True, **kw,
        )
        self.started.append(proc)
        return proc

    def start(self, nodes: int = 2, pin: bool = False) -> None:
        """Head plus nodes-1 more, one CPU each; pin=True binds node k to core k (taskset)."""
        common = ["--num-cpus=1", "--disable-usage-stats", "--block"]
        for k in range(nodes):
            where = (["--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.temp}"]
                     if k == 0 else [f"--address={self.address}"])
            taskset = ["taskset", "-c", str(k % (os.cpu_count() or 1))] if pin else []
            self.run([*taskset, "ray", "start", *where, f'--resources={{"node{k}": 1}}', *common],
                     self.temp / f"node{k}.log")
            self._wait_nodes(k + 1)

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
        for pid in processes_with(str(self.temp)):  # raylets, GCS and workers of this cluster only
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.holder.kill()
        self.holder.wait()
        shutil.rmtree(self.temp, ignore_errors=True)
