#!/usr/bin/env bash
# Install the independent readers used by the tests (idempotent):
#   - assimp command line (Debian/Ubuntu package assimp-utils), only if `assimp` is missing;
#   - Chromium (Debian package chromium), only if `chromium` is missing: renders the HTML
#     report headless in tests/test_report.py;
#   - three.js (pinned in tests/readers/package-lock.json) under tests/readers/node_modules.
# Needs: node >= 18 and npm on PATH; apt-get (as root or via sudo) when assimp is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."

if ! command -v assimp >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
        $SUDO apt-get install -y --no-install-recommends assimp-utils \
            || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends assimp-utils; }
    else
        echo "install-readers: 'assimp' is missing and apt-get is not available; install assimp-utils (or assimp) by hand" >&2
        exit 1
    fi
fi

if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
        $SUDO apt-get install -y --no-install-recommends chromium \
            || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends chromium; }
    else
        echo "install-readers: 'chromium' is missing and apt-get is not available; install Chromium by hand" >&2
        exit 1
    fi
fi

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
node -e "import('three').then(t => console.log('three r' + t.REVISION))" --input-type=module 2>/dev/null \
    || (cd tests/readers && node --input-type=module -e "import('three').then(t => console.log('three r' + t.REVISION))")
