#!/usr/bin/env bash
# Runs the RbdBackend tests (rbd_backend_test.cc) against a fresh micro-ceph cluster.
# Fails (never skips) when Ceph cannot be installed or started.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
test_bin=$1
bash "$here/../../scripts/install-deps.sh" ceph
dir=$(mktemp -d /tmp/vbs-ceph-XXXXXX)
trap '"$here/micro-ceph.sh" stop "$dir"; rm -rf "$dir"' EXIT
out=$("$here/micro-ceph.sh" start "$dir") || { echo "rbd_backend: Ceph did not start" >&2; exit 1; }
eval "$out"
export CEPH_CONF CEPH_POOL
"$test_bin"
