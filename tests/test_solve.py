"""Solver: exact answers on landmarks placed by hand from a known pose."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pose_fixtures import t_pose_world, tracks_from

from mocap.data import BLAZEPOSE_NAMES
from mocap.kinematics import make_continuous, quat_angle_deg
from mocap.solve import solve_motion

def test_t_pose_gives_identity_rotations_and_the_right_size():
    result = solve_motion(tracks_from(t_pose_world(5)))
    motion = result.motion
    identity = np.tile([0, 0, 0, 1.0], (5, motion.skeleton.n_joints, 1))
    # Head and feet follow the face and foot landmarks, which here are level: all identity.
    assert quat_angle_deg(motion.rotations_xyzw, identity).max() < 1e-6
    # Height: heel/toe at 0.02 -> floor; head top above the ears. 1.6 - 1.8 m.
    assert 1.6 < result.fitted.height_m < 1.8
    # Lowest foot point on the floor in every frame.
    assert motion.root_position_m[:, 1] == pytest.approx(0.93, abs=0.01)


def test_whole_body_turn_shows_only_at_the_hips_and_stays_continuous():
    n = 120
    yaw = np.linspace(0, 2 * np.pi, n)  # one full turn, through +-180 degrees
    turn = Rotation.from_euler("y", yaw[:, None])
    base = t_pose_world(1)[0]
    world = np.stack([turn[t].apply(base) for t in range(n)])
    motion = solve_motion(tracks_from(world)).motion
    hips = motion.rotations_xyzw[:, 0]
    assert quat_angle_deg(hips, turn.as_quat()).max() < 1e-4
    rest = motion.rotations_xyzw[:, 1:]
    assert quat_angle_deg(rest, np.tile([0, 0, 0, 1.0], rest.shape[:2] + (1,))).max() < 1e-4
    # Continuity: neighbouring quaternions never jump hemispheres.
    assert (np.sum(hips[1:] * hips[:-1], axis=-1) > 0.99).all()


def test_elbow_bend_is_recovered_as_a_forearm_rotation():
    n = 30
    angle = np.radians(np.linspace(0, 120, n))  # flex the left elbow forward (towards +Z)
    world = t_pose_world(n)
    i = {name: BLAZEPOSE_NAMES.index(name) for name in BLAZEPOSE_NAMES}
    elbow = world[0, i["left_elbow"]]
    flex = Rotation.from_euler("y", -angle[:, None])  # +X towards +Z is a negative turn about Y
    for name in ("left_wrist", "left_index", "left_pinky", "left_thumb"):
        world[:, i[name]] = elbow + flex.apply(world[0, i[name]] - elbow)
    motion = solve_motion(tracks_from(world)).motion
    sk = motion.skeleton
    fore = motion.rotations_xyzw[:, sk.index("LeftForeArm")]
    assert quat_angle_deg(fore, flex.as_quat()).max() < 0.5
    upper = motion.rotations_xyzw[:, sk.index("LeftArm")]
    assert quat_angle_deg(upper, np.tile([0, 0, 0, 1.0], (n, 1))).max() < 0.5


def test_make_continuous_removes_sign_flips():
    q = Rotation.from_euler("z", np.linspace(0, 3 * np.pi, 50)[:, None]).as_quat()
    q[::3] *= -1
    c = make_continuous(q)
    assert (np.sum(c[1:] * c[:-1], axis=-1) > 0).all()
    assert quat_angle_deg(c, q).max() < 1e-9


def test_rotation_from_to_handles_parallel_opposite_and_general_vectors():
    from mocap.kinematics import rotation_from_to

    rng = np.random.default_rng(3)
    a = rng.normal(size=(50, 3))
    b = rng.normal(size=(50, 3))
    a[0], b[0] = [0, 0, 1], [0, 0, 2]  # parallel
    a[1], b[1] = [0, 1, 0], [0, -3, 0]  # opposite
    a[2], b[2] = [1, 0, 0], [-1, 0, 0]  # opposite, along the first helper axis
    r = rotation_from_to(a, b)
    turned = r.apply(a / np.linalg.norm(a, axis=1, keepdims=True))
    np.testing.assert_allclose(turned, b / np.linalg.norm(b, axis=1, keepdims=True), atol=1e-9)
    # smallest: the angle is the angle between the vectors
    cos = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(r.magnitude(), np.arccos(np.clip(cos, -1, 1)), atol=1e-9)
