#!/usr/bin/env bash
# System test: vbsd dev with its data dir on a real XFS made with reflink (mkfs.xfs -m
# reflink=1 on a sparse file, loop mount): snapshots and volumes from snapshots are reflinks —
# byte-identical to their source, with extents shared (filefrag -v "shared"), and copy-on-write
# (writing the volume afterwards leaves the snapshot as it was). Needs root (CI runs as root);
# the file system is unmounted whatever happens.
. "$(dirname "$0")/lib.sh"
t_init xfs_reflink
MiB=1048576
[ "$(id -u)" = 0 ] || fail "needs root for mkfs.xfs + mount -o loop (CI runs as root)"
for tool in mkfs.xfs mount umount mountpoint filefrag xfs_io; do
  command -v "$tool" >/dev/null || fail "$tool is missing after scripts/install-deps.sh system"
done

truncate -s 3G "$T/xfs.img"
mkfs.xfs -q -f -m reflink=1 "$T/xfs.img"
mkdir -p "$T/mnt"
mount -o loop "$T/xfs.img" "$T/mnt"
T_MOUNTS+=("$T/mnt")
DATA=$T/mnt/vbs
vbsd_start
as_admin
shared_extents() { filefrag -v "$1" | grep -c shared || true; }
used_kb() { df -k --output=used "$T/mnt" | tail -1 | tr -d ' '; }

# --- a volume with real data ----------------------------------------------------------------------
vbsc -o json volume create --size 256M --name x --wait
assert_rc 0 "create on XFS"
V=$(jf .id "$OUT")
F=$(vol_file "$V")
write_pattern "$F" 0 $((40 * MiB)) x1
write_pattern "$F" $((100 * MiB + 4096)) $((24 * MiB)) x2
write_pattern "$F" $((256 * MiB - 65536)) 65536 x3
sync
assert_eq 0 "$(shared_extents "$F")" "shared extents before any snapshot"
VSUM=$(sha256sum <"$F")

# --- snapshot: a reflink -----------------------------------------------------------------------------
before=$(used_kb)
vbsc -o json snapshot create "$V" --wait
assert_rc 0 "snapshot on XFS"
S=$(jf .id "$OUT")
SF=$(snap_file "$S")
assert_eq completed "$(jf .state "$OUT")" "snapshot state"
assert_eq 100 "$(jf .progress "$OUT")" "snapshot progress"
assert_same "$F" "$SF" "snapshot vs volume"
sync
n=$(shared_extents "$SF")
[ "$n" -ge 1 ] || fail "snapshot $SF: expected shared extents (a reflink), filefrag -v shows none: $(filefrag -v "$SF")"
n=$(shared_extents "$F")
[ "$n" -ge 1 ] || fail "volume $F: expected its extents to be shared with the snapshot"
xfs_io -r -c 'fiemap -v' "$SF" >"$T/fiemap" || fail "xfs_io fiemap failed"
grep -q '0x2000' "$T/fiemap" || fail "xfs_io fiemap shows no SHARED (0x2000) flag: $(cat "$T/fiemap")"
after=$(used_kb)
grew=$((after - before))
[ $grew -lt $((16 * 1024)) ] ||
  fail "a snapshot of 64M of data should share its blocks: the file system grew by $grew KiB"
log "snapshot: $(shared_extents "$SF") shared extents, file system grew by $grew KiB"

# --- copy-on-write: writing the volume leaves the snapshot alone ---------------------------------
write_pattern "$F" $((10 * MiB)) $((2 * MiB)) changed
sync
assert_eq "$VSUM" "$(sha256sum <"$SF")" "snapshot after the volume was written (copy-on-write)"
assert_ne "$VSUM" "$(sha256sum <"$F")" "the volume itself changed"

# --- volumes from the snapshot: same size and larger -------------------------------------------
vbsc -o json volume create --snapshot "$S" --wait
assert_rc 0 "clone on XFS"
C1=$(vol_file "$(jf .id "$OUT")")
assert_eq "$VSUM" "$(sha256sum <"$C1")" "clone vs the snapshot's data"
sync
n=$(shared_extents "$C1")
[ "$n" -ge 1 ] || fail "clone $C1: expected shared extents, filefrag -v shows none"

vbsc -o json volume create --snapshot "$S" --size 1G --wait
assert_rc 0 "larger clone on XFS"
C2=$(vol_file "$(jf .id "$OUT")")
assert_eq $((1024 * MiB)) "$(stat -c %s "$C2")" "larger clone file size"
r=$(cmp -n $((256 * MiB)) "$SF" "$C2" 2>&1) || fail "larger clone vs snapshot: $r"
assert_zero_from "$C2" $((256 * MiB)) "larger clone beyond the snapshot"
sync
n=$(shared_extents "$C2")
[ "$n" -ge 1 ] || fail "larger clone $C2: expected shared extents"

# the clone is independent: writing it changes neither the snapshot nor the other clone
write_pattern "$C1" 0 $MiB c1
sync
assert_eq "$VSUM" "$(sha256sum <"$SF")" "snapshot after a clone was written"
r=$(cmp -n $((256 * MiB)) "$SF" "$C2" 2>&1) || fail "other clone after a clone was written: $r"

# --- deleting the volume keeps the snapshot's data -------------------------------------------------
vbsc volume delete "$V" --wait
assert_rc 0 "delete the source volume"
assert_no_file "$F" "source volume file"
assert_eq "$VSUM" "$(sha256sum <"$SF")" "snapshot after its volume was deleted"
vbsc snapshot delete "$S" --wait
assert_rc 0 "delete the snapshot"
assert_no_file "$SF" "snapshot file"
assert_eq "$VSUM" "$(head -c $((256 * MiB)) "$C2" | sha256sum)" "clone's data after the snapshot was deleted"
assert_no_partials "end of the XFS run"
