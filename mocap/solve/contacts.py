"""Foot contacts: when each heel and each toe rests on the floor.

Input is the solved motion's foot points in the levelled world (floor at height 0): the
heel marker of each foot and its toe joint (the ball/tip of the foot). A point is in
contact when it is low *and* still:

    height above its own resting level < height_m    (resting level: 5th percentile of its height)
    horizontal speed                   < speed_m_s

with hysteresis (a contact starts under the `_on` thresholds and lasts while the point
stays under the `_off` ones, back in time as well as forward: the clip is offline, and a
one-sided rule starts every contact late), gaps shorter than `max_gap_s` closed and
contacts shorter than `min_duration_s` dropped. Heights are measured from each point's
own resting level, not from 0, so a heel marker that sits 3 cm above the sole, or a floor
estimate that is off by a few centimetres, does not decide the outcome. Speeds come from
central differences of the path after a light (6 Hz) Whittaker smoothing, so landmark
jitter does not break up a planted foot. The threshold values and the measurements behind
them are in docs/motion-quality.md. seen_contacts clears the frames where a contact point's
landmark was unseen for 0.5 s or more: where such a foot stands is not known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocap.data import FootContacts
from mocap.timeseries import runs, whittaker_lambda, whittaker_smooth

@dataclass(frozen=True)
class ContactConfig:
    height_on_m: float = 0.05
    height_off_m: float = 0.08
    speed_on_m_s: float = 0.30
    speed_off_m_s: float = 0.50
    min_duration_s: float = 0.10
    max_gap_s: float = 0.07
    rest_percentile: float = 5.0
    speed_cutoff_hz: float = 6.0
    height_only_on_m: float = 0.03  # stricter heights for the speed-blind first pass
    height_only_off_m: float = 0.05
    two_sided: bool = True  # hysteresis reaches back in time too (see hysteresis)
    unseen_min_s: float = 0.5  # a foot point unseen this long is never planted (seen_contacts)

    def height_only(self) -> "ContactConfig":
        """A config that ignores speed (for when the root's travel is not yet trusted).
        Its hysteresis stays one-sided: with no speed test, reaching back would take in the
        frames where the foot comes down while still moving."""
        from dataclasses import replace

        return replace(self, height_on_m=self.height_only_on_m, height_off_m=self.height_only_off_m,
                       speed_on_m_s=np.inf, speed_off_m_s=np.inf, two_sided=False)


def point_height_speed(path_m: np.ndarray, fps: float, cfg: ContactConfig = ContactConfig()) -> tuple[np.ndarray, np.ndarray]:
    """(T,) height above the point's resting level (m) and (T,) horizontal speed (m/s)
    of a (T, 3) levelled path (Y up)."""
    seen = np.isfinite(path_m).all(axis=1)
    if seen.sum() < 3:
        return np.full(len(path_m), np.inf), np.full(len(path_m), np.inf)
    smooth = whittaker_smooth(path_m, seen.astype(float), whittaker_lambda(cfg.speed_cutoff_hz, fps))
    height = smooth[:, 1] - np.percentile(smooth[seen, 1], cfg.rest_percentile)
    vel = np.gradient(smooth[:, [0, 2]], axis=0) * fps
    return height, np.linalg.norm(vel, axis=1)


def hysteresis(on: np.ndarray, stay: np.ndarray, two_sided: bool = False) -> np.ndarray:
    """(T,) bool: True from a frame where `on` holds for as long as `stay` holds; with
    two_sided, also back in time from it for as long as `stay` holds.

    One-sided, a landing foot's contact starts only once it passes the strict `on` test,
    2 frames after the ground truth's contact on the median (13 rendered clips); two-sided,
    0 frames."""
    out = np.zeros(len(on), bool)
    active = False
    for t in range(len(on)):
        active = bool(on[t]) or (active and bool(stay[t]))
        out[t] = active
    if two_sided:
        out |= hysteresis(on[::-1], stay[::-1])[::-1]
    return out


def clean_runs(flags: np.ndarray, min_len: int, max_gap: int) -> np.ndarray:
    """Close False runs of at most max_gap frames between True runs, then drop True runs
    shorter than min_len frames."""
    out = flags.copy()
    n = len(out)
    for gap in runs(~out):
        if gap.first > 0 and gap.last < n - 1 and gap.length <= max_gap:
            out[gap.first : gap.last + 1] = True
    for run in runs(out):
        if run.length < min_len:
            out[run.first : run.last + 1] = False
    return out


def detect_contacts(paths_m: dict[str, np.ndarray], fps: float, cfg: ContactConfig = ContactConfig()) -> FootContacts:
    """Contact flags for each named (T, 3) levelled path (e.g. BodyPose.contact_paths_m
    plus the root), at `fps`: a FootContacts carrying that fps."""
    names = tuple(paths_m)
    n_frames = len(next(iter(paths_m.values()))) if paths_m else 0
    min_len = max(1, int(round(cfg.min_duration_s * fps)))
    max_gap = max(0, int(round(cfg.max_gap_s * fps)))
    flags = np.zeros((n_frames, len(names)), bool)
    for c, name in enumerate(names):
        height, speed = point_height_speed(paths_m[name], fps, cfg)
        on = (height < cfg.height_on_m) & (speed < cfg.speed_on_m_s)
        stay = (height < cfg.height_off_m) & (speed < cfg.speed_off_m_s)
        flags[:, c] = clean_runs(hysteresis(on, stay, cfg.two_sided), min_len, max_gap)
    return FootContacts(names, flags, float(fps))


def seen_contacts(contacts: FootContacts, unseen: dict[str, np.ndarray], cfg: ContactConfig = ContactConfig()) -> FootContacts:
    """`contacts` without the frames where a contact point's landmark was unseen in a run of
    at least cfg.unseen_min_s. unseen: contact point name -> (T,) bool (visibility 0 after
    smoothing). Such a foot is not in the picture (legs below a waist-up frame) or hidden for
    longer than the smoother interpolates (mocap.smooth holds it): its place on the floor is
    not known, so it neither steers the hips (anchor) nor is held by the foot lock, which
    bent standing legs that were never seen and lowered the hips over them."""
    flags = contacts.in_contact.copy()
    min_len = max(1, int(round(cfg.unseen_min_s * contacts.fps)))
    for c, name in enumerate(contacts.names):
        if name not in unseen:
            continue
        for run in runs(np.asarray(unseen[name], bool)):
            if run.length >= min_len:
                flags[run.first : run.last + 1, c] = False
    return FootContacts(contacts.names, flags, contacts.fps)


__all__ = ["ContactConfig", "detect_contacts", "point_height_speed", "seen_contacts"]
