"""Rig data: humanoid.json is checked when loaded, and a missing name is an error, never a no-op."""

from __future__ import annotations

import copy
import json
from importlib import resources

import numpy as np
import pytest

from mocap.rig import RigError, derived_point, load_rig, rig_from_json

SHIPPED = json.loads(resources.files("mocap.rigs").joinpath("humanoid.json").read_text())


def _broken(edit) -> dict:
    data = copy.deepcopy(SHIPPED)
    edit(data)
    return data


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["legs"][0].update(foot="LeftFut"), "left leg joint 'LeftFut'"),
        (lambda d: d["legs"][1].update(heel_point="right_hell"), "right foot point 'right_hell'"),
        (lambda d: d["spine"].update(neck="Nek"), "spine joint 'Nek'"),
        (lambda d: d.update(head="Skull"), "head 'Skull'"),
        (lambda d: d["depth_tree"]["bones"].insert(0, ["left_elbow", "left_wrist"]), "before its parent is placed"),
        (lambda d: d["depth_tree"].update(hips=["left_hip", "rigth_hip"]), "'rigth_hip'"),
        (lambda d: d["points"]["pelvis"].update(mid=["left_hip", "right_hipp"]), "'right_hipp'"),
        (lambda d: d.pop("legs"), "missing or malformed entry 'legs'"),
    ],
)
def test_a_rig_naming_something_that_does_not_exist_is_refused(edit, message):
    with pytest.raises(RigError, match=message):
        rig_from_json(_broken(edit), "broken")


def test_the_shipped_rig_loads_and_its_parts_are_its_joints():
    rig = load_rig()
    assert rig_from_json(SHIPPED, "humanoid").joint_names == rig.joint_names
    for leg in rig.legs:
        assert all(rig.joint(j).name == j for j in leg.joints)
    # Contact point names are unique across legs (they key FootContacts and the sidecar).
    assert len(set(rig.contact_points)) == len(rig.contact_points) == 2 * len(rig.legs)


def test_derived_points_work_on_any_per_landmark_values():
    """The one definition of the pelvis (the hips' midpoint) serves positions, pixels and
    visibilities alike; an unknown name is a RigError."""
    rig = load_rig()
    values = {"left_hip": np.array([[1.0, 2.0]]), "right_hip": np.array([[3.0, 6.0]])}
    assert derived_point(rig, rig.root_point, values) == pytest.approx(np.array([[2.0, 4.0]]))
    assert derived_point(rig, rig.root_point, {"left_hip": np.array([0.2]), "right_hip": np.array([0.6])}) == pytest.approx([0.4])
    with pytest.raises(RigError, match="right_shoulder"):
        derived_point(rig, rig.spine.neck_point, {"left_shoulder": np.zeros(3)})
