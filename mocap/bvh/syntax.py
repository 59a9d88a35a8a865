"""The BVH file-syntax model: text <-> BvhDocument, with no skeleton maths.

Kept apart from the skeleton model (mocap.bvh.convert), as bvhio does. A BvhDocument
is what the file says, in the file's own units and channel layout; parse errors raise
mocap.errors.FormatError naming the file and the 1-based line number.

Tolerated: tabs, CRLF or CR line ends, any whitespace, keywords in any case, `{` on the
keyword's line or the next, `End Site` / `End site` / `End` with anything after it,
any number of channels per joint (each axis at most once) in any order. A joint name
made of several words is joined with `_` (as Blender's importer does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from mocap.errors import FormatError

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
_CANONICAL = {name.lower(): name for name in POSITION_CHANNELS + ROTATION_CHANNELS}


@dataclass(frozen=True)
class BvhJoint:
    """One ROOT/JOINT block. `offset` (3,) and `end_site` (3,) are in file units.

    `channels` are canonical names ("Xposition", ..., "Zrotation") in file order;
    `parent` is the index of the parent joint in BvhDocument.joints (-1 for the root).
    """

    name: str
    parent: int
    offset: np.ndarray
    channels: tuple[str, ...]
    end_site: np.ndarray | None = None


@dataclass(frozen=True)
class BvhDocument:
    """A whole BVH file.

    joints are in file order (depth-first; parents before children, every subtree
    contiguous), which is also the order of their columns in `motion`: joint j's
    channels occupy columns channel_start(j) .. channel_start(j) + len(channels) - 1.
    motion is (T, C) float in file units (positions) and degrees (rotations).
    """

    joints: tuple[BvhJoint, ...]
    frame_time_s: float
    motion: np.ndarray
    source_name: str = "<bvh>"

    @property
    def frame_count(self) -> int:
        return int(self.motion.shape[0])

    @property
    def n_channels(self) -> int:
        return sum(len(j.channels) for j in self.joints)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    def channel_start(self, j: int) -> int:
        """Column of joint j's first channel in `motion`."""
        return sum(len(joint.channels) for joint in self.joints[:j])

    def joint_channels(self, j: int) -> np.ndarray:
        """(T, len(channels)) the motion columns of joint j."""
        start = self.channel_start(j)
        return self.motion[:, start : start + len(self.joints[j].channels)]


class _Tokens:
    """Whitespace/brace tokens of the HIERARCHY section, each with its line number."""

    def __init__(self, lines: list[str], source: str) -> None:
        self.source = source
        self.items: list[tuple[str, int]] = []
        self.motion_line: int | None = None  # 0-based index of the MOTION line
        for i, line in enumerate(lines):
            words = line.replace("{", " { ").replace("}", " } ").split()
            if words and words[0].upper() == "MOTION":
                self.motion_line = i
                break
            self.items.extend((w, i + 1) for w in words)
        self.pos = 0
        self.last_line = len(lines)

    def error(self, line: int, message: str) -> FormatError:
        return FormatError(f"{self.source}: line {line}: {message}")

    def peek(self) -> tuple[str, int] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def next(self, what: str) -> tuple[str, int]:
        item = self.peek()
        if item is None:
            where = self.last_line if self.motion_line is None else self.motion_line + 1
            raise self.error(where, f"hierarchy ends early, expected {what}")
        self.pos += 1
        return item

    def expect(self, word: str) -> int:
        tok, line = self.next(f"'{word}'")
        if tok.upper() != word.upper():
            raise self.error(line, f"expected '{word}', found '{tok}'")
        return line

    def number(self, what: str) -> float:
        tok, line = self.next(what)
        try:
            value = float(tok)
        except ValueError:
            raise self.error(line, f"'{tok}' is not a number ({what})") from None
        if not np.isfinite(value):
            raise self.error(line, f"'{tok}' is not a finite number ({what})")
        return value

    def words_until_brace(self, line: int) -> list[str]:
        """Words after a keyword on the same line, stopping at '{'."""
        words = []
        while (item := self.peek()) is not None and item[1] == line and item[0] != "{":
            words.append(item[0])
            self.pos += 1
        return words


# Limits that keep a hostile or broken file from exhausting the stack or the memory
# (tests/test_fuzz.py). A human rig is about 10 joints deep (15 with fingers); motion
# capture takes run to a few hundred thousand frames of ~70 channels.
MAX_DEPTH = 256
MAX_VALUES = 50_000_000  # frames x channels: 400 MB as float64


