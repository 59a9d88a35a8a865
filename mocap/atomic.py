"""Atomic output: write to a temporary file in the target folder, then rename into place.

A crash, an exception or Ctrl-C never leaves a half-written BVH/FBX/GLB behind.
`atomic_paths` does the same for the several files of one conversion: all are committed
together, or none is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mocap.errors import ExportError
from mocap.interrupts import deferred_interrupts


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it onto `target`.

    The caller writes the whole file to the yielded path. On any exception (Ctrl-C too)
    the temporary file and the folders this call created are removed, and `target` is
    left untouched.
    """
    target = Path(target)
    check_target(target)
    folder = target.parent
    created = _make_folder(target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f"{target.suffix}.part", dir=folder)
    except OSError as exc:
        _remove_folders(created)
        raise ExportError(f"{target}: cannot write here ({exc.strerror or exc})") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    committed = False
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise ExportError(f"{target}: the writer produced no data")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise ExportError(f"{target}: cannot write ({exc.strerror or exc})") from exc
        committed = True
    finally:
        if tmp.exists():
            tmp.unlink()
        if not committed:
            _remove_folders(created)


def _remove_folders(created: list[Path]) -> None:
    """Remove the folders a failed write created (innermost first), each only if empty."""
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


def check_target(target: Path) -> None:
    """Raise ExportError (one line) when `target` cannot be an output file: it is a folder,
    or its folder exists but is not a folder. Cheap; run before any work is done."""
    target = Path(target)
    if target.is_dir():
        raise ExportError(f"{target}: is a folder, cannot write a file there")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ExportError(f"{target}: {parent} is a file, not a folder")
            break


def check_distinct(targets: dict[str, Path], inputs: tuple[Path, ...] = ()) -> None:
    """Raise InputError (one line, exit 2) when an output would overwrite one of `inputs`
    (the source video, a motion file being read) or two outputs are the same file
    (`--report clip.bvh`). Files are compared as resolved paths, and by inode where they
    exist (a hard link or a second spelling of the same file). Cheap; run before any work."""
    from mocap.errors import InputError

    def same(a: Path, b: Path) -> bool:
        if a.resolve() == b.resolve():
            return True
        try:
            return os.path.samefile(a, b)
        except OSError:
            return False

    for source in inputs:
        for key, target in targets.items():
            if same(Path(target), Path(source)):
                raise InputError(f"{target}: is an input of this run; the {key} output would overwrite it (choose another path)")
    items = list(targets.items())
    for i, (key, target) in enumerate(items):
        for other, path in items[i + 1:]:
            if same(Path(target), Path(path)):
                raise InputError(f"{target}: both the {other} and the {key} output would be written there (choose another path)")


@contextlib.contextmanager
def atomic_paths(targets: dict[str, Path]) -> Iterator[dict[str, Path]]:
    """All-or-nothing output of several files (the formats of one conversion).

    Yields {key: staged path}: a hidden file name beside each target, with the target's
    suffix (Blender's exporters choose settings from it). The caller writes every staged
    file. When the block ends without an exception, all staged files are renamed onto their
    targets; if any rename fails, the targets already replaced get their previous content
    back (kept through a hard link, or a copy where links are impossible) and ExportError is
    raised. On any exception nothing is committed: staged files, and folders this call
    created, are removed; earlier files at the targets are untouched.
    An OSError from the caller's block (disk full, permission denied) becomes ExportError.
    """
    targets = {key: Path(path) for key, path in targets.items()}
    for target in targets.values():
        check_target(target)
    created: list[Path] = []
    staged: dict[str, Path] = {}
    try:
        for key, target in targets.items():
            created += _make_folder(target)
            try:
                fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".staged{target.suffix}", dir=target.parent)
            except OSError as exc:
                raise ExportError(f"{target}: cannot write here ({exc.strerror or exc})") from exc
            os.close(fd)
            staged[key] = Path(name)
        try:
            yield dict(staged)
        except OSError as exc:
            where = _named(str(exc.filename or next(iter(targets.values()))), staged, targets)
            raise ExportError(f"{where}: cannot write ({exc.strerror or exc})") from exc
        except ExportError as exc:  # name the user's file, not the staged one
            raise ExportError(_named(str(exc), staged, targets)) from exc
        for key, tmp in staged.items():
            if not tmp.exists() or tmp.stat().st_size == 0:
                raise ExportError(f"{targets[key]}: the writer produced no data")
        _commit(staged, targets)
    except BaseException:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        _remove_folders(created)
        raise


def _named(text: str, staged: dict[str, Path], targets: dict[str, Path]) -> str:
    """`text` with every staged path replaced by its target's path."""
    for key, tmp in staged.items():
        text = text.replace(str(tmp), str(targets[key]))
    return text


def _make_folder(target: Path) -> list[Path]:
    """Create target's folder; return the folders created (outermost first)."""
    missing = [p for p in reversed(target.parents) if not p.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{target}: cannot create its folder ({exc.strerror or exc})") from exc
    return missing


def _commit(staged: dict[str, Path], targets: dict[str, Path]) -> None:
    # A Ctrl-C or SIGTERM between two renames would keep some formats and not others (and
    # leave the .previous backups): the renames run with interrupts held back, which takes
    # milliseconds, and the interrupt is delivered once every file is in place.
    with deferred_interrupts():
        _commit_all(staged, targets)


def _commit_all(staged: dict[str, Path], targets: dict[str, Path]) -> None:
    mask = _umask()
    backups: list[tuple[Path, Path]] = []  # (backup, target)
    done: list[Path] = []
    try:
        for key, tmp in staged.items():
            target = targets[key]
            if target.is_file():
                backup = tmp.with_name(tmp.name + ".previous")
                try:
                    os.link(target, backup)
                except OSError:
                    shutil.copy2(target, backup)
                backups.append((backup, target))
            os.chmod(tmp, 0o666 & ~mask)
            os.replace(tmp, target)
            done.append(target)
    except OSError as exc:
        restored = {t for _, t in backups}
        for target in done:
            if target not in restored:
                target.unlink(missing_ok=True)
        for backup, target in backups:
            with contextlib.suppress(OSError):
                os.replace(backup, target)
        failed = targets[key]
        raise ExportError(f"{failed}: cannot write ({exc.strerror or exc}); no output of this conversion was kept") from exc
    for backup, _ in backups:
        backup.unlink(missing_ok=True)
