#!/usr/bin/env bash
# VBSFS homes end to end (core/home_service.h, agent/home_mount.h): one `vbsd server`, two
# agents (n1, n2) sharing a `dir` pool, two users with local accounts. Shown with the vbs CLI
# as the users themselves, real ext4 mounts and the users' own processes:
#   1. create: a home per user (a second one is HomeExists); bob cannot see or attach alice's.
#   2. attach to n1: ext4 at n1's home_root/alice, nosuid,nodev, root dir alice's 0700;
#      alice writes files as alice; bob (another uid) cannot list them, and neither he nor alice
#      opens the home's NBD export (the agent's alone); home show has the used
#      and free space n1 reports, and sees 20 MB more written.
#   3. a second node is refused (VolumeInUse naming n1); a busy mount refuses the detach
#      (naming the process) and stays mounted; --force ends the process.
#   4. attach --move to n2: n1 has no mount, loop device or qemu-storage-daemon left; n2
#      mounts the same files.
#   5. kill -9 of n2's agent while mounted, restart: the mount works on (old files read, new
#      writes land) without a remount.
#   6. resize to 512M while mounted: the volume grows, the files stay;
#   7. snapshot while alice's writer runs (the file system is frozen for it, and thawed: the
#      writer goes on); delete while attached is refused; detach, e2fsck -fn of the volume file
#      is clean; the next attach does not format (files still there) and its file system has
#      the new size (grown online, or at this mount where online growth is refused); restore
#      from the snapshot: a new volume whose e2fsck -fn is clean and that has what was written
#      before the snapshot; the former home is kept (vbs:former-home) until deleted; delete.
#   8. bad input on the node: a user without a local account (refused, nothing left behind);
#      a damaged file system (refused with e2fsck's words, not formatted, nothing left).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
VBS_SRC=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
vbsfs_init vbsfs_homes
ALICE=vbsfsalice
BOB=vbsfsbob
local_user $ALICE
local_user $BOB
start_agent n1
start_agent n2
wait_nodes_up 2
log "server, n1 and n2 are up"
make_user $ALICE
make_user $BOB
for n in n1 n2; do allow_on_node $n $ALICE; allow_on_node $n $BOB; done


# --- 1. create --------------------------------------------------------------------------------
log "1. create"
as_user $ALICE
vbsc home create --size 256M --wait -o json
assert_rc 0 "alice: vbs home create --wait ($ERR)"
VID=$(jf .volume_id "$OUT")
assert_eq available "$(jf .state "$OUT")" "alice's home state"
assert_eq $ALICE "$(jf .user "$OUT")" "alice's home user"
vbsc home create --size 256M
assert_rc 1 "a second home for alice"
assert_contains HomeExists "$ERR" "a second home for alice"
api GET /v1/volumes
assert_eq 1 "$(jf '.volumes | length')" "alice has one volume after the refused second home"
as_user $BOB
vbsc home create --size 128M --wait
assert_rc 0 "bob: vbs home create ($ERR)"
vbsc home show $ALICE
assert_rc 1 "bob: vbs home show alice"
assert_contains HomeNotFound "$ERR" "bob: vbs home show alice"
vbsc home attach $ALICE --node n1
assert_contains HomeNotFound "$ERR" "bob: vbs home attach alice"
vbsc home list -o json
assert_eq "[\"$BOB\"]" "$(jq -c '[.[].user]' <<<"$OUT")" "bob lists only his home"
as_admin
vbsc home list -o json
assert_eq "[\"$ALICE\",\"$BOB\"]" "$(jq -c '[.[].user]' <<<"$OUT")" "the admin lists both homes"
ok "homes created; a second one is HomeExists; bob neither sees nor attaches alice's"

