"""Holding Ctrl-C and SIGTERM back while code that must not be interrupted runs.

Blender's exporters (bpy, in this process) are C code calling Python: a KeyboardInterrupt
raised inside them leaves Blender in a state it crashes on (the process dies of SIGSEGV
at exit, found by tests/test_matrix.py). Inside `deferred_interrupts()` a SIGINT or
SIGTERM is only recorded; when the block ends it is delivered again to the handler that
was there before, so the interrupt still ends the run, and the staged files are then
removed as usual (mocap.atomic). An export takes seconds, so the wait is short.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Record SIGINT/SIGTERM during the block; re-raise the first one after it.

    Outside the main thread (where Python cannot set handlers) the block runs unguarded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def _record(signum, frame):  # noqa: ARG001 - signal handler signature
        received.append(signum)

    previous = {sig: signal.signal(sig, _record) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            signal.raise_signal(received[0])
