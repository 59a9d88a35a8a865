"""The retarget package's own error. It has no dependency on the rest of mocap (the
add-on carries a copy of this package into Blender); mocap.cli and the add-on's
operators turn it into their one-line message."""


class RetargetError(Exception):
    """A bone map, armature or motion file that cannot be retargeted; the message names it."""

    exit_code = 2
