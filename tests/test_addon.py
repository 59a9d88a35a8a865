"""The Blender add-on in headless bpy (5.0.1), installed from the zip `make addon` builds.

Each check runs tests/addon_driver.py in a fresh Python process with its own Blender user
folder, the way a user installs the extension, and reads back what Blender itself evaluates.

Tolerances (why these numbers):
- limb directions: 0.5°. The retarget makes each mapped segment point exactly along the
  source's (mocap/retarget/solver.py); what remains is float32 in Blender's keys and
  matrices (about 1e-4°). 0.5° is 4 mm at the end of a 0.5 m limb, invisible, yet any real
  mistake (an ignored A-pose, roll or rest lean, a wrong axis) is degrees to tens of degrees.
- floor: 3 cm (the issue's figure) for the lowest foot point during the source's contacts,
  measured from the target's own rest foot level.
- flips: a bone's frame-to-frame world rotation change may differ from its source joint's by
  at most 0.5° (the same float32 argument: the retarget conjugates each world rotation by a
  constant offset, which preserves angles); a flip would differ by up to 180°.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

pytestmark = [pytest.mark.blender, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
DRIVER = REPO / "tests" / "addon_driver.py"
MOCAP = Path(sys.executable).with_name("mocap")
C_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
SEGMENTS = (  # canonical joint -> the child its direction points to
    ("Hips", "Spine"), ("Spine", "Spine1"), ("Spine1", "Spine2"), ("Spine2", "Neck"), ("Neck", "Head"),
    *[(f"{s}{a}", f"{s}{b}") for s in ("Left", "Right") for a, b in (
        ("Shoulder", "Arm"), ("Arm", "ForeArm"), ("ForeArm", "Hand"),
        ("UpLeg", "Leg"), ("Leg", "Foot"), ("Foot", "ToeBase"))],
)
SHARED = REPO.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "characters").is_dir(), reason=f"test data not found at {SHARED}")
DIRECTION_TOL_DEG = 0.5
FLOOR_TOL_M = 0.03
FLIP_TOL_DEG = 0.5


def run_driver(zip_path: Path, command: str, args: dict, tmp: Path) -> tuple[dict, dict | None]:
    out = tmp / f"{command}.json"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp / "blender-user"))
    proc = subprocess.run([sys.executable, str(DRIVER), str(zip_path), command, json.dumps(args), str(out)],
                          capture_output=True, text=True, env=env, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    npz = out.with_suffix(".npz")
    return data, (dict(np.load(npz)) if npz.exists() else None)


@pytest.fixture(scope="session")
def addon_zip(tmp_path_factory) -> Path:
    sys.path.insert(0, str(REPO / "scripts"))
    from build_addon import build

    return build(tmp_path_factory.mktemp("addon"), blender="/nonexistent")  # the by-hand layout


@pytest.fixture(scope="session")
def dance_motion(tmp_path_factory) -> Path:
    """Real converted motion: `mocap convert samples/dance_arms.mp4 --format json`."""
    tmp = tmp_path_factory.mktemp("dance")
    cache = os.environ.get("MOCAP_CACHE_DIR", str(tmp / "cache"))
    proc = subprocess.run([str(MOCAP), "convert", str(REPO / "samples" / "dance_arms.mp4"), "-o", f"{tmp}/",
                           "-f", "json", "--cache-dir", cache, "-q"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return tmp / "dance_arms.json"


def test_zip_installs_registers_and_unregisters(addon_zip, tmp_path):
    import zipfile

    names = zipfile.ZipFile(addon_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names and "mocap_retarget/solver.py" in names
    data, _ = run_driver(addon_zip, "lifecycle", {}, tmp_path)
    assert all(data["after_install"].values()), data
    assert not any(data["after_disable"].values()), data
    assert all(data["after_enable"].values()), data


def _source(motion_path: Path):
    """Source joint positions (T, J, 3) and world rotations (T, J) in Blender axes, via mocap's own
    scipy kinematics (independent of the add-on's numpy copy)."""
    from mocap.data import Skeleton
    from mocap.kinematics import global_transforms

    d = json.loads(motion_path.read_text())
    names = tuple(j["name"] for j in d["joints"])
    parents = tuple(-1 if j["parent"] is None else names.index(j["parent"]) for j in d["joints"])
    sk = Skeleton(names, parents, np.array([j["offset_m"] for j in d["joints"]]))
    pos, quats = global_transforms(sk, np.array(d["root_position_m"]), np.array(d["rotations_xyzw"]))
    c = Rotation.from_matrix(C_BLENDER)
    rots = [c * Rotation.from_quat(quats[:, j]) * c.inv() for j in range(len(names))]
    contacts = {k: np.array(v, bool) for k, v in d["contacts"].items()}
    return names, pos @ C_BLENDER.T, rots, contacts, d["fps"]


@pytest.mark.mediapipe
@pytest.mark.parametrize("target", [pytest.param(t, marks=needs_shared) for t in ("adventurer", "scifi", "mixamo")]
                         + ["rigify"])
def test_retarget_real_motion(addon_zip, dance_motion, tmp_path, target):
    info, pose = run_driver(addon_zip, "retarget", {
        "target": target, "motion": str(dance_motion),
        "characters": str(REPO.parent / "shared" / "data" / "characters" / "quaternius_modular_women"),
        "mixamo_bvh": str(REPO.parent / "shared" / "data" / "bvh" / "misc" / "test_freebvh_20tab.bvh"),
    }, tmp_path)
    names, src_pos, src_rots, contacts, fps = _source(dance_motion)
    bone_map, bones = info["bone_map"], info["names"]
    n = src_pos.shape[0]
    assert pose["heads"].shape[0] == n and pose["fps"] == pytest.approx(fps)
    expected_map = {"adventurer": "auto", "scifi": "auto", "mixamo": "mixamo", "rigify": "rigify_deform"}[target]
    assert info["map_source"] == expected_map

    # every mapped limb points where the performer's does, on every frame
    checked = 0
    for a, b in SEGMENTS:
        if a not in bone_map or b not in bone_map:
            continue
        d_src = src_pos[:, names.index(b)] - src_pos[:, names.index(a)]
        d_tgt = pose["heads"][:, bones.index(bone_map[b])] - pose["heads"][:, bones.index(bone_map[a])]
        cos = np.sum(d_src * d_tgt, 1) / np.linalg.norm(d_src, axis=1) / np.linalg.norm(d_tgt, axis=1)
        err = np.degrees(np.arccos(np.clip(cos, -1, 1)))
        assert err.max() < DIRECTION_TOL_DEG, f"{a}->{b} on {target}: {err.max():.3f} deg"
        checked += 1
    assert checked >= 15  # 5 trunk + 5 per side (toes only where the rig has them)

    # the lowest foot point stays on the floor during contacts
    feet = [bones.index(bone_map[c]) for c in ("LeftFoot", "LeftToeBase", "RightFoot", "RightToeBase") if c in bone_map]
    floor = min(pose["rest_heads"][feet, 2].min(), pose["rest_tails"][feet, 2].min())
    lowest = np.minimum(pose["heads"][:, feet, 2].min(1), pose["tails"][:, feet, 2].min(1))
    in_contact = np.any(np.stack(list(contacts.values())), axis=0)
    assert in_contact.sum() > 10
    assert np.abs(lowest[in_contact] - floor).max() < FLOOR_TOL_M

    # no bone flips: each mapped bone turns from frame to frame exactly as its source joint does
    for joint, bone in bone_map.items():
        q = pose["rots_wxyz"][:, bones.index(bone)][:, [1, 2, 3, 0]]
        r = Rotation.from_quat(q)
        step_tgt = np.degrees((r[1:] * r[:-1].inv()).magnitude())
        s = src_rots[names.index(joint)]
        step_src = np.degrees((s[1:] * s[:-1].inv()).magnitude())
        assert np.abs(step_tgt - step_src).max() < FLIP_TOL_DEG, f"{joint} ({bone}) on {target}"


@pytest.mark.mediapipe
def test_generated_rigify_rig_through_its_fk_controls(addon_zip, dance_motion, tmp_path):
    """A rig generated by Rigify: the FK-control preset is detected, the controls are solved against
    Blender's evaluation of their constraint-driven MCH parents, and the DEF- bones the mesh follows
    point where the performer's limbs do. Known gap: Rigify's pelvis and lower spine follow its own
    torso/hips/tweak mechanism, so Hips->Spine->Spine1 are off by up to about 10 degrees
    (docs/addon.md) and are not checked here."""
    deform = json.loads((REPO / "mocap" / "retarget" / "maps" / "rigify_deform.json").read_text())["names"]
    info, pose = run_driver(addon_zip, "retarget", {
        "target": "rigify_generated", "motion": str(dance_motion), "sample_prefix": "DEF-", "sample_names": deform,
    }, tmp_path)
    assert info["map_source"] == "rigify_control"
    names, src_pos, _, _, _ = _source(dance_motion)
    bone_map, bones = info["bone_map"], info["names"]
    checked = 0
    for a, b in SEGMENTS:
        if a in ("Hips", "Spine"):
            continue
        d_src = src_pos[:, names.index(b)] - src_pos[:, names.index(a)]
        d_tgt = pose["heads"][:, bones.index(bone_map[b])] - pose["heads"][:, bones.index(bone_map[a])]
        cos = np.sum(d_src * d_tgt, 1) / np.linalg.norm(d_src, axis=1) / np.linalg.norm(d_tgt, axis=1)
        err = np.degrees(np.arccos(np.clip(cos, -1, 1)))
        assert err.max() < DIRECTION_TOL_DEG, f"{a}->{b} on the generated Rigify rig: {err.max():.3f} deg"
        checked += 1
    assert checked == 15


@needs_shared
@pytest.mark.mediapipe
def test_foot_lock_after_retargeting_keeps_planted_feet_still(addon_zip, dance_motion, tmp_path):
    info, pose = run_driver(addon_zip, "retarget", {
        "target": "adventurer", "motion": str(dance_motion), "lock_feet": True,
        "characters": str(REPO.parent / "shared" / "data" / "characters" / "quaternius_modular_women"),
    }, tmp_path)
    _, _, _, contacts, fps = _source(dance_motion)
    bones, bone_map = info["names"], info["bone_map"]
    for side in ("left", "right"):
        flags = np.any(np.stack([v for k, v in contacts.items() if k.startswith(side)]), axis=0)
        ankle = pose["heads"][:, bones.index(bone_map[f"{side.title()}Foot"])]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(int), [0]])))
        for first, stop in zip(edges[::2], edges[1::2]):
            core = slice(first + 3, stop - 3)  # inside the 0.1 s fades
            if stop - first > 8:
                drift = np.linalg.norm(ankle[core] - ankle[core].mean(0), axis=1).max()
                assert drift < 0.005, f"{side} ankle drifts {drift * 1000:.1f} mm while planted"


