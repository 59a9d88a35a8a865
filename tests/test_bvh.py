"""BVH syntax, forward kinematics, Motion round trips and the atomic writer."""

from __future__ import annotations

import pathlib
import re
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mocap.bvh import (
    BvhDocument,
    BvhJoint,
    bvh_forward_kinematics,
    bvh_from_motion,
    format_bvh,
    motion_from_bvh,
    parse_bvh,
    read_bvh,
)
from mocap.bvh.convert import ROTATION_ORDERS, end_site_positions
from mocap.data import Motion, Skeleton
from mocap.errors import ExportError, FormatError
from mocap.export.bvh import write_bvh
from mocap.kinematics import global_transforms, quat_angle_deg

SHARED_BVH = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "bvh"
ALL_BVH = sorted(SHARED_BVH.glob("*/*.bvh"))
needs_shared = pytest.mark.skipif(not ALL_BVH, reason=f"shared test data not found at {SHARED_BVH}")


# --- helpers ---------------------------------------------------------------------------


def random_motion(seed: int, n_frames: int = 40, fps: float = 30.0) -> Motion:
    """A 9-joint skeleton that is parents-first but NOT depth-first, with random motion."""
    rng = np.random.default_rng(seed)
    names = ("Hips", "Spine", "LeftUpLeg", "RightUpLeg", "Head", "LeftLeg", "LeftArm", "RightLeg", "LeftFoot")
    parents = (-1, 0, 0, 0, 1, 2, 1, 3, 5)
    offsets = rng.uniform(-0.4, 0.4, size=(len(names), 3))
    offsets[0] = (0.0, 0.95, 0.0)
    skeleton = Skeleton(names, parents, offsets, end_sites_m={"Head": np.array([0.0, 0.18, 0.02])})
    rotations = Rotation.random(n_frames * len(names), random_state=seed).as_quat().reshape(n_frames, len(names), 4)
    root = np.cumsum(rng.normal(0, 0.02, size=(n_frames, 3)), axis=0) + (0.3, 0.9, -1.2)
    return Motion(skeleton, fps, root, rotations, name=f"random{seed}")


def by_name(motion: Motion) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """World positions (T, 3) and local rotations (T, 4) of every joint, keyed by name."""
    pos = global_transforms(motion.skeleton, motion.root_position_m, motion.rotations_xyzw)[0]
    names = motion.skeleton.names
    return (
        {n: pos[:, j] for j, n in enumerate(names)},
        {n: motion.rotations_xyzw[:, j] for j, n in enumerate(names)},
    )


def assert_same_motion(a: Motion, b: Motion, pos_tol_m: float = 1e-6, rot_tol_deg: float = 1e-4) -> None:
    assert set(a.skeleton.names) == set(b.skeleton.names)
    assert a.n_frames == b.n_frames
    pa, ra = by_name(a)
    pb, rb = by_name(b)
    for name in a.skeleton.names:
        assert np.abs(pa[name] - pb[name]).max() < pos_tol_m, name
        assert quat_angle_deg(ra[name], rb[name]).max() < rot_tol_deg, name


def format_error(text: str, source: str = "bad.bvh") -> str:
    with pytest.raises(FormatError) as info:
        parse_bvh(text, source)
    return str(info.value)


# --- shared files ----------------------------------------------------------------------


@needs_shared
@pytest.mark.parametrize("path", ALL_BVH, ids=lambda p: p.name)
def test_every_shared_bvh_parses_and_converts(path: pathlib.Path) -> None:
    text = path.read_text()
    doc = parse_bvh(text, str(path))
    declared = int(re.search(r"Frames:\s*(\d+)", text).group(1))
    assert doc.frame_count == declared > 0
    assert doc.motion.shape == (declared, doc.n_channels)
    names, pos, rot = bvh_forward_kinematics(doc)
    assert pos.shape == (declared, len(names), 3) and np.isfinite(pos).all()
    assert np.allclose(np.linalg.norm(rot, axis=-1), 1.0)
    # Motion reproduces the file's own FK for every joint it keeps.
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no shared file has moving non-root offsets
        motion = motion_from_bvh(doc, units="cm")
    mpos, mrot = global_transforms(motion.skeleton, motion.root_position_m, motion.rotations_xyzw)
    idx = [names.index(n) for n in motion.skeleton.names]
    assert np.abs(mpos - pos[:, idx] * 0.01).max() < 1e-9
    assert quat_angle_deg(mrot, rot[:, idx]).max() < 1e-4
    assert motion.fps in (30.0, 120.0)


