"""Pinhole camera: intrinsics from a field of view, projection round trips, frame conversion."""

import numpy as np
import pytest

from mocap.camera import (
    DEFAULT_FOV_DEG,
    Camera,
    cv_from_internal,
    diagonal_fov_deg_from_K,
    diagonal_fov_deg_from_focal_35mm,
    internal_from_cv,
)


def test_default_is_a_phone_main_camera():
    # 26 mm equivalent: 2 atan(43.27 / 2 / 26) = 79.5 degrees diagonal.
    assert DEFAULT_FOV_DEG == pytest.approx(79.5, abs=0.1)
    cam = Camera.from_fov(1920, 1080)
    # Focal length in pixels: half the diagonal over tan(fov / 2).
    assert cam.focal_px == pytest.approx(0.5 * np.hypot(1920, 1080) / np.tan(np.radians(79.5 / 2)), rel=1e-3)
    assert (cam.cx_px, cam.cy_px) == (959.5, 539.5)


def test_diagonal_fov_does_not_change_with_orientation():
    assert Camera.from_fov(1080, 1920, 70).focal_px == pytest.approx(Camera.from_fov(1920, 1080, 70).focal_px)


def test_fov_round_trips_through_K(shared_data):
    gt = np.load(shared_data / "synthetic" / "dev_scifi_walk_45.gt.npz")
    w, h = (int(x) for x in gt["image_size"])
    fov = diagonal_fov_deg_from_K(gt["camera_K"], w, h)
    cam = Camera.from_fov(w, h, fov)
    assert cam.K == pytest.approx(gt["camera_K"], abs=1e-6)
    assert cam.fov_deg == pytest.approx(fov)
    assert diagonal_fov_deg_from_focal_35mm(26.0) == pytest.approx(DEFAULT_FOV_DEG)


def test_project_matches_ground_truth_projection(shared_data):
    gt = np.load(shared_data / "synthetic" / "dev_scifi_walk_45.gt.npz")
    m = np.linalg.inv(gt["camera_world_from_cam"])
    joints_cam = gt["joints_world"].astype(float) @ m[:3, :3].T + m[:3, 3]
    cam = Camera.from_K(gt["camera_K"], *gt["image_size"])
    assert cam.project(joints_cam) == pytest.approx(gt["joints_2d"], abs=0.01)


def test_unproject_inverts_project():
    rng = np.random.default_rng(0)
    cam = Camera.from_fov(640, 480, 65)
    pts = rng.uniform([-1, -1, 1], [1, 1, 6], size=(50, 3))
    assert cam.unproject(cam.project(pts), pts[:, 2]) == pytest.approx(pts, abs=1e-9)
    assert np.isnan(cam.project(np.array([[0.0, 0.0, -1.0]]))).all()  # behind the camera


def test_internal_and_opencv_axes():
    # A point 2 m in front of the camera, 0.5 m up and 0.3 m to the right (internal frame).
    internal = np.array([0.3, 0.5, -2.0])
    cv = cv_from_internal(internal)
    assert cv == pytest.approx([0.3, -0.5, 2.0])
    assert internal_from_cv(cv) == pytest.approx(internal)
    u, v = Camera.from_fov(640, 480, 60).project(cv)
    assert u > 319.5 and v < 239.5  # right of and above the image centre


def test_rejects_impossible_fov():
    with pytest.raises(ValueError):
        Camera.from_fov(640, 480, 180)


def test_camera_pose_from_the_solver_transform_and_look_at():
    from scipy.spatial.transform import Rotation

    from mocap.camera import CameraPose

    rng = np.random.default_rng(1)
    r = Rotation.from_rotvec([0.1, -0.3, 0.05]).as_matrix()  # levelling rotation, world <- camera
    t = np.array([-0.4, -1.1, 2.5])
    pose = CameraPose.from_world_from_camera(r, t)
    cam_internal = rng.uniform(-2, 2, size=(20, 3))
    world = cam_internal @ r.T + t
    assert pose.cv_from_world(world) == pytest.approx(cv_from_internal(cam_internal))
    assert pose.position_m == pytest.approx(t)  # the camera's centre: internal origin
    # look_at: the target on the optical axis, straight ahead, image-up toward +Y
    eye, target = np.array([1.0, 2.0, 4.0]), np.array([0.0, 1.0, 0.0])
    view = CameraPose.look_at(eye, target)
    cv = view.cv_from_world(np.stack([target, target + [0, 0.5, 0]]))
    assert cv[0, :2] == pytest.approx([0.0, 0.0], abs=1e-12) and cv[0, 2] == pytest.approx(np.linalg.norm(target - eye))
    assert cv[1, 1] < 0  # higher in the world is up in the image (OpenCV y down)
    assert view.position_m == pytest.approx(eye)
