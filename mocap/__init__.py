"""mocap: ordinary video of a person -> production motion-capture files.

`import mocap` is deliberately light: numpy only. MediaPipe, PyAV and bpy are
imported lazily inside their adapters (mocap.detect, mocap.video, mocap.export.blender).
"""

__version__ = "0.1.0"
