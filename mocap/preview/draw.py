"""Drawing for the preview (OpenCV): the skeleton over the video, and a fixed 3D view.

The only preview module that imports cv2 (lazily, inside functions). Images are (H, W, 3)
uint8 RGB; colours below are RGB. Points are pixels (x right, y down; docs/conventions.md).

The 3D view is drawn by projecting world points with mocap's own pinhole camera
(mocap.camera.Camera, CameraPose.look_at) from a fixed viewpoint chosen once per clip
(`ViewCamera.framing`): 35 degrees to the performer's front-right, 20 degrees above, far
enough that every joint of the clip stays in view. The floor grid (0.5 m squares) and the
root's whole path are static and drawn once (`ViewCamera.background`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap.camera import Camera, CameraPose

LEFT_RGB = (66, 165, 245)  # blue
RIGHT_RGB = (239, 83, 80)  # red
CENTRE_RGB = (255, 238, 88)  # yellow
CONTACT_RGB = (102, 255, 102)  # green: a foot point planted on the floor
GRID_RGB = (90, 90, 96)
PATH_RGB = (150, 120, 200)
BACKGROUND_RGB = (32, 32, 36)
GRID_STEP_M = 0.5
VIEW_FOV_DEG = 50.0
VIEW_AZIMUTH_DEG = 35.0  # from the performer's front (+Z) toward their left (+X): the camera's right
VIEW_ELEVATION_DEG = 20.0


def side_colour(name: str) -> tuple[int, int, int]:
    """Colour of a canonical joint (mocap/rigs/humanoid.json names): left, right or centre."""
    if name.startswith("Left"):
        return LEFT_RGB
    if name.startswith("Right"):
        return RIGHT_RGB
    return CENTRE_RGB


def _pts(xy: np.ndarray) -> np.ndarray:
    """Pixels as OpenCV's fixed-point ints (4 fractional bits, shift=4)."""
    return np.round(np.asarray(xy) * 16.0).astype(np.int32)


def draw_skeleton(
    image: np.ndarray,
    joints_px: np.ndarray,
    parents: tuple[int, ...],
    colours: list[tuple[int, int, int]],
    contact_joints: list[int] = (),
    thickness: int = 2,
) -> None:
    """Draw bones (joint -> parent) and joints in place. joints_px: (J, 2) pixels, NaN = skip.

    contact_joints: joints drawn as large green discs (feet planted on the floor).
    """
    import cv2

    pts = _pts(np.nan_to_num(joints_px, nan=-1e4))
    finite = np.all(np.isfinite(joints_px), axis=-1)
    for j, p in enumerate(parents):
        if p >= 0 and finite[j] and finite[p]:
            cv2.line(image, tuple(pts[p]), tuple(pts[j]), colours[j], thickness + 1, cv2.LINE_AA, 4)
    radius = max(2, thickness + 1)
    for j in range(len(parents)):
        if finite[j]:
            cv2.circle(image, tuple(pts[j]), radius * 16, colours[j], -1, cv2.LINE_AA, 4)
    for j in contact_joints:
        if finite[j]:
            cv2.circle(image, tuple(pts[j]), (radius + 4) * 16, CONTACT_RGB, 2, cv2.LINE_AA, 4)


def put_label(image: np.ndarray, text: str, origin_px: tuple[int, int] = (10, 24), scale: float = 0.6) -> None:
    """White text with a dark outline, in place."""
    import cv2

    cv2.putText(image, text, origin_px, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(image, text, origin_px, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


@dataclass(frozen=True)
class ViewCamera:
    """The fixed camera of the 3D panel: a square image of `size_px`."""

    camera: Camera
    pose: CameraPose

    @classmethod
    def framing(cls, joints_m: np.ndarray, size_px: int) -> ViewCamera:
        """A viewpoint that keeps every joint of (T, J, 3) world positions (and the floor under
        them) in a size_px x size_px image, looking at the middle of the clip's bounding box."""
        pts = np.asarray(joints_m, dtype=float).reshape(-1, 3)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        lo[1] = min(lo[1], 0.0)
        centre = 0.5 * (lo + hi)
        radius = 0.5 * float(np.linalg.norm(hi - lo)) + 0.3
        az, el = np.radians(VIEW_AZIMUTH_DEG), np.radians(VIEW_ELEVATION_DEG)
        direction = np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])
        half_fov = 0.5 * np.radians(VIEW_FOV_DEG) / np.sqrt(2.0)  # the diagonal fov of a square image
        distance = radius / np.sin(half_fov)
        camera = Camera.from_fov(size_px, size_px, VIEW_FOV_DEG)
        return cls(camera, CameraPose.look_at(centre + distance * direction, centre))

    def project(self, points_m: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 2) pixels of the panel."""
        return self.camera.project(self.pose.cv_from_world(points_m))

    def background(self, joints_m: np.ndarray, root_path_m: np.ndarray) -> np.ndarray:
        """The static panel: floor grid under the clip's extent, and the root's path on the floor."""
        import cv2

        size = self.camera.width_px
        image = np.empty((size, size, 3), np.uint8)
        image[:] = BACKGROUND_RGB
        pts = np.asarray(joints_m, dtype=float).reshape(-1, 3)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        x0, x1 = np.floor((pts[:, 0].min() - 0.5) / GRID_STEP_M), np.ceil((pts[:, 0].max() + 0.5) / GRID_STEP_M)
        z0, z1 = np.floor((pts[:, 2].min() - 0.5) / GRID_STEP_M), np.ceil((pts[:, 2].max() + 0.5) / GRID_STEP_M)
        for i in np.arange(x0, x1 + 1):
            a, b = self.project(np.array([[i * GRID_STEP_M, 0, z0 * GRID_STEP_M], [i * GRID_STEP_M, 0, z1 * GRID_STEP_M]]))
            cv2.line(image, tuple(_pts(a)), tuple(_pts(b)), GRID_RGB, 1, cv2.LINE_AA, 4)
        for k in np.arange(z0, z1 + 1):
            a, b = self.project(np.array([[x0 * GRID_STEP_M, 0, k * GRID_STEP_M], [x1 * GRID_STEP_M, 0, k * GRID_STEP_M]]))
            cv2.line(image, tuple(_pts(a)), tuple(_pts(b)), GRID_RGB, 1, cv2.LINE_AA, 4)
        floor_path = np.asarray(root_path_m, dtype=float).copy()
        floor_path[:, 1] = 0.0
        path_px = _pts(self.project(floor_path)).reshape(-1, 1, 2)
        cv2.polylines(image, [path_px], False, PATH_RGB, 1, cv2.LINE_AA, 4)
        return image


def draw_view(
    background: np.ndarray,
    view: ViewCamera,
    joints_m: np.ndarray,
    parents: tuple[int, ...],
    colours: list[tuple[int, int, int]],
    contact_joints: list[int] = (),
) -> np.ndarray:
    """One frame of the 3D panel: a copy of `background` with the skeleton (J, 3) world
    positions, and a green disc on the floor under each joint in contact."""
    import cv2

    image = background.copy()
    for j in contact_joints:
        spot = joints_m[j].copy()
        spot[1] = 0.0
        centre = view.project(spot)
        if np.all(np.isfinite(centre)):
            cv2.circle(image, tuple(_pts(centre)), 7 * 16, CONTACT_RGB, -1, cv2.LINE_AA, 4)
    shadow = joints_m.copy()
    shadow[:, 1] = 0.0
    draw_skeleton(image, view.project(shadow), parents, [(60, 60, 66)] * len(parents), thickness=1)
    draw_skeleton(image, view.project(joints_m), parents, colours, contact_joints)
    return image
