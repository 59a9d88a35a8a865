"""Batch inputs: files, folders (searched recursively) and glob patterns -> videos.

Each video gets a job key: its path relative to the folder or the glob's fixed prefix it
was found under, without suffix (`day1/take03`), or its stem for a file named directly.
Outputs go to OUTDIR/<key>.<format>, so a folder's layout is mirrored under OUTDIR.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from mocap.errors import InputError

# Containers FFmpeg reads that cameras and phones write; folders are searched for these.
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mts", ".m2ts", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"})


@dataclass(frozen=True)
class BatchInput:
    path: Path  # the video
    key: str  # output path under OUTDIR, POSIX separators, no suffix


def _glob_root(pattern: str) -> Path:
    """The longest leading part of a glob pattern with no wildcard in it."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _key(path: Path, root: Path | None) -> str:
    rel = path.relative_to(root) if root is not None else Path(path.name)
    return rel.with_suffix("").as_posix()


def expand_inputs(items: list[str]) -> list[BatchInput]:
    """Every video named by `items`, in order, each once (by resolved path).

    A file is taken whatever its suffix (a bad file fails its own job later); a folder
    contributes its files with a VIDEO_SUFFIXES suffix, recursively, sorted; a pattern
    with *, ? or [...] is expanded (`**` crosses folders). Raises InputError for an item
    that names nothing and for two inputs that would write the same outputs.
    """
    found: list[BatchInput] = []
    for item in items:
        path = Path(item)
        if glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise InputError(f"{item}: no file matches this pattern")
            root = _glob_root(item)
            found += [BatchInput(Path(m), _key(Path(m), root)) for m in matches if Path(m).is_file()]
        elif path.is_dir():
            videos = sorted(
                Path(dirpath) / name
                for dirpath, _, names in os.walk(path)
                for name in names
                if Path(name).suffix.lower() in VIDEO_SUFFIXES and not name.startswith(".")
            )
            found += [BatchInput(v, _key(v, path)) for v in videos]
        elif path.is_file():
            found.append(BatchInput(path, _key(path, None)))
        else:
            raise InputError(f"{item}: no such file or folder")
    unique: dict[Path, BatchInput] = {}
    for entry in found:
        unique.setdefault(entry.path.resolve(), entry)
    by_key: dict[str, BatchInput] = {}
    for entry in unique.values():
        other = by_key.setdefault(entry.key, entry)
        if other is not entry:
            raise InputError(
                f"{entry.path} and {other.path} would both write {entry.key}.*; "
                "give their folders as inputs so the layout keeps them apart"
            )
    return list(unique.values())