def parse_bvh(text: str, source_name: str = "<bvh>") -> BvhDocument:
    """Parse BVH text into a BvhDocument; raise FormatError (file + line) if malformed.

    A hierarchy deeper than MAX_DEPTH joints, or more than MAX_VALUES frame values
    (frames x channels), is refused with FormatError; memory is the text plus the (T, C)
    float64 frame matrix."""
    lines = text.splitlines()
    toks = _Tokens(lines, source_name)
    first = toks.peek()
    if first is None or first[0].upper() != "HIERARCHY":
        raise toks.error(first[1] if first else 1, "not a BVH file (expected 'HIERARCHY')")
    toks.pos += 1
    joints: list[dict] = []
    tok, line = toks.next("'ROOT'")
    if tok.upper() != "ROOT":
        raise toks.error(line, f"expected 'ROOT', found '{tok}'")
    _parse_joint(toks, joints, parent=-1, keyword_line=line)
    if (extra := toks.peek()) is not None:
        raise toks.error(extra[1], f"unexpected '{extra[0]}' after the hierarchy (only one ROOT is supported)")
    if toks.motion_line is None:
        raise toks.error(len(lines) + 1, "no MOTION section")
    n_channels = sum(len(j["channels"]) for j in joints)
    frame_count, frame_time_s, motion = _parse_motion(lines, toks.motion_line, n_channels, source_name)
    doc_joints = tuple(
        BvhJoint(j["name"], j["parent"], j["offset"], j["channels"], j["end_site"]) for j in joints
    )
    return BvhDocument(doc_joints, frame_time_s, motion, source_name)


def _parse_joint(toks: _Tokens, joints: list[dict], parent: int, keyword_line: int, depth: int = 1) -> None:
    if depth > MAX_DEPTH:
        raise toks.error(keyword_line, f"the hierarchy is more than {MAX_DEPTH} joints deep")
    words = toks.words_until_brace(keyword_line)
    if not words:
        raise toks.error(keyword_line, "joint has no name")
    index = len(joints)
    joint = {"name": "_".join(words), "parent": parent, "offset": None, "channels": (), "end_site": None}
    joints.append(joint)
    toks.expect("{")
    while True:
        tok, line = toks.next("'}'")
        key = tok.upper()
        if key == "}":
            break
        if key == "OFFSET":
            joint["offset"] = np.array([toks.number("OFFSET x"), toks.number("OFFSET y"), toks.number("OFFSET z")])
        elif key == "CHANNELS":
            joint["channels"] = _parse_channels(toks, line)
        elif key == "JOINT":
            _parse_joint(toks, joints, parent=index, keyword_line=line, depth=depth + 1)
        elif key == "END":
            toks.words_until_brace(line)  # "Site" and anything else on the line
            toks.expect("{")
            toks.expect("OFFSET")
            site = np.array([toks.number("End Site x"), toks.number("End Site y"), toks.number("End Site z")])
            toks.expect("}")
            joint["end_site"] = site
        else:
            raise toks.error(line, f"unexpected '{tok}' in joint '{joint['name']}'")
    if joint["offset"] is None:
        raise toks.error(keyword_line, f"joint '{joint['name']}' has no OFFSET")


def _parse_channels(toks: _Tokens, line: int) -> tuple[str, ...]:
    tok, count_line = toks.next("channel count")
    try:
        count = int(tok)
    except ValueError:
        raise toks.error(count_line, f"'{tok}' is not a channel count") from None
    if not 0 <= count <= 6:
        raise toks.error(count_line, f"{count} channels (a joint has 0 to 6)")
    names = []
    for _ in range(count):
        name, name_line = toks.next("channel name")
        canonical = _CANONICAL.get(name.lower())
        if canonical is None:
            raise toks.error(name_line, f"'{name}' is not a channel name (CHANNELS {count} on line {line})")
        if canonical in names:
            raise toks.error(name_line, f"channel '{canonical}' listed twice")
        names.append(canonical)
    return tuple(names)


_FRAMES = re.compile(r"^\s*frames\s*:\s*(\S+)\s*$", re.IGNORECASE)
_FRAME_TIME = re.compile(r"^\s*frame\s+time\s*:\s*(\S+)\s*$", re.IGNORECASE)


