"""The live solve: one frame of landmarks in, one pose out, never waiting for later frames.

The offline solver (mocap.solve.solve_full) sees the whole clip: it smooths with a
zero-phase filter, fits bone lengths and the floor over every frame, and finds contacts
with hysteresis reaching back in time. Live, each pose must leave as soon as its frame is
detected. CausalSolver reuses the offline per-frame pieces and replaces each whole-clip
step by a causal one:

    offline (solve/)                         live (here)
    smooth_tracks (Whittaker, zero-phase)    One Euro filter on world landmarks (one_euro.py)
    camera_root (Whittaker-smoothed)         fit_root_translation per frame + One Euro
                                             (depth with its own, lower cut-off)
    refine_pose (depth from the image)       not used: it fits bone lengths over the clip
    fit_ground over the clip                 fit_ground over the first `settle_s`, then held
    fit_body over the clip                   fit_body over the first `settle_s`, then held
    pose_rotations, local_rotations, FK      the same functions (solve/pose.py), on one frame
    settle_on_floor                          the lowest foot put on the floor each frame unless
                                             it is higher than `airborne_m` (then the last
                                             correction is kept); the correction low-passed
    detect_contacts (two-sided)              one-sided hysteresis on the same thresholds
                                             (ContactConfig), speeds from a low-passed path
    anchored_root (banded least squares)     planted points carry the hips (odometry), the
                                             camera's position pulls back with time constant
                                             `anchor_pull_s`
    lock_feet (IK)                           not done live (needs the contact's whole span)

During the settling window poses are streamed too, with bone lengths and floor refitted
on every frame seen so far; `LivePose.settled` says when they are frozen. Frames with no
person repeat the last pose for up to `max_gap_s` (flagged `held`), then give None and
the filters start afresh when the person comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from mocap.camera import Camera
from mocap.choices import FootLock, RootMotion, parse_choice
from mocap.data import BLAZEPOSE_NAMES, Skeleton
from mocap.kinematics import global_transforms
from mocap.live.one_euro import OneEuroConfig, OneEuroFilter, smoothing_factor
from mocap.rig import RigTemplate, columns, derived_points, load_rig
from mocap.solve.contacts import ContactConfig
from mocap.solve.fit import BoneLengths, FittedRig, floor_height
from mocap.solve.ground import Ground, GroundConfig, fit_ground
from mocap.solve.pose import contact_paths_m, fit_body, local_rotations, pose_rotations
from mocap.solve.root import ROOT_LANDMARKS, RootConfig, fit_root_translation

SETTLE_REFIT_EVERY = 5  # while settling, bone lengths and floor are refitted every 5th frame


@dataclass(frozen=True)
class LiveConfig:
    """Parameters of the live solve, in Hz, seconds and metres (docs/live.md)."""

    landmarks: OneEuroConfig = field(default_factory=OneEuroConfig)  # world landmarks (m)
    root: OneEuroConfig = field(default_factory=lambda: OneEuroConfig(min_cutoff_hz=1.0, beta=1.0))  # sideways/up
    root_depth: OneEuroConfig = field(default_factory=lambda: OneEuroConfig(min_cutoff_hz=0.5, beta=0.5))
    settle_s: float = 1.0  # bone lengths and floor from the first second with a person
    min_visibility: float = 0.3  # landmarks below this keep their last filtered value
    max_gap_s: float = 0.5  # no person for longer: stop sending, start afresh
    root_motion: RootMotion = RootMotion.FULL
    foot_lock: FootLock = FootLock.ON  # live: planted feet carry the hips (no IK)
    airborne_m: float = 0.10  # lowest foot higher than this: a jump, keep the camera's height
    floor_cutoff_hz: float = 4.0  # low-pass of the floor correction (as SettleConfig)
    anchor_pull_s: float = 2.0  # time constant pulling the anchored hips back to the camera's
    contacts: ContactConfig = field(default_factory=ContactConfig)
    root_fit: RootConfig = field(default_factory=RootConfig)
    ground: GroundConfig = field(default_factory=GroundConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root_motion", parse_choice(RootMotion, self.root_motion, "root_motion"))
        object.__setattr__(self, "foot_lock", parse_choice(FootLock, self.foot_lock, "foot_lock"))


@dataclass(frozen=True)
class LivePose:
    """One streamed pose. rotations_xyzw (J, 4) local, scalar-last, sign-continuous with
    the previous pose; root_position_m (3,) the root joint in the levelled world (floor at
    0, Y up, metres); contacts (C,) bool for the rig's contact_points; skeleton is the fitted one
    (frozen once `settled`)."""

    frame_index: int
    time_s: float
    skeleton: Skeleton
    root_position_m: np.ndarray
    rotations_xyzw: np.ndarray
    contacts: np.ndarray
    settled: bool
    held: bool = False


class CausalSolver:
    """Landmarks of one frame -> LivePose, with state carried between frames.

    camera: the source's pinhole camera (mocap.camera.Camera); fps: the nominal frame
    rate (used where the offline pieces take one: the floor's foot speeds).
    """

    def __init__(self, camera: Camera, fps: float, cfg: LiveConfig = LiveConfig(),
                 rig: RigTemplate | None = None, names: tuple[str, ...] = BLAZEPOSE_NAMES) -> None:
        self.camera, self.fps, self.cfg = camera, float(fps), cfg
        self.rig = rig or load_rig()
        self.names = names
        root_index = [names.index(n) for n in ROOT_LANDMARKS]
        self._root_mask = np.zeros(len(names), bool)
        self._root_mask[root_index] = True
        self._reset()

    def _reset(self) -> None:
        cfg = self.cfg
        self._lm = OneEuroFilter(cfg.landmarks)
        self._root_xy = OneEuroFilter(cfg.root)
        self._root_z = OneEuroFilter(cfg.root_depth)
        self._settle_world: list[np.ndarray] = []  # (L, 3) filtered, hip-centred
        self._settle_cam: list[np.ndarray] = []  # (L, 3) camera-relative
        self._first_time_s: float | None = None
        self._fitted: FittedRig | None = None
        self._lengths: BoneLengths | None = None
        self._ground: Ground | None = None
        self._settled = False
        self._first_root_cam: np.ndarray | None = None
        self._floor_fix: float | None = None
        self._prev_q: np.ndarray | None = None
        self._last: LivePose | None = None
        self._last_seen_s = -np.inf
        self._anchor_xz: np.ndarray | None = None
        self._contact = np.zeros(len(self.rig.contact_points), bool)
        self._contact_path: np.ndarray | None = None  # (C, 3) low-passed contact points
        self._rest_height: np.ndarray | None = None
        self._prev_time_s: float | None = None

    @property
    def settled(self) -> bool:
        return self._settled

    def step(self, frame_index: int, time_s: float, world_m: np.ndarray, image_xy_px: np.ndarray,
             visibility: np.ndarray, detected: bool) -> LivePose | None:
        """One frame: world_m (L, 3) hip-centred internal frame; image_xy_px (L, 2);
        visibility (L,); detected False for a frame with no person. Returns the pose to
        send, or None when there is none (no person for longer than max_gap_s)."""
        cfg = self.cfg
        if not detected:
            if self._last is not None and time_s - self._last_seen_s > cfg.max_gap_s:
                if self._settled:  # keep what was fitted; filters and paths start afresh
                    kept = self._fitted, self._lengths, self._ground, self._floor_fix
                    self._reset()
                    self._fitted, self._lengths, self._ground, self._floor_fix = kept
                    self._settled = True
                else:
                    self._reset()
            return self._hold(frame_index, time_s)
        vis = np.nan_to_num(visibility, nan=0.0)
        finite = np.isfinite(world_m).all(axis=1) & np.isfinite(image_xy_px).all(axis=1)
        seen = finite & (vis >= cfg.min_visibility)
        world = self._lm.filter(time_s, world_m, seen)
        world = np.where(np.isfinite(world), world, world_m)  # never seen well: the raw value
        if not np.isfinite(world).all():  # a landmark never seen at all yet: no pose to make
            return self._hold(frame_index, time_s)
        root_raw = fit_root_translation(world_m[None], image_xy_px[None], (np.where(seen, vis, 0.0) * self._root_mask)[None],
                                        self.camera, cfg.root_fit.gauss_newton_steps)[0]
        root_cam = np.concatenate([self._root_xy.filter(time_s, root_raw[None, :2])[0],
                                   self._root_z.filter(time_s, root_raw[None, 2:])[0]])
        if not np.isfinite(root_cam).all():
            root_cam = np.array([0.0, 0.0, -3.0])  # nothing placed yet: 3 m in front
        if self._first_time_s is None:
            self._first_time_s, self._first_root_cam = time_s, root_cam
        if not self._settled:
            self._settle(world, root_cam, time_s)
        fitted, ground = self._fitted, self._ground
        sk = fitted.skeleton

        points = derived_points(self.rig, columns(self.names, ground.rotate(world)[None]))
        local_q = local_rotations(sk, pose_rotations(self.rig, self._lengths, points))[0]
        if self._prev_q is not None:
            local_q = np.where((np.sum(local_q * self._prev_q, axis=1) < 0)[:, None], -local_q, local_q)
        self._prev_q = local_q

        # One forward-kinematics pass with the root at the origin: positions for any root
        # are these plus the root (rotations do not depend on it).
        pos0, rot = global_transforms(sk, np.zeros((1, 3)), local_q[None])
        foot0 = np.stack([p[0] for p in contact_paths_m(fitted, pos0, rot).values()])  # (C, 3), rig.contact_points
        root = self._root(points, ground.apply(root_cam), pos0, rot, time_s)
        contacts = self._contacts(foot0 + root, time_s)
        if cfg.root_motion is not RootMotion.OFF and cfg.foot_lock is FootLock.ON:
            root = self._anchor(foot0, root, contacts, time_s)
        self._prev_time_s = time_s
        self._last_seen_s = time_s
        self._last = LivePose(frame_index, time_s, sk, root, local_q, contacts, self._settled)
        return self._last

    def _hold(self, frame_index: int, time_s: float) -> LivePose | None:
        """The last pose again (flagged held), or None when there is none to hold."""
        if self._last is None:
            return None
        return replace(self._last, frame_index=frame_index, time_s=time_s, held=True)

    # ------------------------------------------------------------------ settling

    def _settle(self, world: np.ndarray, root_cam: np.ndarray, time_s: float) -> None:
        """Refit bone lengths and the floor on the frames so far; freeze after settle_s."""
        self._settle_world.append(world)
        self._settle_cam.append(world + root_cam)
        n = len(self._settle_world)
        done = time_s - self._first_time_s >= self.cfg.settle_s and n >= 3
        # refit on the first frames, every SETTLE_REFIT_EVERY-th, and at the end (~10 ms each)
        if not (done or n <= 3 or n % SETTLE_REFIT_EVERY == 0):
            return
        all_world = np.stack(self._settle_world)
        cam = np.stack(self._settle_cam)
        self._ground = fit_ground(columns(self.names, cam), self.fps, self.rig, self.cfg.ground)
        points = derived_points(self.rig, columns(self.names, self._ground.rotate(all_world)))
        self._lengths, self._fitted, _ = fit_body(self.rig, points)
        if done:
            self._settled = True
            self._settle_world, self._settle_cam = [], []

    # ------------------------------------------------------------------ root

    def _root(self, points: dict[str, np.ndarray], travel: np.ndarray, pos0: np.ndarray, rot: np.ndarray,
              time_s: float) -> np.ndarray:
        """(3,) root position: hips over the floor, travel per root_motion, lowest foot on 0.
        pos0 (1, J, 3) / rot (1, J, 4): this pose's forward kinematics with the root at 0."""
        cfg = self.cfg
        root = points[self.rig.joints[0].at][0].copy()
        if cfg.root_motion is not RootMotion.OFF:
            start = self._ground.apply(self._first_root_cam)  # the floor may still move while settling
            root[[0, 2]] = travel[[0, 2]] - start[[0, 2]]
        if cfg.root_motion is RootMotion.FULL:
            root[1] = travel[1]
        lowest = float(floor_height(self._fitted, pos0 + root, rot)[0])
        if cfg.root_motion is not RootMotion.FULL:
            root[1] -= lowest  # as solve_motion: every frame's lowest foot on the floor
            return root
        # FULL: the camera's height, corrected so standing feet touch 0 (causal settle_on_floor)
        correction = -lowest if self._floor_fix is None else self._floor_fix
        if lowest + (self._floor_fix or 0.0) < cfg.airborne_m:
            target = -lowest
            if self._floor_fix is None or self._prev_time_s is None:
                correction = target
            else:
                a = float(smoothing_factor(cfg.floor_cutoff_hz, max(time_s - self._prev_time_s, 1e-3)))
                correction = self._floor_fix + a * (target - self._floor_fix)
        self._floor_fix = correction
        root[1] += correction
        return root

    # ------------------------------------------------------------------ contacts

    def _contacts(self, p: np.ndarray, time_s: float) -> np.ndarray:
        """(C,) one-sided hysteresis on height above the resting level and horizontal speed
        of the contact points p (C, 3), after a first-order low-pass at speed_cutoff_hz."""
        cfg = self.cfg.contacts
        if self._contact_path is None or self._prev_time_s is None:
            self._contact_path = p
            self._heights = [p[:, 1]]
            return self._contact.copy()
        dt = max(time_s - self._prev_time_s, 1e-3)
        a = float(smoothing_factor(cfg.speed_cutoff_hz, dt))
        smooth = self._contact_path + a * (p - self._contact_path)
        speed = np.linalg.norm((smooth - self._contact_path)[:, [0, 2]], axis=1) / dt
        self._contact_path = smooth
        if self._rest_height is None:  # resting level: over the settling window, then held
            self._heights.append(smooth[:, 1])
            rest = np.percentile(np.stack(self._heights), cfg.rest_percentile, axis=0)
            if self._settled:
                self._rest_height = rest
                self._heights = []
        else:
            rest = self._rest_height
        height = smooth[:, 1] - rest
        on = (height < cfg.height_on_m) & (speed < cfg.speed_on_m_s)
        stay = (height < cfg.height_off_m) & (speed < cfg.speed_off_m_s)
        self._contact = on | (self._contact & stay)
        return self._contact.copy()

    def _anchor(self, foot0: np.ndarray, root: np.ndarray, contacts: np.ndarray, time_s: float) -> np.ndarray:
        """Planted points carry the hips: the horizontal root moves by minus the planted
        points' motion relative to the hips; elsewhere it follows the camera's steps. The
        camera's position pulls the result back with time constant anchor_pull_s.
        foot0: (C, 3) contact points relative to the root."""
        rel = foot0[:, [0, 2]]
        camera_xz = root[[0, 2]]
        if self._anchor_xz is None or self._prev_time_s is None:
            self._anchor_xz = camera_xz.copy()
        else:
            planted = contacts & self._prev_planted
            if planted.any():
                step = -(rel[planted] - self._prev_rel_xz[planted]).mean(axis=0)
            else:
                step = camera_xz - self._prev_camera_xz
            dt = max(time_s - self._prev_time_s, 1e-3)
            pull = 1.0 - np.exp(-dt / self.cfg.anchor_pull_s)
            moved = self._anchor_xz + step
            self._anchor_xz = moved + pull * (camera_xz - moved)
        self._prev_rel_xz, self._prev_planted, self._prev_camera_xz = rel, contacts.copy(), camera_xz
        out = root.copy()
        out[[0, 2]] = self._anchor_xz
        return out


__all__ = ["CausalSolver", "LiveConfig", "LivePose"]
