"""Plots for docs/accuracy.md, drawn from benchmarks/accuracy.py's per-clip series (matplotlib, Agg).

    smoothing.png   a wrist's height over time (hip-relative): ground truth, raw BlazePose,
                    exported BVH; below it the joints' acceleration magnitude (jitter)
    foot_contacts.png  toe height and horizontal toe speed, ours vs raw vs truth, with the
                    true contacts shaded (what the foot-skate metric measures)
    root_path.png   the root path seen from above for the clips that travel, ours after
                    one similarity alignment vs the true pelvis path
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Clips chosen for the single-clip plots when present (otherwise the first clip that fits).
SMOOTHING_CLIP = "dev_scifi_wave_front"
CONTACT_CLIP = "dev_bandai_kick_scifi_front"  # static camera, long contacts
CONTACT_JOINT = "l_toe"

COLOURS = {"gt": "black", "raw": "tab:orange", "input": "tab:gray", "ours": "tab:blue"}
LINES = (  # series key, label
    ("input_aligned", "BlazePose, smoothing off (before)"),
    ("raw_aligned", "BlazePose, MediaPipe defaults"),
    ("ours_aligned", "exported BVH (after)"),
    ("gt", "ground truth"),
)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _pick(results, name: str, accept=lambda r: True):
    for r in results:
        if r.name == name:
            return r
    return next((r for r in results if accept(r)), None)


def _hip_relative(x: np.ndarray, hips: list[int]) -> np.ndarray:
    return x - x[:, hips].mean(axis=1, keepdims=True)


def plot_smoothing(result, joint_names: tuple[str, ...], hips: list[int], path: Path) -> Path:
    """Hip-relative height of the wrist that moves most, and the mean joint acceleration magnitude."""
    plt = _pyplot()
    s = result.series
    wrists = [joint_names.index(n) for n in ("l_wrist", "r_wrist")]
    rel_gt = _hip_relative(s["gt"], hips)
    j = max(wrists, key=lambda w: float(np.ptp(rel_gt[:, w, 1])))
    fps = float(s["fps"])
    t = np.arange(s["gt"].shape[0]) / fps
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for key, label in LINES:
        colour = COLOURS[key.split("_")[0]]
        rel = _hip_relative(s[key], hips)
        ax1.plot(t, rel[:, j, 1] * 1000, color=colour, lw=1.2 if key != "gt" else 1.8, label=label)
        acc = np.linalg.norm(rel[2:] - 2 * rel[1:-1] + rel[:-2], axis=-1).mean(axis=-1) * 1000
        ax2.plot(t[1:-1], acc, color=colour, lw=1.2, label=label)
    ax1.set_ylabel(f"{joint_names[j]} height above hips (mm)")
    ax1.set_title(f"{result.name}: before / after smoothing")
    ax1.legend(loc="best", fontsize=8)
    ax2.set_ylabel("mean joint acceleration (mm/frame²)")
    ax2.set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_foot_contacts(result, joint_names: tuple[str, ...], feet: list[int], path: Path) -> Path:
    """Toe height and horizontal toe speed (clip-aligned), with the true contacts shaded."""
    plt = _pyplot()
    j = joint_names.index(CONTACT_JOINT)
    contact = result.series["contacts"][:, feet.index(j)]
    s = result.series
    fps = float(s["fps"])
    t = np.arange(s["gt"].shape[0]) / fps
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for ax in (ax1, ax2):
        for start, stop in _runs(contact):
            ax.axvspan(t[start] - 0.5 / fps, t[stop] + 0.5 / fps, color="tab:green", alpha=0.15, lw=0)
    for key, label in LINES:
        colour = COLOURS[key.split("_")[0]]
        p = s[key][:, j]
        ax1.plot(t, p[:, 1] * 1000, color=colour, lw=1.2 if key != "gt" else 1.8, label=label)
        speed = np.linalg.norm(np.diff(p[:, [0, 2]], axis=0), axis=1) * 1000
        ax2.plot(t[1:], speed, color=colour, lw=1.2, label=label)
    ax1.set_ylabel(f"{CONTACT_JOINT} height (mm, truth's world)")
    ax1.set_title(f"{result.name}: foot height and speed; green = true contact")
    ax1.legend(loc="best", fontsize=8)
    ax2.set_ylabel("horizontal speed (mm/frame)")
    ax2.set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_root_paths(results, path: Path) -> Path | None:
    """Root path from above (x, z of the truth's world) for every travelling clip."""
    travelling = [r for r in results if "root" in r.ours.values]
    if not travelling:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(travelling), figsize=(4.2 * len(travelling), 4.4), squeeze=False)
    for ax, r in zip(axes[0], travelling):
        s = r.series
        gt = s["gt_pelvis"]
        ax.plot(gt[:, 0], gt[:, 2], color=COLOURS["gt"], lw=1.8, label="ground truth pelvis")
        for key, label in (("raw_root_aligned", "raw BlazePose (hip-centred)"), ("ours_root_aligned", "exported BVH root")):
            aligned = s[key]
            colour = COLOURS[key.split("_")[0]]
            style = {"marker": "o", "ms": 2, "lw": 0} if key.startswith("raw") else {"lw": 1.2}
            ax.plot(aligned[:, 0], aligned[:, 2], color=colour, label=label, **style)
        ax.set_aspect("equal", adjustable="datalim")
        cam = "static camera" if bool(s.get("camera_static", True)) else "camera follows the subject"
        ax.set_title(f"{r.name.removeprefix('dev_')} ({cam})\nroot error {r.ours.mean('root'):.0f} mm", fontsize=9)
        ax.set_xlabel("x (m)")
        ax.set_ylabel("z (m)")
    axes[0][0].legend(loc="best", fontsize=7)
    fig.suptitle("Root path from above (truth's world), after the body's clip alignment")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) inclusive index ranges where mask is True."""
    runs, t, n = [], 0, len(mask)
    while t < n:
        if mask[t]:
            start = t
            while t < n and mask[t]:
                t += 1
            runs.append((start, t - 1))
        else:
            t += 1
    return runs


def make_plots(results, folder: Path) -> list[Path]:
    """Draw every plot into `folder` (created if needed); returns the files written."""
    from accuracy import FEET, HIPS, NAMES  # benchmarks/accuracy.py, beside this file

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if results:
        written.append(plot_smoothing(_pick(results, SMOOTHING_CLIP), NAMES, HIPS, folder / "accuracy_smoothing.png"))
    contact = _pick(results, CONTACT_CLIP, lambda r: r.series["contacts"].any())
    if contact is not None:
        written.append(plot_foot_contacts(contact, NAMES, FEET, folder / "accuracy_foot_contacts.png"))
    root = plot_root_paths(results, folder / "accuracy_root_path.png")
    if root is not None:
        written.append(root)
    return written
