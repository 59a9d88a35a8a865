"""The One Euro filter: a causal low-pass whose cut-off rises with speed.

Casiez, Roussel and Vogel, "1€ Filter: A Simple Speed-based Low-pass Filter for Noisy
Input in Interactive Systems", CHI 2012. Each sample x_t at time t_s (any spacing):

    dt       = t - t_prev
    alpha(f) = 1 / (1 + 1 / (2 pi f dt))                 (first-order low-pass, cut-off f Hz)
    dx       = low-pass((x - x_hat_prev) / dt, d_cutoff)   (smoothed speed, units/s)
    f_c      = min_cutoff + beta * |dx|                     (Hz)
    x_hat    = x_hat_prev + alpha(f_c) (x - x_hat_prev)

Still or slow points get the low `min_cutoff` (little jitter, some lag: a first-order
low-pass at f Hz delays slow motion by 1 / (2 pi f) seconds, 106 ms at 1.5 Hz); fast
ones get a higher cut-off (little lag when lag shows most). `beta` is in Hz per unit of
speed: with positions in metres, Hz per m/s. The trade-off of mocap's defaults is
measured in benchmarks/live_filter.py (docs/live.md).

Here the filter runs on N points of D coordinates at once, and |dx| is each point's
speed (the norm over its D coordinates), so a point's coordinates share one cut-off and
its direction of travel is not distorted. Points can be missing in a sample (`seen`
False): they keep their last estimate, and a point missing for longer than
`reset_after_s` starts afresh from its next sample instead of gliding from a stale value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroConfig:
    """Parameters in Hz and seconds (docs/live.md gives the measured trade-off)."""

    min_cutoff_hz: float = 1.5
    beta: float = 2.0  # Hz per unit/s of speed (metres: Hz per m/s)
    d_cutoff_hz: float = 1.0
    reset_after_s: float = 0.5

    def __post_init__(self) -> None:
        if not (self.min_cutoff_hz > 0 and self.d_cutoff_hz > 0 and self.beta >= 0 and self.reset_after_s > 0):
            raise ValueError(f"One Euro parameters must be positive (beta >= 0): {self}")


def smoothing_factor(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray:
    """alpha of a first-order low-pass at cutoff_hz for a step of dt_s seconds."""
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff_hz, dtype=float))
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """One Euro filter over N points of D coordinates; call it once per sample, in time order.

    `filter(time_s, x, seen)`: x (N, D) (NaN allowed where not seen); seen (N,) bool or
    None (= every finite row). Returns (N, D): the estimate, NaN for points never seen.
    """

    def __init__(self, cfg: OneEuroConfig = OneEuroConfig()) -> None:
        self.cfg = cfg
        self._x: np.ndarray | None = None  # (N, D) last estimate
        self._dx: np.ndarray | None = None  # (N, D) last smoothed derivative
        self._t: np.ndarray | None = None  # (N,) time of each point's last update
        self._last_time_s: float | None = None

    def reset(self) -> None:
        self._x = self._dx = self._t = None
        self._last_time_s = None

    def filter(self, time_s: float, x: np.ndarray, seen: np.ndarray | None = None) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            return self.filter(time_s, x[:, None], seen)[:, 0]
        finite = np.isfinite(x).all(axis=1)
        seen = finite if seen is None else (np.asarray(seen, dtype=bool) & finite)
        if self._last_time_s is not None and time_s <= self._last_time_s:
            raise ValueError(f"One Euro filter: time {time_s} s is not after the previous sample ({self._last_time_s} s)")
        self._last_time_s = float(time_s)
        if self._x is None:
            self._x = np.full_like(x, np.nan)
            self._dx = np.zeros_like(x)
            self._t = np.full(len(x), -np.inf)
        cfg = self.cfg
        fresh = seen & (~np.isfinite(self._x).all(axis=1) | (time_s - self._t > cfg.reset_after_s))
        update = seen & ~fresh
        if fresh.any():
            self._x[fresh] = x[fresh]
            self._dx[fresh] = 0.0
            self._t[fresh] = time_s
        if update.any():
            dt = time_s - self._t[update]  # per point: a point that missed samples spans the gap
            prev = self._x[update]
            a_d = smoothing_factor(cfg.d_cutoff_hz, dt)[:, None]
            dx = self._dx[update] + a_d * ((x[update] - prev) / dt[:, None] - self._dx[update])
            cutoff = cfg.min_cutoff_hz + cfg.beta * np.linalg.norm(dx, axis=1)
            a = smoothing_factor(cutoff, dt)[:, None]
            self._x[update] = prev + a * (x[update] - prev)
            self._dx[update] = dx
            self._t[update] = time_s
        return self._x.copy()


__all__ = ["OneEuroConfig", "OneEuroFilter", "smoothing_factor"]
