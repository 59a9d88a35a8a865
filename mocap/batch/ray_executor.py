"""The batch's tasks as Ray tasks: the same jobs, chunks, manifest and resume, many machines.

The only module that imports `ray` (an optional extra: pip install 'mocap-video[ray]'), lazily.
Every task is one remote function call, `_call(fn, args)`, asking for one CPU: Ray reuses
its worker processes, so each imports mediapipe and reads the model once and keeps them
for every later task (a MediaPipe graph is still made per video or chunk: its tracker must
start fresh). A worker process or node that dies takes its task with it; Ray runs the task
again on a live worker (`max_retries`) and only then reports it lost. Errors the pipeline
raises (a bad file) come back as values, so they are never retried.

Inputs and outputs are paths, not bytes: every node must see the input videos and OUTDIR
at the same path (a shared filesystem, docs/batch.md). With no address, a private Ray is
started on this machine bound to 127.0.0.1 with no dashboard; Ray's ports have no
authentication, so a cluster must only ever be reachable on a trusted private network.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from mocap.batch.pool import Event
from mocap.errors import MocapError

_threads_set = False


def _call(fn: Callable[..., Any], args: tuple) -> tuple[str, Any, int]:
    """Runs on a Ray worker: ('done', result, frames) or ('error', (class, message, exit code), frames)."""
    global _threads_set
    if not _threads_set:  # Ray already sets OMP_NUM_THREADS to the task's CPUs
        from mocap.batch.pool import limit_threads

        limit_threads(1)
        _threads_set = True
    frames = [0]

    def progress(n: int = 1) -> None:
        frames[0] += n

    try:
        return "done", fn(*args, progress=progress), frames[0]
    except MocapError as exc:
        return "error", (type(exc).__name__, str(exc), exc.exit_code), frames[0]


class RayExecutor:
    """WorkerPool's interface (submit, events, terminate, close) over Ray tasks.

    address None starts a local Ray on 127.0.0.1 (no dashboard) for this run only;
    'auto' or 'HOST:PORT' joins a running cluster. Raises MocapError when Ray is not
    installed or the cluster cannot be reached.
    """

    retries_crashes = True  # Ray re-runs a task whose worker died; the runner must not again

    def __init__(self, address: str | None = None, max_in_flight: int = 1, max_retries: int = 2):
        if address is None and "ray" not in sys.modules:
            # Ray's single-machine mode: every server binds 127.0.0.1 (and, from Ray 2.59, a
            # token is required). Without it Ray swaps 127.0.0.1 for the machine's address.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError as exc:
            raise MocapError("--executor ray needs Ray: pip install 'mocap-video[ray]'") from exc
        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            try:
                if address is None:
                    ray.init(
                        _node_ip_address="127.0.0.1",
                        include_dashboard=False,
                        num_cpus=max(1, int(max_in_flight)),
                        log_to_driver=False,
                        configure_logging=False,
                    )
                else:
                    ray.init(address=address, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise MocapError(f"cannot reach the Ray cluster at {address or 'a new local Ray'}: {exc}") from exc
        self._remote = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=False)(_call)
        self._refs: dict[Any, str] = {}

    @property
    def n_workers(self) -> int:
        return int(self._ray.cluster_resources().get("CPU", 1))

    def submit(self, task_id: str, fn: Callable[..., Any], args: tuple = ()) -> None:
        self._refs[self._remote.remote(fn, args)] = task_id

    def events(self, timeout_s: float | None = None) -> Iterator[Event]:
        ray = self._ray
        while self._refs:
            ready, _ = ray.wait(list(self._refs), num_returns=1, timeout=timeout_s)
            if not ready:
                return
            for ref in ready:
                task_id = self._refs.pop(ref)
                try:
                    status, value, frames = ray.get(ref)
                except ray.exceptions.RayError as exc:  # worker or node lost beyond max_retries
                    yield Event("crashed", task_id, f"{type(exc).__name__}")
                    continue
                if frames:
                    yield Event("progress", task_id, frames)
                yield Event(status, task_id, value)

    def terminate(self) -> list[str]:
        """Cancel every task in flight (force: their worker processes are killed)."""
        abandoned = list(self._refs.values())
        for ref in list(self._refs):
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - a task that already ended cannot be cancelled
                pass
        self._refs.clear()
        self.close()
        return abandoned

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns = False

