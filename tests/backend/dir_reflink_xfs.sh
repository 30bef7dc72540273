#!/usr/bin/env bash
# System test: the dir backend's reflink path on a real XFS (mkfs.xfs -m reflink=1, loop
# mount). Usage: dir_reflink_xfs.sh PATH/TO/vbs_dir_xfs_test
# Needs root; a missing tool is installed, or the test fails (it never skips).
# The file system is unmounted and its image removed whatever happens.
set -euo pipefail
bin=${1:?usage: $0 vbs_dir_xfs_test}
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" != 0 ]; then
  echo "FAIL: needs root for mkfs + loop mount (the suite runs as root)" >&2
  exit 1
fi
"$here/../../scripts/install-deps.sh" backend
for tool in mkfs.xfs filefrag mount umount; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool missing after install-deps" >&2; exit 1; }
done

work=$(mktemp -d /tmp/vbs-xfs-XXXXXX)
mnt="$work/mnt"
cleanup() {
  if mountpoint -q "$mnt" 2>/dev/null; then
    umount "$mnt" 2>/dev/null || umount -l "$mnt" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

mkdir "$mnt"
truncate -s 1G "$work/xfs.img"  # sparse: costs only what XFS writes
mkfs.xfs -q -f -m reflink=1 "$work/xfs.img"
mount -o loop "$work/xfs.img" "$mnt"

VBS_XFS_POOL_DIR="$mnt" "$bin"

# An independent witness of the sharing, beside the test's own FIEMAP check.
snap="$mnt/SnapshotAndCloneAreReflinks/snapshots/snap-00000000000000001.img"
[ -f "$snap" ] || { echo "FAIL: $snap missing" >&2; exit 1; }
report=$(filefrag -v "$snap")
echo "$report"
if ! grep -q shared <<<"$report"; then
  echo "FAIL: filefrag shows no shared extents in the snapshot" >&2
  exit 1
fi
echo "PASS: snapshots and clones are reflinks on XFS"
