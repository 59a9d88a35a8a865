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

Bone lengths (the solve's second length fit, returned as RefinedPose.bone_lengths_m so
it is a named output rather than a hidden refit; the rig's own lengths are fitted later,
from the refined pose, by mocap.solve.fit): BlazePose's 3D bones are not consistent with its 2D ones (its shins are
10-25% short against the image on the rendered clips), and h is very sensitive to L near
d ~ L. Each length is therefore measured against the image, on the frames where the image shows
the child (visibility above 0 after smoothing; a child it never shows keeps the smoothed pose's
bone, e.g. the neutral legs of a waist-up shot): the larger of the median of
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

The tree (bones, parents first, from the pelvis), the bones that keep BlazePose's depth
and the two hip landmarks are rig data: `depth_tree` in mocap/rigs/humanoid.json.

The spine (pelvis -> neck base) keeps BlazePose's depth: it is nearly parallel to the
image plane in most footage, where h = sqrt(L^2 - d^2) is pure noise. Everything is
vectorised across frames; the cost is about 35 small banded solves per clip.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mocap.camera import Camera, cv_from_internal, internal_from_cv
from mocap.data import LandmarkTracks
from mocap.kinematics import unit
from mocap.rig import RigTemplate, columns, derived_point, require
from mocap.solve.root import CameraRoot
from mocap.timeseries import whittaker_lambda, whittaker_smooth


@dataclass(frozen=True)
class RefineConfig:
    sigma_px: float = 6.0  # 2D landmark noise after smoothing, pixels
    sigma_len: float = 0.015  # bone-length uncertainty, as a fraction of the length
    sigma_bp: float = 0.12  # BlazePose's depth error along a bone, as a fraction of its length
    sign_trust: float = 0.25  # BlazePose decides the sign once |h_bp| exceeds this fraction of L
    cutoff_hz: float | None = 4.0  # temporal smoothing of each bone's depth
    length_percentile: float = 95.0
    length_cap: float = 1.1  # a bone is at most this much longer than image and BlazePose agree on
    hip_raise: float = 0.1  # skeletal hip joints sit this fraction of the trunk above BlazePose's hips


@dataclass(frozen=True)
class RefinedPose:
    """The refinement's output.

    tracks: the input tracks with world_m (T, L, 3) refined (internal frame, hip-centred);
    bone_lengths_m: (parent, child) point names -> the bone length (metres) measured
    against the image and used to place the child (bones with fewer than two usable
    frames keep BlazePose's bone and have no entry).
    """

    tracks: LandmarkTracks
    bone_lengths_m: dict[tuple[str, str], float]


def image_bone_length(d2: np.ndarray, h_bp_unit: np.ndarray, length_bp: float, cfg: RefineConfig) -> float:
    """A bone's length measured against the image (module docstring, "Bone lengths").

    d2: (N,) squared distance from the placed parent to the child's ray, usable frames only;
    h_bp_unit: (N,) BlazePose's bone direction along the ray (cosine); length_bp: BlazePose's
    median bone length. The larger of the agreed length and the `length_percentile` of the
    extent across the view, capped at `length_cap` times the agreed length."""
    agreed = float(np.median(np.sqrt(d2 + (length_bp * h_bp_unit) ** 2)))
    widest = float(np.percentile(np.sqrt(d2), cfg.length_percentile))
    return min(max(agreed, widest), cfg.length_cap * agreed)


