"""The solve stage: smoothed LandmarkTracks -> Motion on a humanoid rig.

solve_full is a list of named steps; each takes and returns one frozen type, is computed
once, and lands in a field of the returned Solution (docs/motion-quality.md explains each):

    first_root = hip centre relative to the camera         root.camera_root     -> CameraRoot
    refined    = depth re-projected onto the 2D landmarks  refine.refine_pose   -> RefinedPose
                 (with the bone lengths measured against the image: the solve's second
                 length fit, RefinedPose.bone_lengths_m)
    root       = the camera root of the refined pose       root.camera_root     -> CameraRoot
    ground     = floor plane, levelling rotation           ground.fit_ground    -> Ground
    body       = rig fitted and posed on the levelled pose pose.solve_pose      -> BodyPose
                 (bone lengths, spine aim, rest offsets, rotations; one forward kinematics)
    origin     = the hips' levelled start (x, z)           travel_origin        -> (3,)
    camera_pose= the solver's camera in the motion's world camera_in_world      -> CameraPose
    placed     = root path per `root_motion`               place_root           -> (T, 3) root
    guess      = contacts by height alone                  contacts.detect_contacts -> FootContacts
                 (every contact step: not where the foot's landmark is unseen, contacts.seen_contacts)
    steadier   = root steered by those contacts            anchor.anchored_root -> (T, 3) root
    contacts   = contacts by height and speed              contacts.detect_contacts -> FootContacts
    anchored   = root steered by the contacts              anchor.anchored_root -> (T, 3) root
    travelled  = the image's travel, the feet's detail     anchor.travel_blend  -> (T, 3) root
                 (cfg.travel "image"; "feet" keeps `anchored`)
    motion     = planted feet held, legs by IK             footlock.lock_feet   -> Motion

With root_motion "off" or foot_lock "off" the two anchoring steps and the guess are skipped
(contacts are found on the placed root); with refine off, `root` is `first_root`. The
steps that look alike are different computations: the camera root of the detector's pose,
then of the refined one; contacts by height alone (a root not yet steadied by the feet
cannot spoil them), then by height and speed; the root steered by each. Only the root
moves between `body` and the foot lock, so they all reuse the body's one forward-kinematics
pass; the foot lock, which changes the legs' rotations, runs its own on the motion it edits.
solve_motion is the pose alone (hips in place, no camera): solve_pose plus the in-place root.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from mocap.camera import Camera, CameraPose
from mocap.choices import FootLock, RootMotion, Travel, parse_choice
from mocap.data import FootContacts, LandmarkTracks, Motion
from mocap.rig import RigTemplate, columns, load_rig
from mocap.solve.anchor import AnchorConfig, SettleConfig, anchored_root, settle_on_floor, travel_blend
from mocap.solve.contacts import ContactConfig, detect_contacts, seen_contacts
from mocap.solve.fit import FittedRig
from mocap.solve.footlock import FootLockConfig, lock_feet
from mocap.solve.ground import Ground, GroundConfig, fit_ground
from mocap.solve.pose import BodyPose, solve_pose
from mocap.solve.refine import RefineConfig, RefinedPose, refine_pose
from mocap.solve.root import CameraRoot, RootConfig, camera_root
from mocap.timeseries import runs


@dataclass(frozen=True)
class MotionConfig:
    """Options of solve_full: root_motion and foot_lock are mocap.choices (strings are
    accepted and converted; an unknown one raises ValueError)."""

    root_motion: RootMotion = RootMotion.FULL
    foot_lock: FootLock = FootLock.ON
    travel: Travel = Travel.IMAGE  # whose evidence sets the travel (mocap.solve.anchor)
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
        object.__setattr__(self, "travel", parse_choice(Travel, self.travel, "travel"))


@dataclass(frozen=True)
class PoseSolution:
    """solve_motion's result: the posed rig and its Motion with the hips in place."""

    body: BodyPose
    motion: Motion

    @property
    def fitted(self) -> FittedRig:
        return self.body.fitted


@dataclass(frozen=True)
class Solution:
    """solve_full's result: every step's output, in the order of the module docstring."""

    first_root: CameraRoot
    refined: RefinedPose | None  # None when MotionConfig.refine is False
    root: CameraRoot
    ground: Ground
    body: BodyPose
    camera_pose: CameraPose
    contacts: FootContacts
    motion: Motion

    @property
    def fitted(self) -> FittedRig:
        return self.body.fitted


def _motion(body: BodyPose, tracks: LandmarkTracks, root_m: np.ndarray, name: str) -> Motion:
    return Motion(
        skeleton=body.fitted.skeleton,
        fps=tracks.fps,
        root_position_m=root_m,
        rotations_xyzw=body.rotations_xyzw,
        start_time_s=float(tracks.times_s[0]) if tracks.n_frames else 0.0,
        gaps=tuple((g.first, g.last) for g in runs(~tracks.detected)),
        name=name,
    )


def in_place_root(body: BodyPose) -> np.ndarray:
    """(T, 3) root over the hip-centre point, lifted so that in every frame the lowest
    foot point touches the floor at height 0."""
    root = body.root_point_m.copy()
    root[:, 1] = -body.lowest_foot_m()
    return root


