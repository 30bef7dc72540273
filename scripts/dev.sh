#!/usr/bin/env bash
# Installs the build dependencies (Debian packages), builds VBS and starts `vbsd dev`: the
# control plane and a node agent in one process on SQLite, a dir pool and a fresh CA, all
# under ./var/vbs (override with VBS_DATA_DIR). It prints how to use it; Ctrl-C stops it.
# Extra arguments go to `vbsd dev` (e.g. --listen 0.0.0.0:8443 --pool-capacity 2T).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target vbsd vbs
exec build/src/bin/vbsd dev --data-dir "${VBS_DATA_DIR:-./var/vbs}" "$@"