# --- 2. attach to n1 ----------------------------------------------------------------------------
log "2. attach to n1"
as_user $ALICE
vbsc home attach $ALICE --node n1 --wait -o json
assert_rc 0 "alice: vbs home attach --node n1 --wait ($ERR)"
MP1=$T/n1/home/$ALICE
assert_eq "$MP1" "$(jf .mount_point "$OUT")" "the attachment's mount point"
line=$(mounted_at "$MP1")
assert_match '^ext4 ' "$line" "n1's mount of alice's home"
assert_contains nosuid "$line" "mount options"
assert_contains nodev "$line" "mount options"
assert_eq "$ALICE $ALICE 700" "$(stat -c '%U %G %a' "$MP1")" "the home's root directory"
runuser -u $ALICE -- sh -c "mkdir -p '$MP1/src' && head -c 3000000 /dev/urandom >'$MP1/big' \
  && for i in \$(seq 1 200); do echo \$i >'$MP1/src/f'\$i; done && sync" ||
  fail "alice cannot write her home"
(cd "$MP1" && find . -type f | sort | xargs sha256sum) >"$T/sums"
assert_eq 201 "$(wc -l <"$T/sums")" "files alice wrote"
assert_eq "$ALICE" "$(stat -c %U "$MP1/big")" "owner of alice's file"
if runuser -u $BOB -- ls "$MP1" >/dev/null 2>"$T/bob.err"; then
  fail "bob listed alice's home"
fi
assert_contains "Permission denied" "$(cat "$T/bob.err")" "bob lists alice's home"
# Nor through the node's data path: the home's export is the agent's own (uid 0); bob, and
# alice herself, are refused at the handshake as if it did not exist (no name leaks), while
# root (as the mount's qsd) gets it.
URI="nbd+unix:///vbs-$VID?socket=$T/n1/nbd.sock"
nbdinfo --size "$URI" >"$T/root.nbd" 2>&1 || fail "root (the agent's consumer) cannot reach the export: $(cat "$T/root.nbd")"
for u in $BOB $ALICE; do
  if runuser -u $u -- nbdinfo --size "$URI" >"$T/$u.nbd" 2>&1; then fail "$u reached the home's export"; fi
  assert_contains "server has no export named 'vbs-$VID'" "$(cat "$T/$u.nbd")" "$u opens the home's export"
done
vbsc home show -o json
assert_eq n1 "$(jf .node "$OUT")" "home show: node"
assert_eq attached "$(jf .attachment.state "$OUT")" "home show: attachment"
# Used and free space, as n1 reports it: the 3 MB and 200 files, then 20 MB more.
used0=$(jf .filesystem.used "$OUT")
[ "$(jf .filesystem.size "$OUT")" -gt $((200 << 20)) ] || fail "home show: file system size: $OUT"
runuser -u $ALICE -- sh -c "head -c 20000000 /dev/zero >'$MP1/twenty' && sync" || fail "20 MB"
deadline=$((SECONDS + WAIT_TIMEOUT))
until vbsc home show -o json && [ "$(jf .filesystem.used "$OUT")" -ge $((used0 + 19000000)) ]; do
  [ $SECONDS -lt $deadline ] || fail "home show: used space did not grow by 20 MB from $used0: $OUT"
  sleep 0.5
done
used1=$(jf .filesystem.used "$OUT"); free1=$(jf .filesystem.free "$OUT")
vbsc home show
assert_contains "used" "$OUT" "home show (text) has the used space"
rm "$MP1/twenty"
ok "mounted on n1 at $MP1 (ext4, nosuid,nodev, $ALICE 0700); alice wrote 201 files; bob: Permission denied; bob and alice cannot open the export; home show: used $used0 → $used1 bytes after 20 MB, $free1 free"

