"""Pictures for docs/addon.md, rendered headless with bpy: the source motion (mocap's own
skeleton, drawn as bone sticks) beside two CC0 characters it was retargeted onto by the add-on's
own code, on the same frames.

    python scripts/render_addon_pictures.py MOTION.json CHARACTERS_DIR OUT_DIR [FRAME ...]

MOTION.json comes from `mocap convert VIDEO --format json`; CHARACTERS_DIR holds the
Quaternius Adventurer.gltf and SciFi.gltf (../shared/data/characters/quaternius_modular_women).
"""

from __future__ import annotations

import sys
from pathlib import Path

import bpy
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def load_addon():
    """The add-on as built by `make addon`, imported as a package (its bpy layer and vendored maths)."""
    import importlib
    import tempfile
    import zipfile

    from build_addon import build

    tmp = Path(tempfile.mkdtemp(prefix="mocap-pictures-"))
    with zipfile.ZipFile(build(tmp / "dist", blender="/nonexistent")) as zf:
        zf.extractall(tmp / "mocap_addon")
    sys.path.insert(0, str(tmp))
    addon = importlib.import_module("mocap_addon")
    addon.register()
    return addon


def stick_mesh(arm) -> None:
    """A mesh of thin four-sided sticks, one per bone, skinned to it, so the skeleton renders."""
    verts, faces, groups = [], [], []
    for bone in arm.data.bones:
        h, t = np.array(bone.head_local), np.array(bone.tail_local)
        m = np.array(bone.matrix_local.to_3x3())
        r = 0.018
        ring = [h + 0.25 * (t - h) + r * (m[:, 0] * np.cos(a) + m[:, 2] * np.sin(a)) for a in np.arange(4) * np.pi / 2]
        base = len(verts)
        verts += [h, *ring, t]
        for k in range(4):
            faces += [(base, base + 1 + k, base + 1 + (k + 1) % 4), (base + 5, base + 1 + (k + 1) % 4, base + 1 + k)]
        groups.append((bone.name, list(range(base, base + 6))))
    mesh = bpy.data.meshes.new(f"{arm.name}_sticks")
    mesh.from_pydata([tuple(v) for v in verts], [], faces)
    obj = bpy.data.objects.new(mesh.name, mesh)
    bpy.context.collection.objects.link(obj)
    for name, idx in groups:
        obj.vertex_groups.new(name=name).add(idx, 1.0, "REPLACE")
    obj.parent = arm
    obj.modifiers.new("Armature", "ARMATURE").object = arm


def main() -> None:
    motion_path, characters, out_dir = sys.argv[1:4]
    frames = [int(f) for f in sys.argv[4:]] or [20, 60, 100]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon = load_addon()
    ops = sys.modules["mocap_addon.operators"]
    context = bpy.context
    placed = []
    for x, name in ((-1.0, None), (0.0, "Adventurer"), (1.0, "SciFi")):
        if name is None:
            for o in context.scene.objects:
                o.select_set(False)
            arm, _, _, how = ops.apply_motion(context, motion_path)
            stick_mesh(arm)
        else:
            before = set(context.scene.objects)
            bpy.ops.import_scene.gltf(filepath=str(Path(characters) / f"{name}.gltf"))
            new = [o for o in context.scene.objects if o not in before]
            arm = next(o for o in new if o.type == "ARMATURE")
            arm.animation_data.action = None
            for o in context.scene.objects:
                o.select_set(False)
            arm.select_set(True)
            context.view_layer.objects.active = arm
            _, _, anim, how = ops.apply_motion(context, motion_path)
        arm.location.x += x
        placed.append((arm.name, how))
    scene = context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "MATERIAL"
    scene.render.resolution_x, scene.render.resolution_y = 960, 540
    scene.render.film_transparent = False
    scene.render.image_settings.file_format = "JPEG"
    scene.render.image_settings.quality = 85
    cam_data = bpy.data.cameras.new("cam")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = 3.8
    cam = bpy.data.objects.new("cam", cam_data)
    scene.collection.objects.link(cam)
    cam.location = (0.0, -6.0, 0.95)
    cam.rotation_euler = (np.radians(90.0), 0.0, 0.0)
    scene.camera = cam
    world = bpy.data.worlds.new("w")
    scene.world = world
    for f in frames:
        scene.frame_set(f)
        scene.render.filepath = str(out / f"addon_retarget_f{f:03d}.jpg")
        bpy.ops.render.render(write_still=True)
    print("rendered", frames, placed)
    addon.unregister()


if __name__ == "__main__":
    main()
