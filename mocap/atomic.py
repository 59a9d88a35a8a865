"""Atomic output: write to a temporary file in the target folder, then rename into place.

A crash, an exception or Ctrl-C never leaves a half-written BVH/FBX/GLB behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mocap.errors import ExportError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it onto `target`.

    The caller writes the whole file to the yielded path. On any exception the
    temporary file is removed and `target` is left untouched.
    """
    target = Path(target)
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f"{target.suffix}.part", dir=folder)
    except OSError as exc:
        raise ExportError(f"{target}: cannot write here ({exc.strerror or exc})") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise ExportError(f"{target}: the writer produced no data")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
