#!/usr/bin/env bash
# Installs every dependency (Debian packages), builds VBS twice — optimized, and with
# AddressSanitizer + UndefinedBehaviorSanitizer — and runs the whole suite with CTest:
# unit tests and system tests against real peers on the optimized build, unit tests and the
# tests labelled "asan" on the sanitizer build. Exits non-zero if anything fails.
# Arguments are passed to both ctest runs (e.g. -R nbd, -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
scripts/install-deps.sh all

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVBS_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"

status=0
echo "=== optimized build: all tests ==="
ctest --test-dir build --output-on-failure --timeout 900 "$@" || status=1
echo "=== ASan+UBSan build: unit and asan-labelled tests ==="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure --timeout 900 -L 'unit|asan' "$@" || status=1
exit $status
