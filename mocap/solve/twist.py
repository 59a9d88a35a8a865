"""Twist-rate limit: no bone turns about its own axis faster than a human can.

A joint's orientation comes from two landmark directions (orient.py): the bone itself, which
is measured well, and a second direction that fixes the turn about it (the knee's bend plane,
heel -> toe, pinky -> index), which is not always: a nearly straight limb, a foot that is out of
the picture or a hand seen edge-on can flip that second direction for a frame or two. The bone
then twists by 100 degrees or more within one frame while its direction hardly moves (the
waist-up tai chi clip: a thigh by 78 degrees, a hand by 175, in one frame: 1900 and 4200 deg/s).
No human bone turns that fast: in 31 clips of optical motion capture the fastest twist is 2208
deg/s (a hand, in a dance), a thigh's 899 (docs/motion-quality.md#twist-rate, measured by
benchmarks/twist_rates.py). The rig file gives each bone its axis and its largest twist rate,
in deg/s, so the limit does not depend on the frame rate.

For each listed joint, its world rotation W_t is split frame to frame by a swing-twist
decomposition about the bone's axis a (in the joint's own frame):

    W_{t-1}^-1 W_t = swing_t * twist(phi_t, a)          (swing: an axis perpendicular to a)

phi_t fps is the bone's angular velocity about its own axis. The twist is measured in the
world, not relative to the parent, so a bone whose parent's twist was wrong (an upper arm
flipped by its bend plane) is not itself changed to follow it, and each bone is limited on its
own. A correction psi_t about a, W'_t = W_t * twist(psi_t, a), leaves the bone's direction
exactly as measured and changes the frame-to-frame twist to phi_t + psi_t - psi_{t-1}: with
theta = cumsum(phi), the limited twist is theta' = theta + psi, and psi is chosen so that
|theta'_t - theta'_{t-1}| <= limit / fps everywhere. Of all such sequences the one closest to
theta in the least-absolute-deviation sense is taken (a small linear programme): flips are
sparse gross errors, and L1 leaves every frame that is consistent with a human rate exactly
as measured and corrects only the frames that are not (least squares would spread each flip
into its neighbours). A bone that never exceeds its limit is untouched.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from scipy.spatial.transform import Rotation

from mocap.data import Skeleton


def twist_angles_rad(rotations: Rotation, axis: np.ndarray) -> np.ndarray:
    """(N,) radians in [-pi, pi): the twist about the unit `axis` (expressed in the frame the
    rotations act on, i.e. their own body frame for a relative rotation a^-1 b) of the
    swing-twist decomposition r = swing * twist(angle, axis)."""
    q = rotations.as_quat().reshape(-1, 4)
    angle = 2.0 * np.arctan2(q[:, :3] @ np.asarray(axis, dtype=float), q[:, 3])
    return (angle + np.pi) % (2.0 * np.pi) - np.pi


def frame_twist_rad(rotations: Rotation, axis: np.ndarray) -> np.ndarray:
    """(T - 1,) radians: the twist about `axis` (in the rotated frame) of each frame-to-frame
    change R_{t-1}^-1 R_t of rotations (T). Times fps: the angular velocity about the axis."""
    if len(rotations) < 2:
        return np.zeros(0)
    return twist_angles_rad(rotations[:-1].inv() * rotations[1:], axis)


def _l1_rate_limited(y: np.ndarray, max_step: float, hold_first: bool = False, hold_last: bool = False) -> np.ndarray:
    """rate_limited's linear programme on one stretch; hold_first / hold_last: x keeps y's value there."""
    n = len(y)
    eye = sparse.identity(n, format="csr")
    diff = sparse.diags([-np.ones(n - 1), np.ones(n - 1)], [0, 1], shape=(n - 1, n), format="csr")
    zeros = sparse.csr_matrix((n - 1, n))
    # Variables [x, e]: minimise sum e with -e <= x - y <= e and -max_step <= D x <= max_step.
    a_ub = sparse.vstack([sparse.hstack([eye, -eye]), sparse.hstack([-eye, -eye]),
                          sparse.hstack([diff, zeros]), sparse.hstack([-diff, zeros])], format="csr")
    b_ub = np.concatenate([y, -y, np.full(2 * (n - 1), max_step)])
    cost = np.concatenate([np.zeros(n), np.ones(n)])
    bounds = [(None, None)] * n + [(0, None)] * n
    if hold_first:
        bounds[0] = (y[0], y[0])
    if hold_last:
        bounds[n - 1] = (y[-1], y[-1])
    result = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if not result.success:  # cannot happen (the ends are compliant neighbours); never return a violation
        raise RuntimeError(f"twist rate limit: linear programme failed: {result.message}")
    # HiGHS meets the constraints to its tolerance (1e-7): frames it left alone get their value back.
    return np.where(np.abs(result.x[:n] - y) < 1e-7, y, result.x[:n])


def rate_limited(values: np.ndarray, max_step: float) -> np.ndarray:
    """(T,) the sequence x closest to `values` (T,) in sum |x - values| with
    |x_t - x_{t-1}| <= max_step for every t; `values` itself when it already complies.

    Solved stretch by stretch: around the violating steps, windows (30 frames either side,
    doubled until the solution leaves the frames next to a window's edges alone) are solved with
    their inner edge frames held at `values`, so a long clip with a few flips costs a few small
    programmes; it reached the whole sequence's optimum in every case tried (tests/test_twist.py)."""
    y = np.asarray(values, dtype=float)
    n = len(y)
    bad = np.flatnonzero(np.abs(np.diff(y)) > max_step) if n >= 2 else np.zeros(0, int)
    if not bad.size:
        return y.copy()
    x = y.copy()
    pad = 30
    while True:
        # Stretches [first, last] of frames around the violating steps, merged where they overlap.
        stretches: list[list[int]] = []
        for b in bad:
            first, last = max(0, b - pad), min(n - 1, b + 1 + pad)
            if stretches and first <= stretches[-1][1]:
                stretches[-1][1] = max(stretches[-1][1], last)
            else:
                stretches.append([first, last])
        x = y.copy()
        settled = True
        for first, last in stretches:
            part = _l1_rate_limited(y[first : last + 1], max_step, hold_first=first > 0, hold_last=last < n - 1)
            x[first : last + 1] = part
            changed = np.flatnonzero(part != y[first : last + 1])
            if changed.size and ((first > 0 and changed[0] <= 1) or (last < n - 1 and changed[-1] >= len(part) - 2)):
                settled = False  # the solution reaches the window's held edge: widen it
        if settled:
            break
        pad *= 2
    for t in range(1, n):  # the steps meet the rate bound exactly
        x[t] = min(max(x[t], x[t - 1] - max_step), x[t - 1] + max_step)
    return x


def limit_twist_rate(
    skeleton: Skeleton, world: Mapping[str, Rotation], fps: float, limits: Mapping[str, tuple[np.ndarray, float]]
) -> dict[str, Rotation]:
    """World rotations (joint name -> Rotation (T)) with every listed bone's twist rate limited.

    skeleton: parents first, the joints of `world`; fps: frames per second of the rotations;
    limits: joint name -> (twist axis in the joint's own frame (3,), largest twist rate in
    deg/s). A listed joint keeps its measured world rotation except for the turn about its
    own axis, so its bone's direction stays as measured (and the position of its child along
    that axis; a joint with several children, the hips or the chest, turns the others about
    it); a joint not listed (one that follows its parent, a finger) keeps its local rotation
    on its parent's.
    """
    out: dict[str, Rotation] = {}
    changed: set[str] = set()  # joints whose world rotation differs from the measured one
    for j, name in enumerate(skeleton.names):
        p = skeleton.parents[j]
        pname = skeleton.names[p] if p >= 0 else None
        if name not in limits or len(world[name]) < 2:
            moved = pname in changed
            out[name] = out[pname] * (world[pname].inv() * world[name]) if moved else world[name]
            changed.update([name] if moved else [])
            continue
        axis, deg_s = limits[name]
        axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
        theta = np.concatenate([[0.0], np.cumsum(frame_twist_rad(world[name], axis))])
        psi = rate_limited(theta, np.radians(deg_s) / fps) - theta
        if not psi.any():
            out[name] = world[name]
            continue
        out[name] = world[name] * Rotation.from_rotvec(psi[:, None] * axis[None, :])
        changed.add(name)
    return out


__all__ = ["frame_twist_rad", "limit_twist_rate", "rate_limited", "twist_angles_rad"]
