"""`mocap live` as a real process streaming a bundled sample to a python-osc receiver."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mocap.cli import app
from mocap.live.receive import CONTACT_POINTS

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "dance_arms.mp4"  # 120 frames, 30 fps, 4 s
HUMAN_BODY_BONES = {
    "Hips", "Spine", "Chest", "UpperChest", "Neck", "Head",
    "LeftShoulder", "LeftUpperArm", "LeftLowerArm", "LeftHand",
    "RightShoulder", "RightUpperArm", "RightLowerArm", "RightHand",
    "LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "LeftToes",
    "RightUpperLeg", "RightLowerLeg", "RightFoot", "RightToes",
}
runner = CliRunner()


def _mocap(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("mocap")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)  # a slow test must not lose datagrams
    return sock


def _drain(sock: socket.socket) -> list[list]:
    """Every datagram waiting on sock, parsed by python-osc: a list of (address, params) per datagram."""
    from pythonosc.osc_packet import OscPacket

    sock.settimeout(0.5)
    out = []
    while True:
        try:
            data = sock.recv(65535)
        except TimeoutError:
            return out
        out.append([(m.message.address, list(m.message.params)) for m in OscPacket(data).messages])


@pytest.mark.mediapipe
@pytest.mark.slow
def test_live_streams_every_frame_of_a_video_to_two_receivers():
    a, b = _listen(), _listen()
    with a, b:
        pa, pb = a.getsockname()[1], b.getsockname()[1]
        done = _mocap("live", "--video", str(SAMPLE), "--every-frame", "--port", str(pa), "--to", f"127.0.0.1:{pb}")
        assert done.returncode == 0, done.stderr
        assert "sent 120 poses from 120 frames" in done.stdout
        # mocap's own line only: MediaPipe's absl/glog lines ("W0000 00:00:... calculator.cc:186] ...")
        # stay off the terminal, as in every other command (mocap.native_output)
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"streaming {SAMPLE} "), done.stderr
        frames_a, frames_b = _drain(a), _drain(b)
    assert len(frames_a) == len(frames_b) == 120
    times, indices, walls = [], [], []
    for frame in frames_a:
        addresses = [addr for addr, _ in frame]
        assert addresses[:3] == ["/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Root/Pos"]
        assert addresses[3:-2] == ["/VMC/Ext/Bone/Pos"] * 22 and addresses[-2:] == ["/mocap/Frame", "/mocap/Contacts"]
        bones = {params[0]: params[1:] for addr, params in frame if addr == "/VMC/Ext/Bone/Pos"}
        assert set(bones) == HUMAN_BODY_BONES
        for values in bones.values():
            assert len(values) == 7 and np.isfinite(values).all()
            assert np.linalg.norm(values[3:]) == pytest.approx(1.0, abs=1e-5)  # unit quaternions
        ok = dict(frame)["/VMC/Ext/OK"]
        assert ok[0] == 1
        stamp = dict(frame)["/mocap/Frame"]
        assert stamp[0] == 1  # stream version
        indices.append(stamp[1])
        times.append(stamp[2])
        walls.append(stamp[3] + stamp[4] * 1e-6)
        assert dict(frame)["/VMC/Ext/T"][0] == pytest.approx(stamp[2])
        assert len(dict(frame)["/mocap/Contacts"]) == len(CONTACT_POINTS)
    assert indices == list(range(120))
    assert np.all(np.diff(times) > 0) and times[-1] == pytest.approx(119 / 30, abs=1e-3)
    assert np.all(np.diff(walls) >= 0)
    # real-time pace: frame k is not available before start + k/30 s (never ahead of the clip)
    assert walls[-1] - walls[0] >= times[-1] - times[0] - 0.01
    # the dancer moves her arms: the streamed left forearm rotates by tens of degrees
    from scipy.spatial.transform import Rotation

    arm = [Rotation.from_quat(dict((p[0], p[1:]) for a_, p in f if a_ == "/VMC/Ext/Bone/Pos")["LeftUpperArm"][3:])
           for f in frames_a]
    angles = [np.degrees((arm[0].inv() * r).magnitude()) for r in arm]
    assert max(angles) > 20.0


@pytest.mark.mediapipe
@pytest.mark.slow
def test_live_with_nobody_listening_says_so_and_fails():
    probe = _listen()
    port = probe.getsockname()[1]
    probe.close()  # a port nobody listens on
    done = _mocap("live", "--video", str(SAMPLE), "--port", str(port), "--frames", "30")
    assert done.returncode == 7, done.stdout + done.stderr
    assert f"warning: nothing is listening at 127.0.0.1:{port} (port unreachable); still sending" in done.stderr
    assert f"error: nothing listened at 127.0.0.1:{port} during the whole stream" in done.stderr


def test_live_without_a_camera_says_so():
    result = runner.invoke(app, ["live", "--camera", "7"])
    assert result.exit_code == 2
    assert "error: camera 7: no camera found or it cannot be opened" in result.output


def test_live_needs_a_source_and_valid_receivers(tmp_path):
    result = runner.invoke(app, ["live"])
    assert result.exit_code == 2 and "give either --camera N or --video FILE" in result.output
    for option in ("--beta", "--min-cutoff"):  # inf * 0 speed would be a NaN cut-off: NaN poses
        result = runner.invoke(app, ["live", "--video", str(SAMPLE), option, "inf"])
        assert result.exit_code == 2 and f"'{option}': inf: must be a finite number" in result.output, result.output
    result = runner.invoke(app, ["live", "--video", str(SAMPLE), "--to", "nohost"])
    assert result.exit_code == 2 and "give a receiver as HOST:PORT" in result.output
    result = runner.invoke(app, ["live", "--video", str(SAMPLE), "--host", "no-such-host.invalid"])
    assert result.exit_code == 7 and "cannot resolve the host" in result.output