@needs_shared
@pytest.mark.mediapipe
def test_live_pose_goes_through_the_same_map(addon_zip, dance_motion, tmp_path):
    """Issue 16's receiver: one pose set from a timer equals the keyed frame, bone for bone."""
    data, _ = run_driver(addon_zip, "live_pose", {
        "target": "adventurer", "motion": str(dance_motion), "frame": 60,
        "characters": str(REPO.parent / "shared" / "data" / "characters" / "quaternius_modular_women"),
    }, tmp_path)
    keyed, live = data["keyed"], data["live"]
    assert keyed.keys() == live.keys()
    assert max(np.linalg.norm(np.subtract(keyed[b], live[b])) for b in keyed) < 1e-4


@pytest.mark.mediapipe
def test_convert_operator_on_a_sample(addon_zip, tmp_path):
    from mocap.video import probe_video

    info = probe_video(REPO / "samples" / "squats.mp4")
    data, _ = run_driver(addon_zip, "convert", {"mocap": str(MOCAP), "video": str(REPO / "samples" / "squats.mp4")},
                         tmp_path)
    assert data["result"] == ["FINISHED"], data
    assert len(data["armatures"]) == 1 and "LeftUpLeg" in data["bones"]  # mocap's own armature
    assert data["key_counts"] == [info.frame_count]
    assert data["fps"] == pytest.approx(info.fps)
    assert (data["frame_start"], data["frame_end"]) == (1, info.frame_count)