def _parse_motion(
    lines: list[str], motion_line: int, n_channels: int, source: str
) -> tuple[int, float, np.ndarray]:
    """Parse 'Frames:', 'Frame Time:' and the (T, C) frame matrix after MOTION."""

    def error(i: int, message: str) -> FormatError:
        return FormatError(f"{source}: line {i + 1}: {message}")

    rest = [i for i in range(motion_line + 1, len(lines)) if lines[i].strip()]
    if len(rest) < 2:
        raise error(len(lines), "MOTION section ends before 'Frames:' and 'Frame Time:'")
    i_frames, i_time = rest[0], rest[1]
    match = _FRAMES.match(lines[i_frames])
    if match is None:
        raise error(i_frames, f"expected 'Frames: <count>', found '{lines[i_frames].strip()}'")
    try:
        frame_count = int(match.group(1))
    except ValueError:
        raise error(i_frames, f"'{match.group(1)}' is not a frame count") from None
    if frame_count < 0:
        raise error(i_frames, "negative frame count")
    match = _FRAME_TIME.match(lines[i_time])
    if match is None:
        raise error(i_time, f"expected 'Frame Time: <seconds>', found '{lines[i_time].strip()}'")
    try:
        frame_time_s = float(match.group(1))
    except ValueError:
        raise error(i_time, f"'{match.group(1)}' is not a frame time") from None
    if not (np.isfinite(frame_time_s) and frame_time_s > 0):
        raise error(i_time, f"frame time must be positive, found '{match.group(1)}'")

    if frame_count * n_channels > MAX_VALUES:
        raise error(i_frames, f"{frame_count} frames of {n_channels} channels: more than the "
                              f"{MAX_VALUES} values mocap reads; split the take")
    data = rest[2:]
    if len(data) < frame_count:
        raise error(len(lines), f"file ends after {len(data)} of {frame_count} frames (truncated?)")
    if len(data) > frame_count:
        raise error(data[frame_count], f"more frame lines than 'Frames: {frame_count}' says")
    motion = np.empty((frame_count, n_channels))
    for k, i in enumerate(data):  # row by row: memory is the matrix, not a list of strings
        w = lines[i].split()
        if len(w) != n_channels:
            raise error(i, f"frame {k} has {len(w)} values, the hierarchy has {n_channels} channels")
        try:
            motion[k] = w
        except ValueError:
            motion[k] = np.nan  # named below
        if not np.all(np.isfinite(motion[k])):
            for v in w:
                try:
                    ok = np.isfinite(float(v))
                except ValueError:
                    ok = False
                if not ok:
                    raise error(i, f"'{v}' is not a finite number")
    return frame_count, frame_time_s, motion


def format_bvh(doc: BvhDocument, position_decimals: int = 6, angle_decimals: int = 6) -> str:
    """BVH text for `doc`; numbers in fixed point with trailing zeros trimmed.

    position_decimals applies to OFFSETs, End Sites and position channels (file units),
    angle_decimals to rotation channels (degrees). Frame Time is written with 12
    significant digits, so 1/fps survives for any frame rate (e.g. 24000/1001).
    """
    _check_depth_first(doc)
    pos_fmt = f"%.{position_decimals}f"
    out = ["HIERARCHY"]
    children: list[list[int]] = [[] for _ in doc.joints]
    for j, joint in enumerate(doc.joints):
        if joint.parent >= 0:
            children[joint.parent].append(j)

    def vec(v: np.ndarray) -> str:
        return _trim(" ".join(pos_fmt % x for x in v))

    def write(j: int, depth: int) -> None:
        joint = doc.joints[j]
        pad = "\t" * depth
        out.append(f"{pad}{'ROOT' if joint.parent < 0 else 'JOINT'} {joint.name}")
        out.append(pad + "{")
        out.append(f"{pad}\tOFFSET {vec(joint.offset)}")
        out.append(f"{pad}\tCHANNELS {len(joint.channels)}" + "".join(" " + c for c in joint.channels))
        for c in children[j]:
            write(c, depth + 1)
        if joint.end_site is not None:
            out.extend([f"{pad}\tEnd Site", pad + "\t{", f"{pad}\t\tOFFSET {vec(joint.end_site)}", pad + "\t}"])
        out.append(pad + "}")

    write(0, 0)
    out += ["MOTION", f"Frames: {doc.frame_count}", f"Frame Time: {doc.frame_time_s:.12g}"]
    formats = [pos_fmt if c.endswith("position") else f"%.{angle_decimals}f" for j in doc.joints for c in j.channels]
    row_fmt = " ".join(formats)
    body = "\n".join(row_fmt % tuple(row) for row in doc.motion)
    if body:
        out.append(_trim(body))
    return "\n".join(out) + "\n"


def _trim(numbers: str) -> str:
    """Drop trailing zeros after a decimal point, a bare '.', and the sign of '-0'."""
    numbers = re.sub(r"(\.\d*?)0+(?=\s|$)", r"\1", numbers)
    numbers = re.sub(r"\.(?=\s|$)", "", numbers)
    return re.sub(r"(?<!\S)-0(?=\s|$)", "0", numbers)


def _check_depth_first(doc: BvhDocument) -> None:
    """Raise ValueError unless joints are in depth-first file order with one root."""
    if not doc.joints or doc.joints[0].parent != -1:
        raise ValueError("the first joint must be the root (parent -1)")
    stack = [0]
    for j, joint in enumerate(doc.joints[1:], start=1):
        while stack and stack[-1] != joint.parent:
            stack.pop()
        if not stack:
            raise ValueError(f"joint {joint.name!r} is not in depth-first order after its parent")
        stack.append(j)
    if doc.motion.shape != (doc.frame_count, doc.n_channels):
        raise ValueError(f"motion is {doc.motion.shape}, expected (T, {doc.n_channels})")
