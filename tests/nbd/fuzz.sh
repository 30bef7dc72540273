#!/usr/bin/env bash
# Builds the NBD libFuzzer target (src/nbd/nbd_fuzz.cc) with clang in its own build tree and
# runs it for a bounded time (VBS_NBD_FUZZ_SECONDS, default 45) from the seed corpus. Any
# crash, sanitizer report, leak or timeout fails the test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
"$repo/scripts/install-deps.sh" nbd
command -v clang++-14 >/dev/null || { echo "FAIL: clang++-14 missing" >&2; exit 1; }
build=${FUZZ_BUILD_DIR:-$repo/build-nbd-fuzz}
seconds=${VBS_NBD_FUZZ_SECONDS:-45}
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DVBS_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target vbs_nbd_fuzz -j2
scratch=$(mktemp -d /tmp/vbs-nbd-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
"$build/src/vbs_nbd_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 "$scratch" "$repo/src/nbd/fuzz_corpus"
echo PASS