def refine_pose(
    tracks: LandmarkTracks, root: CameraRoot, camera: Camera, rig: RigTemplate, cfg: RefineConfig = RefineConfig()
) -> RefinedPose:
    """Refine the world landmarks of `tracks` so they re-project onto its image landmarks.

    tracks: smoothed, gap-filled (mocap.smooth.smooth_tracks), hip-centred world landmarks;
    root: the hip centre relative to the camera (mocap.solve.root.camera_root); rig: whose
    `depth_tree` is walked. Landmarks the tree does not reach, and frames with NaN, keep
    BlazePose's values. Raises RigError when the tracks lack a landmark the tree needs.
    """
    tree = rig.depth_tree
    pelvis_name, neck_name = rig.trunk
    needed = {n for bone in tree.bones for n in bone if n not in rig.points} | set(tree.hips)
    require(rig, sorted(needed), tracks.names, f"tracks from {tracks.source or 'the detector'}")
    index = {n: i for i, n in enumerate(tracks.names)}
    world_cv = columns(tracks.names, cv_from_internal(tracks.world_m))
    image = columns(tracks.names, tracks.image_xy_px)
    vis = columns(tracks.names, np.nan_to_num(tracks.visibility, nan=0.0))
    n_frames = tracks.n_frames
    lam = whittaker_lambda(cfg.cutoff_hz, tracks.fps) if cfg.cutoff_hz else 1e-9
    root_cv = cv_from_internal(root.path_m)
    placed = {tree.root: root_cv + derived_point(rig, tree.root, world_cv)}
    lengths: dict[tuple[str, str], float] = {}
    for parent, child in tree.bones:
        bone_bp = derived_point(rig, child, world_cv) - derived_point(rig, parent, world_cv)
        p = placed[parent]
        ray = unit(camera.rays(derived_point(rig, child, image)))
        # A child the image never shows (visibility 0 after smoothing in every frame: legs
        # below a waist-up frame) has no 2D of its own, only a guess or nothing (NaN, which
        # became pixel (0, 0)); it keeps the filled pose's bone (mocap.smooth.neutral_fill), so
        # the image moves only what it shows (the waist-up tai chi clip's legs pointed up at
        # pixel (0, 0) in its frame without a person, and the hips sank to 0.47 m).
        ok = np.isfinite(bone_bp).all(1) & np.isfinite(p).all(1) & np.isfinite(ray).all(1) & (p[:, 2] > 0)
        seen = ok & (derived_point(rig, child, vis) > 0.0)
        if seen.sum() < 2:
            placed[child] = p + bone_bp
            continue
        dir_bp = unit(bone_bp)
        m = np.sum(ray * p, axis=1)
        d2 = np.maximum(np.sum(p * p, axis=1) - m * m, 0.0)
        length_bp = float(np.median(np.linalg.norm(bone_bp[ok], axis=1)))
        along = np.sum(ray * dir_bp, axis=1)
        length = lengths[(parent, child)] = image_bone_length(d2[seen], along[seen], length_bp, cfg)
        h_bp = length * along
        h_img = np.sqrt(np.maximum(length**2 - d2, 0.0))
        sigma_perp = cfg.sigma_px * p[:, 2] / camera.focal_px * np.sqrt(2.0)
        h_floor2 = np.maximum(h_img**2, 2.0 * length * sigma_perp)  # h ~ 0 is a one-sided estimate
        w_img = h_floor2 / (d2 * sigma_perp**2 + (length * cfg.sigma_len) ** 2)
        sign_conf = np.clip(np.abs(h_bp) / (cfg.sign_trust * length), 0.0, 1.0)
        w_img = w_img * sign_conf * np.clip(derived_point(rig, child, vis), 0.0, 1.0)
        if child in tree.keep_depth:
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
        points = columns(tracks.names, out)
        up = derived_point(rig, neck_name, points) - derived_point(rig, pelvis_name, points)
        for hip in tree.hips:
            out[:, index[hip]] += cfg.hip_raise * up
    pelvis = derived_point(rig, pelvis_name, columns(tracks.names, out))
    out = out - pelvis[:, None]
    keep = ~np.isfinite(out)
    out[keep] = tracks.world_m[keep]
    return RefinedPose(replace(tracks, world_m=out), lengths)


__all__ = ["RefineConfig", "RefinedPose", "image_bone_length", "refine_pose"]
