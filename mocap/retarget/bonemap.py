"""Which bone of the user's armature plays which of mocap's 22 canonical joints.

A `BoneMap` is a plain dict canonical joint -> target bone name, shown in the add-on as an
editable list and saved/loaded as JSON (`{"format": "mocap-bonemap/1", "bones": {...}}`).
It is found in this order (`map_armature`):

1. **Presets** (data files in maps/): Mixamo (any `name:` namespace such as `mixamorig:`
   stripped), Rigify deform bones or metarig, Rigify FK controls, UE5 and UE4 mannequins,
   VRoid (`J_Bip_*`), VRM and Unity humanoid names. The preset that finds the most bones wins
   if it finds every required joint (REQUIRED) in an agreeing hierarchy (ties: higher priority).
2. **Automatic mapping** from names and hierarchy (`auto_map`), for rigs no preset fits:
   - names are split into lower-case words (camelCase, `.`, `_`, `-`, `:`, spaces); a side
     word (`l`/`left`, `r`/`right`) in any position gives the side, so `UpperArm.L`,
     `upperarm_l`, `LeftUpperArm`, `L_UpperArm` and `J_Bip_L_UpperArm` all read as the left
     upper arm; bones named as twist/roll/IK/pole/helper/finger bones are never chosen;
   - limb roles come from words (ROLE_WORDS: clavicle/shoulder, upperarm/arm, forearm/
     lowerarm/elbow, hand/wrist, thigh/upleg/upperleg, shin/calf/lowerleg/leg, foot/ankle,
     toe/ball) and must form a parent chain (an arm role must lie below the shoulder, ...);
   - the trunk comes from the hierarchy: Hips is the lowest common ancestor of the two
     thighs, Spine2 (the chest) that of the two shoulders (or upper arms); Spine and Spine1
     are the bones between them whose heights are nearest to the canonical rig's (27 % and
     61 % of the way from hips to chest); Neck and Head by name, else the first two bones
     above the chest on the way up.
   Bones left unmapped (extra spine, twist, finger, face bones) follow their parents.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import RetargetError
from .rig import ArmatureRig

BONEMAP_FORMAT = "mocap-bonemap/1"
CANONICAL: tuple[str, ...] = (
    "Hips", "Spine", "Spine1", "Spine2", "Neck", "Head",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand",
    "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase",
    "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase",
)
# Without these a retarget is refused: the root, and every limb segment the floor and root
# travel depend on (legs) or that users always see (arms).
REQUIRED: tuple[str, ...] = (
    "Hips", "LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightForeArm", "RightHand",
    "LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot",
)
# Limb roles: canonical suffix -> accepted name keys (words joined), in order of preference.
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "Shoulder": ("shoulder", "clavicle", "collar", "collarbone"),
    "Arm": ("upperarm", "uparm", "arm"),
    "ForeArm": ("forearm", "lowerarm", "lowarm", "elbow"),
    "Hand": ("hand", "wrist"),
    "UpLeg": ("upleg", "upperleg", "thigh"),
    "Leg": ("lowerleg", "shin", "calf", "lowleg", "knee", "leg"),
    "Foot": ("foot", "ankle"),
    "ToeBase": ("toebase", "toes", "toe", "ball"),
}
LIMB_CHAINS = (("Shoulder", "Arm", "ForeArm", "Hand"), ("UpLeg", "Leg", "Foot", "ToeBase"))
_EXCLUDE_WORDS = {
    "twist", "roll", "ik", "pole", "pt", "target", "helper", "mch", "org", "tweak", "socket", "end",
    "nub", "tip", "thumb", "index", "middle", "ring", "pinky", "little", "finger", "parent", "ctrl",
    "control", "vis", "jnt_end", "heel", "breast", "pelvis_l", "teeth", "eye", "jaw", "tongue",
}
_NOISE_WORDS = {"def", "j", "bip", "bip01", "bip001", "mixamorig", "b", "bone", "jnt", "c", "joint", "fk"}
_SPINE_FRACTIONS = {"Spine": 0.27, "Spine1": 0.61}  # humanoid.json: 0.18 and 0.40 of the 0.66 hips->chest


BoneMap = dict  # canonical joint name -> target bone name


@dataclass(frozen=True)
class MapPreset:
    """check_hierarchy: refuse the preset when its bones contradict the human hierarchy
    (structure_problems); priority: breaks ties in coverage (higher first)."""

    name: str
    description: str
    prefixes: tuple[str, ...]
    names: dict[str, str]
    check_hierarchy: bool = True
    priority: int = 0


def list_map_presets() -> list[MapPreset]:
    """The shipped bone-map presets (maps/*.json), sorted by name."""
    folder = resources.files(__package__) / "maps"
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            d = json.loads(entry.read_text(encoding="utf-8"))
            out.append(MapPreset(d["name"], d.get("description", ""), tuple(d.get("prefixes", [""])), dict(d["names"]),
                                 bool(d.get("check_hierarchy", True)), int(d.get("priority", 0))))
    return out


def _namespace(names: tuple[str, ...]) -> str:
    """A `name:` prefix shared by most bones (Mixamo's `mixamorig:`, `mixamorig1:` ...), else ''."""
    heads = [n.split(":", 1)[0] + ":" for n in names if ":" in n]
    if not heads:
        return ""
    best = max(set(heads), key=heads.count)
    return best if heads.count(best) >= 0.5 * len(names) else ""


def preset_map(rig: ArmatureRig, preset: MapPreset) -> BoneMap:
    """The bones of `rig` that `preset` names (with its best-fitting prefix and the rig's namespace)."""
    present = set(rig.names)
    ns = _namespace(rig.names)
    best: BoneMap = {}
    for prefix in preset.prefixes:
        for space in {ns, ""}:
            found = {c: space + prefix + t for c, t in preset.names.items() if space + prefix + t in present}
            if len(found) > len(best):
                best = found
    return best


def missing_required(bone_map: BoneMap) -> list[str]:
    return [c for c in REQUIRED if not bone_map.get(c)]


_CANONICAL_PARENT = {
    "Spine": "Hips", "Spine1": "Spine", "Spine2": "Spine1", "Neck": "Spine2", "Head": "Neck",
    **{f"{s}{c}": f"{s}{p}" if p else "Spine2" for s in ("Left", "Right") for c, p in
       (("Shoulder", None), ("Arm", "Shoulder"), ("ForeArm", "Arm"), ("Hand", "ForeArm"))},
    **{f"{s}{c}": f"{s}{p}" if p else "Hips" for s in ("Left", "Right") for c, p in
       (("UpLeg", None), ("Leg", "UpLeg"), ("Foot", "Leg"), ("ToeBase", "Foot"))},
}
_MAY_BE_CARRIED = ("Hand", "Foot", "ToeBase")  # IK rigs parent these to a root bone


def structure_problems(rig: ArmatureRig, bone_map: BoneMap) -> list[str]:
    """Pairs whose bones contradict the canonical hierarchy: a mapped joint's bone must lie below
    the bone of its nearest mapped canonical ancestor (hands, feet and toes may hang elsewhere)."""
    problems = []
    index = {c: rig.names.index(t) for c, t in bone_map.items() if t in rig.names}
    for c, b in index.items():
        if c.endswith(_MAY_BE_CARRIED):
            continue
        p = _CANONICAL_PARENT.get(c)
        while p is not None and p not in index:
            p = _CANONICAL_PARENT.get(p)
        if p is not None and index[p] not in rig.ancestors(b):
            problems.append(f"{c} ({bone_map[c]}) is not below {p} ({bone_map[p]})")
    return problems


def detect_preset(rig: ArmatureRig) -> tuple[MapPreset | None, BoneMap]:
    """The preset covering the most bones of `rig` among those that find every required joint
    in a hierarchy that agrees with the canonical one (structure_problems)."""
    best: tuple[MapPreset | None, BoneMap] = (None, {})
    for preset in sorted(list_map_presets(), key=lambda p: -p.priority):
        found = preset_map(rig, preset)
        if missing_required(found) or (preset.check_hierarchy and structure_problems(rig, found)):
            continue
        if len(found) > len(best[1]):
            best = (preset, found)
    return best


def words(name: str) -> list[str]:
    """Lower-case words of a bone name: 'mixamorig:LeftForeArm' -> ['mixamorig', 'left', 'fore', 'arm']."""
    name = name.split(":", 1)[1] if ":" in name else name
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [w for w in re.split(r"[\s._\-:|]+", spaced.lower()) if w]


def side_and_key(name: str) -> tuple[str | None, str, list[str]]:
    """(side 'Left'/'Right'/None, key: the remaining words joined, the remaining words)."""
    side = None
    rest = []
    for w in words(name):
        if w in ("l", "left") and side is None:
            side = "Left"
        elif w in ("r", "right") and side is None:
            side = "Right"
        elif w not in _NOISE_WORDS:
            rest.append(w)
    return side, "".join(rest), rest


def _excluded(rest_words: list[str]) -> bool:
    return any(w in _EXCLUDE_WORDS or w.rstrip("0123456789") in _EXCLUDE_WORDS for w in rest_words)


def _lca(rig: ArmatureRig, a: int, b: int) -> int:
    chain_a = [a] + rig.ancestors(a)
    chain_b = set([b] + rig.ancestors(b))
    return next((x for x in chain_a if x in chain_b), -1)


def _is_below(rig: ArmatureRig, child: int, parent: int) -> bool:
    return parent in rig.ancestors(child)


def _up_axis(rig: ArmatureRig, hips: int, chest: int) -> np.ndarray:
    d = rig.head[chest] - rig.head[hips]
    return d / max(np.linalg.norm(d), 1e-12)


def auto_map(rig: ArmatureRig) -> BoneMap:
    """Map canonical joints onto `rig` from bone names and hierarchy (see the module docstring).

    Returns what it could find (possibly incomplete: check missing_required)."""
    info = [side_and_key(n) for n in rig.names]
    found: BoneMap = {}
    index_of: dict[str, int] = {}
    for side in ("Left", "Right"):
        for chain in LIMB_CHAINS:
            above: int | None = None
            for role in chain:
                choice = None
                # Prefer a bone below the previous segment; IK-style rigs parent feet and hands
                # elsewhere (to a root bone), so a named bone anywhere is the fallback.
                for below_only in (True, False):
                    for key in ROLE_WORDS[role]:
                        cands = [b for b, (s, k, rest) in enumerate(info)
                                 if s == side and k == key and not _excluded(rest)
                                 and b not in index_of.values()
                                 and (above is None or not below_only or _is_below(rig, b, above))]
                        if cands:
                            choice = min(cands, key=lambda b: len(rig.ancestors(b)))  # the top one of a run
                            break
                    if choice is not None:
                        break
                if choice is not None:
                    found[side + role] = rig.names[choice]
                    index_of[side + role] = choice
                    above = choice
    # Fill a limb segment missing between two found ones (a chain of one bone between them).
    for side in ("Left", "Right"):
        for chain in LIMB_CHAINS:
            for a, m, b in zip(chain, chain[1:], chain[2:]):
                if side + m not in index_of and side + a in index_of and side + b in index_of:
                    path = [x for x in rig.ancestors(index_of[side + b]) if _is_below(rig, x, index_of[side + a])]
                    if len(path) >= 1:
                        pick = path[-1]
                        found[side + m] = rig.names[pick]
                        index_of[side + m] = pick
    # Trunk from the hierarchy.
    if "LeftUpLeg" in index_of and "RightUpLeg" in index_of:
        hips = _lca(rig, index_of["LeftUpLeg"], index_of["RightUpLeg"])
        if hips >= 0:
            found["Hips"] = rig.names[hips]
            index_of["Hips"] = hips
    arm_keys = ("LeftShoulder", "RightShoulder") if "LeftShoulder" in index_of and "RightShoulder" in index_of \
        else ("LeftArm", "RightArm")
    if all(k in index_of for k in arm_keys) and "Hips" in index_of:
        chest = _lca(rig, index_of[arm_keys[0]], index_of[arm_keys[1]])
        if chest >= 0 and chest != index_of["Hips"] and _is_below(rig, chest, index_of["Hips"]):
            found["Spine2"] = rig.names[chest]
            index_of["Spine2"] = chest
            hips = index_of["Hips"]
            between = [x for x in reversed(rig.ancestors(chest)) if _is_below(rig, x, hips)]
            up = _up_axis(rig, hips, chest)
            span = float(np.dot(rig.head[chest] - rig.head[hips], up))
            frac = {x: float(np.dot(rig.head[x] - rig.head[hips], up)) / max(span, 1e-12) for x in between}
            used: list[int] = []
            for canon in ("Spine", "Spine1"):
                free = [x for x in between if x not in used and (not used or between.index(x) > between.index(used[-1]))]
                if free:
                    pick = min(free, key=lambda x: abs(frac[x] - _SPINE_FRACTIONS[canon]))
                    found[canon] = rig.names[pick]
                    used.append(pick)
            # Neck and head: by name below the chest, else the chain going up from the chest.
            limb_bones = {index_of[k] for k in index_of if k.startswith(("Left", "Right"))}
            above_chest = [b for b in range(rig.n_bones) if _is_below(rig, b, chest)
                           and not any(_is_below(rig, b, lb) or b == lb for lb in limb_bones)]
            for canon, key in (("Neck", "neck"), ("Head", "head")):
                named = [b for b in above_chest if info[b][0] is None and info[b][1].rstrip("0123456789") == key]
                if named:
                    pick = min(named, key=lambda b: len(rig.ancestors(b)))
                    found[canon] = rig.names[pick]
                    index_of[canon] = pick
            if "Neck" not in index_of or "Head" not in index_of:
                chain = []
                cur = chest
                while True:
                    kids = [c for c in rig.children(cur) if c in above_chest and info[c][0] is None]
                    if not kids:
                        break
                    cur = max(kids, key=lambda c: float(np.dot(rig.tail[c] - rig.head[c], up)))
                    chain.append(cur)
                if "Neck" not in index_of and chain:
                    found["Neck"] = rig.names[chain[0]]
                    index_of["Neck"] = chain[0]
                if "Head" not in index_of and len(chain) >= 2:
                    found["Head"] = rig.names[chain[1]]
    return {c: found[c] for c in CANONICAL if c in found}


def map_armature(rig: ArmatureRig) -> tuple[str, BoneMap]:
    """(how it was found: a preset name or 'auto', the bone map). RetargetError if neither a
    preset nor the automatic mapping finds every required joint."""
    preset, found = detect_preset(rig)
    if preset is not None:
        return preset.name, found
    found = auto_map(rig)
    missing = missing_required(found)
    if missing:
        raise RetargetError(
            f"armature {rig.name!r}: could not find bones for {', '.join(missing)}; "
            "fill them in the bone map (or load one saved as JSON)"
        )
    return "auto", found


def check_map(bone_map: BoneMap, rig: ArmatureRig) -> BoneMap:
    """The map with empty entries dropped; RetargetError for unknown joints or bones, a bone used
    twice, or a required joint missing."""
    clean = {c: t for c, t in bone_map.items() if t}
    unknown = [c for c in clean if c not in CANONICAL]
    if unknown:
        raise RetargetError(f"bone map: {unknown[0]!r} is not one of mocap's joints ({', '.join(CANONICAL)})")
    absent = [t for t in clean.values() if t not in rig.names]
    if absent:
        raise RetargetError(f"bone map: armature {rig.name!r} has no bone {absent[0]!r}")
    seen: dict[str, str] = {}
    for c, t in clean.items():
        if t in seen:
            raise RetargetError(f"bone map: bone {t!r} is given to both {seen[t]} and {c}")
        seen[t] = c
    missing = missing_required(clean)
    if missing:
        raise RetargetError(f"bone map for {rig.name!r}: no bone for {', '.join(missing)}")
    return clean


def save_map(bone_map: BoneMap, path: str | Path, armature: str = "") -> Path:
    """Write the map as JSON (`mocap-bonemap/1`)."""
    path = Path(path)
    data = {"format": BONEMAP_FORMAT, "armature": armature,
            "bones": {c: bone_map.get(c, "") for c in CANONICAL}}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def load_map(path: str | Path) -> BoneMap:
    """Read a map written by save_map; RetargetError naming the file if it is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RetargetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise RetargetError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != BONEMAP_FORMAT or not isinstance(data.get("bones"), dict):
        raise RetargetError(f"{path}: not a mocap bone map (expected format {BONEMAP_FORMAT!r})")
    bones = {str(k): str(v) for k, v in data["bones"].items()}
    unknown = [k for k in bones if k not in CANONICAL]
    if unknown:
        raise RetargetError(f"{path}: {unknown[0]!r} is not one of mocap's joints")
    return {c: bones[c] for c in CANONICAL if bones.get(c)}
