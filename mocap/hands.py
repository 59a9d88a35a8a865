"""Hand landmarks beside the body's: names, the relaxed hand, and merging into one track set.

MediaPipe Hands gives 21 landmarks per hand (wrist, four per finger). mocap names them
`<side>_hand_<landmark>` (HAND_LANDMARKS, in the model's order), with side the performer's
own left or right. The detector (mocap.detect.mediapipe_hands) returns them as
LandmarkTracks whose world positions are relative to the hand's own wrist, in the internal
frame (docs/conventions.md); `merge_hands` puts them at the body's wrist so that the rig's
finger joints (mocap/rigs/humanoid.json, `hands`) are solved like every other joint.

A hand that is not seen for longer than `HandsConfig.max_interp_s` (or before it is first
seen, or after it is last seen) holds the rig's relaxed pose (`relaxed` in the rig file),
placed in the hand frame BlazePose's own hand points give and scaled to the hand's measured
size, with visibility `relaxed_visibility`; shorter dropouts are left unseen so the
smoother (mocap.smooth) bridges them from the frames on either side. Both kinds of frame
are reported by `unseen_hand_frames`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mocap.data import FINGERS, HAND_LANDMARKS, SIDES, LandmarkTracks, hand_landmark_names
from mocap.kinematics import unit
from mocap.rig import HandSide, RigTemplate
from mocap.timeseries import runs

@dataclass(frozen=True)
class HandsConfig:
    max_interp_s: float = 0.25  # shorter dropouts are bridged by the smoother, longer ones relax
    relaxed_visibility: float = 0.5  # weight of the relaxed pose in the smoother (seen hands: ~0.9)


def relaxed_hand(rig: RigTemplate) -> dict[str, np.ndarray]:
    """Landmark -> (3,) position of the rig's relaxed hand (HAND_LANDMARKS names), in hand
    coordinates (a along wrist -> middle knuckle, b along the back-of-hand normal, c toward
    the index side), in units of the wrist -> middle-knuckle length.

    Each finger (rig `hands.relaxed`) starts at `base`, leaves along `direction`, and each of
    its three segments turns `flexion_deg` further toward the palm (-b) than the last.
    Raises RigError when the rig has no hands section."""
    from mocap.rig import RigError

    if rig.hands is None:
        raise RigError(f"rig {rig.name}: has no hands section")
    out = {"wrist": np.zeros(3)}
    palm = np.array([0.0, -1.0, 0.0])
    for finger in FINGERS:
        spec = rig.hands.relaxed[finger]
        names = [n for n in HAND_LANDMARKS if n.startswith(finger + "_")]
        position = np.asarray(spec["base"], dtype=float)
        direction = unit(np.asarray(spec["direction"], dtype=float))
        angle = 0.0
        out[names[0]] = position
        # The plane of flexion holds the base direction and the palm normal.
        across = unit(palm - np.dot(palm, direction) * direction)
        for name, length, flex in zip(names[1:], spec["lengths"], spec["flexion_deg"]):
            angle += np.radians(flex)
            position = position + length * (np.cos(angle) * direction + np.sin(angle) * across)
            out[name] = position
    return out


def hand_axes(side: str, wrist: np.ndarray, knuckles: np.ndarray, pinky: np.ndarray, index: np.ndarray):
    """(a, b, c) unit vectors (T, 3) of the hand coordinates used by relaxed_hand: a from the
    wrist to the knuckles, c from the pinky toward the index side (perpendicular to a),
    b = the back-of-hand normal (c x a on the left hand, a x c on the right)."""
    a = unit(knuckles - wrist)
    c = index - pinky
    c = unit(c - np.sum(c * a, axis=-1, keepdims=True) * a)
    b = np.cross(c, a) if side == "left" else np.cross(a, c)
    return a, b, c


def _side_of(rig: RigTemplate, side: str) -> HandSide:
    return next(s for s in rig.hands.sides if s.side == side)


def merge_hands(body: LandmarkTracks, hands: LandmarkTracks, rig: RigTemplate, cfg: HandsConfig = HandsConfig()) -> LandmarkTracks:
    """Body tracks plus both hands' 42 landmarks (hand_landmark_names), frame by frame.

    body: BlazePose tracks (T frames); hands: mocap.detect.mediapipe_hands output for the
    same frames (world positions relative to each hand's wrist, internal frame; visibility
    0 where a hand was not found). Seen hands are put at the body's wrist; long gaps hold
    the relaxed hand (module docstring) in BlazePose's hand frame, scaled to the hand's
    median wrist -> middle-knuckle length (BlazePose's wrist -> index/pinky midpoint where
    the hand is never seen). Raises ValueError when the frames differ.
    """
    if not np.array_equal(body.frame_indices, hands.frame_indices):
        raise ValueError("hand and body tracks cover different frames")
    n = body.n_frames
    names = hand_landmark_names()
    world = np.full((n, len(names), 3), np.nan)
    image = np.full((n, len(names), 2), np.nan)
    vis = np.zeros((n, len(names)))
    max_interp = max(1, int(round(cfg.max_interp_s * body.fps)))
    template = relaxed_hand(rig)
    for k, side in enumerate(SIDES):
        spec = _side_of(rig, side)
        cols = slice(k * len(HAND_LANDMARKS), (k + 1) * len(HAND_LANDMARKS))
        rel = hands.world_m[:, cols]
        seen = hands.visibility[:, cols].max(axis=1) > 0
        wrist = body.world(spec.body_wrist)
        world[:, cols] = wrist[:, None] + rel
        image[:, cols] = hands.image_xy_px[:, cols]
        vis[:, cols] = hands.visibility[:, cols]
        knuckle = HAND_LANDMARKS.index("middle_mcp")
        lengths = np.linalg.norm(rel[seen, knuckle], axis=-1)
        tip = 0.5 * (body.world(spec.body_index) + body.world(spec.body_pinky))
        size = float(np.median(lengths)) if lengths.size else float(np.nanmedian(np.linalg.norm(tip - wrist, axis=-1)))
        relax = np.zeros(n, dtype=bool)
        for gap in runs(~seen):
            bridged = gap.length <= max_interp and gap.first > 0 and gap.last < n - 1
            if not bridged:
                relax[gap.first : gap.last + 1] = True
        if relax.any() and np.isfinite(size):
            a, b, c = hand_axes(side, wrist, tip, body.world(spec.body_pinky), body.world(spec.body_index))
            for i, landmark in enumerate(HAND_LANDMARKS):
                p = template[landmark] * size
                placed = wrist + p[0] * a + p[1] * b + p[2] * c
                world[relax, cols.start + i] = placed[relax]
                image[relax, cols.start + i] = body.image(spec.body_wrist)[relax]
                vis[relax, cols.start + i] = cfg.relaxed_visibility * body.detected[relax]
    return replace(
        body,
        names=body.names + names,
        world_m=np.concatenate([body.world_m, world], axis=1),
        image_xy_px=np.concatenate([body.image_xy_px, image], axis=1),
        visibility=np.concatenate([body.visibility, vis], axis=1),
        source=f"{body.source}+{hands.source}",
    )


def unseen_hand_frames(hands: LandmarkTracks) -> dict[str, np.ndarray]:
    """side -> (T,) bool: frames where that hand was not found (before any filling)."""
    out = {}
    for k, side in enumerate(SIDES):
        cols = slice(k * len(HAND_LANDMARKS), (k + 1) * len(HAND_LANDMARKS))
        out[side] = ~(hands.visibility[:, cols].max(axis=1) > 0)
    return out


__all__ = ["HandsConfig", "hand_axes",
           "merge_hands", "relaxed_hand", "unseen_hand_frames"]
