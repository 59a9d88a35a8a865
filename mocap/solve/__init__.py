"""The solve stage: smoothed LandmarkTracks -> Motion on a humanoid rig.

solve_motion (pose only, hips in place):

    points   = rig points from landmarks            (mocap.rig.point_positions)
    world    = joint world orientations per frame   (orient.world_orientations)
    fitted   = bone lengths / rest offsets          (fit.fit_skeleton)
    local    = parent^-1 * world, sign-continuous   (here)
    root     = hip centre, lifted so the lowest foot point is on the floor (here)

solve_full (with a camera: travel, floor, feet; docs/motion-quality.md):

    root     = hip centre relative to the camera     (root.camera_relative_root)
    refine   = 3D pose re-projected onto the 2D      (refine.refine_world), root again
    ground   = floor plane, levelling rotation       (ground.fit_ground)
    solve    = solve_motion on the levelled pose, root placed per `root_motion`
    contacts = heel/toe contacts                     (contacts.detect_contacts)
    lock     = planted feet held, legs by IK         (footlock.lock_feet)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.spatial.transform import Rotation

from mocap.camera import Camera, CameraPose
from mocap.choices import FootLock, RootMotion, parse_choice
from mocap.data import LandmarkTracks, Motion
from mocap.kinematics import global_transforms, make_continuous, rotation_from_to
from mocap.rig import RigTemplate, load_rig, point_positions
from mocap.timeseries import runs
from mocap.solve.anchor import AnchorConfig, SettleConfig, anchored_root, settle_on_floor
from mocap.solve.contacts import ContactConfig, detect_contacts
from mocap.solve.fit import FittedRig, fit_skeleton, floor_height
from mocap.solve.footlock import FootLockConfig, lock_feet
from mocap.solve.ground import Ground, GroundConfig, fit_ground
from mocap.solve.orient import world_orientations
from mocap.solve.refine import RefineConfig, refine_world
from mocap.solve.root import RootConfig, camera_relative_root



@dataclass(frozen=True)
class SolveResult:
    motion: Motion
    fitted: FittedRig
    ground: Ground | None = None  # solve_full only
    root_camera_m: np.ndarray | None = None  # (T, 3) hip centre relative to the camera (solve_full only)
    camera_pose: CameraPose | None = None  # the solver's camera in the motion's world (solve_full only)


@dataclass(frozen=True)
class MotionConfig:
    """Options of solve_full: root_motion and foot_lock are mocap.choices (strings are
    accepted and converted; an unknown one raises ValueError)."""

    root_motion: RootMotion = RootMotion.FULL
    foot_lock: FootLock = FootLock.ON
    refine: bool = True
    root: RootConfig = field(default_factory=RootConfig)
    refine_cfg: RefineConfig = field(default_factory=RefineConfig)
    ground: GroundConfig = field(default_factory=GroundConfig)
    contacts: ContactConfig = field(default_factory=ContactConfig)
    anchor: AnchorConfig = field(default_factory=AnchorConfig)
    settle: SettleConfig = field(default_factory=SettleConfig)
    footlock: FootLockConfig = field(default_factory=FootLockConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root_motion", parse_choice(RootMotion, self.root_motion, "root_motion"))
        object.__setattr__(self, "foot_lock", parse_choice(FootLock, self.foot_lock, "foot_lock"))


def solve_motion(tracks: LandmarkTracks, rig: RigTemplate | None = None, name: str = "") -> SolveResult:
    """Solve a Motion from smoothed, gap-filled tracks (see mocap.smooth.smooth_tracks)."""
    rig = rig or load_rig()
    points = point_positions(rig, tracks)
    world = world_orientations(rig, points)
    fitted = fit_skeleton(rig, points, world, seen=tracks.detected)
    if _aim_spine(fitted, world, points):
        fitted = fit_skeleton(rig, points, world, seen=tracks.detected)  # refit offsets in the aimed frames
    sk = fitted.skeleton

    world_q = np.stack([world[n].as_quat() for n in sk.names], axis=1)  # (T, J, 4)
    local_q = np.empty_like(world_q)
    for j, parent in enumerate(sk.parents):
        if parent < 0:
            local_q[:, j] = world_q[:, j]
        else:
            local_q[:, j] = (world[sk.names[parent]].inv() * world[sk.names[j]]).as_quat()
    local_q = make_continuous(local_q)

    # Root: the hip centre (world landmarks are hip-centred), lifted so that in every
    # frame the lowest foot point touches the floor at height 0.
    n_frames = tracks.n_frames
    root = np.zeros((n_frames, 3))
    root[:, :] = points[rig.joints[0].at]
    pos, rot = global_transforms(sk, root, local_q)
    root[:, 1] -= floor_height(fitted, pos, rot)

    gaps = tuple((g.first, g.last) for g in runs(~tracks.detected))
    motion = Motion(
        skeleton=sk,
        fps=tracks.fps,
        root_position_m=root,
        rotations_xyzw=local_q,
        start_time_s=float(tracks.times_s[0]) if n_frames else 0.0,
        gaps=gaps,
        name=name,
    )
    return SolveResult(motion, fitted)


SPINE_CHAIN = ("Spine", "Spine1", "Spine2")


def _aim_spine(fitted: FittedRig, world: dict[str, Rotation], points: dict[str, np.ndarray]) -> bool:
    """Turn the spine chain (in place in `world`) so that its forward-kinematics neck lands
    on the observed neck base. The interpolated spine bends smoothly between pelvis and
    chest; without this its end drifts a few cm from the shoulders in strong bends."""
    sk = fitted.skeleton
    if not all(n in sk.names for n in (*SPINE_CHAIN, "Neck")) or "neck_base" not in points:
        return False
    off = {n: sk.offsets_m[sk.index(n)] for n in (*SPINE_CHAIN, "Neck")}
    spine_base = points["pelvis"] + world["Hips"].apply(off["Spine"])
    fk_neck = (
        spine_base
        + world["Spine"].apply(off["Spine1"])
        + world["Spine1"].apply(off["Spine2"])
        + world["Spine2"].apply(off["Neck"])
    )
    correction = rotation_from_to(fk_neck - spine_base, points["neck_base"] - spine_base)
    for name in SPINE_CHAIN:
        world[name] = correction * world[name]
    return True


def solve_full(
    tracks: LandmarkTracks,
    camera: Camera,
    cfg: MotionConfig = MotionConfig(),
    rig: RigTemplate | None = None,
    name: str = "",
) -> SolveResult:
    """Solve a Motion with root travel, a levelled floor, foot contacts and foot locking.

    tracks: smoothed, gap-filled (mocap.smooth.smooth_tracks); camera: the video's camera
    (mocap.camera.Camera). The floor of the result is at height 0; the hips start above
    the origin; travel toward the camera is +Z, to the camera's right +X.
    """
    root_cam = camera_relative_root(tracks, camera, cfg.root)
    world = tracks.world_m
    if cfg.refine:
        world = refine_world(tracks, root_cam, camera, cfg.refine_cfg)
        root_cam = camera_relative_root(replace(tracks, world_m=world), camera, cfg.root)
    points_cam = world + root_cam[:, None, :]
    ground = fit_ground({n: points_cam[:, i] for i, n in enumerate(tracks.names)}, tracks.fps, cfg.ground)
    levelled = replace(tracks, world_m=ground.rotate(world))
    result = solve_motion(levelled, rig, name=name)
    motion, fitted = result.motion, result.fitted

    root = motion.root_position_m.copy()
    travel = ground.apply(root_cam)
    seen = np.flatnonzero(tracks.detected)
    start = travel[seen[0] if len(seen) else 0]
    # The motion's world = the levelled camera frame (ground.apply), moved so the hips start
    # above the origin: p_world = R_level @ p_cam - (start_x, floor height, start_z).
    camera_pose = CameraPose.from_world_from_camera(
        ground.rotation, -np.array([start[0], ground.height_m, start[2]])
    )
    if cfg.root_motion is RootMotion.FULL:
        root = travel - np.array([start[0], 0.0, start[2]])
        pos, rot = global_transforms(motion.skeleton, root, motion.rotations_xyzw)
        root = settle_on_floor(root, floor_height(fitted, pos, rot), motion.fps, cfg.settle)
    elif cfg.root_motion is RootMotion.HORIZONTAL:
        root[:, [0, 2]] = travel[:, [0, 2]] - start[[0, 2]]
    motion = replace(motion, root_position_m=root)

    camera_paths = foot_contact_paths(motion, fitted)
    if cfg.foot_lock is FootLock.ON and cfg.root_motion is not RootMotion.OFF:
        # Planted feet steer the hips (anchor.py). A first guess at the contacts uses
        # height alone, which a wrong root cannot spoil (a camera that pans with a walker
        # makes planted feet seem to move); contacts are then found again with height and
        # speed on the steadier path, and the camera's root is anchored with those.
        by_height = detect_contacts(camera_paths, motion.fps, cfg.contacts.height_only())
        steadier = replace(motion, root_position_m=anchored_root(motion.root_position_m, camera_paths, by_height, cfg.anchor))
        contacts = detect_contacts(foot_contact_paths(steadier, fitted), motion.fps, cfg.contacts)
        motion = replace(motion, root_position_m=anchored_root(motion.root_position_m, camera_paths, contacts, cfg.anchor))
    else:
        contacts = detect_contacts(camera_paths, motion.fps, cfg.contacts)
    if cfg.foot_lock is FootLock.ON:
        motion = lock_feet(motion, fitted, contacts, cfg.footlock)
    else:
        motion = replace(motion, contacts=contacts)
    return SolveResult(motion, fitted, ground, root_cam, camera_pose)


def foot_contact_paths(motion: Motion, fitted: FittedRig) -> dict[str, np.ndarray]:
    """World paths (T, 3) of the contact points: each foot's heel marker and toe joint."""
    sk = motion.skeleton
    pos, rot = global_transforms(sk, motion.root_position_m, motion.rotations_xyzw)
    paths: dict[str, np.ndarray] = {}
    for side, foot, toe in (("left", "LeftFoot", "LeftToeBase"), ("right", "RightFoot", "RightToeBase")):
        f = sk.index(foot)
        heel = fitted.heel_offsets_m.get(foot, np.zeros(3))
        paths[f"{side}_heel"] = pos[:, f] + Rotation.from_quat(rot[:, f]).apply(heel)
        paths[f"{side}_toe"] = pos[:, sk.index(toe)]
    return paths
