"""End-to-end latency and sustained frame rate of `mocap live`.

A real `mocap live --video CLIP` process (real-time pace, late frames skipped as a camera
would) streams to a receiver in this process; a 60 Hz loop stands in for the display
(Blender's timer in the add-on) and takes the newest pose each tick. For every pose taken,
latency = the moment it was taken minus the wall-clock time at which its frame was
available to `mocap live` (decoded and due), carried in the stream (/mocap/Frame). Both
clocks are this machine's time.time(). Sustained rate = frames processed per second of
stream. The clips are the rendered 640x480, 30 fps ones (../shared/data/synthetic).

    .venv/bin/python benchmarks/live_latency.py [--clips A,B] [--runs 3] [--model full] [--blender]

--blender receives in the Blender add-on instead (headless bpy, tests/addon_driver.py): latency
up to the pose being set on the armature's bones, recording on, one key per received frame.

Machine load matters (prints `uptime` before and after): quote figures with it.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mocap.live.vmc import VmcReceiver

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ROOT.parent / "shared" / "data" / "synthetic"
TICK_S = 1 / 60


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def one_run(video: Path, model: str) -> dict:
    exe = Path(sys.executable).with_name("mocap")
    latencies: list[float] = []
    stamps: list[float] = []
    with VmcReceiver(port=0) as rx:
        proc = subprocess.Popen([str(exe), "live", "--video", str(video), "--port", str(rx.port), "--model", model],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        while True:
            frame = rx.take_latest()
            now = time.time()
            if frame is not None and frame.sent_wall_s is not None:
                latencies.append((now - frame.sent_wall_s) * 1000.0)
                stamps.append(frame.time_s)
            if proc.poll() is not None and frame is None:
                break
            time.sleep(TICK_S)
        out, err = proc.communicate()
        stats = rx.stats
    if proc.returncode != 0:
        raise SystemExit(f"mocap live failed on {video.name}: {err.strip()}")
    span = (max(stamps) - min(stamps)) if len(stamps) > 1 else float("nan")
    return {"clip": video.stem, "latency_ms": np.array(latencies), "received": stats.received,
            "shown": stats.shown, "dropped_display": stats.dropped, "fps": stats.received / span if span else float("nan"),
            "summary": out.strip()}


def blender_run(video: Path, zip_path: Path, tmp: Path) -> dict:
    """The same, received by the Blender add-on in headless bpy (tests/addon_driver.py live):
    latency up to the pose being set on the armature's bones (rig_io.apply_pose), recording on."""
    import json
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp / f"{video.stem}.json"
    args = {"mocap": str(Path(sys.executable).with_name("mocap")), "video": str(video), "port": port, "target": "rigify"}
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp / "blender-user"))
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "addon_driver.py"), str(zip_path), "live",
                           json.dumps(args), str(out)], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"the add-on run failed on {video.name}: {proc.stderr[-2000:]}")
    data = json.loads(out.read_text())
    st = data["stats"]
    frames = np.array(data["key_frames"])
    span = (frames[-1] - frames[0]) / 30.0 if len(frames) > 1 else float("nan")  # the driver's scene runs at 30 fps
    return {"clip": video.stem, "latency_ms": np.array(data["latency_ms"]), "received": st["received"],
            "shown": st["shown"], "dropped_display": st["dropped"], "fps": st["received"] / span if span else float("nan"),
            "summary": data["status"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", default="dev_scifi_wave_front,dev_adventurer_walk_front,dev_bandai_punch_mannequin_front")
    parser.add_argument("--runs", type=int, default=1, help="runs per clip")
    parser.add_argument("--model", default="full")
    parser.add_argument("--blender", action="store_true",
                        help="receive in the Blender add-on (headless bpy, rigify metarig target) instead of Python")
    args = parser.parse_args(argv)
    patterns = args.clips.split(",")
    videos = [v for v in sorted(SYNTHETIC.glob("*.mp4")) if any(fnmatch.fnmatch(v.stem, p) for p in patterns)]
    if not videos:
        print(f"no clips matching {args.clips} in {SYNTHETIC}", file=sys.stderr)
        return 2
    print(f"before: {uptime()}")
    runs = []
    tmp = Path(tempfile.mkdtemp(prefix="mocap-live-latency-"))
    zip_path = None
    if args.blender:
        sys.path.insert(0, str(ROOT / "scripts"))
        from build_addon import build

        zip_path = build(tmp, blender="/nonexistent")
    for _ in range(args.runs):
        for v in videos:
            r = blender_run(v, zip_path, tmp) if args.blender else one_run(v, args.model)
            lat = r["latency_ms"]
            print(f"{r['clip']}: {r['received']} poses received, {r['shown']} shown, {r['fps']:.1f} fps sustained; "
                  f"latency median {np.median(lat):.0f} ms, 95th percentile {np.percentile(lat, 95):.0f} ms | {r['summary']}")
            runs.append(r)
    print(f"after: {uptime()}")
    lat = np.concatenate([r["latency_ms"] for r in runs])
    fps = np.array([r["fps"] for r in runs])
    print(f"all runs: latency median {np.median(lat):.0f} ms, 95th percentile {np.percentile(lat, 95):.0f} ms "
          f"({len(lat)} poses shown); sustained fps median {np.median(fps):.1f} (min {fps.min():.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
