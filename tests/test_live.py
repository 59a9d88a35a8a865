"""Live mode without a model: the One Euro filter, the causal solver, the VMC messages,
the sender and the receiver (real UDP sockets on this machine)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mocap.camera import Camera
from mocap.errors import StreamError
from mocap.kinematics import joint_positions, quat_angle_deg
from mocap.live.causal import CausalSolver, LiveConfig
from mocap.live.one_euro import OneEuroConfig, OneEuroFilter, smoothing_factor
from mocap.live.receive import CONTACT_POINTS as RECEIVER_CONTACT_POINTS
from mocap.live.receive import CANONICAL_JOINTS, ReceiverError, canonical_pose
from mocap.live.vmc import (
    STREAM_VERSION,
    FrameStamp,
    VmcReceiver,
    VmcSender,
    frame_bundle,
    humanoid_bone_names,
    parse_frame,
    unity_from_internal,
)
from mocap.rig import load_rig
from synth import FOCAL_PX, IMAGE_SIZE_PX, landmarks_from_bvh

WALK = "bvh/bandai_namco/dataset-1_walk_normal_001.bvh"
HUMAN_BODY_BONES = (  # Unity's HumanBodyBones for the 22 joints mocap solves
    "Hips", "Spine", "Chest", "UpperChest", "Neck", "Head",
    "LeftShoulder", "LeftUpperArm", "LeftLowerArm", "LeftHand",
    "RightShoulder", "RightUpperArm", "RightLowerArm", "RightHand",
    "LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "LeftToes",
    "RightUpperLeg", "RightLowerLeg", "RightFoot", "RightToes",
)


# --------------------------------------------------------------------------- One Euro


def test_one_euro_without_beta_is_a_first_order_low_pass():
    f = OneEuroFilter(OneEuroConfig(min_cutoff_hz=2.0, beta=0.0))
    dt = 1 / 30
    x = np.sin(np.arange(60) * 0.3)[:, None]
    expected = [x[0, 0]]
    a = float(smoothing_factor(2.0, dt))
    for v in x[1:, 0]:
        expected.append(expected[-1] + a * (v - expected[-1]))
    got = [f.filter(i * dt, x[i : i + 1])[0, 0] for i in range(60)]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_one_euro_speed_reduces_lag_on_a_ramp():
    """A point moving at 1 m/s: the slow filter lags by about 1/(2 pi f_c) seconds; beta cuts it."""
    dt = 1 / 30
    lags = {}
    for beta in (0.0, 5.0):
        f = OneEuroFilter(OneEuroConfig(min_cutoff_hz=1.0, beta=beta))
        for i in range(90):
            out = f.filter(i * dt, np.array([[i * dt, 0.0, 0.0]]))
        lags[beta] = (89 * dt - out[0, 0]) / 1.0  # seconds behind
    assert lags[0.0] == pytest.approx(1 / (2 * np.pi * 1.0), rel=0.25)  # 159 ms at 1 Hz
    assert lags[5.0] < 0.3 * lags[0.0]


def test_one_euro_holds_unseen_points_and_restarts_after_a_long_gap():
    f = OneEuroFilter(OneEuroConfig(min_cutoff_hz=1.0, beta=0.0, reset_after_s=0.5))
    f.filter(0.0, np.array([[0.0], [5.0]]))
    held = f.filter(0.1, np.array([[1.0], [np.nan]]))
    assert held[1, 0] == 5.0  # unseen: last estimate
    assert 0.0 < held[0, 0] < 1.0  # seen: filtered
    again = f.filter(1.0, np.array([[1.0], [9.0]]))  # 1 s after its last sample: starts afresh
    assert again[1, 0] == 9.0
    with pytest.raises(ValueError, match="not after"):
        f.filter(1.0, np.array([[1.0], [9.0]]))


# --------------------------------------------------------------------------- causal solve


def _stream(tracks, camera, cfg=LiveConfig(), n=None):
    solver = CausalSolver(camera, tracks.fps, cfg)
    poses = []
    for t in range(tracks.n_frames if n is None else n):
        poses.append(solver.step(int(tracks.frame_indices[t]), float(tracks.times_s[t]), tracks.world_m[t],
                                 tracks.image_xy_px[t], tracks.visibility[t], bool(tracks.detected[t])))
    return poses


@pytest.fixture(scope="module")
def walk(shared_data):
    tracks, truth = landmarks_from_bvh(shared_data / WALK, noise_m=0.01, dropout=0.03, seed=3, end_s=4.0)
    camera = Camera.from_K(truth["camera_K"], *IMAGE_SIZE_PX)
    assert camera.focal_px == FOCAL_PX
    return tracks, truth, camera


def test_a_live_pose_never_depends_on_later_frames(walk):
    tracks, _, camera = walk
    full = _stream(tracks, camera)
    short = _stream(tracks, camera, n=50)
    for a, b in zip(full[:50], short):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a.rotations_xyzw, b.rotations_xyzw)
            np.testing.assert_array_equal(a.root_position_m, b.root_position_m)
            np.testing.assert_array_equal(a.contacts, b.contacts)


def test_bone_lengths_settle_in_the_first_second_and_are_then_held(walk):
    tracks, _, camera = walk
    poses = [p for p in _stream(tracks, camera) if p is not None]
    settled = [p for p in poses if p.settled]
    assert settled and settled[0].time_s - poses[0].time_s <= LiveConfig().settle_s + 1.5 / tracks.fps
    assert all(p.skeleton is settled[0].skeleton for p in settled)


def test_live_limb_directions_follow_the_truth(walk):
    """The causal pose against the BVH it came from: world limb directions within 12° on
    the median (1 cm landmark noise, 3% dropouts; the offline round trip in
    test_roundtrip.py allows 10° with a zero-phase smoother that sees the future)."""
    tracks, truth, camera = walk
    poses = _stream(tracks, camera)
    ok = [t for t, p in enumerate(poses) if p is not None and tracks.detected[t]]
    from mocap.data import Motion

    sk = poses[ok[-1]].skeleton
    motion = Motion(sk, tracks.fps, np.stack([poses[t].root_position_m for t in ok]),
                    np.stack([poses[t].rotations_xyzw for t in ok]))
    pos = joint_positions(motion)
    names = list(truth["joint_names"])
    gt = truth["joint_positions_m"][ok]

    def gt_joint(part):
        return gt[:, next(i for i, n in enumerate(names) if n.split(":")[-1] == part)]

    errors = []
    for ours_a, ours_b, a, b in (("LeftArm", "LeftForeArm", "UpperArm_L", "LowerArm_L"),
                                 ("RightForeArm", "RightHand", "LowerArm_R", "Hand_R"),
                                 ("LeftUpLeg", "LeftLeg", "UpperLeg_L", "LowerLeg_L"),
                                 ("RightLeg", "RightFoot", "LowerLeg_R", "Foot_R")):
        d_ours = pos[:, sk.index(ours_b)] - pos[:, sk.index(ours_a)]
        d_gt = gt_joint(b) - gt_joint(a)
        cos = np.sum(d_ours * d_gt, axis=1) / np.linalg.norm(d_ours, axis=1) / np.linalg.norm(d_gt, axis=1)
        errors.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    assert np.median(np.concatenate(errors)) < 12.0


def test_the_hips_travel_with_the_walker_and_feet_are_planted(walk):
    tracks, truth, camera = walk
    poses = _stream(tracks, camera)
    roots = np.stack([p.root_position_m for p in poses if p is not None])
    pelvis = truth["joint_positions_m"][:, 0]
    true_travel = np.linalg.norm(pelvis[-1, [0, 2]] - pelvis[0, [0, 2]])
    ours = np.linalg.norm(roots[-1, [0, 2]] - roots[0, [0, 2]])
    assert true_travel > 1.0
    assert ours == pytest.approx(true_travel, rel=0.25)
    contacts = np.stack([p.contacts for p in poses if p is not None])
    assert 0.2 < contacts.mean() < 0.9  # walking: each point planted part of the time


def test_no_person_holds_the_last_pose_briefly_then_stops(walk):
    tracks, _, camera = walk
    solver = CausalSolver(camera, tracks.fps)
    for t in range(40):
        last = solver.step(t, t / 30, tracks.world_m[t], tracks.image_xy_px[t], tracks.visibility[t], True)
    nan = np.full((33, 3), np.nan)
    held = solver.step(40, 40 / 30, nan, nan[:, :2], np.zeros(33), False)
    assert held.held and np.array_equal(held.rotations_xyzw, last.rotations_xyzw)
    assert solver.step(60, 60 / 30, nan, nan[:, :2], np.zeros(33), False) is None


# --------------------------------------------------------------------------- VMC messages


def test_vmc_bone_names_are_unitys_humanbodybones():
    rig = load_rig()
    assert humanoid_bone_names(rig.joint_names) == HUMAN_BODY_BONES
    # the add-on's copy of the mapping (receive.py stands alone) agrees with the rig and the preset
    assert tuple(c for c, _, _ in CANONICAL_JOINTS) == rig.joint_names
    assert tuple(p for _, p, _ in CANONICAL_JOINTS) == tuple(j.parent for j in rig.joints)
    assert tuple(b for _, _, b in CANONICAL_JOINTS) == HUMAN_BODY_BONES


def test_vmc_coordinates_are_unitys_left_handed_frame():
    """Internal: performer faces +Z, left hand +X. Unity: faces +Z, right hand +X."""
    left_hand = np.array([0.7, 1.4, 0.0])
    pos, _ = unity_from_internal(left_hand, np.array([0, 0, 0, 1.0]))
    assert pos[0] < 0  # the avatar's left is Unity's -X
    # Turning left (counter-clockwise seen from above, +Y in a right-handed frame) is a
    # negative angle about Unity's +Y (left-handed): both take forward (+Z) towards the left.
    turn = Rotation.from_euler("y", 30, degrees=True)
    fwd_internal = turn.apply([0, 0, 1.0])
    _, q = unity_from_internal(np.zeros(3), turn.as_quat())
    unity_turn = Rotation.from_quat(q)
    fwd_unity = unity_turn.apply([0, 0, 1.0])  # scipy's maths on Unity's numbers
    np.testing.assert_allclose(fwd_unity, fwd_internal * [-1, 1, 1], atol=1e-12)
    assert fwd_internal[0] > 0 and fwd_unity[0] < 0  # towards the avatar's left in both


def test_a_frame_bundle_round_trips_through_python_osc():
    from pythonosc.osc_packet import OscPacket

    rig = load_rig()
    names = humanoid_bone_names(rig.joint_names)
    rng = np.random.default_rng(0)
    rot = Rotation.random(22, random_state=1).as_quat()
    offsets = rng.normal(size=(22, 3))
    root = np.array([0.3, 0.9, -0.2])
    data = frame_bundle(names, offsets, rot, root, FrameStamp(7, 0.25, 1_700_000_000.123456), np.array([1, 0, 0, 1]))
    addresses = [m.message.address for m in OscPacket(data).messages]
    assert addresses[:3] == ["/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Root/Pos"]
    assert addresses.count("/VMC/Ext/Bone/Pos") == 22 and addresses[-2:] == ["/mocap/Frame", "/mocap/Contacts"]
    frame = parse_frame(data, received_wall_s=0.0)
    assert frame.frame_index == 7 and frame.time_s == pytest.approx(0.25)
    assert frame.sent_wall_s == pytest.approx(1_700_000_000.123456, abs=2e-6)
    hips_pos, _ = frame.bones["Hips"]
    np.testing.assert_allclose(hips_pos, root * [-1, 1, 1], atol=1e-6)
    for j, name in enumerate(names):
        back = unity_from_internal(*frame.bones[name])[1]
        assert quat_angle_deg(back, rot[j]) < 0.01
    assert frame.contacts == {"left_heel": True, "left_toe": False, "right_heel": False, "right_toe": True}
    back_offsets, back_local, hips = canonical_pose(frame)  # what the add-on retargets
    np.testing.assert_allclose(back_offsets[1:], offsets[1:], atol=1e-6)
    np.testing.assert_allclose(hips, root, atol=1e-6)
    assert quat_angle_deg(back_local, rot).max() < 0.01


def test_the_receiver_module_stands_alone():
    """The Blender add-on carries receive.py without mocap: it may import only the standard
    library, numpy and python-osc."""
    import ast

    import mocap.live.receive as receive

    tree = ast.parse(Path(receive.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "errno", "math", "socket", "threading", "time", "collections", "dataclasses",
                        "numpy", "pythonosc"}, imported
    assert RECEIVER_CONTACT_POINTS == load_rig().contact_points


# --------------------------------------------------------------------------- UDP


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bundle(index: int, time_s: float, version: int = STREAM_VERSION) -> bytes:
    if version == STREAM_VERSION:
        return frame_bundle(HUMAN_BODY_BONES, np.zeros((22, 3)), np.tile([0, 0, 0, 1.0], (22, 1)), np.zeros(3),
                            FrameStamp(index, time_s, time.time()))
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    bundle = OscBundleBuilder(IMMEDIATELY)
    for address, args in (("/VMC/Ext/Bone/Pos", ["Hips", 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]),
                          ("/mocap/Frame", [version, index, time_s, 0, 0])):
        m = OscMessageBuilder(address)
        for a in args:
            m.add_arg(a)
        bundle.add_content(m.build())
    return bundle.build().dgram


def _wait(predicate, timeout_s=3.0):
    t0 = time.monotonic()
    while not predicate() and time.monotonic() - t0 < timeout_s:
        time.sleep(0.01)
    return predicate()


def test_receiver_counts_and_ignores_garbage_and_old_versions():
    with VmcReceiver(port=0) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        target = ("127.0.0.1", rx.port)
        for junk in (b"", b"garbage", b"#bundle\x00" + b"\xff" * 40, b"/VMC/Ext/Bone/Pos\x00\x00\x00,sf\x00\x00"):
            tx.sendto(junk, target)
        tx.sendto(_bundle(1, 0.1, version=STREAM_VERSION + 1), target)
        tx.sendto(_bundle(2, 0.2), target)
        assert _wait(lambda: rx.stats.received == 1 and rx.stats.malformed >= 3)
        assert rx.stats.old_version == 1
        assert rx.take_latest().frame_index == 2


def test_receiver_keeps_only_the_newest_frame_and_records_by_timestamp():
    with VmcReceiver(port=0) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.start_recording()
        for i, t in ((1, 0.1), (3, 0.3), (2, 0.2), (4, 0.4)):  # frame 2 arrives late
            tx.sendto(_bundle(i, t), ("127.0.0.1", rx.port))
        assert _wait(lambda: rx.stats.received == 4)
        assert rx.take_latest().frame_index == 4 and rx.take_latest() is None
        assert rx.stats.dropped == 2 and rx.stats.stale == 1  # 1 and 3 never shown; 2 came too late
        assert [f.frame_index for f in rx.stop_recording()] == [1, 2, 3, 4]


def test_receiver_says_when_the_port_is_in_use():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        with pytest.raises(ReceiverError, match=f"cannot listen on 127.0.0.1:{port}: the port is in use"):
            VmcReceiver(port=port).start()
    assert not VmcReceiver().listens_on_network and VmcReceiver(host="0.0.0.0").listens_on_network


def test_sender_warns_once_when_nothing_listens_and_again_when_it_comes():
    port = _free_udp_port()
    said = []
    with VmcSender([("127.0.0.1", port)], warn=said.append) as tx:
        for _ in range(6):
            tx.send(b"x" * 8)
            time.sleep(0.01)
        assert not tx.targets[0].reachable
        assert said == [f"nothing is listening at 127.0.0.1:{port} (port unreachable); still sending"]
        with VmcReceiver(port=port):
            for _ in range(8):
                tx.send(b"x" * 8)
                time.sleep(0.01)
        assert tx.targets[0].reachable and said[-1] == f"127.0.0.1:{port} is listening now"


def test_sender_rejects_an_unknown_host():
    with pytest.raises(StreamError, match="no-such-host.invalid:39539: cannot resolve"):
        VmcSender([("no-such-host.invalid", 39539)])
