"""Time-series numerics shared by the stages: the Whittaker smoother and runs of flags.

Pure numpy/scipy, no data types: arrays in, arrays out, time along axis 0.

Whittaker-Henderson smoothing (the discrete smoothing spline; Whittaker 1923, Eilers 2003)
solves, for all columns of a (T, D) series at once,

    (W + lam * D'D) z = W y          W = diag(weights), D = second differences,

a banded system (scipy.linalg.solveh_banded), so a clip of any length costs one pass. Its
frequency response is H(f) = 1 / (1 + lam * (2 - 2 cos(2 pi f / fps))^2); `whittaker_lambda`
picks lam so that H(cutoff_hz) = 1/2 at the data's own fps, so a cut-off means the same at
24, 30 or 60 fps. Samples of weight 0 are filled smoothly.

Users: mocap.smooth (landmarks), mocap.solve.root (the camera path), .refine (bone depth),
.contacts (foot speeds), .anchor (the floor correction and the anchored path, which builds
on `second_difference_gram`), .footlock (the hip drop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solveh_banded


@dataclass(frozen=True)
class Run:
    """An inclusive range of frames [first, last]."""

    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1


def runs(flags: np.ndarray) -> list[Run]:
    """Runs of True in a (T,) bool array, as inclusive frame ranges, in order.

    Runs of False (gaps: frames where something was unseen) are `runs(~seen)`.
    """
    flags = np.asarray(flags, bool)
    out: list[Run] = []
    t = 0
    n = len(flags)
    while t < n:
        if flags[t]:
            start = t
            while t < n and flags[t]:
                t += 1
            out.append(Run(start, t - 1))
        else:
            t += 1
    return out


def run_ranges(flags: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (first, last) frame ranges where a (T,) bool array is True."""
    return [(r.first, r.last) for r in runs(flags)]


def whittaker_lambda(cutoff_hz: float, fps: float) -> float:
    """Penalty giving a half-power point at cutoff_hz for samples at fps."""
    omega = 2.0 * np.pi * min(cutoff_hz / fps, 0.499)
    return 1.0 / (2.0 - 2.0 * np.cos(omega)) ** 2


def whittaker_smooth(values: np.ndarray, weights: np.ndarray, lam: float) -> np.ndarray:
    """Weighted second-order Whittaker smoothing along axis 0.

    values: (T, D) (NaN allowed where weight is 0); weights: (T,) >= 0, at least two > 0.
    Returns (T, D) smoothed and filled.
    """
    n = len(weights)
    y = np.where(weights[:, None] > 0, np.nan_to_num(values), 0.0)
    if n < 3:
        return np.repeat(np.average(y, axis=0, weights=weights)[None], n, axis=0)
    ab = lam * second_difference_gram(n)
    ab[2] += weights
    return solveh_banded(ab, weights[:, None] * y, check_finite=False)


def second_difference_gram(n: int) -> np.ndarray:
    """D'D for the (n-2, n) second-difference operator D, as scipy.linalg.solveh_banded's
    upper form (3, n): row 2 the diagonal, row 1 the first superdiagonal, row 0 the second.
    Rows of D'D are (1, -4, 6, -4, 1), trimmed at the ends. n >= 3."""
    ab = np.zeros((3, n))
    ab[2] = 6.0
    ab[2, [0, -1]] = 1.0
    ab[2, [1, -2]] = 5.0
    ab[1, 1:] = -4.0
    ab[1, [1, -1]] = -2.0
    ab[0, 2:] = 1.0
    return ab


__all__ = ["Run", "runs", "run_ranges", "whittaker_lambda", "whittaker_smooth", "second_difference_gram"]
