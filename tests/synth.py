"""Synthetic BlazePose-like landmarks from a third-party BVH, for solver round-trip tests.

landmarks_from_bvh(path) -> (LandmarkTracks, truth). How the landmarks are made:

- The BVH is read with mocap.bvh (motion_from_bvh; Bandai's static `joint_Root` is
  folded into `Hips`), cropped to [start_s, end_s], resampled to `fps` if asked (slerp
  of local rotations, linear root position, then FK, so bone lengths stay exact), and
  converted to metres: 0.01043 m/unit for Bandai Namco (the scale the renders in
  shared/data/synthetic use, giving a 1.6-1.7 m performer), 0.01 for Mixamo and
  mocapbank files; override with m_per_unit.
- The scene is turned about +Y so the performer faces +Z on the first frame (towards
  the camera, as MediaPipe's frame becomes after the internal conversion). The
  performer's frame on frame 0: left = left shoulder - right shoulder, up = neck - hips,
  forward = left x up (right-handed: facing +Z, left is +X, up is +Y).
- Shoulders, elbows, wrists, hips, knees, ankles are joint positions; foot_index is the
  toe joint's End Site if it has a real one, else the toe joint (Bandai: the ball of the
  foot), else the ankle's End Site (mocapbank). Other landmarks are fixed offsets from an
  anchor joint: chosen in the performer's frame on frame 0 (constants below, metres),
  turned into the anchor's local frame with its frame-0 world rotation, then carried by
  its world rotation on every frame. Face -> Head; index/pinky/thumb -> the hand (along
  the forearm direction, spread along forward); heel -> the ankle (behind and below,
  along the shin and against the toe direction square to it).
- world_m is hip-centred per frame (minus the mid-point of the noisy hips, as BlazePose
  does); image_xy_px is a pinhole projection of the un-centred noisy positions: a level
  camera on the performer's forward axis looking along -Z, at height 1.0 m, at least
  3 m in front of every landmark of the clip (3.5 m from the first frame's hips at
  least), focal 1000 px, 1280 x 720 image, pixel centres at integers.
- Noise: Gaussian, std noise_m per coordinate, added before centring and projection.
  Dropouts: each landmark independently with probability `dropout` (NaN, visibility 0);
  whole frames (detected=False, all NaN) by a two-state Markov chain whose long-run
  share is frame_dropout (default dropout / 4) with gaps of 3 frames on average.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from mocap.bvh import motion_from_bvh, parse_bvh
from mocap.data import BLAZEPOSE_NAMES, LandmarkTracks, Motion
from mocap.kinematics import global_transforms, unit

IMAGE_SIZE_PX = (1280, 720)
FOCAL_PX = 1000.0
CAMERA_HEIGHT_M = 1.0
CLEARANCE_M = 3.0  # the camera stays at least this far in front of every landmark
MEAN_GAP_FRAMES = 3.0

# Offsets in the performer's frame (left, up, forward), metres, from the anchor joint.
FACE_FROM_HEAD = {
    "nose": (0.0, 0.08, 0.11),
    "left_eye_inner": (0.015, 0.11, 0.095), "left_eye": (0.033, 0.11, 0.09), "left_eye_outer": (0.048, 0.11, 0.08),
    "right_eye_inner": (-0.015, 0.11, 0.095), "right_eye": (-0.033, 0.11, 0.09), "right_eye_outer": (-0.048, 0.11, 0.08),
    "left_ear": (0.075, 0.10, 0.0), "right_ear": (-0.075, 0.10, 0.0),
    "mouth_left": (0.025, 0.05, 0.10), "mouth_right": (-0.025, 0.05, 0.10),
}
# Hand landmarks: (along the forearm, along forward) metres from the wrist.
HAND_FROM_WRIST = {"index": (0.085, 0.02), "pinky": (0.075, -0.025), "thumb": (0.035, 0.04)}
HEEL_BEHIND_M, HEEL_BELOW_M = 0.045, 0.065


@dataclass(frozen=True)
class Profile:
    """Joint names of one BVH skeleton family (after stripping a `prefix:`)."""

    m_per_unit: float
    hips: str
    neck: str
    head: str
    side: dict[str, str]  # BlazePose part -> joint name with {S} for the side letter/word
    sides: tuple[str, str]  # (left, right) replacements for {S}
    toe: str | None  # None: use the ankle's End Site


PROFILES = {
    "bandai": Profile(0.01043, "Hips", "Neck", "Head",
                      {"shoulder": "UpperArm_{S}", "elbow": "LowerArm_{S}", "wrist": "Hand_{S}", "hip": "UpperLeg_{S}",
                       "knee": "LowerLeg_{S}", "ankle": "Foot_{S}"}, ("L", "R"), "Toes_{S}"),
    "mixamo": Profile(0.01, "Hips", "Neck", "Head",
                      {"shoulder": "{S}Arm", "elbow": "{S}ForeArm", "wrist": "{S}Hand", "hip": "{S}UpLeg",
                       "knee": "{S}Leg", "ankle": "{S}Foot"}, ("Left", "Right"), "{S}ToeBase"),
    "mocapbank": Profile(0.01, "Hips", "Neck", "Head",
                         {"shoulder": "{S}Shoulder", "elbow": "{S}Elbow", "wrist": "{S}Wrist", "hip": "{S}Hip",
                          "knee": "{S}Knee", "ankle": "{S}Ankle"}, ("Left", "Right"), None),
}


def landmarks_from_bvh(
    path: str | Path,
    fps: float | None = None,
    noise_m: float = 0.0,
    dropout: float = 0.0,
    seed: int = 0,
    start_s: float | None = None,
    end_s: float | None = None,
    *,
    frame_dropout: float | None = None,
    m_per_unit: float | None = None,
) -> tuple[LandmarkTracks, dict]:
    """BlazePose-like tracks (33 landmarks) from a Bandai Namco, Mixamo or mocapbank BVH.

    Returns (tracks, truth). truth holds, in the same yaw-turned world (metres, Y up):
    "landmarks_m" (T, 33, 3) clean un-centred landmarks, "landmark_names" (33,),
    "joint_names" (J,), "joint_positions_m" (T, J, 3), "joint_rotations_xyzw" (T, J, 4)
    world rotations, "motion" (the cropped, resampled, turned Motion), "camera_K" (3, 3),
    "camera_position_m" (3,), "yaw_deg" (turn applied about +Y), "m_per_unit",
    "source_times_s" (T,) time of each frame in the BVH, "dropped" (T, 33) bool.
    """
    path = Path(path)
    doc = parse_bvh(path.read_text(encoding="utf-8", errors="replace"), str(path))
    profile, prefix = _profile(doc.names)
    scale = m_per_unit if m_per_unit is not None else profile.m_per_unit
    motion = motion_from_bvh(doc, units=scale, name=path.stem)
    motion, source_times = _crop_and_resample(motion, fps, start_s, end_s)
    joint = {n.split(":")[-1]: j for j, n in enumerate(motion.skeleton.names)}

    def jid(part: str, side: int) -> int:
        return joint[profile.side[part].format(S=profile.sides[side])]

    pos, _ = global_transforms(motion.skeleton, motion.root_position_m, motion.rotations_xyzw)
    left, up, forward = _performer_axes(pos[0], jid("shoulder", 0), jid("shoulder", 1), joint[profile.neck], joint[profile.hips])
    yaw_rad = -float(np.arctan2(forward[0], forward[2]))  # turns the facing onto +Z
    yaw = Rotation.from_euler("Y", yaw_rad)
    motion = _turn(motion, yaw)
    pos, rot = global_transforms(motion.skeleton, motion.root_position_m, motion.rotations_xyzw)
    left, up, forward = (yaw.apply(v) for v in (left, up, forward))
    rots = [Rotation.from_quat(rot[:, j]) for j in range(rot.shape[1])]

    def carried(anchor: int, offset_world0: np.ndarray) -> np.ndarray:
        local = rots[anchor][0].inv().apply(offset_world0)
        return pos[:, anchor] + rots[anchor].apply(local)

    n_frames = pos.shape[0]
    clean = np.zeros((n_frames, len(BLAZEPOSE_NAMES), 3))
    at = {name: i for i, name in enumerate(BLAZEPOSE_NAMES)}
    axes = np.stack([left, up, forward])  # rows: performer axes in the world
    for name, offset in FACE_FROM_HEAD.items():
        clean[:, at[name]] = carried(joint[profile.head], np.asarray(offset) @ axes)
    for side, word in enumerate(("left", "right")):
        for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            clean[:, at[f"{word}_{part}"]] = pos[:, jid(part, side)]
        wrist, elbow, ankle = jid("wrist", side), jid("elbow", side), jid("ankle", side)
        along = unit(pos[0, wrist] - pos[0, elbow])
        across = forward - np.dot(forward, along) * along
        if np.linalg.norm(across) < 0.3:  # forearm along forward: spread the fingers upwards
            across = up - np.dot(up, along) * along
        across = unit(across)
        for part, (a, f) in HAND_FROM_WRIST.items():
            clean[:, at[f"{word}_{part}"]] = carried(wrist, a * along + f * across)
        clean[:, at[f"{word}_foot_index"]] = _toe(motion, profile, joint, prefix, side, pos, rots, ankle)
        shin = unit(pos[0, ankle] - pos[0, jid("knee", side)])
        foot = clean[0, at[f"{word}_foot_index"]] - pos[0, ankle]
        foot = unit(foot - np.dot(foot, shin) * shin)  # toe-ward, square to the shin
        clean[:, at[f"{word}_heel"]] = carried(ankle, HEEL_BELOW_M * shin - HEEL_BEHIND_M * foot)

    rng = np.random.default_rng(seed)
    noisy = clean + rng.normal(0.0, noise_m, clean.shape) if noise_m > 0 else clean.copy()
    mid_hip = 0.5 * (noisy[:, at["left_hip"]] + noisy[:, at["right_hip"]])
    world = noisy - mid_hip[:, None]
    hips0 = 0.5 * (clean[0, at["left_hip"]] + clean[0, at["right_hip"]])
    distance = max(3.5, float(np.max(clean[..., 2]) - hips0[2]) + CLEARANCE_M)
    camera = np.array([hips0[0], CAMERA_HEIGHT_M, hips0[2] + distance])
    width, height = IMAGE_SIZE_PX
    K = np.array([[FOCAL_PX, 0, (width - 1) / 2], [0, FOCAL_PX, (height - 1) / 2], [0, 0, 1.0]])
    image = project(noisy, camera, K)

    dropped = rng.random(clean.shape[:2]) < dropout
    detected = ~_frame_gaps(rng, n_frames, dropout / 4 if frame_dropout is None else frame_dropout)
    dropped |= ~detected[:, None]
    world[dropped] = np.nan
    image[dropped] = np.nan
    tracks = LandmarkTracks(
        names=BLAZEPOSE_NAMES,
        fps=motion.fps,
        times_s=np.arange(n_frames) / motion.fps,
        frame_indices=np.arange(n_frames),
        image_size_px=IMAGE_SIZE_PX,
        image_xy_px=image,
        world_m=world,
        visibility=(~dropped).astype(float),
        detected=detected,
        source=f"synth:{path.name}",
    )
    truth = {
        "landmarks_m": clean, "landmark_names": BLAZEPOSE_NAMES, "joint_names": motion.skeleton.names,
        "joint_positions_m": pos, "joint_rotations_xyzw": rot, "motion": motion, "camera_K": K,
        "camera_position_m": camera, "yaw_deg": float(np.degrees(yaw_rad)),
        "m_per_unit": scale, "source_times_s": source_times, "dropped": dropped,
    }
    return tracks, truth


def project(points_m: np.ndarray, camera_m: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 3) world points -> (..., 2) pixels for a level camera at camera_m looking along -Z."""
    rel = points_m - camera_m
    depth = -rel[..., 2]
    u = K[0, 2] + K[0, 0] * rel[..., 0] / depth
    v = K[1, 2] - K[1, 1] * rel[..., 1] / depth
    return np.stack([u, v], axis=-1)


