"""Quaternion arithmetic in numpy alone, scalar-last (x, y, z, w) like the rest of mocap.

Why not scipy.spatial.transform.Rotation (the project's rule): this package also runs
inside Blender, whose bundled Python has numpy but not scipy, and the add-on never installs
packages into it (docs/addon.md). Every function here is checked against scipy with seeded
random rotations in tests/test_retarget_quat.py, so the two cannot drift apart.

Shapes: any leading batch shape (...); quaternions (..., 4), vectors (..., 3), matrices
(..., 3, 3) whose columns are the rotated basis vectors (v' = M @ v).
"""

from __future__ import annotations

import numpy as np

IDENTITY = np.array([0.0, 0.0, 0.0, 1.0])


def normalize(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions."""
    q = np.asarray(q, dtype=float)
    return q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-300)


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b (apply b first, then a), (..., 4) broadcast."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    ax, ay, az, aw = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bx, by, bz, bw = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = aw * bx + ax * bw + ay * bz - az * by
    out[..., 1] = aw * by - ax * bz + ay * bw + az * bx
    out[..., 2] = aw * bz + ax * by - ay * bx + az * bw
    out[..., 3] = aw * bw - ax * bx - ay * by - az * bz
    return out


def inv(q: np.ndarray) -> np.ndarray:
    """Inverse of unit quaternions (the conjugate), (..., 4)."""
    q = np.asarray(q, dtype=float)
    return q * np.array([-1.0, -1.0, -1.0, 1.0])


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    out = np.empty(np.broadcast_shapes(u.shape, v.shape))
    out[..., 0] = u[..., 1] * v[..., 2] - u[..., 2] * v[..., 1]
    out[..., 1] = u[..., 2] * v[..., 0] - u[..., 0] * v[..., 2]
    out[..., 2] = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    return out


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors (..., 3) by unit quaternions (..., 4), broadcast."""
    q = np.asarray(q, dtype=float)
    v = np.asarray(v, dtype=float)
    u = q[..., :3]
    w = q[..., 3:4]
    t = 2.0 * _cross(u, v)
    return v + w * t + _cross(u, t)


def to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions -> (..., 3, 3) rotation matrices."""
    x, y, z, w = np.moveaxis(normalize(q), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], axis=-1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], axis=-1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=-2,
    )


def from_matrix(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (w >= 0).

    Shepperd's method: the largest of w, x, y, z is computed from the trace first, so
    the division is always by a number >= 1/2 (no loss of precision near half turns).
    """
    m = np.asarray(m, dtype=float)
    shape = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    tr = np.trace(m, axis1=1, axis2=2)
    diag = np.stack([m[:, 0, 0], m[:, 1, 1], m[:, 2, 2], tr], axis=1)
    pick = np.argmax(diag, axis=1)
    q = np.empty((m.shape[0], 4))
    for k in range(4):
        rows = pick == k
        if not np.any(rows):
            continue
        r = m[rows]
        if k == 3:
            s = np.sqrt(1.0 + tr[rows]) * 2.0
            q[rows] = np.stack(
                [(r[:, 2, 1] - r[:, 1, 2]) / s, (r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 1, 0] - r[:, 0, 1]) / s, s / 4], 1
            )
        else:
            i, j, l = k, (k + 1) % 3, (k + 2) % 3
            s = np.sqrt(1.0 + r[:, i, i] - r[:, j, j] - r[:, l, l]) * 2.0
            out = np.empty((r.shape[0], 4))
            out[:, i] = s / 4
            out[:, j] = (r[:, j, i] + r[:, i, j]) / s
            out[:, l] = (r[:, l, i] + r[:, i, l]) / s
            out[:, 3] = (r[:, l, j] - r[:, j, l]) / s
            q[rows] = out
    q = normalize(q)
    q = np.where(q[:, 3:4] < 0, -q, q)
    return q.reshape(*shape, 4)


def between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations (..., 4) taking directions a (..., 3) onto directions b (..., 3).

    Opposite vectors get a half turn about an axis perpendicular to a.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = np.broadcast_arrays(a, b)
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-300)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-300)
    c = np.sum(a * b, axis=-1, keepdims=True)
    axis = np.cross(a, b)
    q = np.concatenate([axis, 1.0 + c], axis=-1)  # (a x b, 1 + a.b), normalised: the half-angle form
    opposite = (1.0 + c[..., 0]) < 1e-9
    if np.any(opposite):
        helper = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
        perp = np.cross(a, helper)
        perp = perp / np.linalg.norm(perp, axis=-1, keepdims=True)
        q = np.where(opposite[..., None], np.concatenate([perp, np.zeros_like(c)], axis=-1), q)
    return normalize(q)


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees of the rotation between a and b (q and -q are the same rotation).

    Computed as 2·atan2(|v|, |w|) of a⁻¹·b, which stays exact for tiny angles (arccos of a
    dot product loses everything below about 1e-6 degrees)."""
    r = mul(inv(normalize(a)), normalize(b))
    return np.degrees(2.0 * np.arctan2(np.linalg.norm(r[..., :3], axis=-1), np.abs(r[..., 3])))


def make_continuous(q: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 (time) so consecutive quaternions share a hemisphere; (T, ..., 4)."""
    q = np.array(q, dtype=float, copy=True)
    for t in range(1, q.shape[0]):
        dots = np.sum(q[t] * q[t - 1], axis=-1, keepdims=True)
        q[t] = np.where(dots < 0, -q[t], q[t])
    return q


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical interpolation from a to b at fraction t, (..., 4) broadcast; shortest arc."""
    a = normalize(a)
    b = normalize(b)
    d = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(d < 0, -b, b)
    d = np.abs(d)
    t = np.asarray(t, dtype=float)
    if t.ndim:
        t = t[..., None]
    theta = np.arccos(np.clip(d, -1.0, 1.0))
    s = np.sin(theta)
    small = s < 1e-9
    wa = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / np.where(small, 1.0, s))
    wb = np.where(small, t, np.sin(t * theta) / np.where(small, 1.0, s))
    return normalize(wa * a + wb * b)
