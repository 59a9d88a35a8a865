"""Train the depth network of `--depth learned` (mocap/lift.py) on CMU motion capture.

Not part of the package (nothing in mocap/ imports it); needs the `training` extra (PyTorch,
CPU) and ../shared/data/mocap_cmu (see its README: the raw data is never shipped, the trained
weights may be). Method and figures: docs/motion-quality.md, "Learned depth".

    .venv/bin/pip install -e ".[training]"
    .venv/bin/python training/train_depth.py --steps 1500 --threads 2 \
        --out mocap/models/depth_lifter.npz

Data. Every CMU clip (exact duplicates removed), one skeleton for all subjects, so bone lengths
are varied per sample. Each sample is a 3.75 s chunk at 24 fps (speed varied 0.8-1.25x), mirrored
with probability 0.5, seen by a random static camera: yaw all round, 2-7 m away, 0.3-2.5 m high,
aimed near the hips with an offset (the performer anywhere in the picture), roll within 5°. The
field of view does not matter: the network sees rays (mocap.lift.network_inputs). The 14 points
are moved from skeletal joints towards BlazePose's definitions (shoulders outward, hips lower and
wider, by random amounts), since the network is fed BlazePose's landmarks; its targets are those
same points in 3D. 2D noise shaped like BlazePose's (median error 5-13 px at 300-400 px figure
height on the rendered clips, i.e. 2-3.5% of the height): temporally correlated offsets,
occlusions (a stretch of larger error with low visibility, sometimes hidden), and left/right
swaps of a leg or arm for a few frames.

Split: by subject, where subjects holding copies of the same clips (README "Duplicates") are one
group; 10% of the groups (seeded) are validation. Seed 14 for everything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mocap.lift import LIFT_POINTS, MODEL_FPS, network_inputs  # noqa: E402

CMU = ROOT.parent / "shared" / "data" / "mocap_cmu"
CMU_NAMES = {  # BlazePose name -> CMU joint
    "left_shoulder": "l_shoulder", "right_shoulder": "r_shoulder", "left_elbow": "l_elbow",
    "right_elbow": "r_elbow", "left_wrist": "l_wrist", "right_wrist": "r_wrist", "left_hip": "l_hip",
    "right_hip": "r_hip", "left_knee": "l_knee", "right_knee": "r_knee", "left_ankle": "l_ankle",
    "right_ankle": "r_ankle", "left_eye": "l_eye", "right_eye": "r_eye",
}
NOISY_CLIPS = {"104_01", "88_02", "89_05", "87_04", "111_06", "88_05", "88_01", "87_03"}  # README: pelvis jumps
RF = 27  # receptive field (frames): 3 x 3 x 3
OUT_FRAMES = 64
CHUNK = OUT_FRAMES + RF - 1
LIMBS = [(0, 2), (2, 4), (1, 3), (3, 5), (6, 8), (8, 10), (7, 9), (9, 11)]  # in LIFT_POINTS order


# ----------------------------------------------------------------------------- data


def load_cmu(root: Path) -> tuple[dict[str, np.ndarray], dict[str, str], list[str], np.ndarray]:
    """Clips (id -> (T, 25, 3) float32 metres), clip -> subject group, joint names, parents."""
    clips, digests, names, parents = {}, {}, None, None
    for f in sorted(root.glob("subject_*.npz"), key=lambda p: int(p.stem.split("_")[1])):
        z = np.load(f)
        names, parents = [str(n) for n in z["joint_names"]], z["parents"].astype(int)
        for k in z.files:
            if k in ("joint_names", "parents", "fps", "units") or k in NOISY_CLIPS:
                continue
            a = z[k]
            digests.setdefault(hashlib.md5(a.tobytes()).hexdigest(), []).append(k)
            clips[k] = a.astype(np.float32) / 1000.0
    if not clips:
        raise SystemExit(f"{root}: no CMU clips found (see ../shared/data/mocap_cmu/README.md)")
    # subjects that share a clip are one group (union-find); duplicates are dropped
    group = {}

    def find(s: str) -> str:
        while group.setdefault(s, s) != s:
            s = group[s]
        return s

    for copies in digests.values():
        subs = [c.split("_")[0] for c in copies]
        for s in subs[1:]:
            group[find(s)] = find(subs[0])
        for c in copies[1:]:
            clips.pop(c, None)
    groups = {k: find(k.split("_")[0]) for k in clips}
    return clips, groups, names, parents


def split(groups: dict[str, str], seed: int, frac: float = 0.1) -> tuple[list[str], list[str]]:
    ids = sorted(set(groups.values()), key=int)
    rng = np.random.default_rng(seed)
    val_groups = set(rng.choice(ids, size=max(1, round(frac * len(ids))), replace=False).tolist())
    val = sorted(k for k, g in groups.items() if g in val_groups)
    train = sorted(k for k, g in groups.items() if g not in val_groups)
    return train, val


class Sampler:
    """Random training chunks: features (B, CHUNK, 3K) and targets (B, OUT_FRAMES, K, 3)."""

    def __init__(self, clips: dict[str, np.ndarray], ids: list[str], names: list[str], parents: np.ndarray, seed: int):
        self.clips = [clips[k] for k in ids if len(clips[k]) >= 24]
        lengths = np.array([len(c) for c in self.clips], float)
        self.p = lengths / lengths.sum()
        self.names, self.parents = names, parents
        self.rng = np.random.default_rng(seed)
        self.cols = [names.index(CMU_NAMES[n]) for n in LIFT_POINTS]
        self.swap = [names.index(n.replace("l_", "#").replace("r_", "l_").replace("#", "r_")) for n in names]
        ix = names.index
        self.floor = [float(np.percentile(np.minimum(c[:, ix("l_ankle"), 1], c[:, ix("r_ankle"), 1]), 2)) - 0.058
                      for c in self.clips]
        cat = {}  # bone (child joint) -> length-scale category
        for j, n in enumerate(names):
            base = n[2:] if n[:2] in ("l_", "r_") else n
            cat[j] = {"shoulder": "shoulder_w", "elbow": "upper_arm", "wrist": "forearm", "hip": "hip_w",
                      "knee": "thigh", "ankle": "shin", "spine": "trunk", "chest": "trunk", "neck": "trunk",
                      "head": "neck", "collar": "collar"}.get(base, "fixed")
        self.cat = cat
        self.ranges = {"shoulder_w": (0.85, 1.35), "upper_arm": (0.88, 1.12), "forearm": (0.88, 1.12),
                       "hip_w": (0.85, 1.3), "thigh": (0.9, 1.2), "shin": (0.85, 1.08), "trunk": (0.88, 1.15),
                       "neck": (0.8, 1.2), "collar": (0.9, 1.2), "fixed": (1.0, 1.0)}

    def _chunk(self):
        rng = self.rng
        i = rng.choice(len(self.clips), p=self.p)
        clip = self.clips[i]
        speed = rng.uniform(0.8, 1.25)
        span = (CHUNK - 1) * speed
        if len(clip) - 1 < span:
            speed = (len(clip) - 1) / (CHUNK - 1)
            span = (CHUNK - 1) * speed
        t0 = rng.uniform(0, max(0.0, len(clip) - 1 - span - 1e-6))
        t = t0 + np.arange(CHUNK) * speed
        lo = np.floor(t).astype(int)
        hi = np.minimum(lo + 1, len(clip) - 1)
        a = (t - lo)[:, None, None]
        x = (1 - a) * clip[np.minimum(lo, len(clip) - 1)] + a * clip[hi]  # (N, 25, 3)
        return x, self.floor[i]

    def _body(self, x: np.ndarray) -> np.ndarray:
        """Bone lengths varied, mirrored, points moved toward BlazePose's definitions -> (N, K, 3)."""
        rng = self.rng
        g = rng.uniform(0.85, 1.15)
        f = {c: rng.uniform(*r) for c, r in self.ranges.items()}
        y = x.copy()
        for j, p in enumerate(self.parents):
            if p >= 0:
                y[:, j] = y[:, p] + g * f[self.cat[j]] * (x[:, j] - x[:, p])
        if rng.random() < 0.5:
            y = y[:, self.swap] * np.array([-1.0, 1.0, 1.0], np.float32)
        pts = y[:, self.cols].copy()
        ls, rs, lh, rh = (LIFT_POINTS.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
        lr = pts[:, ls] - pts[:, rs]
        lr /= np.linalg.norm(lr, axis=-1, keepdims=True)
        a = rng.uniform(0.0, 0.07)
        pts[:, ls] += a * lr
        pts[:, rs] -= a * lr
        up = 0.5 * (pts[:, ls] + pts[:, rs]) - 0.5 * (pts[:, lh] + pts[:, rh])
        up /= np.linalg.norm(up, axis=-1, keepdims=True)
        hl = pts[:, lh] - pts[:, rh]
        hl /= np.linalg.norm(hl, axis=-1, keepdims=True)
        down, out = rng.uniform(0.0, 0.09), rng.uniform(-0.01, 0.05)
        pts[:, lh] += -down * up + out * hl
        pts[:, rh] += -down * up - out * hl
        return pts

    def _camera(self, pts: np.ndarray, floor: float) -> np.ndarray:
        """A random static camera; returns R_cam_from_world rows and the centre."""
        rng = self.rng
        hips = 0.5 * (pts[:, 6] + pts[:, 7])
        centre = hips.mean(0)
        travel = float(np.max(np.linalg.norm((hips - centre)[:, [0, 2]], axis=1)))
        yaw = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(2.0, 7.0) + travel
        cam = np.array([centre[0] + dist * np.sin(yaw), floor + rng.uniform(0.3, 2.5), centre[2] + dist * np.cos(yaw)])
        target = np.array([centre[0], floor + rng.uniform(0.5, 1.3), centre[2]])
        fwd = target - cam
        fwd /= np.linalg.norm(fwd)
        # aim off the performer by up to ~15 degrees (they need not be in the middle of the picture)
        side = np.cross(fwd, [0.0, 1.0, 0.0])
        side /= np.linalg.norm(side)
        upv = np.cross(side, fwd)
        fwd = fwd + np.tan(np.radians(rng.uniform(-15, 15))) * side + np.tan(np.radians(rng.uniform(-12, 12))) * upv
        fwd /= np.linalg.norm(fwd)
        xc = np.cross(fwd, [0.0, 1.0, 0.0])
        xc /= np.linalg.norm(xc)
        yc = np.cross(fwd, xc)
        roll = np.radians(rng.uniform(-5, 5))
        xr, yr = np.cos(roll) * xc + np.sin(roll) * yc, -np.sin(roll) * xc + np.cos(roll) * yc
        R = np.stack([xr, yr, fwd])
        return (pts - cam) @ R.T

    def _noise(self, rays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """BlazePose-like 2D errors on z = 1 rays (N, K, 3) -> noisy rays, visibility (N, K)."""
        rng = self.rng
        n, k = rays.shape[:2]
        xy = rays[..., :2].copy()
        pelvis = 0.5 * (xy[:, 6] + xy[:, 7])
        r0 = float(np.sqrt(np.mean(np.sum((xy[:, :12] - pelvis[:, None]) ** 2, -1))))

        def smooth_noise(width: float) -> np.ndarray:  # unit-variance noise, Gaussian-correlated over time
            w = gaussian_filter1d(rng.standard_normal((n, k, 2)), width, axis=0, mode="wrap")
            return w / w.std()

        xy += r0 * rng.uniform(0.01, 0.06) * smooth_noise(rng.uniform(1.5, 4.0))
        xy += r0 * rng.uniform(0.0, 0.015) * rng.standard_normal(xy.shape)
        vis = np.clip(rng.uniform(0.6, 1.0, k)[None] + 0.05 * rng.standard_normal((n, k)), 0.0, 1.0)
        occluded = smooth_noise(rng.uniform(2.0, 5.0)) * r0 * rng.uniform(0.08, 0.2)
        for j in range(k):
            if rng.random() < 0.08:
                a = rng.integers(0, n)
                b = min(n, a + rng.integers(5, 41))
                xy[a:b, j] += occluded[a:b, j]
                vis[a:b, j] = rng.uniform(0.0, 0.5) if rng.random() < 0.7 else 0.0
        if rng.random() < 0.03:  # a leg or an arm swapped left/right for a few frames
            pair = [(2, 3), (4, 5)] if rng.random() < 0.5 else [(8, 9), (10, 11)]
            a = rng.integers(0, n)
            b = min(n, a + rng.integers(3, 16))
            for l, r in pair:
                xy[a:b, [l, r]] = xy[a:b, [r, l]]
        out = np.concatenate([xy, np.ones((n, k, 1), xy.dtype)], -1)
        return out, vis

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        feats = np.empty((size, CHUNK, 3 * len(LIFT_POINTS)), np.float32)
        targets = np.empty((size, OUT_FRAMES, len(LIFT_POINTS), 3), np.float32)
        half = RF // 2
        for b in range(size):
            x, floor = self._chunk()
            pts = self._body(x)
            while True:
                cam = self._camera(pts, floor)
                if cam[..., 2].min() > 0.3:
                    break
            rays = cam / cam[..., 2:3]
            noisy, vis = self._noise(rays)
            f, R = network_inputs(noisy, vis, MODEL_FPS)
            view = np.einsum("tij,tkj->tki", R, cam)
            view -= 0.5 * (view[:, 6] + view[:, 7])[:, None]
            feats[b] = f
            targets[b] = view[half: half + OUT_FRAMES]
        return feats, targets


# ----------------------------------------------------------------------------- model


class Lifter(nn.Module):
    """Temporal convolutions (VideoPose3D-style): expand (k3), two residual blocks
    (k3 dilated 3 and 9, then 1x1), and a 1x1 head. Receptive field 27 frames."""

    def __init__(self, k: int, channels: int = 128, dropout: float = 0.1):
        super().__init__()
        self.expand = nn.Conv1d(3 * k, channels, 3)
        self.blocks = nn.ModuleList()
        for d in (3, 9):
            self.blocks.append(nn.ModuleList([nn.Conv1d(channels, channels, 3, dilation=d),
                                              nn.Conv1d(channels, channels, 1)]))
        self.head = nn.Conv1d(channels, 3 * k, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, 3K) -> (B, N-26, K, 3)
        b = x.shape[0]
        x = self.drop(torch.relu(self.expand(x.transpose(1, 2))))
        for conv, pw in self.blocks:
            d = conv.dilation[0]
            y = self.drop(torch.relu(conv(x)))
            y = self.drop(torch.relu(pw(y)))
            x = x[:, :, d:-d] + y
        return self.head(x).transpose(1, 2).reshape(b, -1, len(LIFT_POINTS), 3)

    def export(self, path: Path, meta: dict) -> None:
        arrays, i = {}, 0
        convs = [self.expand] + [c for blk in self.blocks for c in blk] + [self.head]
        for c in convs:
            arrays[f"w{i}"] = c.weight.detach().numpy().transpose(2, 1, 0).astype(np.float16)
            arrays[f"b{i}"] = c.bias.detach().numpy().astype(np.float16)
            arrays[f"d{i}"] = np.array(c.dilation[0])
            i += 1
        arrays["points"] = np.array(LIFT_POINTS)
        arrays["meta"] = np.array(json.dumps(meta))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)


# ----------------------------------------------------------------------------- metrics


def metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """MPJPE (mm, hip-centred), PA-MPJPE (mm, per-frame similarity) and limb direction (deg)
    over the 12 body points; pred/true (F, K, 3) in the view frame."""
    p, t = pred[:, :12].astype(np.float64), true[:, :12].astype(np.float64)
    mpjpe = np.linalg.norm(p - t, axis=-1).mean() * 1000
    pc, tc = p - p.mean(1, keepdims=True), t - t.mean(1, keepdims=True)
    u, s, vt = np.linalg.svd(np.einsum("fki,fkj->fij", pc, tc))
    dsign = np.sign(np.linalg.det(u @ vt))
    s[:, -1] *= dsign
    u[:, :, -1] *= dsign[:, None]
    rot = u @ vt
    scale = s.sum(1) / np.sum(pc**2, axis=(1, 2))
    aligned = scale[:, None, None] * pc @ rot
    pa = np.linalg.norm(aligned - tc, axis=-1).mean() * 1000
    angs = []
    for a, b in LIMBS:
        va, vb = p[:, b] - p[:, a], t[:, b] - t[:, a]
        cos = np.sum(va * vb, -1) / (np.linalg.norm(va, axis=-1) * np.linalg.norm(vb, axis=-1))
        angs.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return {"mpjpe_mm": float(mpjpe), "pa_mpjpe_mm": float(pa), "limb_deg": float(np.mean(angs))}


def numpy_predict(path: Path, feats: np.ndarray) -> np.ndarray:
    """The product's own inference (mocap.lift.DepthLifter) on padded chunks -> valid outputs."""
    from mocap.lift import DepthLifter

    net = DepthLifter(path)
    half = RF // 2
    return np.stack([net(f)[half: half + OUT_FRAMES] for f in feats])


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=CMU)
    ap.add_argument("--out", type=Path, default=ROOT / "mocap" / "models" / "depth_lifter.npz")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32, help="chunks per step (64 output frames each)")
    ap.add_argument("--channels", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--val-chunks", type=int, default=400)
    ap.add_argument("--log", type=Path, help="write the training log (JSON) here")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t_start = time.time()
    clips, groups, names, parents = load_cmu(args.data)
    train_ids, val_ids = split(groups, args.seed)
    n_frames = lambda ids: int(sum(len(clips[k]) for k in ids))  # noqa: E731
    print(f"clips {len(clips)} (duplicates removed); groups {len(set(groups.values()))}; "
          f"train {len(train_ids)} clips / {n_frames(train_ids)} frames; val {len(val_ids)} clips / "
          f"{n_frames(val_ids)} frames; val subjects {sorted(set(groups[k] for k in val_ids), key=int)}", flush=True)
    train = Sampler(clips, train_ids, names, parents, args.seed)
    val_feats, val_true = Sampler(clips, val_ids, names, parents, args.seed + 1).batch(args.val_chunks)

    model = Lifter(len(LIFT_POINTS), args.channels)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)
    log = {"args": {k: str(v) for k, v in vars(args).items()}, "val": []}

    def validate(step: int) -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            pred = np.concatenate([model(torch.from_numpy(val_feats[i: i + 100])).numpy()
                                   for i in range(0, len(val_feats), 100)])
        model.train()
        m = metrics(pred.reshape(-1, len(LIFT_POINTS), 3), val_true.reshape(-1, len(LIFT_POINTS), 3))
        m["step"] = step
        m["minutes"] = round((time.time() - t_start) / 60, 1)
        log["val"].append(m)
        print(json.dumps(m), flush=True)
        return m

    losses = []
    for step in range(1, args.steps + 1):
        feats, true = train.batch(args.batch)
        pred = model(torch.from_numpy(feats))
        loss = torch.linalg.norm(pred - torch.from_numpy(true), dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if step % 50 == 0:
            print(f"step {step} loss {1000 * np.mean(losses[-50:]):.1f} mm  "
                  f"{(time.time() - t_start) / 60:.1f} min", flush=True)
        if step % 250 == 0 or step == args.steps:
            validate(step)

    final = log["val"][-1]
    meta = {"trained_on": "CMU mocap (mocap.cs.cmu.edu), joint positions; see docs/motion-quality.md",
            "command": " ".join(["training/train_depth.py"] + (argv or sys.argv[1:])), "seed": args.seed,
            "val_subject_groups": sorted(set(groups[k] for k in val_ids), key=int), "val": final,
            "receptive_field": RF, "fps": MODEL_FPS}
    model.export(args.out, meta)
    exported = metrics(numpy_predict(args.out, val_feats).reshape(-1, len(LIFT_POINTS), 3),
                       val_true.reshape(-1, len(LIFT_POINTS), 3))
    print("exported (float16, numpy inference):", json.dumps(exported), flush=True)
    log["exported"] = exported
    log["minutes"] = round((time.time() - t_start) / 60, 1)
    if args.log:
        args.log.write_text(json.dumps(log, indent=1))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {log['minutes']} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
