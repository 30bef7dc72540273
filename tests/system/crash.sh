#!/usr/bin/env bash
# System test: kill -9 of vbsd in the middle of every workflow — create, snapshot, volume from
# snapshot, volume delete, snapshot delete, resize, and a snapshot of ~1 GiB of real data killed in the
# middle of its copy — then a restart: every object reaches its final state (never stuck in
# creating/pending/deleting), no half-made (*.partial) file remains, and what completed is
# byte-identical to its source. Last, vbsd is killed and left down for a while: the work still
# finishes once it is back.
# VBS_FAULT_OP_DELAY_MS=4000 holds every claimed operation for 4 s, so the kill lands while
# the operation is claimed/running; VBS_FAULT_COPY_CHUNK_DELAY_MS=50 stretches a 1 GiB copy to
# over 6 s, so the checks made during it cannot race its end on a fast disk.
. "$(dirname "$0")/lib.sh"
t_init crash
MiB=1048576
DELAY=4000

# wait_claimed ID...: the agent has claimed the operation of each ID (its log line).
wait_claimed() {
  local logf=$T/vbsd.$VBSD_LOGN.log deadline=$((SECONDS + WAIT_TIMEOUT))
  for id in "$@"; do
    until grep -q "$id (op " "$logf"; do
      [ $SECONDS -lt $deadline ] || fail "the agent did not claim the operation of $id"
      sleep 0.05
    done
  done
}
# assert_state volume|snapshot ID STATE: right now
assert_state() {
  get_obj "$1" "$2"
  assert_status 200 "GET $1 $2"
  assert_field .state "$3" "state of $1 $2"
}
start_delayed() { VBS_FAULT_OP_DELAY_MS=$DELAY VBS_FAULT_COPY_CHUNK_DELAY_MS=50 vbsd_start; }

# --- setup (no fault injection) ------------------------------------------------------------------
vbsd_start
as_admin
create_volume 64M; VSRC=$VID
wait_state volume "$VSRC" available
write_pattern "$(vol_file "$VSRC")" 0 $((3 * MiB)) s1
write_pattern "$(vol_file "$VSRC")" $((40 * MiB + 7)) $((5 * MiB)) s2
create_snapshot "$VSRC"; SSRC=$SID
create_snapshot "$VSRC"; SDEL=$SID
create_volume 8M; VDEL=$VID
create_volume 8M; VRS=$VID
create_volume 1200M; VBIG=$VID
wait_state snapshot "$SSRC" completed
wait_state snapshot "$SDEL" completed
wait_state volume "$VDEL" available
wait_state volume "$VRS" available
wait_state volume "$VBIG" available
# ~1 GiB of real data, in two runs with a hole between them
write_pattern "$(vol_file "$VBIG")" 0 $((512 * MiB)) big1
write_pattern "$(vol_file "$VBIG")" $((600 * MiB)) $((512 * MiB)) big2
kb=$(du -k "$(vol_file "$VBIG")" | cut -f1)
[ "$kb" -ge $((1000 * 1024)) ] || fail "expected ~1 GiB of real data in $VBIG, got $kb KiB"
vbsd_kill   # idle: one more crash point (and no wait for a clean stop)

# --- round 1: kill -9 while create / snapshot / clone / delete are claimed -------------------
start_delayed
create_volume 16M; VNEW=$VID
create_snapshot "$VSRC"; SNEW=$SID
create_volume 96M "\"snapshot_id\":\"$SSRC\""; VCL=$VID
api DELETE "/v1/volumes/$VDEL"; assert_status 202 "delete $VDEL"
wait_claimed "$VNEW" "$SNEW" "$VCL" "$VDEL"
assert_state volume "$VNEW" creating
assert_state snapshot "$SNEW" pending
assert_state volume "$VCL" creating
assert_state volume "$VDEL" deleting
# While they are in flight, the rules that keep them safe hold (409, nothing changes):
api DELETE "/v1/volumes/$VNEW"; assert_status 409 IncorrectState "delete of a creating volume"
api POST /v1/snapshots "{\"volume_id\":\"$VNEW\"}"
assert_status 409 IncorrectState "snapshot of a creating volume"
api DELETE "/v1/volumes/$VSRC"; assert_status 409 IncorrectState "delete of a volume with a pending snapshot"
api DELETE "/v1/snapshots/$SSRC"; assert_status 409 IncorrectState "delete of a snapshot a volume is made from"
api DELETE "/v1/snapshots/$SNEW"; assert_status 409 IncorrectState "delete of a pending snapshot"
vbsd_kill
assert_no_file "$(vol_file "$VNEW")" "the create did not run before the kill"
assert_file "$(vol_file "$VDEL")" "the delete did not run before the kill"