# --- 3. refusals: another node, busy mount -----------------------------------------------------
log "3. another node; busy mount"
vbsc home attach $ALICE --node n2
assert_rc 1 "attach alice's home to n2 while on n1"
assert_contains VolumeInUse "$ERR" "attach to n2"
assert_contains "node 'n1'" "$ERR" "attach to n2 names n1"
runuser -u $ALICE -- sh -c "cd '$MP1/src' && exec sleep 300" &
HOLDER=$!; T_PIDS+=("$HOLDER")
sleep 0.5
vbsc home detach $ALICE --wait
assert_rc 4 "detach of a busy home (vbs: ended in error)"
assert_contains "is in use by pid $(pgrep -P $HOLDER -x sleep || echo $HOLDER)" "$ERR" "detach of a busy home"
assert_contains "(sleep)" "$ERR" "detach of a busy home names the holder"
BUSY_ERR=$ERR
assert_match '^ext4 ' "$(mounted_at "$MP1")" "the busy home stays mounted"
kill -0 $HOLDER || fail "the holder was killed by a detach without --force"
vbsc home show -o json
assert_eq attached "$(jf .attachment.state "$OUT")" "a refused detach leaves the home attached"
ok "n2 refused (VolumeInUse, names n1); busy detach refused: $(grep -o 'detach failed: [^;]*' <<<"$BUSY_ERR" | head -1)"

# --- 4. move to n2 -------------------------------------------------------------------------------
log "4. move to n2 (the holder is ended by a forced detach first)"
vbsc home detach $ALICE --force --wait
assert_rc 0 "forced detach ($ERR)"
wait $HOLDER 2>/dev/null || true
kill -0 $HOLDER 2>/dev/null && fail "the holder survived a forced detach"
[ -z "$(mounted_at "$MP1")" ] || fail "still mounted on n1 after the detach"
vbsc home attach $ALICE --node n1 --wait
assert_rc 0 "attach to n1 again ($ERR)"
vbsc home attach $ALICE --node n2 --move --wait -o json
assert_rc 0 "attach --move to n2 ($ERR)"
assert_contains "detached the home of $ALICE from n1" "$ERR" "--move says what it did"
MP2=$T/n2/home/$ALICE
assert_eq "$MP2" "$(jf .mount_point "$OUT")" "mount point on n2"
[ -z "$(mounted_at "$MP1")" ] || fail "n1 still mounts alice's home after the move"
assert_eq 0 "$(qsd_count n1)" "qemu-storage-daemons of n1 after the move"
[ -z "$(losetup -j "$T/n1/mounts/$VID/fuse" 2>/dev/null)" ] || fail "a loop device is left on n1"
assert_match '^ext4 ' "$(mounted_at "$MP2")" "n2's mount"
(cd "$MP2" && sha256sum --quiet -c "$T/sums") || fail "alice's files on n2"
ok "moved to n2: same 201 files; n1 has no mount, loop device or qsd left"

# --- 5. kill -9 of n2's agent while mounted --------------------------------------------------
log "5. kill -9 of n2's agent"
kill -KILL "${APID[n2]}"; wait "${APID[n2]}" 2>/dev/null || true
runuser -u $ALICE -- sh -c "echo during >'$MP2/during-outage'" &
WRITER=$!
start_agent n2
as_admin
deadline=$((SECONDS + WAIT_TIMEOUT))
until api GET /v1/nodes && [ "$(jf '[.nodes[] | select(.name=="n2" and .state=="up")] | length')" = 1 ]; do
  [ $SECONDS -lt $deadline ] || fail "n2 did not come back: $BODY"; sleep 0.2
done
wait $WRITER || fail "a write during the agent's restart failed"
runuser -u $ALICE -- sh -c "head -c 1000000 /dev/urandom >'$MP2/after' && sync" ||
  fail "writing after the agent restart"
echo 3 >/proc/sys/vm/drop_caches
(cd "$MP2" && sha256sum --quiet -c "$T/sums") || fail "alice's files after the agent restart"
assert_eq during "$(cat "$MP2/during-outage")" "the write made while the agent was down"
ok "n2's agent killed and restarted: the mount worked on (old files, a write during, a write after)"

