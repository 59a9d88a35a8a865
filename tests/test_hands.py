"""Fingers (`--hands`): rig data, presets, merging hand landmarks, and a solve round trip.

The round trip builds hand landmarks from known finger flexion angles (a generator written
here, independent of mocap.hands.relaxed_hand), places them at a T-posed body's wrists,
merges, smooths and solves them with the product's code, and measures the flexion angles
of the solved skeleton's fingers (forward kinematics) against the ones put in.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hand_fixtures import FIST_DEG, FPS, curling, hand_landmarks, hand_tracks, solve_hands
from pose_fixtures import t_pose_world, tracks_from
from scipy.spatial.transform import Rotation

from mocap.data import FINGERS, HAND_LANDMARKS, SIDES, hand_landmark_names
from mocap.detect.mediapipe_hands import crop_box, matches_wrist
from mocap.hands import HandsConfig, merge_hands, relaxed_hand
from mocap.kinematics import global_transforms
from mocap.presets import apply_preset, list_presets, load_preset
from mocap.rig import RigError, load_rig

def _flexion(chain: list[np.ndarray]) -> np.ndarray:
    """(T, 3) angles in degrees at the three inner points of a 5-point chain of (T, 3)."""
    out = []
    for p, q, r in zip(chain, chain[1:], chain[2:]):
        u, v = q - p, r - q
        cos = np.sum(u * v, -1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
        out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.stack(out, axis=-1)


def _solved_flexion(motion, side: str) -> np.ndarray:
    """(T, 5, 3) flexion of the solved fingers (FK): wrist, three finger joints, end site."""
    sk = motion.skeleton
    pos, world = global_transforms(sk, motion.root_position_m, motion.rotations_xyzw)
    S = side.capitalize()
    out = []
    for finger in FINGERS:
        names = [f"{S}Hand{finger.capitalize()}{k}" for k in (1, 2, 3)]
        last = sk.index(names[-1])
        tip = pos[:, last] + Rotation.from_quat(world[:, last]).apply(sk.end_sites_m[names[-1]])
        out.append(_flexion([pos[:, sk.index(f"{S}Hand")], *(pos[:, sk.index(n)] for n in names), tip]))
    return np.stack(out, axis=1)


def _true_flexion(hand: np.ndarray) -> np.ndarray:
    """(T, 5, 3) flexion of generated landmarks, measured the same way."""
    out = []
    for finger in FINGERS:
        names = [n for n in HAND_LANDMARKS if n.startswith(finger + "_")]
        out.append(_flexion([hand[:, 0]] + [hand[:, HAND_LANDMARKS.index(n)] for n in names]))
    return np.stack(out, axis=1)


def test_default_rig_has_no_fingers_and_hands_rig_adds_thirty() -> None:
    body, hands = load_rig(), load_rig(hands=True)
    assert body.hands is None and not any("Hand" in n and n not in ("LeftHand", "RightHand") for n in body.joint_names)
    assert hands.joint_names[: len(body.joint_names)] == body.joint_names
    assert len(hands.joint_names) - len(body.joint_names) == 30
    assert body.joint("LeftHand").primary.end == "left_hand_tip"  # the default output keeps BlazePose's hand
    assert hands.joint("LeftHand").primary.end == "left_hand_middle_mcp"
    for side in ("Left", "Right"):
        for finger in FINGERS:
            for k in (1, 2, 3):
                assert f"{side}Hand{finger.capitalize()}{k}" in hands.joint_names


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_names_every_finger(preset: str) -> None:
    n = 20
    motion = solve_hands(hand_tracks(hand_landmarks(curling(n, 60), "left"), hand_landmarks(curling(n, 60), "right")), n)
    named = apply_preset(motion, load_preset(preset))
    assert len(set(named.skeleton.names)) == 52


def test_round_trip_recovers_curl_per_joint() -> None:
    n = 60
    flex_left, flex_right = curling(n, 80.0), curling(n, 40.0)
    left, right = hand_landmarks(flex_left, "left"), hand_landmarks(flex_right, "right")
    motion = solve_hands(hand_tracks(left, right), n)
    for side, hand in (("left", left), ("right", right)):
        truth, solved = _true_flexion(hand), _solved_flexion(motion, side)
        err = np.abs(solved - truth)
        assert err.mean() < 2.0, (side, err.mean(axis=0))
        assert err.max() < 8.0, (side, err.max(axis=0))
    # A fist curls every finger of its own hand, never the other: left 80 deg, right 40 deg at the peak.
    peak = n // 2
    assert (_solved_flexion(motion, "left")[peak, 1:] > 70).all()
    assert (_solved_flexion(motion, "right")[peak, 1:] < 50).all()


def test_spread_is_recovered() -> None:
    n = 10
    left = hand_landmarks(np.zeros((n, 5, 3)), "left")
    spread = left.copy()
    for finger, deg in (("index", 12.0), ("pinky", -12.0)):  # index and pinky splay about the palm normal
        names = [HAND_LANDMARKS.index(m) for m in HAND_LANDMARKS if m.startswith(finger + "_")]
        base = left[:, names[0]]
        rot = Rotation.from_euler("y", deg, degrees=True)
        for i in names[1:]:
            spread[:, i] = base + rot.apply(left[:, i] - base)
    for hand, expected in ((left, 0.0), (spread, 24.0)):
        motion = solve_hands(hand_tracks(hand, hand_landmarks(np.zeros((n, 5, 3)), "right")), n)
        sk = motion.skeleton
        pos, _ = global_transforms(sk, motion.root_position_m, motion.rotations_xyzw)
        index = pos[:, sk.index("LeftHandIndex2")] - pos[:, sk.index("LeftHandIndex1")]
        pinky = pos[:, sk.index("LeftHandPinky2")] - pos[:, sk.index("LeftHandPinky1")]
        cos = np.sum(index * pinky, -1) / np.linalg.norm(index, axis=-1) / np.linalg.norm(pinky, axis=-1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).mean() == pytest.approx(expected, abs=1.5)


def test_unseen_hand_relaxes_and_short_dropouts_are_bridged() -> None:
    n = 90
    flex = np.full((n, 5, 3), 70.0)
    seen_left = np.ones(n, bool)
    seen_left[30:75] = False  # 1.5 s: longer than HandsConfig.max_interp_s -> relaxed
    seen_right = np.ones(n, bool)
    seen_right[40:44] = False  # 4 frames: bridged from either side
    hands = hand_tracks(hand_landmarks(flex, "left"), hand_landmarks(flex, "right"), {"left": seen_left, "right": seen_right})
    motion = solve_hands(hands, n)
    rig = load_rig(hands=True)
    tmpl = relaxed_hand(rig)
    relaxed = _true_flexion(np.stack([tmpl[k] for k in HAND_LANDMARKS])[None])[0]
    left, right = _solved_flexion(motion, "left"), _solved_flexion(motion, "right")
    # Inside the long gap: the relaxed pose. The first joint's angle also depends on where the
    # fitted skeleton puts the knuckle (one offset for the whole clip, seen or not), hence 8 deg.
    assert np.abs(left[45:60, :, 1:] - relaxed[:, 1:]).max() < 3.0
    assert np.abs(left[45:60, :, 0] - relaxed[:, 0]).max() < 8.0
    assert np.abs(left[:20] - 70.0).mean() < 3.0  # seen: the fist
    assert np.abs(right[38:46] - 70.0).max() < 3.0  # the short dropout holds the fist
    assert np.isfinite(motion.rotations_xyzw).all()




def test_finger_rotations_are_continuous() -> None:
    n = 60  # open -> fist -> open in two seconds
    fist = curling(n, 1.0) * FIST_DEG
    motion = solve_hands(hand_tracks(hand_landmarks(fist, "left"), hand_landmarks(fist, "right")), n)
    q = motion.rotations_xyzw
    assert (np.sum(q[1:] * q[:-1], axis=-1) > 0).all()  # no sign flips
    step = np.degrees(2 * np.arccos(np.clip(np.abs(np.sum(q[1:] * q[:-1], axis=-1)), 0, 1)))
    assert step.max() < 15.0


def test_never_seen_hand_relaxes_at_blazepose_size() -> None:
    n = 10
    hands = hand_tracks(hand_landmarks(np.zeros((n, 5, 3)), "left"), hand_landmarks(np.zeros((n, 5, 3)), "right"),
                         {"left": np.zeros(n, bool), "right": np.zeros(n, bool)})
    rig = load_rig(hands=True)
    merged = merge_hands(tracks_from(t_pose_world(n), FPS), hands, rig)
    wrist = merged.world("left_wrist")
    knuckle = merged.world("left_hand_middle_mcp")
    assert np.isfinite(merged.world_m).all()
    assert np.linalg.norm(knuckle - wrist, axis=-1) == pytest.approx(0.09, abs=0.01)  # BlazePose: wrist -> index/pinky
    assert (knuckle[:, 0] > wrist[:, 0]).all()  # the left hand's fingers point along +X in the T-pose


def test_merge_refuses_other_frames() -> None:
    n = 5
    hands = hand_tracks(hand_landmarks(np.zeros((n, 5, 3)), "left"), hand_landmarks(np.zeros((n, 5, 3)), "right"))
    with pytest.raises(ValueError):
        merge_hands(tracks_from(t_pose_world(n + 1), FPS), replace(hands), load_rig(hands=True))


def test_rig_without_hands_section_refuses_hands(monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    from importlib import resources

    data = json.loads(resources.files("mocap.rigs").joinpath("humanoid.json").read_text())
    data.pop("hands")

    class Fake:
        def joinpath(self, name: str):
            return self

        def read_text(self) -> str:
            return json.dumps(data)

    monkeypatch.setattr("mocap.rig.resources.files", lambda pkg: Fake())
    with pytest.raises(RigError, match="no hands"):
        load_rig(hands=True)
    assert load_rig().hands is None


def test_left_right_check_against_the_body_wrists() -> None:
    own, other = np.array([100.0, 100.0]), np.array([160.0, 100.0])
    assert matches_wrist(np.array([105.0, 98.0]), own, other, 100.0)
    assert not matches_wrist(np.array([150.0, 100.0]), own, other, 100.0)  # the other hand, in this crop
    assert not matches_wrist(np.array([100.0, 140.0]), own, other, 100.0)  # too far from this wrist
    assert matches_wrist(np.array([110.0, 100.0]), own, np.full(2, np.nan), 100.0)  # other wrist unseen


def test_crop_holds_thehand_landmarks() -> None:
    wrist, tip, elbow = np.array([300.0, 200.0]), np.array([320.0, 200.0]), np.array([200.0, 200.0])
    x0, y0, side = crop_box(wrist, tip, elbow, (np.array([0.0, 0]), np.array([60.0, 0])))
    assert side == pytest.approx(130.0)  # 1.3 forearms
    finger_tips = tip + 2.0 * (tip - wrist)  # BlazePose's hand points sit about a third of the way
    for p in (wrist, finger_tips):
        assert x0 < p[0] < x0 + side and y0 < p[1] < y0 + side
    assert y0 + side / 2 == pytest.approx(200.0)


def test_hands_config_defaults_are_sane() -> None:
    cfg = HandsConfig()
    assert 0 < cfg.relaxed_visibility < 1 and cfg.max_interp_s > 0


# ---------------------------------------------------------------- MediaPipe Hands on a rendered clip

WAVE = "synthetic/dev_scifi_wave_front.mp4"  # the SciFi character waving, front view (CC0)


@pytest.fixture(scope="module", params=["holistic", "crops"])
def wave_hands(shared_data, request):
    clip = shared_data / WAVE
    if not clip.is_file():
        pytest.skip(f"test data not found at {clip} (../shared/data)")
    from mocap.detect.mediapipe_hands import detect_hands
    from mocap.detect.mediapipe_pose import detect_landmarks
    from mocap.video import probe_video, read_frames

    info = probe_video(clip)
    body = detect_landmarks(info, read_frames(info, None, 1.5))
    return body, detect_hands(info, read_frames(info, None, 1.5), body, method=request.param)


@pytest.mark.mediapipe
def test_hands_found_on_their_own_wrists(wave_hands) -> None:
    body, hands = wave_hands
    assert hands.names == hand_landmark_names() and hands.n_frames == body.n_frames
    assert np.array_equal(hands.frame_indices, body.frame_indices)
    found = {side: hands.visibility[:, 21 * k : 21 * (k + 1)].max(axis=1) > 0 for k, side in enumerate(SIDES)}
    assert found["left"].mean() > 0.3  # the waving hand (the character's left), raised beside the head
    assert hands.source.endswith(("hands-holistic", "hands-full-crops"))
    for k, side in enumerate(SIDES):
        other = SIDES[1 - k]
        rows = np.flatnonzero(found[side])
        wrist = hands.image_xy_px[rows, 21 * k]
        own = np.linalg.norm(wrist - body.image(f"{side}_wrist")[rows], axis=-1)
        far = np.linalg.norm(wrist - body.image(f"{other}_wrist")[rows], axis=-1)
        assert (own < far).all(), f"a {side} hand sits on the {other} wrist"
        rel = hands.world_m[rows, 21 * k : 21 * (k + 1)]
        assert np.allclose(rel[:, 0], 0.0)  # wrist-relative
        size = np.linalg.norm(rel[:, HAND_LANDMARKS.index("middle_mcp")], axis=-1)
        assert ((size > 0.04) & (size < 0.14)).all()  # metres: a hand, not pixels
    lost = ~found["left"] & ~found["right"]
    assert np.isnan(hands.world_m[lost]).all() and (hands.visibility[lost] == 0).all()


@pytest.mark.mediapipe
def test_hands_are_cached(wave_hands, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data) -> None:
    from mocap.detect import detect_hands_cached
    from mocap.detect import mediapipe_hands
    from mocap.video import probe_video

    body, hands = wave_hands
    info = probe_video(shared_data / WAVE)
    calls = []
    monkeypatch.setattr(mediapipe_hands, "detect_hands", lambda *a, **k: calls.append(1) or hands)
    method = "holistic" if hands.source.endswith("holistic") else "crops"
    first = detect_hands_cached(info, body, end_s=1.5, cache_dir=tmp_path, method=method)
    again = detect_hands_cached(info, body, end_s=1.5, cache_dir=tmp_path, method=method)
    assert len(calls) == 1 and np.array_equal(first.world_m, again.world_m, equal_nan=True)
    assert np.array_equal(again.visibility, hands.visibility)


def test_unknown_hand_method_is_refused() -> None:
    from mocap.detect.mediapipe_hands import detect_hands
    from mocap.errors import DetectionError

    body = tracks_from(t_pose_world(2), FPS)
    with pytest.raises(DetectionError, match="unknown hand detection method"):
        detect_hands(None, [], body, method="gloves")


def test_hands_found_rarely_are_warned_about() -> None:
    from mocap.pipeline import hands_warnings

    assert hands_warnings(None) == ()
    assert hands_warnings({"left": 0.95, "right": 0.95}) == ()
    (line,) = hands_warnings({"left": 0.95, "right": 0.4})
    assert line.startswith("The right hand was found in 40% of the frames") and "relaxed" in line
