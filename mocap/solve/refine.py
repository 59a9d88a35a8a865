"""Depth from the image: refine BlazePose's 3D pose so it re-projects onto its 2D landmarks.

BlazePose's image landmarks are far more accurate than its depth. With the camera model
and the root translation (mocap.solve.root), each landmark's 2D position fixes a ray
from the camera; the landmark lies somewhere on it. Walking the body's tree from the
pelvis outwards, for a bone parent -> child of length L whose parent P is already placed,
the child C = (m + h) r on its unit ray r, where m = r.P puts it at the point of the ray
closest to P and h is its signed distance along the ray from there. Bone length gives

    h^2 = L^2 - d^2          (d = distance from P to the ray: the bone's extent across the view)

so the image fixes how far the bone points toward or away from the camera, up to sign
(Taylor 2000). BlazePose's 3D bone supplies the sign and a prior h_bp = L (d_bp . r). Per
bone, the estimate is a weighted mean of the two, the weights being inverse variances:

    var(h_image) = (d^2 sigma_perp^2 + L^2 sigma_len^2) / h^2     (large when h ~ 0)
    var(h_bp)    = (sigma_bp L)^2                                   (BlazePose's depth error)

and the image term is scaled down when BlazePose's own depth is too small to trust its
sign. The per-frame estimates are then smoothed over time with the Whittaker smoother
(a joint least-squares problem per bone, solved as one banded system), and the child is
placed at distance L from its parent along the resulting direction.

Bone lengths: BlazePose's 3D bones are not consistent with its 2D ones (its shins are
10-25% short against the image on the rendered clips), and h is very sensitive to L near
d ~ L. Each length is therefore measured against the image: the larger of the median of
sqrt(d^2 + h_bp^2) (the length the image and BlazePose's depth agree on) and the 95th
percentile of d (a bone is at least as long as it ever looks across the view), but at most
`length_cap` (1.1) times the first. The cap is for half-hidden limbs: the far arm in a 45°
view has 2D glitches in more than 5% of frames, and its 95th percentile said 47 cm for a
25 cm upper arm (dance clip; 36-37 cm for 22 cm on both run clips).

How much to trust each side (`sigma_bp`, measured on the 13 rendered clips with
benchmarks/accuracy.py): the per-frame image term helps only where BlazePose's sign is
right, and BlazePose gets the toward/away sign of an arm wrong in 20-50% of the frames
where it matters (walking and running arms: about half; legs: under 10%). A flipped sign
makes the image term push the bone the wrong way harder, so a tight BlazePose prior
(sigma_bp 0.12 of the bone's length) scores best: refined world landmarks 81.6 mm
PA-MPJPE / 16.8° limb error, against 82.2 / 17.1 at 0.35 and 81.8 / 16.8 with no image
term at all. The 2D still fixes every bone's direction across the view (the child is put
on its own ray); what the image cannot give is which way a limb points along the ray.

Hips: BlazePose's hip landmarks are surface points at the side of the hip, below the
femoral heads that a skeleton's hip joints stand for. On the rendered clips (three rigs,
every view) the detected hips sit 0.11 trunk lengths (pelvis -> neck base) below the
projected hip joints (median; 10 of 13 clips between 0.07 and 0.2), with no consistent
sideways offset. After refinement both hips are therefore moved up the trunk by
`hip_raise` = 0.1 of its length, so the rig's UpLeg joints and the root are skeletal
joints, not landmarks; the knees stay where they are.

The spine (pelvis -> neck base) keeps BlazePose's depth: it is nearly parallel to the
image plane in most footage, where h = sqrt(L^2 - d^2) is pure noise. Everything is
vectorised across frames; the cost is about 35 small banded solves per clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap.camera import Camera, cv_from_internal, internal_from_cv
from mocap.data import LandmarkTracks
from mocap.kinematics import unit
from mocap.timeseries import whittaker_lambda, whittaker_smooth

PELVIS, NECK_BASE = "pelvis", "neck_base"  # virtual points: midpoints of the hips / shoulders


def _bones() -> tuple[tuple[str, str], ...]:
    """(parent, child) pairs, parents first, covering all 33 BlazePose landmarks."""
    bones = [(PELVIS, "left_hip"), (PELVIS, "right_hip"), (PELVIS, NECK_BASE),
             (NECK_BASE, "left_shoulder"), (NECK_BASE, "right_shoulder")]
    bones += [(NECK_BASE, face) for face in (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right")]
    for s in ("left", "right"):
        bones += [(f"{s}_shoulder", f"{s}_elbow"), (f"{s}_elbow", f"{s}_wrist"),
                  (f"{s}_wrist", f"{s}_pinky"), (f"{s}_wrist", f"{s}_index"), (f"{s}_wrist", f"{s}_thumb"),
                  (f"{s}_hip", f"{s}_knee"), (f"{s}_knee", f"{s}_ankle"),
                  (f"{s}_ankle", f"{s}_heel"), (f"{s}_ankle", f"{s}_foot_index")]
    return tuple(bones)


BONES = _bones()


@dataclass(frozen=True)
class RefineConfig:
    sigma_px: float = 6.0  # 2D landmark noise after smoothing, pixels
    sigma_len: float = 0.015  # bone-length uncertainty, as a fraction of the length
    sigma_bp: float = 0.12  # BlazePose's depth error along a bone, as a fraction of its length
    sign_trust: float = 0.25  # BlazePose decides the sign once |h_bp| exceeds this fraction of L
    cutoff_hz: float | None = 4.0  # temporal smoothing of each bone's depth
    length_percentile: float = 95.0
    length_cap: float = 1.1  # a bone is at most this much longer than image and BlazePose agree on
    keep_depth: tuple[str, ...] = (NECK_BASE,)  # children whose bone keeps BlazePose's depth
    hip_raise: float = 0.1  # skeletal hip joints sit this fraction of the trunk above BlazePose's hips


def _point(tracks_arr: np.ndarray, index: dict[str, int], name: str) -> np.ndarray:
    if name == PELVIS:
        return 0.5 * (tracks_arr[:, index["left_hip"]] + tracks_arr[:, index["right_hip"]])
    if name == NECK_BASE:
        return 0.5 * (tracks_arr[:, index["left_shoulder"]] + tracks_arr[:, index["right_shoulder"]])
    return tracks_arr[:, index[name]]


def refine_world(
    tracks: LandmarkTracks, root_m: np.ndarray, camera: Camera, cfg: RefineConfig = RefineConfig()
) -> np.ndarray:
    """Refined world landmarks: (T, L, 3) internal frame, hip-centred, like tracks.world_m.

    tracks: smoothed, gap-filled (mocap.smooth.smooth_tracks), hip-centred world landmarks;
    root_m: (T, 3) hip centre relative to the camera, internal frame (mocap.solve.root).
    Landmarks the tree does not reach, and frames with NaN, keep BlazePose's values.
    """
    index = {n: i for i, n in enumerate(tracks.names)}
    if not all(c in index or c in (PELVIS, NECK_BASE) for _, c in BONES):
        return tracks.world_m.copy()
    world_cv = cv_from_internal(tracks.world_m)
    image = tracks.image_xy_px
    vis = np.nan_to_num(tracks.visibility, nan=0.0)
    n_frames = tracks.n_frames
    lam = whittaker_lambda(cfg.cutoff_hz, tracks.fps) if cfg.cutoff_hz else 1e-9
    root_cv = cv_from_internal(root_m)
    placed = {PELVIS: root_cv + _point(world_cv, index, PELVIS)}
    for parent, child in BONES:
        bone_bp = _point(world_cv, index, child) - _point(world_cv, index, parent)
        p = placed[parent]
        ray = unit(camera.rays(_point(image, index, child)))
        ok = np.isfinite(bone_bp).all(1) & np.isfinite(p).all(1) & np.isfinite(ray).all(1) & (p[:, 2] > 0)
        if ok.sum() < 2:
            placed[child] = p + bone_bp
            continue
        dir_bp = unit(bone_bp)
        m = np.sum(ray * p, axis=1)
        d2 = np.maximum(np.sum(p * p, axis=1) - m * m, 0.0)
        length_bp = float(np.median(np.linalg.norm(bone_bp[ok], axis=1)))
        h_bp = length_bp * np.sum(ray * dir_bp, axis=1)
        agreed = float(np.median(np.sqrt(d2[ok] + h_bp[ok] ** 2)))
        widest = float(np.percentile(np.sqrt(d2[ok]), cfg.length_percentile))
        length = min(max(agreed, widest), cfg.length_cap * agreed)
        h_bp = length * np.sum(ray * dir_bp, axis=1)
        h_img = np.sqrt(np.maximum(length**2 - d2, 0.0))
        sigma_perp = cfg.sigma_px * p[:, 2] / camera.focal_px * np.sqrt(2.0)
        h_floor2 = np.maximum(h_img**2, 2.0 * length * sigma_perp)  # h ~ 0 is a one-sided estimate
        w_img = h_floor2 / (d2 * sigma_perp**2 + (length * cfg.sigma_len) ** 2)
        sign_conf = np.clip(np.abs(h_bp) / (cfg.sign_trust * length), 0.0, 1.0)
        w_img = w_img * sign_conf * np.clip(_point(vis[..., None], index, child)[:, 0], 0.0, 1.0)
        if child in cfg.keep_depth:
            w_img = np.zeros(n_frames)
        w_bp = np.full(n_frames, 1.0 / (cfg.sigma_bp * length) ** 2)
        w_sum = w_img + w_bp
        value = (w_img * np.sign(h_bp) * h_img + w_bp * h_bp) / w_sum
        weights = np.where(ok, w_sum, 0.0)
        weights = weights / weights[ok].mean()
        h = whittaker_smooth(np.where(ok, value, 0.0)[:, None], weights, lam)[:, 0]
        c = (m + h)[:, None] * ray
        bone = length * unit(c - p)
        placed[child] = np.where(ok[:, None], p + bone, p + bone_bp)
    out = tracks.world_m.copy()
    for name, i in index.items():
        if name in placed:
            out[:, i] = internal_from_cv(placed[name] - root_cv)
    if cfg.hip_raise:  # BlazePose's hip landmarks -> skeletal hip joints (module docstring)
        up = _point(out, index, NECK_BASE) - _point(out, index, PELVIS)
        for hip in ("left_hip", "right_hip"):
            out[:, index[hip]] += cfg.hip_raise * up
    pelvis = _point(out, index, PELVIS)
    out = out - pelvis[:, None]
    keep = ~np.isfinite(out)
    out[keep] = tracks.world_m[keep]
    return out


__all__ = ["RefineConfig", "refine_world", "BONES"]