@needs_shared
def test_shared_edge_cases_are_what_the_readme_says() -> None:
    misc = {p.name: parse_bvh(p.read_text(), p.name) for p in (SHARED_BVH / "misc").glob("*.bvh")}
    mixamo = misc["test_freebvh_20tab.bvh"]
    assert len(mixamo.joints) == 55 and mixamo.joints[0].name == "mixamorig:Hips"
    assert len(misc["test_mocapbank_20tab.bvh"].joints) == 19
    assert motion_from_bvh(misc["AV_8Walk_Meredith_HVHA_Rep1_pymo.bvh"]).fps == 120.0
    bandai = parse_bvh((SHARED_BVH / "bandai_namco" / "dataset-1_walk_normal_001.bvh").read_text())
    assert all(len(j.channels) == 6 for j in bandai.joints)
    motion = motion_from_bvh(bandai)
    # the static joint_Root is folded into Hips, which carries the walk's translation
    assert motion.skeleton.names[0] == "Hips" and "joint_Root" not in motion.skeleton.names
    assert np.ptp(motion.root_position_m[:, 2]) > 1.0  # walks more than a metre


@needs_shared
def test_format_then_parse_reproduces_a_shared_file() -> None:
    path = SHARED_BVH / "misc" / "test_mocapbank_20tab.bvh"
    doc = parse_bvh(path.read_text(), path.name)
    again = parse_bvh(format_bvh(doc), "again")
    assert again.names == doc.names
    assert [j.channels for j in again.joints] == [j.channels for j in doc.joints]
    assert np.abs(again.motion - doc.motion).max() < 1e-6
    assert again.frame_time_s == doc.frame_time_s


# --- syntax tolerance and FK semantics -------------------------------------------------

