"""A small pool of long-lived worker processes that survives a worker's death.

Why not concurrent.futures or multiprocessing.Pool: the first fails every pending task
when one worker dies (BrokenProcessPool) and cannot say which task killed it; the second
waits forever for a task whose worker was killed. Here each worker has its own pipe, so
the parent knows which task every worker holds: a dead worker's task is reported as
`crashed` (and the batch runner retries it once on a fresh worker), the others go on.

Workers are started with the `spawn` method (no fork of a process that holds MediaPipe or
rich's threads), ignore SIGINT (Ctrl-C is the parent's to handle: it ends the workers with
`terminate()`), and cap their own thread pools before numpy, OpenCV or PyAV start any
(`threads` each: BLAS via the environment, OpenCV and the PyAV decoder through their APIs).

Task functions are top-level functions `fn(*args, progress=callable) -> picklable`; the
worker sends `progress(n)` calls back, batched every ~0.2 s.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_PROGRESS_EVERY_S = 0.2


@dataclass(frozen=True)
class Event:
    """What the pool reports: kind is 'progress' (value: frames), 'done' (value: the
    task's result), 'error' (value: (class name, message, exit code)) or 'crashed'
    (value: the worker's exit code, negative for a signal)."""

    kind: str
    task_id: str
    value: Any = None


def limit_threads(threads: int) -> None:
    """Cap this process's native thread pools at `threads` (call before heavy imports)."""
    for name in _THREAD_ENV:
        os.environ[name] = str(threads)
    from mocap.video import set_decode_threads

    set_decode_threads(threads)
    with contextlib.suppress(ImportError):
        from mocap.detect.mediapipe_pose import limit_native_threads

        limit_native_threads(threads)


def _worker_main(conn: Connection, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        task_id, fn, args = message
        pending = [0, time.monotonic()]

        def progress(n: int = 1, _id: str = task_id) -> None:
            pending[0] += n
            now = time.monotonic()
            if now - pending[1] >= _PROGRESS_EVERY_S:
                conn.send(("progress", _id, pending[0]))
                pending[0], pending[1] = 0, now

        try:
            result = fn(*args, progress=progress)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back as one record
            from mocap.errors import MocapError

            if pending[0]:
                conn.send(("progress", task_id, pending[0]))
            if isinstance(exc, MocapError):
                conn.send(("error", task_id, (type(exc).__name__, str(exc), exc.exit_code)))
            else:
                last = traceback.format_exception_only(type(exc), exc)[-1].strip()
                conn.send(("error", task_id, (type(exc).__name__, f"internal error: {last}", 1)))
            continue
        if pending[0]:
            conn.send(("progress", task_id, pending[0]))
        conn.send(("done", task_id, result))


class _Worker:
    def __init__(self, ctx, threads: int):
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child, threads), daemon=True)
        saved = {name: os.environ.get(name) for name in _THREAD_ENV}
        os.environ.update({name: str(threads) for name in _THREAD_ENV})  # inherited before numpy loads
        try:
            self.process.start()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        child.close()
        self.task: str | None = None


class WorkerPool:
    """`n_workers` processes running submitted tasks; iterate `events()` for results.

    Usage: submit(...) any number of tasks, then consume events() until every task has
    produced one 'done', 'error' or 'crashed' event. terminate() ends all workers at once
    (their tasks are abandoned); close() lets them exit after their current task.
    """

    def __init__(self, n_workers: int, threads_per_worker: int = 1):
        if n_workers < 1:
            raise ValueError("a pool needs at least one worker")
        self._ctx = multiprocessing.get_context("spawn")
        self._threads = max(1, int(threads_per_worker))
        self._workers = [_Worker(self._ctx, self._threads) for _ in range(n_workers)]
        self._queue: deque[tuple[str, Callable[..., Any], tuple]] = deque()
        self._open = 0

    @property
    def n_workers(self) -> int:
        return len(self._workers)

    def submit(self, task_id: str, fn: Callable[..., Any], args: tuple = ()) -> None:
        self._queue.append((task_id, fn, args))
        self._open += 1
        self._dispatch()

    def running(self) -> list[str]:
        """Ids of the tasks a worker is running now."""
        return [w.task for w in self._workers if w.task is not None]

    def _dispatch(self) -> None:
        for worker in self._workers:
            if not self._queue:
                return
            if worker.task is None and worker.process.is_alive():
                task_id, fn, args = self._queue.popleft()
                worker.task = task_id
                try:
                    worker.conn.send((task_id, fn, args))
                except (BrokenPipeError, OSError):
                    pass  # its death shows up through the sentinel below

    def events(self, timeout_s: float | None = None) -> Iterator[Event]:
        """Yield events as they come until every submitted task has finished; with
        timeout_s, also return (without an event) when nothing came for that long."""
        while self._open > 0:
            waiting: dict[Any, _Worker] = {}
            for worker in self._workers:
                waiting[worker.conn] = worker
                waiting[worker.process.sentinel] = worker
            ready = wait(list(waiting), timeout=timeout_s)
            if not ready:
                return
            for handle in ready:
                worker = waiting[handle]
                yield from self._read(worker, handle)
            self._dispatch()

    def _read(self, worker: _Worker, handle: Any) -> Iterator[Event]:
        if handle is worker.conn:
            try:
                while worker.conn.poll():
                    kind, task_id, value = worker.conn.recv()
                    if kind != "progress":
                        worker.task = None
                        self._open -= 1
                    yield Event(kind, task_id, value)
            except (EOFError, OSError):
                pass  # the process is gone; its sentinel reports it
            return
        if worker.process.is_alive() or worker not in self._workers:
            return
        if not worker.conn.closed:
            yield from self._read(worker, worker.conn)  # what it sent before it died
        worker.process.join()
        task, code = worker.task, worker.process.exitcode
        index = self._workers.index(worker)
        worker.conn.close()
        self._workers[index] = _Worker(self._ctx, self._threads)
        if task is not None:
            self._open -= 1
            yield Event("crashed", task, code)

    def terminate(self) -> list[str]:
        """End every worker now (SIGTERM, then SIGKILL after 2 s); returns the ids of the
        tasks they were running. Queued tasks are dropped."""
        abandoned = self.running()
        self._queue.clear()
        for worker in self._workers:
            if worker.process.is_alive():
                worker.process.terminate()
        deadline = time.monotonic() + 2.0
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._workers = []
        self._open = 0
        return abandoned

    def close(self) -> None:
        """Ask idle workers to exit and wait for them."""
        for worker in self._workers:
            with contextlib.suppress(OSError, BrokenPipeError):
                worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(5.0)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._workers = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.terminate()
