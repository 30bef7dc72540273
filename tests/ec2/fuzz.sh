#!/usr/bin/env bash
# Builds the EC2-face libFuzzer target (src/api/ec2/ec2_fuzz.cc: form parameters, filters,
# SigV4 header and presigned parsing, pagination tokens, wildcards) with clang in its own build
# tree and runs it for a bounded time (VBS_EC2_FUZZ_SECONDS, default 30) from the seed corpus.
# Any crash, sanitizer report, leak or timeout fails the test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
"$repo/scripts/install-deps.sh" ec2
command -v clang++-14 >/dev/null || { echo "FAIL: clang++-14 missing" >&2; exit 1; }
build=${FUZZ_BUILD_DIR:-$repo/build-ec2-fuzz}
seconds=${VBS_EC2_FUZZ_SECONDS:-30}
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DVBS_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target vbs_ec2_fuzz -j2
scratch=$(mktemp -d /tmp/vbs-ec2-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
"$build/src/vbs_ec2_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 "$scratch" "$repo/src/api/ec2/fuzz_corpus"
echo PASS
