"""Root anchored on planted feet (mocap.solve.anchor)."""

import numpy as np

from mocap.data import FootContacts
from mocap.solve.anchor import anchored_root

FPS = 30.0


def _walk(n=150, speed_m_s=1.2, step_s=0.5):
    """A walker at constant speed: each foot alternately planted (world-still) and swinging.
    Returns the true root (T, 3), the feet's world paths and their contact flags."""
    t = np.arange(n) / FPS
    root = np.stack([speed_m_s * t, np.full(n, 0.9), np.zeros(n)], axis=1)
    phase = (t / step_s).astype(int)
    paths, flags = {}, []
    for side, (offset, parity) in {"left": (0.1, 0), "right": (-0.1, 1)}.items():
        planted = (phase % 2) == parity
        foot = np.zeros((n, 3))
        x = 0.0
        for i in range(n):
            if planted[i]:
                if i == 0 or not planted[i - 1]:
                    x = root[i, 0] + 0.3  # lands ahead of the hips
            else:
                x = root[i, 0] + 0.3 * np.sin(np.pi * ((t[i] / step_s) % 1))  # swings through
            foot[i] = (x, 0.0, offset)
        paths[f"{side}_toe"] = foot
        flags.append(planted)
    return root, paths, FootContacts(tuple(paths), np.stack(flags, axis=1), FPS)


def _relative(paths, root):
    return {k: v - root for k, v in paths.items()}


def test_noisy_camera_depth_does_not_make_planted_feet_slide():
    root, paths, contacts = _walk()
    rng = np.random.default_rng(0)
    camera = root + np.c_[rng.normal(0, 0.03, len(root)), np.zeros(len(root)), rng.normal(0, 0.08, len(root))]
    rel = _relative(paths, root)
    seen_paths = {k: v + camera for k, v in rel.items()}  # what the solver sees with the camera root
    anchored = anchored_root(camera, rel, contacts)
    for c, name in enumerate(contacts.names):
        world = rel[name] + anchored
        planted = contacts.in_contact[:, c]
        both = planted[1:] & planted[:-1]
        before = np.linalg.norm(np.diff(seen_paths[name][:, [0, 2]], axis=0)[both], axis=1).mean()
        after = np.linalg.norm(np.diff(world[:, [0, 2]], axis=0)[both], axis=1).mean()
        assert after < 0.002 and after < 0.05 * before, (name, before, after)
    # Vertical untouched; horizontal still near the truth at low frequency.
    np.testing.assert_array_equal(anchored[:, 1], camera[:, 1])
    assert np.abs(anchored[:, [0, 2]] - root[:, [0, 2]]).mean() < 0.1


def test_a_camera_that_follows_the_walker_no_longer_hides_the_travel():
    root, paths, contacts = _walk()
    camera = root.copy()
    camera[:, 0] = 0.0  # the camera pans with the walker: no travel seen
    rel = _relative(paths, root)
    anchored = anchored_root(camera, rel, contacts)
    travelled = anchored[-1, 0] - anchored[0, 0]
    true_travel = root[-1, 0] - root[0, 0]
    assert travelled > 0.6 * true_travel  # the camera's pull keeps some back, but it walks


def test_no_contacts_leaves_the_root_alone():
    root, paths, contacts = _walk()
    none = FootContacts(contacts.names, np.zeros_like(contacts.in_contact), FPS)
    np.testing.assert_array_equal(anchored_root(root, _relative(paths, root), none), root)


def test_settle_puts_standing_feet_on_the_floor_and_keeps_a_jump():
    from mocap.solve.anchor import settle_on_floor

    fps = 30.0
    n = 90
    rng = np.random.default_rng(1)
    noise = 0.03 * np.sin(np.arange(n) / 15.0) + rng.normal(0, 0.003, n)  # the camera's height error: slow
    jump = np.zeros(n)
    t = np.arange(20) / fps
    jump[40:60] = 4.9 * t * (t[-1] + 1 / fps - t)  # a 0.67 s jump, about 0.55 m high at the top
    lowest = noise + jump  # lowest foot point above the floor, with the camera's root
    root = np.c_[np.zeros(n), 0.9 + lowest, np.zeros(n)]
    settled = settle_on_floor(root, lowest, fps)
    new_lowest = lowest + (settled[:, 1] - root[:, 1])
    standing = np.r_[0:38, 62:90]
    assert np.abs(new_lowest[standing]).max() < 0.01  # standing: on the floor (within the smoothing)
    assert new_lowest[48:52].min() > 0.4  # the jump is still a jump
    np.testing.assert_array_equal(settled[:, [0, 2]], root[:, [0, 2]])