# --- 6. resize while mounted ---------------------------------------------------------------------
log "6. resize to 512M while mounted on n2"
as_user $ALICE
size_of() { df -B1 --output=size "$1" | tail -1 | tr -d ' '; }
before=$(size_of "$MP2")
[ "$before" -lt $((300 << 20)) ] || fail "a 256M home's file system has $before bytes"
vbsc home resize $ALICE 512M --wait
assert_rc 0 "vbs home resize alice 512M --wait ($ERR)"
api GET "/v1/volumes/$VID"
assert_field .size $((512 << 20)) "the home's volume after the resize"
# Online growth needs CAP_SYS_RESOURCE (absent in some sandboxes): then the file system grows
# at the next mount, which the detach and attach below do. Either way it must be there then.
online=$(size_of "$MP2")
(cd "$MP2" && sha256sum --quiet -c "$T/sums") || fail "alice's files after the resize"
ok "resized to 512M while mounted: the file system has $online bytes now (was $before)"

# --- 7. snapshot while writing; delete refused while attached; detach; e2fsck; reattach; restore
log "7. snapshot while alice writes"
runuser -u $ALICE -- sh -c "echo before-snapshot >'$MP2/marker' && sync" || fail "marker"
runuser -u $ALICE -- sh -c "i=0; while :; do i=\$((i+1)); head -c 65536 /dev/urandom >'$MP2/churn.'\$((i%20)); echo \$i >'$MP2/counter.new' && mv '$MP2/counter.new' '$MP2/counter'; done" &
WRITER=$!
sleep 1
vbsc home snapshot $ALICE --wait -o json
assert_rc 0 "vbs home snapshot alice while writing ($ERR)"
SNAP=$(jf .id "$OUT")
assert_eq "$VID" "$(jf .volume_id "$OUT")" "the snapshot's volume"
c1=$(cat "$MP2/counter"); sleep 1; c2=$(cat "$MP2/counter")
[ "$c2" -gt "$c1" ] || fail "the writer stopped after the snapshot ($c1, then $c2): not thawed?"
kill "$WRITER"; wait "$WRITER" 2>/dev/null || true
grep -q "snapshot $SNAP of $VID with its file system frozen" "$T/n2/agent.log" ||
  fail "n2's agent did not freeze the file system for the snapshot"
ok "snapshot $SNAP taken with the file system frozen while alice wrote; the writer went on ($c1 → $c2)"

log "7. detach, check, restore, delete"
vbsc home delete $ALICE
assert_rc 1 "delete an attached home"
assert_contains VolumeInUse "$ERR" "delete an attached home"
(cd "$MP2" && find . -type f | sort | xargs sha256sum) >"$T/sums2"
vbsc home detach $ALICE --wait
assert_rc 0 "detach from n2 ($ERR)"
[ -z "$(mounted_at "$MP2")" ] || fail "still mounted on n2"
assert_eq 0 "$(qsd_count n2)" "qemu-storage-daemons of n2 after the detach"
e2fsck -fn "$T/shared/volumes/$VID.img" >"$T/fsck.out" 2>&1 || fail "e2fsck -fn: $(cat "$T/fsck.out")"
vbsc home attach $ALICE --node n1 --wait
assert_rc 0 "attach to n1 after the detach ($ERR)"
(cd "$MP1" && sha256sum --quiet -c "$T/sums2") || fail "alice's files after detach and attach"
after=$(size_of "$MP1")
[ "$after" -gt $((450 << 20)) ] || fail "the file system after the resize and a new attach has $after bytes"
vbsc home detach $ALICE --wait
assert_rc 0 "detach from n1 ($ERR)"
vbsc home restore $ALICE "$SNAP" --wait -o json
assert_rc 0 "vbs home restore alice $SNAP ($ERR)"
assert_contains "vbs volume delete $VID" "$ERR" "restore names the former home"
NEWVID=$(jf .volume_id "$OUT")
[ "$NEWVID" != "$VID" ] || fail "the restored home is the old volume"
e2fsck -fn "$T/shared/volumes/$NEWVID.img" >"$T/fsck2.out" 2>&1 ||
  fail "e2fsck -fn of the restored home: $(cat "$T/fsck2.out")"
