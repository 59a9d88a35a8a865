"""Root placement from the feet: Motion (+ contacts) -> Motion.

Vertically (settle_on_floor): the camera's hip height is noisy by several centimetres, so
standing feet would hover or sink. Each frame's lowest foot point is put on the floor, except
during stretches where the camera clearly shows the performer airborne (a jump): there the
camera's arc is kept and the floor correction is carried across it smoothly.

Horizontally (anchored_root):

The camera gives the hips' position every frame (mocap.solve.root), but its depth is
noisy by centimetres, and a camera that pans to follow the performer hides the travel
altogether. Planted feet do not move: while a heel or toe is on the floor, the hips must
move over it by exactly the opposite of that point's motion relative to the hips. So the
horizontal root path R (T, 2) is the least-squares solution of

    sum_t  k_t |(R_t+1 - R_t) - v_t|^2          contact: v_t = -(mean over planted points of
                                                 their motion relative to the hips, t -> t+1)
  + sum_t  w   |R_t - C_t|^2                    the camera's estimate C, weakly
  + sum_t  s   |R_t+1 - 2 R_t + R_t-1|^2        smoothness

with k_t = 1/sigma_step^2 where a contact spans both frames (0 elsewhere), w = 1/sigma_camera^2,
s = 1/sigma_accel^2. The normal equations are a pentadiagonal system, solved once per axis
(scipy.linalg.solveh_banded), so this costs microseconds per frame. Walking with the camera
following now travels; standing on one foot no longer slides with the camera's depth noise.
Vertical motion is untouched (floor contact and foot locking handle it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solveh_banded

from mocap.data import FootContacts
from mocap.timeseries import runs, second_difference_gram, whittaker_lambda, whittaker_smooth


@dataclass(frozen=True)
class SettleConfig:
    airborne_m: float = 0.10  # lowest foot this high (after the camera's placement) = maybe a jump
    min_airborne_s: float = 0.1  # ... for at least this long
    cutoff_hz: float | None = 4.0  # smoothing of the height correction (the pipeline's own cut-off)


def settle_on_floor(root_m: np.ndarray, lowest_foot_m: np.ndarray, fps: float,
                    cfg: SettleConfig = SettleConfig()) -> np.ndarray:
    """(T, 3) root with its height corrected so the lowest foot point touches height 0.

    lowest_foot_m: (T,) height of the lowest foot point with the current root. Frames in a
    run of at least min_airborne_s with the lowest foot above airborne_m keep their height
    relative to the neighbouring corrections (linear across the run), so a jump stays a jump.
    """
    n = len(root_m)
    correction = -np.asarray(lowest_foot_m, dtype=float)
    airborne = np.zeros(n, bool)
    min_len = max(1, int(round(cfg.min_airborne_s * fps)))
    for run in runs(lowest_foot_m > cfg.airborne_m):
        if run.length >= min_len:
            airborne[run.first : run.last + 1] = True
    grounded = np.flatnonzero(~airborne)
    if grounded.size and airborne.any():
        frames = np.arange(n)
        correction[airborne] = np.interp(frames[airborne], grounded, correction[grounded])
    elif not grounded.size:
        correction[:] = 0.0  # airborne throughout: nothing to anchor on, keep the camera's height
    if cfg.cutoff_hz and n >= 3:
        # The correction is the camera's height error, which is slow; smoothing it keeps the
        # pose's per-frame noise out of the hips (planted points are put at 0 by foot locking).
        correction = whittaker_smooth(correction[:, None], np.ones(n), whittaker_lambda(cfg.cutoff_hz, fps))[:, 0]
    out = root_m.copy()
    out[:, 1] += correction
    return out


@dataclass(frozen=True)
class AnchorConfig:
    sigma_step_m: float = 0.002  # how closely a planted point is held, per frame
    sigma_camera_m: float = 0.25  # trust in the camera's root position
    sigma_accel_m: float = 0.001  # smoothness of the root path, per frame^2 (walking: < 1 mm/frame^2)


def anchored_root(
    root_m: np.ndarray, relative_paths_m: dict[str, np.ndarray], contacts: FootContacts, cfg: AnchorConfig = AnchorConfig()
) -> np.ndarray:
    """(T, 3) root positions whose horizontal path keeps the planted points still.

    root_m: (T, 3) current root (the camera's estimate C); relative_paths_m: contact point
    name -> (T, 3) path relative to the root (mocap.solve.pose.BodyPose.contact_paths_m);
    contacts: flags for (some of) those names.
    """
    n = len(root_m)
    if n < 3:
        return root_m.copy()
    step_sum = np.zeros((n - 1, 2))
    step_count = np.zeros(n - 1)
    for c, name in enumerate(contacts.names):
        if name not in relative_paths_m:
            continue
        flags = contacts.in_contact[:, c]
        both = flags[:-1] & flags[1:]
        step = -np.diff(relative_paths_m[name][:, [0, 2]], axis=0)
        ok = both & np.isfinite(step).all(axis=1)
        step_sum[ok] += step[ok]
        step_count[ok] += 1
    if not step_count.any():
        return root_m.copy()
    v = np.where(step_count[:, None] > 0, step_sum / np.maximum(step_count, 1)[:, None], 0.0)
    k = np.where(step_count > 0, 1.0 / cfg.sigma_step_m**2, 0.0)
    w = 1.0 / cfg.sigma_camera_m**2
    s = 1.0 / cfg.sigma_accel_m**2

    # Normal equations A R = b, A symmetric pentadiagonal (upper form for solveh_banded):
    # A = w I + D1' diag(k) D1 + s D2'D2.
    ab = s * second_difference_gram(n)
    ab[2] += w
    ab[2, :-1] += k
    ab[2, 1:] += k
    ab[1, 1:] -= k
    camera = root_m[:, [0, 2]]
    b = w * camera
    kv = k[:, None] * v
    b[:-1] -= kv
    b[1:] += kv
    horizontal = solveh_banded(ab, b, check_finite=False)
    out = root_m.copy()
    out[:, [0, 2]] = horizontal
    return out


__all__ = ["AnchorConfig", "SettleConfig", "anchored_root", "settle_on_floor"]
