"""The report's plots (matplotlib, Agg backend, imported inside functions): each function
takes plain arrays and returns PNG bytes.

Time axes are seconds in the source video; shaded spans are frames without a person.
"""

from __future__ import annotations

import io

import numpy as np

WIDTH_IN, DPI = 9.0, 100
LEFT_COLOUR, RIGHT_COLOUR, CENTRE_COLOUR = "#1e88e5", "#e53935", "#8e24aa"


def _figure(height_in: float = 2.8, ncols: int = 1, width_in: float = WIDTH_IN):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, ncols) if ncols > 1 else fig.subplots()
    return fig, axes


def _png(fig) -> bytes:  # noqa: ANN001 - a matplotlib Figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _shade_gaps(ax, times_s: np.ndarray, gaps: tuple[tuple[int, int], ...], label: bool = True) -> None:  # noqa: ANN001
    dt = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 0.0
    for i, (a, b) in enumerate(gaps):
        ax.axvspan(times_s[a] - dt / 2, times_s[b] + dt / 2, color="0.85", zorder=0,
                   label="no person" if (label and i == 0) else None)


def detection_confidence(times_s: np.ndarray, visibility: np.ndarray, gaps: tuple[tuple[int, int], ...]) -> bytes:
    """Mean, minimum-quartile and maximum landmark visibility per frame. visibility: (T, L) in [0, 1]."""
    fig, ax = _figure()
    _shade_gaps(ax, times_s, gaps)
    ax.fill_between(times_s, np.percentile(visibility, 25, axis=1), visibility.max(axis=1), alpha=0.25,
                    color=CENTRE_COLOUR, label="25th percentile to best landmark")
    ax.plot(times_s, visibility.mean(axis=1), color=CENTRE_COLOUR, label="mean of 33 landmarks")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("visibility")
    ax.legend(loc="lower left", fontsize=8)
    return _png(fig)


def unseen_parts(times_s: np.ndarray, part_visibility: dict[str, np.ndarray], gaps: tuple[tuple[int, int], ...]) -> bytes:
    """Heat map: body part (rows) x time, mean visibility of the part's landmarks ((T,) each);
    a last row marks frames without a person."""
    fig, ax = _figure(0.45 * (len(part_visibility) + 1) + 1.0)
    rows = list(part_visibility.values())
    nobody = np.zeros(len(times_s))
    for a, b in gaps:
        nobody[a: b + 1] = 1.0
    grid = np.vstack(rows + [1.0 - nobody])
    dt = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 1.0
    image = ax.imshow(grid, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, interpolation="nearest",
                      extent=(times_s[0] - dt / 2, times_s[-1] + dt / 2, len(grid) - 0.5, -0.5))
    ax.set_yticks(range(len(grid)), list(part_visibility) + ["person found"])
    ax.set_xlabel("time (s)")
    fig.colorbar(image, ax=ax, label="visibility", fraction=0.03)
    return _png(fig)


def jitter(times_s: np.ndarray, raw_mm: np.ndarray, smoothed_mm: np.ndarray, cutoff_hz: float | None) -> bytes:
    """Jitter per frame (mean landmark acceleration, mm/frame^2; (T-2,) each, NaN in gaps)."""
    fig, ax = _figure()
    t = times_s[1:-1]
    ax.plot(t, raw_mm, color="0.55", lw=0.8, label=f"detected (median {np.nanmedian(raw_mm):.1f})")
    label = "smoothed" + (f" at {cutoff_hz:g} Hz" if cutoff_hz else "")
    ax.plot(t, smoothed_mm, color=CENTRE_COLOUR, lw=1.2, label=f"{label} (median {np.nanmedian(smoothed_mm):.1f})")
    top = np.nanpercentile(raw_mm, 99) if np.any(np.isfinite(raw_mm)) else 1.0
    ax.set_ylim(0, max(top * 1.1, 1e-3))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("jitter (mm/frame²)")
    ax.legend(loc="upper right", fontsize=8)
    return _png(fig)


def foot_heights(times_s: np.ndarray, heights_m: dict[str, np.ndarray], contacts: dict[str, np.ndarray]) -> bytes:
    """Heights above the floor of the contact points ((T,) m each), with their planted frames shaded."""
    fig, axes = _figure(3.0, ncols=2)
    dt = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 0.0
    for ax, side, colour in zip(axes, ("left", "right"), (LEFT_COLOUR, RIGHT_COLOUR)):
        for point, style in (("heel", "-"), ("toe", "--")):
            name = f"{side}_{point}"
            if name not in heights_m:
                continue
            ax.plot(times_s, 100 * heights_m[name], style, color=colour, lw=1, label=point)
            flags = contacts.get(name)
            if flags is not None:
                level = 0 if point == "heel" else -1.5
                on = np.flatnonzero(flags)
                ax.scatter(times_s[on], np.full(on.size, level), marker="|", s=40, color=colour,
                           alpha=1.0 if point == "heel" else 0.5, label=f"{point} planted")
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set_title(f"{side} foot", fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_xlim(times_s[0] - dt, times_s[-1] + dt)
        ax.legend(loc="upper right", fontsize=7)
    axes[0].set_ylabel("height (cm)")
    return _png(fig)


def root_path(root_m: np.ndarray, camera_m: np.ndarray | None, planted_m: np.ndarray | None) -> bytes:
    """The hips' path seen from above (x right, z toward the camera), the camera, planted feet."""
    fig, ax = _figure(5.0, width_in=6.5)
    ax.plot(root_m[:, 0], root_m[:, 2], color=CENTRE_COLOUR, lw=1.2, label="hips")
    ax.plot(*root_m[0, [0, 2]], "o", color="green", label="start")
    ax.plot(*root_m[-1, [0, 2]], "s", color="black", label="end")
    if planted_m is not None and len(planted_m):
        ax.scatter(planted_m[:, 0], planted_m[:, 2], s=4, color="0.5", alpha=0.4, label="planted foot points")
    if camera_m is not None:
        ax.plot(camera_m[0], camera_m[2], "^", color="0.2", ms=9, label="camera")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x (m), performer's left when facing the camera")
    ax.set_ylabel("z (m), toward the camera")
    ax.grid(True, lw=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    return _png(fig)


def bone_lengths(names: list[str], lengths_m: np.ndarray, height_m: float) -> bytes:
    """Fitted bone lengths (cm), one bar per joint (the bone from its parent)."""
    fig, ax = _figure(0.22 * len(names) + 0.8)
    colours = [LEFT_COLOUR if n.startswith("Left") else RIGHT_COLOUR if n.startswith("Right") else CENTRE_COLOUR
               for n in names]
    y = np.arange(len(names))
    ax.barh(y, 100 * lengths_m, color=colours)
    for yi, length in zip(y, lengths_m):
        ax.text(100 * length + 0.5, yi, f"{100 * length:.1f}", va="center", fontsize=7)
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"bone length (cm); performer {height_m:.2f} m tall")
    return _png(fig)
