#!/usr/bin/env bash
# Install the independent readers used by the tests (idempotent):
#   - assimp command line (Debian/Ubuntu package assimp-utils), only if `assimp` is missing;
#   - Chromium (Debian package chromium), only if `chromium` is missing: renders the HTML
#     report headless in tests/test_report.py;
#   - Blender as an executable (Debian package blender, 3.4, with python3-numpy), only if
#     `blender` is missing: `--blender PATH` / `blender` on PATH in tests/test_fbx_glb.py
#     (the tests' other Blender is the bpy module, 5.0.1, in the virtualenv);
#   - three.js (pinned in tests/readers/package-lock.json) under tests/readers/node_modules.
# Needs: node >= 18 and npm on PATH; apt-get (as root or via sudo) for what is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."

# apt_install CHECK PACKAGE...: install the Debian packages unless CHECK (a shell test) passes.
apt_install() {
    local check=$1; shift
    eval "$check" && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-readers: $* missing and apt-get is not available; install them by hand" >&2
        exit 1
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get install -y --no-install-recommends "$@" \
        || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "$@"; }
}

apt_install "command -v assimp >/dev/null 2>&1" assimp-utils
apt_install "command -v chromium >/dev/null 2>&1" chromium
# Debian's Blender runs on the system Python, whose numpy its glTF exporter needs (Blender's
# own builds bundle numpy; Debian's package does not depend on it).
apt_install "command -v blender >/dev/null 2>&1 && /usr/bin/python3 -c 'import numpy' 2>/dev/null" blender python3-numpy

if ! command -v npm >/dev/null 2>&1; then
    echo "install-readers: npm is missing; install Node.js >= 18 with npm" >&2
    exit 1
fi
lock_stamp="tests/readers/node_modules/.package-lock.json"
if [ ! -f "$lock_stamp" ] || [ tests/readers/package-lock.json -nt "$lock_stamp" ]; then
    npm ci --prefix tests/readers --no-audit --no-fund
fi

assimp version | head -n 1
chromium --version
blender --version 2>/dev/null | head -n 1
node -e "import('three').then(t => console.log('three r' + t.REVISION))" --input-type=module 2>/dev/null \
    || (cd tests/readers && node --input-type=module -e "import('three').then(t => console.log('three r' + t.REVISION))")
