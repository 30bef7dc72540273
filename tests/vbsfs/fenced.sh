#!/usr/bin/env bash
# A node cut off while it mounts a home (kill -STOP of its agent beyond the node timeout),
# with two agents (n1, n2) on a shared dir pool:
#   1. the server ends the home's attachment to n1 by itself, and the home attaches on n2 with
#      what alice synced before the cut;
#   2. when n1's agent runs again it has lost its lease: it takes its stale mount away without
#      a sync (no mount, loop device or qsd left; alice's process that held it is ended);
#   3. what alice wrote on n1 after the cut never reached the volume: after the detach from
#      n2, e2fsck -fn is clean and the volume has the synced file, not the late one.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
VBS_SRC=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh"
vbsfs_init vbsfs_fenced "node_timeout = 6"
ALICE=vbsfsalice
local_user $ALICE
start_agent n1
start_agent n2
wait_nodes_up 2
make_user $ALICE
for n in n1 n2; do allow_on_node $n $ALICE; done
as_user $ALICE
vbsc home create --size 64M --wait -o json
assert_rc 0 "home create ($ERR)"
VID=$(jf .volume_id "$OUT")
vbsc home attach $ALICE --node n1 --wait
assert_rc 0 "attach to n1 ($ERR)"
MP1=$T/n1/home/$ALICE
runuser -u $ALICE -- sh -c "echo synced >'$MP1/before' && sync" || fail "alice writes on n1"
runuser -u $ALICE -- sh -c "cd '$MP1' && exec sleep 600" &
HOLDER=$!

# --- 1. the cut; the home moves on without n1 ----------------------------------------------------
log "1. n1's agent paused"
kill -STOP "${APID[n1]}"
runuser -u $ALICE -- sh -c "echo late >'$MP1/late'" || fail "a write into n1's page cache"
deadline=$((SECONDS + WAIT_TIMEOUT))
until vbsc home show -o json && [ "$(jf .attachment "$OUT")" = null ]; do
  [ $SECONDS -lt $deadline ] || fail "the server did not end n1's attachment: $OUT"; sleep 0.5
done
vbsc home attach $ALICE --node n2 --wait
assert_rc 0 "attach to n2 while n1 is cut off ($ERR)"
MP2=$T/n2/home/$ALICE
assert_eq synced "$(cat "$MP2/before")" "what alice synced on n1 before the cut, on n2"
ok "n1 cut off: its attachment ended by itself; the home is on n2 with the synced file"

# --- 2. n1 comes back ---------------------------------------------------------------------------
log "2. n1's agent runs again"
kill -CONT "${APID[n1]}"
deadline=$((SECONDS + WAIT_TIMEOUT))
until [ -z "$(mounted_at "$MP1")" ] && [ "$(qsd_count n1)" = 0 ]; do
  [ $SECONDS -lt $deadline ] || fail "n1 kept its stale mount: '$(mounted_at "$MP1")', $(qsd_count n1) qsd"
  sleep 0.3
done
grep -q "took away the mount of $VID" "$T/n1/agent.log" || fail "n1's agent did not say it took the mount away"
[ -z "$(losetup -j "$T/n1/mounts/$VID/fuse" 2>/dev/null)" ] || fail "a loop device is left on n1"
deadline=$((SECONDS + 10))
while kill -0 "$HOLDER" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "alice's process on the stale mount still runs"; sleep 0.2
done
wait "$HOLDER" 2>/dev/null || true
ok "n1 took its stale mount away: nothing mounted, no qsd or loop device, alice's process ended"

# --- 3. the volume has no late write -------------------------------------------------------------
log "3. the volume"
vbsc home detach $ALICE --wait
assert_rc 0 "detach from n2 ($ERR)"
IMG=$T/shared/volumes/$VID.img
e2fsck -fn "$IMG" >"$T/fsck.out" 2>&1 || fail "e2fsck -fn: $(cat "$T/fsck.out")"
listing=$(debugfs -R 'ls -l /' "$IMG" 2>/dev/null)
assert_contains before "$listing" "the volume's root directory"
if grep -qw late <<<"$listing"; then fail "n1's write after the cut reached the volume: $listing"; fi
ok "e2fsck -fn clean; the volume has the synced file and not n1's late one"