def solve_motion(tracks: LandmarkTracks, rig: RigTemplate | None = None, name: str = "") -> PoseSolution:
    """Solve a Motion from smoothed, gap-filled tracks (see mocap.smooth.smooth_tracks),
    hips in place (no camera, no floor, no contacts). Raises RigError on missing names."""
    body = solve_pose(tracks, rig or load_rig())
    return PoseSolution(body, _motion(body, tracks, in_place_root(body), name))


def travel_origin(root: CameraRoot, ground: Ground, detected: np.ndarray) -> np.ndarray:
    """(3,) the hips in the levelled camera frame (Ground.apply) at the first frame with a
    person; the motion's world puts its x and z at the origin."""
    seen = np.flatnonzero(detected)
    return ground.apply(root.path_m[seen[0] if len(seen) else 0])


def camera_in_world(ground: Ground, origin: np.ndarray) -> CameraPose:
    """The solver's camera in the motion's world, which is the levelled camera frame moved
    so the hips start above the origin: p_world = R_level @ p_cam - (origin_x, floor height, origin_z)."""
    return CameraPose.from_world_from_camera(ground.rotation, -np.array([origin[0], ground.height_m, origin[2]]))


def place_root(body: BodyPose, root: CameraRoot, ground: Ground, origin: np.ndarray, cfg: MotionConfig) -> np.ndarray:
    """(T, 3) root path in the levelled world per cfg.root_motion; the hips start above the
    origin (travel_origin), travel toward the camera is +Z, to its right +X.

    full: the camera's path, its height settled so the lowest foot touches the floor
    (mocap.solve.anchor.settle_on_floor); horizontal: the camera's travel over the floor,
    height from the pose; off: the in-place root."""
    placed = in_place_root(body)
    travel = ground.apply(root.path_m)
    start = origin
    if cfg.root_motion is RootMotion.FULL:
        placed = travel - np.array([start[0], 0.0, start[2]])
        placed = settle_on_floor(placed, placed[:, 1] + body.lowest_foot_m(), body.fps, cfg.settle)
    elif cfg.root_motion is RootMotion.HORIZONTAL:
        placed[:, [0, 2]] = travel[:, [0, 2]] - start[[0, 2]]
    return placed


def solve_full(
    tracks: LandmarkTracks,
    camera: Camera,
    cfg: MotionConfig = MotionConfig(),
    rig: RigTemplate | None = None,
    name: str = "",
) -> Solution:
    """Solve a Motion with root travel, a levelled floor, foot contacts and foot locking.

    tracks: smoothed, gap-filled (mocap.smooth.smooth_tracks); camera: the video's camera
    (mocap.camera.Camera). The floor of the result is at height 0; the hips start above
    the origin; travel toward the camera is +Z, to the camera's right +X. Raises RigError
    when the tracks lack a landmark the rig needs.
    """
    rig = rig or load_rig()
    first_root = camera_root(tracks, camera, cfg.root)
    refined = refine_pose(tracks, first_root, camera, rig, cfg.refine_cfg) if cfg.refine else None
    pose = refined.tracks if refined else tracks
    root = camera_root(pose, camera, cfg.root) if refined else first_root
    ground = fit_ground(columns(pose.names, pose.world_m + root.path_m[:, None, :]), pose.fps, rig, cfg.ground)
    body = solve_pose(replace(pose, world_m=ground.rotate(pose.world_m)), rig)
    origin = travel_origin(root, ground, tracks.detected)
    camera_pose = camera_in_world(ground, origin)
    placed = place_root(body, root, ground, origin, cfg)

    paths = body.contact_paths_m()  # relative to the root

    def at(root_m: np.ndarray) -> dict[str, np.ndarray]:
        return {n: p + root_m for n, p in paths.items()}

    # A foot the image does not show is never planted (contacts.seen_contacts).
    unseen = {c: pose.visibility[:, pose.names.index(lm)] <= 0.0 for c, lm in rig.contact_landmarks.items()
              if lm in pose.names}

    def found(root_m: np.ndarray, contact_cfg: ContactConfig) -> FootContacts:
        return seen_contacts(detect_contacts(at(root_m), body.fps, contact_cfg), unseen, cfg.contacts)

    if cfg.foot_lock is FootLock.ON and cfg.root_motion is not RootMotion.OFF:
        # Planted feet steer the hips (anchor.py). A first guess at the contacts uses
        # height alone, which a wrong root cannot spoil (a camera that pans with a walker
        # makes planted feet seem to move); contacts are then found with height and speed
        # on the steadier path, and the camera's root is anchored with those.
        guess = found(placed, cfg.contacts.height_only())
        steadier = anchored_root(placed, paths, guess, cfg.anchor)
        contacts = found(steadier, cfg.contacts)
        anchored = anchored_root(placed, paths, contacts, cfg.anchor)
        # Whose travel: the image decides how far, the feet the detail (anchor.travel_blend).
        travelled = anchored if cfg.travel is Travel.FEET else travel_blend(placed, anchored, body.fps, cfg.anchor.travel_cutoff_hz)
    else:
        contacts = found(placed, cfg.contacts)
        travelled = placed
    motion = _motion(body, tracks, travelled, name)
    if cfg.foot_lock is FootLock.ON:
        motion = lock_feet(motion, body.fitted, contacts, cfg.footlock)
    else:
        motion = replace(motion, contacts=contacts)
    return Solution(first_root, refined, root, ground, body, camera_pose, contacts, motion)


__all__ = ["MotionConfig", "PoseSolution", "Solution", "camera_in_world", "in_place_root", "place_root", "solve_full",
           "solve_motion", "travel_origin"]
