"""Hands for the tests: hand landmarks generated from known finger flexion, and a solved
motion with fingers. Shared by tests/test_hands.py and the export tests; import from here.

The generator is independent of mocap.hands.relaxed_hand: a T-posed hand (palm down,
fingers along the arm, index toward +Z) whose fingers flex toward the palm.
"""

from __future__ import annotations

import numpy as np
from pose_fixtures import t_pose_world, tracks_from

from mocap.data import FINGERS, HAND_LANDMARKS, SIDES, LandmarkTracks, hand_landmark_names
from mocap.hands import merge_hands
from mocap.rig import load_rig
from mocap.smooth import smooth_tracks
from mocap.solve import solve_motion

FPS = 30.0
# Finger bases in hand units (a: wrist -> knuckles, c: toward the index side) and segment lengths.
BASES = {"thumb": (0.25, 0.2), "index": (0.95, 0.25), "middle": (1.0, 0.0), "ring": (0.94, -0.2), "pinky": (0.85, -0.4)}
SEGMENTS = {"thumb": (0.35, 0.3, 0.25), "index": (0.45, 0.26, 0.2), "middle": (0.5, 0.3, 0.2),
            "ring": (0.45, 0.28, 0.2), "pinky": (0.36, 0.22, 0.18)}
HAND_M = 0.085  # wrist -> middle knuckle


def hand_landmarks(flexion_deg: np.ndarray, side: str) -> np.ndarray:
    """(T, 21, 3) wrist-relative landmarks of a T-posed hand (palm down, fingers along the
    arm, index toward +Z) whose fingers flex by flexion_deg (T, 5, 3) at their three joints."""
    sign = 1.0 if side == "left" else -1.0
    a, c, palm = np.array([sign, 0, 0]), np.array([0, 0, 1.0]), np.array([0, -1.0, 0])
    n = len(flexion_deg)
    out = np.zeros((n, 21, 3))
    for f, finger in enumerate(FINGERS):
        base = HAND_M * (BASES[finger][0] * a + BASES[finger][1] * c)
        direction = a if finger != "thumb" else (a + c) / np.sqrt(2)
        first = HAND_LANDMARKS.index(f"{finger}_{'cmc' if finger == 'thumb' else 'mcp'}")
        pos = np.repeat(base[None], n, axis=0)
        out[:, first] = pos
        angle = np.zeros(n)
        for k in range(3):
            angle = angle + np.radians(flexion_deg[:, f, k])
            step = np.cos(angle)[:, None] * direction + np.sin(angle)[:, None] * palm
            pos = pos + HAND_M * SEGMENTS[finger][k] * step
            out[:, first + 1 + k] = pos
    return out


def hand_tracks(left: np.ndarray, right: np.ndarray, seen: dict[str, np.ndarray] | None = None) -> LandmarkTracks:
    n = len(left)
    world = np.concatenate([left, right], axis=1)
    vis = np.full((n, 42), 0.9)
    for k, side in enumerate(SIDES):
        if seen is not None:
            cols = slice(21 * k, 21 * (k + 1))
            world[~seen[side], cols] = np.nan
            vis[~seen[side], cols] = 0.0
    return LandmarkTracks(hand_landmark_names(), FPS, np.arange(n) / FPS, np.arange(n), (640, 480),
                          world[..., :2] * 100 + (320, 240),  # pixels inside the image: outside counts as unseen
                          world, vis, vis.max(axis=1) > 0, source="test-hands")


FIST_DEG = np.array([[30, 50, 70], *[[90, 100, 70]] * 4], float)  # thumb, then each finger: a clenched fist


def solve_hands(hands: LandmarkTracks, n: int):
    rig = load_rig(hands=True)
    body = tracks_from(t_pose_world(n), FPS)
    merged = merge_hands(body, hands, rig)
    return solve_motion(smooth_tracks(merged), rig).motion


def curling(n: int, top_deg: float) -> np.ndarray:
    """(T, 5, 3): every joint of every finger flexes from 0 to top_deg and back."""
    ramp = top_deg * 0.5 * (1 - np.cos(np.linspace(0, 2 * np.pi, n)))
    return np.repeat(np.repeat(ramp[:, None, None], 5, axis=1), 3, axis=2)


def fist_motion(n: int = 30):
    """A solved Motion (T-posed body, 52 joints) whose hands close into a fist and open again."""
    fist = curling(n, 1.0) * FIST_DEG
    return solve_hands(hand_tracks(hand_landmarks(fist, "left"), hand_landmarks(fist, "right")), n)
