"""See a take before using it: the preview video (render.py, draw.py) and the camera sidecar
(camera_file.py) that lets `mocap preview VIDEO MOTION` redraw it from the files alone.

cv2 and av are imported inside functions only (draw.py, mocap.video).
"""

from mocap.preview.camera_file import CameraFile, camera_file_path, read_camera_file, write_camera_file
from mocap.preview.render import PreviewMotion, PreviewResult, render_preview

__all__ = [
    "CameraFile",
    "PreviewMotion",
    "PreviewResult",
    "camera_file_path",
    "read_camera_file",
    "render_preview",
    "write_camera_file",
]
