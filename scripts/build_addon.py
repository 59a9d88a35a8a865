"""Build the Blender extension zip: blender_addon/ plus a copy of mocap/retarget as
mocap_retarget/ (numpy only, the add-on's retargeting maths), mocap/live/receive.py as
mocap_receive.py (the live stream's receiver) and the python-osc wheel it needs.

    python scripts/build_addon.py [--out dist] [--blender PATH]

With a Blender 4.2+ executable (`--blender`, else `blender` on PATH) the zip is made by
`blender --command extension build`, which also validates the manifest; otherwise the same
layout is written here by hand (files at the zip's root, blender_manifest.toml among them).
Prints the zip's path.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADDON = ROOT / "blender_addon"
RETARGET = ROOT / "mocap" / "retarget"
RECEIVE = ROOT / "mocap" / "live" / "receive.py"
SKIP = re.compile(r"(__pycache__|\.pyc$|\.pyo$)")


def stage(folder: Path) -> Path:
    """Copy the add-on, the vendored retarget package and the live receiver (mocap/live/receive.py
    as mocap_receive.py) into folder/mocap, and fetch the wheels its manifest lists; returns it."""
    out = folder / "mocap"
    shutil.copytree(ADDON, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "mocap_retarget"))
    shutil.copytree(RETARGET, out / "mocap_retarget", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(RECEIVE, out / "mocap_receive.py")
    fetch_wheels(out)
    return out


def fetch_wheels(out: Path) -> None:
    """Download each wheel the manifest lists (name-version-...whl) from the package index into
    out/wheels with pip (its cache makes repeats free). Raises SystemExit naming the wheel when
    pip cannot get exactly that file."""
    manifest = tomllib.loads((out / "blender_manifest.toml").read_text(encoding="utf-8"))
    for rel in manifest.get("wheels", []):
        target = out / rel
        name, version = Path(rel).name.split("-")[:2]
        target.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                               "--dest", str(target.parent), f"{name.replace('_', '-')}=={version}"],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not target.is_file():
            raise SystemExit(f"cannot fetch {target.name} for the add-on: {proc.stderr.strip()[-300:]}")


def blender_version(exe: str) -> tuple[int, int]:
    try:
        text = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0)
    m = re.search(r"Blender (\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def zip_by_hand(src: Path, target: Path) -> None:
    tmp = target.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src).as_posix()
            if path.is_file() and not SKIP.search(rel):
                zf.write(path, rel)
    tmp.replace(target)


def build(out_dir: Path, blender: str | None = None) -> Path:
    manifest = tomllib.loads((ADDON / "blender_manifest.toml").read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest['id']}-{manifest['version']}.zip"
    exe = blender or shutil.which("blender")
    with tempfile.TemporaryDirectory(prefix="mocap-addon-build-") as tmp:
        src = stage(Path(tmp))
        if exe and blender_version(exe) >= (4, 2):
            subprocess.run([exe, "--factory-startup", "--command", "extension", "build", "--source-dir", str(src),
                            "--output-filepath", str(target)], check=True)
        else:
            zip_by_hand(src, target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--blender", default=None)
    args = parser.parse_args()
    print(build(args.out, args.blender))
    return 0


if __name__ == "__main__":
    sys.exit(main())