TINY = """HIERARCHY
ROOT Hips {
  OFFSET 5 5 5
  CHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
  JOINT Left Leg
  {
    OFFSET 10 0 0
    CHANNELS 6 Zrotation Xposition Yposition Zposition Xrotation Yrotation
    End site
    {
      OFFSET 0 -4 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
1 2 3 90 0 0   0 10 0 0 0 0
1 2 3 0 0 0    90 10 0 0 0 0
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_tolerant_syntax_and_exact_fk(newline: str) -> None:
    text = TINY.replace("  ", "\t").replace("\n", newline).replace("MOTION", "motion")
    doc = parse_bvh(text, "tiny.bvh")
    assert doc.names == ("Hips", "Left_Leg")
    assert doc.joints[1].channels == ("Zrotation", "Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation")
    names, pos, rot = bvh_forward_kinematics(doc)
    # frame 0: root at its position channels (OFFSET ignored), turned 90 deg about +Y: +X -> -Z
    assert np.allclose(pos[0, 0], (1, 2, 3)) and np.allclose(pos[0, 1], (1, 2, -7))
    # frame 1: no root turn; the child turns 90 deg about +Z, so its end site (0,-4,0) -> (4,0,0)
    assert np.allclose(pos[1, 1], (11, 2, 3))
    ends = end_site_positions(doc, pos, rot)
    assert np.allclose(ends["Left_Leg"][1], (15, 2, 3))
    assert doc.frame_time_s == 0.04


def test_intrinsic_rotation_order_matches_scipy() -> None:
    text = TINY.replace("Yrotation Xrotation Zrotation", "Zrotation Xrotation Yrotation")
    text = text.replace("1 2 3 90 0 0", "1 2 3 30 40 50")
    doc = parse_bvh(text, "tiny.bvh")
    _, _, rot = bvh_forward_kinematics(doc)
    expected = Rotation.from_euler("ZXY", [30, 40, 50], degrees=True)  # Rz * Rx * Ry
    assert quat_angle_deg(rot[0, 0], expected.as_quat()) < 1e-9
    manual = Rotation.from_euler("z", 30, degrees=True) * Rotation.from_euler("x", 40, degrees=True)
    manual = manual * Rotation.from_euler("y", 50, degrees=True)
    assert quat_angle_deg(rot[0, 0], manual.as_quat()) < 1e-9


def test_moving_non_root_offsets_fold_or_warn() -> None:
    # A lone moving child absorbs the root (as Bandai's joint_Root -> Hips) ...
    text = TINY.replace("90 10 0 0 0 0", "90 12 0 0 0 0")
    folded = motion_from_bvh(parse_bvh(text, "tiny.bvh"), units="m")
    assert folded.skeleton.names == ("Left_Leg",)
    assert np.allclose(folded.root_position_m, bvh_forward_kinematics(parse_bvh(text))[1][:, 1])
    # ... but a moving child beside a sibling cannot: it keeps its mean offset, with a warning.
    doc = parse_bvh(text, "tiny.bvh")
    sibling = BvhJoint("Right", 0, np.array([0.0, 1.0, 0.0]), ("Xrotation",))
    doc = BvhDocument(doc.joints + (sibling,), doc.frame_time_s, np.hstack([doc.motion, np.zeros((2, 1))]), "tiny.bvh")
    with pytest.warns(RuntimeWarning, match="Left_Leg"):
        motion = motion_from_bvh(doc, units="m")
    assert motion.skeleton.names == ("Hips", "Left_Leg", "Right")
    assert np.allclose(motion.skeleton.offsets_m[1], (11, 0, 0))  # the mean


# --- malformed files -------------------------------------------------------------------


def test_truncated_motion_names_file_and_line() -> None:
    lines = TINY.splitlines()[:-1]  # drop the last frame
    message = format_error("\n".join(lines) + "\n")
    assert "bad.bvh" in message and f"line {len(lines) + 1}" in message and "1 of 2 frames" in message


def test_truncated_hierarchy() -> None:
    message = format_error("\n".join(TINY.splitlines()[:9]))
    assert "bad.bvh: line 9" in message and "ends early" in message


def test_bad_number_in_frame_gives_its_line() -> None:
    message = format_error(TINY.replace("90 10 0 0 0 0", "90 1O 0 0 0 0"))
    assert "line 19" in message and "'1O'" in message


def test_bad_number_in_offset_gives_its_line() -> None:
    message = format_error(TINY.replace("OFFSET 10 0 0", "OFFSET 10 zero 0"))
    assert "line 7" in message and "'zero'" in message


def test_missing_motion() -> None:
    message = format_error(TINY.split("MOTION")[0])
    assert "no MOTION section" in message and "line 15" in message


def test_wrong_channel_count_per_frame() -> None:
    message = format_error(TINY.replace("1 2 3 90 0 0   0 10 0 0 0 0", "1 2 3 90 0 0 0 10 0 0 0"))
    assert "line 18" in message and "frame 0 has 11 values" in message and "12 channels" in message


def test_bad_channel_name_and_not_bvh() -> None:
    assert "line 4" in format_error(TINY.replace("Yrotation Xrotation Zrotation", "Yrotation Xrotation Wrotation"))
    assert "line 1" in format_error("hello\nworld\n")
    assert "line 17" in format_error(TINY.replace("Frame Time: 0.04", "Frame Time: fast"))


# --- Motion round trips ----------------------------------------------------------------


@pytest.mark.parametrize("units", ["cm", "m"])
@pytest.mark.parametrize("order", ROTATION_ORDERS)
def test_write_read_round_trip(tmp_path: pathlib.Path, order: str, units: str) -> None:
    motion = random_motion(seed=ROTATION_ORDERS.index(order) + 10 * (units == "m"))
    path = write_bvh(motion, tmp_path / "rt.bvh", rotation_order=order.lower(), units=units)
    back = read_bvh(path, units=units)
    assert back.name == "rt" and back.fps == motion.fps
    assert_same_motion(motion, back)
    doc = parse_bvh(path.read_text(), "rt.bvh")
    assert doc.joints[0].channels[:3] == ("Xposition", "Yposition", "Zposition")
    assert all(j.channels[-3:] == tuple(f"{a}rotation" for a in order) for j in doc.joints)
    # leaves without an End Site got one along their offset; Head kept its own
    leaves = {j.name: j for j in doc.joints if j.name in ("Head", "LeftArm", "RightLeg")}
    assert all(j.end_site is not None for j in leaves.values())
    scale = 100.0 if units == "cm" else 1.0
    assert np.allclose(leaves["Head"].end_site, np.array([0.0, 0.18, 0.02]) * scale)
    arm = leaves["LeftArm"]
    assert np.isclose(np.linalg.norm(arm.end_site), 0.05 * scale)
    assert np.isclose(np.dot(arm.end_site, arm.offset), np.linalg.norm(arm.end_site) * np.linalg.norm(arm.offset))


def test_units_scale_lengths(tmp_path: pathlib.Path) -> None:
    motion = random_motion(seed=3)
    cm = parse_bvh(write_bvh(motion, tmp_path / "cm.bvh").read_text())
    m = parse_bvh(write_bvh(motion, tmp_path / "m.bvh", units="m").read_text())
    assert np.allclose(cm.joints[1].offset, m.joints[1].offset * 100, atol=1e-5)
    assert np.allclose(cm.motion[:, :3], m.motion[:, :3] * 100, atol=1e-5)


@pytest.mark.parametrize("fps", [24000 / 1001, 23.976, 30.0, 120.0, 12.5])
def test_frame_time_round_trips(tmp_path: pathlib.Path, fps: float) -> None:
    motion = random_motion(seed=5, n_frames=3, fps=fps)
    back = read_bvh(write_bvh(motion, tmp_path / "f.bvh"))
    assert abs(back.fps - fps) < 1e-9 * fps


def test_spinning_joint_has_continuous_channels(tmp_path: pathlib.Path) -> None:
    n = 181
    spin = np.linspace(0.0, 1080.0, n)  # three full turns, through +-180 six times
    motion = random_motion(seed=7, n_frames=n)
    rotations = motion.rotations_xyzw.copy()
    rotations[:, 0] = Rotation.from_euler("Y", spin[:, None], degrees=True).as_quat()
    rotations[:, 1] = Rotation.from_euler("ZXY", np.stack([spin / 3, 20 + 0 * spin, -spin], 1), degrees=True).as_quat()
    rotations[:, 2:] = Rotation.from_euler("X", 10.0, degrees=True).as_quat()
    motion = Motion(motion.skeleton, motion.fps, motion.root_position_m, rotations)
    path = write_bvh(motion, tmp_path / "spin.bvh", rotation_order="ZXY")
    doc = parse_bvh(path.read_text(), "spin.bvh")
    angles = doc.motion[:, [c for c in range(doc.n_channels) if c >= 3]]  # every rotation column
    assert np.abs(np.diff(angles, axis=0)).max() < 10.0  # 6 deg steps, never a 360 jump
    root_y = doc.joint_channels(0)[:, 5]
    assert np.allclose(root_y, spin, atol=1e-4)  # unwrapped all the way to 1080
    assert_same_motion(motion, read_bvh(path))


def test_bad_rotation_order_or_units_is_an_export_error(tmp_path: pathlib.Path) -> None:
    motion = random_motion(seed=1)
    for kwargs in ({"rotation_order": "XXY"}, {"rotation_order": "XY"}, {"units": "inch"}):
        with pytest.raises(ExportError):
            write_bvh(motion, tmp_path / "x.bvh", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_exception_mid_write_leaves_nothing(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write_text = pathlib.Path.write_text

    def half_then_fail(self: pathlib.Path, data: str, *args, **kwargs) -> int:
        real_write_text(self, data[: len(data) // 2], *args, **kwargs)
        assert self.exists() and self.parent == tmp_path  # the temp file really was there
        raise KeyboardInterrupt

    monkeypatch.setattr(pathlib.Path, "write_text", half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        write_bvh(random_motion(seed=2), tmp_path / "out.bvh")
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_untouched_by_a_failed_write(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "keep.bvh"
    target.write_text("old")
    def boom(*args: object, **kwargs: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr("mocap.export.bvh.format_bvh", boom)
    with pytest.raises(RuntimeError):
        write_bvh(random_motion(seed=2), target)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["keep.bvh"]


def test_bvh_from_motion_orders_joints_depth_first() -> None:
    motion = random_motion(seed=4)
    doc = bvh_from_motion(motion)
    assert doc.names == ("Hips", "Spine", "Head", "LeftArm", "LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg")
    assert abs(doc.frame_time_s - 1 / 30) < 1e-15
