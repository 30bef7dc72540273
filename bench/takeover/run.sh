#!/usr/bin/env bash
# Takeover time after a node stops (issue 11): how long from `kill -STOP` of the agent that
# serves an rw-attached volume of a shared pool until its attachment has ended by itself and
# the volume can be attached on another node, and the same for a network partition of the
# agent. Runs tests/ha/fencing.sh with ROUNDS pauses (default 10) and one partition, at its
# node_timeout of 6 s (lease 4 s, renewed every second, margin 2 s), and prints p50 and max.
# Usage: bench/takeover/run.sh [ROUNDS]   (needs a build: build/src/bin/vbsd and vbs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
rounds=${1:-10}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
VBSD=${VBSD:-$repo/build/src/bin/vbsd} VBS=${VBS:-$repo/build/src/bin/vbs} \
  PAUSE_ROUNDS=$rounds TAKEOVER_TIMES_OUT=$out bash "$repo/tests/ha/fencing.sh" >&2
python3 - "$out" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print("| cut | runs | p50 (s) | max (s) |")
print("|---|---:|---:|---:|")
for kind in ("pause", "partition"):
    t = sorted(float(r[1]) for r in rows if r[0] == kind)
    if t:
        print("| %s | %d | %.1f | %.1f |" % (kind, len(t), statistics.median(t), max(t)))
PY