@pytest.mark.mediapipe
def test_cancel_midway_leaves_no_file(addon_zip, tmp_path):
    keep = tmp_path / "keep"
    data, _ = run_driver(addon_zip, "convert", {
        "mocap": str(MOCAP), "video": str(REPO / "samples" / "dance_arms.mp4"), "cancel_after_frames": 5,
        "save_folder": str(keep),
    }, tmp_path)
    assert data["progress_seen"] >= 5 and data["folder_existed"]
    assert not data["folder_left"], "the job's output folder survived the cancel"
    assert not keep.exists() or not any(keep.iterdir())
    assert data["returncode"] is not None and not data["running"]
    assert "cancelled" in data["status"].lower()
    assert not any(o for o in data["objects"])  # nothing was applied


def test_missing_engine_gives_the_panel_message(addon_zip, tmp_path):
    missing = str(tmp_path / "no-such-dir" / "mocap")
    data, _ = run_driver(addon_zip, "convert", {"mocap": missing, "video": str(REPO / "samples" / "squats.mp4")},
                         tmp_path)
    assert data["result"] == ["CANCELLED"]
    assert "mocap engine not found" in data["status"] and "pipx install mocap-video" in data["status"]
    assert data["engine_status"] == data["status"]
    assert "Traceback" not in data["error"] and "mocap engine not found" in data["error"]
    assert data["armatures"] == []