def _profile(names: tuple[str, ...]) -> tuple[Profile, str]:
    short = {n.split(":")[-1] for n in names}
    prefix = names[0].rsplit(":", 1)[0] + ":" if ":" in names[0] else ""
    for profile in PROFILES.values():
        needed = [profile.hips, profile.neck, profile.head]
        needed += [p.format(S=s) for p in profile.side.values() for s in profile.sides]
        if profile.toe:
            needed += [profile.toe.format(S=s) for s in profile.sides]
        if all(n in short for n in needed):
            return profile, prefix
    raise ValueError(f"no landmark mapping for a skeleton with joints {sorted(short)[:8]}...")


def _crop_and_resample(
    motion: Motion, fps: float | None, start_s: float | None, end_s: float | None
) -> tuple[Motion, np.ndarray]:
    """Frames in [start_s, end_s] (seconds from the file's first frame), at `fps`."""
    src_times = np.arange(motion.n_frames) / motion.fps
    t0 = src_times[0] if start_s is None else max(float(start_s), 0.0)
    t1 = src_times[-1] if end_s is None else min(float(end_s), src_times[-1])
    rate = motion.fps if fps is None else float(fps)
    times = t0 + np.arange(int(np.floor((t1 - t0) * rate + 1e-9)) + 1) / rate
    if times.size < 2:
        raise ValueError(f"[{start_s}, {end_s}] s holds fewer than 2 frames")
    frames = times * motion.fps
    if np.allclose(frames, np.round(frames), atol=1e-6):  # no interpolation needed
        idx = np.round(frames).astype(int)
        root, quats = motion.root_position_m[idx], motion.rotations_xyzw[idx]
    else:
        root = np.stack([np.interp(times, src_times, motion.root_position_m[:, k]) for k in range(3)], axis=1)
        quats = np.stack(
            [Slerp(src_times, Rotation.from_quat(motion.rotations_xyzw[:, j]))(times).as_quat()
             for j in range(motion.skeleton.n_joints)], axis=1)
    return Motion(motion.skeleton, rate, root, quats, name=motion.name), times


