"""Render a synthetic clip with ../shared/tools/synth and record its finger bones too.

The renderer's ground truth (`NAME.gt.npz`) has 17 body joints and no fingers. This wrapper
runs the renderer unchanged (its own `main`, same arguments) and, during its ground-truth
pass (one `canonical_joints` call per frame, before any rendering), also records the world
head and tail of every finger bone of the character's armature. It writes `NAME.hands.npz`
beside the clip:

    bone_names (B,)           armature bone names (e.g. Index1.L .. Index4.L, Thumb1.L ..)
    heads_world, tails_world  (T, B, 3) metres, the renderer's Y-up world (its to_yup_points)

Run with a Python that has bpy 5.0.1 (the project's .venv) and an `ffmpeg` on PATH:

    PATH=/path/to/ffmpeg-dir:$PATH .venv/bin/python benchmarks/synth_hands.py \
        --name adv_punch --char Adventurer --action Punch_Left --size 960x720 --frames 40 --out OUT

benchmarks/accuracy_hands.py compares a conversion's finger joint angles with these bones.
"""

from __future__ import annotations

import os
import sys

import numpy as np

SYNTH = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tools", "synth"))
FINGER_KEYS = ("Thumb", "Index", "Middle", "Ring", "Pinky")


def main() -> None:
    sys.path.insert(0, SYNTH)
    import render  # the renderer, imported as a module (needs bpy)

    frames: list[tuple[np.ndarray, np.ndarray]] = []
    names: list[str] = []
    original = render.canonical_joints

    def recording(arm, rig, stature=1.70):
        bones = [b for b in arm.pose.bones if b.name.startswith(FINGER_KEYS) or b.name.startswith("Wrist")]
        if not names:
            names.extend(b.name for b in bones)
        m = arm.matrix_world
        heads = np.array([np.array(m @ b.head) for b in bones])
        tails = np.array([np.array(m @ b.tail) for b in bones])
        frames.append((heads, tails))
        return original(arm, rig, stature)

    render.canonical_joints = recording
    argv = sys.argv[1:]
    out = argv[argv.index("--out") + 1]
    name = argv[argv.index("--name") + 1]
    sys.argv = [os.path.join(SYNTH, "render.py"), *argv]
    render.main()
    gt = np.load(os.path.join(out, name + ".gt.npz"))
    n = len(gt["joints_world"])  # the ground-truth pass comes first: its n calls are the frames
    heads = render.to_yup_points(np.array([f[0] for f in frames[:n]]))
    tails = render.to_yup_points(np.array([f[1] for f in frames[:n]]))
    np.savez_compressed(os.path.join(out, name + ".hands.npz"), bone_names=np.array(names),
                        heads_world=heads.astype(np.float32), tails_world=tails.astype(np.float32))
    print(f"{name}: {n} frames, {len(names)} hand bones -> {name}.hands.npz")


if __name__ == "__main__":
    main()
