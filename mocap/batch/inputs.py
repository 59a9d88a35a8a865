"""Batch inputs: files, folders (searched recursively) and glob patterns -> videos.

Each video gets a job key: its path relative to the folder or the glob's fixed prefix it
was found under, without suffix (`day1/take03`), or its stem for a file named directly.
Outputs go to OUTDIR/<key>.<format>, so a folder's layout is mirrored under OUTDIR.
What mocap wrote (its previews and mattes, anything under OUTDIR) is never an input.
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


def _is_mocap_output(path: Path) -> bool:
    """A video mocap itself writes (<stem>.preview.mp4, <stem>.matte.mkv): never a take."""
    from mocap.pipeline import VIDEO_OUTPUT_SUFFIXES

    return path.name.lower().endswith(VIDEO_OUTPUT_SUFFIXES)


def _inside(path: Path, folder: Path | None) -> bool:
    """True when `path` (resolved) is `folder` (resolved) or below it."""
    if folder is None:
        return False
    path = path.resolve()
    return path == folder or folder in path.parents


def _videos_in(folder: Path) -> list[Path]:
    """Files with a VIDEO_SUFFIXES suffix under `folder`, recursively, sorted; hidden files
    and hidden folders (a batch's own .mocap-staging among them) skipped."""
    videos = []
    for dirpath, dirnames, names in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        videos += [Path(dirpath) / n for n in names if Path(n).suffix.lower() in VIDEO_SUFFIXES and not n.startswith(".")]
    return sorted(videos)


def expand_inputs(items: list[str], out_dir: Path | None = None) -> list[BatchInput]:
    """Every video named by `items`, in order, each once (by resolved path).

    A file is taken whatever its suffix (a bad file fails its own job later); a folder
    contributes its files with a VIDEO_SUFFIXES suffix, recursively, sorted, hidden files
    and folders skipped; a pattern with *, ? or [...] is expanded (`**` crosses folders).
    What mocap wrote is never an input: the previews and mattes mocap writes
    (mocap.pipeline.VIDEO_OUTPUT_SUFFIXES) are skipped wherever they come from (a file
    named directly too: a shell's `takes/*.mp4` names them), and a folder or pattern skips
    everything under `out_dir` (the batch's OUTDIR, when it lies inside the folder or the
    pattern's fixed prefix). Raises InputError for an item that names nothing and for two
    inputs that would write the same outputs.
    """
    out = Path(out_dir).resolve() if out_dir is not None else None

    def wanted(path: Path, root: Path) -> bool:
        if _is_mocap_output(path):
            return False
        # OUTDIR is skipped when it lies below the searched root; a root inside OUTDIR was asked for
        return not (_inside(path, out) and not _inside(root, out))

    found: list[BatchInput] = []
    for item in items:
        path = Path(item)
        if glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise InputError(f"{item}: no file matches this pattern")
            root = _glob_root(item)
            found += [BatchInput(Path(m), _key(Path(m), root)) for m in matches
                      if Path(m).is_file() and wanted(Path(m), root)]
        elif path.is_dir():
            found += [BatchInput(v, _key(v, path)) for v in _videos_in(path) if wanted(v, path)]
        elif path.is_file():
            if not _is_mocap_output(path):  # a shell's `takes/*.mp4` names the previews too
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
            raise InputError(_clash(other.path, entry.path, entry.key))
    return list(unique.values())


def _clash(first: Path, second: Path, key: str) -> str:
    """Why two inputs collide, and what to do: files of one folder differ only in their
    suffix (rename one); files of two folders need a common folder as the input."""
    where = f"{first} and {second} would both write {key}.*"
    a, b = first.resolve().parent, second.resolve().parent
    if a == b:
        return f"{where}: they differ only in their suffix; rename one of them"
    common = Path(os.path.commonpath([a, b]))
    return f"{where}; give the folder that holds both ({common}) as the input, so the layout keeps them apart"