def test_panel_draws_the_engine_message_and_the_bone_map(addon_zip, tmp_path):
    missing = str(tmp_path / "no-such-dir" / "mocap")
    data, _ = run_driver(addon_zip, "panel", {"mocap": missing, "video": str(REPO / "samples" / "squats.mp4")},
                         tmp_path)
    labels = " ".join(text for kind, text in data["before"] if kind == "label")
    assert "mocap engine not found" in labels and "Target: none selected" in labels
    assert ["operator", "mocap.convert"] in data["before"]
    after = data["after"]
    assert ["list", "mocap_bone_map"] in after and ["operator", "mocap.map_detect"] in after
    assert any(kind == "label" and "rigify_deform" in text for kind, text in after)


def test_too_old_engine_is_named(addon_zip, tmp_path):
    fake = tmp_path / "mocap"
    fake.write_text("#!/bin/sh\necho 'mocap 0.0.9'\n")
    fake.chmod(0o755)
    data, _ = run_driver(addon_zip, "check_engine", {"mocap": str(fake)}, tmp_path)
    assert data["result"] == ["CANCELLED"]
    assert "0.0.9" in data["engine_status"] and "too old" in data["engine_status"]


# -- Live mode (issue 16) --------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.mediapipe
def test_live_drives_and_records_the_armature_and_shrugs_off_garbage(addon_zip, tmp_path):
    """`mocap live --video` streams to the add-on (a real engine process); the timer moves the
    armature and Record keys one pose per received frame at its stream time; junk and
    old-version packets sent to the same port are counted and ignored."""
    data, _ = run_driver(addon_zip, "live", {
        "mocap": str(MOCAP), "video": str(REPO / "samples" / "dance_arms.mp4"), "port": _free_port(),
        "target": "rigify", "garbage": True,
    }, tmp_path)
    assert data["result"] == ["FINISHED"], data
    stats = data["stats"]
    assert 0 < stats["received"] <= 120  # 120 frames in the clip; late ones may be skipped by the engine
    assert stats["malformed"] >= 1 and stats["old_version"] >= 1, (stats, data["junk_sent"])
    assert not data["running"] and "Live stopped: the stream ended" in data["status"]
    assert f"recorded {stats['received']} frames into action" in data["status"]
    # the armature moved: the dancer's left hand travels tens of centimetres
    hand = np.array(data["applied"])
    assert len(hand) >= 2 and np.ptp(hand, axis=0).max() > 0.1
    # one key per received frame, on the scene's 30 fps clock from the stream's timestamps
    assert data["key_counts"] == [stats["received"]]
    frames = np.array(data["key_frames"])
    assert frames[0] == pytest.approx(1.0) and np.all(np.diff(frames) > 0)
    assert np.allclose(np.diff(frames), np.round(np.diff(frames)), atol=1e-3)  # 30 fps stream on a 30 fps scene
    assert frames[-1] <= 1.0 + 119 + 1e-3


def test_live_refuses_a_port_in_use_and_needs_a_target(addon_zip, tmp_path):
    port = _free_port()
    data, _ = run_driver(addon_zip, "live", {"mocap": str(MOCAP), "video": str(REPO / "samples" / "dance_arms.mp4"),
                                             "port": port, "busy_port": True}, tmp_path)
    assert data["result"] == ["CANCELLED"] and not data["running"]
    assert data["status"] == f"cannot listen on 127.0.0.1:{port}: the port is in use by another program; choose another port"
    data, _ = run_driver(addon_zip, "live", {"mocap": str(MOCAP), "video": str(REPO / "samples" / "dance_arms.mp4"),
                                             "port": port, "no_target": True}, tmp_path)
    assert data["result"] == ["CANCELLED"] and data["status"] == "select the armature Live should drive"
