#!/usr/bin/env bash
# System test: a clean restart (SIGTERM, then `vbsd dev` again on the same data dir and port)
# keeps everything: the CA (the same admin and user certificates still work), every object with
# its state, tags and owner, the data, the capacity accounting — and new work runs afterwards.
. "$(dirname "$0")/lib.sh"
t_init restart
vbsd_start --pool-capacity 2G
as_admin
CA_SUM=$(sha256sum <"$ADMIN_CA")
ADMIN_CERT_SUM=$(sha256sum <"$ADMIN_CERT")
make_user dave

# --- objects in every final state ---------------------------------------------------------------
as_user dave
vbsc -o json volume create --size 32M --name keep --tag k=v --wait
assert_rc 0 "create keep"
VK=$(jf .id "$OUT")
write_pattern "$(vol_file "$VK")" 0 1000000 r1
write_pattern "$(vol_file "$VK")" $((20 * 1048576)) 3000000 r2
vbsc -o json snapshot create "$VK" --description before-restart --wait
assert_rc 0 "snapshot keep"
SK=$(jf .id "$OUT")
vbsc -o json volume create --snapshot "$SK" --size 48M --wait
assert_rc 0 "clone keep"
VC=$(jf .id "$OUT")
vbsc -o json volume create --size 8M --name gone --wait
VD=$(jf .id "$OUT")
vbsc volume delete "$VD" --wait
assert_rc 0 "delete gone"
vbsc -o json snapshot create "$VC" --wait
SD=$(jf .id "$OUT")
vbsc snapshot delete "$SD" --wait
assert_rc 0 "delete a snapshot"
as_admin
vbsc -o json volume create --size 1G --name admins --wait
VA=$(jf .id "$OUT")

VK_SUM=$(sha256sum <"$(vol_file "$VK")")
VC_SUM=$(sha256sum <"$(vol_file "$VC")")
SK_SUM=$(sha256sum <"$(snap_file "$SK")")
snapshot_of_world() {
  as_admin
  api GET '/v1/volumes?all=true'
  jq -S '[.volumes[] | {id,owner,size,pool,state,snapshot_id,tags,created_at}] | sort_by(.id)' <<<"$BODY"
  api GET '/v1/snapshots?all=true'
  jq -S '[.snapshots[] | {id,owner,volume_id,size,state,progress,description,created_at}] | sort_by(.id)' <<<"$BODY"
  api GET /v1/pools
  jq -S '[.pools[] | {name,node,type,capacity,reserved}]' <<<"$BODY"
  api GET /v1/users
  jq -S '[.users[] | {name,role,created_at}] | sort_by(.name)' <<<"$BODY"
}
WORLD=$(snapshot_of_world)
assert_contains '"reserved": 1157627904' "$WORLD" "reserved = 32M + 48M + 1G before the restart"
PORT=$VBSD_PORT

# --- SIGTERM and restart -------------------------------------------------------------------------
vbsd_stop
assert_no_partials "after a clean stop"
vbsd_start --pool-capacity 2G
assert_eq "$PORT" "$VBSD_PORT" "port after the restart"
assert_eq "$CA_SUM" "$(sha256sum <"$ADMIN_CA")" "CA certificate after the restart (reused, not remade)"
assert_eq "$CA_SUM" "$(sha256sum <"$T/creds/ca.crt")" "the users' ca.crt still is the CA"
assert_eq "$ADMIN_CERT_SUM" "$(sha256sum <"$ADMIN_CERT")" "admin certificate after the restart"
assert_eq "$WORLD" "$(snapshot_of_world)" "objects, states, users and pool after the restart"

# The certificates issued before the restart still work, with the same identities.
as_user dave
api GET /v1/whoami
assert_status 200 "dave's certificate after the restart"
assert_field .user dave "dave after the restart"
api GET "/v1/volumes/$VK"
assert_field .state available "dave's volume after the restart"
api GET "/v1/volumes/$VA"
assert_status 404 InvalidVolume.NotFound "dave still cannot see the admin's volume"
as_admin
vbsc whoami
assert_rc 0 "vbs whoami as admin after the restart"

# --- data intact ----------------------------------------------------------------------------------
assert_eq "$VK_SUM" "$(sha256sum <"$(vol_file "$VK")")" "data of $VK after the restart"
assert_eq "$VC_SUM" "$(sha256sum <"$(vol_file "$VC")")" "data of the clone after the restart"
assert_eq "$SK_SUM" "$(sha256sum <"$(snap_file "$SK")")" "snapshot data after the restart"
assert_same "$(vol_file "$VK")" "$(snap_file "$SK")" "snapshot still equals its volume"
assert_no_file "$(vol_file "$VD")" "deleted volume stays gone"
assert_no_file "$(snap_file "$SD")" "deleted snapshot stays gone"

# --- new operations work --------------------------------------------------------------------------
as_user dave
vbsc -o json snapshot create "$VK" --description after-restart --wait
assert_rc 0 "snapshot after the restart"
assert_eq completed "$(jf .state "$OUT")" "new snapshot state"
S2=$(jf .id "$OUT")
assert_same "$(vol_file "$VK")" "$(snap_file "$S2")" "new snapshot vs volume"
vbsc -o json volume create --snapshot "$SK" --wait
assert_rc 0 "clone of the old snapshot after the restart"
assert_eq "$SK_SUM" "$(sha256sum <"$(vol_file "$(jf .id "$OUT")")")" "clone of the pre-restart snapshot"
vbsc volume delete "$VC" --wait
assert_rc 0 "delete after the restart"
assert_no_file "$(vol_file "$VC")" "file of a volume deleted after the restart"
vbsc volume create --size 1G --wait
assert_rc 1 "capacity is still counted after the restart (2G pool, 1G+32M+32M held)"
assert_contains InsufficientVolumeCapacity "$ERR" "stderr of the over-capacity create"
make_user erin
as_user erin
vbsc -o json volume create --size 1M --wait
assert_rc 0 "a user enrolled after the restart creates a volume"
assert_eq erin "$(jf .owner "$OUT")" "owner of erin's volume"

# --- a second restart, right after new work ------------------------------------------------------
WORLD=$(snapshot_of_world)
vbsd_stop
vbsd_start --pool-capacity 2G
assert_eq "$WORLD" "$(snapshot_of_world)" "everything after a second restart"
assert_no_partials "after the second restart"