vbsc home attach $ALICE --node n1 --wait
assert_rc 0 "attach the restored home ($ERR)"
assert_eq before-snapshot "$(cat "$MP1/marker")" "the marker written before the snapshot"
(cd "$MP1" && sha256sum --quiet -c "$T/sums") || fail "alice's files in the restored home"
[ "$(cat "$MP1/counter")" -le "$c1" ] || fail "the restored home has writes from after the snapshot"
vbsc home detach $ALICE --wait
assert_rc 0 "detach the restored home ($ERR)"
api GET "/v1/volumes/$VID"
assert_field .state available "the former home"
assert_field '.tags["vbs:former-home"]' $ALICE "the former home's mark"
vbsc volume delete "$VID" --wait
assert_rc 0 "delete the former home ($ERR)"
vbsc home delete $ALICE --wait
assert_rc 0 "delete the detached home ($ERR)"
vbsc home show
assert_contains HomeNotFound "$ERR" "alice's home after delete"
ok "delete refused while attached; e2fsck -fn clean; files kept across detach/attach (file system $after bytes after the resize); restored from $SNAP into $NEWVID (e2fsck -fn clean, the marker and files there); the former home kept until deleted; deleted"

# --- 8. bad input on the node: no local account, a damaged file system ---------------------
log "8. no local account; a damaged file system"
make_user vbsfscarol   # a VBS user without a local account on the nodes
allow_on_node n1 vbsfscarol
as_user vbsfscarol
vbsc home create --size 8M
assert_rc 1 "carol: a home below ext4's minimum"
assert_contains "at least 16M" "$ERR" "carol: an 8M home"
vbsc home create --size 64M --wait
assert_rc 0 "carol: home create ($ERR)"
vbsc home attach vbsfscarol --node n1 --wait
assert_rc 4 "carol: attach without a local account (vbs: ended in error)"
assert_contains "no local account 'vbsfscarol' on this node" "$ERR" "carol's attach"
CAROL_ERR=$ERR
[ ! -e "$T/n1/home/vbsfscarol" ] || fail "a mount point was left for carol"
vbsc home show -o json
assert_eq null "$(jf .attachment "$OUT")" "carol's home after the failed attach"
assert_eq 0 "$(qsd_count n1)" "qemu-storage-daemons of n1 after carol's failed attach"
as_user $BOB
BVID=$(vbsc home show -o json >/dev/null; jf .volume_id "$OUT")
vbsc home attach $BOB --node n1 --wait
assert_rc 0 "bob: attach ($ERR)"
runuser -u $BOB -- sh -c "echo mine >'$T/n1/home/$BOB/keep' && sync" || fail "bob writes"
vbsc home detach $BOB --wait
assert_rc 0 "bob: detach ($ERR)"
# Garbage over the group descriptors and what follows (the superblock stays): e2fsck -p
# cannot repair that, and the volume must not be formatted over either.
python3 - "$T/shared/volumes/$BVID.img" <<'PY'
import random, sys
random.seed(42)
with open(sys.argv[1], "r+b") as f:
    f.seek(2048)
    f.write(bytes(random.getrandbits(8) for _ in range(256 << 10)))
PY
uuid=$(blkid -o value -s UUID "$T/shared/volumes/$BVID.img")
[ -n "$uuid" ] || fail "no ext4 UUID on bob's volume"
vbsc home attach $BOB --node n1 --wait
assert_rc 4 "bob: attach of a damaged file system (vbs: ended in error)"
assert_contains "e2fsck -p on volume $BVID exited" "$ERR" "bob's attach of a damaged home"
[ -z "$(mounted_at "$T/n1/home/$BOB")" ] || fail "bob's damaged home was mounted"
assert_eq 0 "$(qsd_count n1)" "qemu-storage-daemons of n1 after the refused mount"
[ -z "$(losetup -j "$T/n1/mounts/$BVID/fuse" 2>/dev/null)" ] || fail "a loop device is left"
# e2fsck -p may have repaired what it safely could, but nothing formatted the volume.
assert_eq "$uuid" "$(blkid -o value -s UUID "$T/shared/volumes/$BVID.img")" "bob's file system UUID"
ok "no local account: '$(grep -o "no local account[^;]*" <<<"$CAROL_ERR" | head -1)' refused, nothing left; damaged ext4: refused with e2fsck's exit, nothing mounted or running, not formatted"
