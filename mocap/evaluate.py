"""Accuracy metrics against ground truth: pure numpy/scipy, no I/O.

Used by benchmarks/accuracy.py; the choices behind each metric are explained in
docs/accuracy.md. Shapes use fixed letters: T frames, J joints, N points. Positions
are metres in, errors are reported in millimetres (``_mm``), millimetres per frame
(``_mm_per_frame``), millimetres per frame squared (``_mm_per_frame2``) or degrees
(``_deg``). Both the estimate and the truth must list the same joints in the same
order; NaN rows (frames with no detection) are the caller's to drop.

Alignments, from the strongest to the weakest:

- per frame, similarity (rotation + uniform scale + translation): PA-MPJPE;
- per frame, rotation only (the body's overall orientation): limb-direction error;
- per clip, one rotation of the root-relative pose: acceleration error;
- per clip, one similarity for the whole clip: foot skate, root trajectory error.

Per-clip alignments cannot absorb sliding, drift or jitter, so those stay measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

M_TO_MM = 1000.0


@dataclass(frozen=True)
class Similarity:
    """x_target ~= scale * R @ x_source + t (R proper rotation, det +1)."""

    scale: float
    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform (..., 3) points."""
        return self.scale * np.asarray(points) @ self.rotation.T + self.translation


def similarity_from_points(source: np.ndarray, target: np.ndarray, with_scale: bool = True) -> Similarity:
    """Least-squares similarity (Umeyama 1991) taking `source` onto `target`.

    source, target: (N, 3) corresponding points. with_scale=False gives the rigid
    (Kabsch) fit with scale 1. A degenerate source (all points equal) gets R = I,
    scale 1 and the translation between the centroids.
    """
    src = np.asarray(source, dtype=float).reshape(-1, 3)
    dst = np.asarray(target, dtype=float).reshape(-1, 3)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    xs, xd = src - mu_s, dst - mu_d
    var_s = float(np.mean(np.sum(xs**2, axis=1)))
    if var_s < 1e-12:
        return Similarity(1.0, np.eye(3), mu_d - mu_s)
    cov = xd.T @ xs / src.shape[0]
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float(np.sum(d * sign) / var_s) if with_scale else 1.0
    return Similarity(scale, rotation, mu_d - scale * rotation @ mu_s)


def procrustes_align(pred: np.ndarray, gt: np.ndarray, with_scale: bool = True) -> np.ndarray:
    """pred (T, J, 3) aligned to gt (T, J, 3) frame by frame (similarity, or rigid)."""
    pred, gt = np.asarray(pred, dtype=float), np.asarray(gt, dtype=float)
    return np.stack([similarity_from_points(p, g, with_scale).apply(p) for p, g in zip(pred, gt)])


