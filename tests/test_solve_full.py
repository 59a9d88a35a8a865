"""The whole solve path on real optical motion capture: BVH -> landmarks and pixels seen by a
known camera -> smooth -> solve_full (camera root, depth refinement, floor, pose, root
travel, contacts, anchoring, foot locking) -> compared with the original.

The landmarks come from tests/synth.py (1 cm noise, 5% dropouts, a level pinhole camera
1000 px, 1280 x 720). Ground truth is looked up by name (truth["landmark_names"]).
Tolerances, measured on these clips (walk 8.4 m of travel, walk-turn 2.3 m, kick 0.6 m,
dance 2.0 m) with roughly a factor of 1.5-2 of margin:

- root travel (the hips' horizontal path from their start, levelled world against the
  truth's): mean 4-9 cm, so <= 15 cm; the camera-relative hip centre: median 4-6 cm, <= 10 cm;
- the floor of a level camera: tilt 0.5-3.2 degrees, <= 5;
- the refinement's bone lengths (its own, named output) against the true landmark
  distances: within 2.5%, so <= 5%;
- limb directions (upper arms, forearms, thighs, shins) in the levelled world, whose axes
  are the truth's up to the floor's tilt: mean 3.3-5.5 degrees, <= 8;
- contacts against independent ground-truth contacts (evaluate.ground_contacts: within 3 cm
  of the point's lowest height, < 5 mm/frame): pooled recall 0.77-0.99, precision 0.49-0.82;
- locked feet: while planted, a contact point slides 0.04-0.8 mm/frame and sits within
  1.9 cm of the floor, so <= 1.5 mm/frame and <= 3 cm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synth import landmarks_from_bvh

from mocap.camera import Camera
from mocap.data import LandmarkTracks
from mocap.evaluate import ground_contacts
from mocap.kinematics import joint_positions
from mocap.smooth import SmoothingConfig, smooth_tracks
from mocap.solve import MotionConfig, Solution, solve_full
from mocap.solve.pose import motion_contact_paths_m

CLIPS = [
    ("bvh/bandai_namco/dataset-1_walk_normal_001.bvh", None),
    ("bvh/bandai_namco/dataset-2_walk-turn-right_elderly_001.bvh", None),
    ("bvh/bandai_namco/dataset-1_kick_normal_001.bvh", None),
    ("bvh/bandai_namco/dataset-1_dance-short_normal_001.bvh", (10.0, 20.0)),
]
IDS = [Path(c).stem for c, _ in CLIPS]
LIMBS = {  # our joints (from, to) -> the landmarks at the same places
    ("LeftArm", "LeftForeArm"): ("left_shoulder", "left_elbow"),
    ("LeftForeArm", "LeftHand"): ("left_elbow", "left_wrist"),
    ("RightArm", "RightForeArm"): ("right_shoulder", "right_elbow"),
    ("RightForeArm", "RightHand"): ("right_elbow", "right_wrist"),
    ("LeftUpLeg", "LeftLeg"): ("left_hip", "left_knee"),
    ("LeftLeg", "LeftFoot"): ("left_knee", "left_ankle"),
    ("RightUpLeg", "RightLeg"): ("right_hip", "right_knee"),
    ("RightLeg", "RightFoot"): ("right_knee", "right_ankle"),
}
CONTACT_LANDMARK = {"left_heel": "left_heel", "left_toe": "left_foot_index",
                    "right_heel": "right_heel", "right_toe": "right_foot_index"}


@pytest.fixture(scope="module", params=CLIPS, ids=IDS)
def solved(request, shared_data) -> tuple[Solution, dict[str, np.ndarray], dict, LandmarkTracks]:
    """(solution, true landmarks by name (T, 3), synth's truth, the tracks) for one clip."""
    relative, span = request.param
    start, end = span or (None, None)
    tracks, truth = landmarks_from_bvh(shared_data / relative, noise_m=0.01, dropout=0.05, seed=7,
                                       start_s=start, end_s=end)
    camera = Camera.from_K(truth["camera_K"], *tracks.image_size_px)
    solution = solve_full(smooth_tracks(tracks, SmoothingConfig(cutoff_hz=6.0)), camera, MotionConfig())
    names = list(truth["landmark_names"])
    landmarks = {n: truth["landmarks_m"][:, names.index(n)] for n in names}
    return solution, landmarks, truth, tracks


def test_every_step_reports_and_the_motion_is_whole(solved):
    solution, landmarks, truth, tracks = solved
    motion = solution.motion
    assert motion.n_frames == tracks.n_frames and motion.fps == tracks.fps
    assert np.isfinite(motion.root_position_m).all() and np.isfinite(motion.rotations_xyzw).all()
    assert solution.refined is not None and solution.refined.tracks.n_frames == tracks.n_frames
    assert solution.contacts.fps == motion.fps and motion.contacts is solution.contacts
    assert solution.body.fitted.skeleton is motion.skeleton


def test_root_travel_and_the_camera_root_follow_the_truth(solved):
    solution, landmarks, truth, tracks = solved
    true_hips = 0.5 * (landmarks["left_hip"] + landmarks["right_hip"])
    camera_error = np.linalg.norm(solution.root.path_m - (true_hips - truth["camera_position_m"]), axis=1)
    assert np.median(camera_error) <= 0.10, np.median(camera_error)
    first = np.flatnonzero(tracks.detected)[0]
    true_travel = true_hips[:, [0, 2]] - true_hips[first, [0, 2]]
    error = np.linalg.norm(solution.motion.root_position_m[:, [0, 2]] - true_travel, axis=1)
    assert error.mean() <= 0.15, error.mean()
    assert solution.ground.tilt_deg <= 5.0


def test_refined_bone_lengths_match_the_performer(solved):
    solution, landmarks, truth, tracks = solved
    for (a, b) in {pair for pair in LIMBS.values()}:
        true_length = np.median(np.linalg.norm(landmarks[b] - landmarks[a], axis=1))
        assert solution.refined.bone_lengths_m[(a, b)] == pytest.approx(true_length, rel=0.05), (a, b)


def test_limb_directions_in_the_levelled_world(solved):
    solution, landmarks, truth, tracks = solved
    pos = joint_positions(solution.motion)
    sk = solution.motion.skeleton
    angles = []
    for (ja, jb), (la, lb) in LIMBS.items():
        ours = pos[:, sk.index(jb)] - pos[:, sk.index(ja)]
        theirs = landmarks[lb] - landmarks[la]
        cos = np.sum(ours * theirs, 1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
        angles.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    assert np.mean(angles) <= 8.0, np.mean(angles)


def test_contacts_agree_with_the_truth_and_locked_feet_stay_put(solved):
    solution, landmarks, truth, tracks = solved
    contacts = solution.contacts
    paths = motion_contact_paths_m(solution.motion, solution.fitted)
    hits = found_total = true_total = 0
    for c, name in enumerate(contacts.names):
        found = contacts.in_contact[:, c]
        true = ground_contacts(landmarks[CONTACT_LANDMARK[name]])
        hits += int((found & true).sum())
        found_total += int(found.sum())
        true_total += int(true.sum())
        both = found[1:] & found[:-1]
        slide_m = np.linalg.norm(np.diff(paths[name][:, [0, 2]], axis=0)[both], axis=1)
        assert slide_m.mean() <= 0.0015, (name, slide_m.mean())
        assert np.abs(paths[name][found, 1]).max() <= 0.03, name
    assert hits / true_total >= 0.65, hits / true_total
    assert hits / found_total >= 0.4, hits / found_total