def _performer_axes(p0: np.ndarray, l_sh: int, r_sh: int, neck: int, hips: int) -> tuple[np.ndarray, ...]:
    """(left, up, forward) unit vectors from one frame's (J, 3) joint positions."""
    left = unit(p0[l_sh] - p0[r_sh])
    up = unit(p0[neck] - p0[hips])
    up = unit(up - np.dot(up, left) * left)
    return left, up, np.cross(left, up)


def _turn(motion: Motion, yaw: Rotation) -> Motion:
    """The same motion turned about +Y through the world origin."""
    quats = motion.rotations_xyzw.copy()
    quats[:, 0] = (yaw * Rotation.from_quat(quats[:, 0])).as_quat()
    return Motion(motion.skeleton, motion.fps, yaw.apply(motion.root_position_m), quats, name=motion.name)


def _toe(motion, profile, joint, prefix, side, pos, rots, ankle) -> np.ndarray:  # noqa: ANN001
    """(T, 3) foot_index: the toe's End Site if real, else the toe joint, else the ankle's End Site."""
    word = profile.sides[side]
    if profile.toe is not None:
        toe_name = profile.toe.format(S=word)
        toe = joint[toe_name]
        site = motion.skeleton.end_sites_m.get(prefix + toe_name)
        if site is not None and np.linalg.norm(site) > 0.01:
            return pos[:, toe] + rots[toe].apply(site)
        return pos[:, toe]
    site = motion.skeleton.end_sites_m[motion.skeleton.names[ankle]]
    return pos[:, ankle] + rots[ankle].apply(site)


def _frame_gaps(rng: np.random.Generator, n_frames: int, share: float) -> np.ndarray:
    """(T,) bool, True in undetected frames: a Markov chain with long-run share `share`."""
    if share <= 0:
        return np.zeros(n_frames, dtype=bool)
    leave = 1.0 / MEAN_GAP_FRAMES
    enter = min(1.0, share / (1.0 - share) * leave) if share < 1 else 1.0
    gaps = np.zeros(n_frames, dtype=bool)
    state = rng.random() < share
    for t, u in enumerate(rng.random(n_frames)):
        gaps[t] = state
        state = (u >= leave) if state else (u < enter)
    return gaps
