"""Live mode: camera or video -> BlazePose -> causal solve -> VMC stream, frame by frame.

    source.py     CameraSource (OpenCV) / VideoSource (PyAV, real-time pace) -> LiveFrame
    detect/       PoseGraph.process(frame) -> PoseSample        (the offline detector's graph)
    causal.py     CausalSolver.step(...) -> LivePose              (One Euro filter: one_euro.py)
    vmc.py        frame_bundle(...) -> VmcSender.send             (python-osc; VmcReceiver for the add-on)

`run_live` drives them in one loop; `mocap live` (cli.py) sits on top. docs/live.md
describes the stream, the filter's trade-off and the latency measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from mocap.errors import StreamError


@dataclass
class LiveSummary:
    frames: int = 0  # frames detected
    sent: int = 0  # poses sent
    no_person: int = 0  # frames with nobody (nothing sent, or the last pose held)
    dropped: int = 0  # frames skipped to keep real-time pace
    process_ms: list[float] = field(default_factory=list)  # detection + solve + send, per frame
    detect_ms: list[float] = field(default_factory=list)  # BlazePose alone, per frame
    wall_s: float = 0.0
    refused: dict[str, int] = field(default_factory=dict)  # receiver -> sends refused

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0


def run_live(
    source: Iterable,
    targets: list[tuple[str, int]],
    *,
    width_px: int,
    height_px: int,
    fps: float,
    cfg=None,
    model: str = "full",
    fov_deg: float | None = None,
    focal_length_35mm_mm: float | None = None,
    max_frames: int | None = None,
    warn: Callable[[str], None] | None = None,
    status: Callable[[LiveSummary], None] | None = None,
    name: str = "",
) -> LiveSummary:
    """Stream `source` (LiveFrames) to every (host, port) in `targets` until it ends,
    max_frames frames were detected, or KeyboardInterrupt (caught: the summary is returned).

    Raises StreamError when no receiver was reachable for the whole stream (every send
    refused), DetectionError when BlazePose cannot run.
    """
    from mocap.camera import Camera, diagonal_fov_deg_from_focal_35mm
    from mocap.detect.mediapipe_pose import PoseGraph
    from mocap.live.causal import CausalSolver, LiveConfig
    from mocap.live.vmc import FrameStamp, VmcSender, frame_bundle, humanoid_bone_names

    cfg = cfg or LiveConfig()
    if fov_deg is None and focal_length_35mm_mm:
        fov_deg = diagonal_fov_deg_from_focal_35mm(float(focal_length_35mm_mm))
    solver = CausalSolver(Camera.from_fov(width_px, height_px, fov_deg), fps, cfg)
    bone_names = humanoid_bone_names(solver.rig.joint_names)
    summary = LiveSummary()
    from mocap.data import Frame

    with VmcSender(targets, warn=warn) as sender, PoseGraph(model, name=name) as graph:
        # The graph's first frame loads the model (seconds): done before the clock starts.
        graph.process(Frame(index=-1, time_s=0.0, rgb=np.zeros((height_px, width_px, 3), np.uint8)))
        t_start = time.monotonic()
        last_status = t_start
        try:
            for item in source:
                t0 = time.perf_counter()
                frame = item.frame
                sample = graph.process(frame)
                summary.detect_ms.append((time.perf_counter() - t0) * 1000.0)
                pose = solver.step(frame.index, frame.time_s, sample.world_m, sample.image_xy_px,
                                   sample.visibility, sample.detected)
                summary.frames += 1
                if not sample.detected:
                    summary.no_person += 1
                if pose is not None:
                    stamp = FrameStamp(frame.index, frame.time_s, item.wall_s, pose.settled, pose.held)
                    sender.send(frame_bundle(bone_names, pose.skeleton.offsets_m, pose.rotations_xyzw,
                                             pose.root_position_m, stamp, pose.contacts))
                    summary.sent += 1
                summary.process_ms.append((time.perf_counter() - t0) * 1000.0)
                now = time.monotonic()
                if status is not None and now - last_status >= 1.0:
                    summary.wall_s, summary.dropped = now - t_start, getattr(source, "dropped", 0)
                    status(summary)
                    last_status = now
                if max_frames is not None and summary.frames >= max_frames:
                    break
        except KeyboardInterrupt:
            pass
        summary.wall_s = time.monotonic() - t_start
        summary.dropped = getattr(source, "dropped", 0)
        summary.refused = {t.label: t.refused for t in sender.targets}
        if summary.sent and not any(t.reachable for t in sender.targets):
            where = ", ".join(t.label for t in sender.targets)
            raise StreamError(f"nothing listened at {where} during the whole stream ({summary.sent} poses refused); "
                              f"start the receiver (VSeeFace, Warudo, the Blender add-on...) or check --host/--port")
    return summary


def median_ms(values: list[float]) -> float:
    return percentile_ms(values, 50)


def percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


__all__ = ["LiveSummary", "run_live", "median_ms", "percentile_ms"]
