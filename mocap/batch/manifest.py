"""The batch manifest: one JSON object per line in OUTDIR/mocap-batch.jsonl.

A record is appended (and flushed to disk) each time a job finishes, fails or is
interrupted, so the file is true even if the run is killed: a job with no record was never
finished and runs again. The newest record of a job wins. A last line cut short by a crash
is ignored.

Record fields: `job` (the job's key: its output path under OUTDIR without suffix), `input`
(absolute path), `content_hash` (sha256 of the input), `size`, `mtime_ns`, `options` (what shapes
the outputs), `options_hash`, `outputs` ({format: path relative to OUTDIR}), `status`
('done', 'failed' or 'interrupted'), `timings_s` ({stage: seconds}), `frames`,
`detection_rate`, `error` (one line, or null), `exit_code`, `attempts`, `worker` (host:pid
that finished it), `wall_s` (from the job's submission to its end, queueing included; the
work itself is `timings_s.total`), `finished_at` (UTC, ISO 8601), `mocap` (the version that wrote it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mocap import __version__

MANIFEST_NAME = "mocap-batch.jsonl"
_log = logging.getLogger(__name__)

# ConvertOptions fields that do not change what is written (where and how, not what).
_NOT_OUTPUT_SHAPING = {"blender_exe", "cache_dir", "use_cache", "final_dir"}


def options_record(options: Any) -> dict[str, Any]:
    """The ConvertOptions fields that shape the outputs, as JSON-able values."""
    record: dict[str, Any] = {}
    for f in dataclasses.fields(options):
        if f.name in _NOT_OUTPUT_SHAPING:
            continue
        value = getattr(options, f.name)
        if dataclasses.is_dataclass(value):
            value = dataclasses.asdict(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Path):
            value = str(value)
        if f.name == "report_path":  # per job; the batch's choice is whether to write one
            f_name, value = "report", value is not None
            record[f_name] = value
            continue
        record[f.name] = value
    return record


def options_hash(options: Any) -> str:
    """sha256 (hex, 16 digits) of options_record plus mocap's version: a new release re-runs."""
    text = json.dumps({"options": options_record(options), "mocap": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Manifest:
    """Append-only JSON Lines file; `latest` maps each job key to its newest record."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.latest: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        with open(self.path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                _log.warning("%s:%d: unreadable manifest line ignored", self.path, number)
                continue
            if isinstance(record, dict) and isinstance(record.get("job"), str):
                self.latest[record["job"]] = record

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line and push it to disk before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        # A line cut short by an earlier crash must not swallow this record.
        prefix = ""
        if self.path.is_file() and self.path.stat().st_size:
            with open(self.path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                prefix = "" if fh.read(1) == b"\n" else "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(prefix + line)
            fh.flush()
            os.fsync(fh.fileno())
        self.latest[record["job"]] = record