def pa_joint_errors_mm(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-joint error after per-frame Procrustes alignment: (T, J) mm (see pa_mpjpe_mm)."""
    aligned = procrustes_align(pred, gt, with_scale=True)
    return np.linalg.norm(aligned - np.asarray(gt, dtype=float), axis=-1) * M_TO_MM


def pa_mpjpe_mm(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Procrustes-aligned mean per-joint position error, per frame: (T,) mm.

    pred, gt: (T, J, 3) metres. Each frame of pred is aligned to gt by its own
    least-squares similarity (rotation, uniform scale, translation) before the mean
    Euclidean distance over the J joints is taken, as in the HMR/VIBE literature.
    """
    return pa_joint_errors_mm(pred, gt).mean(axis=-1)


def limb_direction_error_deg(
    pred: np.ndarray,
    gt: np.ndarray,
    limbs: list[tuple[int, int]],
    align: list[int],
) -> np.ndarray:
    """Angle between estimated and true limb directions, per frame and limb: (T, B) degrees.

    pred, gt: (T, J, 3); limbs: B pairs (from_joint, to_joint) of indices into J;
    align: indices of the joints whose overall orientation is removed first. In each
    frame pred is rotated by the rotation that best takes its centred `align` points
    onto gt's (Kabsch: no scale, and directions do not depend on translation), so the
    error is about the limbs' directions within the body, not the body's heading or
    lean. With align = all body joints this is "after aligning the body's overall
    orientation"; with align = the torso only it also counts torso errors.
    """
    pred, gt = np.asarray(pred, dtype=float), np.asarray(gt, dtype=float)
    out = np.empty((pred.shape[0], len(limbs)))
    a, b = [i for i, _ in limbs], [j for _, j in limbs]
    for t in range(pred.shape[0]):
        rot = similarity_from_points(pred[t, align], gt[t, align], with_scale=False).rotation
        d_pred = (pred[t, b] - pred[t, a]) @ rot.T
        d_gt = gt[t, b] - gt[t, a]
        cos = np.sum(d_pred * d_gt, axis=1) / (np.linalg.norm(d_pred, axis=1) * np.linalg.norm(d_gt, axis=1))
        out[t] = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return out


def root_relative(positions: np.ndarray, root: list[int]) -> np.ndarray:
    """(T, J, 3) positions minus, in each frame, the mean of the `root` joints (e.g. both hips)."""
    positions = np.asarray(positions, dtype=float)
    return positions - positions[:, root].mean(axis=1, keepdims=True)


def clip_rotation(pred: np.ndarray, gt: np.ndarray, root: list[int]) -> np.ndarray:
    """One rotation (3, 3) for a whole clip taking pred's root-relative pose onto gt's.

    pred, gt: (T, J, 3). Kabsch over all frames and joints at once: it fixes the
    difference between the estimate's frame and the truth's world (camera heading and
    tilt) without following the motion frame by frame.
    """
    p, g = root_relative(pred, root), root_relative(gt, root)
    return similarity_from_points(p.reshape(-1, 3), g.reshape(-1, 3), with_scale=False).rotation


def second_difference(positions: np.ndarray) -> np.ndarray:
    """x[t+1] - 2 x[t] + x[t-1] along axis 0: (T-2, ...)."""
    x = np.asarray(positions, dtype=float)
    return x[2:] - 2.0 * x[1:-1] + x[:-2]


def acceleration_error_mm(pred: np.ndarray, gt: np.ndarray, root: list[int]) -> np.ndarray:
    """Acceleration error per frame: (T-2,) mm/frame².

    As in HMR/VIBE (`compute_error_accel`): both sequences are made root-relative
    (minus the mean of the `root` joints in each frame), the second difference is
    taken per joint, and the Euclidean norm of (pred - gt) accelerations is averaged
    over joints. Because pred and gt live in different world frames, pred is first
    rotated by one rigid rotation for the whole clip (clip_rotation); no per-frame
    alignment, which would hide jitter. pred, gt: (T, J, 3) metres.
    """
    rot = clip_rotation(pred, gt, root)
    p = root_relative(pred, root) @ rot.T
    g = root_relative(gt, root)
    diff = second_difference(p) - second_difference(g)
    return np.linalg.norm(diff, axis=-1).mean(axis=-1) * M_TO_MM


def jitter_mm(positions: np.ndarray, root: list[int]) -> np.ndarray:
    """Mean acceleration magnitude of root-relative joints, per frame: (T-2,) mm/frame².

    The ground-truth-free counterpart of acceleration_error_mm, for real clips.
    """
    acc = second_difference(root_relative(positions, root))
    return np.linalg.norm(acc, axis=-1).mean(axis=-1) * M_TO_MM


def clip_similarity(pred: np.ndarray, gt: np.ndarray, root: list[int]) -> Similarity:
    """One similarity for a whole clip taking pred (T, J, 3) into gt's world (T, J, 3).

    Rotation and scale come from the root-relative poses over all frames (the
    body's shape, which both have), translation from the centroids of all points,
    so an estimate without root travel (hip-centred landmarks) is placed at the
    clip's mean position instead of having its scale crushed by the travel.
    """
    p, g = root_relative(pred, root), root_relative(gt, root)
    shape = similarity_from_points(p.reshape(-1, 3), g.reshape(-1, 3), with_scale=True)
    mu_p = np.asarray(pred, dtype=float).reshape(-1, 3).mean(axis=0)
    mu_g = np.asarray(gt, dtype=float).reshape(-1, 3).mean(axis=0)
    return Similarity(shape.scale, shape.rotation, mu_g - shape.scale * shape.rotation @ mu_p)


def ground_contacts(
    gt_point: np.ndarray,
    up_axis: int = 1,
    max_height_m: float = 0.03,
    max_speed_m_per_frame: float = 0.005,
) -> np.ndarray:
    """True contacts of one foot point from ground truth: (T,) bool.

    gt_point: (T, 3) metres in a world whose floor is at height 0 along `up_axis`.
    Frame t is a contact when the point is within `max_height_m` of its lowest height
    in the clip (the joint's own resting height: the ankle sits ~7-10 cm above the
    floor, the ball of the foot ~2-3 cm) and it moves horizontally by less than
    `max_speed_m_per_frame` from t-1 to t and from t to t+1 (central estimate). The
    defaults are explained in docs/accuracy.md.
    """
    p = np.asarray(gt_point, dtype=float)
    height = p[:, up_axis]
    low = height <= height.min() + max_height_m
    flat = np.delete(p, up_axis, axis=1)
    step = np.linalg.norm(np.diff(flat, axis=0), axis=1)
    still = np.zeros(len(p), dtype=bool)
    if len(p) > 1:
        before = np.concatenate([[step[0]], step])
        after = np.concatenate([step, [step[-1]]])
        still = np.maximum(before, after) < max_speed_m_per_frame
    return low & still


def foot_skate_mm(pred_point: np.ndarray, contact: np.ndarray, up_axis: int = 1) -> np.ndarray:
    """Horizontal speed of an estimated foot point during true contacts: (K,) mm/frame.

    pred_point: (T, 3) metres, already in the truth's world (one alignment for the
    whole clip, see clip_similarity); contact: (T,) bool from ground_contacts. One
    value per pair of consecutive frames that are both contacts (K pairs); the
    horizontal plane is the one orthogonal to `up_axis`.
    """
    p = np.delete(np.asarray(pred_point, dtype=float), up_axis, axis=1)
    both = np.asarray(contact[1:], dtype=bool) & np.asarray(contact[:-1], dtype=bool)
    return np.linalg.norm(np.diff(p, axis=0), axis=1)[both] * M_TO_MM


def travel_m(path: np.ndarray, up_axis: int = 1) -> float:
    """Largest horizontal extent (m) of a (T, 3) path: max over horizontal axes of max-min."""
    flat = np.delete(np.asarray(path, dtype=float), up_axis, axis=1)
    return float(np.max(np.ptp(flat, axis=0))) if len(flat) else 0.0


def root_trajectory_error_mm(pred_root: np.ndarray, gt_root: np.ndarray, alignment: Similarity | None = None) -> np.ndarray:
    """Root position error per frame after one similarity for the whole clip: (T,) mm.

    pred_root, gt_root: (T, 3) metres. `alignment` takes pred into gt's world; by
    default it is the least-squares similarity of the two paths themselves (absolute
    trajectory error with scale, as in monocular visual odometry). Pass the body's
    clip alignment (clip_similarity) instead to stop the path's own fit from inflating
    a nearly still, noisy path to the true path's size. A path that does not move at
    all ends up at the true path's centroid, so its error is the true path's spread.
    """
    sim = alignment or similarity_from_points(pred_root, gt_root, with_scale=True)
    return np.linalg.norm(sim.apply(pred_root) - np.asarray(gt_root, dtype=float), axis=1) * M_TO_MM


def pck(pred_px: np.ndarray, ref_px: np.ndarray, threshold_px: float | np.ndarray) -> float:
    """Share of points within `threshold_px` of the reference: float in [0, 1].

    pred_px, ref_px: (..., 2) pixels; NaN points (in either) are left out. threshold_px
    may be a scalar or broadcast against pred_px[..., 0] (e.g. one value per frame).
    """
    dist = np.linalg.norm(np.asarray(pred_px, dtype=float) - np.asarray(ref_px, dtype=float), axis=-1)
    thr = np.broadcast_to(np.asarray(threshold_px, dtype=float), dist.shape)
    ok = ~np.isnan(dist)
    return float(np.mean(dist[ok] <= thr[ok])) if ok.any() else float("nan")