vbsd_start
wait_state volume "$VNEW" available error
assert_state volume "$VNEW" available
wait_state snapshot "$SNEW" completed error
assert_state snapshot "$SNEW" completed
assert_field .progress 100 "progress of the snapshot interrupted by the kill"
wait_state volume "$VCL" available error
assert_state volume "$VCL" available
wait_state volume "$VDEL" deleted error
assert_state volume "$VDEL" deleted
assert_eq $((16 * MiB)) "$(stat -c %s "$(vol_file "$VNEW")")" "size of the volume created across the kill"
assert_same "$(vol_file "$VSRC")" "$(snap_file "$SNEW")" "snapshot made across the kill vs its volume"
r=$(cmp -n $((64 * MiB)) "$(snap_file "$SSRC")" "$(vol_file "$VCL")" 2>&1) ||
  fail "clone made across the kill differs from its snapshot: $r"
assert_zero_from "$(vol_file "$VCL")" $((64 * MiB)) "clone made across the kill, beyond the snapshot"
assert_no_file "$(vol_file "$VDEL")" "volume deleted across the kill"
assert_no_partials "after round 1"
vbsd_kill   # idle: one more crash point (and no wait for a clean stop)

# --- round 2: snapshot delete claimed, and a 1 GiB snapshot killed in the middle of its copy ---
start_delayed
create_snapshot "$VBIG"; SBIG=$SID
partial=$(snap_file "$SBIG").partial
deadline=$((SECONDS + WAIT_TIMEOUT))
until [ -s "$partial" ]; do   # the copy has begun (after the injected delay)
  [ -e "$(snap_file "$SBIG")" ] && fail "the 1 GiB copy finished before the test could kill it"
  [ $SECONDS -lt $deadline ] || fail "the copy of $SBIG never started ($partial)"
  sleep 0.02
done
# While the copy runs: the snapshot delete is claimed, and held by the injected delay.
api DELETE "/v1/snapshots/$SDEL"; assert_status 202 "delete $SDEL"
api POST "/v1/volumes/$VRS/resize" '{"size":"24M"}'; assert_status 202 "resize $VRS"
MRS=$(jf .id)
wait_claimed "$SDEL" "$MRS"
api POST "/v1/volumes/$VRS/resize" '{"size":"32M"}'
assert_status 409 IncorrectModificationState "a second resize while one is in flight"
api DELETE "/v1/volumes/$VRS"; assert_status 409 IncorrectState "delete of a volume being resized"
assert_state snapshot "$SDEL" deleting
assert_state snapshot "$SBIG" pending
vbsd_kill
assert_file "$partial" "the kill landed in the middle of the copy (partial file)"
assert_no_file "$(snap_file "$SBIG")" "the kill landed before the copy completed"
log "killed mid-copy: $(du -k "$partial" | cut -f1) KiB of $SBIG copied"
assert_file "$(snap_file "$SDEL")" "the snapshot delete did not run before the kill"
assert_eq $((8 * MiB)) "$(stat -c %s "$(vol_file "$VRS")")" "the resize did not run before the kill"

vbsd_start
WAIT_TIMEOUT=120 wait_state snapshot "$SBIG" completed error
assert_state snapshot "$SBIG" completed
assert_field .progress 100 "progress of the 1 GiB snapshot after the restart"
wait_state snapshot "$SDEL" deleted error
assert_state snapshot "$SDEL" deleted
assert_no_file "$(snap_file "$SDEL")" "snapshot deleted across the kill"
assert_same "$(vol_file "$VBIG")" "$(snap_file "$SBIG")" "1 GiB snapshot copied across the kill"
deadline=$((SECONDS + WAIT_TIMEOUT))
while get_obj volume "$VRS"; [ "$(jf .modification.state)" != completed ]; do
  [ "$(jf .modification.state)" = modifying ] || fail "resize across the kill: $(jf .modification)"
  [ $SECONDS -lt $deadline ] || fail "the resize across the kill did not complete"
  sleep 0.2
done
assert_field .size $((24 * MiB)) "size after the resize across the kill"
assert_eq $((24 * MiB)) "$(stat -c %s "$(vol_file "$VRS")")" "file size after the resize across the kill"
assert_no_partials "after round 2"

