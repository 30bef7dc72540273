#!/usr/bin/env bash
# How long a snapshot of an attached volume holds its writes (design.md §5), on ext4 (the
# backend copies the allocated data: the hold lasts the copy) and on XFS with reflinks (the
# hold is a clone: constant time). A 1 GiB volume is attached to the node (host target),
# filled through its NBD URI, then snapshotted N times while a writer keeps rewriting it
# through NBD; the agent logs each hold ("held the writes of 1 export(s) for X ms").
#
# Usage: VBSD=build/src/bin/vbsd VBS=build/src/bin/vbs bench/snapshot_pause/run.sh [N]
#        WRITER=0 …: no writer during the snapshots (the volume's data is then already flushed)
# Needs root (XFS loop mount). Prints a markdown table.
. "$(dirname "$0")/../../tests/system/lib.sh"
t_init snapshot_pause
N=${1:-3}
GiB=1073741824
for t in nbdcopy mkfs.xfs; do command -v $t >/dev/null || fail "$t missing (scripts/install-deps.sh system)"; done
head -c $GiB /dev/urandom >"$T/fill"
truncate -s 4G "$T/xfs.img"
mkfs.xfs -q -f -m reflink=1 "$T/xfs.img"
mkdir -p "$T/xfs"
mount -o loop "$T/xfs.img" "$T/xfs"
T_MOUNTS+=("$T/xfs")

WRITER=${WRITER:-1}
echo "| file system | writer during snapshot | snapshot hold of writes (ms), $N runs | snapshot wall time (s) |"
echo "|---|---|---|---|"
for fs in ext4 xfs-reflink; do
  case $fs in ext4) DATA=$T/ext4/vbs ;; xfs-reflink) DATA=$T/xfs/vbs ;; esac
  mkdir -p "$DATA"
  vbsd_start --pool-capacity 16G
  vbsc -o json volume create --size 1G --wait; V=$(jf .id "$OUT")
  vbsc -o json attach "$V" "host-local" --wait; URI=$(jf .nbd_uri "$OUT")
  nbdcopy "$T/fill" "$URI" || fail "filling the volume"
  # A writer that keeps rewriting the volume while snapshots are taken.
  writer=""
  if [ "$WRITER" = 1 ]; then
    (while :; do nbdcopy --request-size=65536 "$T/fill" "$URI" 2>/dev/null || break; done) &
    writer=$!
  else
    sync
  fi
  walls=()
  for _ in $(seq "$N"); do
    s=$(date +%s.%N)
    vbsc -o json snapshot create "$V" --wait; assert_rc 0 "snapshot"
    walls+=("$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')")
  done
  if [ -n "$writer" ]; then kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null || true; fi
  holds=$(grep -oE "held the writes of 1 export\(s\) for [0-9.]+ ms" "$T/vbsd.$VBSD_LOGN.log" |
    awk '{print $(NF-1)}' | paste -sd, | sed 's/,/, /g')
  echo "| $fs | $([ "$WRITER" = 1 ] && echo "nbdcopy rewriting the 1 GiB" || echo "none (1 GiB written before)") | $holds | ${walls[*]} |"
  vbsc detach "$V" --wait >/dev/null
  vbsd_stop
done
