"""Render an HTML file in headless Chromium (Debian's `chromium`, installed by
scripts/install-readers.sh): the DOM after load, the console's errors, a screenshot.

Flags: headless, no sandbox (CI runs as root), no GPU, no background network, component
updates or sync, no first-run, a fresh profile per call; --virtual-time-budget lets the
page's load handlers run before the DOM is dumped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--virtual-time-budget=5000"]


@dataclass
class Rendered:
    dom: str
    body_attrs: dict[str, str]  # data-* attributes of <body> after load
    console_errors: list[str]  # "Uncaught ..." and console.error lines


def chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("`chromium` not found: run scripts/install-readers.sh (Debian package chromium)")
    return exe


def _run(args: list[str]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="mocap-chromium-") as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120, check=False)


def render(path: Path) -> Rendered:
    proc = _run(["--enable-logging=stderr", "--v=0", "--dump-dom", Path(path).resolve().as_uri()])
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", proc.stdout)
    attrs = dict(re.findall(r'(data-[\w-]+)="([^"]*)"', body.group(1))) if body else {}
    errors = [line for line in proc.stderr.splitlines()
              if ":CONSOLE" in line and ("Uncaught" in line or "error" in line.lower())]
    return Rendered(proc.stdout, attrs, errors)


def screenshot(path: Path, png: Path, width: int = 1000, height: int = 3000) -> Path:
    proc = _run([f"--window-size={width},{height}", f"--screenshot={png}", Path(path).resolve().as_uri()])
    assert proc.returncode == 0 and png.is_file(), proc.stderr[-2000:]
    return png