# --- round 2b: a volume from the 1 GiB snapshot, killed in the middle of its copy ------------
vbsd_kill   # idle
start_delayed
create_volume "" "\"snapshot_id\":\"$SBIG\""; VBCL=$VID
partial=$(vol_file "$VBCL").partial
deadline=$((SECONDS + WAIT_TIMEOUT))
until [ -s "$partial" ]; do
  [ -e "$(vol_file "$VBCL")" ] && fail "the 1 GiB clone finished before the test could kill it"
  [ $SECONDS -lt $deadline ] || fail "the copy of $VBCL never started ($partial)"
  sleep 0.02
done
vbsd_kill
assert_file "$partial" "the kill landed in the middle of the clone's copy"
assert_no_file "$(vol_file "$VBCL")" "the kill landed before the clone was complete"
vbsd_start
WAIT_TIMEOUT=120 wait_state volume "$VBCL" available error
assert_state volume "$VBCL" available
assert_same "$(snap_file "$SBIG")" "$(vol_file "$VBCL")" "1 GiB clone copied across the kill"
assert_no_partials "after round 2b"

# --- round 3: kill -9 and leave it down; the work finishes after the restart ----------------
vbsd_kill   # idle: one more crash point (and no wait for a clean stop)
start_delayed
create_volume 32M; VDOWN=$VID
create_volume "" "\"snapshot_id\":\"$SNEW\""; VCL2=$VID
api DELETE "/v1/volumes/$VNEW"; assert_status 202 "delete $VNEW"
create_snapshot "$VCL"; SCL=$SID
wait_claimed "$VDOWN" "$VCL2" "$VNEW" "$SCL"
# A user's `vbs ... --wait` started now rides out the crash and the down time.
VBS_ENDPOINT=$ENDPOINT VBS_CA=$ADMIN_CA VBS_CERT=$ADMIN_CERT VBS_KEY=$ADMIN_KEY \
  "$VBS" --timeout 120 -o json volume create --size 24M --name waiter --wait \
  >"$T/waiter.out" 2>"$T/waiter.err" &
WAITER=$!
T_PIDS+=("$WAITER")
deadline=$((SECONDS + WAIT_TIMEOUT))
while true; do   # its create has reached the server: now the crash
  api GET '/v1/volumes?tag=Name=waiter'
  [ "$(jf '.volumes | length')" = 1 ] && break
  kill -0 "$WAITER" 2>/dev/null || fail "vbs --wait ended early: $(cat "$T/waiter.err")"
  [ $SECONDS -lt $deadline ] || fail "the waiter's create never reached the server"
  sleep 0.05
done
vbsd_kill
sleep 5   # down: nothing moves (no process is left to move it)
assert_no_file "$(vol_file "$VDOWN")" "nothing ran while vbsd was down"
assert_file "$(vol_file "$VNEW")" "nothing was deleted while vbsd was down"
vbsd_start
wait_state volume "$VDOWN" available error
assert_state volume "$VDOWN" available
wait_state volume "$VCL2" available error
assert_state volume "$VCL2" available
wait_state volume "$VNEW" deleted error
assert_state volume "$VNEW" deleted
wait_state snapshot "$SCL" completed error
assert_state snapshot "$SCL" completed
assert_same "$(snap_file "$SNEW")" "$(vol_file "$VCL2")" "clone made across the down time"
assert_same "$(vol_file "$VCL")" "$(snap_file "$SCL")" "snapshot made across the down time"
assert_no_file "$(vol_file "$VNEW")" "volume deleted across the down time"
rc=0; wait "$WAITER" || rc=$?
T_PIDS=()
[ $rc -eq 0 ] || fail "vbs volume create --wait across the crash: exit $rc ($(cat "$T/waiter.err"))"
assert_eq available "$(jq -r .state "$T/waiter.out")" "state printed by the --wait that rode out the crash"
assert_file "$(vol_file "$(jq -r .id "$T/waiter.out")")" "file of the volume created across the crash"

# --- in the end: only final states, no half-made files, capacity matches ----------------------
api GET '/v1/volumes?all=true'
bad=$(jq -r '.volumes[] | select(.state | IN("available","deleted","error") | not) | "\(.id)=\(.state)"' <<<"$BODY")
assert_eq "" "$bad" "volumes in a transitional state at the end"
live=$(jq '[.volumes[] | select(.state != "deleted") | .size] | add' <<<"$BODY")
api GET '/v1/snapshots?all=true'
bad=$(jq -r '.snapshots[] | select(.state | IN("completed","deleted","error") | not) | "\(.id)=\(.state)"' <<<"$BODY")
assert_eq "" "$bad" "snapshots in a transitional state at the end"
api GET /v1/pools
assert_field '.pools[0].reserved' "$live" "pool reserved vs the sizes of the live volumes"
assert_no_partials "at the end"
