"""The MocapError hierarchy.

Every stage raises a subclass of MocapError for problems with user input or the
environment. The CLI turns one into a one-line message and an exit code; the batch
runner into a per-job failure record; the Blender add-on into `self.report`.
The message always names the file concerned and the problem.
"""

from __future__ import annotations


class MocapError(Exception):
    """Base class. `exit_code` is what the CLI exits with."""

    exit_code = 1


class InputError(MocapError):
    """The input file is missing, unreadable, not a video, or has no usable frames."""

    exit_code = 2


class DetectionError(MocapError):
    """Pose detection could not run (model missing, download impossible offline)."""

    exit_code = 3


class NoPersonError(MocapError):
    """No person was detected in (enough of) the clip to produce motion."""

    exit_code = 4


class ExportError(MocapError):
    """An output file could not be written (no Blender for FBX/GLB, unwritable folder)."""

    exit_code = 5


class FormatError(MocapError):
    """A file mocap reads (BVH, landmark cache) is malformed. Message carries the line number."""

    exit_code = 6


class StreamError(MocapError):
    """A live stream cannot be sent or received: unknown receiver host, nothing listening
    for the whole stream, a port already in use."""

    exit_code = 7
