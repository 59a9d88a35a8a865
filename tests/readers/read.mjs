// Independent reader: load an FBX, GLB or BVH file with three.js's own loaders under Node and
// print what they see as JSON on stdout:
//   {"loader": "...", "bones": [{"name", "parent"}], "clips": [{"name", "duration_s", "tracks",
//    "keys", "times": [first, second, last]}], "rest": {bone: [x, y, z]}, "positions": {...}}
// "rest": every bone's world position as loaded, before any animation is applied (the file's
// default node transforms).
// Usage: node read.mjs FILE [--frames N]   (N: also print world positions of every bone at the
// first N keyframe times, metres as the file stores them after the loader's own conversions)
import { readFileSync } from 'node:fs';
import { extname, dirname } from 'node:path';
import * as THREE from 'three';
import { FBXLoader } from 'three/examples/jsm/loaders/FBXLoader.js';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { BVHLoader } from 'three/examples/jsm/loaders/BVHLoader.js';

// No browser shims needed (Node >= 18, three r187): FBXLoader/GLTFLoader `parse()` take an
// ArrayBuffer and only reach for DOM/image APIs when a file has textures, which ours never do.

function arrayBuffer(path) {
  const buf = readFileSync(path);
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

async function load(path) {
  const ext = extname(path).toLowerCase();
  if (ext === '.fbx') {
    const group = new FBXLoader().parse(arrayBuffer(path), dirname(path) + '/');
    return { loader: 'FBXLoader', root: group, clips: group.animations };
  }
  if (ext === '.glb' || ext === '.gltf') {
    const gltf = await new Promise((resolve, reject) =>
      new GLTFLoader().parse(arrayBuffer(path), dirname(path) + '/', resolve, reject));
    return { loader: 'GLTFLoader', root: gltf.scene, clips: gltf.animations };
  }
  if (ext === '.bvh') {
    const result = new BVHLoader().parse(readFileSync(path, 'utf8'));
    // BVHLoader keeps names as written but names its tracks "<bone>.<property>", which the
    // mixer cannot bind when a name holds ':' or '.' (Mixamo's "mixamorig:Hips"). Sanitise
    // bone and track names the way FBXLoader/GLTFLoader do, and report the file's names.
    const clean = THREE.PropertyBinding.sanitizeNodeName;
    for (const bone of result.skeleton.bones) {
      bone.userData.fileName = bone.name;
      bone.name = clean(bone.name);
    }
    for (const track of result.clip.tracks) {
      const dot = track.name.lastIndexOf('.');
      track.name = clean(track.name.slice(0, dot)) + track.name.slice(dot);
    }
    const root = new THREE.Group();
    root.add(result.skeleton.bones[0]);
    return { loader: 'BVHLoader', root, clips: [result.clip] };
  }
  throw new Error(`unsupported file type: ${path}`);
}

function fileName(bone) {
  return bone.userData.fileName ?? bone.name;
}

function boneList(root) {
  const bones = [];
  root.traverse((o) => {
    if (o.isBone) bones.push({ name: fileName(o), parent: o.parent && o.parent.isBone ? fileName(o.parent) : null });
  });
  return bones;
}

function samplePositions(root, clip, nFrames) {
  const times = clip.tracks.length ? clip.tracks[0].times : [];
  const mixer = new THREE.AnimationMixer(root);
  const action = mixer.clipAction(clip);
  action.setLoop(THREE.LoopOnce, 1); // sample the last key itself, not the wrap-around to the first
  action.clampWhenFinished = true;
  action.play();
  const bones = [];
  root.traverse((o) => { if (o.isBone) bones.push(o); });
  const out = {};
  for (const b of bones) out[fileName(b)] = [];
  const v = new THREE.Vector3();
  for (let i = 0; i < Math.min(nFrames, times.length); i++) {
    mixer.setTime(times[i]);
    root.updateMatrixWorld(true);
    for (const b of bones) out[fileName(b)].push(b.getWorldPosition(v).toArray());
  }
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  const path = args[0];
  const nFrames = args.includes('--frames') ? Number(args[args.indexOf('--frames') + 1]) : 0;
  const { loader, root, clips } = await load(path);
  root.updateMatrixWorld(true);
  const rest = {};
  const v = new THREE.Vector3();
  root.traverse((o) => { if (o.isBone) rest[fileName(o)] = o.getWorldPosition(v).toArray(); });
  const report = {
    loader,
    rest,
    three: THREE.REVISION,
    bones: boneList(root),
    clips: clips.map((c) => {
      const times = c.tracks.length ? Array.from(c.tracks[0].times) : [];
      return {
        name: c.name, duration_s: c.duration, tracks: c.tracks.length, keys: times.length,
        times: times.length ? [times[0], times[1] ?? times[0], times[times.length - 1]] : [],
      };
    }),
  };
  if (nFrames > 0 && clips.length) report.positions = samplePositions(root, clips[0], nFrames);
  process.stdout.write(JSON.stringify(report));
}

main().catch((err) => { process.stderr.write(`${err.stack || err}\n`); process.exit(1); });
