"""Writers: Motion -> file. BVH is pure Python; FBX and GLB go through Blender (bpy)."""
