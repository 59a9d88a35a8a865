"""Keeping third-party chatter off the user's terminal.

MediaPipe/TFLite print INFO/WARNING lines from C++ straight to file descriptor 2, and
Blender's exporters print progress to stdout (naming our temporary files). mocap's own
messages and progress bar must stay visible, and nothing may be lost when a user asks:
set MOCAP_NATIVE_LOGS=1 to see everything.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def silenced(fd: int, python_too: bool = False) -> Iterator[None]:
    """Send file descriptor `fd` (1 or 2) to /dev/null for the duration.

    python_too=False: Python's own sys.stdout/sys.stderr keeps writing to the real
    terminal (moved onto a duplicate of the original descriptor), so only native output
    is dropped. python_too=True: Python-level writes to that stream are dropped as well.
    """
    if os.environ.get("MOCAP_NATIVE_LOGS") == "1":
        yield
        return
    name = {1: "stdout", 2: "stderr"}[fd]
    original = getattr(sys, name)
    try:
        python_uses_fd = original.fileno() == fd
    except (AttributeError, OSError, ValueError):
        python_uses_fd = False
    original.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    replacement = None
    if python_too:
        replacement = open(os.devnull, "w")  # noqa: SIM115 - closed below
    elif python_uses_fd:
        replacement = os.fdopen(os.dup(saved), "w", buffering=1, encoding=original.encoding, errors="replace")
    if replacement is not None:
        setattr(sys, name, replacement)
    try:
        yield
    finally:
        if replacement is not None:
            replacement.flush()
            setattr(sys, name, original)
            replacement.close()
        os.dup2(saved, fd)
        os.close(saved)
