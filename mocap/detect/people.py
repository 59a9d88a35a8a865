"""Several people in view: whom to follow, and checks that the followed person stays one person.

Pure numpy (no mediapipe): boxes, the `--person` rule, painting out and the identity guard used by
mocap.detect.mediapipe_pose. Boxes are (x0, y0, x1, y1) in pixels of the displayed frame.

BlazePose follows one person: in video mode it looks for the next pose where the last one
was, so when two people cross or touch, its region of interest can slide from one to the
other, or take limbs from both. mocap therefore
1. counts the people in view a few times per second (`census`): BlazePose's own detector on
   the frame, the found person painted out (their box grown by CENSUS_PAD, so no head top or
   hand is left to be found again), again, up to MAX_PEOPLE; boxes much smaller than the
   tallest (MIN_HEIGHT_RATIO) are not counted (on the squats sample, a leftover strip of hair
   was "found" as a 63x31 px person before the padding);
2. when there are several (or `--person` is given), picks one by a rule and follows that
   person: every frame goes to the same BlazePose tracker with the other people of the last
   census painted out (all but the followed person's own census box), so the tracker can
   neither slide onto another person nor borrow their limbs where they stand apart; with
   several people the census runs every CENSUS_INTERVAL_CROWD_S. (Cropping around the
   person instead was tried: a fresh detector in the crop of two people hugging on the
   street clip picked a passer-by in the background.);
3. rejects a frame whose pose is not the same person as the frame before (`same_person`):
   its torso jumps by more than MAX_TORSO_JUMP torso lengths, or its torso length changes by
   more than a factor MAX_TORSO_SCALE, within one frame at 30 fps. Such frames are left
   undetected (filled and reported as gaps, never a pose made of two people), and the
   tracker starts afresh inside the followed person's box;
4. while following, also rejects a pose whose torso is not dressed like the followed person
   (`torso_colour`, `same_clothes`): two people hugging are one census box, so when the
   tracker restarts, its detector may land on the other, close enough in place and size to
   pass (3). The chromaticity of the torso's median colour (brightness left out, so shadow
   does not count) is compared with a slow running mean of the accepted frames'. On the
   street clip the two embracing women differ by 0.19 (denim vs teal), one woman over 2 s
   by < 0.03. A first pose after a restart or gap is rejected at once; a tracked pose only
   when COLOUR_FRAMES in a row are off (a white bag passing in front of a torso for a frame
   is not another person), and then those frames are all rejected. The colour is watched
   only for COLOUR_WATCH_S after the tracker lost its person or a pose was rejected: that
   is when it comes back on someone else (on the street clip the new pose slid from one
   woman to the other within 0.1 s), while a bag held in front of a torso for longer
   is no reason to let go of a person tracked all along.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

MAX_PEOPLE = 4  # people counted per census
CENSUS_INTERVAL_S = 0.5  # how often the people in view are counted
CENSUS_INTERVAL_CROWD_S = 0.2  # ... while several are: the others' boxes must stay current
MIN_VISIBILITY = 0.5  # landmarks that make a person's box
MAX_TORSO_JUMP = 0.5  # torso lengths per frame at 30 fps (a person's torso moves < 0.1)
MAX_TORSO_SCALE = 1.5  # torso length ratio between consecutive frames
CENSUS_PAD = 0.1  # a found person is painted out over their box grown by this share per side
MIN_PERSON_PX = 24  # census boxes shorter than this are not counted as people
MIN_HEIGHT_RATIO = 0.2  # ... nor those shorter than this share of the tallest person found
MAX_COLOUR_CHANGE = 0.05  # torso chromaticity distance beyond which it is another person's clothing
COLOUR_MEAN_RATE = 0.1  # weight of each accepted frame in the running torso colour
COLOUR_WATCH_S = 0.3  # the colour is checked this long after the tracker lost its person
COLOUR_FRAMES = 3  # a tracked pose dressed otherwise this many frames running is another person
RULES = ("largest", "centre", "left", "right")
_TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")


@dataclass(frozen=True)
class PersonChoice:
    """Whom to follow: a rule (largest, centre, left, right) or the person at a point (px)
    of the first frame counted."""

    rule: str = "largest"
    point_px: tuple[float, float] | None = None

    def describe(self) -> str:
        if self.point_px is not None:
            return f"the person at ({self.point_px[0]:.0f}, {self.point_px[1]:.0f}) px"
        return {"largest": "the largest person", "centre": "the person nearest the centre",
                "left": "the leftmost person", "right": "the rightmost person"}[self.rule]

    def key(self) -> str:
        """A stable text for cache keys."""
        return self.rule if self.point_px is None else f"{self.point_px[0]:g},{self.point_px[1]:g}"


def parse_person(text: str) -> PersonChoice:
    """'largest' | 'centre' (or 'center') | 'left' | 'right' | 'X,Y' (pixels). ValueError otherwise."""
    key = text.strip().lower()
    if key == "center":
        key = "centre"
    if key in RULES:
        return PersonChoice(rule=key)
    match = re.fullmatch(r"\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*", key)
    if match:
        return PersonChoice(rule="point", point_px=(float(match[1]), float(match[2])))
    raise ValueError(f"{text!r}: use largest, centre, left, right or a point X,Y in pixels")


def box_from_landmarks(xy_px: np.ndarray, visibility: np.ndarray, size_px: tuple[int, int]) -> np.ndarray | None:
    """(4,) box around the visible landmarks (L, 2) of one pose, clipped to the image (W, H);
    all landmarks when fewer than 4 are visible; None when the box is empty."""
    seen = visibility >= MIN_VISIBILITY
    pts = xy_px[seen] if seen.sum() >= 4 else xy_px
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) == 0:
        return None
    w, h = size_px
    box = np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()])
    box = np.clip(box, [0, 0, 0, 0], [w - 1, h - 1, w - 1, h - 1])
    return box if box[2] > box[0] and box[3] > box[1] else None


def padded(box: np.ndarray, size_px: tuple[int, int], pad: float = CENSUS_PAD) -> np.ndarray:
    """The box grown by `pad` of its height/width on every side, clipped to the image: a
    landmark box stops at the landmarks, short of the top of the head and the finger tips."""
    w, h = size_px
    dx, dy = pad * (box[2] - box[0]), pad * (box[3] - box[1])
    return np.clip(box + [-dx, -dy, dx, dy], [0, 0, 0, 0], [w - 1, h - 1, w - 1, h - 1])


def plausible_people(boxes: list[np.ndarray]) -> list[np.ndarray]:
    """The census boxes that can be people beside the first (largest-ever) one: at least
    MIN_PERSON_PX tall and MIN_HEIGHT_RATIO of the tallest box found."""
    if not boxes:
        return boxes
    tallest = max(b[3] - b[1] for b in boxes)
    return [b for b in boxes if (b[3] - b[1]) >= max(MIN_PERSON_PX, MIN_HEIGHT_RATIO * tallest)]


def area(box: np.ndarray) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.array([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])])
    i = area(inter)
    union = area(a) + area(b) - i
    return i / union if union > 0 else 0.0


def choose(boxes: list[np.ndarray], choice: PersonChoice, size_px: tuple[int, int]) -> int:
    """Index of the box the rule picks (boxes non-empty)."""
    centres = np.array([[(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] for b in boxes])
    if choice.point_px is not None:
        p = np.asarray(choice.point_px)
        inside = [i for i, b in enumerate(boxes) if b[0] <= p[0] <= b[2] and b[1] <= p[1] <= b[3]]
        if inside:
            return min(inside, key=lambda i: area(boxes[i]))
        return int(np.argmin(np.linalg.norm(centres - p, axis=1)))
    if choice.rule == "centre":
        return int(np.argmin(np.linalg.norm(centres - np.asarray(size_px) / 2, axis=1)))
    if choice.rule == "left":
        return int(np.argmin(centres[:, 0]))
    if choice.rule == "right":
        return int(np.argmax(centres[:, 0]))
    return int(np.argmax([area(b) for b in boxes]))


def torso(xy_px: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, float]:
    """Centre (2,) of shoulders and hips, and torso length (shoulder centre to hip centre), px."""
    ls, rs, lh, rh = (xy_px[names.index(n)] for n in _TORSO)
    shoulders, hips = (ls + rs) / 2, (lh + rh) / 2
    return (shoulders + hips) / 2, float(np.linalg.norm(shoulders - hips))


def same_person(prev_xy: np.ndarray, new_xy: np.ndarray, names: tuple[str, ...], dt_s: float) -> bool:
    """Whether two consecutive poses (L, 2) can be one person: the torso moves less than
    MAX_TORSO_JUMP torso lengths per 1/30 s and keeps its length within MAX_TORSO_SCALE."""
    c0, l0 = torso(prev_xy, names)
    c1, l1 = torso(new_xy, names)
    if not (l0 > 0 and l1 > 0 and np.isfinite(c0).all() and np.isfinite(c1).all()):
        return True
    steps = max(dt_s * 30.0, 1.0)
    jump = float(np.linalg.norm(c1 - c0)) / max(l0, l1)
    return jump <= MAX_TORSO_JUMP * steps and max(l0, l1) / min(l0, l1) <= MAX_TORSO_SCALE ** steps


def torso_colour(rgb: np.ndarray, xy_px: np.ndarray, names: tuple[str, ...]) -> np.ndarray | None:
    """Chromaticity (2,) = (r, g) / (r + g + b) of the median colour of the inner torso of
    one pose (L, 2) px on the frame `rgb` (H, W, 3) uint8: 5x5 points spread over the middle
    half of the shoulder-hip quadrilateral. None when a torso landmark is not finite."""
    ls, rs, lh, rh = (xy_px[names.index(n)] for n in _TORSO)
    if not np.isfinite(np.stack([ls, rs, lh, rh])).all():
        return None
    u = np.linspace(0.25, 0.75, 5)[:, None]
    top, bottom = ls + u * (rs - ls), lh + u * (rh - lh)  # (5, 2) across shoulders, hips
    pts = (top[:, None, :] + u[None, :, :] * (bottom - top)[:, None, :]).reshape(-1, 2)
    h, w = rgb.shape[:2]
    cols = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
    rows = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
    median = np.median(rgb[rows, cols].astype(np.float64), axis=0) + 10.0  # + 10: dark noise
    return median[:2] / median.sum()


def same_clothes(reference: np.ndarray | None, colour: np.ndarray | None) -> bool:
    """Whether a torso colour (torso_colour) can be the followed person's running mean one:
    within MAX_COLOUR_CHANGE; True when either is unknown."""
    if reference is None or colour is None:
        return True
    return float(np.linalg.norm(colour - reference)) <= MAX_COLOUR_CHANGE


def paint_out(rgb: np.ndarray, boxes: list[np.ndarray], keep: np.ndarray | None = None) -> np.ndarray:
    """A copy of `rgb` with each box filled with mid grey, except the `keep` box's pixels."""
    out = rgb.copy()
    for b in boxes:
        x0, y0, x1, y1 = (int(v) for v in (np.floor(b[0]), np.floor(b[1]), np.ceil(b[2]) + 1, np.ceil(b[3]) + 1))
        out[max(0, y0):y1, max(0, x0):x1] = 127
    if keep is not None:
        x0, y0, x1, y1 = (int(v) for v in (np.floor(keep[0]), np.floor(keep[1]), np.ceil(keep[2]) + 1, np.ceil(keep[3]) + 1))
        out[max(0, y0):y1, max(0, x0):x1] = rgb[max(0, y0):y1, max(0, x0):x1]
    return out
